//! Carts in SQL: `carts` (one row per owner, with the version) and `cart_items`.
//!
//! Every mutation is one transaction that starts by upserting the cart row. On PostgreSQL that
//! takes the row lock, so changes to one cart run one after another; on SQLite `BEGIN IMMEDIATE`
//! takes the database write lock. Either way the read-compute-write inside cannot interleave with
//! another writer of the same cart, and the line limit and caps hold under concurrency.
//!
//! On SQLite, adds and sets (the busy path) go through `group_commit` instead: one writer task runs
//! many carts' changes in one transaction, the whole batch read in one statement and written in
//! at most three (`changes_in_batch`).
//!
//! In the embedded default (SQLite, nothing else writing the file) the store may keep an
//! in-process copy of the carts it reads (`read_copy`), so showing a cart, which every page and
//! the cart API do, needs no round trip to SQLite's thread. Every write here and the order
//! transaction (`orders.rs`, the only other writer of these tables) empties the owner's copy
//! before and after it reaches the database. Checkout never trusts the copy: the order reads the
//! cart inside its own transaction.

use super::cart_store::{CartOwner, CartStore, Change, LineChange, Mode, StoreError};
use super::catalog_cache::Catalog;
use super::db::{now_ms, Db, Dialect, Tx};
use super::group_commit::{self, GroupCommit, GroupCommitError};
use super::read_copy::{ReadCopy, WriteStopped};
use crate::domain::cart::{StoredCart, StoredLine, MAX_LINES, MAX_QUANTITY};
use crate::domain::merge::{merge_lines, MergeReport};
use async_trait::async_trait;
use sqlx::Row;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// The in-process copy of SQL carts, by owner key (`CartOwner::key`).
pub type CartCopy = ReadCopy<String, StoredCart>;

/// How long a copied cart may be served before it is read again, whatever happens: a bound on
/// how stale it could be if anything ever wrote the tables behind the store's back.
pub const CART_COPY_TIME_TO_LIVE: Duration = Duration::from_secs(300);
/// What a copied cart weighs beside its key's and lines' bytes: the entry itself (the cart, its
/// weight and generation, the key's header) and moka's bookkeeping for it.
const COPY_ENTRY_OVERHEAD: usize = 256;

/// A copy of SQL carts holding at most `max_bytes`.
pub fn cart_copy(max_bytes: u64) -> Arc<CartCopy> {
    Arc::new(ReadCopy::new(max_bytes, CART_COPY_TIME_TO_LIVE))
}

/// Runs `write`, a write of the carts of `owners` (keys), through `copy` if there is one: each
/// owner's copy is emptied before the write and again when it ends, on a task of its own, so a
/// caller that goes away (a closed connection) cannot skip the second step while the write still
/// commits (see `read_copy`).
pub(crate) async fn write_through_copy<R, W>(
    copy: Option<&Arc<CartCopy>>,
    owners: Vec<String>,
    write: W,
) -> Result<R, WriteStopped>
where
    R: Send + 'static,
    W: Future<Output = R> + Send + 'static,
{
    match copy {
        Some(copy) => copy.write(owners, write).await,
        None => Ok(write.await),
    }
}

/// A cart write whose task panicked: nothing says whether it committed.
fn stopped<T>(e: WriteStopped) -> Result<T, StoreError> {
    Err(StoreError::Backend(e.to_string()))
}

#[derive(Clone, Debug)]
pub struct SqlCartStore {
    db: Db,
    /// SQLite only: the writer task that commits cart changes in groups.
    batch: Option<GroupCommit<BatchedChange, Result<Change, StoreError>>>,
    /// The embedded default only: the in-process copy of the carts read.
    copy: Option<Arc<CartCopy>>,
}

impl From<GroupCommitError> for StoreError {
    fn from(e: GroupCommitError) -> Self {
        StoreError::Unavailable(e.to_string())
    }
}

/// One cart change of a SQLite batch: the owner's key and the change.
pub(crate) type BatchedChange = (String, LineChange);

/// A cart as a batch holds it while it decides: as the batch found it, and as it is now.
#[derive(Default)]
struct BatchCart {
    version: i64,
    lines: Vec<StoredLine>,
    /// Lines the cart had when the batch read it, with their positions.
    found: HashMap<i64, i64>,
    /// The next position a new line takes: past every line the cart had (so a clock that steps
    /// back, or an earlier batch in the same millisecond, cannot put a new line before them).
    next_position: i64,
    /// Lines it had then and lost during the batch (deleted, even if added again after).
    removed: HashSet<i64>,
    /// Lines whose row this batch writes, with their positions (kept for a row there).
    written: HashMap<i64, i64>,
    changed: bool,
}

