//! Turns a `Config` into a ready `AppState`: connect, migrate, seed, choose the stores.

use crate::seed;
use app::config::Config;
use app::engines::experiments::Experiments;
use app::engines::payments::SimulatedPayments;
use app::engines::recs::Recommender;
use app::state::{AppState, Resources};
use app::storage::carts::Carts;
use app::storage::catalog::SqlCatalog;
use app::storage::catalog_cache::Catalog;
use app::storage::db::{Db, Dialect};
use app::storage::events::{EventSink, EventStore};
use app::storage::experiments::ExperimentStore;
use app::storage::orders::OrderStore;
use app::storage::rate_limit::{FailureCounter, MemoryCounter, RedisCounter, SqlCounter};
use app::storage::redis::Redis;
use app::storage::session_cache::SessionCache;
use app::storage::session_store::{GuardedRedisStore, ShopSessionStore, SqlSessionStore};
use app::storage::sql_cart::SqlCartStore;
use app::storage::users::UserStore;
use leptos::config::LeptosOptions;
use secrecy::ExposeSecret;
use std::sync::Arc;
use thiserror::Error;
use tower_sessions::cookie::Key;

#[derive(Debug, Error)]
pub enum StartupError {
    #[error("cannot connect to the database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("bad REDIS_URL: {0}")]
    Redis(String),
    #[error("cookie secret: {0}")]
    Secret(String),
}

/// Leptos settings the server needs; the site root holds the built `pkg/` and public files.
/// The pages name the client code and styles under `/assets/<fingerprint of pkg/>/` (Leptos
/// calls that part of the URL the package directory), so their URLs change with their content
/// and browsers may keep them for a year (`http::assets`).
/// Under `cargo leptos watch` the pages name `/pkg/` itself: files rebuilt there are picked up
/// (and hot-reloaded) without a restart, uncached.
pub fn leptos_options(config: &Config) -> LeptosOptions {
    let pkg_dir = if config.dev_watch {
        "pkg".to_string()
    } else {
        use crate::http::assets;
        assets::url_dir(assets::client_files(&config.site_root).fingerprint())
    };
    LeptosOptions::builder()
        .output_name("shop")
        .site_root(config.site_root.as_str())
        .site_pkg_dir(pkg_dir)
        .site_addr(config.addr)
        .build()
}

pub async fn connect_db(config: &Config) -> Result<Db, StartupError> {
    let is_pg = config.database_url.starts_with("postgres");
    let max = config.database_max_connections.unwrap_or(if is_pg { 16 } else { 8 });
    let db = Db::connect(&config.database_url, max).await?;
    db.migrate().await?;
    Ok(db)
}

