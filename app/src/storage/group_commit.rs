//! Group commit for SQLite: many writers' changes in one transaction.
//!
//! SQLite has one writer. Giving each cart change its own transaction made every change wait for
//! the writer slot, begin, run its statements one round trip at a time to SQLite's thread, and
//! commit (a WAL append of the same few pages each time): under load the server kept one core
//! busy with thread switches while requests queued (bench-cart: adds were slower on two cores
//! than on one). Here one task owns the writing: it takes every request waiting (up to
//! `MAX_BATCH`) and hands them all at once to the store's batch function, which runs inside one
//! `BEGIN IMMEDIATE` transaction; then it commits once. A batch function that reads and writes
//! the whole batch in a fixed number of statements (`sql_cart::changes_in_batch`) costs the one
//! writer the same few round trips to SQLite's thread for one change or sixty-four: on two
//! cores each round trip is a cross-core wake-up, and the writer was what every add waited for.
//!
//! What each caller is told is decided only after the commit: the batch function returns what
//! to answer each request, and those answers are delivered once the batch is durable. If any
//! statement of the batch fails, or the commit does, the whole batch rolls back, and every
//! request of it runs again in a transaction of its own, so one failing request does not fail
//! the others; a request that fails alone gets an error saying nothing changed. An answer never
//! claims a change that was rolled back. The batch function sees the requests in the order they
//! came, so a later one sees an earlier one's effect (two changes to one cart in a batch never
//! lose an update).

use super::db::{Db, Tx};
use futures::future::BoxFuture;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Most requests in one transaction: bounds how long other writers (sign-ins, orders) wait for the
/// writer slot, and how much one failed statement takes down with it.
pub const MAX_BATCH: usize = 64;
/// Requests waiting beyond this make their callers wait to queue (back-pressure, bounded memory).
const QUEUE: usize = 1024;

/// Runs a batch of requests inside the batch's transaction and returns one answer per request,
/// in order. It may run twice for a request: when its batch rolls back, every request of it runs
/// again alone (a batch of one), so it must decide everything from what the transaction reads.
pub type Apply<R, T> =
    Arc<dyn for<'t> Fn(&'t mut Tx, &'t [R]) -> BoxFuture<'t, Result<Vec<T>, sqlx::Error>> + Send + Sync>;

/// Makes an `Apply` of a closure (naming the bound here lets the compiler see that the future
/// borrows the transaction and the requests for as long as it is given them).
pub fn apply<R, T, F>(f: F) -> Apply<R, T>
where
    F: for<'t> Fn(&'t mut Tx, &'t [R]) -> BoxFuture<'t, Result<Vec<T>, sqlx::Error>> + Send + Sync + 'static,
{
    Arc::new(f)
}

struct Queued<R, T> {
    request: R,
    reply: oneshot::Sender<T>,
}

/// Why a request's answer did not come.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GroupCommitError {
    /// Its transaction rolled back (a statement or the commit failed): nothing of it was written.
    #[error("the change was rolled back")]
    RolledBack,
    /// The writer task is gone (the store is shutting down).
    #[error("the writer has stopped")]
    Stopped,
}

/// A handle to the writer task; cheap to clone. The task ends when the last handle is dropped.
pub struct GroupCommit<R, T> {
    queue: mpsc::Sender<Queued<R, T>>,
}

impl<R, T> Clone for GroupCommit<R, T> {
    fn clone(&self) -> Self {
        GroupCommit { queue: self.queue.clone() }
    }
}

impl<R, T> std::fmt::Debug for GroupCommit<R, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GroupCommit")
    }
}

impl<R: Send + Sync + 'static, T: Send + 'static> GroupCommit<R, T> {
    /// Starts the writer task on the current runtime; it runs every batch through `apply`.
    pub fn start(db: Db, apply: Apply<R, T>) -> GroupCommit<R, T> {
        let (queue, requests) = mpsc::channel(QUEUE);
        tokio::spawn(write_batches(db, apply, requests));
        GroupCommit { queue }
    }

    /// Runs `request` in the next batch and returns its answer once its transaction has committed.
    pub async fn run(&self, request: R) -> Result<T, GroupCommitError> {
        let (reply, answer) = oneshot::channel();
        self.queue.send(Queued { request, reply }).await.map_err(|_| GroupCommitError::Stopped)?;
        // A dropped reply means the request's transaction rolled back (the writer logs why).
        answer.await.map_err(|_| GroupCommitError::RolledBack)
    }
}

async fn write_batches<R, T>(db: Db, apply: Apply<R, T>, mut queue: mpsc::Receiver<Queued<R, T>>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut requests = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        metrics::histogram!("shop_sql_group_commit_jobs").record(batch.len() as f64);
        let replies: Vec<oneshot::Sender<T>> = batch
            .drain(..)
            .map(|q: Queued<R, T>| {
                requests.push(q.request);
                q.reply
            })
            .collect();
        match in_one_transaction(&db, &apply, &requests).await {
            Ok(answers) => {
                for (reply, answer) in replies.into_iter().zip(answers) {
                    // The caller may have gone (client disconnected): the change stands anyway.
                    let _ = reply.send(answer);
                }
            }
            Err(e) => {
                metrics::counter!("shop_sql_group_commit_rollbacks_total").increment(1);
                tracing::warn!(error = %e, requests = requests.len(), "a group commit rolled back; each of its requests runs alone");
                for (request, reply) in requests.chunks(1).zip(replies) {
                    match in_one_transaction(&db, &apply, request).await {
                        Ok(mut answer) => {
                            let _ = reply.send(answer.remove(0));
                        }
                        // Dropping the reply tells the caller nothing of it was written.
                        Err(e) => tracing::warn!(error = %e, "a change failed and was rolled back"),
                    }
                }
            }
        }
        requests.clear();
    }
}

/// Runs `requests` through `apply` in one transaction and commits; their answers, or the first
/// error (after which the transaction is rolled back).
async fn in_one_transaction<R, T>(db: &Db, apply: &Apply<R, T>, requests: &[R]) -> Result<Vec<T>, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    match apply(&mut tx, requests).await {
        Ok(answers) if answers.len() == requests.len() => {
            tx.commit().await?;
            Ok(answers)
        }
        Ok(answers) => {
            let _ = tx.rollback().await;
            Err(sqlx::Error::Protocol(format!("a batch of {} requests gave {} answers", requests.len(), answers.len())))
        }
        Err(e) => {
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}
