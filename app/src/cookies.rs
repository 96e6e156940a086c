//! Reading request cookies by hand (pages, middleware): `name=value` pairs across every `Cookie`
//! header, the way browsers send them.

use http::{header::COOKIE, HeaderMap};

/// Every `(name, value)` pair the request's `Cookie` headers carry, in order.
pub fn pairs(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
}

/// The value of the first cookie called `name`.
pub fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    pairs(headers).find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cookies_across_headers() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, "a=1; sid=xyz".parse().unwrap());
        headers.append(COOKIE, "b=2;c=x=y".parse().unwrap());
        assert_eq!(get(&headers, "sid").as_deref(), Some("xyz"));
        assert_eq!(get(&headers, "c").as_deref(), Some("x=y"));
        assert_eq!(get(&headers, "b").as_deref(), Some("2"));
        assert_eq!(get(&headers, "missing"), None);
        assert_eq!(pairs(&headers).count(), 4);
    }
}
