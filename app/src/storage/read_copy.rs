//! An in-process copy of rows that only this process writes (the embedded default: one process on
//! one SQLite file), so a hot read needs no round trip to SQLite's thread. Sessions and carts use
//! it; it is never used where several processes share the tables (PostgreSQL, or Redis beside
//! the database), since a write on one instance would not reach another's copy.
//!
//! The copy is filled only by loads and emptied by every write, and a load may fill it only if no
//! write to that key began meanwhile. Otherwise a load that read the row just before a write could
//! put the old row back after the write emptied the copy, and it would be served until it aged
//! out. Each write bumps a counter for its shard of keys before it reaches the database and again
//! once it is done; a load notes the counter before it reads and fills the copy only if the
//! counter still reads the same, checked under the same lock.
//!
//! "Once it is done" must mean once the database has it, whatever happens to the request: a
//! write whose caller went away (a closed connection drops the handler's future) can still
//! commit (a statement already handed to SQLite's thread, a change queued for a group commit).
//! So writes run through [`ReadCopy::write`], on a task of their own that empties the copy again
//! when the write ends, even if it panics; at most `MAX_DETACHED_WRITES` at once, so callers that
//! keep going away cannot pile up tasks.

use moka::sync::Cache;
use std::future::Future;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

/// Counter shards: writes to different keys rarely keep each other's loads out of the copy.
const SHARDS: usize = 64;
/// Writes running detached from their callers at once; more callers wait for a slot (and one
/// that goes away while it waits has written nothing).
pub const MAX_DETACHED_WRITES: usize = 1024;

pub struct ReadCopy<K, V> {
    /// Each value with its weight and the generation it was read in.
    entries: Cache<K, (V, u32, u64)>,
    writes: Box<[Mutex<u64>]>,
    /// Moves on with every `forget_all`: an entry of an older generation is never served, so the
    /// purge does not rest on the cache's own clock.
    generation: AtomicU64,
    hasher: RandomState,
    detached: Arc<Semaphore>,
}

/// A write run by [`ReadCopy::write`] whose task panicked: whether it reached the database is not
/// known (the copy was emptied all the same).
#[derive(Debug, thiserror::Error)]
#[error("a write stopped before it finished: {0}")]
pub struct WriteStopped(String);

/// Empties the keys' copies when dropped: when the write it travels with ends, however it ends.
struct ForgetWhenDone<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    copy: Arc<ReadCopy<K, V>>,
    keys: Vec<K>,
}

impl<K, V> Drop for ForgetWhenDone<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn drop(&mut self) {
        for key in &self.keys {
            self.copy.forget(key);
        }
    }
}

/// What a load holds while it reads the database: which shard, and its counter at the start.
#[derive(Debug)]
pub struct Ticket {
    shard: usize,
    writes: u64,
}

impl<K, V> std::fmt::Debug for ReadCopy<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadCopy").field("entries", &self.entries.entry_count()).finish()
    }
}

