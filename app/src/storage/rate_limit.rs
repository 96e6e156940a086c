//! Counting failures per key in fixed windows (login attempts per address and per email).
//! In Redis when configured, so every instance sees the same counts; in memory otherwise. If
//! Redis is down, counting falls back to memory rather than either failing logins or letting
//! guessing run unchecked.

use super::redis::Redis;
use async_trait::async_trait;
use fred::prelude::KeysInterface;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// A window's count and the seconds until it resets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub count: u64,
    pub resets_in_secs: u64,
}

#[async_trait]
pub trait FailureCounter: Send + Sync {
    /// Adds one to `key`; the window starts at the first failure.
    async fn add(&self, key: &str, window: Duration) -> Window;
    async fn get(&self, key: &str) -> Window;
    async fn reset(&self, key: &str);
}

#[derive(Default)]
pub struct MemoryCounter {
    windows: Mutex<HashMap<String, (u64, i64)>>,
}

fn now_ms() -> i64 {
    super::db::now_ms()
}

impl MemoryCounter {
    fn read(map: &mut HashMap<String, (u64, i64)>, key: &str) -> Window {
        let now = now_ms();
        match map.get(key) {
            Some(&(count, until)) if until > now => {
                Window { count, resets_in_secs: ((until - now) as u64).div_ceil(1000) }
            }
            Some(_) => {
                map.remove(key);
                Window { count: 0, resets_in_secs: 0 }
            }
            None => Window { count: 0, resets_in_secs: 0 },
        }
    }
}

#[async_trait]
impl FailureCounter for MemoryCounter {
    async fn add(&self, key: &str, window: Duration) -> Window {
        let mut map = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            let now = now_ms();
            map.retain(|_, (_, until)| *until > now);
        }
        let current = Self::read(&mut map, key);
        let until = if current.count == 0 {
            now_ms() + window.as_millis() as i64
        } else {
            now_ms() + current.resets_in_secs as i64 * 1000
        };
        map.insert(key.to_string(), (current.count + 1, until));
        Self::read(&mut map, key)
    }

    async fn get(&self, key: &str) -> Window {
        let mut map = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        Self::read(&mut map, key)
    }

    async fn reset(&self, key: &str) {
        self.windows.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }
}

pub struct RedisCounter {
    redis: Redis,
    fallback: MemoryCounter,
}

impl RedisCounter {
    pub fn new(redis: Redis) -> Self {
        RedisCounter { redis, fallback: MemoryCounter::default() }
    }

    fn key(key: &str) -> String {
        format!("rl:{key}")
    }
}

#[async_trait]
impl FailureCounter for RedisCounter {
    async fn add(&self, key: &str, window: Duration) -> Window {
        let k = Self::key(key);
        let client = self.redis.pool.next();
        let result = self
            .redis
            .call(async {
                let count: u64 = client.incr(&k).await?;
                if count == 1 {
                    let _: () = client.pexpire(&k, window.as_millis() as i64, None).await?;
                }
                let ttl: i64 = client.pttl(&k).await?;
                Ok::<_, fred::error::Error>(Window { count, resets_in_secs: (ttl.max(0) as u64).div_ceil(1000) })
            })
            .await;
        match result {
            Ok(w) => w,
            Err(_) => self.fallback.add(key, window).await,
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
            Ok(_) => self.fallback.get(key).await,
            Err(_) => self.fallback.get(key).await,
        }
    }

    async fn reset(&self, key: &str) {
        let k = Self::key(key);
        let client = self.redis.pool.next();
        let _ = self.redis.call(async { client.del::<(), _>(&k).await }).await;
        self.fallback.reset(key).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_windows_count_and_reset() {
        let c = MemoryCounter::default();
        assert_eq!(c.get("a").await.count, 0);
        c.add("a", Duration::from_secs(60)).await;
        let w = c.add("a", Duration::from_secs(60)).await;
        assert_eq!(w.count, 2);
        assert!(w.resets_in_secs > 0 && w.resets_in_secs <= 60);
        assert_eq!(c.get("b").await.count, 0);
        c.reset("a").await;
        assert_eq!(c.get("a").await.count, 0);
        c.add("short", Duration::from_millis(20)).await;
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert_eq!(c.get("short").await.count, 0, "windows expire");
    }
}
