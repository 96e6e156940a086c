//! The load test: N shoppers walk the whole journey (browse, view a product, add to cart, view
//! the cart, sign in and merge, check out) and it prints requests/s and p50/p95/p99 per step.
//!
//! `scripts/load embedded` starts the embedded default (one process, SQLite, no Redis);
//! `scripts/load cluster` starts two processes sharing a fresh PostgreSQL database and a Redis,
//! with requests alternating between them. `--target URL` (repeatable) drives a shop already
//! running instead; it registers accounts and places orders there, so point it at a test copy.
//! Exits non-zero on any error or if add-to-cart p99 misses `--p99-target-ms`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tools::journey::{self, Plan, Target};
use tools::loadgen;

const USAGE: &str = "usage: loadtest [embedded|cluster] [--target URL]... [--shoppers N] [--secs S]
                [--warmup S] [--think-ms MS] [--p99-target-ms MS]
  embedded   one shop process on a fresh SQLite file (the default)
  cluster    two shop processes on a fresh PostgreSQL database (LOADTEST_DATABASE_URL, an admin
             connection, default postgres://postgres:postgres@127.0.0.1:5432/postgres) and a
             Redis of their own; requests alternate between them
  --target   drive a running shop instead (repeat for several instances)
  defaults: 200 shoppers, 30 s measured after 10 s of warm-up, 1000 ms pauses between steps
            (drawn from 500 to 1500 ms), add-to-cart p99 target 50 ms";

struct Args {
    setup: String,
    targets: Vec<String>,
    plan: Plan,
    p99_target_ms: f64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        setup: "embedded".into(),
        targets: vec![],
        plan: Plan {
            shoppers: 200,
            warmup: Duration::from_secs(10),
            duration: Duration::from_secs(30),
            think: Duration::from_millis(1000),
        },
        p99_target_ms: 50.0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        let number = |name: &str, v: String| v.parse::<u64>().map_err(|_| format!("{name}: a whole number, not {v:?}"));
        match arg.as_str() {
            "embedded" | "cluster" => args.setup = arg,
            "--target" => args.targets.push(value("--target")?),
            "--shoppers" => args.plan.shoppers = number("--shoppers", value("--shoppers")?)?.max(1) as usize,
            "--secs" => args.plan.duration = Duration::from_secs(number("--secs", value("--secs")?)?.max(1)),
            "--warmup" => args.plan.warmup = Duration::from_secs(number("--warmup", value("--warmup")?)?),
            "--think-ms" => args.plan.think = Duration::from_millis(number("--think-ms", value("--think-ms")?)?),
            "--p99-target-ms" => args.p99_target_ms = number("--p99-target-ms", value("--p99-target-ms")?)? as f64,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(args)
}

/// A shop process of our own, killed when dropped.
struct Instance {
    child: Child,
    base: String,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_instance(
    db_url: &str,
    redis_url: Option<&str>,
    secret: &str,
    log: &std::path::Path,
) -> Result<Instance, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?.with_file_name("server");
    if !exe.exists() {
        return Err(format!("{} is missing: build it first (scripts/load does)", exe.display()));
    }
    let port =
        std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
    let log_file = std::fs::File::create(log).map_err(|e| e.to_string())?;
    let mut cmd = Command::new(&exe);
    cmd.env("SHOP_ADDR", format!("127.0.0.1:{port}"))
        .env("DATABASE_URL", db_url)
        .env("COOKIE_SECRET", secret)
        .env("SEED_DEMO", "false")
        // Shoppers say who they are with X-Forwarded-For (see journey.rs): 200 people, not one
        // address hitting the per-address sign-in limits.
        .env("TRUST_PROXY", "true")
        .env("RUST_LOG", "warn")
        .env_remove("REDIS_URL")
        .stdout(Stdio::null())
        .stderr(log_file);
    if let Some(url) = redis_url {
        cmd.env("REDIS_URL", url);
    }
    let child = cmd.spawn().map_err(|e| format!("{}: {e}", exe.display()))?;
    let instance = Instance { child, base: format!("http://127.0.0.1:{port}") };
    let http = loadgen::client();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !loadgen::get_ok(&http, &format!("{}/readyz", instance.base)).await {
        if Instant::now() > deadline {
            let tail = std::fs::read_to_string(log).unwrap_or_default();
            return Err(format!("the shop did not become ready within 60 s; its log:\n{tail}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(instance)
}

/// Migrates and seeds a fresh database, with stock enough that shoppers never sell out.
async fn prepare_database(url: &str) -> Result<(), String> {
    let db = testkit::prepare_database(url, 2).await?;
    // Carts and checkout read the variants' stock; listings the products'.
    for sql in ["UPDATE variants SET stock = 1000000", "UPDATE products SET stock = 1000000 WHERE active = 1"] {
        sqlx::query(sql)
            .execute(&mut *db.write().await.map_err(|e| e.to_string())?)
            .await
            .map_err(|e| e.to_string())?;
    }
    db.close().await;
    Ok(())
}

/// What the run is against, and what to tear down afterwards.
struct Setup {
    description: String,
    instances: Vec<Instance>,
    _redis: Option<testkit::RedisServer>,
    dir: tempfile::TempDir,
    /// (admin connection, database name) of a PostgreSQL database to drop at the end.
    drop_database: Option<(String, String)>,
}

async fn set_up(args: &Args) -> Result<Setup, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let secret: String = (0..64).map(|_| format!("{:x}", rand::random::<u8>() % 16)).collect();
    if !args.targets.is_empty() {
        return Ok(Setup {
            description: format!("{} running instance(s): {}", args.targets.len(), args.targets.join(", ")),
            instances: vec![],
            _redis: None,
            dir,
            drop_database: None,
        });
    }
    if args.setup == "embedded" {
        let url = testkit::sqlite_url(&dir, "shop.db");
        prepare_database(&url).await?;
        let instance = start_instance(&url, None, &secret, &dir.path().join("shop.log")).await?;
        return Ok(Setup {
            description: "the embedded default: one process, SQLite, no Redis".into(),
            instances: vec![instance],
            _redis: None,
            dir,
            drop_database: None,
        });
    }
    let admin_url = std::env::var("LOADTEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/postgres".into());
    let name = format!("shop_load_{}", std::process::id());
    let url = testkit::create_postgres_database(&admin_url, &name).await?;
    let mut setup = Setup {
        description: "two processes sharing PostgreSQL and Redis, requests alternating between them".into(),
        instances: vec![],
        _redis: None,
        dir,
        drop_database: Some((admin_url.clone(), name)),
    };
    match start_cluster(&mut setup, &url, &secret).await {
        Ok(()) => Ok(setup),
        Err(e) => {
            tear_down(setup).await;
            Err(e)
        }
    }
}

async fn start_cluster(setup: &mut Setup, url: &str, secret: &str) -> Result<(), String> {
    prepare_database(url).await?;
    let redis = testkit::RedisServer::try_start().map_err(|e| format!("could not start redis-server: {e}"))?;
    for i in 0..2 {
        let log = setup.dir.path().join(format!("shop-{i}.log"));
        setup.instances.push(start_instance(url, Some(&redis.url()), secret, &log).await?);
    }
    setup._redis = Some(redis);
    Ok(())
}

async fn tear_down(mut setup: Setup) {
    setup.instances.clear();
    if let Some((admin_url, name)) = setup.drop_database.take() {
        testkit::drop_postgres_database(&admin_url, &name).await;
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::from(2);
        }
    };
    let setup = match set_up(&args).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("set-up failed: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let bases = if args.targets.is_empty() {
        setup.instances.iter().map(|i| i.base.clone()).collect()
    } else {
        args.targets.clone()
    };
    let result = drive(&args, &setup.description, Target::new(bases)).await;
    tear_down(setup).await;
    match result {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("{e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Runs the plan and prints the figures; whether the run met its target without errors.
async fn drive(args: &Args, description: &str, target: Target) -> Result<bool, String> {
    let plan = args.plan;
    let catalogue = target.discover().await?;
    let run = format!("{}-{}", std::process::id(), app::storage::db::now_ms());
    let accounts = target.register(plan.shoppers, &run).await?;
    println!("against {description}");
    println!(
        "{} shoppers, {} categories, {} products; pauses of {} ms on average; {} s measured after {} s of warm-up",
        plan.shoppers,
        catalogue.categories.len(),
        catalogue.products.len(),
        plan.think.as_millis(),
        plan.duration.as_secs(),
        plan.warmup.as_secs()
    );
    let outcome = journey::run(&target, &catalogue, &accounts, plan).await;
    for step in &outcome.steps {
        println!("{}", step.line());
    }
    let total: u64 = outcome.steps.iter().map(|s| s.requests).sum();
    println!(
        "{total} requests ({:.0}/s), {} journeys completed ({:.1} orders/s), {} errors",
        total as f64 / plan.duration.as_secs_f64(),
        outcome.journeys,
        outcome.journeys as f64 / plan.duration.as_secs_f64(),
        outcome.errors()
    );
    for e in &outcome.sample_errors {
        println!("  error: {e}");
    }
    let (p99, measured) = (outcome.add_to_cart().p99_ms, outcome.add_to_cart().requests);
    if measured == 0 {
        println!("no add-to-cart was measured: run longer (--secs) or with shorter pauses (--think-ms)");
    }
    let met = measured > 0 && p99 < args.p99_target_ms && outcome.errors() == 0;
    println!(
        "target: add to cart p99 < {} ms with no errors: {} (p99 {p99:.2} ms)",
        args.p99_target_ms,
        if met { "met" } else { "NOT met" }
    );
    Ok(met)
}
