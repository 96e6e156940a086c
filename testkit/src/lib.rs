//! Test harness: real databases (a fresh SQLite file, a fresh PostgreSQL database), a real
//! redis-server on a free port, proxies that fail on demand, and the real router served over
//! TCP. The server's integration tests (`server/tests`) and the benchmarks and load test
//! (`tools`) share it.

use app::config::Config;
use app::state::AppState;
use app::storage::db::Db;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Shared by every test server, so instances can read each other's sessions like a real fleet.
pub const TEST_COOKIE_SECRET: &str = "test-secret-test-secret-test-secret-test-secret-test-secret-0123456789";
pub const PG_DEFAULT: &str = "postgres://postgres:postgres@127.0.0.1:5432/postgres";

/// Which database a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestDb {
    pub db: Db,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

pub async fn database(backend: Backend) -> TestDb {
    match backend {
        Backend::Sqlite => sqlite().await,
        Backend::Postgres => postgres().await,
    }
}

/// A migrated, seeded SQLite database in a temporary folder.
pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = sqlite_url(&dir, "shop.db");
    let db = prepare_database(&url, 8).await.unwrap_or_else(|e| panic!("sqlite: {e}"));
    TestDb { db, url, _dir: Some(dir) }
}

/// The URL of SQLite database `file` in `dir` (created on first connection).
pub fn sqlite_url(dir: &tempfile::TempDir, file: &str) -> String {
    format!("sqlite://{}/{file}", dir.path().display())
}

/// A fresh, migrated, seeded PostgreSQL database (`TEST_DATABASE_URL` is the admin connection).
pub async fn postgres() -> TestDb {
    let admin_url = std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| PG_DEFAULT.to_string());
    let admin = Db::connect(&admin_url, 1)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL is required for these tests (TEST_DATABASE_URL={admin_url}): {e}"));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    drop_stale_databases(&admin, now).await;
    admin.close().await;
    let name = format!("shop_test_{now}_{:08x}", rand::random::<u32>());
    let url = create_postgres_database(&admin_url, &name).await.expect("create database");
    let db = prepare_database(&url, 16).await.unwrap_or_else(|e| panic!("postgres: {e}"));
    TestDb { db, url, _dir: None }
}

/// Connects to `url` with up to `connections` connections, migrates and seeds the demo catalogue
/// (the database must have no products yet).
pub async fn prepare_database(url: &str, connections: u32) -> Result<Db, String> {
    let db = Db::connect(url, connections).await.map_err(|e| format!("connect: {e}"))?;
    db.migrate().await.map_err(|e| format!("migrate: {e}"))?;
    server::seed::seed(&db).await.map_err(|e| format!("seed: {e}"))?;
    Ok(db)
}

/// Creates an empty database `name` (dropped first if it exists) on the PostgreSQL server of
/// `admin_url`, an administrator's connection; the new database's URL.
pub async fn create_postgres_database(admin_url: &str, name: &str) -> Result<String, String> {
    let admin = Db::connect(admin_url, 1).await.map_err(|e| format!("{admin_url}: {e}"))?;
    let result = async {
        let mut conn = admin.write().await?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name}")).execute(&mut *conn).await?;
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut *conn).await
    }
    .await;
    admin.close().await;
    result.map_err(|e| e.to_string())?;
    let base = admin_url.rsplit_once('/').map(|(b, _)| b).unwrap_or(admin_url);
    Ok(format!("{base}/{name}"))
}

/// Drops database `name`, closing its connections first (best effort).
pub async fn drop_postgres_database(admin_url: &str, name: &str) {
    if let Ok(admin) = Db::connect(admin_url, 1).await {
        if let Ok(mut conn) = admin.write().await {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut *conn).await;
        }
        admin.close().await;
    }
}

/// Test databases older than two hours are leftovers of runs that died: drop them.
async fn drop_stale_databases(admin: &Db, now: u64) {
    let names: Vec<String> = sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'shop_test_%'")
        .fetch_all(admin.read())
        .await
        .unwrap_or_default();
    for name in names {
        let created = name.split('_').nth(2).and_then(|s| s.parse::<u64>().ok()).unwrap_or(now);
        if now.saturating_sub(created) > 7200 {
            if let Ok(mut conn) = admin.write().await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name}")).execute(&mut *conn).await;
            }
        }
    }
}

