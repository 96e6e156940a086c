//! Admin-only catalogue endpoints: the product list to edit, and price/stock edits.

use crate::error::AppError;
use crate::model::ProductCard;
use leptos::prelude::*;

/// Products matching `q`, or the lowest stock first when `q` is blank (admins only).
#[server(endpoint = "admin/products")]
pub async fn admin_products(q: String) -> Result<Vec<ProductCard>, AppError> {
    let state = crate::state::app_state()?;
    crate::services::auth::require_admin(&state, &crate::services::visitor::Visitor::current()?).await?;
    if q.len() > 200 {
        return Err(AppError::BadRequest("The search is too long.".into()));
    }
    crate::services::catalog_admin::list(&state, &q).await
}

/// Sets a product's `price` (an amount such as `12.99`) and/or `stock`; a blank field keeps its
/// value (admins only). Every instance shows the change within a second.
#[server(endpoint = "admin/products/update")]
pub async fn update_product(
    slug: String,
    price: Option<String>,
    stock: Option<String>,
) -> Result<ProductCard, AppError> {
    let state = crate::state::app_state()?;
    crate::services::auth::require_admin(&state, &crate::services::visitor::Visitor::current()?).await?;
    let card = crate::services::catalog_admin::edit(&state, &slug, price.as_deref(), stock.as_deref()).await?;
    crate::edge::go_to("/admin/products");
    Ok(card)
}
