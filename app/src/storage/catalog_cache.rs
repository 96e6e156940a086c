//! The catalogue as the rest of the shop sees it: `SqlCatalog` behind in-process caches.
//! Reads are served from memory; price and stock edits call `invalidate_product`, which drops
//! the product's entries and every listing (listings show price and stock). With several
//! instances the invalidation is broadcast (see `server::sync`). A short TTL bounds staleness
//! should a broadcast be missed.

use super::catalog::SqlCatalog;
use super::page_cache::PageCache;
use crate::domain::catalog::{normalize_search, Sort};
use crate::model::{Category, Listing, ProductCard, ProductDetail};
use moka::future::Cache;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

type Shared<T> = Arc<T>;

#[derive(Clone)]
pub struct Catalog {
    sql: SqlCatalog,
    categories: Cache<(), Shared<Vec<Category>>>,
    listings: Cache<(i64, Sort, u32), Shared<Listing>>,
    searches: Cache<(String, Sort, u32), Shared<(String, Listing)>>,
    products: Cache<String, Option<Shared<ProductDetail>>>,
    cards: Cache<i64, Option<ProductCard>>,
    featured: Cache<u32, Shared<Vec<ProductCard>>>,
    popular: Cache<(Option<i64>, u32), Shared<Vec<ProductCard>>>,
    /// Rendered anonymous pages show catalogue data too: cleared with the listings.
    pages: PageCache,
}

/// Errors from a cached load: the first loader's error, shared with the callers that waited.
fn unshare(e: Arc<sqlx::Error>) -> sqlx::Error {
    match Arc::try_unwrap(e) {
        Ok(e) => e,
        Err(shared) => sqlx::Error::Protocol(format!("catalogue load failed: {shared}")),
    }
}

impl Catalog {
    pub fn new(sql: SqlCatalog) -> Self {
        let ttl = Duration::from_secs(300);
        Catalog {
            sql,
            pages: PageCache::new(Duration::from_secs(30), 64 * 1024 * 1024),
            categories: Cache::builder().max_capacity(1).time_to_live(ttl).build(),
            listings: Cache::builder().max_capacity(2_000).time_to_live(ttl).build(),
            searches: Cache::builder().max_capacity(2_000).time_to_live(Duration::from_secs(60)).build(),
            products: Cache::builder().max_capacity(20_000).time_to_live(ttl).build(),
            cards: Cache::builder().max_capacity(50_000).time_to_live(ttl).build(),
            featured: Cache::builder().max_capacity(4).time_to_live(ttl).build(),
            popular: Cache::builder().max_capacity(256).time_to_live(Duration::from_secs(60)).build(),
        }
    }

    pub fn sql(&self) -> &SqlCatalog {
        &self.sql
    }

    pub fn pages(&self) -> &PageCache {
        &self.pages
    }

    pub async fn categories(&self) -> Result<Shared<Vec<Category>>, sqlx::Error> {
        let sql = self.sql.clone();
        self.categories.try_get_with((), async move { sql.categories().await.map(Arc::new) }).await.map_err(unshare)
    }

    pub async fn category_by_slug(&self, slug: &str) -> Result<Option<Category>, sqlx::Error> {
        Ok(self.categories().await?.iter().find(|c| c.slug == slug).cloned())
    }

    pub async fn list_category(&self, category_id: i64, sort: Sort, page: u32) -> Result<Shared<Listing>, sqlx::Error> {
        let sql = self.sql.clone();
        self.listings
            .try_get_with((category_id, sort, page), async move {
                sql.list_category(category_id, sort, page).await.map(Arc::new)
            })
            .await
            .map_err(unshare)
    }

    pub async fn search(&self, raw: &str, sort: Sort, page: u32) -> Result<Shared<(String, Listing)>, sqlx::Error> {
        let key = (normalize_search(raw), sort, page);
        let sql = self.sql.clone();
        let query = key.0.clone();
        self.searches
            .try_get_with(key, async move { sql.search(&query, sort, page).await.map(Arc::new) })
            .await
            .map_err(unshare)
    }

    pub async fn product_by_slug(&self, slug: &str) -> Result<Option<Shared<ProductDetail>>, sqlx::Error> {
        let sql = self.sql.clone();
        let owned = slug.to_string();
        self.products
            .try_get_with(slug.to_string(), async move { sql.product_by_slug(&owned).await.map(|p| p.map(Arc::new)) })
            .await
            .map_err(unshare)
    }

    /// Cards of active products by id, keyed by id; unknown or retired ids are absent.
    pub async fn cards(&self, ids: &[i64]) -> Result<HashMap<i64, ProductCard>, sqlx::Error> {
        let mut found = HashMap::with_capacity(ids.len());
        let mut missing = Vec::new();
        for &id in ids {
            match self.cards.get(&id).await {
                Some(Some(card)) => {
                    found.insert(id, card);
                }
                Some(None) => {}
                None => missing.push(id),
            }
        }
        if !missing.is_empty() {
            missing.sort_unstable();
            missing.dedup();
            let loaded = self.sql.cards_by_ids(&missing).await?;
            let mut by_id: HashMap<i64, ProductCard> = loaded.into_iter().map(|c| (c.id, c)).collect();
            for id in missing {
                let card = by_id.remove(&id);
                self.cards.insert(id, card.clone()).await;
                if let Some(card) = card {
                    found.insert(id, card);
                }
            }
        }
        Ok(found)
    }

    pub async fn card(&self, id: i64) -> Result<Option<ProductCard>, sqlx::Error> {
        Ok(self.cards(&[id]).await?.remove(&id))
    }

    pub async fn featured(&self, limit: u32) -> Result<Shared<Vec<ProductCard>>, sqlx::Error> {
        let sql = self.sql.clone();
        self.featured.try_get_with(limit, async move { sql.featured(limit).await.map(Arc::new) }).await.map_err(unshare)
    }

    pub async fn popular(&self, category_id: Option<i64>, limit: u32) -> Result<Shared<Vec<ProductCard>>, sqlx::Error> {
        let sql = self.sql.clone();
        self.popular
            .try_get_with((category_id, limit), async move { sql.popular(category_id, limit).await.map(Arc::new) })
            .await
            .map_err(unshare)
    }

    /// Forgets everything cached about one product and every listing it may appear in.
    pub async fn invalidate_product(&self, id: i64) {
        self.cards.invalidate(&id).await;
        self.products.invalidate_all();
        self.invalidate_listings();
    }

    /// Forgets cached listings (their prices and stock levels), keeping per-product entries.
    pub fn invalidate_listings(&self) {
        self.listings.invalidate_all();
        self.searches.invalidate_all();
        self.featured.invalidate_all();
        self.popular.invalidate_all();
        self.pages.clear();
    }

    pub fn invalidate_all(&self) {
        self.categories.invalidate_all();
        self.cards.invalidate_all();
        self.products.invalidate_all();
        self.invalidate_listings();
    }

    /// Loads the most viewed products into the cache, so the first visitors after a start or a
    /// deploy do not all wait on the database.
    pub async fn warm(&self, product_slugs: &[String]) -> Result<usize, sqlx::Error> {
        self.categories().await?;
        let mut n = 0;
        for slug in product_slugs {
            if let Some(p) = self.product_by_slug(slug).await? {
                self.cards.insert(p.card.id, Some(p.card.clone())).await;
                n += 1;
            }
        }
        Ok(n)
    }
}