/// A redis-server of our own on a free port, killed when dropped. `stop` and `start` simulate an
/// outage on the same port.
pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
    /// Persisting with an append-only file, fsynced every second (what production runs).
    aof: bool,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        RedisServer::try_start().unwrap_or_else(|e| panic!("{e}"))
    }

    /// `start` for callers that can do without Redis (the benchmarks): an error if
    /// redis-server is missing or does not start.
    pub fn try_start() -> Result<RedisServer, String> {
        let port = free_port();
        let dir = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
        let mut server = RedisServer { port, child: None, dir, aof: false };
        server.launch()?;
        Ok(server)
    }

    /// A server that keeps its data in an append-only file fsynced every second, as production
    /// Redis runs: `stop` (SIGKILL) then `start_again` loads what reached the file.
    pub fn start_with_aof() -> RedisServer {
        let port = free_port();
        let dir = tempfile::tempdir().expect("tempdir");
        let mut server = RedisServer { port, child: None, dir, aof: true };
        server.launch().unwrap_or_else(|e| panic!("{e}"));
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The redis-server process, while it runs (the benchmarks read its CPU time).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes the server (SIGSTOP): connections stay open but nothing is answered, as a Redis
    /// stuck on a slow disk or a full network looks to the shop.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        let ok = Command::new("kill").args([sig, &pid]).status().expect("kill").success();
        assert!(ok, "kill {sig} {pid}");
    }

    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "already running");
        self.launch().unwrap_or_else(|e| panic!("{e}"));
    }

    fn launch(&mut self) -> Result<(), String> {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .args(if self.aof {
                ["--appendonly", "yes", "--appendfsync", "everysec"]
            } else {
                ["--appendonly", "no", "--appendfsync", "no"]
            })
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("redis-server must be installed (scripts/test installs it): {e}"))?;
        self.child = Some(child);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if std::time::Instant::now() >= deadline {
                self.stop();
                return Err("redis-server did not start".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            // Continue a paused server first, so it goes away at once.
            let _ = Command::new("kill").args(["-CONT", &child.id().to_string()]).status();
        }
        self.stop();
    }
}

/// Which Redis commands a `RedisProxy` answers with an error instead of forwarding: it gets the
/// command and its arguments (`["EVALSHA", sha, "1", key, ...]`).
pub type DropRule = Box<dyn Fn(&[String]) -> bool + Send + Sync>;

