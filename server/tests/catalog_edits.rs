//! Price and stock edits: admin-only and validated, written through to the database, and seen by
//! every instance's cache: at once over Redis pub/sub (from the admin API and from the CLI),
//! through the change log without Redis. And the cache is warm with the most viewed products
//! after a start.

use std::time::{Duration, Instant};
use testkit::{post, TestServer};

/// A product as `s` serves it (from its catalogue cache): (price in cents, stock).
async fn served(http: &reqwest::Client, s: &TestServer, slug: &str) -> (i64, i64) {
    let (status, body) = post(http, s, "/api/catalog/product", &format!("slug={slug}")).await;
    assert_eq!(status, 200, "{body}");
    (body["card"]["price_cents"].as_i64().unwrap(), body["card"]["stock"].as_i64().unwrap())
}

async fn stored(s: &TestServer, slug: &str) -> (i64, i64) {
    sqlx::query_as("SELECT price_cents, stock FROM products WHERE slug = $1")
        .bind(slug)
        .fetch_one(s.state.db.read())
        .await
        .unwrap()
}

async fn a_product(s: &TestServer) -> String {
    sqlx::query_scalar(
        "SELECT slug FROM products WHERE option1_name = '' AND active = 1 AND price_cents <> 4321 ORDER BY id LIMIT 1",
    )
    .fetch_one(s.state.db.read())
    .await
    .unwrap()
}

/// Polls `s` until it serves `want` for `slug`; how long that took.
async fn until_served(
    http: &reqwest::Client,
    s: &TestServer,
    slug: &str,
    want: (i64, i64),
    within: Duration,
) -> Duration {
    let started = Instant::now();
    loop {
        let got = served(http, s, slug).await;
        if got == want {
            return started.elapsed();
        }
        assert!(started.elapsed() < within, "still serving {got:?} instead of {want:?} after {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn edits_are_for_admins_only_and_validated() {
    let t = testkit::sqlite().await;
    let s = testkit::spawn(&t.url, None).await;
    let slug = a_product(&s).await;
    let before = stored(&s, &slug).await;

    let guest = testkit::browser();
    assert_eq!(post(&guest, &s, "/api/admin/products/update", &format!("slug={slug}&price=1.00")).await.0, 401);
    assert_eq!(post(&guest, &s, "/api/admin/products", "q=").await.0, 401);
    let customer = testkit::browser();
    assert_eq!(post(&customer, &s, "/api/auth/register", "email=c%40example.com&password=longenough").await.0, 200);
    assert_eq!(post(&customer, &s, "/api/admin/products/update", &format!("slug={slug}&price=1.00")).await.0, 403);

    let admin = testkit::admin_browser(&s).await;
    for (body, status) in [
        (format!("slug={slug}&price=12.999"), 400),
        (format!("slug={slug}&price=-1"), 400),
        (format!("slug={slug}&stock=ten"), 400),
        (format!("slug={slug}&price=&stock="), 400),
        (format!("slug={slug}&price=2000000"), 422),
        (format!("slug={slug}&stock=1000001"), 422),
        ("slug=no-such-product&price=1.00".to_string(), 404),
    ] {
        let (got, answer) = post(&admin, &s, "/api/admin/products/update", &body).await;
        assert_eq!(got, status, "{body}: {answer}");
        assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()), "{answer}");
    }
    assert_eq!(stored(&s, &slug).await, before, "refused edits change nothing");
    let changes: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM catalog_changes").fetch_one(s.state.db.read()).await.unwrap();
    assert_eq!(changes, 0);

    // The admin list puts the lowest stock first, and finds products by name.
    let (status, list) = post(&admin, &s, "/api/admin/products", "q=").await;
    assert_eq!(status, 200);
    let stocks: Vec<i64> = list.as_array().unwrap().iter().map(|p| p["stock"].as_i64().unwrap()).collect();
    assert!(!stocks.is_empty() && stocks.windows(2).all(|w| w[0] <= w[1]), "{stocks:?}");

    // A valid edit: a blank field keeps its value; the product page shows the new price at once.
    let page =
        |http: reqwest::Client, url: String| async move { http.get(url).send().await.unwrap().text().await.unwrap() };
    assert!(!page(guest.clone(), s.url(&format!("/p/{slug}"))).await.contains("$43.21"));
    let (status, card) =
        post(&admin, &s, "/api/admin/products/update", &format!("slug={slug}&price=43.21&stock=")).await;
    assert_eq!(status, 200, "{card}");
    assert_eq!((card["price_cents"].as_i64(), card["stock"].as_i64()), (Some(4321), Some(before.1)));
    assert_eq!(stored(&s, &slug).await, (4321, before.1));
    assert!(page(guest.clone(), s.url(&format!("/p/{slug}"))).await.contains("$43.21"), "page cache dropped too");
    let (_, found) = post(&admin, &s, "/api/admin/products", &format!("q={}", card["name"].as_str().unwrap())).await;
    assert!(found.as_array().unwrap().iter().any(|p| p["slug"].as_str() == Some(slug.as_str())), "{found}");
}

