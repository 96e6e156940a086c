//! One-time messages for shoppers without JavaScript: after a form post the API redirects back
//! and leaves the message in a short-lived cookie; the next page shows it and clears it.

use crate::model::Flash;

pub const COOKIE: &str = "flash";

/// Percent-encodes a flash for a cookie value (`kind:message`).
pub fn encode(flash: &Flash) -> String {
    let raw = format!("{}:{}", flash.kind, flash.message);
    let mut out = String::with_capacity(raw.len() * 3);
    for b in raw.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Reads a cookie value back; anything malformed is ignored (the cookie is the browser's).
pub fn decode(value: &str) -> Option<Flash> {
    let bytes = value.as_bytes();
    let mut raw = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if i + 2 >= bytes.len() {
                return None;
            }
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            raw.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            raw.push(bytes[i]);
            i += 1;
        }
    }
    let text = String::from_utf8(raw).ok()?;
    let (kind, message) = text.split_once(':')?;
    let kind = match kind {
        "ok" | "info" | "error" => kind.to_string(),
        _ => return None,
    };
    let message: String = message.chars().take(500).collect();
    (!message.is_empty()).then_some(Flash { kind, message })
}

/// Takes the flash of the current request, if any, and clears the cookie on the response.
pub fn take() -> Option<Flash> {
    use leptos::prelude::use_context;
    let parts = use_context::<http::request::Parts>()?;
    let value = crate::cookies::get(&parts.headers, COOKIE)?;
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.append_header(
            http::header::SET_COOKIE,
            http::HeaderValue::from_static("flash=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"),
        );
    }
    decode(&value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flashes_round_trip_and_garbage_is_ignored() {
        let f = Flash { kind: "error".into(), message: "Only 3 left; 100% sure; é".into() };
        assert_eq!(decode(&encode(&f)), Some(f));
        assert_eq!(decode("bogus"), None);
        assert_eq!(decode("evil:hi"), None);
        assert_eq!(decode("ok:%ZZ"), None);
        assert_eq!(decode("ok:%4"), None);
    }
}
