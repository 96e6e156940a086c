//! Category page throughput against the same bytes from a plain axum handler.
//!
//! Starts the real shop (fresh SQLite database, demo catalogue) and a bare axum server that
//! returns the category page's bytes, then loads each with 64 connections and prints the figures
//! and ratios. The shop is measured twice: as a first-time visitor sees it (no session: served
//! from the page cache after the first render) and as a shopper with a cart sees it (rendered
//! every time: session, cart badge, SSR). Run:
//! `cargo run --release -p tools --bin bench-catalog -- [seconds] [connections]`.

use axum::{response::Html, routing::get, Router};
use std::time::Duration;
use tools::{bench, loadgen};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let (secs, conns) = bench::args(64);
    let dir = tempfile::tempdir().expect("tempdir");
    let shop = bench::start_shop(&dir, None).await;
    let path = "/c/kitchen?sort=price_asc";
    let http = loadgen::client();
    let page = http.get(shop.url(path)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Kitchen"), "the category page renders");
    let bytes = page.len();

    let plain = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let plain_addr = plain.local_addr().unwrap();
    let body: &'static str = Box::leak(page.into_boxed_str());
    let plain_app = Router::new().route("/c/kitchen", get(move || async move { Html(body) }));
    tokio::spawn(async move { axum::serve(plain, plain_app).await.unwrap() });

    println!("category page: {bytes} bytes, {conns} connections, {secs} s each (after a 2 s warm-up)");
    let (warm, dur) = (Duration::from_secs(2), Duration::from_secs(secs));
    let get = |label: &'static str, http: reqwest::Client, url: String| {
        loadgen::run(label, conns, warm, dur, move |_, _| {
            let (http, url) = (http.clone(), url.clone());
            async move { loadgen::get_ok(&http, &url).await }
        })
    };
    let visitor = get("shop, new visitor (page cache)", http.clone(), shop.url(path)).await;
    println!("{}", visitor.line());
    let shopper_http = bench::shopper(&shop).await;
    let shopper = get("shop, shopper with a cart (SSR)", shopper_http, shop.url(path)).await;
    println!("{}", shopper.line());
    let plain = get("plain axum handler, same bytes", http, format!("http://{plain_addr}{path}")).await;
    println!("{}", plain.line());
    println!(
        "ratio to the plain handler: {:.0}% for new visitors, {:.0}% rendered for a shopper with a session",
        100.0 * visitor.rps() / plain.rps(),
        100.0 * shopper.rps() / plain.rps()
    );
}
