//! Write-behind cart persistence (`CART_PERSISTENCE=write-behind`) on PostgreSQL + Redis: changes
//! land in Redis only and reach SQL once idle or before anything that reads SQL as the truth; a
//! Redis loss costs only what was not written yet; an instance killed with SIGKILL in the middle
//! of a stream of adds loses nothing that another instance cannot write.

use std::collections::BTreeMap;
use std::time::Duration;
use testkit::{post, Backend, RedisServer, TestServer};

const BEHIND: &[(&str, &str)] = &[("CART_PERSISTENCE", "write-behind"), ("CART_FLUSH_IDLE_SECS", "1")];

/// Every cart SQL holds: owner → (version, [(product, quantity)]).
async fn sql_carts(db: &app::storage::db::Db) -> BTreeMap<String, (i64, Vec<(i64, i64)>)> {
    let rows: Vec<(String, i64, Option<i64>, Option<i64>)> = sqlx::query_as(
        "SELECT c.owner, c.version, i.variant_id, i.quantity FROM carts c \
         LEFT JOIN cart_items i ON i.cart_id = c.id ORDER BY c.owner, i.variant_id",
    )
    .fetch_all(db.read())
    .await
    .unwrap();
    let mut out: BTreeMap<String, (i64, Vec<(i64, i64)>)> = BTreeMap::new();
    for (owner, version, product, quantity) in rows {
        let entry = out.entry(owner).or_insert((version, vec![]));
        if let (Some(p), Some(q)) = (product, quantity) {
            entry.1.push((p, q));
        }
    }
    out
}

/// The lines of a cart answer, as (product, quantity), sorted.
fn lines(cart: &serde_json::Value) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = cart["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["product_id"].as_i64().unwrap(), l["quantity"].as_i64().unwrap()))
        .collect();
    out.sort();
    out
}

async fn add(http: &reqwest::Client, s: &TestServer, product: i64, quantity: u32) -> serde_json::Value {
    let (status, cart) = post(http, s, "/api/cart/add", &format!("product_id={product}&quantity={quantity}")).await;
    assert_eq!(status, 200, "{cart}");
    cart
}