impl<K, V> ReadCopy<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// A copy holding at most `max_bytes` (as each entry's `bytes` says), each entry served for at
    /// most `time_to_live`: a bound on how stale it could be if anything ever wrote the table
    /// behind its owner's back.
    pub fn new(max_bytes: u64, time_to_live: Duration) -> Self {
        ReadCopy {
            entries: Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|_, (_, bytes, _): &(V, u32, u64)| *bytes)
                .time_to_live(time_to_live)
                .build(),
            writes: (0..SHARDS).map(|_| Mutex::new(0)).collect(),
            generation: AtomicU64::new(0),
            hasher: RandomState::new(),
            detached: Arc::new(Semaphore::new(MAX_DETACHED_WRITES)),
        }
    }

    fn shard(&self, key: &K) -> usize {
        (self.hasher.hash_one(key) as usize) % SHARDS
    }

    fn counter(&self, shard: usize) -> std::sync::MutexGuard<'_, u64> {
        // The lock guards a plain counter; a panic elsewhere cannot leave it half-written.
        self.writes[shard].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The key's copy, if there is one.
    pub fn get(&self, key: &K) -> Option<V> {
        let (value, _, generation) = self.entries.get(key)?;
        if generation != self.generation.load(Ordering::Acquire) {
            self.entries.invalidate(key);
            return None;
        }
        Some(value)
    }

    /// Drops the key's copy without counting a write (an entry its reader found out of date).
    pub fn drop_copy(&self, key: &K) {
        self.entries.invalidate(key);
    }

    /// Called by a load before it reads the database.
    pub fn ticket(&self, key: &K) -> Ticket {
        let shard = self.shard(key);
        Ticket { shard, writes: *self.counter(shard) }
    }

    /// Called by a load with what it read and what it weighs. Kept only if no write to the shard
    /// began since the ticket.
    pub fn offer(&self, ticket: Ticket, key: K, value: V, bytes: u32) {
        let counter = self.counter(ticket.shard);
        if *counter == ticket.writes {
            // Read under the shard's lock, which `forget_all` holds while it moves this on.
            let generation = self.generation.load(Ordering::Acquire);
            self.entries.insert(key, (value, bytes, generation));
        }
    }

    /// Called by every write, before it reaches the database and again once it is done (whether
    /// it succeeded or not: a write that failed late may still have committed).
    pub fn forget(&self, key: &K) {
        let mut counter = self.counter(self.shard(key));
        *counter += 1;
        self.entries.invalidate(key);
    }

    /// `forget` for every key at once (a write whose keys are not known, such as a purge).
    pub fn forget_all(&self) {
        let mut counters: Vec<_> = (0..SHARDS).map(|shard| self.counter(shard)).collect();
        for counter in &mut counters {
            **counter += 1;
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
        // Frees the memory; what it might miss is already out of date by its generation.
        self.entries.invalidate_all();
    }

    /// Runs `write`, a write of the rows behind `keys`, keeping the copy right: their copies are
    /// emptied before it starts and again when it ends. It runs on a task of its own (see the
    /// module's comment), once one of the `MAX_DETACHED_WRITES` slots is free.
    pub async fn write<R, W>(self: &Arc<Self>, keys: Vec<K>, write: W) -> Result<R, WriteStopped>
    where
        R: Send + 'static,
        W: Future<Output = R> + Send + 'static,
    {
        let slot = self.detached.clone().acquire_owned().await.map_err(|e| WriteStopped(e.to_string()))?;
        for key in &keys {
            self.forget(key);
        }
        let done = ForgetWhenDone { copy: self.clone(), keys };
        tokio::spawn(async move {
            let (_done, _slot) = (done, slot);
            write.await
        })
        .await
        .map_err(|e| WriteStopped(e.to_string()))
    }

    /// Bytes held (after moka's pending bookkeeping has run).
    pub fn weighted_size(&self) -> u64 {
        self.entries.run_pending_tasks();
        self.entries.weighted_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy() -> ReadCopy<String, u64> {
        ReadCopy::new(1 << 20, Duration::from_secs(60))
    }

    #[test]
    fn a_load_that_raced_a_write_does_not_fill_the_copy() {
        let copy = copy();
        let key = "g:1".to_string();
        // The load reads version 1; meanwhile a write begins (and later makes it version 2).
        let ticket = copy.ticket(&key);
        copy.forget(&key);
        copy.offer(ticket, key.clone(), 1, 64);
        assert_eq!(copy.get(&key), None, "the stale read must not be served");
        // A load with no write in between fills it.
        let ticket = copy.ticket(&key);
        copy.offer(ticket, key.clone(), 2, 64);
        assert_eq!(copy.get(&key), Some(2));
        // A write empties it.
        copy.forget(&key);
        assert_eq!(copy.get(&key), None);
    }

    #[test]
    fn forgetting_everything_also_keeps_out_the_loads_under_way() {
        let copy = copy();
        let (a, b) = ("g:a".to_string(), "g:b".to_string());
        copy.offer(copy.ticket(&a), a.clone(), 1, 64);
        let under_way = copy.ticket(&b);
        copy.forget_all();
        copy.offer(under_way, b.clone(), 1, 64);
        assert_eq!(copy.get(&a), None);
        assert_eq!(copy.get(&b), None);
    }

    #[test]
    fn an_entry_from_before_forget_all_is_never_served() {
        let copy = copy();
        let key = "g:old".to_string();
        copy.offer(copy.ticket(&key), key.clone(), 1, 64);
        copy.forget_all();
        // As if the cache's own purge had missed it (same clock tick): the generation catches it.
        assert_eq!(copy.get(&key), None);
        copy.offer(copy.ticket(&key), key.clone(), 2, 64);
        assert_eq!(copy.get(&key), Some(2), "a read after the purge is kept");
    }

    #[tokio::test]
    async fn a_write_that_panics_still_empties_the_copy() {
        let copy = Arc::new(copy());
        let key = "g:p".to_string();
        let (inside, k) = (copy.clone(), key.clone());
        let stopped = copy
            .write(vec![key.clone()], async move {
                // A load fills the copy while the write is under way, then the write fails after
                // it may have reached the database.
                inside.offer(inside.ticket(&k), k.clone(), 1, 64);
                assert_eq!(inside.get(&k), Some(1));
                panic!("the write failed midway")
            })
            .await;
        assert!(stopped.is_err());
        assert_eq!(copy.get(&key), None, "what was read during the write is not served after it");
        assert_eq!(copy.detached.available_permits(), MAX_DETACHED_WRITES, "the slot came back");
    }

    #[test]
    fn the_total_is_bounded() {
        let copy: ReadCopy<String, u64> = ReadCopy::new(64 * 1024, Duration::from_secs(60));
        for i in 0..5_000 {
            let key = format!("g:{i}");
            copy.offer(copy.ticket(&key), key, i, 300);
        }
        assert!(copy.weighted_size() <= 64 * 1024, "held {} bytes", copy.weighted_size());
    }
}
