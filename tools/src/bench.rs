//! Shared set-up for the benchmark binaries in `src/bin/`: a real shop on a free port, served by
//! the test kit (as in the integration tests), and its shoppers.

use crate::loadgen;
use std::time::Duration;
use testkit::TestServer;

/// How long each benchmark step runs before it measures.
pub const WARM_UP: Duration = Duration::from_secs(2);

/// Shoppers of the cart benchmarks, one at a time per worker, and the products they add (in
/// stock for the whole run). With `lines_per_cart`, a worker's shopper leaves after adding that
/// many lines and a new one (no cookies: a new session and cart) takes over, as on a real shop
/// where a cart holds a few lines; without, each worker keeps one session for the whole run.
pub struct CartLoad {
    http: reqwest::Client,
    shoppers: std::sync::Arc<Vec<std::sync::Mutex<Shopper>>>,
    ids: Vec<i64>,
    base: String,
    lines_per_cart: Option<u64>,
}

/// One worker's current shopper: the cookies the shop gave it, and how many adds it made.
#[derive(Default, Clone)]
struct Shopper {
    cookies: Vec<(String, String)>,
    adds: u64,
}

impl Shopper {
    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn remember(&mut self, res: &reqwest::Response) {
        for value in res.headers().get_all(reqwest::header::SET_COOKIE) {
            let Some((name, rest)) = value.to_str().ok().and_then(|v| v.split_once('=')) else { continue };
            let value = rest.split(';').next().unwrap_or("").to_string();
            self.cookies.retain(|(k, _)| k != name);
            if !value.is_empty() {
                self.cookies.push((name.to_string(), value));
            }
        }
    }
}

/// Up to 40 products with one variant and deep stock, which the shoppers add over and over.
pub async fn simple_products(db: &sqlx::AnyPool) -> Vec<i64> {
    sqlx::query_scalar("SELECT id FROM products WHERE option1_name = '' AND stock >= 99 AND active = 1 LIMIT 40")
        .fetch_all(db)
        .await
        .expect("products")
}

impl CartLoad {
    /// A session per worker for the whole run, on an in-process test server, each starting with
    /// a line in its cart.
    pub async fn new(shop: &TestServer, sessions: usize) -> CartLoad {
        let ids = simple_products(shop.state.db.read()).await;
        let load = CartLoad::at(&shop.origin(), ids, sessions, None);
        for worker in 0..sessions {
            assert!(load.post(worker, "/api/cart/add", "product_id=1&quantity=1".into()).await, "add to cart");
        }
        load
    }

    /// `workers` shoppers at a time of the shop at `base` (`http://host:port`), adding `ids`.
    pub fn at(base: &str, ids: Vec<i64>, workers: usize, lines_per_cart: Option<u64>) -> CartLoad {
        let shoppers = (0..workers).map(|_| std::sync::Mutex::new(Shopper::default())).collect();
        CartLoad {
            http: browser_like_client(),
            shoppers: std::sync::Arc::new(shoppers),
            ids,
            base: base.to_string(),
            lines_per_cart,
        }
    }

    fn clone_for_run(&self) -> CartLoad {
        CartLoad {
            http: self.http.clone(),
            shoppers: self.shoppers.clone(),
            ids: self.ids.clone(),
            base: self.base.clone(),
            lines_per_cart: self.lines_per_cart,
        }
    }

    /// POSTs a form as `worker`'s current shopper; true on 2xx.
    async fn post(&self, worker: usize, path: &str, body: String) -> bool {
        let cookie = self.shoppers[worker].lock().expect("shopper").cookie_header();
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if !cookie.is_empty() {
            req = req.header(reqwest::header::COOKIE, cookie);
        }
        match req.send().await {
            Ok(r) if r.status().is_success() => {
                self.shoppers[worker].lock().expect("shopper").remember(&r);
                r.bytes().await.is_ok()
            }
            _ => false,
        }
    }

    /// Every worker's shopper adds one unit of a product at a time, for `secs` after the warm-up.
    pub async fn add(&self, label: &str, secs: u64) -> loadgen::Report {
        let load = std::sync::Arc::new(self.clone_for_run());
        let label = format!("{label}: add to cart");
        let workers = self.shoppers.len();
        loadgen::run(&label, workers, WARM_UP, Duration::from_secs(secs), move |worker, _| {
            let load = load.clone();
            async move {
                let pid = {
                    let mut shopper = load.shoppers[worker].lock().expect("shopper");
                    if load.lines_per_cart.is_some_and(|n| shopper.adds >= n) {
                        *shopper = Shopper::default();
                    }
                    shopper.adds += 1;
                    load.ids[(shopper.adds as usize * 7 + worker) % load.ids.len()]
                };
                load.post(worker, "/api/cart/add", format!("product_id={pid}&quantity=1")).await
            }
        })
        .await
    }