/// Adds and sets on SQLite, a whole group-commit batch at once, inside its transaction, which
/// holds the database's write lock from `BEGIN IMMEDIATE`: nothing else writes between the read
/// and the writes here. Reads every cart of the batch in one statement, decides each change in
/// order in memory (a later change to a cart sees the earlier ones), then writes what changed in
/// at most three statements (the carts with their versions, the lines deleted, the lines written):
/// with `BEGIN` and `COMMIT`, six round trips to SQLite's thread for the batch, however many
/// changes it holds (it was three per change). The sets travel as one JSON array each (`json_each`), so the statements are the
/// same text every time and stay prepared. A refused or empty change writes nothing.
pub(crate) async fn changes_in_batch(
    tx: &mut Tx,
    changes: &[BatchedChange],
) -> Result<Vec<Result<Change, StoreError>>, sqlx::Error> {
    let owners: Vec<&str> = changes.iter().map(|(owner, _)| owner.as_str()).collect();
    let rows = sqlx::query(
        "SELECT c.owner, c.version, i.variant_id, i.quantity, i.price_cents, i.position FROM carts c \
         LEFT JOIN cart_items i ON i.cart_id = c.id WHERE c.owner IN (SELECT value FROM json_each($1)) \
         ORDER BY c.owner, i.position, i.variant_id",
    )
    .bind(json(&owners))
    .fetch_all(&mut **tx)
    .await?;
    // New lines go after every line there, in the order this batch added them. Positions are
    // times (milliseconds times 1000) where the clock is ahead of the cart's last line.
    let now_position = now_ms() * 1000;
    let mut carts: HashMap<String, BatchCart> = HashMap::with_capacity(changes.len());
    for row in &rows {
        let cart = carts
            .entry(row.try_get("owner")?)
            .or_insert_with(|| BatchCart { next_position: now_position, ..BatchCart::default() });
        cart.version = row.try_get("version")?;
        if let Some(variant_id) = row.try_get::<Option<i64>, _>("variant_id")? {
            let position: i64 = row.try_get("position")?;
            cart.found.insert(variant_id, position);
            cart.next_position = cart.next_position.max(position.saturating_add(1));
            cart.lines.push(StoredLine {
                variant_id,
                quantity: row.try_get::<i64, _>("quantity")? as u32,
                price_cents: row.try_get("price_cents")?,
            });
        }
    }
    let mut answers = Vec::with_capacity(changes.len());
    for (owner, change) in changes {
        let cart = carts
            .entry(owner.clone())
            .or_insert_with(|| BatchCart { next_position: now_position, ..BatchCart::default() });
        let LineChange { variant_id, mode, quantity, cap, price_cents, max_lines } = *change;
        let at = cart.lines.iter().position(|l| l.variant_id == variant_id);
        let old = at.map_or(0, |i| cart.lines[i].quantity);
        let wanted = match mode {
            Mode::Add => old.saturating_add(quantity),
            Mode::Set => quantity,
        };
        let capped = wanted > cap;
        let new = wanted.min(cap);
        let unchanged = match at {
            Some(i) => new == old && cart.lines[i].price_cents == price_cents,
            None => new == 0,
        };
        if !unchanged && at.is_none() && cart.lines.len() >= max_lines {
            answers.push(Err(StoreError::CartFull));
            continue;
        }
        if !unchanged {
            cart.version += 1;
            cart.changed = true;
            match at {
                Some(i) if new == 0 => {
                    cart.lines.remove(i);
                    cart.written.remove(&variant_id);
                    if cart.found.contains_key(&variant_id) {
                        cart.removed.insert(variant_id);
                    }
                }
                Some(i) => {
                    cart.lines[i] = StoredLine { variant_id, quantity: new, price_cents };
                    // A line there since the batch began keeps its row and position; one this
                    // batch (re)added already has its new position.
                    if let Some(&position) = cart.found.get(&variant_id) {
                        cart.written.entry(variant_id).or_insert(position);
                    }
                }
                None => {
                    cart.lines.push(StoredLine { variant_id, quantity: new, price_cents });
                    cart.written.insert(variant_id, cart.next_position);
                    cart.next_position += 1;
                }
            }
        }
        let stored = StoredCart { lines: cart.lines.clone(), version: cart.version as u64 };
        answers.push(Ok(Change { cart: stored, quantity: new, capped }));
    }
    write_batch(tx, &carts).await?;
    Ok(answers)
}

