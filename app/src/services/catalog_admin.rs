//! Operator edits to the catalogue (admin page, its API, the CLI): validate, then apply through
//! the catalogue, which makes every instance see the change.

use crate::domain::catalog_edit::{EditError, ProductEdit};
use crate::error::AppError;
use crate::model::{ProductCard, VariantCard};
use crate::state::AppState;

/// Variants an admin can edit: of the products on sale matching `query`, or with no query the
/// lowest stock first, which is what needs attention.
pub async fn list(state: &AppState, query: &str) -> Result<Vec<VariantCard>, AppError> {
    Ok(state.catalog.for_admin(query).await?)
}

/// Sets the price (`12.99`) and/or stock (`40`) of the variant `sku` (for a product without
/// options, its slug); blank fields keep theirs.
pub async fn edit(
    state: &AppState,
    sku: &str,
    price: Option<&str>,
    stock: Option<&str>,
) -> Result<ProductCard, AppError> {
    let edit = ProductEdit::parse(price, stock).map_err(|e| match e {
        EditError::PriceRange | EditError::StockRange => AppError::Invalid(e.to_string()),
        _ => AppError::BadRequest(e.to_string()),
    })?;
    let sku = sku.trim();
    let card = state
        .catalog
        .edit(sku, edit)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("No product or variant has the SKU {sku:?}.")))?;
    tracing::info!(product = card.id, sku, price_cents = card.price_cents, stock = card.stock, "catalogue edit");
    Ok(card)
}
