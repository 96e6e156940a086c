//! Everything a request handler or server function needs, built once at start-up by the server
//! and handed to Leptos as context: storage and the long-lived engines, nothing that knows about
//! requests.

use crate::config::Config;
use crate::cookies::Signer;
use crate::engines::cart_sync::CartSync;
use crate::engines::experiments::Experiments;
use crate::engines::payments::PaymentProvider;
use crate::engines::recs::Recommender;
use crate::error::AppError;
use crate::storage::carts::Carts;
use crate::storage::catalog_cache::Catalog;
use crate::storage::db::Db;
use crate::storage::events::{EventSink, EventStore};
use crate::storage::orders::OrderStore;
use crate::storage::pricing::PricingStore;
use crate::storage::rate_limit::FailureCounter;
use crate::storage::redis::Redis;
use crate::storage::users::UserStore;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;

/// The shop's state, shared by every request: one pointer, so the clones that axum's `State`
/// extractor and the Leptos context make on every request (several per request) cost one
/// reference count each rather than one per store and cache inside (profiled: cloning and
/// dropping the whole struct was a quarter of an add-to-cart's CPU time).
#[derive(Clone)]
pub struct AppState(Arc<Resources>);

impl AppState {
    pub fn new(resources: Resources) -> AppState {
        AppState(Arc::new(resources))
    }
}

impl std::ops::Deref for AppState {
    type Target = Resources;
    fn deref(&self) -> &Resources {
        &self.0
    }
}

/// What `AppState` holds.
pub struct Resources {
    pub config: Arc<Config>,
    pub leptos_options: LeptosOptions,
    pub db: Db,
    pub catalog: Catalog,
    /// Present when `REDIS_URL` is set.
    pub redis: Option<Redis>,
    /// Every cart, whichever store holds it (guests: Redis when configured, else SQL; accounts:
    /// SQL, with a Redis copy when configured).
    pub carts: Carts,
    pub users: UserStore,
    /// Failed sign-ins per address and per email.
    pub login_failures: Arc<dyn FailureCounter>,
    pub orders: OrderStore,
    /// Promotions, shipping zones and methods, tax settings.
    pub pricing: PricingStore,
    pub payments: Arc<dyn PaymentProvider>,
    /// Queue of shopper signals, written in batches.
    pub events: EventSink,
    pub event_store: EventStore,
    pub recommender: Recommender,
    /// Tells open pages that their cart changed (in memory, or over Redis pub/sub).
    pub cart_sync: CartSync,
    /// Feature flags and experiments.
    pub experiments: Experiments,
    /// The key that signs the session cookie (derived from the cookie secret).
    pub cookie_key: tower_sessions::cookie::Key,
    /// Signs the shop's own cookie values (anonymous id, account hint) with the same secret.
    pub signer: Signer,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// The state from the Leptos context of the current request.
pub fn app_state() -> Result<AppState, AppError> {
    leptos::prelude::use_context::<AppState>().ok_or_else(|| {
        tracing::error!("AppState missing from the Leptos context");
        AppError::internal()
    })
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                tracing::warn!(error = %e, "database unavailable");
                AppError::Unavailable("The shop is busy right now. Please try again in a moment.".into())
            }
            e => {
                tracing::error!(error = %e, "database error");
                AppError::internal()
            }
        }
    }
}
