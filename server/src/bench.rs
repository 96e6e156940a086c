//! Shared set-up for the benchmark binaries in `src/bin/`: a real shop on a free port.

use std::net::SocketAddr;

pub struct BenchShop {
    pub addr: SocketAddr,
    pub state: app::state::AppState,
}

impl BenchShop {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A client with its own session and one item in its cart.
    pub async fn shopper(&self) -> reqwest::Client {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .pool_max_idle_per_host(16)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let res = http
            .post(self.url("/api/cart/add"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("product_id=1&quantity=1")
            .send()
            .await
            .expect("add to cart");
        assert!(res.status().is_success(), "add to cart: {}", res.status());
        http
    }
}

/// The benchmarks' two positional arguments: seconds to measure and concurrent workers.
pub fn args(default_workers: usize) -> (u64, usize) {
    let args: Vec<String> = std::env::args().collect();
    let secs = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10);
    let workers = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(default_workers);
    (secs, workers)
}

/// Starts the shop on SQLite in `dir` (or `BENCH_DATABASE_URL`), with Redis if given.
pub async fn start_shop(dir: &tempfile::TempDir, redis_url: Option<&str>) -> BenchShop {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let db_url =
        std::env::var("BENCH_DATABASE_URL").unwrap_or_else(|_| format!("sqlite://{}/bench.db", dir.path().display()));
    let origin = format!("http://{addr}");
    let config = app::config::Config::from_lookup(|k| match k {
        "DATABASE_URL" => Some(db_url.clone()),
        "SHOP_ADDR" => Some(addr.to_string()),
        "SHOP_ORIGINS" => Some(origin.clone()),
        "REDIS_URL" => redis_url.map(str::to_string),
        "COOKIE_SECRET" => Some("bench-secret-bench-secret-bench-secret-bench-secret-bench-secret-0123".into()),
        _ => None,
    })
    .expect("config");
    let state = crate::startup::build_state(config).await.expect("state");
    let router = crate::http::router::build(state.clone()).expect("router");
    tokio::spawn(async move {
        axum::serve(crate::http::router::no_delay(listener), router.into_make_service_with_connect_info::<SocketAddr>())
            .await
            .expect("serve")
    });
    BenchShop { addr, state }
}

/// A redis-server of the benchmark's own on a free port (killed on drop).
pub struct BenchRedis {
    pub port: u16,
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl BenchRedis {
    pub fn start() -> Option<BenchRedis> {
        let port = std::net::TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
        let dir = tempfile::tempdir().ok()?;
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .ok()?;
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(BenchRedis { port, child, _dir: dir });
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        None
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for BenchRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// POSTs a form and reads the answer; true on 2xx.
pub async fn post_ok(http: &reqwest::Client, url: &str, body: String) -> bool {
    match http.post(url).header("content-type", "application/x-www-form-urlencoded").body(body).send().await {
        Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
        _ => false,
    }
}
