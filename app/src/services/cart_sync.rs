//! Live cart sync: when a cart changes, every open page of its owner hears about it within a
//! second (Server-Sent Events at `/events/cart`, served by the server crate) and reloads the cart.
//! With Redis the news goes through a pub/sub channel so pages held open by other instances hear
//! it too; with the embedded default one process delivers it in memory.

use crate::storage::cart_store::CartOwner;
use crate::storage::redis::Redis;
use tokio::sync::broadcast;

pub const CHANNEL: &str = "shop:cart-changed";

#[derive(Clone)]
pub struct CartSync {
    local: broadcast::Sender<String>,
    redis: Option<Redis>,
    /// Set at shutdown: open streams end so the server can drain.
    closing: std::sync::Arc<tokio::sync::watch::Sender<bool>>,
}

impl CartSync {
    pub fn new(redis: Option<Redis>) -> Self {
        let (local, _) = broadcast::channel(1024);
        CartSync { local, redis, closing: std::sync::Arc::new(tokio::sync::watch::channel(false).0) }
    }

    /// Resolves when the server starts shutting down.
    pub fn closing(&self) -> tokio::sync::watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Ends every open stream (graceful shutdown).
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Cart keys (`CartOwner::key`) as they change, on every instance.
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.local.subscribe()
    }

    /// The owner's cart changed. Best effort: a missed notice only delays the other page until
    /// its next action, so this never fails the request that changed the cart.
    pub fn changed(&self, owner: &CartOwner) {
        let key = owner.key();
        metrics::counter!("shop_cart_sync_published_total").increment(1);
        match &self.redis {
            Some(redis) => {
                let (redis, local) = (redis.clone(), self.local.clone());
                tokio::spawn(async move {
                    if redis.publish(CHANNEL, &key).await.is_err() {
                        // Redis is down: at least this instance's pages hear it.
                        let _ = local.send(key);
                    }
                });
            }
            None => {
                let _ = self.local.send(key);
            }
        }
    }

    /// With Redis: forwards what the channel carries to this instance's pages, for the life of
    /// the process.
    pub async fn listen(&self, redis_url: &str) -> Result<(), fred::error::Error> {
        let local = self.local.clone();
        crate::storage::redis::subscribe(redis_url, CHANNEL, move |key| {
            let _ = local.send(key);
        })
        .await
    }
}
