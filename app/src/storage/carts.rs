//! Every cart behind one door. `Carts` knows which store holds an owner's cart, by the operator's
//! `CART_PERSISTENCE` (by default guests: Redis when configured, else SQL; accounts: SQL, with a
//! Redis copy when configured), and owns the steps that span stores: claiming a Redis cart for an
//! order or a sign-in merge, settling the claim afterwards, writing a write-behind cart to SQL
//! before anything reads SQL as the truth, and repairing what a failure in between left behind.
//! Services ask `Carts`; they never know where a cart lives or how it is persisted.
//!
//! A claim that outlives its holder (the process died, or Redis failed the step that settles it)
//! is settled by whoever meets it next: if its order or merge was committed, the cart is emptied
//! (and the shopper told the order went through); if not, and it is old enough that its holder
//! cannot still be working, the cart is given back. An order claim given back also voids its cart
//! version in SQL first, so a holder that was only slow can never commit it afterwards.

use super::cached_cart::CachedCartStore;
use super::cart_store::{CartOwner, CartStore, Change, Claim, LineChange, StoreError};
use super::catalog_cache::Catalog;
use super::db::now_ms;
use super::orders::{Basket, OrderStore};
use super::redis::Redis;
use super::redis_cart::{ClaimOutcome, RedisCartStore};
use super::sql_cart::{GuestLines, MergeOutcome, SqlCartStore};
use super::write_behind::WriteBehind;
use crate::config::CartPersistence;
use crate::domain::cart::{StoredCart, StoredLine};

/// How long a claim's holder may take before anyone else may settle it.
pub const CLAIM_TIMEOUT_MS: i64 = 30_000;

/// A cart as the shopper should see it, and what to tell them about it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CartRead {
    pub cart: StoredCart,
    pub notice: Option<String>,
}

/// How an order may begin on this cart.
#[derive(Debug)]
pub enum Begin {
    Ready(Basket),
    /// The cart is not at the version the shopper confirmed.
    Changed,
    /// Another order is being placed from this cart right now; its claim.
    Busy(Claim),
    /// The cart was already ordered (this reference) and is waiting to be emptied.
    Ordered(String),
}

/// What became of a claim met on the way.
enum Settled {
    /// It is over: the cart can be read and changed again. With a notice for the shopper.
    Done(Option<String>),
    /// Its order is placed but the cart could not be emptied yet (Redis refused): show the cart as
    /// ordered, and change nothing.
    OrderedNotCleared(String),
    /// Its holder may still be working.
    Pending(Claim),
}

fn ordered_notice(reference: &str) -> String {
    format!("Your order {reference} has been placed, so its items are no longer in your cart.")
}

/// Where one kind of cart (guests', accounts') is held.
#[derive(Clone)]
enum Held {
    /// In SQL only.
    Sql,
    /// In SQL, with a Redis copy written through.
    Cached(CachedCartStore),
    /// In Redis: only there (today's guest carts), or written behind to SQL.
    Redis(RedisCartStore),
}

#[derive(Clone)]
pub struct Carts {
    sql: SqlCartStore,
    guests: Held,
    accounts: Held,
    orders: OrderStore,
    /// With write-behind: what writes Redis carts to SQL.
    behind: Option<WriteBehind>,
}

impl Carts {
    /// `ttl_secs`: how long Redis keeps an untouched cart (the session lifetime).
    /// `persistence`: the operator's choice; `None` is the default per kind of cart.
    /// `flush_idle`: with write-behind, how long a cart stays unchanged before it is written.
    pub fn new(
        sql: SqlCartStore,
        redis: Option<&Redis>,
        ttl_secs: i64,
        orders: OrderStore,
        persistence: Option<CartPersistence>,
        flush_idle: std::time::Duration,
    ) -> Self {
        let mut behind = None;
        let (guests, accounts) = match (redis, persistence) {
            (None, _) | (_, Some(CartPersistence::Database)) => (Held::Sql, Held::Sql),
            (Some(r), None) => (
                Held::Redis(RedisCartStore::new(r.clone(), ttl_secs)),
                Held::Cached(CachedCartStore::new(sql.clone(), r.clone())),
            ),
            (Some(r), Some(CartPersistence::WriteThrough)) => {
                let cached = CachedCartStore::new(sql.clone(), r.clone());
                (Held::Cached(cached.clone()), Held::Cached(cached))
            }
            (Some(r), Some(CartPersistence::WriteBehind)) => {
                let store = RedisCartStore::write_behind(r.clone(), ttl_secs, sql.clone());
                behind = Some(WriteBehind::new(store.clone(), sql.clone(), r.clone(), flush_idle));
                (Held::Redis(store.clone()), Held::Redis(store))
            }
        };
        Carts { sql, guests, accounts, orders, behind }
    }