    /// Every worker's shopper reads its cart, for `secs` after the warm-up.
    pub async fn read(&self, label: &str, secs: u64) -> loadgen::Report {
        let load = std::sync::Arc::new(self.clone_for_run());
        let label = format!("{label}: read cart");
        let workers = self.shoppers.len();
        loadgen::run(&label, workers, WARM_UP, Duration::from_secs(secs), move |worker, _| {
            let load = load.clone();
            async move { load.post(worker, "/api/cart", String::new()).await }
        })
        .await
    }
}

/// What Chromium sends as `Accept-Encoding` (Firefox too, since version 126).
pub const BROWSER_ACCEPT_ENCODING: &str = "gzip, deflate, br, zstd";

fn browser_headers() -> reqwest::header::HeaderMap {
    let mut headers = reqwest::header::HeaderMap::new();
    headers
        .insert(reqwest::header::ACCEPT_ENCODING, reqwest::header::HeaderValue::from_static(BROWSER_ACCEPT_ENCODING));
    headers
}

/// A client that says it accepts compressed answers, as every browser does (bodies are read, not
/// decoded), so the server does the work it does for real shoppers. No cookie store: the cart
/// benchmarks keep each shopper's cookies themselves.
pub fn browser_like_client() -> reqwest::Client {
    reqwest::Client::builder()
        .default_headers(browser_headers())
        .pool_max_idle_per_host(1024)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// A client with its own session and one item in its cart, of the shop at `base`
/// (`http://host:port`), accepting compressed answers as a browser does.
pub async fn shopper(base: &str) -> reqwest::Client {
    let http = reqwest::Client::builder()
        .default_headers(browser_headers())
        .cookie_store(true)
        .pool_max_idle_per_host(16)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let res = http
        .post(format!("{base}/api/cart/add"))
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
pub async fn add_automatic_promotions(db: &app::storage::db::Db) {
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
        .execute(&mut *db.write().await.expect("database"))
        .await
        .expect("promotion");
    }
}

/// A benchmark step's figures with the server's CPU time over the measured window.
pub struct Measured {
    pub report: loadgen::Report,
    /// Server CPU seconds (user + system) while the step measured.
    pub cpu_seconds: f64,
    /// The load generator's (this process's) CPU seconds over the same window: with both on one
    /// machine, server and client together cannot use more than its cores.
    pub client_cpu_seconds: f64,
    /// Other processes the step drives (redis-server), CPU seconds over the same window.
    pub others_cpu_seconds: f64,
}

impl Measured {
    /// Server CPU time per request, in milliseconds.
    pub fn cpu_ms_per_request(&self) -> f64 {
        self.cpu_seconds * 1000.0 / (self.report.requests.max(1) as f64)
    }

    /// Cores the server kept busy on average.
    pub fn cores(&self) -> f64 {
        self.cpu_seconds / self.report.elapsed.as_secs_f64()
    }

    /// Cores the load generator kept busy on average.
    pub fn client_cores(&self) -> f64 {
        self.client_cpu_seconds / self.report.elapsed.as_secs_f64()
    }

    /// Cores the other processes (redis-server) kept busy on average.
    pub fn others_cores(&self) -> f64 {
        self.others_cpu_seconds / self.report.elapsed.as_secs_f64()
    }

    pub fn line(&self) -> String {
        format!(
            "{}  server CPU {:.3} ms/req ({:.2} cores), load generator {:.2} cores, redis-server {:.2} cores",
            self.report.line(),
            self.cpu_ms_per_request(),
            self.cores(),
            self.client_cores(),
            self.others_cores(),
        )
    }
}

/// Runs one step (`load`, which warms up for `WARM_UP` and then measures for `secs`) and reads
/// the server's CPU time at the start and end of the measured part.
pub async fn measure<F>(server: &crate::server_process::ServerProcess, others: &[u32], secs: u64, load: F) -> Measured
where
    F: std::future::Future<Output = loadgen::Report>,
{
    use crate::server_process::cpu_seconds_of;
    let client = || cpu_seconds_of(std::process::id()).unwrap_or(f64::NAN);
    let others = || others.iter().map(|pid| cpu_seconds_of(*pid).unwrap_or(f64::NAN)).sum::<f64>();
    let window = async {
        tokio::time::sleep(WARM_UP).await;
        let start = (server.cpu_seconds(), client(), others());
        tokio::time::sleep(Duration::from_secs(secs)).await;
        (server.cpu_seconds() - start.0, client() - start.1, others() - start.2)
    };
    let (report, (cpu_seconds, client_cpu_seconds, others_cpu_seconds)) = tokio::join!(load, window);
    Measured { report, cpu_seconds, client_cpu_seconds, others_cpu_seconds }
}

/// POSTs a form and reads the answer; true on 2xx.
pub async fn post_ok(http: &reqwest::Client, url: &str, body: String) -> bool {
    match http.post(url).header("content-type", "application/x-www-form-urlencoded").body(body).send().await {
        Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
        _ => false,
    }
}
