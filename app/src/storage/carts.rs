//! Every cart behind one door. `Carts` knows which store holds an owner's cart (guests: Redis when
//! configured, else SQL; accounts: SQL, with a Redis copy when configured), and owns the steps
//! that span stores: claiming a Redis cart for an order or a sign-in merge, settling the claim
//! afterwards, and repairing what a failure in between left behind. Services ask `Carts`; they
//! never know where a cart lives.
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

#[derive(Clone)]
pub struct Carts {
    sql: SqlCartStore,
    /// Guest carts, when Redis is configured (otherwise they are in `sql`).
    guests: Option<RedisCartStore>,
    /// The Redis copy of account carts, when Redis is configured.
    cache: Option<CachedCartStore>,
    orders: OrderStore,
}

impl Carts {
    /// `guest_ttl_secs`: how long Redis keeps an untouched guest cart (the session lifetime).
    pub fn new(sql: SqlCartStore, redis: Option<&Redis>, guest_ttl_secs: i64, orders: OrderStore) -> Self {
        Carts {
            guests: redis.map(|r| RedisCartStore::new(r.clone(), guest_ttl_secs)),
            cache: redis.map(|r| CachedCartStore::new(sql.clone(), r.clone())),
            sql,
            orders,
        }
    }

    /// The SQL cart tables (housekeeping, benchmarks).
    pub fn sql(&self) -> &SqlCartStore {
        &self.sql
    }

    fn store(&self, owner: &CartOwner) -> &dyn CartStore {
        match (owner, &self.guests, &self.cache) {
            (CartOwner::Guest(_), Some(redis), _) => redis,
            (CartOwner::User(_), _, Some(cache)) => cache,
            _ => &self.sql,
        }
    }

    /// The Redis store when `owner`'s cart is kept there.
    fn redis_for(&self, owner: &CartOwner) -> Option<&RedisCartStore> {
        self.guests.as_ref().filter(|_| owner.is_guest())
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

    /// The cart as the order transaction will see it: from the store of record (SQL for accounts,
    /// never the Redis copy).
    pub async fn load_for_checkout(&self, owner: &CartOwner) -> Result<CartRead, StoreError> {
        match owner {
            CartOwner::User(_) => Ok(CartRead { cart: self.sql.load(owner).await?, notice: None }),
            CartOwner::Guest(_) => self.load(owner).await,
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

    pub async fn remove(&self, owner: &CartOwner, product_id: i64) -> Result<StoredCart, StoreError> {
        self.retry_claimed(owner, || self.store(owner).remove(owner, product_id)).await
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
        match (basket, &self.cache) {
            (Basket::Claimed { .. }, _) => {
                if let Some(redis) = self.redis_for(owner) {
                    if let Err(e) = redis.finish_claim(owner, claim_id).await {
                        tracing::warn!(error = %e, "order placed but its Redis cart could not be emptied yet");
                        metrics::counter!("shop_cart_settle_failures_total", "step" => "finish").increment(1);
                    }
                }
            }
            // The SQL cart was emptied by the order; the Redis copy must not show the old lines.
            (Basket::Sql(CartOwner::User(_)), Some(cache)) => cache.invalidate(owner).await,
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
        let guest_key = guest.key();
        let user = CartOwner::User(user_id);
        let Some(redis) = self.redis_for(guest) else {
            let outcome = self.sql.merge_guest(&guest_key, user_id, GuestLines::InSql(guest.clone()), catalog).await?;
            self.merged_into(&user, &outcome).await;
            return Ok(outcome);
        };
        // One claim per account: sign-ins of the same account racing on one guest cart share it,
        // and `cart_merges` lets exactly one of them apply the lines.
        let claim_id = format!("m:{user_id}");
        let claimed = match redis.claim(guest, &claim_id, None).await {
            Err(StoreError::Claimed(other)) => {
                let version = redis.read(guest).await?.0.version;
                match self.settle(guest, &other, version).await? {
                    Settled::Done(_) => redis.claim(guest, &claim_id, None).await?,
                    _ => return Err(StoreError::Claimed(other)),
                }
            }
            other => other?,
        };
        let (ClaimOutcome::Claimed(cart) | ClaimOutcome::Changed(cart)) = claimed;
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
        if let (MergeOutcome::Merged { cart, .. }, Some(cache)) = (outcome, &self.cache) {
            cache.write_cache(user, cart).await;
        }
    }

    /// Retries the Redis copies of account carts that could not be dropped; how many remain.
    pub async fn repair(&self) -> usize {
        match &self.cache {
            Some(cache) => cache.repair().await,
            None => 0,
        }
    }
}
