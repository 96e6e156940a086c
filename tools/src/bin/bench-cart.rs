//! Add-to-cart and cart-read throughput, latency and the server's CPU time per request, with
//! guest carts in the SQL store (embedded SQLite) and in the Redis store (a redis-server started
//! here). The server is the real `server` binary in its own process, so its CPU time (from
//! `/proc/<pid>/stat`) is told apart from the load generator's; the two share the machine's
//! cores. Each store runs three times: on every core; with the server held to one core; and with
//! the server, the load generator and redis-server all held to that one core. The last is the
//! fair baseline for "does it scale with cores" on a machine the load generator shares: with the
//! server alone held, the load generator gets the other core to itself in the baseline but has
//! to share both in the all-cores step.
//! Run: `cargo build --release -p server -p tools && target/release/bench-cart [seconds] [shoppers]`
//! (or `cargo run --release -p tools --bin bench-cart -- ...` after building the server).
//! With `BENCH_PROMOTIONS=1` two automatic promotions run throughout (10% off one category and
//! free shipping over $50), so every cart answer is priced with them. `BENCH_STORE=sqlite|redis`
//! and `BENCH_CORES=all|one|shared` run only those steps (for profiling one of them).

use tools::bench;
use tools::server_process::{hold_to_first_core, Cores, ServerProcess};

/// Each shopper adds this many lines, then leaves and a new one (a new session) starts.
const LINES_PER_CART: u64 = 5;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let (secs, shoppers) = bench::args(64);
    let redis = testkit::RedisServer::try_start().ok();
    if redis.is_none() {
        eprintln!("redis-server not found: measuring the SQL store only");
    }
    let mut setups: Vec<(&str, Option<String>)> = vec![("SQLite", None)];
    if let Some(r) = &redis {
        setups.push(("Redis", Some(r.url())));
    }
    let redis_pid: Vec<u32> = redis.as_ref().and_then(|r| r.pid()).into_iter().collect();
    let only = |var: &str, value: &str| std::env::var(var).map_or(true, |v| v.eq_ignore_ascii_case(value));
    setups.retain(|(store, _)| only("BENCH_STORE", store));
    let core_steps: Vec<Cores> = [(Cores::All, "all"), (Cores::One, "one"), (Cores::Shared, "shared")]
        .into_iter()
        .filter(|(_, name)| only("BENCH_CORES", name))
        .map(|(c, _)| c)
        .collect();
    let promotions = std::env::var("BENCH_PROMOTIONS").is_ok_and(|v| v == "1");
    println!(
        "{shoppers} shoppers at a time, each adding {LINES_PER_CART} lines and leaving; {secs} s per step after a {} s \
         warm-up{}; server in its own process",
        bench::WARM_UP.as_secs(),
        if promotions { ", 2 promotions" } else { "" }
    );
    let mut rows = Vec::new();
    for (store, redis_url) in &setups {
        let dir = tempfile::tempdir().expect("tempdir");
        let db_url = testkit::sqlite_url(&dir, "bench.db");
        // The first start seeds the demo catalogue; the second finds it there.
        for &cores in &core_steps {
            let mut env = vec![("DATABASE_URL", db_url.as_str()), ("SEED_DEMO", "true")];
            if let Some(r) = redis_url {
                env.push(("REDIS_URL", r.as_str()));
            }
            let server = match ServerProcess::start(&env, cores).await {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("{e}");
                    std::process::exit(1);
                }
            };
            let db = app::storage::db::Db::connect(&db_url, 2).await.expect("database");
            if promotions && cores == core_steps[0] {
                bench::add_automatic_promotions(&db).await;
            }
            let ids = bench::simple_products(db.read()).await;
            db.close().await;
            let load = bench::CartLoad::at(&server.url(""), ids, shoppers, Some(LINES_PER_CART));
            let label = format!("{store}, {}", cores.name());
            let others: &[u32] = if redis_url.is_some() { &redis_pid } else { &[] };
            let held: Vec<u32> = std::iter::once(std::process::id()).chain(others.iter().copied()).collect();
            if cores == Cores::Shared {
                hold_to_first_core(&held, true).expect("taskset");
            }
            let add = bench::measure(&server, others, secs, load.add(&label, secs)).await;
            println!("{}", add.line());
            let read = bench::measure(&server, others, secs, load.read(&label, secs)).await;
            println!("{}", read.line());
            if cores == Cores::Shared {
                hold_to_first_core(&held, false).expect("taskset");
            }
            rows.push((store.to_string(), cores, add, read));
        }
    }
    println!();
    println!(
        "| store | cores | add req/s | add p50 / p99 | add CPU/req | read req/s | read p50 / p99 | read CPU/req | \
         machine busy during adds (server + load generator + redis-server, cores) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (store, cores, add, read) in &rows {
        println!(
            "| {store} | {} | {:.0} | {:.1} / {:.1} ms | {:.3} ms | {:.0} | {:.1} / {:.1} ms | {:.3} ms | {:.2} + {:.2} + {:.2} |",
            cores.name(),
            add.report.rps(),
            add.report.p50_ms,
            add.report.p99_ms,
            add.cpu_ms_per_request(),
            read.report.rps(),
            read.report.p50_ms,
            read.report.p99_ms,
            read.cpu_ms_per_request(),
            add.cores(),
            add.client_cores(),
            add.others_cores(),
        );
    }
    for (store, _, _, _) in rows.iter().filter(|r| r.1 == Cores::All) {
        let rps = |cores: Cores, add: bool| {
            rows.iter()
                .find(|r| &r.0 == store && r.1 == cores)
                .map(|r| if add { r.2.report.rps() } else { r.3.report.rps() })
                .unwrap_or(f64::NAN)
        };
        println!(
            "{store}: all cores / server on one core = {:.2}x (add), {:.2}x (read); \
             all cores / everything on one core = {:.2}x (add), {:.2}x (read)",
            rps(Cores::All, true) / rps(Cores::One, true),
            rps(Cores::All, false) / rps(Cores::One, false),
            rps(Cores::All, true) / rps(Cores::Shared, true),
            rps(Cores::All, false) / rps(Cores::Shared, false)
        );
    }
}
