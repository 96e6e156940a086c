//! Administrators' endpoints for promotions, shipping and tax (401/403 for anyone else).
// The promotion form posts its fields one by one.
#![allow(clippy::too_many_arguments)]

use crate::domain::pricing::TaxSettings;
use crate::error::AppError;
use crate::model::{AdminPromotion, Redemption, ShippingZoneView};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::services::{promotions, visitor::Visitor};
#[cfg(feature = "ssr")]
use crate::state::app_state;

/// Every promotion, newest first, with what each has saved.
#[server(endpoint = "admin/promotions")]
pub async fn admin_promotions() -> Result<Vec<AdminPromotion>, AppError> {
    let state = app_state()?;
    promotions::list(&state, &Visitor::current()?).await
}

/// Creates a promotion (no `id`) or replaces one. Amounts are in the store's currency ("5.00"),
/// percentages whole numbers, dates `YYYY-MM-DD[THH:MM]` in UTC; `combinable` and `active` are
/// checkboxes. 422 naming every problem, and nothing saved, on bad input; 409 for a taken code.
#[server(endpoint = "admin/promotions/save")]
pub async fn save_promotion(
    id: Option<String>,
    code: Option<String>,
    name: String,
    kind: String,
    value: Option<String>,
    buy_quantity: Option<String>,
    target: Option<String>,
    target_id: Option<String>,
    min_subtotal: Option<String>,
    starts_at: Option<String>,
    ends_at: Option<String>,
    usage_limit: Option<String>,
    per_customer_limit: Option<String>,
    combinable: Option<String>,
    active: Option<String>,
) -> Result<i64, AppError> {
    let fields = crate::domain::promotion_form::PromotionFields {
        code: code.unwrap_or_default(),
        name,
        kind,
        value: value.unwrap_or_default(),
        buy_quantity: buy_quantity.unwrap_or_default(),
        target: target.unwrap_or_default(),
        target_id: target_id.unwrap_or_default(),
        min_subtotal: min_subtotal.unwrap_or_default(),
        starts_at: starts_at.unwrap_or_default(),
        ends_at: ends_at.unwrap_or_default(),
        usage_limit: usage_limit.unwrap_or_default(),
        per_customer_limit: per_customer_limit.unwrap_or_default(),
        combinable,
        active,
    };
    if [&fields.code, &fields.name, &fields.value, &fields.starts_at, &fields.ends_at].iter().any(|f| f.len() > 200) {
        return Err(AppError::Invalid("A field is far too long.".into()));
    }
    let state = app_state()?;
    let saved = promotions::save(&state, &Visitor::current()?, id.as_deref(), &fields).await?;
    crate::edge::succeeded(&[], "The promotion was saved.");
    Ok(saved)
}

/// Turns a promotion off (`active` = "0") or on again ("1").
#[server(endpoint = "admin/promotions/active")]
pub async fn set_promotion_active(id: String, active: String) -> Result<(), AppError> {
    let state = app_state()?;
    promotions::set_active(&state, &Visitor::current()?, &id, active == "1").await
}

/// The orders that used a promotion.
#[server(endpoint = "admin/promotions/redemptions")]
pub async fn promotion_redemptions(id: String) -> Result<Vec<Redemption>, AppError> {
    let state = app_state()?;
    promotions::redemptions(&state, &Visitor::current()?, &id).await
}

/// Shipping zones with their tax and methods, and the store's tax settings.
#[server(endpoint = "admin/shipping")]
pub async fn admin_shipping() -> Result<(Vec<ShippingZoneView>, TaxSettings), AppError> {
    let state = app_state()?;
    promotions::zones(&state, &Visitor::current()?).await
}

/// A zone's tax label and rate in percent ("20", "8.25").
#[server(endpoint = "admin/shipping/tax")]
pub async fn set_zone_tax(zone: String, label: String, rate: String) -> Result<(), AppError> {
    let state = app_state()?;
    promotions::set_zone_tax(&state, &Visitor::current()?, &zone, &label, &rate).await
}

/// A shipping method's price and the subtotal from which it is free (empty: never).
#[server(endpoint = "admin/shipping/method")]
pub async fn set_method_price(method: String, price: String, free_over: Option<String>) -> Result<(), AppError> {
    let state = app_state()?;
    promotions::set_method_price(&state, &Visitor::current()?, &method, &price, &free_over.unwrap_or_default()).await
}

/// `mode`: "inclusive" or "exclusive" prices; `rounding`: "line" or "total".
#[server(endpoint = "admin/shipping/settings")]
pub async fn set_tax_settings(mode: String, rounding: String) -> Result<(), AppError> {
    let state = app_state()?;
    promotions::set_tax_settings(&state, &Visitor::current()?, &mode, &rounding).await
}
