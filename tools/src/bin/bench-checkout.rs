//! Place-order throughput and latency with 16 concurrent buyers (guest checkout: one add to
//! cart and the checkout summary that gives the quote to confirm, then the timed place-order
//! call), on SQLite by default or on the database in `BENCH_DATABASE_URL`. Run: `cargo run --release -p tools --bin bench-checkout -- [seconds] [buyers]`.

use std::time::{Duration, Instant};
use tools::{bench, loadgen};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let (secs, buyers) = bench::args(16);
    let dir = tempfile::tempdir().expect("tempdir");
    let redis = std::env::var("BENCH_REDIS").is_ok().then(|| testkit::RedisServer::try_start().ok()).flatten();
    let shop = bench::start_shop(&dir, redis.as_ref().map(|r| r.url()).as_deref()).await;
    // Enough stock that the run measures ordering, not selling out.
    sqlx::query("UPDATE products SET stock = 10000000")
        .execute(&mut *shop.state.db.write().await.unwrap())
        .await
        .unwrap();
    // The variant is what carts and checkout read (these products have one).
    sqlx::query("UPDATE variants SET stock = 10000000")
        .execute(&mut *shop.state.db.write().await.unwrap())
        .await
        .unwrap();
    shop.state.catalog.invalidate_all();
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM products WHERE option1_name = '' AND active = 1 LIMIT 100")
        .fetch_all(shop.state.db.read())
        .await
        .unwrap();
    let mut clients = Vec::with_capacity(buyers);
    for _ in 0..buyers {
        clients.push(bench::shopper(&shop.origin()).await);
    }
    let (add_url, summary_url, place_url) =
        (shop.url("/api/cart/add"), shop.url("/api/checkout/summary"), shop.url("/api/checkout/place"));
    println!("{buyers} buyers, {secs} s after a 2 s warm-up; each order: one add to cart and the summary (untimed), then place order (timed)");
    let start = Instant::now();
    let (warm_until, end) = (start + Duration::from_secs(2), start + Duration::from_secs(2 + secs));
    let mut tasks = Vec::new();
    for (w, http) in clients.into_iter().enumerate() {
        let (add_url, summary_url, place_url, ids) =
            (add_url.clone(), summary_url.clone(), place_url.clone(), ids.clone());
        tasks.push(tokio::spawn(async move {
            let mut hist = loadgen::new_histogram();
            let (mut errors, mut i) = (0u64, 0usize);
            while Instant::now() < end {
                let pid = ids[(w * 7 + i) % ids.len()];
                i += 1;
                bench::post_ok(&http, &add_url, format!("product_id={pid}&quantity=1")).await;
                let summary: serde_json::Value = match http
                    .post(&summary_url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .send()
                    .await
                {
                    Ok(r) => r.json().await.unwrap_or_default(),
                    Err(_) => serde_json::Value::Null,
                };
                let body = format!(
                    "idempotency_key={}&quote={}&email=bench%40example.com&name=Bench+Buyer&line1=1+Main+St&city=Springfield&postcode=12345&country=US",
                    uuid::Uuid::new_v4(),
                    summary["quote"].as_str().unwrap_or_default()
                );
                let t0 = Instant::now();
                let ok = bench::post_ok(&http, &place_url, body).await;
                if t0 >= warm_until {
                    let _ = hist.record(t0.elapsed().as_micros().max(1) as u64);
                    errors += u64::from(!ok);
                }
            }
            (hist, errors)
        }));
    }
    let mut total = loadgen::new_histogram();
    let mut errors = 0;
    for t in tasks {
        let (h, e) = t.await.unwrap();
        total.add(&h).unwrap();
        errors += e;
    }
    let report = loadgen::report_from("place order", &total, errors, Duration::from_secs(secs));
    println!("{}", report.line());
    let orders: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders").fetch_one(shop.state.db.read()).await.unwrap();
    println!("orders in the database: {orders}");
}
