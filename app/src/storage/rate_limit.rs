//! Counting attempts per key in fixed windows (sign-ins per address, per address and account,
//! per account). Every attempt is counted *before* it is checked, in one atomic step (one Redis
//! script, one SQL statement), so concurrent attempts each see their own count and a burst cannot
//! all slip under the limit. A window always gets its expiry in that same step, so a key can never
//! be left counting forever. In Redis when configured (every instance sees the same counts), in
//! PostgreSQL otherwise, in memory for the embedded one-process shop; if the shared store is
//! down, counting falls back to this process's memory rather
//! than either failing sign-ins or letting guessing run unchecked. The database counter keeps a
//! note of keys already over their limit, so a flood of refused attempts costs no writes.

use super::db::{now_ms, Db};
use super::redis::Redis;
use async_trait::async_trait;
use fred::prelude::KeysInterface;
use fred::types::scripts::Script;
use sqlx::Row;
use std::time::Duration;

/// A window's count and the seconds until it resets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub count: u64,
    pub resets_in_secs: u64,
}

#[async_trait]
pub trait FailureCounter: Send + Sync {
    /// Counts one more against `key` and answers the count including it. The window starts at
    /// the first hit. `limit` is the caller's limit: once a key is over it, a counter may answer
    /// from memory without counting further (the answer is a refusal either way).
    async fn hit(&self, key: &str, window: Duration, limit: u64) -> Window;
    /// Takes one hit back (an attempt that turned out to be fine).
    async fn undo(&self, key: &str);
    async fn get(&self, key: &str) -> Window;
    async fn reset(&self, key: &str);

    /// Forgets several keys (a successful sign-in clears its counters at once).
    async fn reset_all(&self, keys: &[&str]) {
        for key in keys {
            self.reset(key).await;
        }
    }
}

/// Most keys the memory counter holds; the least used go first when it is full.
const MEMORY_KEYS: u64 = 100_000;

/// Windows in this process's memory: (count, window end in Unix ms) per key.
pub struct MemoryCounter {
    windows: moka::sync::Cache<String, (u64, i64)>,
}

impl Default for MemoryCounter {
    fn default() -> Self {
        MemoryCounter {
            windows: moka::sync::Cache::builder()
                .max_capacity(MEMORY_KEYS)
                .time_to_idle(Duration::from_secs(3600))
                .build(),
        }
    }
}

fn resets_in(until_ms: i64, now: i64) -> u64 {
    ((until_ms - now).max(0) as u64).div_ceil(1000)
}

#[async_trait]
impl FailureCounter for MemoryCounter {
    async fn hit(&self, key: &str, window: Duration, _limit: u64) -> Window {
        let now = now_ms();
        let fresh = (1, now + window.as_millis() as i64);
        let (count, until) = self
            .windows
            .entry(key.to_string())
            .and_upsert_with(|e| match e.map(|e| e.into_value()) {
                Some((count, until)) if until > now => (count + 1, until),
                _ => fresh,
            })
            .into_value();
        Window { count, resets_in_secs: resets_in(until, now) }
    }

    async fn undo(&self, key: &str) {
        let now = now_ms();
        if self.windows.contains_key(key) {
            self.windows.entry(key.to_string()).and_upsert_with(|e| match e.map(|e| e.into_value()) {
                Some((count, until)) => (count.saturating_sub(1), until),
                None => (0, now),
            });
        }
    }

    async fn get(&self, key: &str) -> Window {
        let now = now_ms();
        match self.windows.get(key) {
            Some((count, until)) if until > now => Window { count, resets_in_secs: resets_in(until, now) },
            _ => Window { count: 0, resets_in_secs: 0 },
        }
    }

    async fn reset(&self, key: &str) {
        self.windows.invalidate(key);
    }
}

/// Count and expiry in one step: the expiry is set whenever the key has none (a new window, or
/// a key some earlier code left without one).
const HIT: &str = r#"
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
"#;