/// The writes of `changes_in_batch`: each changed cart's row with its new version, then the lines
/// it lost, then the lines it gained or changed (a line removed and added again in one batch is
/// deleted and inserted anew, at the end of the cart, as its answer showed it). Changed lines are
/// written by an upsert, so a `BEFORE INSERT` trigger on `cart_items` sees them too.
async fn write_batch(tx: &mut Tx, carts: &HashMap<String, BatchCart>) -> Result<(), sqlx::Error> {
    let changed: Vec<(&String, &BatchCart)> = carts.iter().filter(|(_, c)| c.changed).collect();
    if changed.is_empty() {
        return Ok(());
    }
    let versions: Vec<(&str, i64)> = changed.iter().map(|(owner, c)| (owner.as_str(), c.version)).collect();
    let res = sqlx::query(
        "INSERT INTO carts (owner, version, updated_at) \
         SELECT value ->> 0, value ->> 1, $2 FROM json_each($1) WHERE true \
         ON CONFLICT (owner) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at",
    )
    .bind(json(&versions))
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    wrote(res.rows_affected(), versions.len(), "carts")?;
    let removed: Vec<(&str, i64)> =
        changed.iter().flat_map(|(owner, c)| c.removed.iter().map(|v| (owner.as_str(), *v))).collect();
    if !removed.is_empty() {
        let res = sqlx::query(
            "DELETE FROM cart_items WHERE (cart_id, variant_id) IN \
             (SELECT c.id, j.value ->> 1 FROM json_each($1) j JOIN carts c ON c.owner = j.value ->> 0)",
        )
        .bind(json(&removed))
        .execute(&mut **tx)
        .await?;
        wrote(res.rows_affected(), removed.len(), "deleted lines")?;
    }
    let mut written: Vec<(&str, i64, i64, i64, i64)> = Vec::new();
    for (owner, cart) in &changed {
        for line in &cart.lines {
            if let Some(&position) = cart.written.get(&line.variant_id) {
                let quantity = i64::from(line.quantity);
                written.push((owner.as_str(), line.variant_id, quantity, line.price_cents, position));
            }
        }
    }
    if !written.is_empty() {
        let res = sqlx::query(
            "INSERT INTO cart_items (cart_id, variant_id, quantity, price_cents, position) \
             SELECT c.id, j.value ->> 1, j.value ->> 2, j.value ->> 3, j.value ->> 4 \
             FROM json_each($1) j JOIN carts c ON c.owner = j.value ->> 0 WHERE true \
             ON CONFLICT (cart_id, variant_id) DO UPDATE SET \
             quantity = excluded.quantity, price_cents = excluded.price_cents",
        )
        .bind(json(&written))
        .execute(&mut **tx)
        .await?;
        wrote(res.rows_affected(), written.len(), "lines")?;
    }
    Ok(())
}

/// Every row a batch decided to write must have been written: the statements find carts by
/// owner through the JSON they are given, and a row they missed would be a change answered as
/// done and not stored. A mismatch rolls the batch back (and each change is tried alone).
fn wrote(rows: u64, expected: usize, what: &str) -> Result<(), sqlx::Error> {
    if rows == expected as u64 {
        return Ok(());
    }
    Err(sqlx::Error::Protocol(format!("a cart batch wrote {rows} {what}, not {expected}")))
}

/// A batch's set as the JSON array its statement reads with `json_each`.
fn json<T: serde::Serialize>(rows: &T) -> String {
    serde_json::to_string(rows).expect("tuples of strings and integers serialise")
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unavailable(e.to_string())
            }
            e => StoreError::Backend(e.to_string()),
        }
    }
}

/// Creates the cart row if needed and locks it; returns (id, version).
pub(crate) async fn lock_cart(tx: &mut Tx, owner: &str) -> Result<(i64, i64), sqlx::Error> {
    let row = sqlx::query(
        "INSERT INTO carts (owner, version, updated_at) VALUES ($1, 0, $2) \
         ON CONFLICT (owner) DO UPDATE SET updated_at = excluded.updated_at RETURNING id, version",
    )
    .bind(owner)
    .bind(now_ms())
    .fetch_one(&mut **tx)
    .await?;
    Ok((row.try_get("id")?, row.try_get("version")?))
}

