//! Account carts: durable in SQL, cached in Redis write-through when Redis is configured.
//!
//! Writes go to SQL first, then to the cache; a cached copy is only replaced by a newer version
//! (a Lua compare-and-set), so two writers finishing out of order cannot leave the older cart in
//! the cache. A cache failure never fails the request: the cached copy is deleted instead; if even
//! that fails, the owner is remembered as suspect, this instance reads that cart from SQL and
//! retries the delete every second (`repair`), and other instances see the copy expire within
//! `CACHE_TTL_SECS`. Reads fall back to SQL on a miss or error. Checkout never reads the copy: it
//! reads SQL inside the order transaction.

use super::cart_store::{CartOwner, CartStore, Change, LineChange, StoreError};
use super::redis::Redis;
use super::sql_cart::SqlCartStore;
use crate::domain::cart::{StoredCart, StoredLine};
use async_trait::async_trait;
use fred::prelude::KeysInterface;
use fred::types::scripts::Script;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// Bounds how long a copy can be stale if Redis failed to take an invalidation.
pub const CACHE_TTL_SECS: i64 = 120;
/// Most carts remembered as suspect at once; beyond it the TTL alone bounds staleness.
const MAX_SUSPECT: usize = 10_000;

const PUT_IF_NEWER: &str = r#"
local cur = redis.call('GET', KEYS[1])
if cur then
  local v = tonumber(string.match(cur, '"version":(%d+)'))
  if v and v >= tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return 1
"#;

#[derive(Clone)]
pub struct CachedCartStore {
    sql: SqlCartStore,
    redis: Redis,
    put: Arc<Script>,
    /// Owners whose cached copy may be stale: neither the write nor the delete reached Redis.
    suspect: Arc<Mutex<HashSet<String>>>,
}

impl CachedCartStore {
    pub fn new(sql: SqlCartStore, redis: Redis) -> Self {
        CachedCartStore { sql, redis, put: Arc::new(Script::from_lua(PUT_IF_NEWER)), suspect: Arc::default() }
    }

    fn suspects(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.suspect.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn is_suspect(&self, owner: &CartOwner) -> bool {
        let suspects = self.suspects();
        !suspects.is_empty() && suspects.contains(&owner.key())
    }

    /// Retries the deletes that failed; returns how many copies are still suspect.
    pub async fn repair(&self) -> usize {
        let pending: Vec<String> = self.suspects().iter().cloned().collect();
        for owner in pending {
            let client = self.redis.pool.next();
            if self.redis.call(client.del::<i64, _>(format!("cartcache:{owner}"))).await.is_ok() {
                self.suspects().remove(&owner);
            }
        }
        self.suspects().len()
    }

    fn key(owner: &CartOwner) -> String {
        format!("cartcache:{}", owner.key())
    }

    /// Stores `cart` in the cache unless a newer one is there; on failure, drops the copy.
    pub async fn write_cache(&self, owner: &CartOwner, cart: &StoredCart) {
        let Ok(json) = serde_json::to_string(cart) else { return };
        let key = Self::key(owner);
        let client = self.redis.pool.next();
        let args = vec![json, cart.version.to_string(), CACHE_TTL_SECS.to_string()];
        let result = self.redis.call(self.put.evalsha_with_reload::<i64, _, _>(client, key.clone(), args)).await;
        match result {
            // The copy now holds this version or a newer one: no longer suspect.
            Ok(_) => {
                if self.is_suspect(owner) {
                    self.suspects().remove(&owner.key());
                }
            }
            Err(_) => {
                metrics::counter!("shop_cart_cache_total", "result" => "write_error").increment(1);
                self.invalidate(owner).await;
            }
        }
    }

    pub async fn invalidate(&self, owner: &CartOwner) {
        let key = Self::key(owner);
        let client = self.redis.pool.next();
        if self.redis.call(client.del::<i64, _>(&key)).await.is_err() {
            tracing::warn!(owner = %owner.key(), "could not invalidate a cached cart; reading it from SQL until it is");
            metrics::counter!("shop_cart_cache_total", "result" => "invalidate_error").increment(1);
            let mut suspects = self.suspects();
            if suspects.len() < MAX_SUSPECT {
                suspects.insert(owner.key());
            }
        }
    }
}

#[async_trait]
impl CartStore for CachedCartStore {
    async fn load(&self, owner: &CartOwner) -> Result<StoredCart, StoreError> {
        if self.is_suspect(owner) {
            return self.sql.load(owner).await;
        }
        let client = self.redis.pool.next();
        let key = Self::key(owner);
        match self.redis.call(client.get::<Option<String>, _>(&key)).await {
            Ok(Some(json)) => {
                if let Ok(cart) = serde_json::from_str::<StoredCart>(&json) {
                    metrics::counter!("shop_cart_cache_total", "result" => "hit").increment(1);
                    return Ok(cart);
                }
            }
            Ok(None) => {}
            Err(_) => {
                metrics::counter!("shop_cart_cache_total", "result" => "error").increment(1);
                return self.sql.load(owner).await;
            }
        }
        metrics::counter!("shop_cart_cache_total", "result" => "miss").increment(1);
        let cart = self.sql.load(owner).await?;
        self.write_cache(owner, &cart).await;
        Ok(cart)
    }

    async fn change(&self, owner: &CartOwner, change: LineChange) -> Result<Change, StoreError> {
        let result = self.sql.change(owner, change).await?;
        self.write_cache(owner, &result.cart).await;
        Ok(result)
    }

    async fn remove(&self, owner: &CartOwner, variant_id: i64) -> Result<StoredCart, StoreError> {
        let cart = self.sql.remove(owner, variant_id).await?;
        self.write_cache(owner, &cart).await;
        Ok(cart)
    }

    async fn clear(&self, owner: &CartOwner) -> Result<StoredCart, StoreError> {
        let cart = self.sql.clear(owner).await?;
        self.write_cache(owner, &cart).await;
        Ok(cart)
    }

    async fn restore_if_pristine(
        &self,
        owner: &CartOwner,
        lines: &[StoredLine],
    ) -> Result<Option<StoredCart>, StoreError> {
        let cart = self.sql.restore_if_pristine(owner, lines).await?;
        if let Some(cart) = &cart {
            self.write_cache(owner, cart).await;
        }
        Ok(cart)
    }
}
