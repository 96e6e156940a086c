//! Server functions, grouped by feature. Each has a stable endpoint under `/api/`, takes a
//! form-encoded POST body and answers JSON (errors as [`crate::error::AppError`]).

pub mod auth;
pub mod cart;
pub mod catalog;
pub mod catalog_admin;
pub mod checkout;
pub mod experiments;
pub mod recs;

/// For a plain HTML form post (no JavaScript), go to `path` afterwards instead of back to the
/// form's page. Calls from the app's own code get their JSON answer and navigate themselves.
/// `path` must be a local path (`domain::redirect::local_path`); anything else is ignored, so no
/// request value can reach the `Location` header unchecked.
#[cfg(feature = "ssr")]
pub fn redirect_plain_form(path: &str) {
    use leptos::prelude::use_context;
    let plain = use_context::<http::request::Parts>().is_some_and(|p| {
        p.headers.get(http::header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"))
    });
    let Some(location) = crate::domain::redirect::local_path(path).and_then(|p| http::HeaderValue::from_str(&p).ok())
    else {
        tracing::warn!("refused to redirect to a target that is not a local path");
        return;
    };
    if let (true, Some(res)) = (plain, use_context::<leptos_axum::ResponseOptions>()) {
        res.insert_header(http::header::LOCATION, location);
        res.set_status(http::StatusCode::FOUND);
    }
}
