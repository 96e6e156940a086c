//! The load test's shopper journey, run briefly against real servers: every step is exercised
//! and succeeds, and each completed journey is an order in the database. With two instances the
//! requests alternate between them, so sessions, carts and the merge must be shared.

use std::time::Duration;
use tools::journey::{self, Plan, Target};

async fn run_against(servers: &[&testkit::TestServer]) {
    // Plenty of every variant (what carts and checkout read) and so of every product.
    for sql in ["UPDATE variants SET stock = 1000000", "UPDATE products SET stock = 1000000"] {
        sqlx::query(sql).execute(&mut *servers[0].state.db.write().await.unwrap()).await.unwrap();
    }
    for s in servers {
        s.state.catalog.invalidate_all();
    }
    let target = Target::new(servers.iter().map(|s| s.origin()).collect());
    let catalogue = target.discover().await.unwrap();
    assert!(catalogue.products.len() >= 10, "{catalogue:?}");
    let accounts = target.register(4, "test").await.unwrap();
    let plan = Plan { shoppers: 4, warmup: Duration::ZERO, duration: Duration::from_secs(3), think: Duration::ZERO };
    let outcome = journey::run(&target, &catalogue, &accounts, plan).await;
    assert_eq!(outcome.errors(), 0, "{:?}", outcome.sample_errors);
    for step in &outcome.steps {
        assert!(step.requests > 0 && step.p99_ms > 0.0, "{}", step.line());
    }
    assert!(outcome.journeys > 0);
    // Journeys cut short by the end of the run may still have placed their order.
    let orders: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM orders").fetch_one(servers[0].state.db.read()).await.unwrap();
    assert!(orders as u64 >= outcome.journeys, "{orders} orders for {} journeys", outcome.journeys);
    let placed_by_shoppers: i64 =
        sqlx::query_scalar("SELECT COUNT(DISTINCT user_id) FROM orders WHERE user_id IS NOT NULL")
            .fetch_one(servers[0].state.db.read())
            .await
            .unwrap();
    assert_eq!(placed_by_shoppers, 4, "every shopper signed in and ordered from their account");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_journey_runs_against_the_embedded_default() {
    let t = testkit::sqlite().await;
    let s = testkit::spawn(&t.url, None).await;
    run_against(&[&s]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_journey_runs_across_two_instances_sharing_postgres_and_redis() {
    let t = testkit::postgres().await;
    let redis = testkit::RedisServer::start();
    let a = testkit::spawn(&t.url, Some(&redis.url())).await;
    let b = testkit::spawn(&t.url, Some(&redis.url())).await;
    run_against(&[&a, &b]).await;
}
