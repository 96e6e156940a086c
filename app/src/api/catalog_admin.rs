//! Admin-only catalogue endpoints: the product list to edit, and price/stock edits.

use crate::error::AppError;
use crate::model::{ProductCard, VariantCard};
use leptos::prelude::*;

/// Variants of the products matching `q`, or the lowest stock first when `q` is blank (admins
/// only).
#[server(endpoint = "admin/products")]
pub async fn admin_products(q: String) -> Result<Vec<VariantCard>, AppError> {
    let state = crate::state::app_state()?;
    crate::services::auth::require_admin(&state, &crate::services::visitor::Visitor::current()?).await?;
    if q.len() > 200 {
        return Err(AppError::BadRequest("The search is too long.".into()));
    }
    crate::services::catalog_admin::list(&state, &q).await
}

/// Sets a variant's `price` (an amount such as `12.99`) and/or `stock`; a blank field keeps its
/// value (admins only). The variant is named by `sku`; `slug` names a product without options
/// (clients written before variants). Every instance shows the change within a second.
#[server(endpoint = "admin/products/update")]
pub async fn update_product(
    sku: Option<String>,
    slug: Option<String>,
    price: Option<String>,
    stock: Option<String>,
) -> Result<ProductCard, AppError> {
    let state = crate::state::app_state()?;
    crate::services::auth::require_admin(&state, &crate::services::visitor::Visitor::current()?).await?;
    let Some(sku) = sku.or(slug).filter(|s| !s.trim().is_empty()) else {
        return Err(AppError::BadRequest("Name the variant: sku.".into()));
    };
    if sku.len() > 200 {
        return Err(AppError::BadRequest("The SKU is too long.".into()));
    }
    let card = crate::services::catalog_admin::edit(&state, &sku, price.as_deref(), stock.as_deref()).await?;
    crate::edge::go_to("/admin/products");
    Ok(card)
}
