//! Money as integer minor units plus a currency. Never a float.

use serde::{Deserialize, Serialize};
use std::fmt;

/// ISO 4217 currency. Only the ones the shop is configured for; each knows its symbol and exponent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Currency {
    #[default]
    USD,
    EUR,
    GBP,
}

impl Currency {
    pub fn code(self) -> &'static str {
        match self {
            Currency::USD => "USD",
            Currency::EUR => "EUR",
            Currency::GBP => "GBP",
        }
    }

    pub fn parse(code: &str) -> Option<Currency> {
        match code {
            "USD" => Some(Currency::USD),
            "EUR" => Some(Currency::EUR),
            "GBP" => Some(Currency::GBP),
            _ => None,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Currency::USD => "$",
            Currency::EUR => "€",
            Currency::GBP => "£",
        }
    }
}

/// An amount in minor units (cents) of one currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub cents: i64,
    pub currency: Currency,
}

impl Money {
    pub const fn new(cents: i64, currency: Currency) -> Self {
        Money { cents, currency }
    }

    pub fn zero(currency: Currency) -> Self {
        Money { cents: 0, currency }
    }

    /// Unit price times quantity; `None` on overflow, which callers treat as invalid input.
    pub fn times(self, quantity: u32) -> Option<Money> {
        self.cents.checked_mul(i64::from(quantity)).map(|cents| Money::new(cents, self.currency))
    }

    /// Sum of two amounts of the same currency; `None` on overflow or a currency mismatch.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        if self.currency != other.currency {
            return None;
        }
        self.cents.checked_add(other.cents).map(|cents| Money::new(cents, self.currency))
    }
}

impl fmt::Display for Money {
    /// `$1,234.50`, `-$3.00`: symbol, thousands separators, two decimals.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.cents < 0 { "-" } else { "" };
        let abs = self.cents.unsigned_abs();
        let (units, minor) = (abs / 100, abs % 100);
        let digits = units.to_string();
        let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
        for (i, ch) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(ch);
        }
        write!(f, "{sign}{}{grouped}.{minor:02}", self.currency.symbol())
    }
}

/// Formats cents of a currency for display; the one way prices are shown.
pub fn format_cents(cents: i64, currency: Currency) -> String {
    Money::new(cents, currency).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_symbol_grouping_and_two_decimals() {
        assert_eq!(format_cents(0, Currency::USD), "$0.00");
        assert_eq!(format_cents(5, Currency::USD), "$0.05");
        assert_eq!(format_cents(1999, Currency::USD), "$19.99");
        assert_eq!(format_cents(12_345_678, Currency::EUR), "€123,456.78");
        assert_eq!(format_cents(100_000_000, Currency::GBP), "£1,000,000.00");
        assert_eq!(format_cents(-300, Currency::USD), "-$3.00");
        assert_eq!(format_cents(i64::MIN, Currency::USD), "-$92,233,720,368,547,758.08");
    }

    #[test]
    fn multiplication_and_addition_detect_overflow() {
        let m = Money::new(i64::MAX / 2, Currency::USD);
        assert!(m.times(3).is_none());
        assert_eq!(Money::new(250, Currency::USD).times(4), Some(Money::new(1000, Currency::USD)));
        assert!(m.checked_add(m).is_some());
        assert!(Money::new(i64::MAX, Currency::USD).checked_add(Money::new(1, Currency::USD)).is_none());
        assert!(Money::new(1, Currency::USD).checked_add(Money::new(1, Currency::EUR)).is_none());
    }

    #[test]
    fn currency_codes_round_trip() {
        for c in [Currency::USD, Currency::EUR, Currency::GBP] {
            assert_eq!(Currency::parse(c.code()), Some(c));
        }
        assert_eq!(Currency::parse("usd"), None);
        assert_eq!(Currency::parse(""), None);
    }
}
