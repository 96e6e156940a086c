//! Prometheus metrics: request durations by route (pages and server functions), plus whatever the
//! services count (cart operations, caches, events, Redis, sign-ins...). Database pool use is
//! sampled at scrape time.
//!
//! Metrics are for operators, not the public: on the shop's own port `/metrics` answers only a
//! request with `Authorization: Bearer <METRICS_TOKEN>` (404 when no token is configured), and
//! `METRICS_ADDR` serves them on a separate listener (e.g. an internal interface).

use app::state::AppState;
use axum::{
    extract::{MatchedPath, Request, State},
    http::{header, HeaderMap, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use secrecy::ExposeSecret;
use std::sync::OnceLock;
use std::time::Instant;

const BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// The process-wide recorder, installed on first use (tests build many servers in one process).
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
                .expect("static buckets are valid")
                .build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics will be empty");
            }
            handle
        })
        .clone()
}

/// Route layer: one histogram observation per request, labelled by the route pattern (never the
/// raw path, which would make a label per product).
pub async fn track(matched: Option<MatchedPath>, req: Request, next: Next) -> Response {
    let route = matched.map(|m| m.as_str().to_owned()).unwrap_or_else(|| "unmatched".into());
    let kind = match route.split('/').nth(1) {
        Some("api") => "server_fn",
        Some("assets") => "asset",
        _ => "page",
    };
    let method = req.method().as_str().to_owned();
    let started = Instant::now();
    let res = next.run(req).await;
    metrics::histogram!(
        "shop_http_request_duration_seconds",
        "kind" => kind,
        "route" => route,
        "method" => method,
        "status" => res.status().as_u16().to_string(),
    )
    .record(started.elapsed().as_secs_f64());
    res
}

/// `/metrics` on the shop's port: for holders of the metrics token only.
pub async fn render_with_token(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(token) = &state.config.metrics_token else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let expected = token.expose_secret().as_bytes();
    let matches =
        given.len() == expected.len() && given.bytes().zip(expected.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
    if !matches {
        return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")]).into_response();
    }
    render(State(state)).await.into_response()
}

/// The router of the separate metrics listener (`METRICS_ADDR`).
pub fn listener_router(state: AppState) -> axum::Router {
    axum::Router::new().route("/metrics", axum::routing::get(render)).with_state(state)
}

pub async fn render(State(state): State<AppState>) -> impl IntoResponse {
    let (size, idle) = state.db.pool_use();
    let (size, idle) = (size as f64, idle as f64);
    metrics::gauge!("shop_db_pool_connections", "state" => "idle").set(idle);
    metrics::gauge!("shop_db_pool_connections", "state" => "in_use").set((size - idle).max(0.0));
    if let Some(redis) = &state.redis {
        metrics::gauge!("shop_redis_circuit_open").set(if redis.is_open() { 1.0 } else { 0.0 });
    }
    let h = handle();
    h.run_upkeep();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], h.render())
}
