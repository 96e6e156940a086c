//! A promotion as an administrator types it into `/admin/promotions`: every field parsed and
//! bounded here, so a bad form is refused with every problem named and nothing saved.

use crate::domain::catalog_edit::{parse_price, MAX_PRICE_CENTS};
use crate::domain::pricing::normalize_code;
use serde::{Deserialize, Serialize};

/// The form's fields as posted (text, as a browser sends them).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionFields {
    pub code: String,
    pub name: String,
    /// percent | fixed | free_shipping | buy_get
    pub kind: String,
    /// A percentage (1–100) for percent and buy_get, an amount ("5.00") for fixed.
    pub value: String,
    /// buy_get: how many to buy before one is discounted.
    pub buy_quantity: String,
    /// order | category | product | variant
    pub target: String,
    pub target_id: String,
    /// An amount ("50.00"); empty for none.
    pub min_subtotal: String,
    /// `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM` (UTC), as `<input type="datetime-local">` sends it.
    pub starts_at: String,
    pub ends_at: String,
    pub usage_limit: String,
    pub per_customer_limit: String,
    /// Checkbox fields: present ("on") or absent.
    pub combinable: Option<String>,
    pub active: Option<String>,
}

/// A promotion ready to be stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PromotionDraft {
    pub code: Option<String>,
    pub name: String,
    pub kind: &'static str,
    pub value: i64,
    pub buy_quantity: i64,
    pub target: &'static str,
    pub target_id: i64,
    pub min_subtotal_cents: i64,
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
    pub usage_limit: Option<i64>,
    pub per_customer_limit: Option<i64>,
    pub combinable: bool,
    pub active: bool,
}

