//! Page rendering: throughput and the server's CPU time per page, against the same bytes from a
//! plain axum handler.
//!
//! Starts the real `server` binary in its own process (fresh SQLite database, demo catalogue), so
//! its CPU time is told apart from this load generator's, and a bare axum server here that returns
//! the category page's bytes. Each is loaded with 64 connections, each saying it accepts
//! compressed answers as a browser does, so the server compresses as it does for shoppers. The
//! shop is measured as a first-time visitor sees the category page (no session: served from the
//! page cache after the first render) and as a shopper with a cart sees the home, category and
//! product pages (rendered every time: session, cart badge, SSR). Run:
//! `cargo build --release -p server -p tools && target/release/bench-catalog [seconds] [connections]`
//! (`SERVER_BIN` names another server binary, to compare two builds with one load generator).

use axum::{response::Html, routing::get, Router};
use std::time::Duration;
use tools::bench;
use tools::loadgen;
use tools::server_process::{Cores, ServerProcess};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CATEGORY: &str = "/c/kitchen?sort=price_asc";

#[tokio::main]
async fn main() {
    let (secs, conns) = bench::args(64);
    let dir = tempfile::tempdir().expect("tempdir");
    let db_url = testkit::sqlite_url(&dir, "bench.db");
    let shop = ServerProcess::start(&[("DATABASE_URL", db_url.as_str()), ("SEED_DEMO", "true")], Cores::All)
        .await
        .unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(1)
        });
    let db = app::storage::db::Db::connect(&db_url, 2).await.expect("database");
    let product: String = sqlx::query_scalar("SELECT slug FROM products WHERE active = 1 ORDER BY id LIMIT 1")
        .fetch_one(db.read())
        .await
        .expect("a product");
    db.close().await;

    let page = loadgen::client().get(shop.url(CATEGORY)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Kitchen"), "the category page renders");
    let bytes = page.len();
    let plain = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let plain_addr = plain.local_addr().unwrap();
    let body: &'static str = Box::leak(page.into_boxed_str());
    let plain_app = Router::new().route("/c/kitchen", get(move || async move { Html(body) }));
    tokio::spawn(async move { axum::serve(plain, plain_app).await.unwrap() });

    println!(
        "category page: {bytes} bytes, {conns} connections, {secs} s each (after a {} s warm-up); server in its own \
         process; every client accepts \"{}\" as Chromium does",
        bench::WARM_UP.as_secs(),
        bench::BROWSER_ACCEPT_ENCODING
    );
    let http = bench::browser_like_client();
    let load = |label: String, http: reqwest::Client, url: String| async move {
        loadgen::run(&label, conns, bench::WARM_UP, Duration::from_secs(secs), move |_, _| {
            let (http, url) = (http.clone(), url.clone());
            async move { loadgen::get_ok(&http, &url).await }
        })
        .await
    };
    let mut measured = Vec::new();
    let visitor = bench::measure(
        &shop,
        &[],
        secs,
        load("category, new visitor (page cache)".into(), http.clone(), shop.url(CATEGORY)),
    )
    .await;
    println!("{}", visitor.line());
    let shopper = bench::shopper(&shop.url("")).await;
    for (name, path) in
        [("home", "/".to_string()), ("category", CATEGORY.to_string()), ("product", format!("/p/{product}"))]
    {
        let m = bench::measure(
            &shop,
            &[],
            secs,
            load(format!("{name}, shopper with a cart (SSR)"), shopper.clone(), shop.url(&path)),
        )
        .await;
        println!("{}", m.line());
        measured.push((name, m));
    }
    let plain = load("plain axum handler, same bytes".into(), http, format!("http://{plain_addr}{CATEGORY}")).await;
    println!("{}", plain.line());

    println!();
    println!("| page | req/s | p50 / p99 | server CPU per page |");
    println!("|---|---|---|---|");
    for (name, m) in std::iter::once(("category, new visitor", &visitor)).chain(measured.iter().map(|(n, m)| (*n, m))) {
        println!(
            "| {name} | {:.0} | {:.1} / {:.1} ms | {:.3} ms |",
            m.report.rps(),
            m.report.p50_ms,
            m.report.p99_ms,
            m.cpu_ms_per_request()
        );
    }
    let category = measured.iter().find(|(name, _)| *name == "category").map(|(_, m)| m).expect("measured");
    println!(
        "ratio to the plain handler: {:.0}% for new visitors, {:.0}% rendered for a shopper with a session",
        100.0 * visitor.report.rps() / plain.rps(),
        100.0 * category.report.rps() / plain.rps()
    );
}
