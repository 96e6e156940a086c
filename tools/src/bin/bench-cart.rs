//! Add-to-cart and cart-read throughput and latency at 64 concurrent sessions, with guest carts
//! in the SQL store (embedded SQLite) and in the Redis store (a redis-server started here).
//! Run: `cargo run --release -p tools --bin bench-cart -- [seconds] [sessions]`.

use std::time::Duration;
use tools::{bench, loadgen};

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
    println!("{sessions} sessions, {secs} s per step after a 2 s warm-up");
    for (label, redis_url) in setups {
        let dir = tempfile::tempdir().expect("tempdir");
        let shop = bench::start_shop(&dir, redis_url.as_deref()).await;
        let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM products WHERE stock >= 99 AND active = 1 LIMIT 40")
            .fetch_all(shop.state.db.read())
            .await
            .expect("products");
        let mut clients = Vec::with_capacity(sessions);
        for _ in 0..sessions {
            clients.push(bench::shopper(&shop).await);
        }
        let (warm, dur) = (Duration::from_secs(2), Duration::from_secs(secs));
        let add_url = shop.url("/api/cart/add");
        let add = loadgen::run(&format!("{label}: add to cart"), sessions, warm, dur, {
            let (clients, ids) = (clients.clone(), ids.clone());
            move |worker, i| {
                let http = clients[worker].clone();
                let (url, pid) = (add_url.clone(), ids[(i as usize + worker) % ids.len()]);
                async move { bench::post_ok(&http, &url, format!("product_id={pid}&quantity=1")).await }
            }
        })
        .await;
        println!("{}", add.line());
        let read_url = shop.url("/api/cart");
        let read = loadgen::run(&format!("{label}: read cart"), sessions, warm, dur, move |worker, _| {
            let http = clients[worker].clone();
            let url = read_url.clone();
            async move { bench::post_ok(&http, &url, String::new()).await }
        })
        .await;
        println!("{}", read.line());
    }
}
