//! Checkout rules: the shipping address, the quote a shopper confirms, and what makes two order
//! requests "the same" for the idempotency check. Pure. (What stops a cart from being ordered
//! is `domain::cart::cart_problems`.)

use crate::domain::money::Currency;
use crate::domain::pricing::PricedCart;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Countries the demo shop ships to (ISO 3166-1 alpha-2, name).
pub const COUNTRIES: &[(&str, &str)] = &[
    ("US", "United States"),
    ("CA", "Canada"),
    ("GB", "United Kingdom"),
    ("IE", "Ireland"),
    ("DE", "Germany"),
    ("FR", "France"),
    ("NL", "Netherlands"),
    ("BE", "Belgium"),
    ("ES", "Spain"),
    ("IT", "Italy"),
    ("SE", "Sweden"),
    ("DK", "Denmark"),
    ("AU", "Australia"),
    ("NZ", "New Zealand"),
];

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Address {
    pub name: String,
    pub line1: String,
    pub line2: String,
    pub city: String,
    pub postcode: String,
    pub country: String,
}

/// A problem with one field, for the form to show next to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

fn clean(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Address {
    /// Trims and checks every field; returns the cleaned address or every problem at once.
    pub fn validated(raw: &Address) -> Result<Address, Vec<FieldProblem>> {
        let a = Address {
            name: clean(&raw.name),
            line1: clean(&raw.line1),
            line2: clean(&raw.line2),
            city: clean(&raw.city),
            postcode: clean(&raw.postcode).to_uppercase(),
            country: raw.country.trim().to_uppercase(),
        };
        let mut problems = Vec::new();
        let mut need = |field: &str, value: &str, label: &str, max: usize| {
            if value.is_empty() {
                problems.push(FieldProblem { field: field.into(), message: format!("Enter {label}.") });
            } else if value.chars().count() > max {
                problems.push(FieldProblem {
                    field: field.into(),
                    message: format!("{label} is too long (at most {max} characters)."),
                });
            } else if value.chars().any(|c| c.is_control()) {
                problems.push(FieldProblem {
                    field: field.into(),
                    message: format!("{label} contains characters we cannot print."),
                });
            }
        };
        need("name", &a.name, "your full name", 100);
        need("line1", &a.line1, "the street address", 120);
        need("city", &a.city, "the town or city", 80);
        need("postcode", &a.postcode, "the postcode", 12);
        if a.line2.chars().count() > 120 || a.line2.chars().any(|c| c.is_control()) {
            problems.push(FieldProblem { field: "line2".into(), message: "Address line 2 is too long.".into() });
        }
        if !a.postcode.is_empty() && !a.postcode.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-') {
            problems.push(FieldProblem {
                field: "postcode".into(),
                message: "A postcode has only letters, digits, spaces and dashes.".into(),
            });
        }
        if !COUNTRIES.iter().any(|(code, _)| *code == a.country) {
            problems.push(FieldProblem { field: "country".into(), message: "Choose a country we ship to.".into() });
        }
        if problems.is_empty() {
            Ok(a)
        } else {
            Err(problems)
        }
    }
}

/// What the shopper confirms when placing an order: the cart version they saw and a digest of
/// the priced cart (every line, unit price, discount, the shipping method and its price, tax
/// and the total; `PricedCart::fingerprint`). The checkout summary hands it out; the
/// order transaction prices the cart again from the store of record and places the order only
/// if it comes to the same quote. So an order is never charged at a price that was not shown,
/// and one version of a cart is never ordered twice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quote {
    pub version: u64,
    pub total_cents: i64,
    pub currency: Currency,
    digest: String,
}

/// Longest quote token accepted from a request.
const MAX_QUOTE_CHARS: usize = 80;

impl Quote {
    /// `context` names what the amounts alone do not show (the shipping method, the code).
    pub fn of(version: u64, priced: &PricedCart, context: &str) -> Quote {
        let mut h = Sha256::new();
        h.update(format!("v{version}|{}|{context}|", priced.currency.code()));
        // What the shopper pays. Tax included in the prices is a breakdown of the same amounts
        // (it differs between destinations that charge the same), so it is not part of it;
        // tax added to the prices is in the total and in every amount.
        let mut payable = priced.clone();
        if payable.tax_inclusive {
            payable.tax_cents = 0;
            payable.tax_lines.clear();
            payable.lines.iter_mut().for_each(|l| l.tax_cents = 0);
        }
        h.update(payable.fingerprint());
        let digest = h.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect();
        Quote { version, total_cents: priced.total_cents, currency: priced.currency, digest }
    }

    /// The form of a hidden form field: `version.total.currency.digest`.
    pub fn token(&self) -> String {
        format!("{}.{}.{}.{}", self.version, self.total_cents, self.currency.code(), self.digest)
    }

