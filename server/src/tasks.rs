//! Background work of a server process.

use app::state::AppState;
use app::storage::rate_limit::SqlCounter;
use app::storage::session_store::SqlSessionStore;
use std::time::Duration;

/// Hourly: drop expired SQL sessions and guest carts idle longer than a session lives.
/// (With Redis both expire by TTL instead.)
pub fn spawn_housekeeping(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            if state.redis.is_none() {
                match SqlSessionStore::new(state.db.clone()).delete_expired().await {
                    Ok(n) if n > 0 => tracing::info!(sessions = n, "deleted expired sessions"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "could not delete expired sessions"),
                }
            }
            match state.catalog.sql().prune_changes(24 * 3600 * 1000).await {
                Ok(n) if n > 0 => tracing::info!(changes = n, "pruned the catalogue change log"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not prune the catalogue change log"),
            }
            let max_age = state.config.session_inactivity.as_millis() as i64;
            match state.carts.sql().purge_guest_carts(max_age).await {
                Ok(n) if n > 0 => tracing::info!(carts = n, "deleted abandoned guest carts"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not delete abandoned guest carts"),
            }
            // Consumed cart versions older than a session: their carts have moved on or gone.
            if let Err(e) = state.orders.prune_cart_versions(max_age).await {
                tracing::warn!(error = %e, "could not prune consumed cart versions");
            }
            if let Err(e) = SqlCounter::delete_expired(&state.db).await {
                tracing::warn!(error = %e, "could not delete ended rate limit windows");
            }
        }
    })
}

/// Feature flags: reload every `RELOAD_EVERY`, so a change made on any instance is live on all of
/// them within seconds.
pub fn spawn_flag_reload(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(app::engines::experiments::RELOAD_EVERY);
        loop {
            tick.tick().await;
            if let Err(e) = state.experiments.reload().await {
                tracing::warn!(error = %e, "could not reload feature flags");
            }
        }
    })
}

/// Recommendations: load what is stored at start (or compute it if nothing is), recompute every
/// `RECOMPUTE_EVERY`, and in between reload what another instance or the CLI stored.
pub fn spawn_recommendations(state: AppState) -> tokio::task::JoinHandle<()> {
    const RECOMPUTE_EVERY: Duration = Duration::from_secs(600);
    const RELOAD_EVERY: Duration = Duration::from_secs(60);
    tokio::spawn(async move {
        let mut last = std::time::Instant::now();
        let fresh = match state.event_store.load_neighbours().await {
            Ok(n) if !n.is_empty() => app::services::recs::reload(&state).await.is_ok(),
            _ => false,
        };
        if !fresh {
            if let Err(e) = app::services::recs::recompute(&state).await {
                tracing::warn!(error = %e, "could not compute recommendations");
            }
        }
        let mut tick = tokio::time::interval(RELOAD_EVERY);
        tick.tick().await;
        loop {
            tick.tick().await;
            let result = if last.elapsed() >= RECOMPUTE_EVERY {
                last = std::time::Instant::now();
                app::services::recs::recompute(&state).await.map(|_| ())
            } else {
                app::services::recs::reload(&state).await
            };
            if let Err(e) = result {
                tracing::warn!(error = %e, "recommendation refresh failed");
            }
        }
    })
}

/// How many of the most viewed products are loaded into the cache at start.
pub const WARM_PRODUCTS: u32 = 200;

/// Loads the products viewed most in the last week (then best sellers) into the catalogue cache,
/// so the first shoppers after a start or a deploy do not all wait on the database.
pub async fn warm_catalog(state: &AppState) {
    let started = std::time::Instant::now();
    let since = app::storage::db::now_ms() - 7 * 24 * 3600 * 1000;
    let result = async {
        let slugs = state.catalog.sql().most_viewed(since, WARM_PRODUCTS).await?;
        state.catalog.warm(&slugs).await
    };
    match result.await {
        Ok(n) => tracing::info!(products = n, ms = started.elapsed().as_millis() as u64, "warmed the catalogue cache"),
        Err(e) => tracing::warn!(error = %e, "could not warm the catalogue cache"),
    }
}

/// Catalogue edits made elsewhere: follow the `catalog_changes` log every `FOLLOW_EVERY`.
pub fn spawn_catalog_follow(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(app::storage::catalog_cache::FOLLOW_EVERY);
        loop {
            tick.tick().await;
            if let Err(e) = state.catalog.follow_log().await {
                tracing::warn!(error = %e, "could not read the catalogue change log");
            }
        }
    })
}

/// Mending what a failure left behind: every second, the Redis copies of carts that could not be
/// dropped and (write-behind) the carts idle long enough to be written to the database; every minute, payments authorised but not captured (a capture that failed, or
/// a process that stopped between the order and the capture).
pub fn spawn_repairs(state: AppState) -> tokio::task::JoinHandle<()> {
    const FLUSH_BATCH: usize = 500;
    const CAPTURE_AFTER: Duration = Duration::from_secs(60);
    const CAPTURE_ATTEMPTS: i64 = 10;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut last_capture = std::time::Instant::now();
        loop {
            tick.tick().await;
            state.carts.repair().await;
            // Write-behind: the carts idle long enough go to the database (a few hundred a
            // second per instance at most, so a backlog cannot starve the requests).
            match state.carts.flush_idle(FLUSH_BATCH, false).await {
                Ok(n) if n > 0 => tracing::debug!(carts = n, "wrote idle carts to the database"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not write idle carts to the database"),
            }
            if last_capture.elapsed() >= CAPTURE_AFTER {
                last_capture = std::time::Instant::now();
                match app::services::checkout::retry_captures(&state, CAPTURE_AFTER, CAPTURE_ATTEMPTS).await {
                    Ok(n) if n > 0 => tracing::info!(orders = n, "captured payments that had failed"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "could not retry payment captures"),
                }
            }
        }
    })
}

/// At shutdown: writes every cart changed in Redis and not yet in the database (write-behind),
/// for at most ten seconds.
pub async fn flush_carts(state: &AppState) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        match state.carts.flush_idle(1_000, true).await {
            Ok(0) => return,
            Ok(n) => tracing::info!(carts = n, "wrote carts to the database before stopping"),
            Err(e) => {
                tracing::warn!(error = %e, "could not write every cart to the database before stopping");
                return;
            }
        }
    }
}
