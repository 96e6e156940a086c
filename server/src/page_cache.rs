//! Middleware serving rendered pages to first-time visitors from `PageCache`.
//! Only plain GETs of pages qualify: no session, flash or anonymous-id cookie (the page would be
//! personal), no API or static paths, and only answers without `Set-Cookie`.

use app::services::experiments::CART_LAYOUT;
use app::services::visitor::AnonId;
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
    let personal_cookie = app::cookies::pairs(req.headers())
        // `aid`: a returning browser gets pages personalised by its history (recommendations).
        .any(|(name, _)| {
            name == crate::router::SESSION_COOKIE
                || name == app::services::flash::COOKIE
                || name == app::services::visitor::ANON_COOKIE
                // A QA override of a flag: the page is not what everyone gets.
                || name.starts_with(app::services::experiments::OVERRIDE_PREFIX)
        });
    !personal_cookie
}

pub async fn serve(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !cacheable_request(&req) {
        return next.run(req).await;
    }
    // A new visitor's cart layout follows from the anonymous id just minted for them, so pages
    // are cached per layout, and a visitor served from the cache is still counted as exposed.
    let anon = req.extensions().get::<AnonId>().map(|a| format!("a:{}", a.0));
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
        if let (Some(_), Some(subject)) = (&layout, anon) {
            let experiments = state.experiments.clone();
            tokio::spawn(async move { experiments.variant(CART_LAYOUT, &subject, None, None).await });
        }
        return respond(&page, "hit");
    }
    metrics::counter!("shop_page_cache_total", "result" => "miss").increment(1);
    let res = next.run(req).await;
    let status = res.status();
    let storable = (status == StatusCode::OK || status == StatusCode::NOT_FOUND)
        && !res.headers().contains_key(header::SET_COOKIE)
        && res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("text/html"));
    if !storable {
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
