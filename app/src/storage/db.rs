//! One connection pool for either database. The `Any` driver lets one set of queries serve
//! SQLite (the embedded default) and PostgreSQL; where their SQL differs, `Dialect` picks.
//!
//! The pool is private: reads go through `Db::read`, writes through `Db::write` (one statement)
//! or `Db::begin_write` (a transaction). On SQLite both writes queue for the process's one writer
//! slot, so writers wait their turn here, in order, instead of in SQLite's busy handler.

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Executor, Transaction};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, OwnedMutexGuard};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    pub dialect: Dialect,
    /// SQLite allows one writer at a time. Queuing writers here, in order, beats letting them
    /// race for the file lock, where losers sleep in SQLite's busy handler (latency spikes).
    sqlite_writer: Arc<Mutex<()>>,
}

/// A write transaction. On SQLite it also holds the process's writer slot until it ends.
pub struct Tx {
    tx: Transaction<'static, Any>,
    _writer: Option<OwnedMutexGuard<()>>,
}

impl Tx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl std::ops::Deref for Tx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }
}

/// A connection for one write outside a transaction (`Db::write`). On SQLite it holds the
/// process's writer slot until it is dropped, so use it for the one statement and let it go.
pub struct Writer {
    conn: PoolConnection<Any>,
    _writer: Option<OwnedMutexGuard<()>>,
}

impl std::ops::Deref for Writer {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for Writer {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }
}

pub type Row = AnyRow;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

impl Db {
    /// Connects to `url` (`sqlite://path` or `postgres://...`). A SQLite file and its folder are
    /// created when missing.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Db, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let dialect = if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Dialect::Postgres
        } else if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else {
            return Err(sqlx::Error::Configuration(
                format!("unsupported DATABASE_URL scheme (expected sqlite: or postgres:): {url}").into(),
            ));
        };
        let mut url = url.to_string();
        if dialect == Dialect::Sqlite {
            ensure_sqlite_parent_dir(&url);
            if !url.contains("mode=") && !url.contains(":memory:") {
                url.push_str(if url.contains('?') { "&mode=rwc" } else { "?mode=rwc" });
            }
        }
        let mut options = AnyPoolOptions::new()
            .max_connections(max_connections)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .idle_timeout(Duration::from_secs(300));
        if dialect == Dialect::Sqlite {
            // sqlx pings every connection it hands out, which on SQLite is one more round trip
            // to the connection's thread for each query (a cart read was two of them). An embedded
            // file cannot hang up; PostgreSQL keeps the ping, which replaces a connection a
            // restarted server dropped before a request sees it fail.
            options = options.test_before_acquire(false);
            // WAL lets readers run beside the one writer; the busy timeout makes writers queue
            // instead of failing; NORMAL sync is durable across application crashes.
            options = options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                         PRAGMA busy_timeout = 15000; PRAGMA foreign_keys = ON;",
                    )
                    .await?;
                    Ok(())
                })
            });
        }
        let pool = options.connect(&url).await?;
        Ok(Db { pool, dialect, sqlite_writer: Arc::new(Mutex::new(())) })
    }

    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        match self.dialect {
            Dialect::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await,
            Dialect::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await,
        }
    }

    /// The pool for reads (`SELECT`). Readers run beside the one writer (WAL on SQLite) and never
    /// queue. Never write through it: use `write` or `begin_write`, which queue on SQLite.
    pub fn read(&self) -> &AnyPool {
        &self.pool
    }

    /// A connection for a write of one statement outside a transaction:
    /// `sqlx::query(...).execute(&mut *db.write().await?)`. On SQLite it waits for the writer slot
    /// first (the same queue as `begin_write`) and holds it until dropped; on PostgreSQL it is a
    /// plain pooled connection. Inside an open `Tx`, write through the `Tx` instead: the slot is
    /// already held, and asking again would wait forever.
    pub async fn write(&self) -> Result<Writer, sqlx::Error> {
        let writer = match self.dialect {
            Dialect::Sqlite => Some(self.sqlite_writer.clone().lock_owned().await),
            Dialect::Postgres => None,
        };
        Ok(Writer { conn: self.pool.acquire().await?, _writer: writer })
    }

    /// Closes the pool (tools that are done with a database).
    pub async fn close(&self) {
        self.pool.close().await
    }

    /// How many connections the pool holds, and how many of them are idle (for metrics).
    pub fn pool_use(&self) -> (u32, usize) {
        (self.pool.size(), self.pool.num_idle())
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`), so two writers queue on the busy timeout instead of one of them
    /// failing when it upgrades a read lock. On PostgreSQL rows are locked as they are touched.
    pub async fn begin_write(&self) -> Result<Tx, sqlx::Error> {
        match self.dialect {
            Dialect::Sqlite => {
                let writer = self.sqlite_writer.clone().lock_owned().await;
                let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
                Ok(Tx { tx, _writer: Some(writer) })
            }
            Dialect::Postgres => Ok(Tx { tx: self.pool.begin().await?, _writer: None }),
        }
    }

    /// Cheap liveness check for `/readyz`.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ())
    }
}

fn ensure_sqlite_parent_dir(url: &str) {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:").split('?').next().unwrap_or("");
    if path.is_empty() || path.contains(":memory:") {
        return;
    }
    if let Some(parent) = std::path::Path::new(path).parent() {
        if !parent.as_os_str().is_empty() {
            let _ = std::fs::create_dir_all(parent);
        }
    }
}

/// Milliseconds since the Unix epoch: the one time format in the database.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::Db;

    /// A pooled SQLite connection is handed out without a ping (a round trip to its thread per
    /// query); a PostgreSQL one is pinged, so a connection a restarted server dropped is replaced.
    #[tokio::test]
    async fn only_postgres_connections_are_pinged_before_use() {
        let db = Db::connect("sqlite::memory:", 1).await.expect("sqlite");
        assert!(!db.read().options().get_test_before_acquire());
        if let Ok(url) = std::env::var("TEST_DATABASE_URL") {
            let db = Db::connect(&url, 1).await.expect("postgres");
            assert!(db.read().options().get_test_before_acquire());
        }
    }
}