/// A TCP proxy in front of a real redis-server that understands RESP and can make chosen
/// commands fail (it answers `-ERR dropped by the test proxy` instead of forwarding them), as a
/// Redis that failed one step looks to the shop. Everything else reaches the real server.
pub struct RedisProxy {
    pub port: u16,
    rule: std::sync::Arc<std::sync::Mutex<Option<DropRule>>>,
    dropped: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl RedisProxy {
    pub async fn start(target_port: u16) -> RedisProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let rule: std::sync::Arc<std::sync::Mutex<Option<DropRule>>> = Default::default();
        let dropped = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (r, d) = (rule.clone(), dropped.clone());
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((client, _)) = listener.accept().await else { continue };
                let (rule, dropped) = (r.clone(), d.clone());
                connections.spawn(async move {
                    if let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", target_port)).await {
                        let _ = resp_proxy::relay(client, server, rule, dropped).await;
                    }
                });
            }
        });
        RedisProxy { port, rule, dropped, task }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// From now on, commands for which `rule` is true fail.
    pub fn fail_when(&self, rule: impl Fn(&[String]) -> bool + Send + Sync + 'static) {
        *self.rule.lock().unwrap() = Some(Box::new(rule));
    }

    /// Every command is forwarded again.
    pub fn heal(&self) {
        *self.rule.lock().unwrap() = None;
    }

    /// How many commands were made to fail so far.
    pub fn dropped(&self) -> usize {
        self.dropped.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for RedisProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `EVALSHA` of the script `sha` (on any key).
pub fn is_script(args: &[String], sha: &str) -> bool {
    args.first().is_some_and(|c| c.eq_ignore_ascii_case("evalsha")) && args.get(1).is_some_and(|s| s == sha)
}

/// A command whose first key starts with `prefix` (for `EVALSHA`/`EVAL`, the first key after the
/// key count; otherwise the first argument).
pub fn on_key(args: &[String], prefix: &str) -> bool {
    let key = match args.first().map(|c| c.to_ascii_uppercase()).as_deref() {
        Some("EVALSHA") | Some("EVAL") => args.get(3),
        _ => args.get(1),
    };
    key.is_some_and(|k| k.starts_with(prefix))
}

mod resp_proxy {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpStream;

    type Rule = Arc<Mutex<Option<super::DropRule>>>;

    /// One RESP value, read whole; returns its raw bytes (and, for a command, its strings).
    async fn read_value<R: tokio::io::AsyncBufRead + Unpin>(
        r: &mut R,
        raw: &mut Vec<u8>,
        strings: &mut Vec<String>,
    ) -> std::io::Result<()> {
        let mut line = Vec::new();
        if r.read_until(b'\n', &mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        raw.extend_from_slice(&line);
        let head = line[0];
        let text = String::from_utf8_lossy(&line[1..]).trim_end().to_string();
        match head {
            b'$' | b'=' | b'!' => {
                let n: i64 = text.parse().unwrap_or(-1);
                if n >= 0 {
                    let mut buf = vec![0u8; n as usize + 2];
                    r.read_exact(&mut buf).await?;
                    raw.extend_from_slice(&buf);
                    strings.push(String::from_utf8_lossy(&buf[..n as usize]).to_string());
                }
            }
            b'*' | b'~' | b'>' => {
                for _ in 0..text.parse::<i64>().unwrap_or(0).max(0) {
                    Box::pin(read_value(r, raw, strings)).await?;
                }
            }
            b'%' | b'|' => {
                for _ in 0..text.parse::<i64>().unwrap_or(0).max(0) * 2 {
                    Box::pin(read_value(r, raw, strings)).await?;
                }
            }
            _ => strings.push(text),
        }
        Ok(())
    }

    pub async fn relay(
        client: TcpStream,
        server: TcpStream,
        rule: Rule,
        dropped: Arc<AtomicUsize>,
    ) -> std::io::Result<()> {
        let (client_read, mut client_write) = client.into_split();
        let (server_read, mut server_write) = server.into_split();
        let (mut from_client, mut from_server) = (BufReader::new(client_read), BufReader::new(server_read));
        loop {
            let (mut raw, mut args) = (Vec::new(), Vec::new());
            read_value(&mut from_client, &mut raw, &mut args).await?;
            let verb = args.first().map(|a| a.to_ascii_uppercase()).unwrap_or_default();
            if verb.ends_with("SUBSCRIBE") {
                // Pub/sub: from here on the connection is a plain pipe.
                server_write.write_all(&raw).await?;
                let up = tokio::io::copy(&mut from_client, &mut server_write);
                let down = tokio::io::copy(&mut from_server, &mut client_write);
                let _ = tokio::join!(up, down);
                return Ok(());
            }
            let drop_it = rule.lock().unwrap().as_ref().is_some_and(|r| r(&args));
            if drop_it {
                dropped.fetch_add(1, Ordering::SeqCst);
                client_write.write_all(b"-ERR dropped by the test proxy\r\n").await?;
                continue;
            }
            server_write.write_all(&raw).await?;
            let (mut reply, mut _strings) = (Vec::new(), Vec::new());
            read_value(&mut from_server, &mut reply, &mut _strings).await?;
            client_write.write_all(&reply).await?;
        }
    }
}

/// Counts panics anywhere in this test process (handlers run in it), so a test can assert that
/// hostile input panicked nothing, even where a panic was caught and answered.
pub fn panic_counter() -> &'static std::sync::atomic::AtomicUsize {
    static COUNT: std::sync::OnceLock<&'static std::sync::atomic::AtomicUsize> = std::sync::OnceLock::new();
    COUNT.get_or_init(|| {
        let count: &'static std::sync::atomic::AtomicUsize =
            Box::leak(Box::new(std::sync::atomic::AtomicUsize::new(0)));
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            previous(info);
        }));
        count
    })
}

/// This process's resident memory, in bytes (Linux).
pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

/// A real failure inside the SQL merge: writing `product_id` (a product without options: its
/// variant has its id) into an account cart raises.
pub async fn install_merge_failure(s: &TestServer, backend: Backend, product_id: i64) {
    let mut conn = s.state.db.write().await.unwrap();
    match backend {
        Backend::Sqlite => {
            sqlx::query(&format!(
                "CREATE TRIGGER fail_merge BEFORE INSERT ON cart_items WHEN NEW.variant_id = {product_id} \
                 AND NEW.cart_id IN (SELECT id FROM carts WHERE owner LIKE 'u:%') \
                 BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
            ))
            .execute(&mut *conn)
            .await
            .unwrap();
        }
        Backend::Postgres => {
            sqlx::query(&format!(
                "CREATE FUNCTION fail_merge() RETURNS trigger AS $$ BEGIN \
                 IF NEW.variant_id = {product_id} AND EXISTS (SELECT 1 FROM carts WHERE id = NEW.cart_id AND owner LIKE 'u:%') \
                 THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
            ))
            .execute(&mut *conn)
            .await
            .unwrap();
            sqlx::query(
                "CREATE TRIGGER fail_merge BEFORE INSERT ON cart_items FOR EACH ROW EXECUTE FUNCTION fail_merge()",
            )
            .execute(&mut *conn)
            .await
            .unwrap();
        }
    }
}

