//! One-time messages for shoppers without JavaScript: after a form post the API redirects back
//! and leaves the message in a short-lived cookie; the next page shows it and clears it
//! (`Visitor::take_flash`).

use crate::cookies;
use crate::model::Flash;

/// Longest message kept.
const MAX_MESSAGE_CHARS: usize = 500;

/// The `Set-Cookie` carrying `flash` (`kind:message`) for a minute.
pub fn cookie(flash: &Flash, secure: bool) -> Option<http::HeaderValue> {
    let message: String = flash.message.chars().take(MAX_MESSAGE_CHARS).collect();
    cookies::set_cookie(cookies::FLASH, &format!("{}:{message}", flash.kind), 60, secure)
}

/// Reads a cookie value back; anything malformed is ignored (the cookie is the browser's).
pub fn parse(value: &str) -> Option<Flash> {
    let (kind, message) = value.split_once(':')?;
    let kind = match kind {
        "ok" | "info" | "error" => kind.to_string(),
        _ => return None,
    };
    let message: String = message.chars().filter(|c| !c.is_control()).take(MAX_MESSAGE_CHARS).collect();
    (!message.is_empty()).then_some(Flash { kind, message })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flashes_round_trip_through_the_cookie_parser_and_garbage_is_ignored() {
        let f = Flash { kind: "error".into(), message: "Only 3 left; 100% sure; é".into() };
        let header = cookie(&f, false).unwrap();
        let mut headers = http::HeaderMap::new();
        let pair = header.to_str().unwrap().split(';').next().unwrap().to_string();
        headers.insert(http::header::COOKIE, pair.parse().unwrap());
        assert_eq!(parse(&cookies::get(&headers, cookies::FLASH).unwrap()), Some(f));
        assert_eq!(parse("bogus"), None);
        assert_eq!(parse("evil:hi"), None);
        assert_eq!(parse("ok:"), None);
        assert_eq!(parse("ok:a\r\nb").unwrap().message, "ab");
    }
}
