//! The one error type every server function returns. Each variant knows its HTTP status, and
//! this is where it becomes HTTP: every server-function error passes through
//! [`FromServerFnError::ser`], which sets the status and `Retry-After` (or, for a plain form
//! post, the flash: `crate::edge`), and answers outside server functions use `IntoResponse`.
//! The JSON body is `{"error": "<code>", "message": "<text for the shopper>", "retry_after":
//! <secs, if any>}`.

use crate::model::CheckoutSummary;
use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
#[serde(into = "ErrorBody", try_from = "ErrorBody")]
pub enum AppError {
    /// Malformed request: a field that does not parse, a missing field, a body that is not a form.
    #[error("{0}")]
    BadRequest(String),
    /// Well-formed but not acceptable: out of range, unknown product, cart full.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    /// The cart or its prices changed since the shopper confirmed the order: nothing was placed
    /// or charged, and `summary` is what the order would be now.
    #[error("{message}")]
    CheckoutChanged { message: String, summary: Box<CheckoutSummary> },
    #[error("{message}")]
    RateLimited { message: String, retry_after_secs: u64 },
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A dependency (Redis, the database) is down; try again shortly.
    #[error("{0}")]
    Unavailable(String),
    /// Anything else. The message is generic; the detail goes to the log, never to the browser.
    #[error("{0}")]
    Internal(String),
}

impl AppError {
    pub fn status(&self) -> u16 {
        match self {
            AppError::BadRequest(_) => 400,
            AppError::Invalid(_) => 422,
            AppError::NotFound(_) => 404,
            AppError::Unauthorized(_) => 401,
            AppError::Forbidden(_) => 403,
            AppError::Conflict(_) | AppError::CheckoutChanged { .. } => 409,
            AppError::RateLimited { .. } => 429,
            AppError::PayloadTooLarge(_) => 413,
            AppError::UnsupportedMediaType(_) => 415,
            AppError::Unavailable(_) => 503,
            AppError::Internal(_) => 500,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest(_) => "bad_request",
            AppError::Invalid(_) => "invalid",
            AppError::NotFound(_) => "not_found",
            AppError::Unauthorized(_) => "unauthorized",
            AppError::Forbidden(_) => "forbidden",
            AppError::Conflict(_) => "conflict",
            AppError::CheckoutChanged { .. } => "checkout_changed",
            AppError::RateLimited { .. } => "rate_limited",
            AppError::PayloadTooLarge(_) => "payload_too_large",
            AppError::UnsupportedMediaType(_) => "unsupported_media_type",
            AppError::Unavailable(_) => "unavailable",
            AppError::Internal(_) => "internal",
        }
    }

    pub fn message(&self) -> String {
        self.to_string()
    }

    pub fn retry_after(&self) -> Option<u64> {
        match self {
            AppError::RateLimited { retry_after_secs, .. } => Some(*retry_after_secs),
            _ => None,
        }
    }

    pub fn internal() -> Self {
        AppError::Internal("Something went wrong on our side. Please try again.".into())
    }

    pub fn bad_request(msg: impl Into<String>) -> Self {
        AppError::BadRequest(msg.into())
    }
}

/// Wire form of [`AppError`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// With `checkout_changed`: the order as it would be placed now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Box<CheckoutSummary>>,
}

/// A broken account rule (email shape, password length) is the shopper's input: 422.
impl From<crate::domain::accounts::AccountRuleError> for AppError {
    fn from(e: crate::domain::accounts::AccountRuleError) -> Self {
        AppError::Invalid(e.to_string())
    }
}

impl From<AppError> for ErrorBody {
    fn from(e: AppError) -> Self {
        let (error, message, retry_after) = (e.code().to_string(), e.message(), e.retry_after());
        let summary = match e {
            AppError::CheckoutChanged { summary, .. } => Some(summary),
            _ => None,
        };
        ErrorBody { error, message, retry_after, summary }
    }
}

