//! Shopper signals (views, cart adds; purchases are written by the order transaction).
//!
//! Recording never slows a page: `EventSink::record` puts the event on a bounded queue and
//! returns; one writer task inserts them in batches. When the queue is full the event is
//! dropped and counted (`shop_events_dropped_total`). At shutdown the queue is flushed.
//!
//! Bounded per visitor too: the same signal on the same product from one visitor counts once an
//! hour, and a visitor records at most `MAX_PER_SUBJECT_PER_DAY` signals a day (per instance), so
//! no visitor can flood the table the recommendations are computed from. The recompute reads at
//! most `MAX_TRAINING_EVENTS`, the newest.

use super::db::{now_ms, Db};
use crate::domain::recs::{Interaction, Signal, DAY_MS};
use sqlx::Row;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

const BATCH: usize = 500;
const BATCH_WAIT: Duration = Duration::from_millis(200);
/// Signals one visitor may record in a day, per instance.
pub const MAX_PER_SUBJECT_PER_DAY: u32 = 200;
/// Most events one recompute of the recommendations reads (the newest).
pub const MAX_TRAINING_EVENTS: i64 = 500_000;
/// Visitors (and visitor-signal-product triples) remembered for those limits.
const LIMIT_ENTRIES: u64 = 200_000;

#[derive(Debug)]
enum Msg {
    Record {
        subject: String,
        signal: Signal,
        product_id: i64,
        at_ms: i64,
    },
    /// A guest signed in: their events become the account's.
    Relabel {
        from: String,
        to: String,
    },
    /// Write everything queued so far, then answer.
    Flush(oneshot::Sender<()>),
}

#[derive(Clone)]
pub struct EventSink {
    tx: mpsc::Sender<Msg>,
    /// Signals recorded today per visitor.
    per_subject: moka::sync::Cache<String, u32>,
    /// (visitor, signal, product) recorded in the last hour.
    recent: moka::sync::Cache<(String, &'static str, i64), ()>,
}

impl std::fmt::Debug for EventSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventSink")
    }
}

impl EventSink {
    /// Starts the writer task. `capacity` bounds the queue.
    pub fn start(db: Db, capacity: usize) -> (EventSink, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(capacity);
        let handle = tokio::spawn(writer(db, rx));
        let per_subject = moka::sync::Cache::builder()
            .max_capacity(LIMIT_ENTRIES)
            .time_to_live(Duration::from_secs(24 * 3600))
            .build();
        let recent =
            moka::sync::Cache::builder().max_capacity(LIMIT_ENTRIES).time_to_live(Duration::from_secs(3600)).build();
        (EventSink { tx, per_subject, recent }, handle)
    }

    /// Whether this visitor may record this signal now (and counts it if so).
    fn admit(&self, subject: &str, signal: Signal, product_id: i64) -> bool {
        if subject.len() > 80 {
            return false;
        }
        let triple = (subject.to_string(), signal.as_str(), product_id);
        if self.recent.contains_key(&triple) {
            return false;
        }
        let count = self
            .per_subject
            .entry(subject.to_string())
            .and_upsert_with(|e| e.map(|e| e.into_value().saturating_add(1)).unwrap_or(1))
            .into_value();
        if count > MAX_PER_SUBJECT_PER_DAY {
            metrics::counter!("shop_events_limited_total").increment(1);
            return false;
        }
        self.recent.insert(triple, ());
        true
    }

    pub fn record(&self, subject: &str, signal: Signal, product_id: i64) {
        if !self.admit(subject, signal, product_id) {
            return;
        }
        let msg = Msg::Record { subject: subject.to_string(), signal, product_id, at_ms: now_ms() };
        match self.tx.try_send(msg) {
            Ok(()) => metrics::counter!("shop_events_queued_total", "kind" => signal.as_str()).increment(1),
            Err(_) => metrics::counter!("shop_events_dropped_total").increment(1),
        }
    }

    /// Moves a guest's events to their account, after what is already queued.
    pub fn relabel(&self, from: &str, to: &str) {
        let msg = Msg::Relabel { from: from.to_string(), to: to.to_string() };
        if let Err(mpsc::error::TrySendError::Full(msg)) = self.tx.try_send(msg) {
            // Rarer and more valuable than a single event: wait for room in the background.
            let tx = self.tx.clone();
            tokio::spawn(async move {
                let _ = tx.send_timeout(msg, Duration::from_secs(5)).await;
            });
        }
    }

    /// Waits until everything queued before this call is written (tests, shutdown).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

async fn writer(db: Db, mut rx: mpsc::Receiver<Msg>) {
    let mut batch: Vec<(String, Signal, i64, i64)> = Vec::with_capacity(BATCH);
    loop {
        let Some(first) = rx.recv().await else {
            write(&db, &mut batch).await;
            return;
        };
        let mut next = Some(first);
        let deadline = tokio::time::Instant::now() + BATCH_WAIT;
        while let Some(msg) = next.take() {
            match msg {
                Msg::Record { subject, signal, product_id, at_ms } => {
                    batch.push((subject, signal, product_id, at_ms));
                    if batch.len() >= BATCH {
                        write(&db, &mut batch).await;
                    }
                }
                Msg::Relabel { from, to } => {
                    write(&db, &mut batch).await;
                    if let Err(e) = relabel(&db, &from, &to).await {
                        tracing::warn!(error = %e, "could not attach a guest's events to the account");
                    }
                }
                Msg::Flush(done) => {
                    write(&db, &mut batch).await;
                    let _ = done.send(());
                }
            }
            next = match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(m)) => Some(m),
                Ok(None) => {
                    write(&db, &mut batch).await;
                    return;
                }
                Err(_) => None,
            };
        }
        write(&db, &mut batch).await;
    }
}

