#[cfg(feature = "ssr")]
use crate::domain::catalog::{parse_page, Sort};
use crate::error::AppError;
use crate::model::{CategoryPage, ProductCard, ProductDetail, SearchPage};
#[cfg(feature = "ssr")]
use crate::state::app_state;
use leptos::prelude::*;

/// Categories for the navigation.
#[server(endpoint = "catalog/categories")]
pub async fn list_categories() -> Result<Vec<crate::model::Category>, AppError> {
    Ok(app_state()?.catalog.categories().await?.as_ref().clone())
}

/// Home page data: featured products.
#[server(endpoint = "catalog/featured")]
pub async fn featured_products() -> Result<Vec<ProductCard>, AppError> {
    Ok(app_state()?.catalog.featured(8).await?.as_ref().clone())
}

/// One page of a category. `sort` and `page` are taken as text and forgiven: an unknown sort is
/// the default order and a page out of range is clamped.
#[server(endpoint = "catalog/category")]
pub async fn get_category_page(
    slug: String,
    sort: Option<String>,
    page: Option<String>,
) -> Result<CategoryPage, AppError> {
    let state = app_state()?;
    let Some(category) = state.catalog.category_by_slug(&slug).await? else {
        return Err(AppError::NotFound("We could not find that category.".into()));
    };
    let listing =
        state.catalog.list_category(category.id, Sort::from_key(sort.as_deref()), parse_page(page.as_deref())).await?;
    Ok(CategoryPage { category, listing: listing.as_ref().clone() })
}

/// A product page's data. Counts as a view for recommendations.
#[server(endpoint = "catalog/product")]
pub async fn get_product(slug: String) -> Result<ProductDetail, AppError> {
    let state = app_state()?;
    let product = state
        .catalog
        .product_by_slug(&slug)
        .await?
        .map(|p| p.as_ref().clone())
        .ok_or_else(|| AppError::NotFound("We could not find that product.".into()))?;
    if let Ok(visitor) = crate::services::visitor::Visitor::current() {
        crate::services::recs::record_signal(&state, &visitor, crate::domain::recs::Signal::View, product.card.id)
            .await;
    }
    Ok(product)
}

/// Search over names, categories and descriptions; the text is matched literally.
#[server(endpoint = "catalog/search")]
pub async fn search_products(
    q: Option<String>,
    sort: Option<String>,
    page: Option<String>,
) -> Result<SearchPage, AppError> {
    let raw = q.unwrap_or_default();
    if raw.len() > 4096 {
        return Err(AppError::bad_request("Search text is too long."));
    }
    let found = app_state()?.catalog.search(&raw, Sort::from_key(sort.as_deref()), parse_page(page.as_deref())).await?;
    let (query, listing) = found.as_ref().clone();
    Ok(SearchPage { query, listing })
}