const UNDO: &str = r#"
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then redis.call('DECR', KEYS[1]) end
return 0
"#;

pub struct RedisCounter {
    redis: Redis,
    hit: Script,
    undo: Script,
    fallback: MemoryCounter,
}

impl RedisCounter {
    pub fn new(redis: Redis) -> Self {
        RedisCounter {
            redis,
            hit: Script::from_lua(HIT),
            undo: Script::from_lua(UNDO),
            fallback: MemoryCounter::default(),
        }
    }

    fn key(key: &str) -> String {
        format!("rl:{key}")
    }
}

#[async_trait]
impl FailureCounter for RedisCounter {
    async fn hit(&self, key: &str, window: Duration, limit: u64) -> Window {
        let client = self.redis.pool.next();
        let args = vec![window.as_millis().max(1).to_string()];
        let result =
            self.redis.call(self.hit.evalsha_with_reload::<Vec<i64>, _, _>(client, Self::key(key), args)).await;
        match result {
            Ok(v) if v.len() == 2 => {
                Window { count: v[0].max(0) as u64, resets_in_secs: (v[1].max(0) as u64).div_ceil(1000) }
            }
            _ => self.fallback.hit(key, window, limit).await,
        }
    }

    async fn undo(&self, key: &str) {
        let client = self.redis.pool.next();
        let result = self
            .redis
            .call(self.undo.evalsha_with_reload::<i64, _, _>(client, Self::key(key), Vec::<String>::new()))
            .await;
        if result.is_err() {
            self.fallback.undo(key).await;
        }
    }

    async fn get(&self, key: &str) -> Window {
        let k = Self::key(key);
        let client = self.redis.pool.next();
        let result = self
            .redis
            .call(async {
                let count: Option<u64> = client.get(&k).await?;
                let ttl: i64 = client.pttl(&k).await?;
                Ok::<_, fred::error::Error>(Window {
                    count: count.unwrap_or(0),
                    resets_in_secs: (ttl.max(0) as u64).div_ceil(1000),
                })
            })
            .await;
        match result {
            Ok(w) if w.count > 0 => w,
            _ => self.fallback.get(key).await,
        }
    }

    async fn reset(&self, key: &str) {
        self.reset_all(&[key]).await;
    }

    async fn reset_all(&self, keys: &[&str]) {
        let names: Vec<String> = keys.iter().map(|k| Self::key(k)).collect();
        let client = self.redis.pool.next();
        let _ = self.redis.call(async { client.del::<(), _>(names).await }).await;
        for key in keys {
            self.fallback.reset(key).await;
        }
    }
}

/// Counters in the shop's database (`rate_limits`), for shops without Redis.
pub struct SqlCounter {
    db: Db,
    fallback: MemoryCounter,
    /// Keys known to be over their limit until their window ends: refused without a write.
    over: moka::sync::Cache<String, (u64, i64)>,
}

impl SqlCounter {
    pub fn new(db: Db) -> Self {
        SqlCounter {
            db,
            fallback: MemoryCounter::default(),
            over: moka::sync::Cache::builder()
                .max_capacity(MEMORY_KEYS)
                .time_to_live(Duration::from_secs(3600))
                .build(),
        }
    }

    async fn try_hit(&self, key: &str, window: Duration) -> Result<Window, sqlx::Error> {
        let now = now_ms();
        let mut tx = self.db.begin_write().await?;
        // One statement: a new or expired window starts at 1, a live one counts up.
        let row = sqlx::query(
            "INSERT INTO rate_limits (key, count, window_ends) VALUES ($1, 1, $2) \
             ON CONFLICT (key) DO UPDATE SET \
             count = CASE WHEN rate_limits.window_ends <= $3 THEN 1 ELSE rate_limits.count + 1 END, \
             window_ends = CASE WHEN rate_limits.window_ends <= $3 THEN $2 ELSE rate_limits.window_ends END \
             RETURNING count, window_ends",
        )
        .bind(key)
        .bind(now + window.as_millis() as i64)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        let count: i64 = row.try_get("count")?;
        Ok(Window { count: count.max(0) as u64, resets_in_secs: resets_in(row.try_get("window_ends")?, now) })
    }