pub async fn remove_merge_failure(s: &TestServer, backend: Backend) {
    let mut conn = s.state.db.write().await.unwrap();
    match backend {
        Backend::Sqlite => {
            sqlx::query("DROP TRIGGER fail_merge").execute(&mut *conn).await.unwrap();
        }
        Backend::Postgres => {
            sqlx::query("DROP TRIGGER fail_merge ON cart_items").execute(&mut *conn).await.unwrap();
            sqlx::query("DROP FUNCTION fail_merge()").execute(&mut *conn).await.unwrap();
        }
    }
}

/// A TCP proxy in front of a real server (PostgreSQL): `stop` cuts every connection and refuses
/// new ones, as a database restart looks to the shop; `start_again` serves the same port again.
pub struct TcpProxy {
    pub port: u16,
    target: SocketAddr,
    running: Option<tokio::task::JoinHandle<()>>,
}

impl TcpProxy {
    pub async fn start(target: SocketAddr) -> TcpProxy {
        let mut proxy = TcpProxy { port: free_port(), target, running: None };
        proxy.start_again().await;
        proxy
    }

    pub async fn start_again(&mut self) {
        assert!(self.running.is_none(), "already running");
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await.expect("proxy port");
        let target = self.target;
        self.running = Some(tokio::spawn(async move {
            // Connections live in this set, so aborting the task drops (closes) all of them.
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else { continue };
                connections.spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        }));
    }