const MAX_NAME_CHARS: usize = 80;
/// Limits beyond this are typos.
const MAX_LIMIT: i64 = 1_000_000;

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM[:SS]`, UTC, into Unix milliseconds.
pub fn parse_datetime(raw: &str) -> Option<i64> {
    let raw = raw.trim();
    let (date, time) = raw.split_once(['T', ' ']).unwrap_or((raw, "00:00"));
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (Some(Some(y)), Some(Some(m)), Some(Some(day)), None) = (d.next(), d.next(), d.next(), d.next()) else {
        return None;
    };
    let mut t = time.split(':').map(|p| p.parse::<i64>().ok());
    let (Some(Some(h)), Some(Some(min))) = (t.next(), t.next()) else { return None };
    let sec = match t.next() {
        None => 0,
        Some(Some(s)) if (0..60).contains(&s) => s,
        Some(_) => return None,
    };
    let days_in_month = match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    if !(1970..=9999).contains(&y)
        || !(1..=days_in_month).contains(&day)
        || !(0..24).contains(&h)
        || !(0..60).contains(&min)
    {
        return None;
    }
    Some(((days_from_civil(y, m, day) * 24 + h) * 60 + min) * 60_000 + sec * 1000)
}

/// The date an `<input type="datetime-local">` shows for Unix ms (UTC).
pub fn format_datetime(ms: Option<i64>) -> String {
    let Some(ms) = ms else { return String::new() };
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970 (the inverse of `days_from_civil`).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}", rem / 3600, rem % 3600 / 60)
}

impl PromotionDraft {
    /// Checks every field; the draft, or every problem at once.
    pub fn parse(f: &PromotionFields) -> Result<PromotionDraft, Vec<String>> {
        let mut problems = Vec::new();
        let code = match f.code.trim() {
            "" => None,
            raw => match normalize_code(raw) {
                Some(c) => Some(c),
                None => {
                    problems.push("A code has 3 to 32 letters, digits, dashes or underscores.".to_string());
                    None
                }
            },
        };
        let name = f.name.split_whitespace().collect::<Vec<_>>().join(" ");
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
            problems.push(format!("Give the promotion a name of at most {MAX_NAME_CHARS} characters."));
        }
        let whole = |raw: &str, label: &str, min: i64, max: i64, problems: &mut Vec<String>| -> Option<i64> {
            match raw.trim() {
                "" => None,
                t => match t.parse::<i64>() {
                    Ok(n) if (min..=max).contains(&n) => Some(n),
                    _ => {
                        problems.push(format!("{label} must be a whole number from {min} to {max}."));
                        None
                    }
                },
            }
        };
        let kind = match f.kind.as_str() {
            "percent" => "percent",
            "fixed" => "fixed",
            "free_shipping" => "free_shipping",
            "buy_get" => "buy_get",
            _ => {
                problems.push("Choose what the promotion gives.".into());
                "percent"
            }
        };
        let value = match kind {
            "percent" | "buy_get" => whole(&f.value, "The percentage", 1, 100, &mut problems).unwrap_or_else(|| {
                if f.value.trim().is_empty() {
                    problems.push("Give the percentage off (1 to 100).".into());
                }
                0
            }),
            "fixed" => match parse_price(&f.value) {
                Ok(c) if c > 0 => c,
                _ => {
                    problems.push("Give the amount off, such as 5.00 (at most 1,000,000.00).".into());
                    0
                }
            },
            _ => 0,
        };
        let buy_quantity = if kind == "buy_get" {
            whole(&f.buy_quantity, "The number to buy", 1, 100, &mut problems).unwrap_or_else(|| {
                if f.buy_quantity.trim().is_empty() {
                    problems.push("Say how many must be bought (1 to 100).".into());
                }
                0
            })
        } else {
            0
        };
        let target = match f.target.as_str() {
            "" | "order" => "order",
            "category" => "category",
            "product" => "product",
            "variant" => "variant",
            _ => {
                problems.push("Choose what the promotion applies to.".into());
                "order"
            }
        };
        let target_id = if target == "order" {
            0
        } else {
            whole(&f.target_id, "The category, product or variant id", 1, i64::MAX, &mut problems).unwrap_or_else(
                || {
                    if f.target_id.trim().is_empty() {
                        problems.push("Give the id of the category, product or variant it applies to.".into());
                    }
                    0
                },
            )
        };
        let min_subtotal_cents = match f.min_subtotal.trim() {
            "" => 0,
            raw => parse_price(raw).unwrap_or_else(|_| {
                problems.push(format!(
                    "The minimum subtotal must be an amount such as 50.00, at most {}.",
                    MAX_PRICE_CENTS / 100
                ));
                0
            }),
        };
        let mut when = |raw: &str, label: &str| match raw.trim() {
            "" => None,
            t => parse_datetime(t).or_else(|| {
                problems.push(format!("{label} must be a date such as 2026-12-24 or 2026-12-24T18:00 (UTC)."));
                None
            }),
        };
        let starts_at = when(&f.starts_at, "The start");
        let ends_at = when(&f.ends_at, "The end");
        if let (Some(s), Some(e)) = (starts_at, ends_at) {
            if e <= s {
                problems.push("The end must come after the start.".into());
            }
        }
        let usage_limit = whole(&f.usage_limit, "The usage limit", 1, MAX_LIMIT, &mut problems);
        let per_customer_limit = whole(&f.per_customer_limit, "The limit per customer", 1, MAX_LIMIT, &mut problems);
        if code.is_none() && per_customer_limit.is_some() {
            problems.push("A limit per customer needs a code (automatic promotions apply to everyone).".into());
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(PromotionDraft {
            code,
            name,
            kind,
            value,
            buy_quantity,
            target,
            target_id,
            min_subtotal_cents,
            starts_at,
            ends_at,
            usage_limit,
            per_customer_limit,
            combinable: f.combinable.is_some(),
            active: f.active.is_some(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> PromotionFields {
        PromotionFields {
            code: " spring10 ".into(),
            name: " Spring  sale ".into(),
            kind: "percent".into(),
            value: "10".into(),
            target: "order".into(),
            active: Some("on".into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_good_form_is_normalised() {
        let d = PromotionDraft::parse(&fields()).unwrap();
        assert_eq!(d.code.as_deref(), Some("SPRING10"));
        assert_eq!(d.name, "Spring sale");
        assert_eq!((d.kind, d.value, d.target, d.active, d.combinable), ("percent", 10, "order", true, false));
        let fixed = PromotionFields { kind: "fixed".into(), value: "5.50".into(), ..fields() };
        assert_eq!(PromotionDraft::parse(&fixed).unwrap().value, 550);
        let auto = PromotionFields {
            code: String::new(),
            kind: "buy_get".into(),
            value: "100".into(),
            buy_quantity: "2".into(),
            target: "category".into(),
            target_id: "4".into(),
            ..fields()
        };
        let d = PromotionDraft::parse(&auto).unwrap();
        assert_eq!((d.code, d.buy_quantity, d.target_id), (None, 2, 4));
    }

    #[test]
    fn bad_input_is_refused_with_every_reason() {
        for (f, why) in [
            (PromotionFields { value: "101".into(), ..fields() }, "percentage"),
            (PromotionFields { value: "-5".into(), ..fields() }, "percentage"),
            (PromotionFields { kind: "fixed".into(), value: "-1.00".into(), ..fields() }, "amount"),
            (PromotionFields { kind: "fixed".into(), value: "99999999999".into(), ..fields() }, "amount"),
            (PromotionFields { code: "x".repeat(33), ..fields() }, "code"),
            (PromotionFields { code: "no spaces".into(), ..fields() }, "code"),
            (PromotionFields { kind: "bogus".into(), ..fields() }, "gives"),
            (PromotionFields { target: "category".into(), ..fields() }, "id"),
            (PromotionFields { ends_at: "2026-13-01".into(), ..fields() }, "date"),
            (PromotionFields { starts_at: "2026-12-02".into(), ends_at: "2026-12-01".into(), ..fields() }, "after"),
            (PromotionFields { usage_limit: "0".into(), ..fields() }, "usage"),
            (PromotionFields { code: String::new(), per_customer_limit: "1".into(), ..fields() }, "needs a code"),
            (PromotionFields { name: String::new(), ..fields() }, "name"),
        ] {
            let problems = PromotionDraft::parse(&f).unwrap_err();
            assert!(problems.iter().any(|p| p.contains(why)), "{why}: {problems:?}");
        }
    }

    #[test]
    fn dates_are_utc_instants() {
        assert_eq!(parse_datetime("1970-01-01"), Some(0));
        assert_eq!(parse_datetime("1970-01-02T00:01"), Some(86_400_000 + 60_000));
        assert_eq!(parse_datetime("2026-11-30T20:36:10"), Some(1_796_070_970_000));
        assert_eq!(parse_datetime("2024-02-29"), Some(1_709_164_800_000));
        for ok in ["1970-01-01T00:00", "2024-02-29T23:59", "2026-12-24T18:00", "2100-03-01T00:00"] {
            assert_eq!(format_datetime(parse_datetime(ok)), ok, "the admin form shows what it was given");
        }
        assert_eq!(format_datetime(None), "");
        for bad in ["2023-02-29", "2026-11-31", "2026-1-1T25:00", "x", "", "2026-11-30T10", "20261-01-01"] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
    }
}
