//! The one door to the server functions under `/api/`: cross-site and body checks, then the
//! Leptos handler, then the mapping of `AppError` onto HTTP statuses. Every API error leaves
//! here as `{"error", "message"}` JSON with its proper status code.
//!
//! Plain HTML form posts (no JavaScript) get the same server functions: the answer becomes a
//! `303 See Other` back to the page they came from, with the outcome in a one-time `flash`
//! cookie that the page shows. One code path, progressively enhanced.

use app::domain::redirect;
use app::error::{AppError, ErrorBody};
use app::model::Flash;
use app::services::flash;
use app::state::AppState;
use axum::{
    body::{to_bytes, Body},
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};

/// Largest request body a server function accepts.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

pub fn error_response(err: &AppError) -> Response {
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut res = (status, axum::Json(ErrorBody::from(err.clone()))).into_response();
    if let Some(secs) = err.retry_after() {
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    res
}

/// The origin of a URL (`scheme://host[:port]`), without path, query or fragment.
fn origin_of(url: &str) -> Option<&str> {
    let rest = url.find("://").map(|i| i + 3)?;
    let end = url[rest..].find(['/', '?', '#']).map(|i| rest + i).unwrap_or(url.len());
    Some(&url[..end])
}

/// Cross-site request check for state-changing calls: a browser always sends `Origin` on a
/// cross-origin POST (and `Referer` unless told not to), so either must name one of our origins.
/// Requests with neither come from non-browser clients (scripts, load tests), which cannot carry
/// a victim's cookies, and are allowed.
pub fn same_origin(headers: &HeaderMap, allowed: &[String]) -> bool {
    let matches = |o: &str| allowed.iter().any(|a| a.eq_ignore_ascii_case(o));
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        return origin != "null" && matches(origin);
    }
    if let Some(referer) = headers.get(header::REFERER).and_then(|v| v.to_str().ok()) {
        return origin_of(referer).is_some_and(matches);
    }
    true
}

/// Where a plain form post goes back to: the referring page on our own origin (checked like
/// every redirect target, `domain::redirect`), minus the error parameters server_fn appends, or
/// `fallback`.
fn back_to(headers: &HeaderMap, allowed: &[String], fallback: &str) -> String {
    let Some(referer) = headers.get(header::REFERER).and_then(|v| v.to_str().ok()) else {
        return fallback.to_string();
    };
    let Some(path) = redirect::same_origin_path(referer, allowed) else { return fallback.to_string() };
    match path.split_once('?') {
        None => path.to_string(),
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

/// What a form post without JavaScript should be told after success.
fn success_message(path: &str) -> Option<&'static str> {
    match path {
        "/api/cart/add" => Some("Added to your cart."),
        "/api/cart/set" => Some("Your cart was updated."),
        "/api/cart/remove" => Some("Removed from your cart."),
        "/api/cart/clear" => Some("Your cart is empty now."),
        "/api/auth/login" => Some("Welcome back. You are signed in."),
        "/api/auth/register" => Some("Welcome to Copperleaf. Your account is ready."),
        "/api/auth/logout" => Some("You are signed out."),
        _ => None,
    }
}

/// Unknown paths under `/api/`.
pub async fn unknown_endpoint() -> Response {
    error_response(&AppError::NotFound("There is no API endpoint at this path.".into()))
}

/// Middleware around every `/api/` request (leptos_axum registers the server functions' routes
/// itself, so the checks wrap them rather than replace them).
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with("/api/") {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let allowed = &state.config.origins;
    if parts.method == Method::POST {
        if !same_origin(&parts.headers, allowed) {
            tracing::warn!(path = %parts.uri.path(), "cross-site API call refused");
            return error_response(&AppError::Forbidden("Cross-site requests are not allowed.".into()));
        }
        let content_type = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !content_type.starts_with("application/x-www-form-urlencoded") {
            return error_response(&AppError::UnsupportedMediaType(
                "Send the fields form-encoded (Content-Type: application/x-www-form-urlencoded).".into(),
            ));
        }
    }
    let bytes = match to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return error_response(&AppError::PayloadTooLarge(format!(
                "The request body is larger than {} KB.",
                MAX_BODY_BYTES / 1024
            )))
        }
    };
    let plain_form = parts.method == Method::POST
        && parts.headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    let back = plain_form.then(|| back_to(&parts.headers, allowed, "/cart"));
    let path = parts.uri.path().to_string();
    let res = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    let (mut head, body) = res.into_parts();
    let bytes = to_bytes(body, 4 * 1024 * 1024).await.unwrap_or_default();
    // Server functions answer every error with 500; give each its real status from the body.
    let error = if head.status.is_client_error() || head.status.is_server_error() || plain_form {
        serde_json::from_slice::<AppError>(&bytes).ok()
    } else {
        None
    };
    if let Some(back) = back {
        return form_redirect(head.headers, &back, &path, error.as_ref(), &bytes, state.config.secure_cookies);
    }
    if let Some(err) = error {
        head.status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if let Some(secs) = err.retry_after() {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                head.headers.insert(header::RETRY_AFTER, v);
            }
        }
    }
    head.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(head, Body::from(bytes))
}