    fn held(&self, owner: &CartOwner) -> &Held {
        if owner.is_guest() {
            &self.guests
        } else {
            &self.accounts
        }
    }

    /// The write-through store when `owner`'s cart has a Redis copy.
    fn cache_for(&self, owner: &CartOwner) -> Option<&CachedCartStore> {
        match self.held(owner) {
            Held::Cached(cache) => Some(cache),
            _ => None,
        }
    }

    /// Write-behind: writes `owner`'s cart to SQL now (before sign-out, or anything else that
    /// reads SQL as the truth). Nothing to do for the other strategies.
    pub async fn persist(&self, owner: &CartOwner) -> Result<(), StoreError> {
        match (&self.behind, self.redis_for(owner)) {
            (Some(behind), Some(_)) => behind.flush(owner).await,
            _ => Ok(()),
        }
    }

    /// Write-behind: writes the carts idle long enough (every marked cart when `everything`, at
    /// shutdown), up to `limit`; how many it wrote.
    pub async fn flush_idle(&self, limit: usize, everything: bool) -> Result<usize, StoreError> {
        match &self.behind {
            Some(behind) => behind.flush_idle(limit, everything).await,
            None => Ok(0),
        }
    }

    /// Write-behind: how many carts have changes SQL does not have yet.
    pub async fn unflushed(&self) -> Result<u64, StoreError> {
        match &self.behind {
            Some(behind) => behind.dirty().await,
            None => Ok(0),
        }
    }

    /// The SQL cart tables (housekeeping, benchmarks).
    pub fn sql(&self) -> &SqlCartStore {
        &self.sql
    }

    fn store(&self, owner: &CartOwner) -> &dyn CartStore {
        match self.held(owner) {
            Held::Sql => &self.sql,
            Held::Cached(cache) => cache,
            Held::Redis(redis) => redis,
        }
    }

    /// The Redis store when `owner`'s cart is kept there.
    fn redis_for(&self, owner: &CartOwner) -> Option<&RedisCartStore> {
        match self.held(owner) {
            Held::Redis(redis) => Some(redis),
            _ => None,
        }
    }

    /// The cart to show.
    pub async fn load(&self, owner: &CartOwner) -> Result<CartRead, StoreError> {
        let Some(redis) = self.redis_for(owner) else {
            return Ok(CartRead { cart: self.store(owner).load(owner).await?, notice: None });
        };
        let (cart, claim) = redis.read(owner).await?;
        let Some(claim) = claim else { return Ok(CartRead { cart, notice: None }) };
        match self.settle(owner, &claim, cart.version).await? {
            Settled::Done(notice) => Ok(CartRead { cart: redis.read(owner).await?.0, notice }),
            // Already bought: nothing in it can be bought again, so show it empty.
            Settled::OrderedNotCleared(reference) => Ok(CartRead {
                cart: StoredCart { lines: vec![], version: cart.version },
                notice: Some(ordered_notice(&reference)),
            }),
            Settled::Pending(_) => {
                Ok(CartRead { cart, notice: Some("An order for this cart is being placed right now.".into()) })
            }
        }
    }

    /// The cart as the order transaction will see it: from the store of record (a Redis cart, which
    /// the order claims, or SQL's tables; never a write-through or in-process copy).
    pub async fn load_for_checkout(&self, owner: &CartOwner) -> Result<CartRead, StoreError> {
        match self.redis_for(owner) {
            Some(_) => self.load(owner).await,
            None => Ok(CartRead { cart: self.sql.load_of_record(owner).await?, notice: None }),
        }
    }

