//! Background work of a server process.

use app::state::AppState;
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
            let max_age = state.config.session_inactivity.as_millis() as i64;
            match state.sql_carts.purge_guest_carts(max_age).await {
                Ok(n) if n > 0 => tracing::info!(carts = n, "deleted abandoned guest carts"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not delete abandoned guest carts"),
            }
        }
    })
}
