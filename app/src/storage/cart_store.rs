//! Where carts live. One trait, two implementations that pass the same test suite
//! (`server/tests/cart_store.rs`): `SqlCartStore` (one row per line, changes serialised by the
//! cart row) and `RedisCartStore` (one hash per cart, changed by Lua scripts). Every mutation is
//! a single atomic step in the store: no request reads a whole cart and writes it back.

use crate::domain::cart::{StoredCart, StoredLine};
use async_trait::async_trait;
use thiserror::Error;

/// Whose cart.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CartOwner {
    /// A visitor without an account, by a hash of their session id.
    Guest(String),
    User(i64),
}

impl CartOwner {
    /// The key in the stores: `g:<hash>` or `u:<id>`.
    pub fn key(&self) -> String {
        match self {
            CartOwner::Guest(h) => format!("g:{h}"),
            CartOwner::User(id) => format!("u:{id}"),
        }
    }

    /// The owner a store key names (`g:<hash>`, `u:<id>`), if it names one.
    pub fn from_key(key: &str) -> Option<CartOwner> {
        match key.split_once(':')? {
            ("g", hash) if !hash.is_empty() => Some(CartOwner::Guest(hash.to_string())),
            ("u", id) => id.parse().ok().map(CartOwner::User),
            _ => None,
        }
    }

    pub fn is_guest(&self) -> bool {
        matches!(self, CartOwner::Guest(_))
    }
}

/// A cart held by an operation that must see it unchanged until it ends: an order being placed
/// (`o:<order id>`) or a sign-in merging it into an account (`m:<user id>`). Only carts kept in
/// Redis are claimed; SQL carts are held by the transaction's row lock instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    pub id: String,
    /// When it was taken (Unix ms): a claim whose holder died is given back after a while.
    pub since_ms: i64,
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum StoreError {
    #[error("the cart already holds the most lines allowed")]
    CartFull,
    #[error("the cart is held by {}", .0.id)]
    Claimed(Claim),
    /// The cart was ordered (as this reference) and is being emptied: it cannot change.
    #[error("the cart was ordered as {0}")]
    Ordered(String),
    #[error("cart storage unavailable: {0}")]
    Unavailable(String),
    #[error("cart storage failed: {0}")]
    Backend(String),
}

/// The result of an add or set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub cart: StoredCart,
    /// The line's quantity afterwards.
    pub quantity: u32,
    /// The request asked for more than the cap allowed.
    pub capped: bool,
}

/// One requested change to a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineChange {
    pub variant_id: i64,
    pub mode: Mode,
    pub quantity: u32,
    /// Most units the line may hold (stock and the per-line maximum).
    pub cap: u32,
    /// The price the shopper saw, recorded to tell them later if it changed.
    pub price_cents: i64,
    pub max_lines: usize,
}

/// Whether `set` replaces a quantity or `add` adds to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Add,
    Set,
}

#[async_trait]
pub trait CartStore: Send + Sync {
    async fn load(&self, owner: &CartOwner) -> Result<StoredCart, StoreError>;

    /// Atomically: `new = min(cap, old + quantity)` (Add) or `min(cap, quantity)` (Set); a
    /// result of 0 removes the line. A new line is refused with `CartFull` when the cart already
    /// has `max_lines`.
    async fn change(&self, owner: &CartOwner, change: LineChange) -> Result<Change, StoreError>;

    async fn remove(&self, owner: &CartOwner, variant_id: i64) -> Result<StoredCart, StoreError>;

    /// Empties the cart; its version still increases, so it is not mistaken for a lost cart.
    async fn clear(&self, owner: &CartOwner) -> Result<StoredCart, StoreError>;

    /// Writes `lines` only if the cart is pristine (never written or gone), atomically; returns
    /// `None` when it was not, so two restores of the same browser copy cannot both apply.
    async fn restore_if_pristine(
        &self,
        owner: &CartOwner,
        lines: &[StoredLine],
    ) -> Result<Option<StoredCart>, StoreError>;
}
