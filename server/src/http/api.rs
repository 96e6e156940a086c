//! The door to the server functions under `/api/`: the checks that must hold before any of
//! them runs. A state-changing call must come from one of our own pages (CSRF), send its fields
//! form-encoded (415) and fit in 16 KB (413). Everything after that, including the status of an
//! error and the redirect and flash of a plain form post, is the server function's own answer
//! (`app::edge`).

use app::error::AppError;
use app::state::AppState;
use axum::{
    body::{to_bytes, Body},
    extract::{Request, State},
    http::{header, HeaderMap, Method},
    middleware::Next,
    response::{IntoResponse, Response},
};

/// Largest request body a server function accepts.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

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

/// Unknown paths under `/api/`.
pub async fn unknown_endpoint() -> Response {
    AppError::NotFound("There is no API endpoint at this path.".into()).into_response()
}

/// Middleware around every `/api/` request (leptos_axum registers the server functions' routes
/// itself, so the checks wrap them rather than replace them).
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // Every server function is a POST; any other method that could change something gets the
    // same checks, so a future one cannot slip past them.
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !req.uri().path().starts_with("/api/") || safe {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    if !same_origin(&parts.headers, &state.config.origins) {
        tracing::warn!(path = %parts.uri.path(), "cross-site API call refused");
        return AppError::Forbidden("Cross-site requests are not allowed.".into()).into_response();
    }
    let content_type = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return AppError::UnsupportedMediaType(
            "Send the fields form-encoded (Content-Type: application/x-www-form-urlencoded).".into(),
        )
        .into_response();
    }
    let too_large = || {
        AppError::PayloadTooLarge(format!("The request body is larger than {} KB.", MAX_BODY_BYTES / 1024))
            .into_response()
    };
    let declared = parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    match declared {
        // hyper holds the body to its declared length, so a small one can go on as it is.
        Some(len) if len <= MAX_BODY_BYTES => next.run(Request::from_parts(parts, body)).await,
        Some(_) => too_large(),
        // No length (chunked): read it here, up to the limit.
        None => match to_bytes(body, MAX_BODY_BYTES).await {
            Ok(bytes) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
            Err(_) => too_large(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

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
}
