//! One test suite, every cart store and persistence strategy: SQL on SQLite and on PostgreSQL
//! (`database`), SQLite with its in-process copy (the embedded default), Redis only (today's guest carts), PostgreSQL with a Redis copy
//! (`write-through`), and Redis written behind to PostgreSQL (`write-behind`). Covers the
//! semantics every caller relies on and the concurrency guarantees (no lost update, the line
//! limit holds). Redis carts can also be claimed (for an order or a merge): exactly one claimer
//! holds a cart, nothing changes it meanwhile, and settling the claim is idempotent.

use app::domain::cart::{StoredLine, MAX_LINES};
use app::storage::cached_cart::CachedCartStore;
use app::storage::cart_store::{CartOwner, CartStore, LineChange, Mode, StoreError};
use app::storage::redis::Redis;
use app::storage::redis_cart::RedisCartStore;
use app::storage::sql_cart::{cart_copy, SqlCartStore};
use std::sync::Arc;
use testkit::{Backend, RedisServer, TestDb};

/// A store plus whatever keeps its backend alive for the test.
struct Subject {
    store: Arc<dyn CartStore>,
    _db: Option<TestDb>,
    _redis: Option<RedisServer>,
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Sqlite,
    /// SQLite with the in-process copy of carts the embedded shop keeps.
    SqliteCopy,
    Postgres,
    Redis,
    WriteThrough,
    WriteBehind,
}

async fn subject(kind: Kind) -> Subject {
    match kind {
        Kind::Sqlite | Kind::Postgres => {
            let db =
                testkit::database(if matches!(kind, Kind::Sqlite) { Backend::Sqlite } else { Backend::Postgres }).await;
            Subject { store: Arc::new(SqlCartStore::new(db.db.clone())), _db: Some(db), _redis: None }
        }
        Kind::SqliteCopy => {
            let db = testkit::database(Backend::Sqlite).await;
            let store = SqlCartStore::with_copy(db.db.clone(), cart_copy(1 << 20));
            Subject { store: Arc::new(store), _db: Some(db), _redis: None }
        }
        Kind::Redis => {
            let server = RedisServer::start();
            let redis = Redis::connect(&server.url(), 4).await.unwrap();
            Subject { store: Arc::new(RedisCartStore::new(redis, 3600)), _db: None, _redis: Some(server) }
        }
        Kind::WriteThrough | Kind::WriteBehind => {
            let db = testkit::database(Backend::Postgres).await;
            let server = RedisServer::start();
            let redis = Redis::connect(&server.url(), 4).await.unwrap();
            let sql = SqlCartStore::new(db.db.clone());
            let store: Arc<dyn CartStore> = match kind {
                Kind::WriteThrough => Arc::new(CachedCartStore::new(sql, redis)),
                _ => Arc::new(RedisCartStore::write_behind(redis, 3600, sql)),
            };
            Subject { store, _db: Some(db), _redis: Some(server) }
        }
    }
}

macro_rules! every_store {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $name() { super::$name(super::Kind::Sqlite).await } )* }
        mod sqlite_copy { $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $name() { super::$name(super::Kind::SqliteCopy).await } )* }
        mod postgres { $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $name() { super::$name(super::Kind::Postgres).await } )* }
        mod redis { $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $name() { super::$name(super::Kind::Redis).await } )* }
        mod write_through { $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $name() { super::$name(super::Kind::WriteThrough).await } )* }
        mod write_behind { $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $name() { super::$name(super::Kind::WriteBehind).await } )* }
    };
}

every_store!(
    add_set_remove_clear,
    caps_and_zero,
    line_limit,
    restore_only_into_a_pristine_cart,
    owners_are_separate,
    concurrent_adds_of_one_product_stop_at_the_cap,
    concurrent_adds_of_different_products_all_land,
    concurrent_new_lines_respect_the_limit,
    reads_racing_writes_end_at_the_last_write,
    concurrent_changes_read_as_one_order,
);

