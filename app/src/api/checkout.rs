//! Checkout and order endpoints.
// The place-order endpoint takes its form's fields one by one, as the form posts them.
#![allow(clippy::too_many_arguments)]

use crate::error::AppError;
use crate::model::{CheckoutSummary, OrderSummary, OrderView, PlacedOrder};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::services::{checkout, visitor::Visitor};
#[cfg(feature = "ssr")]
use crate::state::app_state;

/// The order as it would be placed now: the cart at today's prices, shipping, total, anything
/// that blocks it, and a fresh idempotency key for the form.
#[server(endpoint = "checkout/summary")]
pub async fn get_checkout_summary() -> Result<CheckoutSummary, AppError> {
    let state = app_state()?;
    checkout::summary(&state, &Visitor::current()?).await
}

/// Places the order the shopper confirmed: `quote` is the summary's, and when the cart or its
/// prices no longer match it the answer is 409 `checkout_changed` with the new summary, and
/// nothing is placed or charged. The same `idempotency_key` always yields the same order (a
/// replay with other contents is refused with 409); a shortage answers 409 and leaves the cart
/// as it was. Shipping and tax are for `country`, by `method` (a shipping method id of that
/// country's zone; the one chosen before, or the zone's first, when absent): the summary's
/// quote covers them, so a choice other than the summary's also answers `checkout_changed`.
#[server(endpoint = "checkout/place")]
pub async fn place_order(
    idempotency_key: String,
    quote: String,
    email: String,
    name: String,
    line1: String,
    line2: Option<String>,
    city: String,
    postcode: String,
    country: String,
    method: Option<String>,
) -> Result<PlacedOrder, AppError> {
    let method_id = match method.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
        Some(m) => Some(m.parse::<i64>().map_err(|_| AppError::BadRequest("method must be a whole number.".into()))?),
        None => None,
    };
    let state = app_state()?;
    let request = checkout::PlaceRequest {
        method_id,
        idempotency_key,
        quote,
        email,
        address: crate::domain::checkout::Address {
            name,
            line1,
            line2: line2.unwrap_or_default(),
            city,
            postcode,
            country,
        },
    };
    let placed = checkout::place(&state, &Visitor::current()?, request).await?;
    crate::edge::go_to(&placed.url);
    Ok(placed)
}

/// The signed-in account's orders, newest first.
#[server(endpoint = "orders")]
pub async fn list_orders() -> Result<Vec<OrderSummary>, AppError> {
    let state = app_state()?;
    checkout::list(&state, &Visitor::current()?).await
}

/// One order: for its account, for the guest session that placed it, or with its `key`.
#[server(endpoint = "orders/get")]
pub async fn get_order(id: String, key: Option<String>) -> Result<OrderView, AppError> {
    let state = app_state()?;
    checkout::order_for(&state, &Visitor::current()?, &id, key.as_deref()).await
}

/// Orders for administrators, those whose payment needs attention first (401/403 otherwise).
#[server(endpoint = "admin/orders")]
pub async fn admin_orders() -> Result<Vec<crate::model::AdminOrder>, AppError> {
    let state = app_state()?;
    let visitor = Visitor::current()?;
    crate::services::auth::require_admin(&state, &visitor).await?;
    Ok(state.orders.for_admin(200).await?)
}

/// Captures an order's payment again (administrators only): after a failed capture.
#[server(endpoint = "admin/orders/capture")]
pub async fn retry_capture(id: String) -> Result<crate::model::AdminOrder, AppError> {
    let state = app_state()?;
    let visitor = Visitor::current()?;
    crate::services::auth::require_admin(&state, &visitor).await?;
    if id.len() > 64 {
        return Err(AppError::BadRequest("That is not an order id.".into()));
    }
    checkout::retry_capture(&state, &id).await
}