impl TryFrom<ErrorBody> for AppError {
    type Error = String;
    fn try_from(b: ErrorBody) -> Result<Self, String> {
        let m = b.message;
        Ok(match b.error.as_str() {
            "bad_request" => AppError::BadRequest(m),
            "invalid" => AppError::Invalid(m),
            "not_found" => AppError::NotFound(m),
            "unauthorized" => AppError::Unauthorized(m),
            "forbidden" => AppError::Forbidden(m),
            "conflict" => AppError::Conflict(m),
            "checkout_changed" => match b.summary {
                Some(summary) => AppError::CheckoutChanged { message: m, summary },
                None => AppError::Conflict(m),
            },
            "rate_limited" => AppError::RateLimited { message: m, retry_after_secs: b.retry_after.unwrap_or(1) },
            "payload_too_large" => AppError::PayloadTooLarge(m),
            "unsupported_media_type" => AppError::UnsupportedMediaType(m),
            "unavailable" => AppError::Unavailable(m),
            _ => AppError::Internal(m),
        })
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    /// Called for every error a server function answers, those raised before its body runs (a
    /// field that does not parse) included, inside the call's context: the one place that gives
    /// the answer its status.
    fn ser(&self) -> leptos::server_fn::Bytes {
        #[cfg(feature = "ssr")]
        crate::edge::failed(self.status(), self.retry_after(), &self.message());
        use leptos::server_fn::Encodes;
        JsonEncoding::encode(self).unwrap_or_else(|_| {
            leptos::server_fn::Bytes::from_static(br#"{"error":"internal","message":"Something went wrong."}"#)
        })
    }

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(msg) => AppError::BadRequest(clean_args_message(&msg)),
            ServerFnErrorErr::MissingArg(name) => AppError::BadRequest(format!("Missing field: {name}.")),
            ServerFnErrorErr::Request(_) => {
                AppError::Unavailable("Could not reach the shop. Check your connection and try again.".into())
            }
            ServerFnErrorErr::Deserialization(_) | ServerFnErrorErr::Serialization(_) => {
                AppError::BadRequest("The request or its answer could not be read.".into())
            }
            _ => AppError::internal(),
        }
    }
}

/// Answers outside server functions (unknown endpoints, the API guard's refusals, panics).
#[cfg(feature = "ssr")]
impl axum::response::IntoResponse for AppError {
    fn into_response(self) -> axum::response::Response {
        use axum::http::{header, HeaderValue, StatusCode};
        let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = self.retry_after();
        let mut res = (status, axum::Json(ErrorBody::from(self))).into_response();
        if let Some(secs) = retry_after {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

/// serde_qs wraps our field messages in parser noise; keep the part a person can act on.
fn clean_args_message(raw: &str) -> String {
    if let Some(start) = raw.find("[[") {
        if let Some(end) = raw[start..].find("]]") {
            return raw[start + 2..start + end].to_string();
        }
    }
    if raw.contains("missing field") {
        if let Some(field) = raw.split('`').nth(1) {
            return format!("Missing field: {field}.");
        }
    }
    "The request is malformed: expected a form-encoded body with valid fields.".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_body_round_trips() {
        let e = AppError::RateLimited { message: "Too many attempts.".into(), retry_after_secs: 30 };
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(json, r#"{"error":"rate_limited","message":"Too many attempts.","retry_after":30}"#);
        assert_eq!(serde_json::from_str::<AppError>(&json).unwrap(), e);
        let e = AppError::Invalid("Quantity must be between 1 and 99.".into());
        let back: AppError = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back, e);
        assert_eq!(back.status(), 422);
    }

    #[test]
    fn argument_errors_become_400_with_a_readable_message() {
        let e = AppError::from_server_fn_error(ServerFnErrorErr::Args(
            "failed with reason: [[quantity must be a whole number from 1 to 99]]".into(),
        ));
        assert_eq!(e, AppError::BadRequest("quantity must be a whole number from 1 to 99".into()));
        let e = AppError::from_server_fn_error(ServerFnErrorErr::Args("missing field `product_id`".into()));
        assert_eq!(e, AppError::BadRequest("Missing field: product_id.".into()));
        assert_eq!(e.status(), 400);
    }
}
