//! Price and stock edits as an operator types them (admin form, CLI): parsed and bounded here,
//! before anything touches the database.

use thiserror::Error;

/// The most a product may cost, in minor units (one million in major units): beyond it a typo
/// is far likelier than a real price.
pub const MAX_PRICE_CENTS: i64 = 100_000_000;
/// The most units one product may have in stock.
pub const MAX_STOCK: i64 = 1_000_000;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EditError {
    #[error("Price must be an amount such as 12.99, with at most two decimals.")]
    PriceFormat,
    #[error("Price must be between 0.00 and 1,000,000.00.")]
    PriceRange,
    #[error("Stock must be a whole number.")]
    StockFormat,
    #[error("Stock must be between 0 and 1,000,000.")]
    StockRange,
    #[error("Give a price, a stock level, or both.")]
    Nothing,
}

/// What to change on one product; `None` keeps the current value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProductEdit {
    pub price_cents: Option<i64>,
    pub stock: Option<i64>,
}

impl ProductEdit {
    /// From form fields: blank fields are left alone, but at least one must be given.
    pub fn parse(price: Option<&str>, stock: Option<&str>) -> Result<ProductEdit, EditError> {
        fn present(s: Option<&str>) -> Option<&str> {
            s.map(str::trim).filter(|s| !s.is_empty())
        }
        let edit = ProductEdit {
            price_cents: present(price).map(parse_price).transpose()?,
            stock: present(stock).map(parse_stock).transpose()?,
        };
        if edit.price_cents.is_none() && edit.stock.is_none() {
            return Err(EditError::Nothing);
        }
        Ok(edit)
    }
}

/// `12`, `12.5`, `12.99` → minor units. No signs, exponents, separators or third decimals:
/// an edit that cannot be read exactly is refused rather than rounded.
pub fn parse_price(s: &str) -> Result<i64, EditError> {
    let s = s.trim();
    let (units, minor) = s.split_once('.').unwrap_or((s, ""));
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if units.is_empty() || !digits(units) || !digits(minor) || minor.len() > 2 || (s.contains('.') && minor.is_empty())
    {
        return Err(EditError::PriceFormat);
    }
    if units.len() > 9 {
        return Err(EditError::PriceRange);
    }
    let units: i64 = units.parse().map_err(|_| EditError::PriceFormat)?;
    let minor: i64 = format!("{minor:0<2}").parse().map_err(|_| EditError::PriceFormat)?;
    let cents = units * 100 + minor;
    if cents > MAX_PRICE_CENTS {
        return Err(EditError::PriceRange);
    }
    Ok(cents)
}

pub fn parse_stock(s: &str) -> Result<i64, EditError> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(if s.starts_with('-') && s.len() > 1 { EditError::StockRange } else { EditError::StockFormat });
    }
    if s.len() > 7 {
        return Err(EditError::StockRange);
    }
    let n: i64 = s.parse().map_err(|_| EditError::StockFormat)?;
    if n > MAX_STOCK {
        return Err(EditError::StockRange);
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_parse_exactly_into_minor_units() {
        assert_eq!(parse_price("12"), Ok(1200));
        assert_eq!(parse_price("12.5"), Ok(1250));
        assert_eq!(parse_price(" 12.99 "), Ok(1299));
        assert_eq!(parse_price("0.07"), Ok(7));
        assert_eq!(parse_price("0"), Ok(0));
        assert_eq!(parse_price("1000000"), Ok(MAX_PRICE_CENTS));
    }

    #[test]
    fn prices_that_cannot_be_read_exactly_are_refused() {
        for bad in ["", ".5", "12.", "12.999", "-1", "+1", "1e3", "1,000", "12.5.1", "abc", "１２"] {
            assert_eq!(parse_price(bad), Err(EditError::PriceFormat), "{bad:?}");
        }
        assert_eq!(parse_price("1000000.01"), Err(EditError::PriceRange));
        assert_eq!(parse_price("99999999999999999999"), Err(EditError::PriceRange));
    }

    #[test]
    fn stock_is_a_bounded_whole_number() {
        assert_eq!(parse_stock("0"), Ok(0));
        assert_eq!(parse_stock(" 42 "), Ok(42));
        assert_eq!(parse_stock("1000000"), Ok(MAX_STOCK));
        assert_eq!(parse_stock("1000001"), Err(EditError::StockRange));
        assert_eq!(parse_stock("-3"), Err(EditError::StockRange));
        assert_eq!(parse_stock("99999999999999999999"), Err(EditError::StockRange));
        for bad in ["", "1.5", "ten", "-", "4 2"] {
            assert_eq!(parse_stock(bad), Err(EditError::StockFormat), "{bad:?}");
        }
    }

    #[test]
    fn an_edit_changes_what_is_given_and_needs_something() {
        assert_eq!(ProductEdit::parse(Some("9.50"), Some("")), Ok(ProductEdit { price_cents: Some(950), stock: None }));
        assert_eq!(ProductEdit::parse(None, Some("3")), Ok(ProductEdit { price_cents: None, stock: Some(3) }));
        assert_eq!(ProductEdit::parse(Some(" "), None), Err(EditError::Nothing));
        assert_eq!(ProductEdit::parse(Some("x"), Some("3")), Err(EditError::PriceFormat));
    }
}
