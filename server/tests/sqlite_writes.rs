//! SQLite writes from every part of the shop at once: new browsers (sessions), product views
//! (events), sign-ups, sign-ins and sign-outs (users, sessions, rate limits) and cart edits, all
//! in parallel on the embedded default. Every answer must be a success and nothing may log
//! "database is locked": SQLite has one writer, and every write queues for it in the shop.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use testkit::{setup_with, Kind, TestServer};

/// Shoppers at the same time, and how many times each goes round the whole journey.
const SHOPPERS: usize = 16;
const ROUNDS: usize = 3;
/// Shoppers who also sign up, in and out each round. Few enough that password hashing (one slot
/// on a two-core machine, 503 past a 10 s wait by design) is never what fails here.
const SIGNING_IN: usize = 6;
const PASSWORD: &str = "correct+horse+battery";

/// Everything the shop logs at WARN and above while the test runs.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn captured_logs() -> Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Captured::default();
        let writer = logs.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        logs
    })
    .clone()
}

/// A browser from an address of its own (the shop trusts `X-Forwarded-For` in this test), so the
/// per-address sign-in limits see many shoppers rather than one.
fn shopper(n: usize) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-forwarded-for", format!("10.9.{}.{}", n / 250, n % 250 + 1).parse().unwrap());
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Posts a form; the step, the status and the body for the report.
async fn step(http: &reqwest::Client, s: &TestServer, path: &str, body: String) -> (String, u16, String) {
    match http.post(s.url(path)).header("content-type", "application/x-www-form-urlencoded").body(body).send().await {
        Ok(res) => {
            let status = res.status().as_u16();
            (path.to_string(), status, res.text().await.unwrap_or_default())
        }
        Err(e) => (path.to_string(), 0, e.to_string()),
    }
}

/// One shopper's journeys: browse (events), fill a guest cart (a new session), sign up or in
/// (users, rate limits, session cycling, the cart merge; the first `SIGNING_IN` shoppers), edit
/// the cart, sign out.
async fn journey(s: &TestServer, n: usize, products: &[(i64, String)]) -> Vec<(String, u16, String)> {
    let http = shopper(n);
    let email = format!("hammer{n}-{}%40example.com", rand::random::<u32>());
    let mut answers = Vec::new();
    for round in 0..ROUNDS {
        for k in 0..4 {
            let (id, slug) = &products[(n * 7 + round * 3 + k) % products.len()];
            answers.push(step(&http, s, "/api/catalog/product", format!("slug={slug}")).await);
            answers.push(step(&http, s, "/api/cart/add", format!("product_id={id}&quantity=1")).await);
        }
        answers.push(step(&http, s, "/api/recommendations", "context=home".into()).await);
        let account = n < SIGNING_IN;
        if account {
            let auth = if round == 0 { "/api/auth/register" } else { "/api/auth/login" };
            answers.push(step(&http, s, auth, format!("email={email}&password={PASSWORD}")).await);
        }
        let (id, slug) = &products[(n + round) % products.len()];
        answers.push(step(&http, s, "/api/catalog/product", format!("slug={slug}")).await);
        answers.push(step(&http, s, "/api/cart/set", format!("product_id={id}&quantity=2")).await);
        answers.push(step(&http, s, "/api/cart/remove", format!("product_id={id}")).await);
        if account {
            answers.push(step(&http, s, "/api/auth/logout", String::new()).await);
        }
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sessions_events_sign_ins_and_carts_together_never_lock_sqlite() {
    let logs = captured_logs();
    let t = setup_with(Kind::Embedded, &[("TRUST_PROXY", "true")]).await;
    let s = Arc::new(t.server);
    let products: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id, slug FROM products WHERE option1_name = '' AND active = 1 AND stock >= 100 ORDER BY id LIMIT 24",
    )
    .fetch_all(s.state.db.read())
    .await
    .unwrap();
    assert!(products.len() >= 8, "the seed has products with stock");
    let products = Arc::new(products);
    let events_before: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM events").fetch_one(s.state.db.read()).await.unwrap();

    let started = std::time::Instant::now();
    let tasks: Vec<_> = (0..SHOPPERS)
        .map(|n| {
            let (s, products) = (s.clone(), products.clone());
            tokio::spawn(async move { journey(&s, n, &products).await })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.extend(task.await.unwrap());
    }
    s.state.events.flush().await;
    let elapsed = started.elapsed();

    let failed: Vec<_> = answers.iter().filter(|(_, status, _)| *status != 200).collect();
    assert!(
        failed.is_empty(),
        "{} of {} requests failed: {:?}",
        failed.len(),
        answers.len(),
        &failed[..failed.len().min(10)]
    );
    let logged = String::from_utf8_lossy(&logs.0.lock().unwrap()).to_string();
    for bad in ["database is locked", "database table is locked", "SQLITE_BUSY", "could not write events"] {
        assert!(!logged.contains(bad), "the shop logged {bad:?} under concurrent writes:\n{logged}");
    }
    let events_after: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM events").fetch_one(s.state.db.read()).await.unwrap();
    assert!(events_after > events_before, "the views were recorded");
    let accounts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE email LIKE 'hammer%'")
        .fetch_one(s.state.db.read())
        .await
        .unwrap();
    assert_eq!(accounts, SIGNING_IN as i64, "every sign-up made its account");
    eprintln!("{} requests from {SHOPPERS} shoppers in {elapsed:?}", answers.len());
}