/// The answer to a plain form post: back to the page, with the outcome as a flash.
fn form_redirect(
    headers: HeaderMap,
    back: &str,
    path: &str,
    error: Option<&AppError>,
    body: &[u8],
    secure: bool,
) -> Response {
    // A server function may have chosen where to go (e.g. after logging in); keep that.
    let explicit = headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .filter(|l| !l.contains("__err="))
        .and_then(redirect::local_path);
    let location = explicit.or_else(|| redirect::local_path(back)).unwrap_or_else(|| "/".to_string());
    let flash = match error {
        Some(e) => Some(Flash { kind: "error".into(), message: e.message() }),
        None => {
            let notices: Vec<String> = serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v.get("notices").cloned())
                .and_then(|n| serde_json::from_value(n).ok())
                .unwrap_or_default();
            if !notices.is_empty() {
                Some(Flash { kind: "info".into(), message: notices.join(" ") })
            } else {
                success_message(path).map(|m| Flash { kind: "ok".into(), message: m.into() })
            }
        }
    };
    let mut res = Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, HeaderValue::from_str(&location).unwrap_or(HeaderValue::from_static("/")))
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::empty())
        .expect("valid response");
    // Keep cookies the server function set (session changes at login and logout).
    for cookie in headers.get_all(header::SET_COOKIE) {
        res.headers_mut().append(header::SET_COOKIE, cookie.clone());
    }
    if let Some(cookie) = flash.and_then(|f| flash::cookie(&f, secure)) {
        res.headers_mut().append(header::SET_COOKIE, cookie);
    }
    res
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
    fn cross_site_posts_are_recognised() {
        let allowed = vec!["http://127.0.0.1:3000".to_string()];
        assert!(same_origin(&headers(&[("origin", "http://127.0.0.1:3000")]), &allowed));
        assert!(!same_origin(&headers(&[("origin", "https://evil.example")]), &allowed));
        assert!(!same_origin(&headers(&[("origin", "null")]), &allowed));
        assert!(same_origin(&headers(&[("referer", "http://127.0.0.1:3000/cart?x=1")]), &allowed));
        assert!(!same_origin(&headers(&[("referer", "http://127.0.0.1:3000.evil.example/")]), &allowed));
        assert!(same_origin(&headers(&[]), &allowed), "non-browser clients send neither");
    }

    #[test]
    fn form_posts_go_back_to_the_page_without_error_parameters() {
        let allowed = vec!["http://127.0.0.1:3000".to_string()];
        let h = headers(&[("referer", "http://127.0.0.1:3000/c/kitchen?page=2&__err=abc&__path=x")]);
        assert_eq!(back_to(&h, &allowed, "/cart"), "/c/kitchen?page=2");
        let h = headers(&[("referer", "https://evil.example/phish")]);
        assert_eq!(back_to(&h, &allowed, "/cart"), "/cart");
        assert_eq!(back_to(&HeaderMap::new(), &allowed, "/cart"), "/cart");
        let h = headers(&[("referer", "http://127.0.0.1:3000")]);
        assert_eq!(back_to(&h, &allowed, "/cart"), "/");
        // A tab is allowed in a header value; a browser would drop it and read `//evil.example`.
        let h = headers(&[("referer", "http://127.0.0.1:3000/\t/evil.example")]);
        assert_eq!(back_to(&h, &allowed, "/cart"), "/cart");
    }
}
