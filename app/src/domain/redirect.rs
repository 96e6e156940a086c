//! Where the shop may send a browser back to: a path on this site, read the way browsers read it.
//!
//! Browsers are forgiving with URLs (WHATWG URL parsing): they drop tabs and line breaks anywhere,
//! trim control characters and spaces at both ends, and treat `\` like `/`. So `/\tevil.example`,
//! `/\evil.example` or ` //evil.example` all become `//evil.example`, which is another site. A
//! redirect target from a request (`next=`, the `Referer` of a form post) therefore passes only if
//! nothing in it is something a browser would drop or reinterpret, and it is written back out
//! percent-encoded, so the value is always a valid `Location` header. One function for every
//! redirect target, in the server and in the browser.

/// Longest redirect target accepted.
pub const MAX_TARGET_BYTES: usize = 2048;

/// Where to go when no usable target was given.
pub const DEFAULT_AFTER_SIGN_IN: &str = "/account";

/// `raw` as a path on this site (with its query and fragment), or `None` when a browser could
/// read it as anything else, or when it points into the API.
pub fn local_path(raw: &str) -> Option<String> {
    if raw.len() > MAX_TARGET_BYTES {
        return None;
    }
    let mut chars = raw.chars();
    // A path, not a scheme (`https:`, `javascript:`), not a relative path, and not `//host`
    // (or `/\host`, which a browser reads the same way).
    if chars.next() != Some('/') || matches!(chars.next(), Some('/' | '\\')) {
        return None;
    }
    // Anything a browser would strip or reinterpret: control characters (tab, CR, LF...),
    // backslashes, and Unicode whitespace.
    if raw.chars().any(|c| c.is_control() || c == '\\' || (c.is_whitespace() && c != ' ')) {
        return None;
    }
    let path_end = raw.find(['?', '#']).unwrap_or(raw.len());
    let path = &raw[..path_end];
    // Dot segments (`/./api`, `/x/../api`, `/%2e/api`) are resolved by browsers: none of ours
    // have them, so they are refused rather than resolved here.
    let dotted = path.split('/').any(|seg| seg == "." || seg == ".." || seg.to_ascii_lowercase().contains("%2e"));
    if dotted || path == "/api" || path.starts_with("/api/") {
        return None;
    }
    Some(encode(raw))
}

/// Percent-encodes every byte a header value or a browser could trip over (spaces, quotes,
/// angle brackets, non-ASCII), leaving existing `%xx` escapes as they are.
fn encode(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        match b {
            b'!' | b'#'..=b';' | b'=' | b'?'..=b'[' | b']' | b'_' | b'a'..=b'z' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Where to go after signing in: `next` when it is a path on this site, otherwise the account
/// page. For pages, which show a form whatever the link said.
pub fn after_sign_in(next: Option<&str>) -> String {
    next.and_then(local_path).unwrap_or_else(|| DEFAULT_AFTER_SIGN_IN.to_string())
}

/// `form` (`/login`, `/register`) with `next` as its query parameter, checked and encoded: a link
/// or redirect that can always be written into a page or a `Location` header.
pub fn with_next(form: &str, next: &str) -> String {
    let next = after_sign_in(Some(next));
    let mut encoded = String::with_capacity(next.len());
    for b in next.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => encoded.push(b as char),
            _ => encoded.push_str(&format!("%{b:02X}")),
        }
    }
    format!("{form}?next={encoded}")
}