/// A new line at the end of the cart.
async fn insert_line(
    tx: &mut Tx,
    cart_id: i64,
    variant_id: i64,
    quantity: u32,
    price_cents: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO cart_items (cart_id, variant_id, quantity, price_cents, position) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(cart_id)
    .bind(variant_id)
    .bind(i64::from(quantity))
    .bind(price_cents)
    .bind(now_ms() * 1000)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(crate) async fn bump_version(tx: &mut Tx, cart_id: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("UPDATE carts SET version = version + 1 WHERE id = $1 RETURNING version")
        .bind(cart_id)
        .fetch_one(&mut **tx)
        .await
}

pub(crate) async fn read_lines(tx: &mut Tx, cart_id: i64) -> Result<Vec<StoredLine>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT variant_id, quantity, price_cents FROM cart_items WHERE cart_id = $1 ORDER BY position, variant_id",
    )
    .bind(cart_id)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(line_from_row).collect()
}

fn line_from_row(row: &sqlx::any::AnyRow) -> Result<StoredLine, sqlx::Error> {
    let q: i64 = row.try_get("quantity")?;
    Ok(StoredLine {
        variant_id: row.try_get("variant_id")?,
        quantity: q as u32,
        price_cents: row.try_get("price_cents")?,
    })
}

/// Adds `lines` to a locked cart, capping each at the per-line maximum (a restore).
pub(crate) async fn add_lines(tx: &mut Tx, cart_id: i64, lines: &[StoredLine]) -> Result<(), sqlx::Error> {
    for (i, l) in lines.iter().enumerate() {
        let position = now_ms() * 1000 + i as i64;
        sqlx::query(
            "INSERT INTO cart_items (cart_id, variant_id, quantity, price_cents, position) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (cart_id, variant_id) DO UPDATE SET \
             quantity = CASE WHEN cart_items.quantity + excluded.quantity > $6 THEN $6 \
                             ELSE cart_items.quantity + excluded.quantity END, \
             price_cents = excluded.price_cents",
        )
        .bind(cart_id)
        .bind(l.variant_id)
        .bind(i64::from(l.quantity.min(MAX_QUANTITY)))
        .bind(l.price_cents)
        .bind(position)
        .bind(i64::from(MAX_QUANTITY))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

impl SqlCartStore {
    /// On SQLite, starts the group-commit writer on the current runtime (none outside one).
    pub fn new(db: Db) -> Self {
        let batch = (db.dialect == Dialect::Sqlite && tokio::runtime::Handle::try_current().is_ok()).then(|| {
            let apply = group_commit::apply(|tx, changes: &[BatchedChange]| Box::pin(changes_in_batch(tx, changes)));
            GroupCommit::start(db.clone(), apply)
        });
        SqlCartStore { db, batch, copy: None }
    }

    /// A store that keeps `copy` of the carts it reads. Only for a database no other process
    /// writes carts to (the embedded SQLite default), on a runtime.
    pub fn with_copy(db: Db, copy: Arc<CartCopy>) -> Self {
        SqlCartStore { copy: Some(copy), ..SqlCartStore::new(db) }
    }

    /// The cart as its tables hold it now, never from the copy (what checkout shows and checks).
    pub async fn load_of_record(&self, owner: &CartOwner) -> Result<StoredCart, StoreError> {
        self.load_now(&owner.key()).await
    }

    /// Runs the write `write` makes of this store (without its copy) through the copy, for the
    /// carts of `owners` (keys): see `write_through_copy`.
    async fn written<R, F, W>(&self, owners: Vec<String>, write: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(SqlCartStore) -> W,
        W: Future<Output = Result<R, StoreError>> + Send + 'static,
    {
        let store = SqlCartStore { copy: None, ..self.clone() };
        write_through_copy(self.copy.as_ref(), owners, write(store)).await.unwrap_or_else(stopped)
    }

    async fn load_now(&self, owner: &str) -> Result<StoredCart, StoreError> {
        let rows = sqlx::query(
            "SELECT c.version, i.variant_id, i.quantity, i.price_cents FROM carts c \
             LEFT JOIN cart_items i ON i.cart_id = c.id WHERE c.owner = $1 ORDER BY i.position, i.variant_id",
        )
        .bind(owner)
        .fetch_all(self.db.read())
        .await?;
        let mut cart = StoredCart::default();
        for row in &rows {
            cart.version = row.try_get::<i64, _>("version").map_err(StoreError::from)? as u64;
            if let Some(variant_id) = row.try_get::<Option<i64>, _>("variant_id").map_err(StoreError::from)? {
                let q: i64 = row.try_get("quantity").map_err(StoreError::from)?;
                let p: i64 = row.try_get("price_cents").map_err(StoreError::from)?;
                cart.lines.push(StoredLine { variant_id, quantity: q as u32, price_cents: p });
            }
        }
        Ok(cart)
    }

    /// The guest cart version a sign-in merged from `guest`, if a merge is recorded.
    pub async fn merged_version(&self, guest: &CartOwner) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar("SELECT guest_version FROM cart_merges WHERE guest_owner = $1")
            .bind(guest.key())
            .fetch_optional(self.db.read())
            .await
    }

    /// Write-behind: makes SQL's copy of `owner`'s cart `cart`, in one transaction, unless SQL
    /// already holds that version or a newer one (an older snapshot never replaces a newer one,
    /// whichever instance writes last). True when it wrote.
    pub async fn write_snapshot(&self, owner: &CartOwner, cart: &StoredCart) -> Result<bool, StoreError> {
        let (owner, cart) = (owner.clone(), cart.clone());
        self.written(vec![owner.key()], |store| async move { store.write_snapshot_now(&owner, &cart).await }).await
    }

    async fn write_snapshot_now(&self, owner: &CartOwner, cart: &StoredCart) -> Result<bool, StoreError> {
        let mut tx = self.db.begin_write().await?;
        let (cart_id, version) = lock_cart(&mut tx, &owner.key()).await?;
        if version >= cart.version as i64 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query("DELETE FROM cart_items WHERE cart_id = $1").bind(cart_id).execute(&mut *tx).await?;
        add_lines(&mut tx, cart_id, &cart.lines).await?;
        sqlx::query("UPDATE carts SET version = $2, updated_at = $3 WHERE id = $1")
            .bind(cart_id)
            .bind(cart.version as i64)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Deletes guest carts untouched for `max_age_ms` (their sessions are gone too).
    pub async fn purge_guest_carts(&self, max_age_ms: i64) -> Result<u64, sqlx::Error> {
        // Which carts go is not known here, so every copy goes (it is run by the housekeeping
        // task, which nothing cancels, so the second forget always runs).
        if let Some(copy) = &self.copy {
            copy.forget_all();
        }
        let res = async {
            sqlx::query("DELETE FROM carts WHERE owner LIKE 'g:%' AND updated_at < $1")
                .bind(now_ms() - max_age_ms)
                .execute(&mut *self.db.write().await?)
                .await
        }
        .await;
        if let Some(copy) = &self.copy {
            copy.forget_all();
        }
        Ok(res?.rows_affected())
    }
}

/// The writes themselves, without the copy (`CartStore` below runs them through it).
impl SqlCartStore {
    async fn change_now(&self, owner: &CartOwner, change: LineChange) -> Result<Change, StoreError> {
        if let Some(batch) = &self.batch {
            return batch.run((owner.key(), change)).await?;
        }
        let LineChange { variant_id, mode, quantity, cap, price_cents, max_lines } = change;
        let mut tx = self.db.begin_write().await?;
        let (cart_id, mut version) = lock_cart(&mut tx, &owner.key()).await?;
        let current =
            sqlx::query("SELECT quantity, price_cents FROM cart_items WHERE cart_id = $1 AND variant_id = $2")
                .bind(cart_id)
                .bind(variant_id)
                .fetch_optional(&mut *tx)
                .await?;
        let (old, old_price) = match &current {
            Some(row) => (row.try_get::<i64, _>("quantity")? as u32, Some(row.try_get::<i64, _>("price_cents")?)),
            None => (0, None),
        };
        let wanted = match mode {
            Mode::Add => old.saturating_add(quantity),
            Mode::Set => quantity,
        };
        let capped = wanted > cap;
        let new = wanted.min(cap);
        if new == 0 {
            if current.is_some() {
                sqlx::query("DELETE FROM cart_items WHERE cart_id = $1 AND variant_id = $2")
                    .bind(cart_id)
                    .bind(variant_id)
                    .execute(&mut *tx)
                    .await?;
                version = bump_version(&mut tx, cart_id).await?;
            }
        } else if current.is_none() {
            let lines: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM cart_items WHERE cart_id = $1")
                .bind(cart_id)
                .fetch_one(&mut *tx)
                .await?;
            if lines as usize >= max_lines {
                tx.rollback().await?;
                return Err(StoreError::CartFull);
            }
            version = bump_version(&mut tx, cart_id).await?;
            insert_line(&mut tx, cart_id, variant_id, new, price_cents).await?;
        } else if new != old || old_price != Some(price_cents) {
            sqlx::query("UPDATE cart_items SET quantity = $3, price_cents = $4 WHERE cart_id = $1 AND variant_id = $2")
                .bind(cart_id)
                .bind(variant_id)
                .bind(i64::from(new))
                .bind(price_cents)
                .execute(&mut *tx)
                .await?;
            version = bump_version(&mut tx, cart_id).await?;
        }
        let lines = read_lines(&mut tx, cart_id).await?;
        tx.commit().await?;
        Ok(Change { cart: StoredCart { lines, version: version as u64 }, quantity: new, capped })
    }

    async fn remove_now(&self, owner: &CartOwner, variant_id: i64) -> Result<StoredCart, StoreError> {
        let mut tx = self.db.begin_write().await?;
        let (cart_id, mut version) = lock_cart(&mut tx, &owner.key()).await?;
        let deleted = sqlx::query("DELETE FROM cart_items WHERE cart_id = $1 AND variant_id = $2")
            .bind(cart_id)
            .bind(variant_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted > 0 {
            version = bump_version(&mut tx, cart_id).await?;
        }
        let lines = read_lines(&mut tx, cart_id).await?;
        tx.commit().await?;
        Ok(StoredCart { lines, version: version as u64 })
    }

    async fn clear_now(&self, owner: &CartOwner) -> Result<StoredCart, StoreError> {
        let mut tx = self.db.begin_write().await?;
        let (cart_id, _) = lock_cart(&mut tx, &owner.key()).await?;
        sqlx::query("DELETE FROM cart_items WHERE cart_id = $1").bind(cart_id).execute(&mut *tx).await?;
        let version = bump_version(&mut tx, cart_id).await?;
        tx.commit().await?;
        Ok(StoredCart { lines: vec![], version: version as u64 })
    }

    async fn restore_if_pristine_now(
        &self,
        owner: &CartOwner,
        lines: &[StoredLine],
    ) -> Result<Option<StoredCart>, StoreError> {
        let mut tx = self.db.begin_write().await?;
        let (cart_id, version) = lock_cart(&mut tx, &owner.key()).await?;
        let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM cart_items WHERE cart_id = $1")
            .bind(cart_id)
            .fetch_one(&mut *tx)
            .await?;
        if version != 0 || existing != 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        add_lines(&mut tx, cart_id, lines).await?;
        let version = bump_version(&mut tx, cart_id).await?;
        let lines = read_lines(&mut tx, cart_id).await?;
        tx.commit().await?;
        Ok(Some(StoredCart { lines, version: version as u64 }))
    }
}

#[async_trait]
impl CartStore for SqlCartStore {
    async fn load(&self, owner: &CartOwner) -> Result<StoredCart, StoreError> {
        let key = owner.key();
        let Some(copy) = &self.copy else { return self.load_now(&key).await };
        if let Some(cart) = copy.get(&key) {
            return Ok(cart);
        }
        let ticket = copy.ticket(&key);
        let cart = self.load_now(&key).await?;
        // The clone's vector holds exactly its lines.
        let kept = cart.clone();
        let bytes = COPY_ENTRY_OVERHEAD + key.capacity() + kept.lines.capacity() * std::mem::size_of::<StoredLine>();
        copy.offer(ticket, key, kept, u32::try_from(bytes).unwrap_or(u32::MAX));
        Ok(cart)
    }

    async fn change(&self, owner: &CartOwner, change: LineChange) -> Result<Change, StoreError> {
        let owner = owner.clone();
        self.written(vec![owner.key()], |store| async move { store.change_now(&owner, change).await }).await
    }

    async fn remove(&self, owner: &CartOwner, variant_id: i64) -> Result<StoredCart, StoreError> {
        let owner = owner.clone();
        self.written(vec![owner.key()], |store| async move { store.remove_now(&owner, variant_id).await }).await
    }

    async fn clear(&self, owner: &CartOwner) -> Result<StoredCart, StoreError> {
        let owner = owner.clone();
        self.written(vec![owner.key()], |store| async move { store.clear_now(&owner).await }).await
    }

    async fn restore_if_pristine(
        &self,
        owner: &CartOwner,
        lines: &[StoredLine],
    ) -> Result<Option<StoredCart>, StoreError> {
        let (owner, lines) = (owner.clone(), lines.to_vec());
        self.written(vec![owner.key()], |store| async move { store.restore_if_pristine_now(&owner, &lines).await })
            .await
    }
}

/// Where the guest's lines come from in a merge.
pub enum GuestLines {
    /// The guest cart is in these SQL tables: take it inside the merge transaction.
    InSql(CartOwner),
    /// Claimed in another store (Redis) for this merge: its lines at its version.
    Claimed { lines: Vec<StoredLine>, version: u64 },
}

#[derive(Debug, PartialEq, Eq)]
pub enum MergeOutcome {
    /// The guest cart had no lines.
    Nothing,
    /// This guest cart was merged before; nothing changed.
    AlreadyMerged,
    Merged {
        cart: StoredCart,
        report: MergeReport,
    },
}

impl SqlCartStore {
    /// Merges a guest cart into account `user_id` in one transaction: records the merge in
    /// `cart_merges` (a second attempt for the same guest cart finds the record and changes
    /// nothing), takes the guest lines, applies the merge rules with today's catalogue, writes the
    /// account's lines. Any failure rolls all of it back.
    pub async fn merge_guest(
        &self,
        guest_key: &str,
        user_id: i64,
        source: GuestLines,
        catalog: &Catalog,
    ) -> Result<MergeOutcome, StoreError> {
        let (guest_key, catalog) = (guest_key.to_string(), catalog.clone());
        let mut owners = vec![CartOwner::User(user_id).key(), guest_key.clone()];
        if let GuestLines::InSql(guest) = &source {
            owners.push(guest.key());
        }
        self.written(owners, |store| async move { store.merge_guest_now(&guest_key, user_id, source, &catalog).await })
            .await
    }

    async fn merge_guest_now(
        &self,
        guest_key: &str,
        user_id: i64,
        source: GuestLines,
        catalog: &Catalog,
    ) -> Result<MergeOutcome, StoreError> {
        let mut tx = self.db.begin_write().await?;
        // Account first, then guest: every merge locks in this order, so merges cannot deadlock.
        let (user_cart, _) = lock_cart(&mut tx, &CartOwner::User(user_id).key()).await?;
        let (guest, guest_version) = match &source {
            GuestLines::InSql(owner) => {
                let (guest_cart, version) = lock_cart(&mut tx, &owner.key()).await?;
                (Some(guest_cart), version)
            }
            GuestLines::Claimed { version, .. } => (None, *version as i64),
        };
        let guest_lines = match (&source, guest) {
            (GuestLines::InSql(_), Some(guest_cart)) => read_lines(&mut tx, guest_cart).await?,
            (GuestLines::Claimed { lines, .. }, _) => lines.clone(),
            _ => vec![],
        };
        if guest_lines.is_empty() {
            tx.rollback().await?;
            return Ok(MergeOutcome::Nothing);
        }
        // One merge per version of the guest cart: the same version again (double submit, another
        // tab, a retry) changes nothing; lines added to it later are a new version, merged anew.
        let recorded = sqlx::query(
            "INSERT INTO cart_merges (guest_owner, user_id, merged_at, guest_version) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (guest_owner) DO UPDATE SET user_id = excluded.user_id, merged_at = excluded.merged_at, \
             guest_version = excluded.guest_version WHERE cart_merges.guest_version <> excluded.guest_version",
        )
        .bind(guest_key)
        .bind(user_id)
        .bind(now_ms())
        .bind(guest_version)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if recorded == 0 {
            tx.rollback().await?;
            return Ok(MergeOutcome::AlreadyMerged);
        }
        if let Some(guest_cart) = guest {
            sqlx::query("DELETE FROM cart_items WHERE cart_id = $1").bind(guest_cart).execute(&mut *tx).await?;
            bump_version(&mut tx, guest_cart).await?;
        }
        let user_lines = read_lines(&mut tx, user_cart).await?;
        let ids: Vec<i64> = user_lines.iter().chain(&guest_lines).map(|l| l.variant_id).collect();
        let available = catalog.variants(&ids).await.map_err(StoreError::from)?;
        let (merged, report) = merge_lines(&user_lines, &guest_lines, &available, MAX_LINES);
        for (i, line) in merged.iter().enumerate() {
            if user_lines.contains(line) {
                continue;
            }
            sqlx::query(
                "INSERT INTO cart_items (cart_id, variant_id, quantity, price_cents, position) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (cart_id, variant_id) DO UPDATE SET quantity = excluded.quantity, price_cents = excluded.price_cents",
            )
            .bind(user_cart)
            .bind(line.variant_id)
            .bind(i64::from(line.quantity))
            .bind(line.price_cents)
            .bind(now_ms() * 1000 + i as i64)
            .execute(&mut *tx)
            .await?;
        }
        let version = bump_version(&mut tx, user_cart).await?;
        let lines = read_lines(&mut tx, user_cart).await?;
        tx.commit().await?;
        Ok(MergeOutcome::Merged { cart: StoredCart { lines, version: version as u64 }, report })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(owner: &str, variant_id: i64, mode: Mode, quantity: u32, price_cents: i64) -> BatchedChange {
        let change = LineChange { variant_id, mode, quantity, cap: 99, price_cents, max_lines: MAX_LINES };
        (owner.to_string(), change)
    }

    async fn run_batch(db: &Db, changes: &[BatchedChange]) -> Vec<Result<Change, StoreError>> {
        let mut tx = db.begin_write().await.unwrap();
        let answers = changes_in_batch(&mut tx, changes).await.unwrap();
        tx.commit().await.unwrap();
        answers
    }

    /// A cart's lines as (variant, quantity, price), in order.
    type Lines = Vec<(i64, u32, i64)>;

    fn order(cart: &StoredCart) -> Lines {
        cart.lines.iter().map(|l| (l.variant_id, l.quantity, l.price_cents)).collect()
    }

    /// Everything one batch can hold for one cart, decided in order: a line removed and added
    /// again, a line added and removed, a new price, a cap; beside a new cart with an unchanged
    /// change and a full cart. Each answer is the cart after its change, with one version per
    /// change that changed something, and what is stored is the last answer, lines in order.
    #[tokio::test]
    async fn one_batch_decides_each_change_in_order_and_stores_the_last_answer() {
        let db = Db::connect("sqlite::memory:", 1).await.unwrap();
        db.migrate().await.unwrap();
        let seeded = run_batch(&db, &[change("u:1", 1, Mode::Add, 1, 100), change("u:1", 2, Mode::Add, 1, 200)]).await;
        assert_eq!(seeded[1].as_ref().unwrap().cart.version, 2);
        let mut full = change("u:3", 7, Mode::Add, 1, 100);
        full.1.max_lines = 0;
        let answers = run_batch(
            &db,
            &[
                change("u:1", 1, Mode::Set, 0, 100),
                change("u:1", 1, Mode::Add, 1, 110),
                change("u:1", 3, Mode::Add, 1, 300),
                change("u:1", 3, Mode::Set, 0, 300),
                change("u:1", 2, Mode::Set, 1, 250),
                change("u:1", 2, Mode::Add, 500, 250),
                change("u:2", 4, Mode::Add, 2, 400),
                change("u:2", 4, Mode::Set, 2, 400),
                full,
            ],
        )
        .await;
        let carts: Vec<(u64, Lines)> =
            answers[..8].iter().map(|a| a.as_ref().unwrap()).map(|c| (c.cart.version, order(&c.cart))).collect();
        assert_eq!(
            carts,
            vec![
                (3, vec![(2, 1, 200)]),
                (4, vec![(2, 1, 200), (1, 1, 110)]),
                (5, vec![(2, 1, 200), (1, 1, 110), (3, 1, 300)]),
                (6, vec![(2, 1, 200), (1, 1, 110)]),
                (7, vec![(2, 1, 250), (1, 1, 110)]),
                (8, vec![(2, 99, 250), (1, 1, 110)]),
                (1, vec![(4, 2, 400)]),
                (1, vec![(4, 2, 400)]),
            ]
        );
        assert!(answers[5].as_ref().unwrap().capped);
        assert!(matches!(answers[8], Err(StoreError::CartFull)));
        let store = SqlCartStore::new(db);
        for (owner, answer) in [("u:1", &answers[5]), ("u:2", &answers[7])] {
            let stored = store.load_now(owner).await.unwrap();
            assert_eq!(stored, answer.as_ref().unwrap().cart, "{owner}: stored as last answered");
        }
        assert!(store.load_now("u:3").await.unwrap().is_pristine(), "a refused change writes nothing");
    }
}