    /// Runs a change; a claim in the way is settled first, and the change tried once more.
    async fn retry_claimed<T, F, Fut>(&self, owner: &CartOwner, op: F) -> Result<T, StoreError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, StoreError>>,
    {
        match op().await {
            Err(StoreError::Claimed(claim)) => {
                let version = match self.redis_for(owner) {
                    Some(redis) => redis.read(owner).await?.0.version,
                    None => 0,
                };
                match self.settle(owner, &claim, version).await? {
                    Settled::Done(_) => op().await,
                    Settled::OrderedNotCleared(reference) => Err(StoreError::Ordered(reference)),
                    Settled::Pending(_) => Err(StoreError::Claimed(claim)),
                }
            }
            other => other,
        }
    }

    pub async fn change(&self, owner: &CartOwner, change: LineChange) -> Result<Change, StoreError> {
        self.retry_claimed(owner, || self.store(owner).change(owner, change)).await
    }

    pub async fn remove(&self, owner: &CartOwner, variant_id: i64) -> Result<StoredCart, StoreError> {
        self.retry_claimed(owner, || self.store(owner).remove(owner, variant_id)).await
    }

    pub async fn clear(&self, owner: &CartOwner) -> Result<StoredCart, StoreError> {
        self.retry_claimed(owner, || self.store(owner).clear(owner)).await
    }

    pub async fn restore_if_pristine(
        &self,
        owner: &CartOwner,
        lines: &[StoredLine],
    ) -> Result<Option<StoredCart>, StoreError> {
        self.store(owner).restore_if_pristine(owner, lines).await
    }

