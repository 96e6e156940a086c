//! The `aid` cookie: a random, long-lived anonymous id per browser, for recommendations and
//! experiment assignment. Set on the first page view; put into every request's extensions.

use app::services::visitor::{AnonId, ANON_COOKIE};
use axum::{
    extract::{Request, State},
    http::{header, HeaderValue},
    middleware::Next,
    response::Response,
};

fn read_cookie(req: &Request) -> Option<String> {
    app::cookies::get(req.headers(), ANON_COOKIE)
        // Only ids we could have made: anything else is replaced.
        .filter(|v| v.len() == 36 && v.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'))
}

fn is_page(req: &Request) -> bool {
    let path = req.uri().path();
    req.method() == axum::http::Method::GET
        && !["/api/", "/events/", "/pkg/", "/img/", "/healthz", "/readyz", "/metrics", "/favicon"]
            .iter()
            .any(|p| path.starts_with(p))
}

pub async fn ensure(State(secure): State<bool>, mut req: Request, next: Next) -> Response {
    let existing = read_cookie(&req);
    let fresh = existing.is_none() && is_page(&req);
    let id = existing.or_else(|| fresh.then(|| uuid::Uuid::new_v4().to_string()));
    if let Some(id) = &id {
        req.extensions_mut().insert(AnonId(id.clone()));
    }
    let mut res = next.run(req).await;
    if let (true, Some(id)) = (fresh, id) {
        let secure = if secure { "; Secure" } else { "" };
        let cookie = format!("{ANON_COOKIE}={id}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax{secure}");
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}
