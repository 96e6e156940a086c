//! Recommendation latency per context (home, product page, cart) through `/api/recommendations`,
//! for shoppers with a browsing history, on SQLite by default or `BENCH_DATABASE_URL`.
//! Run: `cargo run --release -p tools --bin bench-recs -- [seconds] [connections]`.

use std::sync::Arc;
use std::time::Duration;
use tools::{bench, loadgen};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let (secs, connections) = bench::args(16);
    let dir = tempfile::tempdir().expect("tempdir");
    let shop = bench::start_shop(&dir, None).await;
    let products = app::services::recs::recompute(&shop.state).await.expect("recompute");
    let slugs: Vec<(i64, String)> = sqlx::query_as("SELECT id, slug FROM products WHERE active = 1 ORDER BY id")
        .fetch_all(shop.state.db.read())
        .await
        .unwrap();
    // Each shopper has an anonymous id, a few product views and a line in the cart.
    let mut shoppers = Vec::with_capacity(connections);
    for w in 0..connections {
        let http = bench::shopper(&shop.origin()).await;
        let _ = loadgen::get_ok(&http, &shop.url("/")).await;
        for k in 0..4 {
            let (_, slug) = &slugs[(w * 37 + k * 11) % slugs.len()];
            let _ = loadgen::get_ok(&http, &shop.url(&format!("/p/{slug}"))).await;
        }
        shoppers.push(http);
    }
    shop.state.events.flush().await;
    let shoppers = Arc::new(shoppers);
    let ids: Arc<Vec<i64>> = Arc::new(slugs.iter().map(|(id, _)| *id).collect());
    println!("neighbours for {products} products; {connections} shoppers with history, {secs} s per context after 2 s warm-up");
    for context in ["home", "product", "cart"] {
        let (shoppers, ids, url) = (shoppers.clone(), ids.clone(), shop.url("/api/recommendations"));
        let report = loadgen::run(
            &format!("recommendations: {context}"),
            connections,
            Duration::from_secs(2),
            Duration::from_secs(secs),
            move |w, i| {
                let (shoppers, ids, url) = (shoppers.clone(), ids.clone(), url.clone());
                async move {
                    let ctx = match context {
                        "product" => format!("product:{}", ids[(w * 13 + i as usize) % ids.len()]),
                        other => other.to_string(),
                    };
                    bench::post_ok(&shoppers[w], &url, format!("context={ctx}")).await
                }
            },
        )
        .await;
        println!("{}", report.line());
    }
    println!("over-budget fallbacks are counted in shop_recommendation_fallbacks_total (see /metrics)");
}
