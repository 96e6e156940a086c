//! Money and carts under attack and under failure, on SQLite and on PostgreSQL + Redis: the
//! shopper pays exactly what they confirmed or nothing, one cart version makes at most one order,
//! checkout orders exactly what it removes from the store of record, a cart never outlives its
//! order, a failed capture is recorded and shown, and a failed merge never drops guest lines.
//! Redis failures are real: a RESP proxy in front of a real redis-server fails chosen commands.

use serde_json::Value;
use testkit::{
    both_setups, checkout_summary as summary, new_key as key, post, products_in_stock as products, setup, stock,
    Backend, Kind, RedisProxy, RedisServer, TestServer,
};

both_setups!(
    a_price_change_before_placing_is_refused_with_the_new_summary,
    a_stale_catalogue_cache_cannot_charge_an_old_price,
    several_tabs_placing_one_guest_cart_make_one_order,
    several_tabs_placing_one_account_cart_make_one_order,
    a_failed_capture_is_recorded_and_shown_to_administrators,
);

fn form(key: &str, quote: &str) -> String {
    testkit::checkout_form(key, quote, "ann%40example.com", "Springfield")
}

async fn add(http: &reqwest::Client, s: &TestServer, pid: i64, q: u32) {
    let (status, body) = post(http, s, "/api/cart/add", &format!("product_id={pid}&quantity={q}")).await;
    assert_eq!(status, 200, "add {pid}: {body}");
}

async fn orders(s: &TestServer) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM orders").fetch_one(s.state.db.read()).await.unwrap()
}

async fn set_price(s: &TestServer, id: i64, cents: i64) {
    sqlx::query("UPDATE products SET price_cents = $1, max_price_cents = $1 WHERE id = $2")
        .bind(cents)
        .bind(id)
        .execute(&mut *s.state.db.write().await.unwrap())
        .await
        .unwrap();
    // The variant is what carts and checkout read (these products have one).
    sqlx::query("UPDATE variants SET price_cents = $1 WHERE product_id = $2")
        .bind(cents)
        .bind(id)
        .execute(&mut *s.state.db.write().await.unwrap())
        .await
        .unwrap();
}

async fn register(http: &reqwest::Client, s: &TestServer) -> i64 {
    let email = format!("buyer{}%40example.com", rand::random::<u32>());
    let (status, body) = post(http, s, "/api/auth/register", &format!("email={email}&password=correct+horse")).await;
    assert_eq!(status, 200, "{body}");
    body["user"]["id"].as_i64().unwrap()
}

