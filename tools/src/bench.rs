//! Shared set-up for the benchmark binaries in `src/bin/`: a real shop on a free port, served by
//! the test kit (as in the integration tests), and its shoppers.

use crate::loadgen;
use std::time::Duration;
use testkit::TestServer;

/// How long each benchmark step runs before it measures.
pub const WARM_UP: Duration = Duration::from_secs(2);

/// Shoppers of the cart benchmarks: each with a session and a line in its cart, and the
/// products they add (in stock for the whole run).
pub struct CartLoad {
    clients: Vec<reqwest::Client>,
    ids: Vec<i64>,
}

impl CartLoad {
    pub async fn new(shop: &TestServer, sessions: usize) -> CartLoad {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM products WHERE option1_name = '' AND stock >= 99 AND active = 1 LIMIT 40",
        )
        .fetch_all(shop.state.db.read())
        .await
        .expect("products");
        let mut clients = Vec::with_capacity(sessions);
        for _ in 0..sessions {
            clients.push(shopper(shop).await);
        }
        CartLoad { clients, ids }
    }

    /// Every shopper adds one unit at a time, for `secs` after the warm-up.
    pub async fn add(&self, shop: &TestServer, label: &str, secs: u64) -> loadgen::Report {
        let (clients, ids, url) = (self.clients.clone(), self.ids.clone(), shop.url("/api/cart/add"));
        let label = format!("{label}: add to cart");
        loadgen::run(&label, clients.len(), WARM_UP, Duration::from_secs(secs), move |worker, i| {
            let http = clients[worker].clone();
            let (url, pid) = (url.clone(), ids[(i as usize + worker) % ids.len()]);
            async move { post_ok(&http, &url, format!("product_id={pid}&quantity=1")).await }
        })
        .await
    }

    /// Every shopper reads its cart, for `secs` after the warm-up.
    pub async fn read(&self, shop: &TestServer, label: &str, secs: u64) -> loadgen::Report {
        let (clients, url) = (self.clients.clone(), shop.url("/api/cart"));
        let label = format!("{label}: read cart");
        loadgen::run(&label, clients.len(), WARM_UP, Duration::from_secs(secs), move |worker, _| {
            let http = clients[worker].clone();
            let url = url.clone();
            async move { post_ok(&http, &url, String::new()).await }
        })
        .await
    }
}

/// A client with its own session and one item in its cart.
pub async fn shopper(shop: &TestServer) -> reqwest::Client {
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .pool_max_idle_per_host(16)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let res = http
        .post(shop.url("/api/cart/add"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("product_id=1&quantity=1")
        .send()
        .await
        .expect("add to cart");
    assert!(res.status().is_success(), "add to cart: {}", res.status());
    http
}

/// The benchmarks' two positional arguments: seconds to measure and concurrent workers.
pub fn args(default_workers: usize) -> (u64, usize) {
    let args: Vec<String> = std::env::args().collect();
    let secs = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10);
    let workers = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(default_workers);
    (secs, workers)
}

/// Starts the shop on SQLite in `dir` (or `BENCH_DATABASE_URL`), with Redis if given. Unlike the
/// tests' servers, it seeds itself on start as a fresh shop does: the demo catalogue and the
/// order history that the recommendations learn from.
pub async fn start_shop(dir: &tempfile::TempDir, redis_url: Option<&str>) -> TestServer {
    let db_url = std::env::var("BENCH_DATABASE_URL").unwrap_or_else(|_| testkit::sqlite_url(dir, "bench.db"));
    testkit::spawn_with(&db_url, redis_url, &[("SEED_DEMO", "true")]).await
}

/// Two automatic promotions, as a store running a sale has: 10% off the first category and free
/// shipping over $50.00.
pub async fn add_automatic_promotions(shop: &TestServer) {
    let now = app::storage::db::now_ms();
    for (name, kind, value, target, min) in [
        ("10% off kitchen", "percent", 10, "category", 0),
        ("Free shipping over $50", "free_shipping", 0, "order", 5_000),
    ] {
        sqlx::query(
            "INSERT INTO promotions (name, kind, value, target, target_id, min_subtotal_cents, combinable, active, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, 1, $5, 1, 1, $6, $6)",
        )
        .bind(name)
        .bind(kind)
        .bind(value as i64)
        .bind(target)
        .bind(min as i64)
        .bind(now)
        .execute(&mut *shop.state.db.write().await.expect("database"))
        .await
        .expect("promotion");
    }
    shop.state.pricing.invalidate();
}

/// POSTs a form and reads the answer; true on 2xx.
pub async fn post_ok(http: &reqwest::Client, url: &str, body: String) -> bool {
    match http.post(url).header("content-type", "application/x-www-form-urlencoded").body(body).send().await {
        Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
        _ => false,
    }
}
