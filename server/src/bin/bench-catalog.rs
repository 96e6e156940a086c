//! Category page throughput against the same bytes from a plain axum handler.
//!
//! Starts the real shop (fresh SQLite database, demo catalogue) and a bare axum server that
//! returns the category page's bytes, then loads each with 64 connections and prints both and
//! their ratio. Run: `cargo run --release -p server --bin bench-catalog [seconds] [connections]`.

use axum::{response::Html, routing::get, Router};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use server::loadgen;
use std::time::Duration;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let secs: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10);
    let conns: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(64);
    let dir = tempfile::tempdir().expect("tempdir");
    let db_url = std::env::var("BENCH_DATABASE_URL").unwrap_or(format!("sqlite://{}/bench.db", dir.path().display()));

    let shop = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shop_addr = shop.local_addr().unwrap();
    let config = app::config::Config::from_lookup(|k| match k {
        "DATABASE_URL" => Some(db_url.clone()),
        "SHOP_ADDR" => Some(shop_addr.to_string()),
        "REDIS_URL" => std::env::var("BENCH_REDIS_URL").ok(),
        "RUST_LOG" => Some("warn".into()),
        _ => None,
    })
    .expect("config");
    let state = server::startup::build_state(config).await.expect("state");
    tokio::spawn(async move { axum::serve(shop, server::router::build(state).unwrap()).await.unwrap() });

    let path = "/c/kitchen?sort=price_asc";
    let http = loadgen::client();
    let page = http.get(format!("http://{shop_addr}{path}")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Kitchen"), "the category page renders");
    let bytes = page.len();

    let plain = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let plain_addr = plain.local_addr().unwrap();
    let body: &'static str = Box::leak(page.into_boxed_str());
    let plain_app = Router::new().route("/c/kitchen", get(move || async move { Html(body) }));
    tokio::spawn(async move { axum::serve(plain, plain_app).await.unwrap() });

    println!("category page: {bytes} bytes, {conns} connections, {secs} s each (after a 2 s warm-up)");
    let warm = Duration::from_secs(2);
    let dur = Duration::from_secs(secs);
    let shop_url = format!("http://{shop_addr}{path}");
    let shop_report = loadgen::run("shop  GET /c/kitchen (SSR)", conns, warm, dur, move |_, _| {
        let (http, url) = (http.clone(), shop_url.clone());
        async move { loadgen::get_ok(&http, &url).await }
    })
    .await;
    println!("{}", shop_report.line());
    let http = loadgen::client();
    let plain_url = format!("http://{plain_addr}{path}");
    let plain_report = loadgen::run("plain axum handler, same bytes", conns, warm, dur, move |_, _| {
        let (http, url) = (http.clone(), plain_url.clone());
        async move { loadgen::get_ok(&http, &url).await }
    })
    .await;
    println!("{}", plain_report.line());
    println!(
        "ratio: the category page reaches {:.0}% of the plain handler's throughput",
        100.0 * shop_report.rps() / plain_report.rps()
    );
}