/// SQL stores: a change that fails inside the database is never answered as done, and does not
/// take other shoppers' changes with it. On SQLite many changes share one transaction (group
/// commit); a failing one rolls the group back and the others are run again, each alone.
mod sql_failures {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite() {
        super::a_failing_change_is_never_acknowledged(super::Kind::Sqlite).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres() {
        super::a_failing_change_is_never_acknowledged(super::Kind::Postgres).await
    }
}

/// SQLite's group commit: a new line goes after every line the cart has, even one stored with a
/// later position than the clock gives now (a clock stepped back, or an earlier batch in the same
/// millisecond): the stored order is the order the answer showed.
mod sqlite_line_order {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite() {
        super::a_new_line_goes_last_whatever_the_clock(super::Kind::Sqlite).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite_copy() {
        super::a_new_line_goes_last_whatever_the_clock(super::Kind::SqliteCopy).await
    }
}

async fn a_new_line_goes_last_whatever_the_clock(kind: Kind) {
    let s = subject(kind).await;
    let o = guest("order");
    s.store.change(&o, lc(5, Mode::Add, 1, 99, 100)).await.unwrap();
    // As if the line had been added an hour from now.
    let db = &s._db.as_ref().unwrap().db;
    sqlx::query("UPDATE cart_items SET position = position + 3600000000")
        .execute(&mut *db.write().await.unwrap())
        .await
        .unwrap();
    let answer = s.store.change(&o, lc(9, Mode::Add, 1, 99, 100)).await.unwrap().cart;
    assert_eq!(answer.lines.iter().map(|l| l.variant_id).collect::<Vec<_>>(), vec![5, 9]);
    assert_eq!(s.store.load(&o).await.unwrap(), answer, "stored in the order answered");
    // Removed, then added again: it goes last again, after the line that came after it.
    let answer = s.store.change(&o, lc(5, Mode::Set, 0, 99, 100)).await.unwrap().cart;
    assert_eq!(s.store.load(&o).await.unwrap(), answer);
    let answer = s.store.change(&o, lc(5, Mode::Add, 2, 99, 100)).await.unwrap().cart;
    assert_eq!(answer.lines.iter().map(|l| l.variant_id).collect::<Vec<_>>(), vec![9, 5]);
    assert_eq!(s.store.load(&o).await.unwrap(), answer, "stored in the order answered");
}

/// Makes inserting a line of `variant_id` raise inside the database.
async fn fail_inserts_of(db: &app::storage::db::Db, variant_id: i64) {
    let mut conn = db.write().await.unwrap();
    let statements = match db.dialect {
        app::storage::db::Dialect::Sqlite => vec![format!(
            "CREATE TRIGGER fail_line BEFORE INSERT ON cart_items WHEN NEW.variant_id = {variant_id} \
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
        )],
        app::storage::db::Dialect::Postgres => vec![
            format!(
                "CREATE FUNCTION fail_line() RETURNS trigger AS $$ BEGIN IF NEW.variant_id = {variant_id} \
                 THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
            ),
            "CREATE TRIGGER fail_line BEFORE INSERT ON cart_items FOR EACH ROW EXECUTE FUNCTION fail_line()".into(),
        ],
    };
    for sql in statements {
        sqlx::query(&sql).execute(&mut *conn).await.unwrap();
    }
}

async fn a_failing_change_is_never_acknowledged(kind: Kind) {
    const POISON: i64 = 7;
    let s = subject(kind).await;
    fail_inserts_of(&s._db.as_ref().unwrap().db, POISON).await;
    let owners: Vec<CartOwner> = (0..40).map(|i| guest(&format!("fail-{i}"))).collect();
    // Every shopper adds two products at once; one shopper in four adds the poisoned one.
    let mut tasks = Vec::new();
    for (i, o) in owners.iter().enumerate() {
        for variant in [20 + (i as i64 % 5), if i % 4 == 0 { POISON } else { 30 }] {
            let (store, o) = (s.store.clone(), o.clone());
            tasks.push(tokio::spawn(async move {
                (o.clone(), variant, store.change(&o, lc(variant, Mode::Add, 1, 99, 100)).await)
            }));
        }
    }
    let mut acknowledged = std::collections::HashMap::<String, u64>::new();
    for t in tasks {
        let (o, variant, result) = t.await.unwrap();
        let held = s.store.load(&o).await.unwrap().quantity_of(variant);
        match result {
            Ok(change) => {
                assert_ne!(variant, POISON, "the failing insert was answered as done");
                assert_eq!((change.quantity, held), (1, 1), "{o:?} {variant}: acknowledged and kept");
                *acknowledged.entry(o.key()).or_default() += 1;
            }
            Err(e) => {
                assert_eq!(variant, POISON, "{o:?}: a healthy change failed with its group: {e}");
                assert_eq!(held, 0, "{o:?}: a change answered as failed was kept");
            }
        }
    }
    for o in &owners {
        let cart = s.store.load(o).await.unwrap();
        let expected = acknowledged.get(&o.key()).copied().unwrap_or(0);
        assert_eq!(cart.lines.len() as u64, expected, "{o:?}: exactly the acknowledged lines");
        assert_eq!(cart.version, expected, "{o:?}: one version per acknowledged change");
    }
}

fn lc(product_id: i64, mode: Mode, quantity: u32, cap: u32, price_cents: i64) -> LineChange {
    LineChange { variant_id: product_id, mode, quantity, cap, price_cents, max_lines: MAX_LINES }
}

fn guest(name: &str) -> CartOwner {
    CartOwner::Guest(format!("test-{name}-{}", rand::random::<u32>()))
}

async fn add_set_remove_clear(kind: Kind) {
    let s = subject(kind).await;
    let o = guest("basic");
    let empty = s.store.load(&o).await.unwrap();
    assert!(empty.is_pristine());
    let c = s.store.change(&o, lc(5, Mode::Add, 2, 99, 1000)).await.unwrap();
    assert_eq!((c.quantity, c.capped), (2, false));
    assert_eq!(c.cart.lines, vec![StoredLine { variant_id: 5, quantity: 2, price_cents: 1000 }]);
    let v1 = c.cart.version;
    assert!(v1 >= 1);
    let c = s.store.change(&o, lc(5, Mode::Add, 3, 99, 1100)).await.unwrap();
    assert_eq!(c.quantity, 5);
    assert_eq!(c.cart.lines[0].price_cents, 1100, "the price seen is updated");
    assert!(c.cart.version > v1);
    let c = s.store.change(&o, lc(9, Mode::Set, 4, 99, 250)).await.unwrap();
    assert_eq!(c.cart.lines.iter().map(|l| (l.variant_id, l.quantity)).collect::<Vec<_>>(), vec![(5, 5), (9, 4)]);
    let loaded = s.store.load(&o).await.unwrap();
    assert_eq!(loaded, c.cart);
    // An unchanged set does not bump the version.
    let same = s.store.change(&o, lc(9, Mode::Set, 4, 99, 250)).await.unwrap();
    assert_eq!(same.cart.version, c.cart.version);
    let after_remove = s.store.remove(&o, 5).await.unwrap();
    assert_eq!(after_remove.lines.len(), 1);
    assert!(after_remove.version > c.cart.version);
    let nothing = s.store.remove(&o, 12345).await.unwrap();
    assert_eq!(nothing.version, after_remove.version, "removing a missing line changes nothing");
    let cleared = s.store.clear(&o).await.unwrap();
    assert!(cleared.lines.is_empty());
    assert!(cleared.version > after_remove.version);
    let loaded = s.store.load(&o).await.unwrap();
    assert!(loaded.lines.is_empty());
    assert!(!loaded.is_pristine(), "a cleared cart is not a lost cart");
}

async fn caps_and_zero(kind: Kind) {
    let s = subject(kind).await;
    let o = guest("caps");
    let c = s.store.change(&o, lc(1, Mode::Add, 5, 3, 100)).await.unwrap();
    assert_eq!((c.quantity, c.capped), (3, true));
    let c = s.store.change(&o, lc(1, Mode::Add, 1, 3, 100)).await.unwrap();
    assert_eq!((c.quantity, c.capped), (3, true), "already at the cap");
    let c = s.store.change(&o, lc(1, Mode::Set, 50, 99, 100)).await.unwrap();
    assert_eq!((c.quantity, c.capped), (50, false));
    let c = s.store.change(&o, lc(1, Mode::Set, 0, 99, 100)).await.unwrap();
    assert_eq!(c.quantity, 0);
    assert!(c.cart.lines.is_empty(), "0 removes the line");
}

async fn line_limit(kind: Kind) {
    let s = subject(kind).await;
    let o = guest("limit");
    for pid in 1..=MAX_LINES as i64 {
        s.store.change(&o, lc(pid, Mode::Add, 1, 99, 100)).await.unwrap();
    }
    let err = s.store.change(&o, lc(999, Mode::Add, 1, 99, 100)).await.unwrap_err();
    assert_eq!(err, StoreError::CartFull);
    let c = s.store.change(&o, lc(7, Mode::Add, 1, 99, 100)).await.unwrap();
    assert_eq!(c.quantity, 2, "existing lines can still change");
    assert_eq!(s.store.load(&o).await.unwrap().lines.len(), MAX_LINES);
}

async fn restore_only_into_a_pristine_cart(kind: Kind) {
    let s = subject(kind).await;
    let o = guest("restore");
    let lines = vec![
        StoredLine { variant_id: 3, quantity: 2, price_cents: 500 },
        StoredLine { variant_id: 8, quantity: 1, price_cents: 900 },
    ];
    let restored = s.store.restore_if_pristine(&o, &lines).await.unwrap().expect("pristine cart restores");
    assert_eq!(restored.lines, lines);
    assert!(s.store.restore_if_pristine(&o, &lines).await.unwrap().is_none(), "a second restore is refused");
    assert_eq!(s.store.load(&o).await.unwrap().lines, lines, "not doubled");
    let o2 = guest("restore-cleared");
    s.store.change(&o2, lc(1, Mode::Add, 1, 99, 1)).await.unwrap();
    s.store.clear(&o2).await.unwrap();
    assert!(s.store.restore_if_pristine(&o2, &lines).await.unwrap().is_none(), "an emptied cart stays empty");
    // Ten browsers restoring the same copy at once: it lands once.
    let o3 = guest("restore-race");
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (store, o3, lines) = (s.store.clone(), o3.clone(), lines.clone());
        tasks.push(tokio::spawn(async move { store.restore_if_pristine(&o3, &lines).await.unwrap().is_some() }));
    }
    let mut applied = 0;
    for t in tasks {
        applied += usize::from(t.await.unwrap());
    }
    assert_eq!(applied, 1);
    assert_eq!(s.store.load(&o3).await.unwrap().lines, lines);
}

async fn owners_are_separate(kind: Kind) {
    let s = subject(kind).await;
    let (a, b) = (guest("a"), CartOwner::User(rand::random::<u32>() as i64 + 1));
    s.store.change(&a, lc(1, Mode::Add, 1, 99, 100)).await.unwrap();
    s.store.change(&b, lc(2, Mode::Add, 2, 99, 100)).await.unwrap();
    assert_eq!(s.store.load(&a).await.unwrap().lines.len(), 1);
    assert_eq!(s.store.load(&a).await.unwrap().quantity_of(2), 0);
    assert_eq!(s.store.load(&b).await.unwrap().quantity_of(2), 2);
    s.store.clear(&a).await.unwrap();
    assert_eq!(s.store.load(&b).await.unwrap().quantity_of(2), 2);
}

async fn concurrent_adds_of_one_product_stop_at_the_cap(kind: Kind) {
    let s = subject(kind).await;
    let o = guest("race-one");
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (store, o) = (s.store.clone(), o.clone());
        tasks.push(tokio::spawn(async move { store.change(&o, lc(42, Mode::Add, 1, 99, 100)).await }));
    }
    let mut capped = 0;
    let mut quantities = Vec::new();
    for t in tasks {
        let c = t.await.unwrap().expect("no error other than the cap");
        capped += usize::from(c.capped);
        quantities.push(c.quantity);
    }
    assert_eq!(capped, 1, "exactly one request found the line full");
    quantities.sort();
    quantities.dedup();
    assert_eq!(quantities, (1..=99).collect::<Vec<u32>>(), "every increment applied once");
    assert_eq!(s.store.load(&o).await.unwrap().quantity_of(42), 99);
}

