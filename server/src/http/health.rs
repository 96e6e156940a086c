//! `/healthz`: the process answers. `/readyz`: its dependencies answer too.

use app::state::AppState;
use axum::{extract::State, http::StatusCode, Json};
use serde_json::{json, Value};

pub async fn healthz() -> &'static str {
    "ok"
}

/// 503 while the database is unreachable. Redis, when configured, is reported but does not make
/// the instance unready: catalogue pages and account carts still work without it, and every
/// instance shares the same Redis, so taking them out of rotation would help nobody.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let timeout = std::time::Duration::from_secs(2);
    let db_ok = tokio::time::timeout(timeout, state.db.ping()).await.map(|r| r.is_ok()).unwrap_or(false);
    let mut body = json!({ "database": if db_ok { "ok" } else { "unreachable" } });
    if let Some(redis) = &state.redis {
        let ok = tokio::time::timeout(timeout, redis.ping()).await.map(|r| r.is_ok()).unwrap_or(false);
        body["redis"] = json!(if ok { "ok" } else { "unreachable" });
    }
    let status = if db_ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(body))
}