    pub fn parse(token: &str) -> Option<Quote> {
        if token.len() > MAX_QUOTE_CHARS {
            return None;
        }
        let mut parts = token.trim().split('.');
        let (Some(v), Some(t), Some(c), Some(d), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let currency = Currency::parse(c)?;
        let valid_digest = d.len() == 32 && d.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !valid_digest {
            return None;
        }
        Some(Quote { version: v.parse().ok()?, total_cents: t.parse().ok()?, currency, digest: d.to_string() })
    }
}

/// What a quote covers beyond the amounts: the shipping method (two methods at one price are
/// still two different orders) and the discount code.
pub fn quote_context(method_name: &str, code: Option<&str>) -> String {
    format!("{method_name}|{}", code.unwrap_or(""))
}

/// An idempotency key: 16 to 64 characters of letters, digits and dashes (a UUID fits).
pub fn valid_idempotency_key(key: &str) -> bool {
    (16..=64).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Fingerprint of an order request: who sends it and what the form says. A replay of an
/// idempotency key must carry the same fingerprint, or it is refused. (The lines are not part of
/// it: they come from the cart, which the first request emptied.)
pub fn request_fingerprint(buyer: &str, email: &str, address: &Address) -> String {
    let mut h = Sha256::new();
    for part in [
        buyer,
        email,
        &address.name,
        &address.line1,
        &address.line2,
        &address.city,
        &address.postcode,
        &address.country,
    ] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> Address {
        Address {
            name: "  Ann   Lee ".into(),
            line1: "1 Main St".into(),
            line2: String::new(),
            city: "Springfield".into(),
            postcode: " ab1 2cd ".into(),
            country: "gb".into(),
        }
    }

    #[test]
    fn addresses_are_cleaned_and_checked() {
        let a = Address::validated(&addr()).unwrap();
        assert_eq!(a.name, "Ann Lee");
        assert_eq!(a.postcode, "AB1 2CD");
        assert_eq!(a.country, "GB");
        let bad = Address { name: String::new(), postcode: "<script>".into(), country: "XX".into(), ..addr() };
        let problems = Address::validated(&bad).unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, vec!["name", "postcode", "country"]);
        let long = Address { city: "x".repeat(81), ..addr() };
        assert_eq!(Address::validated(&long).unwrap_err()[0].field, "city");
        let control = Address { line1: "1 Main\u{0007}St".into(), ..addr() };
        assert!(Address::validated(&control).is_err());
    }

    fn priced(lines: &[(i64, u32, i64)]) -> PricedCart {
        use crate::domain::pricing::{price, LineInput, PricingInput, TaxSettings};
        let lines: Vec<LineInput> = lines
            .iter()
            .map(|&(variant_id, quantity, unit_cents)| LineInput {
                variant_id,
                product_id: variant_id,
                category_id: 1,
                quantity,
                unit_cents,
                weight_grams: 0,
            })
            .collect();
        price(&PricingInput {
            currency: Currency::USD,
            lines: &lines,
            promotions: &[],
            shipping: None,
            tax: None,
            settings: &TaxSettings::default(),
        })
    }

    #[test]
    fn quotes_change_with_any_price_quantity_or_version() {
        let lines = [(7, 2, 1_250), (3, 1, 999)];
        let q = Quote::of(4, &priced(&lines), "m1");
        assert_eq!(q.total_cents, 2 * 1_250 + 999);
        assert_eq!(Quote::parse(&q.token()), Some(q.clone()), "round trip");
        assert_eq!(Quote::of(4, &priced(&[lines[1], lines[0]]), "m1"), q, "line order does not matter");
        // A price swap that keeps the total is still a different quote.
        let swapped = [(7, 2, 1_251), (3, 1, 997)];
        assert_eq!(priced(&swapped).total_cents, q.total_cents);
        assert_ne!(Quote::of(4, &priced(&swapped), "m1"), q);
        assert_ne!(Quote::of(5, &priced(&lines), "m1"), q);
        assert_ne!(Quote::of(4, &priced(&[(7, 3, 1_250), lines[1]]), "m1"), q);
        assert_ne!(Quote::of(4, &priced(&lines), "m2"), q, "another shipping method");
        assert_eq!(quote_context("Express", Some("SPRING")), "Express|SPRING");
        let long = "9".repeat(200);
        for bad in [
            "",
            "1.2",
            "1.2.USD.3.4",
            "x.1.USD.00000000000000000000000000000000",
            "1.1.XXX.00000000000000000000000000000000",
            "1.2.USD.ZZ",
            long.as_str(),
        ] {
            assert_eq!(Quote::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn keys_and_fingerprints() {
        assert!(valid_idempotency_key("0b0f3a52-6d3e-4c7a-9a57-4b1f8d2b9c10"));
        assert!(!valid_idempotency_key("short"));
        assert!(!valid_idempotency_key("has spaces in it, which is bad"));
        let a = Address::validated(&addr()).unwrap();
        let f1 = request_fingerprint("u:1", "a@b.co", &a);
        assert_eq!(f1, request_fingerprint("u:1", "a@b.co", &a.clone()));
        assert_ne!(f1, request_fingerprint("u:2", "a@b.co", &a));
        assert_ne!(f1, request_fingerprint("u:1", "b@b.co", &a));
        let moved = Address { city: "Shelbyville".into(), ..a.clone() };
        assert_ne!(f1, request_fingerprint("u:1", "a@b.co", &moved));
    }
}
