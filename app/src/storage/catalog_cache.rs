//! The catalogue as the rest of the shop sees it: `SqlCatalog` behind in-process caches.
//! Reads are served from memory; price and stock edits call `invalidate_product`, which drops
//! the product's entries and every listing (listings show price and stock).
//!
//! Other instances hear of a change two ways: at once over the Redis channel `CHANNEL` (when
//! Redis is configured), and within `FOLLOW_EVERY` from the `catalog_changes` log that edits
//! write in their transaction (which also covers the CLI beside an embedded shop and messages
//! lost while Redis was down). The TTL bounds anything else, such as checkout's stock updates
//! that miss a broadcast.

use super::catalog::{ProductVariants, SqlCatalog};
use super::page_cache::PageCache;
use super::redis::Redis;
use crate::domain::catalog::{normalize_search, valid_slug, Sort};
use crate::domain::catalog_edit::ProductEdit;
use crate::model::{Category, Listing, ProductCard, ProductDetail, VariantCard};
use moka::future::Cache;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Shared<T> = Arc<T>;

/// Redis channel carrying the id of a product whose price or stock changed.
pub const CHANNEL: &str = "shop:catalog-changed";
/// How often each instance reads the `catalog_changes` log.
pub const FOLLOW_EVERY: Duration = Duration::from_secs(2);
/// Most memory for cached product pages.
const PRODUCT_CACHE_BYTES: u64 = 64 * 1024 * 1024;
/// Most memory for remembered unknown slugs.
const MISSING_CACHE_BYTES: u64 = 1024 * 1024;
/// How far back each read of the log looks: wide enough for clock skew between instances and
/// for transactions committing out of id order.
const FOLLOW_WINDOW_MS: i64 = 30_000;

#[derive(Clone)]
pub struct Catalog {
    sql: SqlCatalog,
    categories: Cache<(), Shared<Vec<Category>>>,
    listings: Cache<(i64, Sort, u32), Shared<Listing>>,
    searches: Cache<(String, Sort, u32), Shared<(String, Listing)>>,
    /// Product pages by slug, weighed in bytes.
    products: Cache<String, Shared<ProductDetail>>,
    /// Slugs known not to exist, apart (bounded in bytes, short-lived) so that requests for made-up
    /// slugs cannot push real products out of `products`.
    missing: Cache<String, ()>,
    cards: Cache<i64, Option<ProductCard>>,
    /// Cart lines' variants by variant id (`None`: not on sale).
    variants: Cache<i64, Option<VariantCard>>,
    /// Which variants a product has, for requests that name only the product.
    product_variants: Cache<i64, Option<Shared<ProductVariants>>>,
    featured: Cache<u32, Shared<Vec<ProductCard>>>,
    popular: Cache<(Option<i64>, u32), Shared<Vec<ProductCard>>>,
    /// Rendered anonymous pages show catalogue data too: cleared with the listings.
    pages: PageCache,
    redis: Option<Redis>,
    /// Change-log entries already acted on (those inside the follow window).
    followed: Arc<Mutex<HashSet<i64>>>,
}

/// Errors from a cached load: the first loader's error, shared with the callers that waited.
fn unshare(e: Arc<sqlx::Error>) -> sqlx::Error {
    match Arc::try_unwrap(e) {
        Ok(e) => e,
        Err(shared) => sqlx::Error::Protocol(format!("catalogue load failed: {shared}")),
    }
}

/// Entries of `cache` by id, loading the missing ones with one `load` call and remembering ids
/// that came back empty too (unknown or not on sale), so they are not asked for again.
async fn by_ids<V, F, Fut>(
    cache: &Cache<i64, Option<V>>,
    ids: &[i64],
    load: F,
    id_of: fn(&V) -> i64,
) -> Result<HashMap<i64, V>, sqlx::Error>
where
    V: Clone + Send + Sync + 'static,
    F: FnOnce(Vec<i64>) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<V>, sqlx::Error>>,
{
    let mut found = HashMap::with_capacity(ids.len());
    let mut missing = Vec::new();
    for &id in ids {
        match cache.get(&id).await {
            Some(Some(entry)) => {
                found.insert(id, entry);
            }
            Some(None) => {}
            None => missing.push(id),
        }
    }
    if !missing.is_empty() {
        missing.sort_unstable();
        missing.dedup();
        let mut loaded: HashMap<i64, V> = load(missing.clone()).await?.into_iter().map(|v| (id_of(&v), v)).collect();
        for id in missing {
            let entry = loaded.remove(&id);
            cache.insert(id, entry.clone()).await;
            if let Some(entry) = entry {
                found.insert(id, entry);
            }
        }
    }
    Ok(found)
}