/// Admin API on one instance, CLI from a third process: the other instance drops its cached copy
/// within a second. No change-log follower runs in this test, so only the broadcast can do it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn edits_reach_every_instance_over_redis_within_a_second() {
    let t = testkit::postgres().await;
    let redis = testkit::RedisServer::start();
    let a = testkit::spawn(&t.url, Some(&redis.url())).await;
    let b = testkit::spawn(&t.url, Some(&redis.url())).await;
    let slug = a_product(&a).await;
    let http = testkit::browser();
    let (_, stock) = served(&http, &b, &slug).await;

    let admin = testkit::admin_browser(&a).await;
    let (status, body) = post(&admin, &a, "/api/admin/products/update", &format!("slug={slug}&price=43.21")).await;
    assert_eq!(status, 200, "{body}");
    let took = until_served(&http, &b, &slug, (4321, stock), Duration::from_secs(1)).await;
    println!("admin edit seen by the other instance after {took:?}");

    let cli = tokio::task::spawn_blocking({
        let (db, redis, slug) = (t.url.clone(), redis.url(), slug.clone());
        move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_server"))
                .args(["catalog", "set-stock", &slug, "7"])
                .env("DATABASE_URL", db)
                .env("REDIS_URL", redis)
                .env("SEED_DEMO", "false")
                .env("RUST_LOG", "warn")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(cli.status.success(), "{}", String::from_utf8_lossy(&cli.stderr));
    assert!(String::from_utf8_lossy(&cli.stdout).contains("$43.21 (7 in stock)"));
    for s in [&a, &b] {
        until_served(&http, s, &slug, (4321, 7), Duration::from_secs(1)).await;
    }

    // The CLI refuses nonsense with a message and a failure status, changing nothing.
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["catalog", "set-price", &slug, "1e3"])
        .env("DATABASE_URL", &t.url)
        .env("SEED_DEMO", "false")
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("Price must be"));
    assert_eq!(stored(&a, &slug).await, (4321, 7));
}

/// Without Redis (the embedded default, or an edit made while Redis was down) the change log
/// carries the edit: each instance acts on each entry once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_redis_the_change_log_carries_edits() {
    let t = testkit::sqlite().await;
    let a = testkit::spawn(&t.url, None).await;
    let b = testkit::spawn(&t.url, None).await;
    let slug = a_product(&a).await;
    let http = testkit::browser();
    let before = served(&http, &b, &slug).await;
    assert_eq!(b.state.catalog.follow_log().await.unwrap(), 0);

    app::services::catalog_admin::edit(&a.state, &slug, Some("43.21"), Some("3")).await.unwrap();
    assert_eq!(served(&http, &a, &slug).await, (4321, 3), "the editing instance drops its copy at once");
    assert_eq!(served(&http, &b, &slug).await, before, "the other still has its cached copy");
    assert_eq!(b.state.catalog.follow_log().await.unwrap(), 1);
    assert_eq!(served(&http, &b, &slug).await, (4321, 3));
    assert_eq!(b.state.catalog.follow_log().await.unwrap(), 0, "each change is acted on once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_most_viewed_products_are_cached_at_start() {
    let t = testkit::sqlite().await;
    let s = testkit::spawn(&t.url, None).await;
    // A product far down the best-seller list, viewed a lot this week.
    let (id, slug): (i64, String) = sqlx::query_as(
        "SELECT id, slug FROM products WHERE option1_name = '' AND active = 1 ORDER BY popularity ASC, id LIMIT 1",
    )
    .fetch_one(s.state.db.read())
    .await
    .unwrap();
    for i in 0..5 {
        sqlx::query("INSERT INTO events (subject, kind, product_id, created_at) VALUES ($1, 'view', $2, $3)")
            .bind(format!("a:viewer{i}"))
            .bind(id)
            .bind(app::storage::db::now_ms())
            .execute(&mut *s.state.db.write().await.unwrap())
            .await
            .unwrap();
    }
    let most = s.state.catalog.sql().most_viewed(0, 10).await.unwrap();
    assert_eq!(most.len(), 10, "best sellers fill the list");
    assert_eq!(most[0], slug);

    assert!(!s.state.catalog.has_product(&slug));
    server::tasks::warm_catalog(&s.state).await;
    assert!(s.state.catalog.has_product(&slug));
    assert!(most.iter().all(|m| s.state.catalog.has_product(m)));
}