pub async fn build_state(config: Config) -> Result<AppState, StartupError> {
    let db = connect_db(&config).await?;
    if config.seed_demo {
        let n = seed::seed_if_empty(&db).await?;
        if n > 0 {
            tracing::info!(products = n, "loaded the demo catalogue");
        }
        let n = seed::seed_history_if_empty(&db).await?;
        if n > 0 {
            tracing::info!(purchases = n, "loaded a synthetic purchase history for recommendations");
        }
    }
    let redis = match &config.redis_url {
        Some(url) => Some(Redis::connect(url, 8).await.map_err(|e| StartupError::Redis(e.to_string()))?),
        None => None,
    };
    tracing::info!(
        database = match db.dialect {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
        },
        redis = redis.is_some(),
        "storage ready"
    );
    let cookie_key = cookie_key(&config)?;
    // Carts read from memory in the embedded default only: there this process is the only writer
    // of the cart tables (as for sessions, `session_store` below).
    let cart_copy = (redis.is_none() && db.dialect == Dialect::Sqlite && config.cart_cache_bytes > 0)
        .then(|| app::storage::sql_cart::cart_copy(config.cart_cache_bytes));
    let sql_carts = match &cart_copy {
        Some(copy) => SqlCartStore::with_copy(db.clone(), copy.clone()),
        None => SqlCartStore::new(db.clone()),
    };
    let orders = OrderStore::with_cart_copy(db.clone(), cart_copy);
    let pricing = app::storage::pricing::PricingStore::new(db.clone());
    let carts = Carts::new(
        sql_carts,
        redis.as_ref(),
        config.session_inactivity.as_secs() as i64,
        orders.clone(),
        config.cart_persistence,
        config.cart_flush_idle,
    );
    // Sign-in counters are shared by every instance: in Redis when there is one, else in the
    // database when it is PostgreSQL (instances may share it). The embedded SQLite shop is one
    // process, so it counts in memory and spends none of SQLite's single writer on it.
    let login_failures: Arc<dyn FailureCounter> = match (&redis, db.dialect) {
        (Some(r), _) => Arc::new(RedisCounter::new(r.clone())),
        (None, Dialect::Postgres) => Arc::new(SqlCounter::new(db.clone())),
        (None, Dialect::Sqlite) => Arc::new(MemoryCounter::default()),
    };
    let leptos_options = leptos_options(&config);
    let users = UserStore::new(db.clone());
    let (events, _writer) = EventSink::start(db.clone(), 10_000);
    let event_store = EventStore::new(db.clone());
    let experiments = Experiments::new(ExperimentStore::new(db.clone()));
    let cart_sync = app::engines::cart_sync::CartSync::new(redis.clone(), config.max_live_streams);
    let catalog = Catalog::new(SqlCatalog::new(db.clone()), redis.clone());
    if let Some(url) = &config.redis_url {
        // Redis down at start: pages hear only this instance's cart changes until a restart, and
        // catalogue edits arrive through the change log instead (within seconds).
        if let Err(e) = cart_sync.listen(url).await {
            tracing::warn!(error = %e, "live cart sync could not subscribe to Redis");
        }
        if let Err(e) = catalog.listen(url).await {
            tracing::warn!(error = %e, "catalogue changes could not subscribe to Redis");
        }
    }
    experiments.reload().await.map_err(StartupError::Database)?;
    let payments = Arc::new(SimulatedPayments::new(config.simulated_capture_failures));
    Ok(AppState::new(Resources {
        config: Arc::new(config),
        leptos_options,
        catalog,
        db,
        redis,
        carts,
        users,
        login_failures,
        orders,
        pricing,
        payments,
        events,
        event_store,
        recommender: Recommender::default(),
        experiments,
        cart_sync,
        signer: app::cookies::Signer::new(&cookie_key),
        cookie_key,
    }))
}

/// The session store for this configuration.
pub fn session_store(state: &AppState) -> ShopSessionStore {
    match &state.redis {
        Some(r) => ShopSessionStore::Redis(GuardedRedisStore::new(r.clone())),
        // Only SQLite's table is this process's alone; instances share PostgreSQL's.
        None if state.db.dialect == Dialect::Sqlite && state.config.session_cache_bytes > 0 => {
            let cache = Arc::new(SessionCache::new(state.config.session_cache_bytes));
            ShopSessionStore::Sql(SqlSessionStore::with_cache(state.db.clone(), cache))
        }
        None => ShopSessionStore::Sql(SqlSessionStore::new(state.db.clone())),
    }
}

/// The key that signs session cookies: `COOKIE_SECRET`, or a random one kept in
/// `data/cookie-secret` (created on first start, readable only by its owner).
pub fn cookie_key(config: &Config) -> Result<Key, StartupError> {
    if let Some(secret) = &config.cookie_secret {
        return Key::try_from(secret.expose_secret().as_bytes()).map_err(|e| StartupError::Secret(e.to_string()));
    }
    if config.redis_url.is_some() {
        tracing::warn!("COOKIE_SECRET is not set: instances sharing Redis must share one secret to share sessions");
    }
    let path = std::path::Path::new("data/cookie-secret");
    if let Ok(hex) = std::fs::read_to_string(path) {
        if let Some(bytes) = decode_hex(hex.trim()) {
            if let Ok(key) = Key::try_from(bytes.as_slice()) {
                return Ok(key);
            }
        }
        tracing::warn!("data/cookie-secret is unreadable; making a new one (existing sessions end)");
    }
    let key = Key::generate();
    let hex: String = key.master().iter().map(|b| format!("{b:02x}")).collect();
    std::fs::create_dir_all("data").map_err(|e| StartupError::Secret(e.to_string()))?;
    write_private(path, &hex).map_err(|e| StartupError::Secret(e.to_string()))?;
    Ok(key)
}

fn write_private(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(contents.as_bytes())
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}
