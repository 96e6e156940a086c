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
#[cfg(feature = "ssr")]
pub fn redirect_plain_form(path: &str) {
    let plain = leptos::prelude::use_context::<http::request::Parts>().is_some_and(|p| {
        p.headers.get(http::header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"))
    });
    if plain {
        leptos_axum::redirect(path);
    }
}
