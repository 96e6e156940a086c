//! Cart endpoints. Every one answers the whole cart (`CartView`). Fields arrive as text and are
//! parsed here so a bad value gets a precise message: 400 when it is not a whole number, 422
//! when it is out of range or names no product on sale.

use crate::error::AppError;
use crate::model::CartView;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
mod ssr {
    pub use crate::domain::cart::{parse_quantity, ClientLine, FieldError, ItemRef, MAX_LINES};
    pub use crate::edge;
    pub use crate::error::AppError;
    pub use crate::services::{cart, visitor::Visitor};
    pub use crate::state::app_state;
    pub use crate::storage::cart_store::Mode;

    pub fn field(r: Result<u32, FieldError>) -> Result<u32, AppError> {
        r.map_err(Into::into)
    }

    impl From<FieldError> for AppError {
        fn from(e: FieldError) -> Self {
            match e {
                FieldError::Malformed(m) => AppError::BadRequest(m),
                FieldError::OutOfRange(m) => AppError::Invalid(m),
            }
        }
    }
}
#[cfg(feature = "ssr")]
use ssr::*;

/// The current cart.
#[server(endpoint = "cart")]
pub async fn get_cart() -> Result<CartView, AppError> {
    let state = app_state()?;
    cart::read(&state, &Visitor::current()?).await
}

/// Adds `quantity` (1–99) of a variant; the line is capped at the variant's stock and at 99.
/// `product_id` alone names a product's only variant (clients written before variants); with
/// `variant_id`, it must be that variant's product.
#[server(endpoint = "cart/add")]
pub async fn add_to_cart(
    variant_id: Option<String>,
    product_id: Option<String>,
    quantity: String,
) -> Result<CartView, AppError> {
    let item = ItemRef::parse(variant_id.as_deref(), product_id.as_deref())?;
    let quantity = field(parse_quantity(&quantity, false))?;
    let state = app_state()?;
    let view = cart::change(&state, &Visitor::current()?, item, Mode::Add, quantity).await?;
    edge::succeeded(&view.notices, "Added to your cart.");
    Ok(view)
}

/// Sets a line's quantity (0–99; 0 removes it).
#[server(endpoint = "cart/set")]
pub async fn set_cart_quantity(
    variant_id: Option<String>,
    product_id: Option<String>,
    quantity: String,
) -> Result<CartView, AppError> {
    let item = ItemRef::parse(variant_id.as_deref(), product_id.as_deref())?;
    let quantity = field(parse_quantity(&quantity, true))?;
    let state = app_state()?;
    let view = cart::change(&state, &Visitor::current()?, item, Mode::Set, quantity).await?;
    edge::succeeded(&view.notices, "Your cart was updated.");
    Ok(view)
}

#[server(endpoint = "cart/remove")]
pub async fn remove_from_cart(variant_id: Option<String>, product_id: Option<String>) -> Result<CartView, AppError> {
    let item = ItemRef::parse(variant_id.as_deref(), product_id.as_deref())?;
    let state = app_state()?;
    let view = cart::remove(&state, &Visitor::current()?, item).await?;
    edge::succeeded(&view.notices, "Removed from your cart.");
    Ok(view)
}

#[server(endpoint = "cart/clear")]
pub async fn clear_cart() -> Result<CartView, AppError> {
    let state = app_state()?;
    let view = cart::clear(&state, &Visitor::current()?).await?;
    edge::succeeded(&view.notices, "Your cart is empty now.");
    Ok(view)
}

/// Restores a guest cart from the browser's saved copy: `lines` is the JSON array
/// `[{"variant_id": 1, "quantity": 2}, ...]` (copies saved before variants name `product_id`).
/// Applied only when the server has no cart. `code` is the copy's discount code, applied again
/// if the session has none and it still applies.
#[server(endpoint = "cart/restore")]
pub async fn restore_cart(lines: String, code: Option<String>) -> Result<CartView, AppError> {
    let lines: Vec<ClientLine> = serde_json::from_str(&lines).map_err(|_| {
        AppError::BadRequest("lines must be a JSON array of {\"variant_id\": n, \"quantity\": n}.".into())
    })?;
    if lines.len() > MAX_LINES * 2 {
        return Err(AppError::Invalid(format!("At most {MAX_LINES} lines can be restored.")));
    }
    let state = app_state()?;
    cart::restore(&state, &Visitor::current()?, lines, code).await
}

/// Applies a discount code to the cart: 422 saying why when it is unknown, expired, used up or
/// does not apply to this cart; 429 after too many wrong codes.
#[server(endpoint = "cart/code")]
pub async fn apply_discount_code(code: String) -> Result<CartView, AppError> {
    if code.len() > 200 {
        return Err(AppError::Invalid("A discount code has 3 to 32 letters and digits.".into()));
    }
    let state = app_state()?;
    let visitor = Visitor::current()?;
    let before = cart::read(&state, &visitor).await?;
    crate::services::pricing::apply_code(&state, &visitor, &before, &code).await?;
    let view = cart::read(&state, &visitor).await?;
    edge::succeeded(&view.notices, "Your discount code was applied.");
    Ok(view)
}

/// Takes the discount code off the cart.
#[server(endpoint = "cart/code/remove")]
pub async fn remove_discount_code() -> Result<CartView, AppError> {
    let state = app_state()?;
    let visitor = Visitor::current()?;
    crate::services::pricing::remove_code(&visitor).await;
    let view = cart::read(&state, &visitor).await?;
    edge::succeeded(&view.notices, "The discount code was removed.");
    Ok(view)
}

/// Where to ship (ISO country code) and, optionally, how (a method id of that country's zone):
/// the cart's shipping estimate and tax follow, and checkout starts from it.
#[server(endpoint = "cart/delivery")]
pub async fn set_delivery(country: String, method: Option<String>) -> Result<CartView, AppError> {
    if country.len() > 8 {
        return Err(AppError::Invalid("We do not ship to that country yet.".into()));
    }
    let method = match method.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
        Some(m) => Some(m.parse::<i64>().map_err(|_| AppError::BadRequest("method must be a whole number.".into()))?),
        None => None,
    };
    let state = app_state()?;
    let visitor = Visitor::current()?;
    crate::services::pricing::set_delivery(&state, &visitor, &country, method).await?;
    let view = cart::read(&state, &visitor).await?;
    edge::succeeded(&view.notices, "Delivery updated.");
    Ok(view)
}
