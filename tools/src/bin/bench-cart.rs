//! Add-to-cart and cart-read throughput and latency at 64 concurrent sessions, with guest carts
//! in the SQL store (embedded SQLite) and in the Redis store (a redis-server started here).
//! Run: `cargo run --release -p tools --bin bench-cart -- [seconds] [sessions]`.
//! With `BENCH_PROMOTIONS=1` two automatic promotions run throughout (10% off one category and
//! free shipping over $50), so every cart answer is priced with them.

use tools::bench;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let (secs, sessions) = bench::args(64);
    let redis = testkit::RedisServer::try_start().ok();
    if redis.is_none() {
        eprintln!("redis-server not found: measuring the SQL store only");
    }
    let mut setups: Vec<(&str, Option<String>)> = vec![("SQL store (SQLite)", None)];
    if let Some(r) = &redis {
        setups.push(("Redis store", Some(r.url())));
    }
    let promotions = if std::env::var("BENCH_PROMOTIONS").is_ok_and(|v| v == "1") { ", 2 promotions" } else { "" };
    println!("{sessions} sessions, {secs} s per step after a 2 s warm-up{promotions}");
    for (label, redis_url) in setups {
        let dir = tempfile::tempdir().expect("tempdir");
        let shop = bench::start_shop(&dir, redis_url.as_deref()).await;
        if std::env::var("BENCH_PROMOTIONS").is_ok_and(|v| v == "1") {
            bench::add_automatic_promotions(&shop).await;
        }
        let load = bench::CartLoad::new(&shop, sessions).await;
        println!("{}", load.add(&shop, label, secs).await.line());
        let read = load.read(&shop, label, secs).await;
        println!("{}", read.line());
    }
}
