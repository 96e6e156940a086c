//! Live cart sync: when a cart changes, every open page of its owner hears about it within a
//! second (Server-Sent Events at `/events/cart`, served by the server crate) and reloads the cart.
//! With Redis the news goes through a pub/sub channel so pages held open by other instances hear
//! it too; with the embedded default one process delivers it in memory.
//!
//! Streams are registered per cart: a change wakes only that cart's pages, never everyone. Each
//! cart may hold `STREAMS_PER_CART` open streams and the process `max_streams` in all; the
//! registry holds an entry only while a stream of that cart is open, so it is bounded too.

use crate::storage::cart_store::CartOwner;
use crate::storage::redis::Redis;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

pub const CHANNEL: &str = "shop:cart-changed";
/// Open streams one cart may have (tabs and devices of one shopper).
pub const STREAMS_PER_CART: usize = 8;
/// Open streams one client address may have (however many sessions it makes).
pub const STREAMS_PER_ADDRESS: usize = 64;

/// Why a stream was not opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// This cart already has `STREAMS_PER_CART` streams open, or the address
    /// `STREAMS_PER_ADDRESS`.
    TooMany,
    /// The process has as many open streams as it allows.
    Full,
}

struct Entry {
    tx: watch::Sender<u64>,
    open: usize,
}

#[derive(Default)]
struct Registry {
    carts: HashMap<String, Entry>,
    /// Open streams per client address.
    addresses: HashMap<String, usize>,
    open: usize,
}

#[derive(Clone)]
pub struct CartSync {
    registry: Arc<Mutex<Registry>>,
    max_streams: usize,
    redis: Option<Redis>,
    /// Set at shutdown: open streams end so the server can drain.
    closing: Arc<watch::Sender<bool>>,
}

/// An open stream's place in the registry; dropping it gives the place back.
pub struct Subscription {
    pub changes: watch::Receiver<u64>,
    key: String,
    address: String,
    registry: Arc<Mutex<Registry>>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut reg = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        reg.open = reg.open.saturating_sub(1);
        if let Some(n) = reg.addresses.get_mut(&self.address) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                reg.addresses.remove(&self.address);
            }
        }
        if let Some(entry) = reg.carts.get_mut(&self.key) {
            entry.open = entry.open.saturating_sub(1);
            if entry.open == 0 {
                reg.carts.remove(&self.key);
            }
        }
        metrics::gauge!("shop_cart_sync_streams").set(reg.open as f64);
    }
}

impl CartSync {
    pub fn new(redis: Option<Redis>, max_streams: usize) -> Self {
        CartSync { registry: Arc::default(), max_streams, redis, closing: Arc::new(watch::channel(false).0) }
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Resolves when the server starts shutting down.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Ends every open stream (graceful shutdown).
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Opens a stream of `owner`'s cart changes for a client at `address`, within the limits.
    pub fn subscribe(&self, owner: &CartOwner, address: &str) -> Result<Subscription, Refused> {
        let key = owner.key();
        let mut reg = self.registry();
        if reg.open >= self.max_streams {
            return Err(Refused::Full);
        }
        if reg.addresses.get(address).is_some_and(|n| *n >= STREAMS_PER_ADDRESS)
            || reg.carts.get(&key).is_some_and(|e| e.open >= STREAMS_PER_CART)
        {
            return Err(Refused::TooMany);
        }
        let entry = reg.carts.entry(key.clone()).or_insert_with(|| Entry { tx: watch::channel(0).0, open: 0 });
        entry.open += 1;
        let changes = entry.tx.subscribe();
        *reg.addresses.entry(address.to_string()).or_default() += 1;
        reg.open += 1;
        metrics::gauge!("shop_cart_sync_streams").set(reg.open as f64);
        Ok(Subscription { changes, key, address: address.to_string(), registry: self.registry.clone() })
    }

    /// How many streams are open in this process.
    pub fn open_streams(&self) -> usize {
        self.registry().open
    }

    /// Wakes the open streams of the cart with key `key` on this instance, and no others.
    fn deliver(&self, key: &str) {
        if let Some(entry) = self.registry().carts.get(key) {
            entry.tx.send_modify(|v| *v = v.wrapping_add(1));
        }
    }

    /// The owner's cart changed. Best effort: a missed notice only delays the other page until
    /// its next action, so this never fails the request that changed the cart.
    pub fn changed(&self, owner: &CartOwner) {
        let key = owner.key();
        metrics::counter!("shop_cart_sync_published_total").increment(1);
        match &self.redis {
            Some(redis) => {
                let (redis, sync) = (redis.clone(), self.clone());
                tokio::spawn(async move {
                    if redis.publish(CHANNEL, &key).await.is_err() {
                        // Redis is down: at least this instance's pages hear it.
                        sync.deliver(&key);
                    }
                });
            }
            None => self.deliver(&key),
        }
    }

    /// With Redis: hands what the channel carries to this instance's streams, for the life of
    /// the process.
    pub async fn listen(&self, redis_url: &str) -> Result<(), fred::error::Error> {
        let sync = self.clone();
        crate::storage::redis::subscribe(redis_url, CHANNEL, move |key| {
            // Cart keys are short (`g:<32 hex>`, `u:<id>`): anything else is not ours.
            if key.len() <= 64 {
                sync.deliver(&key);
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn streams_are_bounded_per_cart_and_in_all_and_woken_per_cart() {
        let sync = CartSync::new(None, 10);
        let (a, b) = (CartOwner::User(1), CartOwner::User(2));
        let mut held: Vec<Subscription> =
            (0..STREAMS_PER_CART).map(|_| sync.subscribe(&a, "10.0.0.1").unwrap()).collect();
        assert_eq!(sync.subscribe(&a, "10.0.0.2").err(), Some(Refused::TooMany));
        held.push(sync.subscribe(&b, "10.0.0.2").unwrap());
        held.push(sync.subscribe(&b, "10.0.0.2").unwrap());
        assert_eq!(sync.subscribe(&CartOwner::User(3), "10.0.0.3").err(), Some(Refused::Full));
        sync.changed(&a);
        assert!(held[0].changes.has_changed().unwrap(), "a's streams hear a's change");
        assert!(!held[STREAMS_PER_CART].changes.has_changed().unwrap(), "b's do not");
        held.clear();
        assert_eq!(sync.open_streams(), 0);
        assert!(
            sync.registry().carts.is_empty() && sync.registry().addresses.is_empty(),
            "no entry outlives its streams"
        );
        assert!(sync.subscribe(&CartOwner::User(3), "10.0.0.3").is_ok());
    }

    #[tokio::test]
    async fn one_address_cannot_take_every_stream() {
        let sync = CartSync::new(None, 10_000);
        let held: Vec<Subscription> =
            (0..STREAMS_PER_ADDRESS as i64).map(|i| sync.subscribe(&CartOwner::User(i), "10.9.9.9").unwrap()).collect();
        assert_eq!(sync.subscribe(&CartOwner::User(-1), "10.9.9.9").err(), Some(Refused::TooMany));
        assert!(sync.subscribe(&CartOwner::User(-1), "10.9.9.8").is_ok(), "others still get theirs");
        drop(held);
    }
}