async fn concurrent_adds_of_different_products_all_land(kind: Kind) {
    let s = subject(kind).await;
    let o = guest("race-many");
    let mut tasks = Vec::new();
    for pid in 1..=50i64 {
        let (store, o) = (s.store.clone(), o.clone());
        tasks.push(tokio::spawn(async move { store.change(&o, lc(pid, Mode::Add, 1, 99, 100)).await }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let cart = s.store.load(&o).await.unwrap();
    let mut ids: Vec<i64> = cart.lines.iter().map(|l| l.variant_id).collect();
    ids.sort();
    assert_eq!(ids, (1..=50).collect::<Vec<_>>());
    assert!(cart.version >= 50);
}

/// Changes racing on one cart (adds, sets, removals by a set to zero, new prices) read as if they
/// ran one after another: every answer that names a version shows the same cart as every other
/// answer naming it, and the cart stored at the end is the answer with the highest version, lines
/// in the same order. On SQLite most of these share a group-commit batch, which decides them all
/// in memory and writes the batch at once: a line removed and added again inside one batch must
/// come back at the end of the cart, as its answer said.
async fn concurrent_changes_read_as_one_order(kind: Kind) {
    let s = subject(kind).await;
    let o = guest("race-mixed");
    let mut tasks = Vec::new();
    for i in 0..60u32 {
        let variant = 1 + i64::from(i % 3);
        let (mode, quantity) = match i % 4 {
            0 => (Mode::Add, 1),
            1 => (Mode::Set, 0),
            2 => (Mode::Set, 2),
            _ => (Mode::Add, 2),
        };
        let (store, o) = (s.store.clone(), o.clone());
        let change = lc(variant, mode, quantity, 99, 100 + i64::from(i));
        tasks.push(tokio::spawn(async move { store.change(&o, change).await.unwrap().cart }));
    }
    let mut by_version = std::collections::BTreeMap::new();
    for t in tasks {
        let cart = t.await.unwrap();
        let seen = by_version.entry(cart.version).or_insert_with(|| cart.clone());
        assert_eq!(seen, &cart, "two answers name version {} with different carts", cart.version);
    }
    let (_, last) = by_version.pop_last().unwrap();
    assert_eq!(s.store.load(&o).await.unwrap(), last, "the stored cart is the last answer");
}

async fn concurrent_new_lines_respect_the_limit(kind: Kind) {
    let s = subject(kind).await;
    let o = guest("race-limit");
    for pid in 1..=(MAX_LINES as i64 - 5) {
        s.store.change(&o, lc(pid, Mode::Add, 1, 99, 100)).await.unwrap();
    }
    let mut tasks = Vec::new();
    for pid in 1000..1020i64 {
        let (store, o) = (s.store.clone(), o.clone());
        tasks.push(tokio::spawn(async move { store.change(&o, lc(pid, Mode::Add, 1, 99, 100)).await }));
    }
    let mut full = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => {}
            Err(StoreError::CartFull) => full += 1,
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(full, 15);
    assert_eq!(s.store.load(&o).await.unwrap().lines.len(), MAX_LINES);
}

/// Shoppers reading their carts while changes land (a page polling the cart while another tab
/// adds): once the writes are done, a read shows the last of them. With the in-process copy, a
/// read that raced a write must not have put the older cart back.
async fn reads_racing_writes_end_at_the_last_write(kind: Kind) {
    let s = subject(kind).await;
    let owners: Vec<CartOwner> = (0..8).map(|i| guest(&format!("racing-{i}"))).collect();
    let mut tasks = Vec::new();
    for o in &owners {
        for pid in 1..=12i64 {
            let (store, o) = (s.store.clone(), o.clone());
            tasks.push(tokio::spawn(async move {
                store.change(&o, lc(pid, Mode::Add, 1, 99, 100)).await.unwrap();
            }));
        }
        for _ in 0..12 {
            let (store, o) = (s.store.clone(), o.clone());
            tasks.push(tokio::spawn(async move {
                store.load(&o).await.unwrap();
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    for o in &owners {
        let cart = s.store.load(o).await.unwrap();
        assert_eq!(cart.lines.len(), 12, "{o:?}: every add shows");
        assert!(cart.version >= 12, "{o:?}: at version {}", cart.version);
    }
}

/// A request that goes away while its change is queued (the shopper closed the tab) does not
/// leave the copy holding the cart from before that change, although the change still commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_change_whose_caller_went_away_is_not_hidden_by_the_copy() {
    let db = testkit::database(Backend::Sqlite).await;
    let copy = cart_copy(1 << 20);
    let copied = Arc::new(SqlCartStore::with_copy(db.db.clone(), copy.clone()));
    let truth = SqlCartStore::new(db.db.clone());
    for round in 0..40i64 {
        let o = guest(&format!("gone-{round}"));
        copied.load(&o).await.unwrap();
        // Readers keep filling the copy while the change is under way.
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let (store, o) = (copied.clone(), o.clone());
                tokio::spawn(async move {
                    for _ in 0..20 {
                        store.load(&o).await.unwrap();
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        // The caller polls its change once and is dropped.
        let change = copied.change(&o, lc(round + 1, Mode::Add, 1, 99, 100));
        let _ = tokio::time::timeout(std::time::Duration::ZERO, change).await;
        for r in readers {
            r.await.unwrap();
        }
        // The change commits although its caller is gone, and the copy then follows the database
        // (at once, or within moments: between the commit and the write's second step a reader
        // may still see the cart from before, as it may while any change is under way). Without
        // that second step it would serve the old cart until it aged out.
        let mut agree = false;
        for _ in 0..200 {
            let stored = truth.load(&o).await.unwrap();
            if !stored.lines.is_empty() && copied.load(&o).await.unwrap() == stored {
                agree = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(
            agree,
            "round {round}: the copy holds {:?}, the database {:?}",
            copy.get(&o.key()),
            truth.load(&o).await
        );
    }
}

/// Ten claimers at once: exactly one holds the cart; while it does, changes are refused; the
/// same claim may ask again; finishing empties the cart and moves its version on, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_claims_are_exclusive_and_settle_once() {
    use app::storage::redis_cart::ClaimOutcome;
    let server = RedisServer::start();
    let redis = Redis::connect(&server.url(), 4).await.unwrap();
    let store = Arc::new(RedisCartStore::new(redis, 3600));
    let o = guest("claim");
    store.change(&o, lc(1, Mode::Add, 2, 99, 100)).await.unwrap();
    let version = store.change(&o, lc(2, Mode::Add, 1, 99, 100)).await.unwrap().cart.version;
    let mut tasks = Vec::new();
    for i in 0..10 {
        let (store, o) = (store.clone(), o.clone());
        tasks.push(tokio::spawn(async move { (i, store.claim(&o, &format!("o:claimer-{i}"), Some(version)).await) }));
    }
    let mut holders = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            (i, Ok(ClaimOutcome::Claimed(cart))) => {
                assert_eq!(cart.lines.len(), 2);
                holders.push(format!("o:claimer-{i}"));
            }
            (_, Err(StoreError::Claimed(_))) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(holders.len(), 1, "exactly one claimer holds the cart");
    let holder = &holders[0];
    assert!(matches!(store.change(&o, lc(3, Mode::Add, 1, 99, 100)).await, Err(StoreError::Claimed(_))));
    assert!(matches!(store.load(&o).await, Err(StoreError::Claimed(_))));
    assert!(matches!(store.claim(&o, holder, Some(version)).await, Ok(ClaimOutcome::Claimed(_))), "re-entrant");
    assert!(store.finish_claim(&o, holder).await.unwrap());
    assert!(!store.finish_claim(&o, holder).await.unwrap(), "settled once");
    let after = store.load(&o).await.unwrap();
    assert!(after.lines.is_empty());
    assert!(after.version > version, "the ordered version cannot be claimed again");
    assert!(matches!(store.claim(&o, "o:late", Some(version)).await, Ok(ClaimOutcome::Changed(_))));
    // A released claim gives the cart back as it was (with a new version when asked).
    store.change(&o, lc(4, Mode::Add, 1, 99, 100)).await.unwrap();
    let v = store.load(&o).await.unwrap().version;
    assert!(matches!(store.claim(&o, "m:7", None).await, Ok(ClaimOutcome::Claimed(_))));
    assert!(store.release_claim(&o, "m:7", true).await.unwrap());
    let back = store.load(&o).await.unwrap();
    assert_eq!((back.quantity_of(4), back.version), (1, v + 1));
}
