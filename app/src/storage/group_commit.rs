//! Group commit for SQLite: many writers' changes in one transaction.
//!
//! SQLite has one writer. Giving each cart change its own transaction made every change wait for
//! the writer slot, begin, run its statements one round trip at a time to SQLite's thread, and
//! commit (a WAL append of the same few pages each time): under load the server kept one core
//! busy with thread switches while requests queued (bench-cart: adds were slower on two cores
//! than on one). Here one task owns the writing: it takes every change waiting (up to `MAX_BATCH`),
//! runs them one after another in one `BEGIN IMMEDIATE` transaction and commits once.
//!
//! What each caller is told is decided only after the commit: a job returns what to answer, and
//! that answer is delivered once the batch is durable. If any statement of the batch fails, or
//! the commit does, the whole batch rolls back and every caller in it gets an error saying
//! nothing changed: an answer never claims a change that was rolled back. Jobs run in order on
//! one connection, so a later job sees an earlier one's writes (two changes to one cart in a
//! batch never lose an update).

use super::db::{Db, Tx};
use futures::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};

/// Most jobs in one transaction: bounds how long other writers (sign-ins, orders) wait for the
/// writer slot, and how much one failed statement takes down with it.
pub const MAX_BATCH: usize = 64;
/// Jobs waiting beyond this make their callers wait to queue (back-pressure, bounded memory).
const QUEUE: usize = 1024;

/// Runs inside a batch's transaction and returns the answer to deliver after the commit. It may
/// run twice: when its batch rolls back, every job of it runs again in a transaction of its own,
/// so one failing job does not fail the others.
pub type Job<T> = Box<dyn for<'t> Fn(&'t mut Tx) -> BoxFuture<'t, Result<T, sqlx::Error>> + Send + Sync>;

/// Makes a `Job` of a closure (naming the bound here lets the compiler see that the future
/// borrows the transaction for as long as it is given, whatever that is).
pub fn job<T, F>(f: F) -> Job<T>
where
    F: for<'t> Fn(&'t mut Tx) -> BoxFuture<'t, Result<T, sqlx::Error>> + Send + Sync + 'static,
{
    Box::new(f)
}

struct Queued<T> {
    job: Job<T>,
    reply: oneshot::Sender<T>,
}

/// Why a job's answer did not come.
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
pub struct GroupCommit<T> {
    queue: mpsc::Sender<Queued<T>>,
}

impl<T> Clone for GroupCommit<T> {
    fn clone(&self) -> Self {
        GroupCommit { queue: self.queue.clone() }
    }
}

impl<T> std::fmt::Debug for GroupCommit<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GroupCommit")
    }
}

impl<T: Send + 'static> GroupCommit<T> {
    /// Starts the writer task on the current runtime.
    pub fn start(db: Db) -> GroupCommit<T> {
        let (queue, jobs) = mpsc::channel(QUEUE);
        tokio::spawn(write_batches(db, jobs));
        GroupCommit { queue }
    }

    /// Runs `job` in the next batch and returns its answer once its transaction has committed.
    pub async fn run(&self, job: Job<T>) -> Result<T, GroupCommitError> {
        let (reply, answer) = oneshot::channel();
        self.queue.send(Queued { job, reply }).await.map_err(|_| GroupCommitError::Stopped)?;
        // A dropped reply means the job's transaction rolled back (the writer logs why).
        answer.await.map_err(|_| GroupCommitError::RolledBack)
    }
}

async fn write_batches<T: Send + 'static>(db: Db, mut jobs: mpsc::Receiver<Queued<T>>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        metrics::histogram!("shop_sql_group_commit_jobs").record(batch.len() as f64);
        match in_one_transaction(&db, &batch).await {
            Ok(answers) => {
                for (queued, answer) in batch.drain(..).zip(answers) {
                    // The caller may have gone (client disconnected): the change stands anyway.
                    let _ = queued.reply.send(answer);
                }
            }
            Err(e) => {
                metrics::counter!("shop_sql_group_commit_rollbacks_total").increment(1);
                tracing::warn!(error = %e, jobs = batch.len(), "a group commit rolled back; each of its jobs runs alone");
                for queued in batch.drain(..) {
                    match in_one_transaction(&db, std::slice::from_ref(&queued)).await {
                        Ok(mut answer) => {
                            let _ = queued.reply.send(answer.remove(0));
                        }
                        // Dropping the reply tells the caller nothing of it was written.
                        Err(e) => tracing::warn!(error = %e, "a change failed and was rolled back"),
                    }
                }
            }
        }
    }
}

/// Runs `jobs` in order in one transaction and commits; their answers, or the first error (after
/// which the transaction is rolled back).
async fn in_one_transaction<T>(db: &Db, jobs: &[Queued<T>]) -> Result<Vec<T>, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let mut answers = Vec::with_capacity(jobs.len());
    for queued in jobs {
        match (queued.job)(&mut tx).await {
            Ok(answer) => answers.push(answer),
            Err(e) => {
                let _ = tx.rollback().await;
                return Err(e);
            }
        }
    }
    tx.commit().await?;
    Ok(answers)
}