async fn relabel(db: &Db, from: &str, to: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE events SET subject = $1 WHERE subject = $2")
        .bind(to)
        .bind(from)
        .execute(&mut *db.write().await?)
        .await
        .map(|_| ())
}

async fn write(db: &Db, batch: &mut Vec<(String, Signal, i64, i64)>) {
    if batch.is_empty() {
        return;
    }
    let mut sql = String::from("INSERT INTO events (subject, kind, product_id, created_at) VALUES ");
    for i in 0..batch.len() {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(&format!("(${}, ${}, ${}, ${})", i * 4 + 1, i * 4 + 2, i * 4 + 3, i * 4 + 4));
    }
    let mut q = sqlx::query(&sql);
    for (subject, signal, product_id, at) in batch.iter() {
        q = q.bind(subject.as_str()).bind(signal.as_str()).bind(*product_id).bind(*at);
    }
    let written = match db.write().await {
        Ok(mut writer) => q.execute(&mut *writer).await,
        Err(e) => Err(e),
    };
    match written {
        Ok(_) => metrics::counter!("shop_events_written_total").increment(batch.len() as u64),
        Err(e) => {
            tracing::warn!(error = %e, events = batch.len(), "could not write events; dropping them");
            metrics::counter!("shop_events_dropped_total").increment(batch.len() as u64);
        }
    }
    batch.clear();
}

/// One recent signal of a shopper.
#[derive(Clone, Debug, PartialEq)]
pub struct Recent {
    pub signal: Signal,
    pub product_id: i64,
    pub at_ms: i64,
}

#[derive(Clone, Debug)]
pub struct EventStore {
    db: Db,
}

impl EventStore {
    pub fn new(db: Db) -> Self {
        EventStore { db }
    }

    /// The shopper's latest signals, newest first.
    pub async fn recent(&self, subject: &str, limit: i64) -> Result<Vec<Recent>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT kind, product_id, created_at FROM events WHERE subject = $1 ORDER BY created_at DESC LIMIT $2",
        )
        .bind(subject)
        .bind(limit)
        .fetch_all(self.db.read())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let kind: String = r.try_get("kind")?;
            if let Some(signal) = Signal::parse(&kind) {
                out.push(Recent { signal, product_id: r.try_get("product_id")?, at_ms: r.try_get("created_at")? });
            }
        }
        Ok(out)
    }

    /// Everything since `since_ms` (at most `MAX_TRAINING_EVENTS`, the newest), grouped into
    /// baskets: an order, or one shopper's day.
    pub async fn interactions(&self, since_ms: i64) -> Result<Vec<Interaction>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT subject, kind, product_id, order_id, created_at FROM events WHERE created_at >= $1              ORDER BY created_at DESC LIMIT $2",
        )
        .bind(since_ms)
        .bind(MAX_TRAINING_EVENTS)
        .fetch_all(self.db.read())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let kind: String = r.try_get("kind")?;
            let Some(signal) = Signal::parse(&kind) else { continue };
            let at: i64 = r.try_get("created_at")?;
            let order: Option<String> = r.try_get("order_id")?;
            let subject: String = r.try_get("subject")?;
            let basket = match order {
                Some(o) => format!("o:{o}"),
                None => format!("{subject}:{}", at / DAY_MS),
            };
            out.push(Interaction { basket, product_id: r.try_get("product_id")?, signal, at_ms: at });
        }
        Ok(out)
    }

    /// Units sold per product since `since_ms`, best first.
    pub async fn best_sellers(&self, since_ms: i64) -> Result<Vec<(i64, i64)>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT product_id, COUNT(*) AS n FROM events WHERE kind = 'purchase' AND created_at >= $1 \
             GROUP BY product_id ORDER BY n DESC, product_id LIMIT 2000",
        )
        .bind(since_ms)
        .fetch_all(self.db.read())
        .await?;
        rows.iter().map(|r| Ok((r.try_get("product_id")?, r.try_get("n")?))).collect()
    }

    pub async fn save_neighbours(&self, neighbours: &crate::domain::recs::Neighbours) -> Result<(), sqlx::Error> {
        let mut tx = self.db.begin_write().await?;
        sqlx::query("DELETE FROM product_neighbours").execute(&mut *tx).await?;
        let mut rows: Vec<(i64, i64, i64, f64)> = Vec::new();
        for (p, list) in neighbours {
            for (rank, (n, score)) in list.iter().enumerate() {
                rows.push((*p, rank as i64, *n, *score));
            }
        }
        for chunk in rows.chunks(200) {
            let mut sql =
                String::from("INSERT INTO product_neighbours (product_id, rank, neighbour_id, score) VALUES ");
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!("(${}, ${}, ${}, ${})", i * 4 + 1, i * 4 + 2, i * 4 + 3, i * 4 + 4));
            }
            let mut q = sqlx::query(&sql);
            for (p, r, n, s) in chunk {
                q = q.bind(*p).bind(*r).bind(*n).bind(*s);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await
    }

    pub async fn load_neighbours(&self) -> Result<crate::domain::recs::Neighbours, sqlx::Error> {
        let rows =
            sqlx::query("SELECT product_id, neighbour_id, score FROM product_neighbours ORDER BY product_id, rank")
                .fetch_all(self.db.read())
                .await?;
        let mut out = crate::domain::recs::Neighbours::new();
        for r in rows {
            out.entry(r.try_get("product_id")?).or_default().push((r.try_get("neighbour_id")?, r.try_get("score")?));
        }
        Ok(out)
    }
}