    /// Gets the cart ready for an order under `claim_id`: a Redis cart is claimed at
    /// `version` (nothing changes it until the order is settled); a SQL cart is locked and read by
    /// the order transaction itself.
    pub async fn begin_order(&self, owner: &CartOwner, claim_id: &str, version: u64) -> Result<Begin, StoreError> {
        let Some(redis) = self.redis_for(owner) else { return Ok(Begin::Ready(Basket::Sql(owner.clone()))) };
        // Write-behind: SQL gets the cart first, so what is ordered is in SQL too (a claim at the
        // confirmed version then proves nothing changed since).
        self.persist(owner).await?;
        for _ in 0..2 {
            match redis.claim(owner, claim_id, Some(version)).await {
                Ok(ClaimOutcome::Claimed(cart)) => {
                    return Ok(Begin::Ready(Basket::Claimed {
                        owner: owner.clone(),
                        version: cart.version,
                        lines: cart.lines,
                    }))
                }
                Ok(ClaimOutcome::Changed(_)) => return Ok(Begin::Changed),
                Err(StoreError::Claimed(other)) => {
                    let current = redis.read(owner).await?.0.version;
                    match self.settle(owner, &other, current).await? {
                        // The other order is over: the cart moved on, or was given back as it was.
                        Settled::Done(_) => continue,
                        Settled::OrderedNotCleared(reference) => return Ok(Begin::Ordered(reference)),
                        Settled::Pending(claim) => return Ok(Begin::Busy(claim)),
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(Begin::Changed)
    }

    /// After the order committed: the cart must not outlive it. A Redis cart that cannot be
    /// emptied now keeps its claim, which shows it as ordered and is settled on the next visit.
    pub async fn order_placed(&self, basket: &Basket, claim_id: &str) {
        let owner = basket.owner();
        match (basket, self.cache_for(owner)) {
            (Basket::Claimed { .. }, _) => {
                if let Some(redis) = self.redis_for(owner) {
                    // Written behind, SQL's copy was emptied by the order transaction itself.
                    if let Err(e) = redis.finish_claim(owner, claim_id).await {
                        tracing::warn!(error = %e, "order placed but its Redis cart could not be emptied yet");
                        metrics::counter!("shop_cart_settle_failures_total", "step" => "finish").increment(1);
                    }
                }
            }
            // The SQL cart was emptied by the order; the Redis copy must not show the old lines.
            (Basket::Sql(_), Some(cache)) => cache.invalidate(owner).await,
            _ => {}
        }
    }

    /// The cart an order is about to be placed from, for the checks before the payment: a
    /// claimed cart's frozen lines, or the store of record's current cart (read again, locked,
    /// inside the order transaction).
    pub async fn basket(&self, basket: &Basket) -> Result<StoredCart, StoreError> {
        match basket {
            Basket::Claimed { lines, version, .. } => Ok(StoredCart { lines: lines.clone(), version: *version }),
            Basket::Sql(owner) => Ok(self.load_for_checkout(owner).await?.cart),
        }
    }

    /// The order was not placed: a claimed cart goes back to the shopper as it was.
    pub async fn order_abandoned(&self, basket: &Basket, claim_id: &str) {
        let owner = basket.owner();
        if let (Basket::Claimed { .. }, Some(redis)) = (basket, self.redis_for(owner)) {
            if let Err(e) = redis.release_claim(owner, claim_id, false).await {
                tracing::warn!(error = %e, "could not give a claimed cart back; it is settled on the next visit");
                metrics::counter!("shop_cart_settle_failures_total", "step" => "release").increment(1);
            }
        }
    }

    /// Decides what to do about a claim met on `owner`'s Redis cart (at `version`).
    async fn settle(&self, owner: &CartOwner, claim: &Claim, version: u64) -> Result<Settled, StoreError> {
        let Some(redis) = self.redis_for(owner) else { return Ok(Settled::Done(None)) };
        let young = now_ms() - claim.since_ms < CLAIM_TIMEOUT_MS;
        if let Some(rest) = claim.id.strip_prefix("o:") {
            let key = rest.split(':').next().unwrap_or_default();
            if let Some(order) = self.orders.by_key(key).await.map_err(StoreError::from)? {
                return Ok(match redis.finish_claim(owner, &claim.id).await {
                    Ok(_) => Settled::Done(Some(ordered_notice(&order.view.reference))),
                    Err(_) => Settled::OrderedNotCleared(order.view.reference),
                });
            }
            if young {
                return Ok(Settled::Pending(claim.clone()));
            }
            // Its holder is gone: make sure it can never commit, then give the cart back.
            if let Some(order_id) = self.orders.void_version(owner, version).await.map_err(StoreError::from)? {
                let reference = self.orders.get(&order_id).await.map_err(StoreError::from)?.map(|o| o.view.reference);
                redis.finish_claim(owner, &claim.id).await?;
                return Ok(Settled::Done(reference.map(|r| ordered_notice(&r))));
            }
            redis.release_claim(owner, &claim.id, true).await?;
            metrics::counter!("shop_cart_claims_expired_total", "kind" => "order").increment(1);
            return Ok(Settled::Done(None));
        }
        // Written behind, an account cart held for a merge: if SQL moved past it, the merge
        // committed and SQL's cart (the merged one) replaces it.
        if let (CartOwner::User(_), true) = (owner, redis.is_write_behind()) {
            let in_sql = self.sql.load(owner).await?;
            if in_sql.version > version {
                redis.replace_claimed(owner, &claim.id, &in_sql).await?;
                return Ok(Settled::Done(None));
            }
            if young {
                return Ok(Settled::Pending(claim.clone()));
            }
            redis.release_claim(owner, &claim.id, false).await?;
            return Ok(Settled::Done(None));
        }
        // A sign-in merging this guest cart: done if the merge of this very version is recorded.
        let merged = self.sql.merged_version(owner).await.map_err(StoreError::from)?;
        let merged = merged == Some(version as i64);
        if merged {
            redis.finish_claim(owner, &claim.id).await?;
            return Ok(Settled::Done(None));
        }
        if young {
            return Ok(Settled::Pending(claim.clone()));
        }
        redis.release_claim(owner, &claim.id, false).await?;
        metrics::counter!("shop_cart_claims_expired_total", "kind" => "merge").increment(1);
        Ok(Settled::Done(None))
    }

    /// Merges guest cart `guest` into account `user_id`, once (see `SqlCartStore::merge_guest`).
    /// A Redis guest cart is claimed for the merge and emptied only after the merge committed; if
    /// the merge fails, its lines stay where they are for the retry, whatever else fails.
    pub async fn merge_guest(
        &self,
        guest: &CartOwner,
        user_id: i64,
        catalog: &Catalog,
    ) -> Result<MergeOutcome, StoreError> {
        let user = CartOwner::User(user_id);
        // The merge writes the account cart in SQL. Written behind, that cart is in Redis: it is
        // held for the merge (other tabs' changes wait), written to SQL first, and replaced by the
        // merged cart afterwards.
        let Some(redis) = self.redis_for(&user) else { return self.merge_into_sql(guest, user_id, catalog).await };
        // Its own claim: a second sign-in of the account must wait for this merge, not join it.
        let claim_id = format!("m:{user_id}:{}", rand::random::<u64>());
        self.claim_whole(redis, &user, &claim_id).await?;
        let merged = match self.persist(&user).await {
            Ok(()) => self.merge_into_sql(guest, user_id, catalog).await,
            Err(e) => Err(e),
        };
        let settled = match &merged {
            Ok(MergeOutcome::Merged { cart, .. }) => redis.replace_claimed(&user, &claim_id, cart).await,
            _ => redis.release_claim(&user, &claim_id, false).await,
        };
        if !matches!(settled, Ok(true)) {
            // Still held: whoever meets the claim next settles it from SQL (`settle`).
            tracing::warn!(outcome = ?settled, "could not settle the account cart after a merge");
            metrics::counter!("shop_cart_settle_failures_total", "step" => "merge").increment(1);
        }
        merged
    }

    /// Claims `owner`'s Redis cart whatever its version, settling a claim in the way first.
    async fn claim_whole(
        &self,
        redis: &RedisCartStore,
        owner: &CartOwner,
        claim_id: &str,
    ) -> Result<StoredCart, StoreError> {
        let claimed = match redis.claim(owner, claim_id, None).await {
            Err(StoreError::Claimed(other)) => {
                let version = redis.read(owner).await?.0.version;
                match self.settle(owner, &other, version).await? {
                    Settled::Done(_) => redis.claim(owner, claim_id, None).await?,
                    _ => return Err(StoreError::Claimed(other)),
                }
            }
            other => other?,
        };
        let (ClaimOutcome::Claimed(cart) | ClaimOutcome::Changed(cart)) = claimed;
        Ok(cart)
    }

    /// The merge itself, into the account's SQL cart.
    async fn merge_into_sql(
        &self,
        guest: &CartOwner,
        user_id: i64,
        catalog: &Catalog,
    ) -> Result<MergeOutcome, StoreError> {
        let guest_key = guest.key();
        let user = CartOwner::User(user_id);
        let Some(redis) = self.redis_for(guest) else {
            let outcome = self.sql.merge_guest(&guest_key, user_id, GuestLines::InSql(guest.clone()), catalog).await?;
            if let Some(cache) = self.cache_for(guest) {
                // Written through: the guest's copy must not show the lines the account took.
                cache.invalidate(guest).await;
            }
            self.merged_into(&user, &outcome).await;
            return Ok(outcome);
        };
        // One claim per account: sign-ins of the same account racing on one guest cart share it,
        // and `cart_merges` lets exactly one of them apply the lines.
        let claim_id = format!("m:{user_id}");
        let cart = self.claim_whole(redis, guest, &claim_id).await?;
        if cart.lines.is_empty() {
            let _ = redis.release_claim(guest, &claim_id, false).await;
            return Ok(MergeOutcome::Nothing);
        }
        let lines = GuestLines::Claimed { lines: cart.lines, version: cart.version };
        match self.sql.merge_guest(&guest_key, user_id, lines, catalog).await {
            Ok(outcome) => {
                // Committed (or merged before): the guest lines are the account's now.
                if let Err(e) = redis.finish_claim(guest, &claim_id).await {
                    tracing::warn!(error = %e, "merged, but the guest cart could not be emptied yet");
                    metrics::counter!("shop_cart_settle_failures_total", "step" => "finish").increment(1);
                }
                self.merged_into(&user, &outcome).await;
                Ok(outcome)
            }
            Err(e) => {
                if let Err(back) = redis.release_claim(guest, &claim_id, false).await {
                    // The lines stay in the guest cart under the claim: the retry re-enters it.
                    tracing::warn!(error = %back, "could not release a guest cart after a failed merge");
                    metrics::counter!("shop_cart_settle_failures_total", "step" => "release").increment(1);
                }
                Err(e)
            }
        }
    }

    async fn merged_into(&self, user: &CartOwner, outcome: &MergeOutcome) {
        if let (MergeOutcome::Merged { cart, .. }, Some(cache)) = (outcome, self.cache_for(user)) {
            cache.write_cache(user, cart).await;
        }
    }

    /// Retries the Redis copies of carts that could not be dropped; how many remain.
    pub async fn repair(&self) -> usize {
        // Both kinds share one write-through store when both are written through.
        match (&self.accounts, &self.guests) {
            (Held::Cached(cache), _) | (_, Held::Cached(cache)) => cache.repair().await,
            _ => 0,
        }
    }
}
