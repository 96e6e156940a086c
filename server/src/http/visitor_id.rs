//! The `aid` cookie: a random, long-lived anonymous id per browser, for recommendations and
//! experiment assignment. Minted by the server on the first page view and signed, so a browser
//! cannot pick its own (to choose an experiment arm, or to pose as another visitor); anything
//! else in the cookie is replaced. Put into every request's extensions as `AnonId`.

use app::cookies::{self, Signer};
use app::services::visitor::AnonId;
use app::state::AppState;
use axum::{
    extract::{Request, State},
    http::header,
    middleware::Next,
    response::Response,
};

/// Signing purpose of the anonymous id.
const PURPOSE: &str = "aid";
/// A year.
const MAX_AGE_SECS: i64 = 31_536_000;

fn read_cookie(req: &Request, signer: &Signer) -> Option<String> {
    let value = cookies::get(req.headers(), cookies::ANON)?;
    let id = signer.verify(PURPOSE, &value)?;
    // Only ids we could have made.
    (id.len() == 36 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')).then_some(id)
}

fn is_page(req: &Request) -> bool {
    let path = req.uri().path();
    req.method() == axum::http::Method::GET
        && !["/api/", "/events/", "/pkg/", "/img/", "/healthz", "/readyz", "/metrics", "/favicon"]
            .iter()
            .any(|p| path.starts_with(p))
}

pub async fn ensure(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let existing = read_cookie(&req, &state.signer);
    let fresh = existing.is_none() && is_page(&req);
    let id = existing.or_else(|| fresh.then(|| uuid::Uuid::new_v4().to_string()));
    if let Some(id) = &id {
        req.extensions_mut().insert(AnonId { id: id.clone(), fresh });
    }
    let mut res = next.run(req).await;
    if let (true, Some(id)) = (fresh, id) {
        let value = state.signer.sign(PURPOSE, &id);
        if let Some(cookie) = cookies::set_cookie(cookies::ANON, &value, MAX_AGE_SECS, state.config.secure_cookies) {
            res.headers_mut().append(header::SET_COOKIE, cookie);
        }
    }
    res
}
