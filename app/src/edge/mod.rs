//! What a server function's answer says in HTTP besides its JSON body, set by the function itself
//! through Leptos's `ResponseOptions` (leptos_axum applies them to the response last):
//!
//! - an error's status and `Retry-After` ([`failed`], called for every error by
//!   `AppError::ser`, including the ones raised before the function body runs, such as a field
//!   that does not parse);
//! - for a plain HTML form post (no JavaScript), a `303 See Other` back to the page the form was
//!   on, or to where the function chose ([`go_to`]), with the outcome as a one-time flash
//!   ([`succeeded`], [`failed`]). One code path, progressively enhanced.
//!
//! server_fn and leptos_axum recognise a form post by an `Accept` that names `text/html` and
//! then send the raw `Referer` back as `Location`; [`begin`] replaces it with a checked local path
//! for every such call before any function runs, so no function can forget it.

pub mod flash;

use crate::domain::redirect;
use crate::model::Flash;
use http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode};
use leptos::prelude::{provide_context, use_context, with_context};
use leptos_axum::ResponseOptions;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// In the context of every server-function call (and of nothing else).
#[derive(Clone, Debug)]
struct ApiCall {
    plain_form: bool,
    secure_cookies: bool,
    /// A flash is set already: server_fn serialises an error twice for a form post (once more to
    /// put it in the redirect URL it builds and we replace), and one message is enough.
    flashed: Arc<AtomicBool>,
}

/// Where a form post goes back to when its page cannot be told.
const FALLBACK_PAGE: &str = "/cart";

/// Called before every server function (and every page render, which it leaves alone) with the
/// shop's origins and cookie flag: marks the call, and for a plain form post sets the default
/// answer, `303` to the checked referring page.
pub fn begin(origins: &[String], secure_cookies: bool) {
    let call = with_context::<Parts, _>(|parts| {
        parts.uri.path().starts_with("/api/").then(|| {
            let plain_form = is_plain_form(&parts.headers);
            (plain_form, plain_form.then(|| back_to(&parts.headers, origins)))
        })
    })
    .flatten();
    let Some((plain_form, back)) = call else { return };
    provide_context(ApiCall { plain_form, secure_cookies, flashed: Arc::default() });
    if let (Some(back), Some(res)) = (back, use_context::<ResponseOptions>()) {
        res.set_status(StatusCode::SEE_OTHER);
        set_location(&res, &back);
    }
}

/// A form posted by the browser itself rather than by the app's code, which asks for JSON. The
/// test server_fn applies, which reads the header leniently (so must we, or a header with
/// non-ASCII bytes would get server_fn's unchecked redirect).
pub fn is_plain_form(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT).iter().any(|v| String::from_utf8_lossy(v.as_bytes()).contains("text/html"))
}

/// For a plain form post, go to `path` afterwards instead of back to the form's page (calls from
/// the app's code get their JSON answer and navigate themselves). `path` must be a local path
/// (`domain::redirect::local_path`); anything else is ignored and logged.
pub fn go_to(path: &str) {
    if !current().is_some_and(|c| c.plain_form) {
        return;
    }
    match (redirect::local_path(path), use_context::<ResponseOptions>()) {
        (Some(path), Some(res)) => set_location(&res, &path),
        (None, _) => tracing::warn!("refused to redirect to a target that is not a local path"),
        _ => {}
    }
}

/// What a plain form post tells the shopper after success: the answer's own notices when it
/// has any (caps, price changes), otherwise `message`.
pub fn succeeded(notices: &[String], message: &str) {
    let flash = if notices.is_empty() {
        Flash { kind: "ok".into(), message: message.into() }
    } else {
        Flash { kind: "info".into(), message: notices.join(" ") }
    };
    show(flash);
}

/// An error's HTTP form: its status and `Retry-After` for calls from code; for a plain form post
/// the `303` stays and the message goes into the flash.
pub fn failed(status: u16, retry_after: Option<u64>, message: &str) {
    let Some(call) = current() else { return };
    if call.plain_form {
        show(Flash { kind: "error".into(), message: message.into() });
        return;
    }
    let Some(res) = use_context::<ResponseOptions>() else { return };
    res.set_status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    if let Some(secs) = retry_after {
        res.insert_header(header::RETRY_AFTER, HeaderValue::from(secs));
    }
}

fn current() -> Option<ApiCall> {
    use_context::<ApiCall>()
}

fn show(message: Flash) {
    let Some(call) = current().filter(|c| c.plain_form) else { return };
    if call.flashed.swap(true, Ordering::Relaxed) {
        return;
    }
    if let (Some(cookie), Some(res)) = (flash::cookie(&message, call.secure_cookies), use_context::<ResponseOptions>())
    {
        res.append_header(header::SET_COOKIE, cookie);
    }
}

fn set_location(res: &ResponseOptions, path: &str) {
    // `path` went through `redirect::local_path`, which percent-encodes anything a header could
    // not carry; "/" stands in should that ever fail.
    res.insert_header(header::LOCATION, HeaderValue::from_str(path).unwrap_or(HeaderValue::from_static("/")));
}

/// Where a plain form post goes back to: the referring page on one of our origins (checked like
/// every redirect target, `domain::redirect`), minus the error parameters server_fn appends, or
/// the cart.
fn back_to(headers: &HeaderMap, origins: &[String]) -> String {
    let path = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|referer| redirect::same_origin_path(referer, origins));
    let Some(path) = path else { return FALLBACK_PAGE.to_string() };
    match path.split_once('?') {
        None => path,
        Some((p, q)) => {
            let kept: Vec<&str> =
                q.split('&').filter(|kv| !kv.starts_with("__err=") && !kv.starts_with("__path=")).collect();
            if kept.is_empty() {
                p.to_string()
            } else {
                format!("{p}?{}", kept.join("&"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn form_posts_go_back_to_the_page_without_error_parameters() {
        let allowed = vec!["http://127.0.0.1:3000".to_string()];
        let h = headers(&[("referer", "http://127.0.0.1:3000/c/kitchen?page=2&__err=abc&__path=x")]);
        assert_eq!(back_to(&h, &allowed), "/c/kitchen?page=2");
        let h = headers(&[("referer", "https://evil.example/phish")]);
        assert_eq!(back_to(&h, &allowed), "/cart");
        assert_eq!(back_to(&HeaderMap::new(), &allowed), "/cart");
        let h = headers(&[("referer", "http://127.0.0.1:3000")]);
        assert_eq!(back_to(&h, &allowed), "/");
        // A tab is allowed in a header value; a browser would drop it and read `//evil.example`.
        let h = headers(&[("referer", "http://127.0.0.1:3000/\t/evil.example")]);
        assert_eq!(back_to(&h, &allowed), "/cart");
    }

    #[test]
    fn only_browser_form_posts_count_as_plain_forms() {
        assert!(is_plain_form(&headers(&[("accept", "text/html,application/xhtml+xml")])));
        assert!(!is_plain_form(&headers(&[("accept", "application/json")])));
        assert!(!is_plain_form(&HeaderMap::new()));
        let mut h = HeaderMap::new();
        h.insert("accept", HeaderValue::from_bytes(b"text/html, \xc3\xa9").unwrap());
        assert!(is_plain_form(&h), "read as leniently as server_fn reads it");
    }
}
