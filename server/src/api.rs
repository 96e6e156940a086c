//! The one door to the server functions under `/api/`: body size and type checks, then the
//! Leptos handler, then the mapping of `AppError` onto HTTP statuses. Every API error leaves
//! here as `{"error", "message"}` JSON with its proper status code.

use app::error::{AppError, ErrorBody};
use app::state::AppState;
use axum::{
    body::{to_bytes, Body},
    extract::{Request, State},
    http::{header, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
};
use leptos::prelude::provide_context;

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

pub async fn handle(State(state): State<AppState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    if parts.method == Method::POST {
        let content_type = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let is_form = content_type.starts_with("application/x-www-form-urlencoded");
        if !is_form {
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
    let req = Request::from_parts(parts, Body::from(bytes));
    let res =
        leptos_axum::handle_server_fns_with_context(move || provide_context(state.clone()), req).await.into_response();
    map_status(res).await
}

/// Server functions answer every error with 500; give each its real status from the body.
async fn map_status(res: Response) -> Response {
    if res.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let bytes = to_bytes(body, 64 * 1024).await.unwrap_or_default();
    if let Ok(err) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if let Some(secs) = err.retry_after() {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                parts.headers.insert(header::RETRY_AFTER, v);
            }
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}
