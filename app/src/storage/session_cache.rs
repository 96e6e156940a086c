//! An in-process copy of sessions for the embedded default (one process on one SQLite file), so
//! most requests read their session without a round trip to SQLite's thread. It is never used
//! where several processes share the session table (PostgreSQL without Redis): a sign-out on one
//! instance would not reach another's copy.
//!
//! The copy is a `ReadCopy`: filled only by loads, emptied by every write, and a load that raced
//! a write does not fill it. Otherwise a load that read the row just before a sign-out could put
//! the signed-in record back after the sign-out emptied the copy, and the shopper would stay
//! signed in until it aged out.

use super::read_copy::{ReadCopy, Ticket, WriteStopped};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tower_sessions::session::{Id, Record};

/// A record bigger than this is read from the database every time (sessions hold identity only,
/// a few hundred bytes; anything much larger is not what the copy is for).
pub const MAX_RECORD_BYTES: u32 = 4 * 1024;
/// Fixed cost of an entry beside its data (id, expiry, the map, moka's own bookkeeping).
const ENTRY_OVERHEAD: u32 = 160;
/// How long a copy may be served before it is read again, whatever happens: a bound on how stale
/// it could be if anything ever wrote the table behind the store's back.
const TIME_TO_LIVE: Duration = Duration::from_secs(300);

#[derive(Debug)]
pub struct SessionCache {
    records: Arc<ReadCopy<i128, Record>>,
}

impl SessionCache {
    /// A copy holding at most `max_bytes` of sessions (their JSON plus a fixed cost each).
    pub fn new(max_bytes: u64) -> Self {
        SessionCache { records: Arc::new(ReadCopy::new(max_bytes, TIME_TO_LIVE)) }
    }

    /// The session's copy if there is one and it has not expired.
    pub fn get(&self, id: &Id) -> Option<Record> {
        let record = self.records.get(&id.0)?;
        if record.expiry_date <= time::OffsetDateTime::now_utc() {
            self.records.drop_copy(&id.0);
            return None;
        }
        Some(record)
    }

    /// Called by a load before it reads the database.
    pub fn ticket(&self, id: &Id) -> Ticket {
        self.records.ticket(&id.0)
    }

    /// Called by a load with what it read (`json_bytes`: the size of the stored data). Kept only
    /// if no write to the session began since the ticket and the record is small enough.
    pub fn offer(&self, ticket: Ticket, record: &Record, json_bytes: usize) {
        let Ok(bytes) = u32::try_from(json_bytes) else { return };
        if bytes > MAX_RECORD_BYTES {
            return;
        }
        self.records.offer(ticket, record.id.0, record.clone(), bytes + ENTRY_OVERHEAD);
    }

    /// Runs `write`, a write of session `id`, emptying its copy before and when it ends, on a task
    /// of its own (`ReadCopy::write`): a sign-out whose request goes away midway still empties
    /// the copy once its statement has run.
    pub async fn write<R, W>(&self, id: &Id, write: W) -> Result<R, WriteStopped>
    where
        R: Send + 'static,
        W: Future<Output = R> + Send + 'static,
    {
        self.records.write(vec![id.0], write).await
    }

    /// Empties the session's copy (a write's first and last step; see `write`).
    pub fn forget(&self, id: &Id) {
        self.records.forget(&id.0);
    }

    /// Bytes held (after moka's pending bookkeeping has run).
    pub fn weighted_size(&self) -> u64 {
        self.records.weighted_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: i128, user: &str, expires_in: time::Duration) -> Record {
        let mut data = std::collections::HashMap::new();
        data.insert("user".to_string(), serde_json::json!(user));
        Record { id: Id(id), data, expiry_date: time::OffsetDateTime::now_utc() + expires_in }
    }

    #[test]
    fn a_load_that_raced_a_write_does_not_fill_the_copy() {
        let cache = SessionCache::new(1 << 20);
        let signed_in = record(7, "ada", time::Duration::hours(1));
        // The load reads the signed-in row; meanwhile a sign-out writes and empties the copy.
        let ticket = cache.ticket(&signed_in.id);
        cache.forget(&signed_in.id);
        cache.offer(ticket, &signed_in, 40);
        assert!(cache.get(&signed_in.id).is_none(), "the stale read must not be served");
        // A load with no write in between fills it.
        let ticket = cache.ticket(&signed_in.id);
        cache.offer(ticket, &signed_in, 40);
        assert_eq!(cache.get(&signed_in.id).unwrap().data, signed_in.data);
    }

    #[test]
    fn expired_records_are_not_served() {
        let cache = SessionCache::new(1 << 20);
        let old = record(8, "ada", time::Duration::seconds(-1));
        cache.offer(cache.ticket(&old.id), &old, 40);
        assert!(cache.get(&old.id).is_none());
    }

    #[test]
    fn large_records_are_not_kept_and_the_total_is_bounded() {
        let cache = SessionCache::new(64 * 1024);
        let big = record(9, "ada", time::Duration::hours(1));
        cache.offer(cache.ticket(&big.id), &big, MAX_RECORD_BYTES as usize + 1);
        assert!(cache.get(&big.id).is_none());
        for i in 0..5_000 {
            let r = record(i, "someone", time::Duration::hours(1));
            cache.offer(cache.ticket(&r.id), &r, 300);
        }
        assert!(cache.weighted_size() <= 64 * 1024, "held {} bytes", cache.weighted_size());
    }
}
