//! Shared set-up for the benchmark binaries in `src/bin/`: a real shop on a free port, served by
//! the test kit (as in the integration tests), and its shoppers.

use testkit::TestServer;

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

/// POSTs a form and reads the answer; true on 2xx.
pub async fn post_ok(http: &reqwest::Client, url: &str, body: String) -> bool {
    match http.post(url).header("content-type", "application/x-www-form-urlencoded").body(body).send().await {
        Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
        _ => false,
    }
}