    pub async fn stop(&mut self) {
        if let Some(task) = self.running.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        if let Some(task) = self.running.take() {
            task.abort();
        }
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Builds a `Config` as the server would read it from the environment.
pub fn config(pairs: &[(&str, &str)]) -> Config {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Config::from_lookup(|k| map.get(k).cloned()).expect("valid test config")
}

/// The real router on a real socket.
pub struct TestServer {
    pub addr: SocketAddr,
    pub state: AppState,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a server on a free port with the given database and optional Redis.
pub async fn spawn(db_url: &str, redis_url: Option<&str>) -> TestServer {
    spawn_with(db_url, redis_url, &[]).await
}

pub async fn spawn_with(db_url: &str, redis_url: Option<&str>, extra: &[(&str, &str)]) -> TestServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let addr_s = addr.to_string();
    let origin = format!("http://{addr}");
    let mut pairs: Vec<(&str, &str)> = vec![
        ("SHOP_ADDR", &addr_s),
        ("DATABASE_URL", db_url),
        ("SHOP_ORIGINS", &origin),
        ("SEED_DEMO", "false"),
        ("COOKIE_SECRET", TEST_COOKIE_SECRET),
    ];
    if let Some(r) = redis_url {
        pairs.push(("REDIS_URL", r));
    }
    pairs.extend_from_slice(extra);
    let cfg = config(&pairs);
    let state = server::startup::build_state(cfg).await.expect("build state");
    let app = server::http::router::build(state.clone()).expect("router");
    let task = tokio::spawn(async move {
        axum::serve(server::http::router::no_delay(listener), app.into_make_service_with_connect_info::<SocketAddr>())
            .await
            .unwrap();
    });
    TestServer { addr, state, task }
}

/// The checkout summary this browser gets now (200 expected), whose `quote` placing confirms.
pub async fn checkout_summary(http: &reqwest::Client, s: &TestServer) -> serde_json::Value {
    let (status, summary) = post(http, s, "/api/checkout/summary", "").await;
    assert_eq!(status, 200, "{summary}");
    summary
}

/// `n` products on sale with at least 20 in stock: (id, price in cents).
pub async fn products_in_stock(s: &TestServer, n: usize) -> Vec<(i64, i64)> {
    sqlx::query_as::<_, (i64, i64)>(
        "SELECT id, price_cents FROM products WHERE option1_name = '' AND active = 1 AND stock >= 20 ORDER BY id LIMIT $1",
    )
    .bind(n as i64)
    .fetch_all(s.state.db.read())
    .await
    .unwrap()
}

/// A product's stock in the database.
pub async fn stock(s: &TestServer, id: i64) -> i64 {
    sqlx::query_scalar("SELECT stock FROM products WHERE id = $1").bind(id).fetch_one(s.state.db.read()).await.unwrap()
}

/// A fresh idempotency key, like the one the checkout summary hands out.
pub fn new_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The place-order form for `key` and `quote`, with a valid address in `city` (form-encoded), in
/// the United States: the country checkout summaries are priced for until the shopper picks one.
pub fn checkout_form(key: &str, quote: &str, email: &str, city: &str) -> String {
    format!(
        "idempotency_key={key}&quote={quote}&email={email}&name=Ann+Lee&line1=1+Main+St&line2=&city={city}&postcode=AB1+2CD&country=US"
    )
}

/// The session id a response sets in the `sid` cookie, if any.
pub fn sid_from(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("sid="))
        .map(|c| c.split(';').next().unwrap_or_default().trim_start_matches("sid=").to_string())
}

/// An HTTP client with its own cookie jar: one browser.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        // A hung request fails the test instead of hanging the run.
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A form POST as a browser sends it; the status and the body.
async fn post_form(http: &reqwest::Client, s: &TestServer, path: &str, body: &str) -> (u16, String) {
    let res = http
        .post(s.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.text().await.unwrap())
}

/// A form POST; the status and the JSON answer (null if not JSON).
pub async fn post(http: &reqwest::Client, s: &TestServer, path: &str, body: &str) -> (u16, serde_json::Value) {
    let (status, text) = post_form(http, s, path, body).await;
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
}

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "correct horse battery";

/// A browser signed in as a new administrator of `s`.
pub async fn admin_browser(s: &TestServer) -> reqwest::Client {
    app::services::auth::create_admin(&s.state, ADMIN_EMAIL, ADMIN_PASSWORD.into()).await.unwrap();
    let http = browser();
    let form = format!("email={ADMIN_EMAIL}&password={}", ADMIN_PASSWORD.replace(' ', "+"));
    let (status, body) = post(&http, s, "/api/auth/login", &form).await;
    assert_eq!(status, 200, "{body}");
    http
}

/// A shop as the integration tests run it: the embedded default (SQLite, SQL sessions and
/// carts) or scaled out (PostgreSQL and a Redis of its own).
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Embedded,
    Scaled,
}

pub struct Setup {
    pub server: TestServer,
    pub backend: Backend,
    _db: TestDb,
    pub redis: Option<RedisServer>,
}

pub async fn setup(kind: Kind) -> Setup {
    setup_with(kind, &[]).await
}

/// `setup` with extra settings (`("PAYMENTS_SIMULATE_CAPTURE_FAILURES", "1")`...).
pub async fn setup_with(kind: Kind, extra: &[(&str, &str)]) -> Setup {
    match kind {
        Kind::Embedded => {
            let db = database(Backend::Sqlite).await;
            Setup { server: spawn_with(&db.url, None, extra).await, backend: Backend::Sqlite, _db: db, redis: None }
        }
        Kind::Scaled => {
            let db = database(Backend::Postgres).await;
            let redis = RedisServer::start();
            let server = spawn_with(&db.url, Some(&redis.url()), extra).await;
            Setup { server, backend: Backend::Postgres, _db: db, redis: Some(redis) }
        }
    }
}

/// Declares each listed `async fn name(kind: Kind)` as two tests, `embedded::name` and
/// `redis_postgres::name`. The test file must import `testkit::Kind` (and the macro,
/// `testkit::both_setups`).
#[macro_export]
macro_rules! both_setups {
    ($($name:ident),* $(,)?) => {
        mod embedded { $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $name() { super::$name(super::Kind::Embedded).await } )* }
        mod redis_postgres { $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $name() { super::$name(super::Kind::Scaled).await } )* }
    };
}

/// `post` for endpoints that must answer JSON: a non-JSON answer fails the test.
pub async fn post_json(http: &reqwest::Client, s: &TestServer, path: &str, body: &str) -> (u16, serde_json::Value) {
    let (status, text) = post_form(http, s, path, body).await;
    (status, serde_json::from_str(&text).unwrap_or_else(|_| panic!("{path} answered non-JSON: {text}")))
}