/// The path (with query) of `url` when it is on one of `origins` (`scheme://host[:port]`),
/// checked like any other target; the form of `Referer` headers.
pub fn same_origin_path(url: &str, origins: &[String]) -> Option<String> {
    let origin = origins.iter().find(|o| {
        url.len() >= o.len()
            && url.is_char_boundary(o.len())
            && url[..o.len()].eq_ignore_ascii_case(o)
            && matches!(url.as_bytes().get(o.len()), None | Some(b'/' | b'?' | b'#'))
    })?;
    let rest = &url[origin.len()..];
    match rest.as_bytes().first() {
        None => Some("/".into()),
        Some(b'/') => local_path(rest),
        Some(_) => local_path(&format!("/{rest}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_on_this_site_pass_and_are_encoded() {
        assert_eq!(local_path("/cart").as_deref(), Some("/cart"));
        assert_eq!(local_path("/c/kitchen?page=2&sort=name#top").as_deref(), Some("/c/kitchen?page=2&sort=name#top"));
        assert_eq!(local_path("/search?q=red mug").as_deref(), Some("/search?q=red%20mug"));
        assert_eq!(local_path("/p/café").as_deref(), Some("/p/caf%C3%A9"));
        assert_eq!(local_path("/p/%2F%2Fevil").as_deref(), Some("/p/%2F%2Fevil"), "escapes stay escaped");
        assert_eq!(local_path("/a\"<b>").as_deref(), Some("/a%22%3Cb%3E"));
    }

    #[test]
    fn anything_a_browser_reads_as_another_site_is_refused() {
        for evil in [
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\n/evil.example",
            "\t//evil.example",
            " //evil.example",
            "//\tevil.example",
            "https://evil.example",
            "https:evil.example",
            "javascript:alert(1)",
            "evil.example",
            "",
            "/ok\r\nSet-Cookie: x=1",
            "/a\u{0}b",
            "/a\u{2028}b",
            "/api/auth/logout",
            "/api",
            "/./api/auth/logout",
            "/x/../api/auth/logout",
            "/%2e/api/auth/logout",
            "/%2E%2E/api",
        ] {
            assert_eq!(local_path(evil), None, "{evil:?}");
        }
        assert_eq!(local_path(&format!("/{}", "a".repeat(MAX_TARGET_BYTES))), None);
    }

    proptest::proptest! {
        /// The `url` crate parses as browsers do (WHATWG): whatever passes stays on this site and
        /// is a valid header value.
        #[test]
        fn what_passes_stays_on_this_site(
            prefix in proptest::sample::select(vec!["", "/", "//", "/\\", "\\", " ", "\t", "/\t", "\r\n", "http:", "/.", "/%2F", "/%09/"]),
            rest in "[ -~\\t\\r\\n\u{0}\u{a0}\u{2028}é/\\\\]{0,24}",
        ) {
            let raw = format!("{prefix}{rest}");
            if let Some(path) = local_path(&raw) {
                let base = url::Url::parse("http://shop.test/account").unwrap();
                let resolved = base.join(&path).unwrap();
                proptest::prop_assert_eq!(resolved.host_str(), Some("shop.test"), "{:?} -> {:?}", raw, path);
                proptest::prop_assert!(path.bytes().all(|b| (0x21..0x7f).contains(&b)), "{:?}", path);
            }
        }
    }

    #[test]
    fn sign_in_falls_back_to_the_account() {
        assert_eq!(after_sign_in(Some("/checkout")), "/checkout");
        assert_eq!(after_sign_in(Some("/\t/evil.example")), "/account");
        assert_eq!(after_sign_in(None), "/account");
    }

    #[test]
    fn sign_in_links_carry_a_checked_encoded_target() {
        assert_eq!(with_next("/login", "/admin/experiments/cart_layout"), "/login?next=/admin/experiments/cart_layout");
        assert_eq!(with_next("/login", "/search?q=a&sort=name"), "/login?next=/search%3Fq%3Da%26sort%3Dname");
        assert_eq!(with_next("/login", "/admin/experiments/\r\nx"), "/login?next=/account");
        assert_eq!(with_next("/register", "//evil.example"), "/register?next=/account");
    }

    #[test]
    fn referers_must_be_on_an_allowed_origin() {
        let origins = vec!["http://127.0.0.1:3000".to_string()];
        assert_eq!(same_origin_path("http://127.0.0.1:3000/c/x?page=2", &origins).as_deref(), Some("/c/x?page=2"));
        assert_eq!(same_origin_path("http://127.0.0.1:3000", &origins).as_deref(), Some("/"));
        assert_eq!(same_origin_path("HTTP://127.0.0.1:3000/cart", &origins).as_deref(), Some("/cart"));
        assert_eq!(same_origin_path("http://127.0.0.1:3000.evil.example/", &origins), None);
        assert_eq!(same_origin_path("http://127.0.0.1:30001/", &origins), None);
        assert_eq!(same_origin_path("https://evil.example/", &origins), None);
        assert_eq!(same_origin_path("http://127.0.0.1:3000/\t/evil.example", &origins), None);
        assert_eq!(same_origin_path("http://127.0.0.1:3000/\\evil.example", &origins), None);
        assert_eq!(same_origin_path("http://127.0.0.1:3000?x=1", &origins).as_deref(), Some("/?x=1"));
    }
}