/// Places the same confirmed cart from `tabs` tabs at once, each with its own idempotency key.
async fn place_from_tabs(http: &reqwest::Client, s: &TestServer, tabs: usize) -> Vec<(u16, Value)> {
    let quote = summary(http, s).await["quote"].as_str().unwrap().to_string();
    let tasks: Vec<_> = (0..tabs)
        .map(|_| {
            let (http, url, body) = (http.clone(), s.url("/api/checkout/place"), form(&key(), &quote));
            tokio::spawn(async move {
                let res = http
                    .post(url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                (res.status().as_u16(), res.json::<Value>().await.unwrap())
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    answers
}

async fn a_price_change_before_placing_is_refused_with_the_new_summary(kind: Kind) {
    let t = setup(kind).await;
    let s = &t.server;
    let ps = products(s, 2).await;
    let http = testkit::browser();
    add(&http, s, ps[0].0, 2).await;
    add(&http, s, ps[1].0, 1).await;
    let shown = summary(&http, s).await;
    let stock_before = stock(s, ps[0].0).await;
    // The price goes up after the shopper saw the total, before they click "Place order".
    set_price(s, ps[0].0, ps[0].1 + 100).await;
    s.state.catalog.changed(ps[0].0).await;
    let (status, body) = post(&http, s, "/api/checkout/place", &form(&key(), shown["quote"].as_str().unwrap())).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], "checkout_changed");
    assert!(body["message"].as_str().unwrap().contains("Nothing was charged"), "{body}");
    let new_total = body["summary"]["total_cents"].as_i64().unwrap();
    assert_eq!(new_total, shown["total_cents"].as_i64().unwrap() + 200, "the new summary has the new price");
    assert_eq!(orders(s).await, 0, "nothing placed");
    assert_eq!(stock(s, ps[0].0).await, stock_before, "no stock taken");
    // Confirming the new summary places the order at exactly that total.
    let (status, placed) =
        post(&http, s, "/api/checkout/place", &form(&key(), body["summary"]["quote"].as_str().unwrap())).await;
    assert_eq!(status, 200, "{placed}");
    assert_eq!(placed["order"]["total_cents"].as_i64().unwrap(), new_total);
}

async fn a_stale_catalogue_cache_cannot_charge_an_old_price(kind: Kind) {
    let t = setup(kind).await;
    let s = &t.server;
    let ps = products(s, 1).await;
    let http = testkit::browser();
    add(&http, s, ps[0].0, 1).await;
    // The database changes behind the cache's back (a broadcast lost, another writer): the
    // summary still shows the cached price.
    set_price(s, ps[0].0, ps[0].1 + 250).await;
    let shown = summary(&http, s).await;
    assert_eq!(shown["cart"]["lines"][0]["unit_price_cents"].as_i64().unwrap(), ps[0].1, "served from the cache");
    let (status, body) = post(&http, s, "/api/checkout/place", &form(&key(), shown["quote"].as_str().unwrap())).await;
    assert_eq!(status, 409, "the order is priced from the database, not the cache: {body}");
    assert_eq!(body["summary"]["cart"]["lines"][0]["unit_price_cents"].as_i64().unwrap(), ps[0].1 + 250);
    assert_eq!(orders(s).await, 0);
    let (status, placed) =
        post(&http, s, "/api/checkout/place", &form(&key(), body["summary"]["quote"].as_str().unwrap())).await;
    assert_eq!(status, 200, "{placed}");
    assert_eq!(placed["order"]["lines"][0]["unit_price_cents"].as_i64().unwrap(), ps[0].1 + 250);
}

/// Exactly one of the answers created an order; the others were refused, and no stock was taken
/// twice.
async fn assert_one_order(s: &TestServer, answers: &[(u16, Value)], pid: i64, stock_before: i64, quantity: i64) {
    let created = answers.iter().filter(|(status, body)| *status == 200 && body["created"] == true).count();
    assert_eq!(created, 1, "{answers:?}");
    for (status, body) in answers {
        assert!(*status == 200 || *status == 409, "{status} {body}");
    }
    assert_eq!(orders(s).await, 1, "one cart version, one order");
    assert_eq!(stock(s, pid).await, stock_before - quantity, "stock taken once");
}

async fn several_tabs_placing_one_guest_cart_make_one_order(kind: Kind) {
    one_order_from_eight_tabs(kind, false, 2).await;
}

async fn several_tabs_placing_one_account_cart_make_one_order(kind: Kind) {
    one_order_from_eight_tabs(kind, true, 3).await;
}

/// Eight tabs of one browser (a guest's, or a signed-in account's) place the same cart at once,
/// each with its own idempotency key: one order, stock taken once, the cart empty after.
async fn one_order_from_eight_tabs(kind: Kind, signed_in: bool, quantity: u32) {
    let t = setup(kind).await;
    let s = &t.server;
    let ps = products(s, 2).await;
    let http = testkit::browser();
    if signed_in {
        register(&http, s).await;
    }
    add(&http, s, ps[0].0, quantity).await;
    add(&http, s, ps[1].0, 1).await;
    let before = stock(s, ps[0].0).await;
    let answers = place_from_tabs(&http, s, 8).await;
    assert_one_order(s, &answers, ps[0].0, before, i64::from(quantity)).await;
    let (_, cart) = post(&http, s, "/api/cart", "").await;
    assert!(cart["lines"].as_array().unwrap().is_empty(), "{cart}");
}

async fn a_failed_capture_is_recorded_and_shown_to_administrators(kind: Kind) {
    let t = testkit::setup_with(kind, &[("PAYMENTS_SIMULATE_CAPTURE_FAILURES", "1")]).await;
    let s = &t.server;
    let ps = products(s, 1).await;
    let http = testkit::browser();
    add(&http, s, ps[0].0, 1).await;
    let quote = summary(&http, s).await["quote"].as_str().unwrap().to_string();
    let (status, placed) = post(&http, s, "/api/checkout/place", &form(&key(), &quote)).await;
    assert_eq!(status, 200, "the order stands: its payment is authorised: {placed}");
    let id = placed["order"]["id"].as_str().unwrap().to_string();
    assert_eq!(placed["order"]["status"], "pending_payment", "not shown as paid: {placed}");
    let (state, error, attempts): (String, String, i64) =
        sqlx::query_as("SELECT payment_state, payment_error, payment_attempts FROM orders WHERE id = $1")
            .bind(&id)
            .fetch_one(s.state.db.read())
            .await
            .unwrap();
    assert_eq!((state.as_str(), attempts), ("capture_failed", 1));
    assert!(!error.is_empty());
    // Administrators see it first; shoppers cannot.
    let (status, _) = post(&http, s, "/api/admin/orders", "").await;
    assert_eq!(status, 401);
    let admin = testkit::admin_browser(s).await;
    let (status, list) = post(&admin, s, "/api/admin/orders", "").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["payment_state"], "capture_failed");
    let page = admin.get(s.url("/admin/orders")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(placed["order"]["reference"].as_str().unwrap()) && page.contains("Capture failed"));
    // Capturing again (the provider works now) settles it.
    let (status, order) = post(&admin, s, "/api/admin/orders/capture", &format!("id={id}")).await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["payment_state"], "captured");
    let (_, seen) = post(&http, s, "/api/orders/get", &format!("id={id}")).await;
    assert_eq!(seen["status"], "paid");
}

/// PostgreSQL, a real Redis, and a RESP proxy in front of it that the first instance talks
/// through, so a test can make chosen Redis commands fail for that instance.
struct Faulty {
    a: TestServer,
    proxy: RedisProxy,
    redis: RedisServer,
    db: testkit::TestDb,
}

async fn faulty() -> Faulty {
    let db = testkit::postgres().await;
    let redis = RedisServer::start();
    let proxy = RedisProxy::start(redis.port).await;
    let a = testkit::spawn(&db.url, Some(&proxy.url())).await;
    Faulty { a, proxy, redis, db }
}

/// The Redis copy of an account cart is stale (its write and its delete both failed on one
/// instance); checkout on another instance must still order what SQL holds, and only that.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn checkout_orders_the_cart_of_record_when_its_redis_copy_is_stale() {
    let f = faulty().await;
    let b = testkit::spawn(&f.db.url, Some(&f.redis.url())).await;
    let ps = products(&f.a, 2).await;
    let http = testkit::browser();
    register(&http, &b).await;
    add(&http, &b, ps[0].0, 1).await;
    // On instance A, Redis refuses every write to the account-cart copies.
    f.proxy.fail_when(|args| testkit::on_key(args, "cartcache:"));
    add(&http, &f.a, ps[1].0, 2).await;
    assert!(f.proxy.dropped() >= 2, "the copy's write and delete both failed");
    f.proxy.heal();
    let shown = summary(&http, &b).await;
    let (status, placed) =
        post(&http, &b, "/api/checkout/place", &form(&key(), shown["quote"].as_str().unwrap())).await;
    assert_eq!(status, 200, "{placed}");
    let mut ordered: Vec<(i64, i64)> = placed["order"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["product_id"].as_i64().unwrap(), l["quantity"].as_i64().unwrap()))
        .collect();
    ordered.sort();
    let mut expected = vec![(ps[0].0, 1), (ps[1].0, 2)];
    expected.sort();
    assert_eq!(ordered, expected, "the order has every line SQL had");
    let left: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM cart_items i JOIN carts c ON c.id = i.cart_id WHERE c.owner LIKE 'u:%'",
    )
    .fetch_one(b.state.db.read())
    .await
    .unwrap();
    assert_eq!(left, 0, "and checkout removed exactly those lines");
}

