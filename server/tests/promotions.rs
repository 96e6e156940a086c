//! Promotions, shipping zones and tax over HTTP, on SQLite and on PostgreSQL + Redis: every kind
//! of promotion takes off exactly what it should; a code limited to ten orders is redeemed ten
//! times however many buyers place at once, and the others keep their carts; a per-customer limit
//! counts the account in every session; a code that stops applying leaves the cart with a notice
//! saying why; an applied code survives signing in; shipping and tax follow the destination
//! (flat, banded and weight rates, tax included or added) into the order exactly as the summary
//! showed them; a repeated idempotency key never redeems twice; and bad administrator or shopper
//! input is refused with nothing changed. Expected amounts are worked out here by hand from the
//! catalogue's prices, not read back from the shop.

use serde_json::{json, Value};
use testkit::{both_setups, checkout_summary as summary, new_key as key, post, setup, stock, Kind, TestServer};

both_setups!(
    each_kind_of_promotion_prices_the_cart_exactly,
    a_code_for_ten_orders_is_redeemed_ten_times_by_fifty_buyers_at_once,
    a_per_customer_limit_counts_the_account_in_every_session,
    a_code_that_stops_applying_leaves_the_cart_with_a_notice,
    an_applied_code_survives_signing_in,
    shipping_and_tax_follow_the_destination_into_the_order,
    a_repeated_idempotency_key_redeems_a_code_once,
    bad_promotion_and_tax_input_is_refused_and_changes_nothing,
);

/// A product on sale without options, with stock: its id, its only variant's id and price, and
/// its category.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Item {
    id: i64,
    variant: i64,
    cents: i64,
    category: i64,
}

/// Every product on sale without options with at least 20 in stock, by id.
async fn catalogue(s: &TestServer) -> Vec<Item> {
    sqlx::query_as::<_, (i64, i64, i64, i64)>(
        "SELECT p.id, v.id, v.price_cents, p.category_id FROM products p JOIN variants v ON v.product_id = p.id \
         WHERE p.option1_name = '' AND p.active = 1 AND p.stock >= 20 ORDER BY p.id",
    )
    .fetch_all(s.state.db.read())
    .await
    .unwrap()
    .into_iter()
    .map(|(id, variant, cents, category)| Item { id, variant, cents, category })
    .collect()
}

/// The first item of `items` (other than those in `not`) that `fits`.
fn pick(items: &[Item], not: &[Item], fits: impl Fn(&Item) -> bool) -> Item {
    *items.iter().find(|i| !not.contains(i) && fits(i)).expect("the demo catalogue has such a product")
}

async fn exec(s: &TestServer, sql: &str, binds: &[i64]) {
    let mut query = sqlx::query(sql);
    for b in binds {
        query = query.bind(*b);
    }
    query.execute(&mut *s.state.db.write().await.unwrap()).await.unwrap();
}

async fn count(s: &TestServer, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(s.state.db.read()).await.unwrap()
}

async fn times_used(s: &TestServer, id: i64) -> i64 {
    sqlx::query_scalar("SELECT times_used FROM promotions WHERE id = $1")
        .bind(id)
        .fetch_one(s.state.db.read())
        .await
        .unwrap()
}

