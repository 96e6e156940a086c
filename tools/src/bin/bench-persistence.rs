//! The three cart persistence strategies side by side on PostgreSQL + Redis (a database and a
//! redis-server of their own): add-to-cart and cart-read throughput and latency, the database
//! transactions each costs, and what a Redis crash could lose at the end of the run.
//! Run: `cargo run --release -p tools --bin bench-persistence -- [seconds] [sessions]`
//! (`TEST_DATABASE_URL` names the PostgreSQL server, as for the tests).

use testkit::{Backend, RedisServer, TestServer};
use tools::bench;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Committed transactions in the shop's database so far (PostgreSQL's own count).
async fn commits(shop: &TestServer) -> i64 {
    sqlx::query_scalar("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
        .fetch_one(shop.state.db.read())
        .await
        .expect("pg_stat_database")
}

#[tokio::main]
async fn main() {
    let (secs, sessions) = bench::args(64);
    println!("{sessions} sessions, {secs} s per step after a 2 s warm-up, PostgreSQL + Redis, CART_FLUSH_IDLE_SECS=30");
    println!("| strategy | add req/s | add p50 | add p99 | read p99 | DB transactions per 1,000 adds | carts only in Redis at the end |");
    println!("|---|---|---|---|---|---|---|");
    for strategy in ["database", "write-through", "write-behind"] {
        let db = testkit::database(Backend::Postgres).await;
        let redis = RedisServer::start();
        let extra = [("CART_PERSISTENCE", strategy), ("CART_FLUSH_IDLE_SECS", "30")];
        let shop = testkit::spawn_with(&db.url, Some(&redis.url()), &extra).await;
        // The background work a real instance runs, the write-behind flusher among it.
        let repairs = server::tasks::spawn_repairs(shop.state.clone());
        let load = bench::CartLoad::new(&shop, sessions).await;
        let before = commits(&shop).await;
        let add = load.add(strategy, secs).await;
        // The warm-up's adds count too: it is the database's work per add that matters.
        let tx = commits(&shop).await - before;
        let adds = add.requests as f64 * (bench::WARM_UP.as_secs_f64() + secs as f64) / secs as f64;
        let read = load.read(strategy, secs).await;
        let exposed = shop.state.carts.unflushed().await.unwrap_or(0);
        eprintln!("{}\n{}", add.line(), read.line());
        println!(
            "| {strategy} | {:.0} | {:.2} ms | {:.2} ms | {:.2} ms | {:.0} | {exposed} |",
            add.rps(),
            add.p50_ms,
            add.p99_ms,
            read.p99_ms,
            tx as f64 * 1000.0 / adds.max(1.0),
        );
        repairs.abort();
    }
}
