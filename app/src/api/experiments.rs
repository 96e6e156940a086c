//! Feature flags: the visitor's cart layout, and the admin-only flag and report endpoints.

use crate::domain::experiments::{Flag, Report};
use crate::error::AppError;
use leptos::prelude::*;

/// The cart layout this visitor gets: `page` or `drawer`.
#[server(endpoint = "experiments/cart_layout")]
pub async fn cart_layout() -> Result<String, AppError> {
    use crate::services::{experiments, visitor::Visitor};
    let state = crate::state::app_state()?;
    Ok(experiments::variant_for(&state, &Visitor::current()?, crate::domain::experiments::CART_LAYOUT).await)
}

/// Every flag (admins only).
#[server(endpoint = "admin/flags")]
pub async fn admin_flags() -> Result<Vec<Flag>, AppError> {
    let state = crate::state::app_state()?;
    crate::services::auth::require_admin(&state, &crate::services::visitor::Visitor::current()?).await?;
    Ok(state.experiments.all())
}

/// Changes a flag (admins only): `enabled` (`on`/`true`/`1`; absent means off, as an unticked
/// checkbox posts) and `variants` as `name:weight` pairs, the control first.
#[server(endpoint = "admin/flags/update")]
pub async fn update_flag(name: String, enabled: Option<String>, variants: String) -> Result<Flag, AppError> {
    let state = crate::state::app_state()?;
    let visitor = crate::services::visitor::Visitor::current()?;
    crate::services::auth::require_admin(&state, &visitor).await?;
    let enabled = match enabled.as_deref().map(str::trim) {
        None | Some("") | Some("off") | Some("false") | Some("0") => false,
        Some("on") | Some("true") | Some("1") => true,
        Some(_) => return Err(AppError::BadRequest("enabled must be on or off.".into())),
    };
    let flag = state.experiments.update(&name, enabled, &variants).await?;
    crate::edge::go_to("/admin");
    Ok(flag)
}

/// The experiment report of a flag (admins only).
#[server(endpoint = "admin/experiments/report")]
pub async fn experiment_report(flag: String) -> Result<Report, AppError> {
    let state = crate::state::app_state()?;
    crate::services::auth::require_admin(&state, &crate::services::visitor::Visitor::current()?).await?;
    state.experiments.report(&flag).await
}