/// Sets a product's stock (on the product and its variant) and drops the catalogue's copy.
async fn set_stock(s: &TestServer, pid: i64, units: i64) {
    exec(s, "UPDATE products SET stock = $1 WHERE id = $2", &[units, pid]).await;
    exec(s, "UPDATE variants SET stock = $1 WHERE product_id = $2", &[units, pid]).await;
    s.state.catalog.invalidate_product(pid).await;
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

fn form(key: &str, quote: &str) -> String {
    testkit::checkout_form(key, quote, "ann%40example.com", "Springfield")
}

/// Creates a promotion as an administrator; its id.
async fn promote(admin: &reqwest::Client, s: &TestServer, fields: &str) -> i64 {
    let (status, id) = post(admin, s, "/api/admin/promotions/save", fields).await;
    assert_eq!(status, 200, "{fields}: {id}");
    id.as_i64().unwrap_or_else(|| panic!("an id: {id}"))
}

async fn add(http: &reqwest::Client, s: &TestServer, pid: i64, quantity: u32) -> Value {
    let (status, view) = post(http, s, "/api/cart/add", &format!("product_id={pid}&quantity={quantity}")).await;
    assert_eq!(status, 200, "add {pid}: {view}");
    view
}

async fn set_quantity(http: &reqwest::Client, s: &TestServer, pid: i64, quantity: u32) -> Value {
    let (status, view) = post(http, s, "/api/cart/set", &format!("product_id={pid}&quantity={quantity}")).await;
    assert_eq!(status, 200, "set {pid}: {view}");
    view
}

async fn apply(http: &reqwest::Client, s: &TestServer, code: &str) -> (u16, Value) {
    post(http, s, "/api/cart/code", &format!("code={code}")).await
}

async fn cart(http: &reqwest::Client, s: &TestServer) -> Value {
    let (status, view) = post(http, s, "/api/cart", "").await;
    assert_eq!(status, 200, "{view}");
    view
}

async fn deliver(http: &reqwest::Client, s: &TestServer, fields: &str) -> Value {
    let (status, view) = post(http, s, "/api/cart/delivery", fields).await;
    assert_eq!(status, 200, "{fields}: {view}");
    view
}

/// Registers a new account in this browser (which is then signed in): its email, form-encoded,
/// and its id.
async fn register(http: &reqwest::Client, s: &TestServer) -> (String, i64) {
    let email = format!("shopper{}%40example.com", rand::random::<u32>());
    let (status, body) = post(http, s, "/api/auth/register", &format!("email={email}&password=correct+horse")).await;
    assert_eq!(status, 200, "{body}");
    (email, body["user"]["id"].as_i64().unwrap())
}

async fn login(http: &reqwest::Client, s: &TestServer, email: &str) -> Value {
    let (status, body) = post(http, s, "/api/auth/login", &format!("email={email}&password=correct+horse")).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Confirms this browser's checkout summary and places it, shipped to `country` by `method`
/// (the one chosen before when None): the summary, and the answer.
async fn place(http: &reqwest::Client, s: &TestServer, country: &str, method: Option<i64>) -> (Value, u16, Value) {
    let shown = summary(http, s).await;
    let mut body = form(&key(), shown["quote"].as_str().unwrap()).replace("country=US", &format!("country={country}"));
    if let Some(m) = method {
        body.push_str(&format!("&method={m}"));
    }
    let (status, placed) = post(http, s, "/api/checkout/place", &body).await;
    (shown, status, placed)
}

/// `percent` off `cents`, rounded half up, as the shop rounds it.
fn percent_off(cents: i64, percent: i64) -> i64 {
    (cents * percent + 50) / 100
}

/// The tax included in a tax-inclusive amount at `bp` basis points, rounded half up.
fn included_tax(amount: i64, bp: i64) -> i64 {
    (amount * bp + (10_000 + bp) / 2) / (10_000 + bp)
}

/// The tax added to a tax-exclusive amount at `bp` basis points, rounded half up.
fn added_tax(amount: i64, bp: i64) -> i64 {
    (amount * bp + 5_000) / 10_000
}

/// Standard shipping in the US and the UK: $4.99, free from $50.00 of discounted goods.
fn standard(goods: i64) -> i64 {
    if goods >= 5_000 {
        0
    } else {
        499
    }
}

/// `amount` spread over `weights` in proportion, the cents left over going to the largest
/// remainders (the lower index first on a tie): how an order-wide discount is spread over lines
/// taken in variant id order.
fn spread(amount: i64, weights: &[i64]) -> Vec<i64> {
    let total: i64 = weights.iter().sum();
    let mut parts: Vec<i64> = weights.iter().map(|w| amount * w / total).collect();
    let mut by_remainder: Vec<usize> = (0..weights.len()).collect();
    by_remainder.sort_by_key(|&i| (std::cmp::Reverse(amount * weights[i] % total), i));
    let left = amount - parts.iter().sum::<i64>();
    for &i in by_remainder.iter().take(left as usize) {
        parts[i] += 1;
    }
    parts
}

/// The cart's discounts, goods discount, shipping (after its discounts) and total are exactly
/// these.
fn assert_priced(view: &Value, discounts: Value, discount: i64, shipping: i64, total: i64) {
    let p = &view["pricing"];
    assert_eq!(p["discounts"], discounts, "{view}");
    let got = (p["discount_cents"].as_i64(), p["shipping_cents"].as_i64(), p["total_cents"].as_i64());
    assert_eq!(got, (Some(discount), Some(shipping), Some(total)), "(discount, shipping, total) in {view}");
}

fn notices(view: &Value) -> String {
    view["notices"].to_string()
}

/// The id and price of the method of this cart's destination whose name starts with `name`.
fn method(view: &Value, name: &str) -> (i64, i64) {
    let m = view["pricing"]["methods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"].as_str().unwrap().starts_with(name))
        .unwrap_or_else(|| panic!("no {name} method in {view}"));
    (m["id"].as_i64().unwrap(), m["cents"].as_i64().unwrap())
}

async fn each_kind_of_promotion_prices_the_cart_exactly(kind: Kind) {
    let t = setup(kind).await;
    let s = &t.server;
    let admin = testkit::admin_browser(s).await;
    let items = catalogue(s).await;
    let (p0, p1) = (items[0], items[1]);

    // Percent off the whole order, with a code typed in lower case.
    promote(&admin, s, "code=SAVE15&name=Fifteen+off&kind=percent&value=15&target=order&combinable=on&active=on").await;
    let a = testkit::browser();
    add(&a, s, p0.id, 2).await;
    add(&a, s, p1.id, 1).await;
    let (status, view) = apply(&a, s, "save15").await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["pricing"]["code"], "SAVE15");
    let subtotal = 2 * p0.cents + p1.cents;
    assert_eq!(view["subtotal_cents"], subtotal);
    let off = percent_off(subtotal, 15);
    let ship = standard(subtotal - off);
    let fifteen = json!([{"label": "Fifteen off", "amount_cents": off}]);
    assert_priced(&view, fifteen.clone(), off, ship, subtotal - off + ship);
    assert_eq!((view["pricing"]["tax_cents"].as_i64(), view["pricing"]["country"].as_str()), (Some(0), Some("US")));

    // A fixed amount off one product: refused for a cart without it, exact for a cart with it.
    let (px, py) = (items[2], items[3]);
    promote(
        &admin,
        s,
        &format!("code=FIVEOFF&name=Five+off&kind=fixed&value=5.00&target=product&target_id={}&active=on", px.id),
    )
    .await;
    let (status, body) = apply(&a, s, "FIVEOFF").await;
    assert_eq!(status, 422, "{body}");
    assert!(body["message"].as_str().unwrap().contains("does not apply to anything in your cart"), "{body}");
    let view = cart(&a, s).await;
    assert_eq!(view["pricing"]["code"], "SAVE15", "a refused code changes nothing");
    assert_priced(&view, fifteen, off, ship, subtotal - off + ship);
    let b = testkit::browser();
    add(&b, s, px.id, 1).await;
    add(&b, s, py.id, 1).await;
    let (status, view) = apply(&b, s, "FIVEOFF").await;
    assert_eq!(status, 200, "{view}");
    let (subtotal_b, off_b) = (px.cents + py.cents, px.cents.min(500));
    let ship_b = standard(subtotal_b - off_b);
    assert_priced(
        &view,
        json!([{"label": "Five off", "amount_cents": off_b}]),
        off_b,
        ship_b,
        subtotal_b - off_b + ship_b,
    );
    // Taking the code off prices the cart without it.
    let (status, view) = post(&a, s, "/api/cart/code/remove", "").await;
    assert_eq!(status, 200, "{view}");
    assert!(view["pricing"]["code"].is_null(), "{view}");
    assert_priced(&view, json!([]), 0, standard(subtotal), subtotal + standard(subtotal));

    // Buy two of a category, get the cheapest unit free: automatic, no code.
    let x = *items
        .iter()
        .find(|i| items.iter().filter(|j| j.category == i.category).count() >= 2)
        .expect("a category with two products");
    let y = pick(&items, &[x], |i| i.category == x.category);
    let buy_get = promote(
        &admin,
        s,
        &format!(
            "name=Third+one+free&kind=buy_get&value=100&buy_quantity=2&target=category&target_id={}&combinable=on&active=on",
            x.category
        ),
    )
    .await;
    let c = testkit::browser();
    add(&c, s, x.id, 2).await;
    let view = add(&c, s, y.id, 1).await;
    let subtotal_c = 2 * x.cents + y.cents;
    let free = x.cents.min(y.cents);
    let third = json!([{"label": "Third one free", "amount_cents": free}]);
    let ship_c = standard(subtotal_c - free);
    assert!(view["pricing"]["code"].is_null(), "{view}");
    assert_priced(&view, third.clone(), free, ship_c, subtotal_c - free + ship_c);
    // Two units are not enough.
    let (status, view) = post(&c, s, "/api/cart/remove", &format!("product_id={}", y.id)).await;
    assert_eq!(status, 200, "{view}");
    assert_priced(&view, json!([]), 0, standard(2 * x.cents), 2 * x.cents + standard(2 * x.cents));
    let view = add(&c, s, y.id, 1).await;
    assert_priced(&view, third, free, ship_c, subtotal_c - free + ship_c);
    // Turned off, it no longer applies.
    let (status, body) = post(&admin, s, "/api/admin/promotions/active", &format!("id={buy_get}&active=0")).await;
    assert_eq!(status, 200, "{body}");
    let view = cart(&c, s).await;
    assert_priced(&view, json!([]), 0, standard(subtotal_c), subtotal_c + standard(subtotal_c));

    // Free shipping from $20.00, automatic: the shipping saved is listed, the goods cost the same.
    promote(&admin, s, "name=Free+delivery&kind=free_shipping&min_subtotal=20.00&combinable=on&active=on").await;
    let over = pick(&items, &[], |i| (2_000..5_000).contains(&i.cents));
    let under = pick(&items, &[], |i| i.cents < 2_000);
    let d = testkit::browser();
    let view = add(&d, s, over.id, 1).await;
    assert_priced(&view, json!([{"label": "Free delivery", "amount_cents": 499}]), 0, 0, over.cents);
    let e = testkit::browser();
    let view = add(&e, s, under.id, 1).await;
    assert_priced(&view, json!([]), 0, 499, under.cents + 499);
}

