//! Write-behind cart persistence: every change lands in Redis (the cart scripts of
//! `redis_cart.rs`, which also mark the cart in `carts:dirty` in the same atomic step), and SQL
//! catches up here.
//!
//! - Every instance runs [`WriteBehind::flush_idle`] each second: it takes the carts unchanged for
//!   `CART_FLUSH_IDLE_SECS` (by Redis's clock, so instances' clocks do not matter), leases each
//!   for 30 s so two instances do not write one cart at once (a dead instance's leases run out),
//!   writes it in one transaction that never replaces a newer version with an older one
//!   (`SqlCartStore::write_snapshot`), and clears the mark only if the cart did not change
//!   meanwhile.
//! - [`WriteBehind::flush`] writes one cart at once, before anything that reads SQL as the truth
//!   (checkout, the sign-in merge, sign-out) and for every dirty cart at shutdown.
//!
//! What a Redis crash can cost is the changes Redis itself had not persisted (with AOF
//! `everysec`, about a second); what reaches Redis and is then idle for the window is in SQL.

use super::cart_store::{CartOwner, StoreError};
use super::redis::Redis;
use super::redis_cart::{RedisCartStore, DIRTY_SET};
use super::sql_cart::SqlCartStore;
use fred::prelude::SortedSetsInterface;
use fred::types::scripts::Script;
use std::sync::Arc;
use std::time::Duration;

/// How long a flusher may hold a cart before another instance may take it.
const LEASE_MS: u64 = 30_000;

/// The marked carts idle for at least ARGV[1] ms by Redis's clock, at most ARGV[2] of them.
const DUE: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]), 'LIMIT', 0, tonumber(ARGV[2]))
"#;

const LEASE: &str = r#"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
"#;

const UNLEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
"#;

#[derive(Clone)]
pub struct WriteBehind {
    store: RedisCartStore,
    sql: SqlCartStore,
    redis: Redis,
    idle: Duration,
    /// Names this process's leases.
    holder: Arc<str>,
    scripts: Arc<[Script; 3]>,
}

impl WriteBehind {
    pub fn new(store: RedisCartStore, sql: SqlCartStore, redis: Redis, idle: Duration) -> Self {
        let holder: Arc<str> = format!("{}-{}", std::process::id(), rand::random::<u64>()).into();
        let scripts = Arc::new([Script::from_lua(DUE), Script::from_lua(LEASE), Script::from_lua(UNLEASE)]);
        WriteBehind { store, sql, redis, idle, holder, scripts }
    }

    /// Writes `owner`'s cart to SQL now, as Redis holds it (claimed or not). A cart Redis does
    /// not hold has nothing newer than SQL.
    pub async fn flush(&self, owner: &CartOwner) -> Result<(), StoreError> {
        let Some((cart, _)) = self.store.read_present(owner).await? else { return Ok(()) };
        if self.sql.write_snapshot(owner, &cart).await? {
            metrics::counter!("shop_cart_flushes_total").increment(1);
        }
        self.store.unmark(owner, cart.version).await?;
        Ok(())
    }

    /// Writes the carts idle for the configured window (all marked carts with `everything`, at
    /// shutdown), up to `limit`; how many it wrote. A cart another instance is writing is left to it.
    pub async fn flush_idle(&self, limit: usize, everything: bool) -> Result<usize, StoreError> {
        let idle_ms = if everything { 0 } else { self.idle.as_millis() as u64 };
        let due: Vec<String> =
            self.eval(0, vec![DIRTY_SET.into()], vec![idle_ms.to_string(), limit.to_string()]).await?;
        let mut written = 0;
        for key in due {
            let Some(owner) = key.strip_prefix("cart:").and_then(CartOwner::from_key) else {
                // Not a cart key: nothing can ever flush it, so it must not stay due forever.
                let client = self.redis.pool.next();
                let _: Result<i64, _> = self.redis.call(client.zrem(DIRTY_SET, key)).await;
                continue;
            };
            let lease = format!("cartflush:{key}");
            let args = vec![self.holder.to_string(), LEASE_MS.to_string()];
            let leased: i64 = self.eval(1, vec![lease.clone()], args).await?;
            if leased != 1 {
                continue;
            }
            let result = self.flush(&owner).await;
            let _: Result<i64, _> = self.eval(2, vec![lease], vec![self.holder.to_string()]).await;
            result?;
            written += 1;
        }
        Ok(written)
    }

    /// How many carts have changes SQL does not have yet.
    pub async fn dirty(&self) -> Result<u64, StoreError> {
        let client = self.redis.pool.next();
        Ok(self.redis.call(client.zcard::<u64, _>(DIRTY_SET)).await?)
    }

    async fn eval<R>(&self, script: usize, keys: Vec<String>, args: Vec<String>) -> Result<R, StoreError>
    where
        R: fred::types::FromValue + Unpin + Send + 'static,
    {
        let client = self.redis.pool.next();
        Ok(self.redis.call(self.scripts[script].evalsha_with_reload::<R, _, _>(client, keys, args)).await?)
    }
}
