//! Recommendations over HTTP on SQLite and PostgreSQL: signals are recorded in batches and follow
//! the shopper into their account, neighbours come from what is bought together, the row
//! excludes the cart, purchases and sold-out products, leans toward the shopper's department,
//! stays diverse, and falls back to best sellers when serving breaks.

use testkit::post;

use serde_json::Value;
use std::collections::HashMap;
use testkit::{Backend, TestServer};

macro_rules! both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $name() { super::$name(super::Backend::Sqlite).await } )* }
        mod postgres { $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $name() { super::$name(super::Backend::Postgres).await } )* }
    };
}

both_databases!(
    signals_are_recorded_and_follow_the_shopper,
    bought_together_drives_product_recommendations,
    the_home_row_leans_toward_what_the_shopper_browses,
    broken_serving_falls_back_to_best_sellers,
);

async fn recs(http: &reqwest::Client, s: &TestServer, context: &str) -> Vec<Value> {
    let (status, body) = post(http, s, "/api/recommendations", &format!("context={context}")).await;
    assert_eq!(status, 200, "{body}");
    body.as_array().unwrap().clone()
}

fn assert_diverse(row: &[Value]) {
    let mut per: HashMap<i64, usize> = HashMap::new();
    for r in row {
        *per.entry(r["product"]["category_id"].as_i64().unwrap()).or_insert(0) += 1;
    }
    assert!(per.values().all(|n| *n <= 3), "at most 3 per department: {per:?}");
    assert!(row.len() <= 8);
}

async fn slug(s: &TestServer, id: i64) -> String {
    sqlx::query_scalar("SELECT slug FROM products WHERE id = $1").bind(id).fetch_one(s.state.db.read()).await.unwrap()
}

/// In-stock products of one category.
async fn in_category(s: &TestServer, category: i64, n: i64) -> Vec<i64> {
    sqlx::query_scalar(
        "SELECT id FROM products WHERE option1_name = '' AND category_id = $1 AND stock > 10 AND active = 1 ORDER BY id LIMIT $2",
    )
    .bind(category)
    .bind(n)
    .fetch_all(s.state.db.read())
    .await
    .unwrap()
}

async fn purchases(s: &TestServer, baskets: &[(&str, &[i64])]) {
    let now = app::storage::db::now_ms();
    for (order, products) in baskets {
        for p in *products {
            sqlx::query("INSERT INTO events (subject, kind, product_id, order_id, created_at) VALUES ('u:0', 'purchase', $1, $2, $3)")
                .bind(p)
                .bind(order)
                .bind(now - 3_600_000)
                .execute(&mut *s.state.db.write().await.unwrap())
                .await
                .unwrap();
        }
    }
}

async fn signals_are_recorded_and_follow_the_shopper(backend: Backend) {
    let t = testkit::database(backend).await;
    let s = testkit::spawn(&t.url, None).await;
    let http = testkit::browser();
    let ids = in_category(&s, 2, 3).await;
    // The first page view gives the browser its anonymous id; product pages count as views.
    assert_eq!(http.get(s.url("/")).send().await.expect("home").status().as_u16(), 200);
    for id in &ids {
        let page = http.get(s.url(&format!("/p/{}", slug(&s, *id).await))).send().await.expect("product page");
        assert_eq!(page.status().as_u16(), 200);
    }
    post(&http, &s, "/api/cart/add", &format!("product_id={}&quantity=1", ids[0])).await;
    tokio::time::timeout(std::time::Duration::from_secs(20), s.state.events.flush()).await.expect("flush");
    let rows: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT subject, kind, product_id FROM events WHERE subject LIKE 'a:%' ORDER BY id")
            .fetch_all(s.state.db.read())
            .await
            .unwrap();
    let kinds: Vec<(&str, i64)> = rows.iter().map(|(_, k, p)| (k.as_str(), *p)).collect();
    assert_eq!(kinds, vec![("view", ids[0]), ("view", ids[1]), ("view", ids[2]), ("cart", ids[0])]);
    let subject = rows[0].0.clone();
    assert!(rows.iter().all(|r| r.0 == subject), "one browser, one subject");
    // Signing up attaches the guest's signals to the account.
    let (status, answer) =
        post(&http, &s, "/api/auth/register", "email=recs%40example.com&password=correct+horse").await;
    assert_eq!(status, 200);
    s.state.events.flush().await;
    let uid = answer["user"]["id"].as_i64().unwrap();
    let moved: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE subject = $1")
        .bind(format!("u:{uid}"))
        .fetch_one(s.state.db.read())
        .await
        .unwrap();
    assert_eq!(moved, 4);
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE subject = $1")
        .bind(&subject)
        .fetch_one(s.state.db.read())
        .await
        .unwrap();
    assert_eq!(left, 0);
}

