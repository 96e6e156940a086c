//! Session stores. With `REDIS_URL`: tower-sessions-redis-store behind the Redis circuit breaker.
//! Without: `SqlSessionStore`, a table in the shop's own database, so the default run needs no
//! other service. Sessions hold identity only (user id, flags); carts live in the cart stores.
//! On SQLite the SQL store keeps an in-process copy (`session_cache`), since there the process
//! is the table's only writer.

use super::db::{now_ms, Db};
use super::redis::Redis;
use super::session_cache::SessionCache;
use async_trait::async_trait;
use sqlx::Row;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{Error, Result, SessionStore};
use tower_sessions_redis_store::RedisStore;

#[derive(Clone, Debug)]
pub struct SqlSessionStore {
    db: Db,
    cache: Option<std::sync::Arc<SessionCache>>,
}

impl SqlSessionStore {
    /// Every load reads the table: for a table several processes share.
    pub fn new(db: Db) -> Self {
        SqlSessionStore { db, cache: None }
    }

    /// Loads are served from `cache` where they can be. Only for a table this process alone
    /// writes (see `session_cache`).
    pub fn with_cache(db: Db, cache: std::sync::Arc<SessionCache>) -> Self {
        SqlSessionStore { db, cache: Some(cache) }
    }

    /// Runs `write`, a write of session `id`: through the copy when there is one, which empties
    /// the session's copy before and when the write ends, even if its caller has gone (see
    /// `read_copy`).
    async fn written<R, W>(&self, id: Id, write: W) -> Result<R>
    where
        R: Send + 'static,
        W: std::future::Future<Output = Result<R>> + Send + 'static,
    {
        match &self.cache {
            Some(cache) => cache.write(&id, write).await.map_err(|e| Error::Backend(e.to_string()))?,
            None => write.await,
        }
    }

    /// Writes session `id`'s row with `statement` (`INSERT_NEW` or `UPSERT`); rows written.
    async fn put_row(&self, statement: &'static str, id: Id, data: String, expires: i64) -> Result<u64> {
        let db = self.db.clone();
        self.written(id, async move {
            let res = sqlx::query(statement)
                .bind(id.to_string())
                .bind(data)
                .bind(expires)
                .execute(&mut *db.write().await.map_err(backend)?)
                .await
                .map_err(backend)?;
            Ok(res.rows_affected())
        })
        .await
    }

    /// Deletes expired sessions; run periodically.
    pub async fn delete_expired(&self) -> std::result::Result<u64, sqlx::Error> {
        let res = sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(now_ms())
            .execute(&mut *self.db.write().await?)
            .await?;
        Ok(res.rows_affected())
    }
}

/// A new session's row, unless its id is taken.
const INSERT_NEW: &str = "INSERT INTO sessions (id, data, expires_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING";
/// A session's row, new or replaced.
const UPSERT: &str = "INSERT INTO sessions (id, data, expires_at) VALUES ($1, $2, $3) \
                      ON CONFLICT (id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at";

fn backend(e: sqlx::Error) -> Error {
    Error::Backend(e.to_string())
}

fn expiry_ms(record: &Record) -> i64 {
    (record.expiry_date.unix_timestamp_nanos() / 1_000_000) as i64
}

#[async_trait]
impl SessionStore for SqlSessionStore {
    async fn create(&self, record: &mut Record) -> Result<()> {
        let data = serde_json::to_string(&record.data).map_err(|e| Error::Encode(e.to_string()))?;
        // A fresh random 128-bit id practically never collides; if it does, draw another.
        for _ in 0..8 {
            let inserted = self.put_row(INSERT_NEW, record.id, data.clone(), expiry_ms(record)).await?;
            if inserted == 1 {
                return Ok(());
            }
            record.id = Id::default();
        }
        Err(Error::Backend("could not allocate a session id".into()))
    }

