//! Everything a request handler or server function needs, built once at start-up by the server
//! and handed to Leptos as context.

use crate::config::Config;
use crate::error::AppError;
use crate::services::experiments::Experiments;
use crate::services::payments::PaymentProvider;
use crate::services::recs::Recommender;
use crate::storage::cached_cart::CachedCartStore;
use crate::storage::cart_store::CartStore;
use crate::storage::catalog_cache::Catalog;
use crate::storage::db::Db;
use crate::storage::events::{EventSink, EventStore};
use crate::storage::orders::OrderStore;
use crate::storage::rate_limit::FailureCounter;
use crate::storage::redis::Redis;
use crate::storage::sql_cart::SqlCartStore;
use crate::storage::users::UserStore;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub leptos_options: LeptosOptions,
    pub db: Db,
    pub catalog: Catalog,
    /// Present when `REDIS_URL` is set.
    pub redis: Option<Redis>,
    /// Guest carts: Redis when configured, else SQL.
    pub guest_carts: Arc<dyn CartStore>,
    /// Account carts: always SQL (durable), cached in Redis when configured.
    pub user_carts: Arc<dyn CartStore>,
    /// The SQL cart tables, for the login merge and housekeeping.
    pub sql_carts: SqlCartStore,
    /// The Redis copy of account carts, when Redis is configured.
    pub cart_cache: Option<CachedCartStore>,
    pub users: UserStore,
    /// Failed sign-ins per address and per email.
    pub login_failures: Arc<dyn FailureCounter>,
    pub orders: OrderStore,
    pub payments: Arc<dyn PaymentProvider>,
    /// Queue of shopper signals, written in batches.
    pub events: EventSink,
    pub event_store: EventStore,
    pub recommender: Recommender,
    /// Tells open pages that their cart changed (in memory, or over Redis pub/sub).
    pub cart_sync: crate::services::cart_sync::CartSync,
    /// Feature flags and experiments.
    pub experiments: Experiments,
}

impl AppState {
    /// Guest carts live in the SQL tables (no Redis): the login merge can take them in its own
    /// transaction.
    pub fn guest_carts_in_sql(&self) -> bool {
        self.redis.is_none()
    }
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