/// Places every browser's confirmed cart at once; the answers in the same order.
async fn place_all(s: &TestServer, buyers: &[(reqwest::Client, String)]) -> Vec<(u16, Value)> {
    let tasks: Vec<_> = buyers
        .iter()
        .map(|(http, quote)| {
            let (http, url, body) = (http.clone(), s.url("/api/checkout/place"), form(&key(), quote));
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
    futures::future::join_all(tasks).await.into_iter().map(|r| r.unwrap()).collect()
}

async fn a_code_for_ten_orders_is_redeemed_ten_times_by_fifty_buyers_at_once(kind: Kind) {
    let t = setup(kind).await;
    let s = &t.server;
    let admin = testkit::admin_browser(s).await;
    let item = catalogue(s).await[0];
    set_stock(s, item.id, 1_000).await;
    let id = promote(
        &admin,
        s,
        "code=TENONLY&name=Ten+for+ten&kind=percent&value=10&usage_limit=10&combinable=on&active=on",
    )
    .await;
    let off = percent_off(item.cents, 10);
    let (with_code, without) = (item.cents - off + standard(item.cents - off), item.cents + standard(item.cents));
    // Fifty guests each confirm a cart with the code: it has not been used yet.
    let mut buyers = Vec::new();
    for _ in 0..50 {
        let http = testkit::browser();
        add(&http, s, item.id, 1).await;
        let (status, view) = apply(&http, s, "TENONLY").await;
        assert_eq!(status, 200, "{view}");
        let shown = summary(&http, s).await;
        assert_eq!(shown["total_cents"], with_code, "{shown}");
        buyers.push((http, shown["quote"].as_str().unwrap().to_string()));
    }
    let answers = place_all(s, &buyers).await;
    let (mut placed, mut refused) = (0, 0);
    for ((http, _), (status, body)) in buyers.iter().zip(&answers) {
        let (_, left) = post(http, s, "/api/cart", "").await;
        match status {
            200 => {
                placed += 1;
                let order = &body["order"];
                assert_eq!(
                    (order["discount_cents"].as_i64(), order["total_cents"].as_i64()),
                    (Some(off), Some(with_code))
                );
                assert_eq!(order["promo_code"], "TENONLY");
                assert!(left["lines"].as_array().unwrap().is_empty(), "{left}");
            }
            409 => {
                refused += 1;
                assert_eq!(body["error"], "checkout_changed", "{body}");
                // The new summary is without the code, at the full price.
                assert!(body["summary"]["cart"]["pricing"]["code"].is_null(), "{body}");
                assert_eq!(body["summary"]["total_cents"], without, "{body}");
                assert_eq!(left["lines"].as_array().unwrap().len(), 1, "the cart is kept: {left}");
                assert_eq!(left["lines"][0]["quantity"], 1, "{left}");
                assert!(left["pricing"]["code"].is_null(), "{left}");
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!((placed, refused), (10, 40));
    assert_eq!(count(s, "SELECT COUNT(*) FROM orders").await, 10, "the refused placed nothing");
    assert_eq!(count(s, "SELECT COUNT(*) FROM orders WHERE discount_cents > 0").await, 10);
    assert_eq!(times_used(s, id).await, 10);
    assert_eq!(count(s, "SELECT COUNT(*) FROM promotion_redemptions").await, 10);
    assert_eq!(stock(s, item.id).await, 990, "stock taken by the ten orders only");
    // Administrators see the ten redemptions and what they saved.
    let (status, list) = post(&admin, s, "/api/admin/promotions", "").await;
    assert_eq!(status, 200, "{list}");
    let listed = list.as_array().unwrap().iter().find(|p| p["promotion"]["id"] == id).expect("listed");
    assert_eq!(
        (listed["promotion"]["times_used"].as_i64(), listed["saved_cents"].as_i64()),
        (Some(10), Some(10 * off))
    );
    let (status, redemptions) = post(&admin, s, "/api/admin/promotions/redemptions", &format!("id={id}")).await;
    assert_eq!(status, 200, "{redemptions}");
    let redemptions = redemptions.as_array().unwrap();
    assert_eq!(redemptions.len(), 10);
    assert!(redemptions.iter().all(|r| r["amount_cents"] == off), "{redemptions:?}");
    // The code is used up for everyone now.
    let (status, body) = apply(&buyers[0].0, s, "TENONLY").await;
    assert_eq!(status, 422, "{body}");
    assert!(body["message"].as_str().unwrap().contains("usage limit"), "{body}");
}

async fn a_per_customer_limit_counts_the_account_in_every_session(kind: Kind) {
    let t = setup(kind).await;
    let s = &t.server;
    let admin = testkit::admin_browser(s).await;
    let items = catalogue(s).await;
    let id =
        promote(&admin, s, "code=ONCEEACH&name=Once+each&kind=percent&value=10&per_customer_limit=1&active=on").await;
    // A guest's uses cannot be counted: they are asked to sign in.
    let guest = testkit::browser();
    add(&guest, s, items[0].id, 1).await;
    let (status, body) = apply(&guest, s, "ONCEEACH").await;
    assert_eq!(status, 422, "{body}");
    assert!(body["message"].as_str().unwrap().contains("Sign in"), "{body}");
    assert!(cart(&guest, s).await["pricing"]["code"].is_null());
    // A customer uses it once.
    let first = testkit::browser();
    let (email, user_id) = register(&first, s).await;
    add(&first, s, items[0].id, 1).await;
    let (status, view) = apply(&first, s, "ONCEEACH").await;
    assert_eq!(status, 200, "{view}");
    let off = percent_off(items[0].cents, 10);
    assert_eq!(view["pricing"]["discount_cents"], off, "{view}");
    // Another session of the same account takes the code too, before the order.
    let second = testkit::browser();
    login(&second, s, &email).await;
    let (status, view) = apply(&second, s, "ONCEEACH").await;
    assert_eq!(status, 200, "not used yet: {view}");
    let (_, status, placed) = place(&first, s, "US", None).await;
    assert_eq!(status, 200, "{placed}");
    assert_eq!(
        (placed["order"]["discount_cents"].as_i64(), placed["order"]["promo_code"].as_str()),
        (Some(off), Some("ONCEEACH"))
    );
    let customer: String = sqlx::query_scalar("SELECT customer FROM promotion_redemptions WHERE promotion_id = $1")
        .bind(id)
        .fetch_one(s.state.db.read())
        .await
        .unwrap();
    assert_eq!(customer, format!("u:{user_id}"));
    // The other session loses the code, saying why, and cannot apply it again.
    let view = add(&second, s, items[1].id, 1).await;
    assert!(view["pricing"]["code"].is_null(), "{view}");
    assert_eq!(view["pricing"]["discount_cents"], 0);
    assert!(notices(&view).contains("already used the code ONCEEACH"), "{view}");
    let (status, body) = apply(&second, s, "ONCEEACH").await;
    assert_eq!(status, 422, "{body}");
    assert!(body["message"].as_str().unwrap().contains("already used"), "{body}");
    // Nor can the session that used it, nor a third one signed in later.
    let (status, _) = apply(&first, s, "ONCEEACH").await;
    assert_eq!(status, 422);
    let third = testkit::browser();
    let answer = login(&third, s, &email).await;
    assert!(answer["cart"]["pricing"]["code"].is_null(), "{answer}");
    let (status, _) = apply(&third, s, "ONCEEACH").await;
    assert_eq!(status, 422);
    assert_eq!(times_used(s, id).await, 1);
    assert_eq!(count(s, "SELECT COUNT(*) FROM promotion_redemptions").await, 1);
}

async fn a_code_that_stops_applying_leaves_the_cart_with_a_notice(kind: Kind) {
    let t = setup(kind).await;
    let s = &t.server;
    let admin = testkit::admin_browser(s).await;
    let items = catalogue(s).await;
    let item = items[0];

    // Expired after it was applied.
    let id =
        promote(&admin, s, "code=SOONGONE&name=Soon+gone&kind=percent&value=10&ends_at=2099-12-31&active=on").await;
    let http = testkit::browser();
    add(&http, s, item.id, 1).await;
    let (status, view) = apply(&http, s, "SOONGONE").await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["pricing"]["discount_cents"], percent_off(item.cents, 10));
    exec(s, "UPDATE promotions SET ends_at = $1 WHERE id = $2", &[now_ms() - 1_000, id]).await;
    s.state.pricing.invalidate();
    let view = cart(&http, s).await;
    assert!(view["pricing"]["code"].is_null(), "{view}");
    assert!(notices(&view).contains("The code SOONGONE has expired"), "{view}");
    assert_priced(&view, json!([]), 0, standard(item.cents), item.cents + standard(item.cents));
    let view = cart(&http, s).await;
    assert!(!notices(&view).contains("SOONGONE"), "said once: {view}");
    let (status, body) = apply(&http, s, "SOONGONE").await;
    assert_eq!(status, 422, "{body}");
    assert!(body["message"].as_str().unwrap().contains("expired"), "{body}");

    // Turned off by an administrator after it was applied.
    let id = promote(&admin, s, "code=SWITCHOFF&name=Switch+off&kind=percent&value=10&active=on").await;
    let (status, view) = apply(&http, s, "SWITCHOFF").await;
    assert_eq!(status, 200, "{view}");
    let (status, _) = post(&admin, s, "/api/admin/promotions/active", &format!("id={id}&active=0")).await;
    assert_eq!(status, 200);
    let view = cart(&http, s).await;
    assert!(view["pricing"]["code"].is_null(), "{view}");
    assert!(notices(&view).contains("The code SWITCHOFF is not active"), "{view}");

    // Not started yet.
    promote(&admin, s, "code=LATER&name=Later&kind=percent&value=10&starts_at=2099-01-01T09:30&active=on").await;
    let (status, body) = apply(&http, s, "LATER").await;
    assert_eq!(status, 422, "{body}");
    assert!(body["message"].as_str().unwrap().contains("not valid yet"), "{body}");

    // A minimum subtotal: refused below it, dropped when lines are removed below it.
    promote(&admin, s, "code=BIGSPEND&name=Big+spend&kind=percent&value=10&min_subtotal=50.00&active=on").await;
    let small = pick(&items, &[], |i| i.cents < 5_000);
    let big = pick(&items, &[small], |i| i.cents >= 5_000);
    let shopper = testkit::browser();
    add(&shopper, s, small.id, 1).await;
    let (status, body) = apply(&shopper, s, "BIGSPEND").await;
    assert_eq!(status, 422, "{body}");
    assert!(body["message"].as_str().unwrap().contains("at least $50.00"), "{body}");
    add(&shopper, s, big.id, 1).await;
    let (status, view) = apply(&shopper, s, "BIGSPEND").await;
    assert_eq!(status, 200, "{view}");
    let subtotal = small.cents + big.cents;
    let off = percent_off(subtotal, 10);
    assert_priced(
        &view,
        json!([{"label": "Big spend", "amount_cents": off}]),
        off,
        standard(subtotal - off),
        subtotal - off + standard(subtotal - off),
    );
    let (status, view) = post(&shopper, s, "/api/cart/remove", &format!("product_id={}", big.id)).await;
    assert_eq!(status, 200, "{view}");
    assert!(view["pricing"]["code"].is_null(), "{view}");
    assert!(notices(&view).contains("needs a subtotal of at least $50.00"), "{view}");
    assert!(notices(&view).contains("removed from your cart"), "{view}");
    assert_priced(&view, json!([]), 0, 499, small.cents + 499);
    // It stays off when the cart grows again: the shopper applies it again if they want it.
    let view = add(&shopper, s, big.id, 1).await;
    assert!(view["pricing"]["code"].is_null(), "{view}");
}

async fn an_applied_code_survives_signing_in(kind: Kind) {
    let t = setup(kind).await;
    let s = &t.server;
    let admin = testkit::admin_browser(s).await;
    let item = catalogue(s).await[0];
    promote(&admin, s, "code=HELLO10&name=Welcome&kind=percent&value=10&active=on").await;
    let (email, user_id) = register(&testkit::browser(), s).await;
    // A guest applies the code to an empty cart (kept for later), then adds a line.
    let guest = testkit::browser();
    let (status, view) = apply(&guest, s, "HELLO10").await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["pricing"]["code"], "HELLO10");
    let view = add(&guest, s, item.id, 2).await;
    let off = percent_off(2 * item.cents, 10);
    assert_eq!(
        (view["pricing"]["code"].as_str(), view["pricing"]["discount_cents"].as_i64()),
        (Some("HELLO10"), Some(off))
    );
    // Signing in keeps it: in the answer, and on the next visit.
    let answer = login(&guest, s, &email).await;
    assert_eq!(answer["user"]["id"], user_id);
    let cart_in = &answer["cart"];
    assert_eq!(cart_in["pricing"]["code"], "HELLO10", "{answer}");
    assert_eq!(cart_in["pricing"]["discount_cents"], off, "{answer}");
    assert_eq!(cart_in["lines"][0]["quantity"], 2, "{answer}");
    let view = cart(&guest, s).await;
    assert_eq!(view["pricing"]["code"], "HELLO10", "{view}");
    let total = 2 * item.cents - off + standard(2 * item.cents - off);
    assert_eq!(view["pricing"]["total_cents"], total);
    let (_, status, placed) = place(&guest, s, "US", None).await;
    assert_eq!(status, 200, "{placed}");
    assert_eq!(placed["order"]["promo_code"], "HELLO10");
    assert_eq!(
        (placed["order"]["discount_cents"].as_i64(), placed["order"]["total_cents"].as_i64()),
        (Some(off), Some(total))
    );
}

async fn shipping_and_tax_follow_the_destination_into_the_order(kind: Kind) {
    let t = setup(kind).await;
    let s = &t.server;
    let admin = testkit::admin_browser(s).await;
    let items = catalogue(s).await;
    let a = pick(&items, &[], |i| i.cents < 2_000);
    let b = pick(&items, &[a], |i| i.cents < 2_000);
    set_stock(s, a.id, 500).await;
    // 1.2 kg: express by weight charges two started kilograms for one.
    exec(s, "UPDATE variants SET weight_grams = 1200 WHERE product_id = $1", &[a.id]).await;
    exec(s, "UPDATE variants SET weight_grams = 0 WHERE product_id = $1", &[b.id]).await;
    s.state.catalog.invalidate_product(a.id).await;
    s.state.catalog.invalidate_product(b.id).await;
    let http = testkit::browser();
    add(&http, s, a.id, 1).await;
    let view = add(&http, s, b.id, 1).await;
    let subtotal = a.cents + b.cents;

    // Before a destination is chosen: the United States, no tax.
    assert_eq!(view["pricing"]["country"], "US");
    assert_eq!(view["pricing"]["tax_lines"], json!([]));
    assert_priced(&view, json!([]), 0, 499, subtotal + 499);
    let (us_standard, _) = method(&view, "Standard");

    // The UK: VAT of 20% is included in the prices and the shipping, rounded per line.
    let view = deliver(&http, s, "country=GB").await;
    let p = &view["pricing"];
    assert_eq!((p["country"].as_str(), p["tax_inclusive"].as_bool()), (Some("GB"), Some(true)));
    let (gb_standard, standard_cents) = method(&view, "Standard");
    let (gb_express, express_cents) = method(&view, "Express");
    assert_eq!((p["method_id"].as_i64(), standard_cents, express_cents), (Some(gb_standard), 499, 1_299 + 2 * 150));
    let vat = included_tax(a.cents, 2_000) + included_tax(b.cents, 2_000) + included_tax(499, 2_000);
    assert_eq!(p["tax_lines"], json!([{"label": "VAT", "amount_cents": vat}]), "{view}");
    assert_eq!(p["tax_cents"], vat);
    assert_priced(&view, json!([]), 0, 499, subtotal + 499);

    // Germany: VAT of 21%, standard shipping by bands of the subtotal.
    let view = deliver(&http, s, "country=de").await;
    assert_eq!(view["pricing"]["country"], "DE");
    let eu_vat = |lines: i64, shipping: i64| {
        included_tax(lines, 2_100) + included_tax(b.cents, 2_100) + included_tax(shipping, 2_100)
    };
    assert_eq!(view["pricing"]["tax_cents"], eu_vat(a.cents, 899), "{view}");
    assert_priced(&view, json!([]), 0, 899, subtotal + 899);
    let n = (5_000 - b.cents + a.cents - 1) / a.cents;
    let view = set_quantity(&http, s, a.id, n as u32).await;
    let mid = n * a.cents + b.cents;
    assert!((5_000..10_000).contains(&mid));
    assert_eq!(view["pricing"]["tax_cents"], eu_vat(n * a.cents, 499), "{view}");
    assert_priced(&view, json!([]), 0, 499, mid + 499);
    let m = (10_000 - b.cents + a.cents - 1) / a.cents;
    let view = set_quantity(&http, s, a.id, m as u32).await;
    assert_eq!(view["pricing"]["tax_cents"], eu_vat(m * a.cents, 0), "{view}");
    assert_priced(&view, json!([]), 0, 0, m * a.cents + b.cents);
    set_quantity(&http, s, a.id, 1).await;

    // Australia: GST of 10%, flat shipping.
    let view = deliver(&http, s, "country=AU").await;
    let gst = included_tax(a.cents, 1_000) + included_tax(b.cents, 1_000) + included_tax(1_499, 1_000);
    assert_eq!(view["pricing"]["tax_lines"], json!([{"label": "GST", "amount_cents": gst}]), "{view}");
    assert_priced(&view, json!([]), 0, 1_499, subtotal + 1_499);

    // Nowhere the store ships to: refused, nothing changed.
    for fields in ["country=XX", "country=JP", "country=", "country=GBR", "country=GB&method=x"] {
        let (status, body) = post(&http, s, "/api/cart/delivery", fields).await;
        assert!(status == 422 || status == 400, "{fields}: {status} {body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    }
    assert_eq!(cart(&http, s).await["pricing"]["country"], "AU");

    // The UK by express.
    let view = deliver(&http, s, &format!("country=GB&method={gb_express}")).await;
    assert_eq!(view["pricing"]["method_id"], gb_express);
    let express = 1_299 + 2 * 150;
    assert_priced(&view, json!([]), 0, express, subtotal + express);
    let inclusive_total = subtotal + express;

    // Prices without tax: the same cart's total grows by the tax, added per line.
    let (status, body) = post(&admin, s, "/api/admin/shipping/settings", "mode=exclusive&rounding=line").await;
    assert_eq!(status, 200, "{body}");
    let view = cart(&http, s).await;
    let vat = added_tax(a.cents, 2_000) + added_tax(b.cents, 2_000) + added_tax(express, 2_000);
    assert_eq!(view["pricing"]["tax_inclusive"], false);
    assert_eq!(view["pricing"]["tax_lines"], json!([{"label": "VAT", "amount_cents": vat}]), "{view}");
    assert_priced(&view, json!([]), 0, express, inclusive_total + vat);

    // With a code, ordered: the order keeps every amount the summary showed.
    promote(&admin, s, "code=TENOFF&name=Ten+off&kind=percent&value=10&active=on").await;
    let (status, view) = apply(&http, s, "TENOFF").await;
    assert_eq!(status, 200, "{view}");
    let off = percent_off(subtotal, 10);
    // The discount is spread over the lines taken in variant id order.
    let mut by_variant = [a, b];
    by_variant.sort_by_key(|i| i.variant);
    let parts = spread(off, &[by_variant[0].cents, by_variant[1].cents]);
    let line_tax: Vec<i64> = by_variant.iter().zip(&parts).map(|(i, d)| added_tax(i.cents - d, 2_000)).collect();
    let vat = line_tax.iter().sum::<i64>() + added_tax(express, 2_000);
    let total = subtotal - off + express + vat;
    assert_eq!(view["pricing"]["tax_cents"], vat, "{view}");
    assert_priced(&view, json!([{"label": "Ten off", "amount_cents": off}]), off, express, total);
    let (shown, status, placed) = place(&http, s, "GB", Some(gb_express)).await;
    assert_eq!(status, 200, "{placed}");
    assert_eq!(shown["total_cents"], total, "{shown}");
    let order = &placed["order"];
    assert_eq!(order["total_cents"], shown["total_cents"]);
    assert_eq!(order["shipping_method"], "Express (next day)");
    assert_eq!(order["address"]["country"], "GB");
    assert_eq!(order["promo_code"], "TENOFF");
    assert_eq!(order["tax_inclusive"], false);
    assert_eq!(order["discounts"], json!([{"label": "Ten off", "amount_cents": off}]));
    assert_eq!(order["tax_lines"], json!([{"label": "VAT", "amount_cents": vat}]));
    let amounts = ["subtotal_cents", "discount_cents", "shipping_cents", "shipping_discount_cents", "tax_cents"]
        .map(|f| order[f].as_i64().unwrap());
    assert_eq!(amounts, [subtotal, off, express, 0, vat], "{order}");
    let lines = order["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    for (item, (discount, tax)) in by_variant.iter().zip(parts.iter().zip(&line_tax)) {
        let line = lines.iter().find(|l| l["variant_id"] == item.variant).expect("ordered");
        let got = [line["line_total_cents"].as_i64(), line["discount_cents"].as_i64(), line["tax_cents"].as_i64()];
        assert_eq!(got, [Some(item.cents), Some(*discount), Some(*tax)], "{line}");
    }
    let sum = |field: &str| lines.iter().map(|l| l[field].as_i64().unwrap()).sum::<i64>();
    assert_eq!(sum("discount_cents"), off, "the lines' discounts are the order's");
    assert_eq!(sum("tax_cents") + added_tax(express, 2_000), vat, "the lines' tax and the shipping's are the order's");
    assert_eq!(sum("line_total_cents"), subtotal);
    let (status, again) = post(&http, s, "/api/orders/get", &format!("id={}", order["id"].as_str().unwrap())).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(&again, order, "the stored order is what was answered");

    // A method of another zone is refused, and the refused choice changes nothing either.
    deliver(&http, s, "country=AU").await;
    let (status, body) = post(&http, s, "/api/cart/delivery", &format!("country=GB&method={us_standard}")).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(cart(&http, s).await["pricing"]["country"], "AU", "a refused delivery choice is not kept");
}

async fn a_repeated_idempotency_key_redeems_a_code_once(kind: Kind) {
    let t = setup(kind).await;
    let s = &t.server;
    let admin = testkit::admin_browser(s).await;
    let item = catalogue(s).await[0];
    let id = promote(&admin, s, "code=ONEKEY&name=One+key&kind=percent&value=10&usage_limit=5&active=on").await;
    let http = testkit::browser();
    add(&http, s, item.id, 2).await;
    let (status, view) = apply(&http, s, "ONEKEY").await;
    assert_eq!(status, 200, "{view}");
    let quote = summary(&http, s).await["quote"].as_str().unwrap().to_string();
    let k = key();
    // A double click and retries, all at once.
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let (http, url, body) = (http.clone(), s.url("/api/checkout/place"), form(&k, &quote));
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
    let mut ids = Vec::new();
    let mut created = 0;
    for (status, body) in futures::future::join_all(tasks).await.into_iter().map(|r| r.unwrap()) {
        assert_eq!(status, 200, "{body}");
        ids.push(body["order"]["id"].as_str().unwrap().to_string());
        created += usize::from(body["created"] == true);
    }
    ids.dedup();
    assert_eq!((ids.len(), created), (1, 1), "one order");
    // The same form again later: the same order, not a second redemption.
    let (status, again) = post(&http, s, "/api/checkout/place", &form(&k, &quote)).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!((again["order"]["id"].as_str(), again["created"].as_bool()), (Some(ids[0].as_str()), Some(false)));
    assert_eq!(again["order"]["discount_cents"], percent_off(2 * item.cents, 10));
    assert_eq!(times_used(s, id).await, 1);
    assert_eq!(count(s, "SELECT COUNT(*) FROM promotion_redemptions").await, 1);
    assert_eq!(count(s, "SELECT COUNT(*) FROM orders").await, 1);
    let customer: String = sqlx::query_scalar("SELECT customer FROM promotion_redemptions WHERE promotion_id = $1")
        .bind(id)
        .fetch_one(s.state.db.read())
        .await
        .unwrap();
    assert_eq!(customer, "e:ann@example.com", "a guest's redemption names the order's email");
}

async fn bad_promotion_and_tax_input_is_refused_and_changes_nothing(kind: Kind) {
    let t = setup(kind).await;
    let s = &t.server;
    let admin = testkit::admin_browser(s).await;
    // The demo's own codes are there already.
    let before = count(s, "SELECT COUNT(*) FROM promotions").await;
    let long_code = "A".repeat(40);
    let long_name = "x".repeat(300);
    for (fields, want) in [
        ("code=NEG&name=Negative&kind=fixed&value=-5.00&active=on".to_string(), 422),
        ("code=HUGE&name=Huge&kind=fixed&value=99999999999.00&active=on".to_string(), 422),
        ("code=HUGEMIN&name=Huge+minimum&kind=percent&value=10&min_subtotal=99999999999&active=on".to_string(), 422),
        ("code=NEGMIN&name=Negative+minimum&kind=percent&value=10&min_subtotal=-1.00&active=on".to_string(), 422),
        ("code=OVER&name=Over&kind=percent&value=101&active=on".to_string(), 422),
        ("code=ZERO&name=Zero&kind=percent&value=0&active=on".to_string(), 422),
        ("code=NEGPCT&name=Negative&kind=percent&value=-10&active=on".to_string(), 422),
        (format!("code={long_code}&name=Long&kind=percent&value=10&active=on"), 422),
        ("code=BAD+CODE!&name=Spaces&kind=percent&value=10&active=on".to_string(), 422),
        ("code=ODD&name=Odd&kind=bogus&value=10&active=on".to_string(), 422),
        ("name=Everyone+once&kind=percent&value=10&per_customer_limit=1&active=on".to_string(), 422),
        ("code=NEGLIMIT&name=Limit&kind=percent&value=10&usage_limit=-1&active=on".to_string(), 422),
        ("code=BUYNONE&name=Buy+none&kind=buy_get&value=100&buy_quantity=0&active=on".to_string(), 422),
        ("code=NOTARGET&name=No+target&kind=percent&value=10&target=category&active=on".to_string(), 422),
        ("code=ELSEWHERE&name=Elsewhere&kind=percent&value=10&target=shop&active=on".to_string(), 422),
        (
            "code=BACKWARDS&name=Backwards&kind=percent&value=10&starts_at=2026-12-24&ends_at=2026-12-01&active=on"
                .to_string(),
            422,
        ),
        ("code=NODAY&name=No+day&kind=percent&value=10&ends_at=2026-02-30&active=on".to_string(), 422),
        ("code=NONAME&name=&kind=percent&value=10&active=on".to_string(), 422),
        (format!("code=LONGNAME&name={long_name}&kind=percent&value=10&active=on"), 422),
        ("code=NOTANID&id=abc&name=Not+an+id&kind=percent&value=10&active=on".to_string(), 400),
        ("code=NOSUCH&id=99999&name=No+such&kind=percent&value=10&active=on".to_string(), 404),
    ] {
        let (status, body) = post(&admin, s, "/api/admin/promotions/save", &fields).await;
        assert_eq!(status, want, "{fields}: {body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{fields}: {body}");
    }
    assert_eq!(count(s, "SELECT COUNT(*) FROM promotions").await, before, "nothing saved");
    // A taken code.
    let good = "code=TAKEN&name=Taken&kind=percent&value=10&active=on";
    promote(&admin, s, good).await;
    let (status, body) = post(&admin, s, "/api/admin/promotions/save", &good.replace("Taken", "Again")).await;
    assert_eq!(status, 409, "{body}");
    // Nobody else may save promotions or change tax.
    let (status, _) = post(&testkit::browser(), s, "/api/admin/promotions/save", good).await;
    assert_eq!(status, 401);
    let customer = testkit::browser();
    register(&customer, s).await;
    let (status, _) = post(&customer, s, "/api/admin/promotions/save", &good.replace("TAKEN", "MINE")).await;
    assert_eq!(status, 403);
    let (status, _) = post(&customer, s, "/api/admin/shipping/tax", "zone=2&label=VAT&rate=0").await;
    assert_eq!(status, 403);
    let (status, _) =
        post(&testkit::browser(), s, "/api/admin/shipping/settings", "mode=exclusive&rounding=line").await;
    assert_eq!(status, 401);
    assert_eq!(count(s, "SELECT COUNT(*) FROM promotions").await, before + 1);

    // Tax and shipping settings.
    let gb_standard: i64 =
        sqlx::query_scalar("SELECT id FROM shipping_methods WHERE zone_id = 2 ORDER BY position LIMIT 1")
            .fetch_one(s.state.db.read())
            .await
            .unwrap();
    for (path, fields, want) in [
        ("/api/admin/shipping/tax", "zone=999&label=VAT&rate=20".to_string(), 404),
        ("/api/admin/shipping/tax", "zone=abc&label=VAT&rate=20".to_string(), 400),
        ("/api/admin/shipping/tax", "zone=-2&label=VAT&rate=20".to_string(), 400),
        ("/api/admin/shipping/tax", "zone=2&label=VAT&rate=150".to_string(), 422),
        ("/api/admin/shipping/tax", "zone=2&label=VAT&rate=-5".to_string(), 422),
        ("/api/admin/shipping/tax", "zone=2&label=VAT&rate=20.001".to_string(), 422),
        ("/api/admin/shipping/tax", "zone=2&label=VAT&rate=lots".to_string(), 422),
        ("/api/admin/shipping/tax", "zone=2&label=&rate=20".to_string(), 422),
        ("/api/admin/shipping/tax", format!("zone=2&label={}&rate=20", "V".repeat(21)), 422),
        ("/api/admin/shipping/settings", "mode=sometimes&rounding=line".to_string(), 422),
        ("/api/admin/shipping/settings", "mode=exclusive&rounding=never".to_string(), 422),
        ("/api/admin/shipping/method", format!("method={gb_standard}&price=-1.00"), 422),
        ("/api/admin/shipping/method", format!("method={gb_standard}&price=99999999999"), 422),
        ("/api/admin/shipping/method", "method=99999&price=1.00".to_string(), 404),
    ] {
        let (status, body) = post(&admin, s, path, &fields).await;
        assert_eq!(status, want, "{path} {fields}: {body}");
    }
    let (label, rate): (String, i64) = sqlx::query_as("SELECT tax_label, tax_rate_bp FROM shipping_zones WHERE id = 2")
        .fetch_one(s.state.db.read())
        .await
        .unwrap();
    assert_eq!((label.as_str(), rate), ("VAT", 2_000), "the zone's tax is unchanged");
    let base: i64 = sqlx::query_scalar("SELECT base_cents FROM shipping_methods WHERE id = $1")
        .bind(gb_standard)
        .fetch_one(s.state.db.read())
        .await
        .unwrap();
    assert_eq!(base, 499, "the method's price is unchanged");
    let inclusive: String = sqlx::query_scalar("SELECT value FROM store_settings WHERE key = 'tax_inclusive'")
        .fetch_one(s.state.db.read())
        .await
        .unwrap();
    assert_eq!(inclusive, "1");

    // Shoppers: an over-long code or country is refused without a panic and without counting...
    let shopper = testkit::browser();
    let item = catalogue(s).await[0];
    add(&shopper, s, item.id, 1).await;
    for fields in [format!("code={}", "A".repeat(300)), format!("code={}", "%C3%A9".repeat(150))] {
        let (status, body) = post(&shopper, s, "/api/cart/code", &fields).await;
        assert!((400..500).contains(&status), "{status} {body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    }
    let (status, _) = post(&shopper, s, "/api/cart/delivery", &format!("country={}", "G".repeat(300))).await;
    assert_eq!(status, 422);
    // ...while ten wrong codes from one address are all it gets, whichever browser sends them.
    for i in 0..10 {
        let code = match i {
            0 => "NOPE".to_string(),
            1 => long_code.clone(),
            2 => "%C3%84%C3%96%C3%9C-CODE".to_string(),
            _ => format!("WRONG{i}"),
        };
        let (status, body) = apply(&shopper, s, &code).await;
        assert_eq!(status, 422, "{code}: {body}");
    }
    let (status, body) = apply(&shopper, s, "WRONG11").await;
    assert_eq!(status, 429, "{body}");
    assert!(body["retry_after"].as_u64().is_some_and(|r| r > 0), "{body}");
    let (status, _) = apply(&testkit::browser(), s, "TAKEN").await;
    assert_eq!(status, 429, "even a good code waits");
    let view = cart(&shopper, s).await;
    assert!(view["pricing"]["code"].is_null(), "{view}");
    assert_eq!(view["pricing"]["discount_cents"], 0);
    assert_eq!(count(s, "SELECT COUNT(*) FROM promotions").await, before + 1);
}