    async fn save(&self, record: &Record) -> Result<()> {
        let data = serde_json::to_string(&record.data).map_err(|e| Error::Encode(e.to_string()))?;
        self.put_row(UPSERT, record.id, data, expiry_ms(record)).await?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        if let Some(record) = self.cache.as_ref().and_then(|c| c.get(id)) {
            return Ok(Some(record));
        }
        let ticket = self.cache.as_ref().map(|c| c.ticket(id));
        let row = sqlx::query("SELECT data, expires_at FROM sessions WHERE id = $1 AND expires_at > $2")
            .bind(id.to_string())
            .bind(now_ms())
            .fetch_optional(self.db.read())
            .await
            .map_err(backend)?;
        let Some(row) = row else { return Ok(None) };
        let data: String = row.try_get("data").map_err(backend)?;
        let expires: i64 = row.try_get("expires_at").map_err(backend)?;
        let expiry_date = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(expires) * 1_000_000)
            .map_err(|e| Error::Decode(e.to_string()))?;
        let json_bytes = data.len();
        let data = serde_json::from_str(&data).map_err(|e| Error::Decode(e.to_string()))?;
        let record = Record { id: *id, data, expiry_date };
        if let (Some(cache), Some(ticket)) = (&self.cache, ticket) {
            cache.offer(ticket, &record, json_bytes);
        }
        Ok(Some(record))
    }

    async fn delete(&self, id: &Id) -> Result<()> {
        let (db, id) = (self.db.clone(), *id);
        self.written(id, async move {
            sqlx::query("DELETE FROM sessions WHERE id = $1")
                .bind(id.to_string())
                .execute(&mut *db.write().await.map_err(backend)?)
                .await
                .map_err(backend)?;
            Ok(())
        })
        .await
    }
}

/// The Redis session store, failing fast through the shared circuit breaker while Redis is down.
#[derive(Clone)]
pub struct GuardedRedisStore {
    redis: Redis,
    inner: RedisStore<fred::prelude::Pool>,
}

impl std::fmt::Debug for GuardedRedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GuardedRedisStore")
    }
}

impl GuardedRedisStore {
    pub fn new(redis: Redis) -> Self {
        GuardedRedisStore { inner: RedisStore::new(redis.pool.clone()), redis }
    }
}

fn unavailable(e: super::redis::RedisError) -> Error {
    metrics::counter!("shop_session_store_errors_total").increment(1);
    Error::Backend(e.to_string())
}

#[async_trait]
impl SessionStore for GuardedRedisStore {
    async fn create(&self, record: &mut Record) -> Result<()> {
        self.redis.call(self.inner.create(record)).await.map_err(unavailable)
    }

    async fn save(&self, record: &Record) -> Result<()> {
        self.redis.call(self.inner.save(record)).await.map_err(unavailable)
    }

    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        self.redis.call(self.inner.load(id)).await.map_err(unavailable)
    }

    async fn delete(&self, id: &Id) -> Result<()> {
        self.redis.call(self.inner.delete(id)).await.map_err(unavailable)
    }
}

/// Either store, chosen at start-up.
#[derive(Clone, Debug)]
pub enum ShopSessionStore {
    Sql(SqlSessionStore),
    Redis(GuardedRedisStore),
}

#[async_trait]
impl SessionStore for ShopSessionStore {
    async fn create(&self, record: &mut Record) -> Result<()> {
        match self {
            ShopSessionStore::Sql(s) => s.create(record).await,
            ShopSessionStore::Redis(s) => s.create(record).await,
        }
    }
    async fn save(&self, record: &Record) -> Result<()> {
        match self {
            ShopSessionStore::Sql(s) => s.save(record).await,
            ShopSessionStore::Redis(s) => s.save(record).await,
        }
    }
    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        match self {
            ShopSessionStore::Sql(s) => s.load(id).await,
            ShopSessionStore::Redis(s) => s.load(id).await,
        }
    }
    async fn delete(&self, id: &Id) -> Result<()> {
        match self {
            ShopSessionStore::Sql(s) => s.delete(id).await,
            ShopSessionStore::Redis(s) => s.delete(id).await,
        }
    }
}