impl Catalog {
    /// `redis`: where to broadcast changes made here (None: the log alone carries them).
    pub fn new(sql: SqlCatalog, redis: Option<Redis>) -> Self {
        let ttl = Duration::from_secs(300);
        Catalog {
            sql,
            pages: PageCache::new(Duration::from_secs(30), 64 * 1024 * 1024),
            categories: Cache::builder().max_capacity(1).time_to_live(ttl).build(),
            listings: Cache::builder().max_capacity(2_000).time_to_live(ttl).build(),
            searches: Cache::builder().max_capacity(2_000).time_to_live(Duration::from_secs(60)).build(),
            products: Cache::builder()
                .weigher(|k: &String, p: &Shared<ProductDetail>| {
                    let variants: usize = p
                        .variants
                        .iter()
                        .map(|v| v.sku.len() + v.image.len() + v.values.iter().map(String::len).sum::<usize>() + 96)
                        .sum();
                    let bytes = k.len()
                        + p.description.len()
                        + p.description_html.len()
                        + p.card.name.len()
                        + p.card.image.len()
                        + variants
                        + 512;
                    bytes.try_into().unwrap_or(u32::MAX)
                })
                .max_capacity(PRODUCT_CACHE_BYTES)
                .time_to_live(ttl)
                .build(),
            missing: Cache::builder()
                .weigher(|k: &String, _: &()| (k.len() + 64).try_into().unwrap_or(u32::MAX))
                .max_capacity(MISSING_CACHE_BYTES)
                .time_to_live(Duration::from_secs(60))
                .build(),
            cards: Cache::builder().max_capacity(50_000).time_to_live(ttl).build(),
            // Dropped by product on a change, so the closure-based invalidation is enabled.
            variants: Cache::builder().max_capacity(100_000).time_to_live(ttl).support_invalidation_closures().build(),
            product_variants: Cache::builder().max_capacity(50_000).time_to_live(ttl).build(),
            featured: Cache::builder().max_capacity(4).time_to_live(ttl).build(),
            popular: Cache::builder().max_capacity(256).time_to_live(Duration::from_secs(60)).build(),
            redis,
            followed: Arc::default(),
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
        if !valid_slug(slug) {
            return Ok(None);
        }
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

    /// A product page by slug. A slug that cannot be one (too long, odd characters) is not looked
    /// up at all.
    pub async fn product_by_slug(&self, slug: &str) -> Result<Option<Shared<ProductDetail>>, sqlx::Error> {
        if !valid_slug(slug) || self.missing.contains_key(slug) {
            return Ok(None);
        }
        let sql = self.sql.clone();
        let owned = slug.to_string();
        let loaded = self
            .products
            .try_get_with(slug.to_string(), async move {
                match sql.product_by_slug(&owned).await {
                    Ok(Some(p)) => Ok(Arc::new(p)),
                    Ok(None) => Err(None),
                    Err(e) => Err(Some(e)),
                }
            })
            .await;
        match loaded {
            Ok(p) => Ok(Some(p)),
            Err(e) => match Arc::try_unwrap(e) {
                Ok(None) => {
                    self.missing.insert(slug.to_string(), ()).await;
                    Ok(None)
                }
                Ok(Some(e)) => Err(e),
                Err(shared) => match shared.as_ref() {
                    None => Ok(None),
                    Some(e) => Err(sqlx::Error::Protocol(format!("catalogue load failed: {e}"))),
                },
            },
        }
    }

    /// Cards of active products by id, keyed by id; unknown or retired ids are absent.
    pub async fn cards(&self, ids: &[i64]) -> Result<HashMap<i64, ProductCard>, sqlx::Error> {
        let sql = self.sql.clone();
        by_ids(&self.cards, ids, |missing| async move { sql.cards_by_ids(&missing).await }, |c| c.id).await
    }

    pub async fn card(&self, id: i64) -> Result<Option<ProductCard>, sqlx::Error> {
        Ok(self.cards(&[id]).await?.remove(&id))
    }

    /// Variants on sale by id, keyed by id; unknown variants and those of retired products are
    /// absent.
    pub async fn variants(&self, ids: &[i64]) -> Result<HashMap<i64, VariantCard>, sqlx::Error> {
        let sql = self.sql.clone();
        by_ids(&self.variants, ids, |missing| async move { sql.variant_cards(&missing).await }, |c| c.id).await
    }

    pub async fn variant(&self, id: i64) -> Result<Option<VariantCard>, sqlx::Error> {
        Ok(self.variants(&[id]).await?.remove(&id))
    }

    /// The variants of a product on sale; `None` when there is no such product on sale.
    pub async fn product_variants(&self, product_id: i64) -> Result<Option<Shared<ProductVariants>>, sqlx::Error> {
        let sql = self.sql.clone();
        self.product_variants
            .try_get_with(product_id, async move { sql.product_variants(product_id).await.map(|p| p.map(Arc::new)) })
            .await
            .map_err(unshare)
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

    /// A product's price or stock changed here: drop it from this instance's caches now and
    /// tell the others over Redis. Best effort: the change log or the TTL covers a lost message.
    pub async fn changed(&self, id: i64) {
        self.invalidate_product(id).await;
        metrics::counter!("shop_catalog_invalidations_total", "source" => "local").increment(1);
        self.announce(id).await;
    }

    /// Variants an admin can edit: of the products on sale matching `query` (never cached), or
    /// with no query the lowest stock first, which is what needs attention.
    pub async fn for_admin(&self, query: &str) -> Result<Vec<VariantCard>, sqlx::Error> {
        self.sql.admin_variants(query).await
    }

    /// Applies an operator's edit to the variant `sku` and makes every instance see it. `None`
    /// when there is no such variant.
    pub async fn edit(&self, sku: &str, edit: ProductEdit) -> Result<Option<ProductCard>, sqlx::Error> {
        let card = self.sql.apply_edit(sku, edit).await?;
        if let Some(card) = &card {
            self.changed(card.id).await;
        }
        Ok(card)
    }

    /// Stock of `ids` changed through an order: this instance sees it now, the other instances
    /// are told in the background (the caller's answer does not wait for them).
    pub async fn sold(&self, ids: Vec<i64>) {
        for &id in &ids {
            self.invalidate_product(id).await;
        }
        let catalog = self.clone();
        tokio::spawn(async move {
            for id in ids {
                catalog.announce(id).await;
            }
        });
    }

    /// Tells the other instances (when there is Redis) that a product changed.
    pub async fn announce(&self, id: i64) {
        if let Some(redis) = &self.redis {
            if let Err(e) = redis.publish(CHANNEL, &id.to_string()).await {
                tracing::warn!(error = %e, product = id, "could not broadcast a catalogue change");
            }
        }
    }

    /// With Redis: drops the products other instances announce, for the life of the process.
    pub async fn listen(&self, redis_url: &str) -> Result<(), fred::error::Error> {
        let catalog = self.clone();
        super::redis::subscribe(redis_url, CHANNEL, move |message| match message.parse::<i64>() {
            Ok(id) => {
                let catalog = catalog.clone();
                tokio::spawn(async move {
                    catalog.invalidate_product(id).await;
                    metrics::counter!("shop_catalog_invalidations_total", "source" => "broadcast").increment(1);
                });
            }
            Err(_) => tracing::warn!(%message, "ignored a malformed catalogue change message"),
        })
        .await
    }

    /// Reads the recent change log and drops every product not yet acted on. Returns how many.
    pub async fn follow_log(&self) -> Result<usize, sqlx::Error> {
        let changes = self.sql.changes_since(super::db::now_ms() - FOLLOW_WINDOW_MS).await?;
        let fresh: Vec<i64> = {
            let mut followed = self.followed.lock().unwrap_or_else(|e| e.into_inner());
            let fresh = changes.iter().filter(|(change, _)| !followed.contains(change)).map(|&(_, id)| id).collect();
            // Entries that left the window will not come back: keep only the window's.
            *followed = changes.iter().map(|&(change, _)| change).collect();
            fresh
        };
        for &id in &fresh {
            self.invalidate_product(id).await;
        }
        if !fresh.is_empty() {
            metrics::counter!("shop_catalog_invalidations_total", "source" => "log").increment(fresh.len() as u64);
        }
        Ok(fresh.len())
    }

    /// Bytes held by the product-page cache and by the unknown-slug cache (tests, metrics).
    pub async fn product_cache_bytes(&self) -> (u64, u64) {
        self.products.run_pending_tasks().await;
        self.missing.run_pending_tasks().await;
        (self.products.weighted_size(), self.missing.weighted_size())
    }

    /// Whether a product page is in the cache (for tests and the warm-up report).
    pub fn has_product(&self, slug: &str) -> bool {
        self.products.contains_key(slug)
    }

    /// Forgets everything cached about one product and every listing it may appear in.
    pub async fn invalidate_product(&self, id: i64) {
        // An import may have added the product's category too (one small entry).
        self.categories.invalidate_all();
        self.cards.invalidate(&id).await;
        self.product_variants.invalidate(&id).await;
        // Its variants, and every variant remembered as unknown: an import may have just made it.
        if self.variants.invalidate_entries_if(move |_, v| v.as_ref().is_none_or(|c| c.product_id == id)).is_err() {
            self.variants.invalidate_all();
        }
        self.products.invalidate_all();
        self.missing.invalidate_all();
        self.invalidate_listings();
    }

    /// Forgets the cached variants `ids` only (their price or stock may be newer in the database).
    pub async fn refresh_variants(&self, ids: &[i64]) {
        for id in ids {
            self.variants.invalidate(id).await;
        }
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
        self.variants.invalidate_all();
        self.product_variants.invalidate_all();
        self.products.invalidate_all();
        self.missing.invalidate_all();
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