    /// Deletes windows that have ended; run periodically.
    pub async fn delete_expired(db: &Db) -> Result<u64, sqlx::Error> {
        let res = sqlx::query("DELETE FROM rate_limits WHERE window_ends < $1")
            .bind(now_ms())
            .execute(&mut *db.write().await?)
            .await?;
        Ok(res.rows_affected())
    }
}

#[async_trait]
impl FailureCounter for SqlCounter {
    async fn hit(&self, key: &str, window: Duration, limit: u64) -> Window {
        let now = now_ms();
        if let Some((count, until)) = self.over.get(key).filter(|(_, until)| *until > now) {
            return Window { count: count + 1, resets_in_secs: resets_in(until, now) };
        }
        match self.try_hit(key, window).await {
            Ok(w) => {
                if w.count > limit {
                    self.over.insert(key.to_string(), (w.count, now + w.resets_in_secs as i64 * 1000));
                }
                w
            }
            Err(e) => {
                tracing::warn!(error = %e, "rate limit counter unavailable; counting in memory");
                self.fallback.hit(key, window, limit).await
            }
        }
    }

    async fn undo(&self, key: &str) {
        // The key may be under its limit again.
        self.over.invalidate(key);
        let result = async {
            let mut tx = self.db.begin_write().await?;
            sqlx::query("UPDATE rate_limits SET count = count - 1 WHERE key = $1 AND count > 0")
                .bind(key)
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        };
        if result.await.is_err() {
            self.fallback.undo(key).await;
        }
    }

    async fn get(&self, key: &str) -> Window {
        let now = now_ms();
        let row = sqlx::query("SELECT count, window_ends FROM rate_limits WHERE key = $1 AND window_ends > $2")
            .bind(key)
            .bind(now)
            .fetch_optional(self.db.read())
            .await;
        match row {
            Ok(Some(r)) => {
                let count: i64 = r.try_get("count").unwrap_or(0);
                let ends: i64 = r.try_get("window_ends").unwrap_or(now);
                Window { count: count.max(0) as u64, resets_in_secs: resets_in(ends, now) }
            }
            Ok(None) => self.fallback.get(key).await,
            Err(_) => self.fallback.get(key).await,
        }
    }

    async fn reset(&self, key: &str) {
        self.reset_all(&[key]).await;
    }

    async fn reset_all(&self, keys: &[&str]) {
        let placeholders: Vec<String> = (1..=keys.len()).map(|i| format!("${i}")).collect();
        let sql = format!("DELETE FROM rate_limits WHERE key IN ({})", placeholders.join(", "));
        let result = async {
            let mut query = sqlx::query(&sql);
            for key in keys {
                query = query.bind(*key);
            }
            let mut tx = self.db.begin_write().await?;
            query.execute(&mut *tx).await?;
            tx.commit().await
        };
        let _ = result.await;
        for key in keys {
            self.over.invalidate(*key);
            self.fallback.reset(key).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_windows_count_and_reset() {
        let c = MemoryCounter::default();
        assert_eq!(c.get("a").await.count, 0);
        c.hit("a", Duration::from_secs(60), 5).await;
        let w = c.hit("a", Duration::from_secs(60), 5).await;
        assert_eq!(w.count, 2);
        assert!(w.resets_in_secs > 0 && w.resets_in_secs <= 60);
        c.undo("a").await;
        assert_eq!(c.get("a").await.count, 1);
        assert_eq!(c.get("b").await.count, 0);
        c.reset("a").await;
        assert_eq!(c.get("a").await.count, 0);
        c.hit("short", Duration::from_millis(20), 5).await;
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert_eq!(c.get("short").await.count, 0, "windows expire");
        assert_eq!(c.hit("short", Duration::from_secs(60), 5).await.count, 1, "and start again");
    }
}
