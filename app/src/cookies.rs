//! Every cookie the shop reads or writes goes through here.
//!
//! Reading: one parser for the whole shop, the one the session layer uses (tower-cookies over the
//! `cookie` crate): each `Cookie` header split at `;`, names and values trimmed and
//! percent-decoded, a later cookie of the same name winning. A second, looser reader would let a
//! request look cookieless to one part of the shop (the page cache) while carrying a session for
//! another (`%73id=...`, ` sid =...`).
//!
//! Writing: `set_cookie` builds every `Set-Cookie` the same way (`Path=/`, `HttpOnly`,
//! `SameSite=Lax`, `Secure` on an https shop), percent-encoding the value so nothing from a
//! request can break the header.
//!
//! Signing: `Signer` adds an HMAC to values the shop hands out and must recognise later (the
//! anonymous id, the signed-in account), so a browser cannot choose them.

use hmac::{Hmac, Mac};
use http::{header::COOKIE, HeaderMap, HeaderValue};
use sha2::Sha256;
use tower_sessions::cookie::{Cookie, CookieJar};

/// The session cookie (tower-sessions).
pub const SESSION: &str = "sid";
/// The browser's anonymous id (signed).
pub const ANON: &str = "aid";
/// One-time messages after a form post without JavaScript.
pub const FLASH: &str = "flash";
/// Which account this browser signed in as (signed), for when the session store is unreachable.
pub const ACCOUNT: &str = "acct";
/// A browser that signed in to an account before (signed): not slowed down by guessing elsewhere.
pub const DEVICE: &str = "dev";
/// QA overrides of feature flags: `ff.<flag>`.
pub const OVERRIDE_PREFIX: &str = "ff.";

/// The request's cookies, parsed exactly as the session layer parses them.
pub fn jar(headers: &HeaderMap) -> CookieJar {
    let mut jar = CookieJar::new();
    for header in headers.get_all(COOKIE) {
        let Ok(text) = std::str::from_utf8(header.as_bytes()) else { continue };
        for piece in text.split(';') {
            if let Ok(cookie) = Cookie::parse_encoded(piece.to_owned()) {
                jar.add_original(cookie);
            }
        }
    }
    jar
}

/// The value of the cookie called `name`, if the request has one.
pub fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    jar(headers).get(name).map(|c| c.value().to_string())
}

/// Whether the request carries any cookie that makes a page personal: a session, a flash
/// message, an anonymous id or a flag override.
pub fn any_personal(headers: &HeaderMap) -> bool {
    jar(headers).iter().any(|c| {
        let name = c.name();
        name == SESSION || name == FLASH || name == ANON || name == ACCOUNT || name.starts_with(OVERRIDE_PREFIX)
    })
}

/// A `Set-Cookie` value; `max_age_secs` 0 removes the cookie. The value is percent-encoded
/// wherever it is not a plain cookie octet (RFC 6265), which `jar` decodes back. `None` only if
/// `name` is not a valid cookie name (callers pass constants).
pub fn set_cookie(name: &str, value: &str, max_age_secs: i64, secure: bool) -> Option<HeaderValue> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b)) {
        return None;
    }
    let mut encoded = String::with_capacity(value.len());
    for b in value.bytes() {
        // cookie-octet: %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E, and `%` itself escaped.
        let plain = matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E) && b != b'%';
        if plain {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={encoded}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
        max_age_secs.max(0)
    ))
    .ok()
}

/// Signs and checks values with a key derived from the cookie secret. Each use has its own
/// `purpose`, so a value signed for one cookie is worthless in another.
#[derive(Clone)]
pub struct Signer {
    key: [u8; 32],
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(..)")
    }
}

const TAG_HEX: usize = 32;

impl Signer {
    pub fn new(master: &tower_sessions::cookie::Key) -> Signer {
        let mut key = [0u8; 32];
        key.copy_from_slice(&master.signing()[..32]);
        Signer { key }
    }

    fn tag(&self, purpose: &str, value: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(b"copperleaf:");
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().iter().take(TAG_HEX / 2).map(|b| format!("{b:02x}")).collect()
    }

    /// `value.tag`
    pub fn sign(&self, purpose: &str, value: &str) -> String {
        format!("{value}.{}", self.tag(purpose, value))
    }

    /// The value inside `signed`, if its tag is right for `purpose`.
    pub fn verify(&self, purpose: &str, signed: &str) -> Option<String> {
        let (value, tag) = signed.rsplit_once('.')?;
        let expected = self.tag(purpose, value);
        let same =
            tag.len() == expected.len() && tag.bytes().zip(expected.bytes()).fold(0u8, |a, (x, y)| a | (x ^ y)) == 0;
        same.then(|| value.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(COOKIE, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn cookies_are_read_as_the_session_layer_reads_them() {
        let h = headers(&["a=1; sid=xyz", "b=2;c=x=y"]);
        assert_eq!(get(&h, "sid").as_deref(), Some("xyz"));
        assert_eq!(get(&h, "c").as_deref(), Some("x=y"));
        assert_eq!(get(&h, "missing"), None);
        // Names and values are trimmed and percent-decoded; the last of a name wins.
        assert_eq!(get(&headers(&[" sid = abc "]), "sid").as_deref(), Some("abc"));
        assert_eq!(get(&headers(&["%73id=abc"]), "sid").as_deref(), Some("abc"));
        assert_eq!(get(&headers(&["sid=one; sid=two"]), "sid").as_deref(), Some("two"));
        assert_eq!(get(&headers(&["flash=ok%3AHi%20there"]), "flash").as_deref(), Some("ok:Hi there"));
        for personal in ["%73id=abc", " sid =abc", "x=1;sid=abc", "ff.cart_layout=drawer", "aid=1"] {
            assert!(any_personal(&headers(&[personal])), "{personal}");
        }
        assert!(!any_personal(&headers(&["theme=dark; sidx=1"])));
    }

    #[test]
    fn set_cookie_values_are_always_safe_headers() {
        let v = set_cookie("flash", "ok:Line\r\nSet-Cookie: evil=1; x", 60, true).unwrap();
        let text = v.to_str().unwrap();
        assert!(text.starts_with("flash=ok:Line%0D%0ASet-Cookie:%20evil=1%3B%20x;"), "{text}");
        assert!(!text.contains('\n') && !text.contains("evil=1;"), "{text}");
        for attr in ["Path=/", "HttpOnly", "SameSite=Lax", "Secure", "Max-Age=60"] {
            assert!(text.contains(attr), "{attr} in {text}");
        }
        assert!(!set_cookie("aid", "x", 60, false).unwrap().to_str().unwrap().contains("Secure"));
        assert!(set_cookie("bad name", "x", 60, false).is_none());
        assert!(set_cookie("", "x", 60, false).is_none());
    }

    #[test]
    fn signed_values_are_bound_to_their_purpose() {
        let signer = Signer::new(&tower_sessions::cookie::Key::generate());
        let signed = signer.sign("aid", "abc-123");
        assert_eq!(signer.verify("aid", &signed).as_deref(), Some("abc-123"));
        assert_eq!(signer.verify("acct", &signed), None, "not valid for another cookie");
        assert_eq!(signer.verify("aid", "abc-123"), None);
        assert_eq!(signer.verify("aid", &signed.replace("abc", "abd")), None);
        let other = Signer::new(&tower_sessions::cookie::Key::generate());
        assert_eq!(other.verify("aid", &signed), None, "another secret");
    }
}
