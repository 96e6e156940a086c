//! One module per page.

pub mod admin;
pub mod admin_pricing;
pub mod auth;
pub mod cart;
pub mod category;
pub mod checkout;
pub mod home;
pub mod not_found;
pub mod orders;
pub mod product;
pub mod search;

use crate::error::AppError;
use leptos::prelude::*;

/// Sets the HTTP status of the page being rendered on the server; a no-op in the browser.
pub fn set_status(status: u16) {
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        if let Ok(code) = http::StatusCode::from_u16(status) {
            res.set_status(code);
        }
    }
    #[cfg(not(feature = "ssr"))]
    let _ = status;
}

/// The view for a failed page load: 404s get the not-found page, the rest a short apology.
pub fn error_view(err: AppError) -> AnyView {
    set_status(err.status());
    match err {
        AppError::NotFound(msg) => view! { <not_found::NotFoundBody message=msg /> }.into_any(),
        other => view! {
            <section class="page-error" role="alert">
                <h1>"Sorry, that did not work"</h1>
                <p>{other.message()}</p>
                <p><a href="/">"Back to the shop"</a></p>
            </section>
        }
        .into_any(),
    }
}
