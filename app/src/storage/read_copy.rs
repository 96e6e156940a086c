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
//! commit, so writers that can be cancelled run detached from their caller (`SqlCartStore`).

use moka::sync::Cache;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::Mutex;
use std::time::Duration;

/// Counter shards: writes to different keys rarely keep each other's loads out of the copy.
const SHARDS: usize = 64;

pub struct ReadCopy<K, V> {
    entries: Cache<K, (V, u32)>,
    writes: Box<[Mutex<u64>]>,
    hasher: RandomState,
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
                .weigher(|_, (_, bytes): &(V, u32)| *bytes)
                .time_to_live(time_to_live)
                .build(),
            writes: (0..SHARDS).map(|_| Mutex::new(0)).collect(),
            hasher: RandomState::new(),
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
        self.entries.get(key).map(|(value, _)| value)
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
            self.entries.insert(key, (value, bytes));
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
        self.entries.invalidate_all();
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
    fn the_total_is_bounded() {
        let copy: ReadCopy<String, u64> = ReadCopy::new(64 * 1024, Duration::from_secs(60));
        for i in 0..5_000 {
            let key = format!("g:{i}");
            copy.offer(copy.ticket(&key), key, i, 300);
        }
        assert!(copy.weighted_size() <= 64 * 1024, "held {} bytes", copy.weighted_size());
    }
}
