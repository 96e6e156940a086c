//! Operator edits to the catalogue (admin page, its API, the CLI): validate, then apply through
//! the catalogue, which makes every instance see the change.

use crate::domain::catalog_edit::{EditError, ProductEdit};
use crate::error::AppError;
use crate::model::ProductCard;
use crate::state::AppState;

/// Products an admin can edit: a search among the products on sale, or with no
/// query the lowest stock first, which is what needs attention.
pub async fn list(state: &AppState, query: &str) -> Result<Vec<ProductCard>, AppError> {
    Ok(state.catalog.for_admin(query).await?)
}

/// Sets the price (`12.99`) and/or stock (`40`) of the product `slug`; blank fields keep theirs.
pub async fn edit(
    state: &AppState,
    slug: &str,
    price: Option<&str>,
    stock: Option<&str>,
) -> Result<ProductCard, AppError> {
    let edit = ProductEdit::parse(price, stock).map_err(|e| match e {
        EditError::PriceRange | EditError::StockRange => AppError::Invalid(e.to_string()),
        _ => AppError::BadRequest(e.to_string()),
    })?;
    let slug = slug.trim();
    let card = state
        .catalog
        .edit(slug, edit)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("No product is called {slug:?}.")))?;
    tracing::info!(product = card.id, slug, price_cents = card.price_cents, stock = card.stock, "catalogue edit");
    Ok(card)
}
