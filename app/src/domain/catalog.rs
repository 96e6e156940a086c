//! Catalogue browsing rules: sort keys, paging bounds and search text, shared by pages and queries.

use serde::{Deserialize, Serialize};

/// Products per listing page.
pub const PAGE_SIZE: u32 = 24;
/// Longest search text we look at; the rest is ignored rather than refused.
pub const MAX_QUERY_CHARS: usize = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Sort {
    #[default]
    Popular,
    PriceAsc,
    PriceDesc,
    Name,
    Newest,
}

impl Sort {
    pub const ALL: [Sort; 5] = [Sort::Popular, Sort::PriceAsc, Sort::PriceDesc, Sort::Name, Sort::Newest];

    /// The query-string key. Unknown or missing keys fall back to the default order.
    pub fn from_key(key: Option<&str>) -> Sort {
        match key.unwrap_or("") {
            "price_asc" => Sort::PriceAsc,
            "price_desc" => Sort::PriceDesc,
            "name" => Sort::Name,
            "newest" => Sort::Newest,
            _ => Sort::Popular,
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Sort::Popular => "popular",
            Sort::PriceAsc => "price_asc",
            Sort::PriceDesc => "price_desc",
            Sort::Name => "name",
            Sort::Newest => "newest",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Sort::Popular => "Most popular",
            Sort::PriceAsc => "Price: low to high",
            Sort::PriceDesc => "Price: high to low",
            Sort::Name => "Name: A to Z",
            Sort::Newest => "Newest",
        }
    }

    /// ORDER BY clause; every order ends on the id so pages never overlap or skip.
    pub fn order_by(self) -> &'static str {
        match self {
            Sort::Popular => "popularity DESC, id ASC",
            Sort::PriceAsc => "price_cents ASC, id ASC",
            Sort::PriceDesc => "price_cents DESC, id ASC",
            Sort::Name => "name ASC, id ASC",
            Sort::Newest => "created_at DESC, id DESC",
        }
    }
}

/// The requested page number from a query string: anything that is not a positive integer is page 1.
/// Values past the last page are clamped later, once the total is known.
pub fn parse_page(raw: Option<&str>) -> u32 {
    raw.and_then(|s| s.trim().parse::<u32>().ok()).filter(|&p| p >= 1).unwrap_or(1)
}

/// Number of pages for `total` items (at least one, so an empty listing still has page 1).
pub fn page_count(total: u64, page_size: u32) -> u32 {
    let pages = total.div_ceil(u64::from(page_size.max(1)));
    u32::try_from(pages.max(1)).unwrap_or(u32::MAX)
}

/// Clamps a requested page into 1..=page_count.
pub fn clamp_page(requested: u32, total: u64, page_size: u32) -> u32 {
    requested.clamp(1, page_count(total, page_size))
}

/// Normalises search text: trims, collapses whitespace, lower-cases (Unicode-aware) and caps
/// the length, so matching is case-insensitive for every script, not only ASCII.
/// Longest product or category slug.
pub const MAX_SLUG_BYTES: usize = 120;

/// Whether `slug` can name a product or category: 1 to `MAX_SLUG_BYTES` lowercase ASCII letters,
/// digits, `-` or `_`. Anything else is not looked up (nor cached).
pub fn valid_slug(slug: &str) -> bool {
    (1..=MAX_SLUG_BYTES).contains(&slug.len())
        && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

pub fn normalize_search(raw: &str) -> String {
    let capped: String = normalize_text(raw).chars().take(MAX_QUERY_CHARS).collect();
    capped.trim_end().to_string()
}

/// The stored `search_text` of a product: the same normalisation without the length cap.
pub fn normalize_text(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for word in raw.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&word.to_lowercase());
    }
    out
}

/// A `LIKE` pattern matching `needle` literally anywhere; use with `ESCAPE '\'`.
pub fn like_contains_pattern(needle: &str) -> String {
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for ch in needle.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(ch);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_keys_round_trip_and_unknown_is_default() {
        for s in Sort::ALL {
            assert_eq!(Sort::from_key(Some(s.key())), s);
        }
        assert_eq!(Sort::from_key(Some("price; DROP TABLE products")), Sort::Popular);
        assert_eq!(Sort::from_key(None), Sort::Popular);
    }

    #[test]
    fn page_parsing_never_fails() {
        assert_eq!(parse_page(Some("3")), 3);
        assert_eq!(parse_page(Some("-1")), 1);
        assert_eq!(parse_page(Some("0")), 1);
        assert_eq!(parse_page(Some("abc")), 1);
        assert_eq!(parse_page(Some("99999999999999999999")), 1);
        assert_eq!(parse_page(None), 1);
    }

    #[test]
    fn pages_are_clamped_to_the_listing() {
        assert_eq!(page_count(0, 24), 1);
        assert_eq!(page_count(24, 24), 1);
        assert_eq!(page_count(25, 24), 2);
        assert_eq!(clamp_page(999_999, 50, 24), 3);
        assert_eq!(clamp_page(0, 50, 24), 1);
    }

    #[test]
    fn search_text_is_normalised() {
        assert_eq!(normalize_search("  Cast   IRON\tSkillet "), "cast iron skillet");
        assert_eq!(normalize_search("ÉCLAIR Straße"), "éclair straße");
        assert_eq!(normalize_search(&"x".repeat(1024)).chars().count(), MAX_QUERY_CHARS);
        assert_eq!(normalize_search("   "), "");
    }

    #[test]
    fn slugs_are_short_and_plain() {
        assert!(valid_slug("cast-iron-skillet-12"));
        assert!(!valid_slug(""));
        assert!(!valid_slug(&"a".repeat(MAX_SLUG_BYTES + 1)));
        for bad in ["Cast", "a b", "a/b", "a%2Fb", "é", "a\r\n"] {
            assert!(!valid_slug(bad), "{bad}");
        }
    }

    #[test]
    fn like_metacharacters_are_escaped() {
        assert_eq!(like_contains_pattern("50%"), "%50\\%%");
        assert_eq!(like_contains_pattern("a_b"), "%a\\_b%");
        assert_eq!(like_contains_pattern("c:\\x"), "%c:\\\\x%");
        assert_eq!(like_contains_pattern("'\"<script>"), "%'\"<script>%");
    }
}