async fn bought_together_drives_product_recommendations(backend: Backend) {
    let t = testkit::database(backend).await;
    let s = testkit::spawn(&t.url, None).await;
    let kitchen = in_category(&s, 1, 6).await;
    let (a, b, c, sold_out, in_cart) = (kitchen[0], kitchen[1], kitchen[2], kitchen[3], kitchen[4]);
    let mut baskets: Vec<(String, Vec<i64>)> = Vec::new();
    for i in 0..6 {
        baskets.push((format!("ab{i}"), vec![a, b]));
    }
    for i in 0..3 {
        baskets.push((format!("ac{i}"), vec![a, c]));
        baskets.push((format!("as{i}"), vec![a, sold_out]));
        baskets.push((format!("ak{i}"), vec![a, in_cart]));
    }
    let refs: Vec<(&str, &[i64])> = baskets.iter().map(|(o, p)| (o.as_str(), p.as_slice())).collect();
    purchases(&s, &refs).await;
    sqlx::query("UPDATE products SET stock = 0 WHERE id = $1")
        .bind(sold_out)
        .execute(&mut *s.state.db.write().await.unwrap())
        .await
        .unwrap();
    // The variant is what carts and checkout read (these products have one).
    sqlx::query("UPDATE variants SET stock = 0 WHERE product_id = $1")
        .bind(sold_out)
        .execute(&mut *s.state.db.write().await.unwrap())
        .await
        .unwrap();
    s.state.catalog.invalidate_all();
    app::services::recs::recompute(&s.state).await.unwrap();
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM product_neighbours WHERE product_id = $1")
        .bind(a)
        .fetch_one(s.state.db.read())
        .await
        .unwrap();
    assert!(stored >= 3, "neighbours are stored for serving");
    let http = testkit::browser();
    post(&http, &s, "/api/cart/add", &format!("product_id={in_cart}&quantity=1")).await;
    let row = recs(&http, &s, &format!("product:{a}")).await;
    let ids: Vec<i64> = row.iter().map(|r| r["product_id"].as_i64().unwrap()).collect();
    assert_eq!(&ids[..2], &[b, c], "strongest co-purchase first: {ids:?}");
    assert_eq!(row[0]["reason"], "Often bought together");
    assert!(!ids.contains(&a), "not the product itself");
    assert!(!ids.contains(&sold_out), "never sold out");
    assert!(!ids.contains(&in_cart), "never what is in the cart");
    assert_eq!(row.len(), 8, "filled up with best sellers");
    assert_diverse(&row);
    // The cart row builds on what is in the cart.
    let cart_row = recs(&http, &s, "cart").await;
    assert_eq!(cart_row[0]["product_id"], a, "{cart_row:?}");
    assert!(cart_row[0]["reason"].as_str().unwrap().contains("in your cart"));
    let (status, _) = post(&http, &s, "/api/recommendations", "context=product:abc").await;
    assert_eq!(status, 400);
}

async fn the_home_row_leans_toward_what_the_shopper_browses(backend: Backend) {
    let t = testkit::database(backend).await;
    let s = testkit::spawn(&t.url, None).await;
    app::services::recs::recompute(&s.state).await.unwrap();
    let http = testkit::browser();
    http.get(s.url("/")).send().await.unwrap();
    let before = recs(&http, &s, "home").await;
    assert_eq!(before.len(), 8);
    assert!(before.iter().all(|r| r["reason"] == "Best seller this week"), "cold start: best sellers");
    let garden = 11;
    for id in in_category(&s, garden, 4).await {
        http.get(s.url(&format!("/p/{}", slug(&s, id).await))).send().await.unwrap();
    }
    s.state.events.flush().await;
    let after = recs(&http, &s, "home").await;
    let in_garden = after.iter().filter(|r| r["product"]["category_id"] == garden).count();
    assert_eq!(in_garden, 3, "as many as diversity allows: {after:?}");
    assert_eq!(after[0]["product"]["category_id"], garden, "and first");
    assert_diverse(&after);
}

async fn broken_serving_falls_back_to_best_sellers(backend: Backend) {
    let t = testkit::database(backend).await;
    let s = testkit::spawn(&t.url, None).await;
    app::services::recs::recompute(&s.state).await.unwrap();
    sqlx::query("ALTER TABLE events RENAME TO events_gone")
        .execute(&mut *s.state.db.write().await.unwrap())
        .await
        .unwrap();
    let http = testkit::browser();
    http.get(s.url("/")).send().await.unwrap();
    let row = recs(&http, &s, "home").await;
    assert_eq!(row.len(), 8, "the page still gets a full row");
    assert!(row.iter().all(|r| r["reason"] == "Best seller this week"));
    assert_diverse(&row);
    let home = http.get(s.url("/")).send().await.unwrap();
    assert_eq!(home.status().as_u16(), 200);
    assert!(home.text().await.unwrap().contains("Recommended for you"));
    sqlx::query("ALTER TABLE events_gone RENAME TO events")
        .execute(&mut *s.state.db.write().await.unwrap())
        .await
        .unwrap();
}