/// The order commits, then Redis refuses to empty the guest cart: the cart must not be
/// buyable again, must show as ordered, and is emptied once Redis takes commands again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_guest_cart_that_cannot_be_emptied_after_its_order_is_never_bought_twice() {
    let f = faulty().await;
    let s = &f.a;
    let ps = products(s, 1).await;
    let http = testkit::browser();
    add(&http, s, ps[0].0, 2).await;
    let quote = summary(&http, s).await["quote"].as_str().unwrap().to_string();
    let finish = app::storage::redis_cart::finish_script_sha();
    f.proxy.fail_when(move |args| testkit::is_script(args, &finish));
    let (status, placed) = post(&http, s, "/api/checkout/place", &form(&key(), &quote)).await;
    assert_eq!(status, 200, "{placed}");
    assert!(f.proxy.dropped() >= 1, "emptying the cart failed");
    // The cart shows as ordered, and a new checkout finds nothing to buy.
    let (status, cart) = post(&http, s, "/api/cart", "").await;
    assert_eq!(status, 200, "{cart}");
    assert!(cart["lines"].as_array().unwrap().is_empty(), "{cart}");
    assert!(cart["notices"].to_string().contains("has been placed"), "{cart}");
    let again = summary(&http, s).await;
    let (status, body) = post(&http, s, "/api/checkout/place", &form(&key(), again["quote"].as_str().unwrap())).await;
    assert!(status == 422 || status == 409, "{status} {body}");
    assert_eq!(orders(s).await, 1, "bought once");
    // Redis works again: the cart is emptied for real on the next visit.
    f.proxy.heal();
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await; // the breaker's open window
    let (status, cart) = post(&http, s, "/api/cart", "").await;
    assert_eq!(status, 200, "{cart}");
    assert!(cart["lines"].as_array().unwrap().is_empty());
    add(&http, s, ps[0].0, 1).await;
    let (_, cart) = post(&http, s, "/api/cart", "").await;
    assert_eq!(cart["lines"][0]["quantity"], 1, "a fresh cart, without the ordered units: {cart}");
}

