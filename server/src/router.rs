//! The axum router: health, API, pages and static files, with compression and cache headers.

use crate::{api, health};
use app::state::AppState;
use app::{shell, App};
use axum::{
    http::{header, HeaderValue, Request},
    middleware::{self, Next},
    response::Response,
    routing::{get, post},
    Router,
};
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::compression::CompressionLayer;

pub fn build(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let ctx = state.clone();
    let options = state.leptos_options.clone();
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/api/{*fn_name}", post(api::handle).get(api::handle))
        .leptos_routes_with_context(&state, routes, move || provide_context(ctx.clone()), {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(middleware::from_fn(cache_headers))
        .layer(CompressionLayer::new())
        .with_state(state)
}

/// Static files: the wasm/js/css bundle revalidates on every load (names are not hashed, so a
/// deploy must be picked up at once); pictures are cached for a day. Pages are never cached.
async fn cache_headers(req: Request<axum::body::Body>, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let mut res = next.run(req).await;
    if res.headers().contains_key(header::CACHE_CONTROL) {
        return res;
    }
    let value = if path.starts_with("/pkg/") {
        "public, no-cache"
    } else if path.starts_with("/img/") || path == "/favicon.svg" {
        "public, max-age=86400"
    } else if path.starts_with("/api/") {
        "no-store"
    } else {
        "private, no-cache"
    };
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    res
}
