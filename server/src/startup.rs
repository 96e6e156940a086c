//! Turns a `Config` into a ready `AppState`: connect, migrate, seed.

use crate::seed;
use app::config::Config;
use app::state::AppState;
use app::storage::catalog::SqlCatalog;
use app::storage::catalog_cache::Catalog;
use app::storage::db::{Db, Dialect};
use leptos::config::LeptosOptions;
use std::sync::Arc;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StartupError {
    #[error("cannot connect to the database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Leptos settings the server needs; the site root holds the built `pkg/` and public files.
pub fn leptos_options(config: &Config) -> LeptosOptions {
    let site_root = std::env::var("LEPTOS_SITE_ROOT").unwrap_or_else(|_| "target/site".into());
    LeptosOptions::builder().output_name("shop").site_root(site_root).site_pkg_dir("pkg").site_addr(config.addr).build()
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
    }
    tracing::info!(
        database = match db.dialect {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
        },
        "database ready"
    );
    let leptos_options = leptos_options(&config);
    Ok(AppState { config: Arc::new(config), leptos_options, catalog: Catalog::new(SqlCatalog::new(db.clone())), db })
}
