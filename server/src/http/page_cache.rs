//! Middleware serving rendered pages to first-time visitors from `PageCache`.
//!
//! Only plain GETs of catalogue pages qualify, from requests with no personal cookie (read with
//! the shop's one cookie parser, the session layer's own). And what is stored is decided from what
//! the render actually used, not from the cookies: every render gets a `PersonalRender` marker,
//! which reading a session, a flash message, a returning browser's id or a flag override sets; a
//! marked page, or one that sets a cookie, is never stored. Pages served from the cache record no
//! experiment exposure (a cached view is not counted).

use app::domain::experiments::CART_LAYOUT;
use app::services::visitor::{AnonId, PersonalRender};
use app::state::AppState;
use app::storage::page_cache::CachedPage;
use axum::{
    body::{to_bytes, Body},
    extract::{Request, State},
    http::{header, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::Response,
};

const MAX_PAGE_BYTES: usize = 1024 * 1024;
/// Longest URL (path and query) whose page is cached: keys stay small.
const MAX_KEY_BYTES: usize = 512;

fn cacheable_request(req: &Request) -> bool {
    if req.method() != Method::GET {
        return false;
    }
    let path = req.uri().path();
    if ["/api/", "/events/", "/pkg/", "/img/", "/healthz", "/readyz", "/metrics", "/favicon"]
        .iter()
        .any(|p| path.starts_with(p))
    {
        return false;
    }
    // Account and cart pages are personal even before a session exists.
    if ["/cart", "/checkout", "/account", "/orders", "/login", "/register", "/admin"]
        .iter()
        .any(|p| path.starts_with(p))
    {
        return false;
    }
    req.uri().to_string().len() <= MAX_KEY_BYTES && !app::cookies::any_personal(req.headers())
}

pub async fn serve(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if !cacheable_request(&req) {
        return next.run(req).await;
    }
    // A new visitor's cart layout follows from the anonymous id just minted for them, so pages
    // are cached per layout.
    let anon = req.extensions().get::<AnonId>().map(|a| format!("a:{}", a.id));
    let layout = state
        .experiments
        .flag(CART_LAYOUT)
        .filter(|f| f.enabled)
        .zip(anon.as_ref())
        .map(|(f, subject)| f.assign(subject).to_string());
    let key = format!("{}|{}", layout.as_deref().unwrap_or("-"), req.uri());
    let cache = state.catalog.pages();
    if let Some(page) = cache.get(&key).await {
        metrics::counter!("shop_page_cache_total", "result" => "hit").increment(1);
        return respond(&page, "hit");
    }
    metrics::counter!("shop_page_cache_total", "result" => "miss").increment(1);
    let marker = PersonalRender::default();
    req.extensions_mut().insert(marker.clone());
    let res = next.run(req).await;
    let status = res.status();
    let storable = (status == StatusCode::OK || status == StatusCode::NOT_FOUND)
        && !marker.is_marked()
        && !res.headers().contains_key(header::SET_COOKIE)
        && res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("text/html"));
    if !storable {
        if marker.is_marked() {
            metrics::counter!("shop_page_cache_total", "result" => "personal").increment(1);
        }
        return res;
    }
    let (parts, body) = res.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_PAGE_BYTES).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let page = CachedPage {
        status: parts.status.as_u16(),
        content_type: parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("text/html")
            .into(),
        body: bytes.clone(),
    };
    cache.put(key, page).await;
    let mut res = Response::from_parts(parts, Body::from(bytes));
    res.headers_mut().insert("x-page-cache", HeaderValue::from_static("miss"));
    res
}

fn respond(page: &CachedPage, how: &'static str) -> Response {
    let mut res = Response::new(Body::from(page.body.clone()));
    *res.status_mut() = StatusCode::from_u16(page.status).unwrap_or(StatusCode::OK);
    if let Ok(v) = HeaderValue::from_str(&page.content_type) {
        res.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    res.headers_mut().insert("x-page-cache", HeaderValue::from_static(how));
    res
}
