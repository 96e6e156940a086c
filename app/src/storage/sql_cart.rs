//! Carts in SQL: `carts` (one row per owner, with the version) and `cart_items`.
//!
//! Every mutation is one transaction that starts by upserting the cart row. On PostgreSQL that
//! takes the row lock, so changes to one cart run one after another; on SQLite `BEGIN IMMEDIATE`
//! takes the database write lock. Either way the read-compute-write inside cannot interleave with
//! another writer of the same cart, and the line limit and caps hold under concurrency.
//!
//! On SQLite, adds and sets (the busy path) go through `group_commit` instead: one writer task runs
//! many carts' changes in one transaction, each in three statements or fewer (`change_in_batch`).
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
    batch: Option<GroupCommit<Result<Change, StoreError>>>,
    /// The embedded default only: the in-process copy of the carts read.
    copy: Option<Arc<CartCopy>>,
}

impl From<GroupCommitError> for StoreError {
    fn from(e: GroupCommitError) -> Self {
        StoreError::Unavailable(e.to_string())
    }
}

/// An add or set on SQLite, run by the group commit inside its transaction, which holds the
/// database's write lock from `BEGIN IMMEDIATE`: nothing else writes between the read and the
/// writes here, so no row lock is needed. Reads the cart once, decides in memory, and writes
/// only when something changes (the cart row with its version, then the line); a refused or
/// empty change writes nothing.
async fn change_in_batch(
    tx: &mut Tx,
    owner: &str,
    change: LineChange,
) -> Result<Result<Change, StoreError>, sqlx::Error> {
    let LineChange { variant_id, mode, quantity, cap, price_cents, max_lines } = change;
    let rows = sqlx::query(
        "SELECT c.version, i.variant_id, i.quantity, i.price_cents FROM carts c \
         LEFT JOIN cart_items i ON i.cart_id = c.id WHERE c.owner = $1 ORDER BY i.position, i.variant_id",
    )
    .bind(owner)
    .fetch_all(&mut **tx)
    .await?;
    let mut version = 0i64;
    let mut lines = Vec::with_capacity(rows.len());
    for row in &rows {
        version = row.try_get("version")?;
        if let Some(id) = row.try_get::<Option<i64>, _>("variant_id")? {
            lines.push(StoredLine {
                variant_id: id,
                quantity: row.try_get::<i64, _>("quantity")? as u32,
                price_cents: row.try_get("price_cents")?,
            });
        }
    }
    let at = lines.iter().position(|l| l.variant_id == variant_id);
    let old = at.map_or(0, |i| lines[i].quantity);
    let wanted = match mode {
        Mode::Add => old.saturating_add(quantity),
        Mode::Set => quantity,
    };
    let capped = wanted > cap;
    let new = wanted.min(cap);
    let unchanged = match at {
        Some(i) => new == old && lines[i].price_cents == price_cents,
        None => new == 0,
    };
    if unchanged {
        return Ok(Ok(Change { cart: StoredCart { lines, version: version as u64 }, quantity: new, capped }));
    }
    if at.is_none() && lines.len() >= max_lines {
        return Ok(Err(StoreError::CartFull));
    }
    let row = sqlx::query(
        "INSERT INTO carts (owner, version, updated_at) VALUES ($1, 1, $2) \
         ON CONFLICT (owner) DO UPDATE SET version = carts.version + 1, updated_at = excluded.updated_at \
         RETURNING id, version",
    )
    .bind(owner)
    .bind(now_ms())
    .fetch_one(&mut **tx)
    .await?;
    let (cart_id, version): (i64, i64) = (row.try_get("id")?, row.try_get("version")?);
    match at {
        Some(i) if new == 0 => {
            sqlx::query("DELETE FROM cart_items WHERE cart_id = $1 AND variant_id = $2")
                .bind(cart_id)
                .bind(variant_id)
                .execute(&mut **tx)
                .await?;
            lines.remove(i);
        }
        Some(i) => {
            sqlx::query("UPDATE cart_items SET quantity = $3, price_cents = $4 WHERE cart_id = $1 AND variant_id = $2")
                .bind(cart_id)
                .bind(variant_id)
                .bind(i64::from(new))
                .bind(price_cents)
                .execute(&mut **tx)
                .await?;
            lines[i] = StoredLine { variant_id, quantity: new, price_cents };
        }
        None => {
            insert_line(tx, cart_id, variant_id, new, price_cents).await?;
            lines.push(StoredLine { variant_id, quantity: new, price_cents });
        }
    }
    Ok(Ok(Change { cart: StoredCart { lines, version: version as u64 }, quantity: new, capped }))
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
        let batch = (db.dialect == Dialect::Sqlite && tokio::runtime::Handle::try_current().is_ok())
            .then(|| GroupCommit::start(db.clone()));
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
            let key = owner.key();
            let job = group_commit::job(move |tx| {
                let key = key.clone();
                Box::pin(async move { change_in_batch(tx, &key, change).await })
            });
            return batch.run(job).await?;
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