async fn write_behind() -> testkit::Setup {
    testkit::setup_with(testkit::Kind::Scaled, BEHIND).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn changes_reach_the_database_only_once_the_cart_is_idle() {
    let t = write_behind().await;
    let s = &t.server;
    let products = testkit::products_in_stock(s, 2).await;
    let http = testkit::browser();
    add(&http, s, products[0].0, 2).await;
    let cart = add(&http, s, products[1].0, 1).await;
    assert!(sql_carts(&s.state.db).await.values().all(|(_, l)| l.is_empty()), "nothing in SQL before the window");
    assert_eq!(s.state.carts.unflushed().await.unwrap(), 1);
    assert_eq!(s.state.carts.flush_idle(100, false).await.unwrap(), 0, "not idle for a second yet");
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(s.state.carts.flush_idle(100, false).await.unwrap(), 1);
    let sql = sql_carts(&s.state.db).await;
    let (version, in_sql) = sql.values().find(|(_, l)| !l.is_empty()).expect("the cart is in SQL");
    assert_eq!(in_sql, &lines(&cart));
    assert_eq!(*version, cart["version"].as_i64().unwrap(), "the same version as Redis");
    assert_eq!(s.state.carts.unflushed().await.unwrap(), 0, "clean once written");
    // Written again, nothing changes.
    assert_eq!(s.state.carts.flush_idle(100, true).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redis_loss_costs_only_what_was_not_written_yet() {
    let mut t = write_behind().await;
    let s = &t.server;
    let products = testkit::products_in_stock(s, 3).await;
    let http = testkit::browser();
    let written = add(&http, s, products[0].0, 3).await;
    s.state.carts.flush_idle(100, true).await.unwrap();
    add(&http, s, products[1].0, 1).await; // in Redis only
                                           // Redis comes back empty (it keeps nothing on disk here).
    let redis = t.redis.as_mut().unwrap();
    redis.stop();
    redis.start_again();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut cart = serde_json::Value::Null;
    for _ in 0..40 {
        let (status, c) = post(&http, s, "/api/cart", "").await;
        if status == 200 {
            cart = c;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // The session was in Redis too, so the browser may be a new guest now: then its cart is empty,
    // and SQL still holds the written one. Either way nothing written is lost or doubled.
    if !lines(&cart).is_empty() {
        assert_eq!(lines(&cart), lines(&written), "refilled from SQL: the written lines, once");
        assert_eq!(cart["version"], written["version"]);
    }
    let sql = sql_carts(&s.state.db).await;
    assert!(sql.values().any(|(_, l)| *l == lines(&written)), "{sql:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_account_cart_missing_from_redis_is_read_and_changed_from_sql() {
    let t = write_behind().await;
    let s = &t.server;
    let products = testkit::products_in_stock(s, 2).await;
    let http = testkit::browser();
    let email = format!("wb{}@example.com", rand::random::<u32>());
    let (status, _) = post(&http, s, "/api/auth/register", &format!("email={email}&password=correct+horse")).await;
    assert_eq!(status, 200);
    let first = add(&http, s, products[0].0, 2).await;
    s.state.carts.flush_idle(100, true).await.unwrap();
    // Redis forgets every cart (evicted, flushed by an operator): the next change must start
    // from SQL's cart, not from an empty one.
    let deleted = redis_cli(
        &t.redis.as_ref().unwrap().url(),
        &[
            "EVAL",
            "local n = 0 for _, k in ipairs(redis.call('KEYS', 'cart:*')) do n = n + redis.call('DEL', k) end return n",
            "0",
        ],
    );
    assert_ne!(deleted.trim(), "0", "the cart was in Redis");
    let cart = add(&http, s, products[1].0, 1).await;
    let mut want = lines(&first);
    want.push((products[1].0, 1));
    want.sort();
    assert_eq!(lines(&cart), want);
    assert!(cart["version"].as_i64().unwrap() > first["version"].as_i64().unwrap(), "versions go on from SQL's");
    s.state.carts.flush_idle(100, true).await.unwrap();
    assert!(sql_carts(&s.state.db).await.values().any(|(_, l)| *l == want));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn checkout_right_after_a_burst_of_adds_orders_every_line_and_sql_follows() {
    let t = write_behind().await;
    let s = &t.server;
    let products = testkit::products_in_stock(s, 8).await;
    let http = testkit::browser();
    let mut handles = vec![];
    for (id, _) in &products {
        let (http, url, id) = (http.clone(), s.url("/api/cart/add"), *id);
        handles.push(tokio::spawn(async move {
            http.post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("product_id={id}&quantity=2"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    // The first add makes the session; later ones may race it, so add the rest again in order.
    for h in handles {
        h.await.unwrap();
    }
    for (id, _) in &products {
        post(&http, s, "/api/cart/set", &format!("product_id={id}&quantity=2")).await;
    }
    let summary = testkit::checkout_summary(&http, s).await;
    let quote = summary["quote"].as_str().unwrap();
    let form = testkit::checkout_form(&testkit::new_key(), quote, "burst@example.com", "Lyon");
    let (status, placed) = post(&http, s, "/api/checkout/place", &form).await;
    assert_eq!(status, 200, "{placed}");
    let order_id = placed["order"]["id"].as_str().unwrap().to_string();
    let items: Vec<(i64, i64)> =
        sqlx::query_as("SELECT product_id, quantity FROM order_lines WHERE order_id = $1 ORDER BY product_id")
            .bind(&order_id)
            .fetch_all(s.state.db.read())
            .await
            .unwrap();
    let mut want: Vec<(i64, i64)> = products.iter().map(|(id, _)| (*id, 2)).collect();
    want.sort();
    assert_eq!(items, want, "every line of the burst is on the order");
    let (_, cart) = post(&http, s, "/api/cart", "").await;
    assert!(lines(&cart).is_empty(), "the cart is empty after the order");
    assert!(sql_carts(&s.state.db).await.values().all(|(_, l)| l.is_empty()), "and so is SQL's copy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn signing_in_merges_an_unwritten_guest_cart_into_an_unwritten_account_cart_once() {
    let t = write_behind().await;
    let s = &t.server;
    let products = testkit::products_in_stock(s, 2).await;
    let email = format!("merge{}@example.com", rand::random::<u32>());
    let account = testkit::browser();
    post(&account, s, "/api/auth/register", &format!("email={email}&password=correct+horse")).await;
    add(&account, s, products[0].0, 1).await; // the account's cart, in Redis only
    let guest = testkit::browser();
    add(&guest, s, products[1].0, 3).await; // a guest cart, in Redis only
    let login = format!("email={email}&password=correct+horse");
    let (status, answer) = post(&guest, s, "/api/auth/login", &login).await;
    assert_eq!(status, 200, "{answer}");
    let want = {
        let mut w = vec![(products[0].0, 1), (products[1].0, 3)];
        w.sort();
        w
    };
    assert_eq!(lines(&answer["cart"]), want);
    // Both browsers see the merged cart, and a second sign-in merges nothing more.
    let (_, cart) = post(&account, s, "/api/cart", "").await;
    assert_eq!(lines(&cart), want);
    let (_, again) = post(&guest, s, "/api/auth/login", &login).await;
    assert_eq!(lines(&again["cart"]), want);
    s.state.carts.flush_idle(100, true).await.unwrap();
    let sql = sql_carts(&s.state.db).await;
    let account_rows: Vec<_> = sql.iter().filter(|(o, _)| o.starts_with("u:")).collect();
    assert_eq!(account_rows.len(), 1);
    assert_eq!(account_rows[0].1 .1, want, "SQL holds the merged cart");
    assert_eq!(account_rows[0].1 .0, cart["version"].as_i64().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_older_snapshot_never_replaces_a_newer_one() {
    let db = testkit::database(Backend::Sqlite).await;
    let sql = app::storage::sql_cart::SqlCartStore::new(db.db.clone());
    let owner = app::storage::cart_store::CartOwner::User(7);
    let line = |q| app::domain::cart::StoredLine { variant_id: 1, quantity: q, price_cents: 100 };
    let newer = app::domain::cart::StoredCart { lines: vec![line(5)], version: 5 };
    let older = app::domain::cart::StoredCart { lines: vec![line(3)], version: 3 };
    assert!(sql.write_snapshot(&owner, &newer).await.unwrap());
    assert!(!sql.write_snapshot(&owner, &older).await.unwrap());
    assert!(!sql.write_snapshot(&owner, &newer).await.unwrap(), "the same version again is a no-op");
    use app::storage::cart_store::CartStore;
    assert_eq!(sql.load(&owner).await.unwrap(), newer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_killed_with_its_append_only_file_loses_at_most_about_a_second() {
    let db = testkit::database(Backend::Postgres).await;
    let mut redis = RedisServer::start_with_aof();
    let s = testkit::spawn_with(&db.url, Some(&redis.url()), &[("CART_PERSISTENCE", "write-behind")]).await;
    let product = testkit::products_in_stock(&s, 1).await[0].0;
    let http = testkit::browser();
    // One add every 100 ms for 3 s; nothing reaches SQL (the idle window is 30 s).
    let mut told = vec![];
    for _ in 0..30 {
        let cart = add(&http, &s, product, 1).await;
        told.push((std::time::Instant::now(), lines(&cart)[0].1));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    redis.stop(); // SIGKILL, right after the last answer
    let killed = std::time::Instant::now();
    redis.start_again();
    let mut recovered = None;
    for _ in 0..60 {
        let (status, cart) = post(&http, &s, "/api/cart", "").await;
        if status == 200 {
            recovered = Some(lines(&cart).first().map(|l| l.1).unwrap_or(0));
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let recovered = recovered.expect("the cart answers again after the restart");
    let last = told.last().unwrap().1;
    // Everything answered more than a second and a half before the kill (fsync every second, plus
    // the time the kill took) is back; nothing beyond what was answered.
    let safe =
        told.iter().filter(|(at, _)| killed.duration_since(*at) > Duration::from_millis(1_500)).map(|t| t.1).max();
    assert!(recovered >= safe.unwrap_or(0), "recovered {recovered}, answered {safe:?} well before the kill");
    assert!(recovered <= last, "recovered {recovered} of {last}");
    assert!(last - recovered <= 15, "at most about a second of adds lost: {recovered} of {last}");
    // And the mark survived with the cart: it still reaches SQL.
    s.state.carts.flush_idle(100, true).await.unwrap();
    assert!(sql_carts(&s.state.db).await.values().any(|(_, l)| *l == vec![(product, recovered)]));
}

/// Runs `redis-cli` against the Redis at `url`; its output.
fn redis_cli(url: &str, args: &[&str]) -> String {
    let out = std::process::Command::new("redis-cli").arg("-u").arg(url).args(args).output().expect("redis-cli");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A shop process of its own (the real binary), so it can be killed with SIGKILL.
struct Instance {
    child: std::process::Child,
    addr: String,
}

impl Instance {
    async fn start(db_url: &str, redis_url: &str) -> Instance {
        let port = testkit::free_port();
        let addr = format!("127.0.0.1:{port}");
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
            .env("SHOP_ADDR", &addr)
            .env("SHOP_ORIGINS", format!("http://{addr}"))
            .env("DATABASE_URL", db_url)
            .env("REDIS_URL", redis_url)
            .env("SEED_DEMO", "false")
            .env("COOKIE_SECRET", "w".repeat(64))
            .env("CART_PERSISTENCE", "write-behind")
            .env("CART_FLUSH_IDLE_SECS", "1")
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start the server binary");
        let instance = Instance { child, addr };
        let http = reqwest::Client::new();
        for _ in 0..200 {
            if http.get(format!("http://{}/healthz", instance.addr)).send().await.is_ok() {
                return instance;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the server binary did not start");
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_instance_killed_mid_stream_loses_nothing_the_other_cannot_write() {
    let db = testkit::database(Backend::Postgres).await;
    let redis = RedisServer::start();
    let doomed = Instance::start(&db.url, &redis.url()).await;
    let survivor = Instance::start(&db.url, &redis.url()).await;
    let products: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM products WHERE option1_name = '' AND active = 1 AND stock >= 20 ORDER BY id LIMIT 4",
    )
    .fetch_all(db.db.read())
    .await
    .unwrap();
    // Twenty shoppers add to their carts on the doomed instance, one add every 10 ms; it dies in
    // the middle of their streams.
    const ADDS: usize = 200;
    let mut shoppers = vec![];
    for _ in 0..20 {
        let (http, addr, products) = (testkit::browser(), doomed.addr.clone(), products.clone());
        shoppers.push(tokio::spawn(async move {
            let (mut last_ok, mut cut) = (None, false);
            for id in products.iter().cycle().take(ADDS) {
                let res = http
                    .post(format!("http://{addr}/api/cart/add"))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(format!("product_id={id}&quantity=1"))
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status() == 200 => match r.json::<serde_json::Value>().await {
                        Ok(cart) => last_ok = Some(cart),
                        Err(_) => {
                            cut = true;
                            break;
                        }
                    },
                    _ => {
                        cut = true;
                        break;
                    }
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            (last_ok, cut)
        }));
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    let mut doomed = doomed;
    doomed.child.kill().unwrap(); // SIGKILL: no shutdown flush
    doomed.child.wait().unwrap();
    let (mut answered, mut cut_off) = (vec![], 0);
    for s in shoppers {
        let (last, cut) = s.await.unwrap();
        cut_off += usize::from(cut);
        if let Some(cart) = last {
            answered.push(cart);
        }
    }
    assert!(cut_off > 0, "the kill came in the middle of the shoppers' streams");
    assert!(!answered.is_empty(), "some adds were answered before the kill");
    // The survivor's flusher writes every cart once it has been idle for a second.
    let mut dirty = u64::MAX;
    for _ in 0..100 {
        dirty = redis_cli(&redis.url(), &["ZCARD", "carts:dirty"]).trim().parse().unwrap();
        if dirty == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(dirty, 0, "the survivor wrote every changed cart");
    let _ = &survivor;
    // Every cart a shopper was last told about is in SQL at that version or later, with those
    // quantities, plus at most the one add whose answer the kill cut off: nothing lost, nothing
    // doubled.
    let in_sql = sql_carts(&db.db).await;
    for cart in &answered {
        let version = cart["version"].as_i64().unwrap();
        let told = lines(cart);
        let found = in_sql.values().find(|(v, l)| {
            *v >= version
                && told.iter().all(|(p, q)| l.iter().any(|(sp, sq)| sp == p && sq >= q))
                && l.iter().map(|x| x.1).sum::<i64>() <= told.iter().map(|x| x.1).sum::<i64>() + 1
        });
        assert!(found.is_some(), "the cart answered at version {version} ({told:?}) is in SQL: {in_sql:?}");
    }
}