/// The merge fails in SQL, and then giving the claimed guest cart back fails in Redis: the
/// guest's lines must still reach the account, once, when things work again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_merge_whose_put_back_fails_keeps_every_guest_line() {
    let f = faulty().await;
    let s = &f.a;
    let ps = products(s, 2).await;
    let device = testkit::browser();
    let email = format!("merge{}%40example.com", rand::random::<u32>());
    let (status, _) = post(&device, s, "/api/auth/register", &format!("email={email}&password=correct+horse")).await;
    assert_eq!(status, 200);
    let guest = testkit::browser();
    add(&guest, s, ps[0].0, 2).await;
    add(&guest, s, ps[1].0, 1).await;
    testkit::install_merge_failure(s, Backend::Postgres, ps[1].0).await;
    let release = app::storage::redis_cart::release_script_sha();
    f.proxy.fail_when(move |args| testkit::is_script(args, &release));
    let (status, answer) = post(&guest, s, "/api/auth/login", &format!("email={email}&password=correct+horse")).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["notices"].to_string().contains("could not add your guest cart"), "{answer}");
    testkit::remove_merge_failure(s, Backend::Postgres).await;
    f.proxy.heal();
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await; // the breaker's open window
    let (status, cart) = post(&guest, s, "/api/cart", "").await;
    assert_eq!(status, 200, "{cart}");
    let qty = |cart: &Value, pid: i64| {
        cart["lines"].as_array().unwrap().iter().find(|l| l["product_id"] == pid).map(|l| l["quantity"].clone())
    };
    assert_eq!((qty(&cart, ps[0].0), qty(&cart, ps[1].0)), (Some(2.into()), Some(1.into())), "{cart}");
    let (_, again) = post(&guest, s, "/api/cart", "").await;
    assert_eq!(again["lines"], cart["lines"], "merged once");
}
