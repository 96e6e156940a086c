//! Running for real: metrics and readiness, a Redis outage (at start and mid-run, with recovery
//! and no restart), and two instances sharing PostgreSQL and Redis behaving as one shop.

use serde_json::Value;
use std::time::{Duration, Instant};
use testkit::{post, RedisServer, TestServer};

async fn some_product(s: &TestServer) -> (i64, String) {
    sqlx::query_as(
        "SELECT id, slug FROM products WHERE option1_name = '' AND stock > 50 AND active = 1 ORDER BY id LIMIT 1",
    )
    .fetch_one(s.state.db.read())
    .await
    .unwrap()
}

async fn readyz(http: &reqwest::Client, s: &TestServer) -> (u16, Value) {
    let res = http.get(s.url("/readyz")).send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_and_readiness_are_exposed() {
    let t = testkit::sqlite().await;
    let redis = RedisServer::start();
    let token = "metrics-token-for-the-test";
    let s = testkit::spawn_with(&t.url, Some(&redis.url()), &[("METRICS_TOKEN", token)]).await;
    let http = testkit::browser();
    let (id, slug) = some_product(&s).await;
    assert_eq!(http.get(s.url(&format!("/p/{slug}"))).send().await.unwrap().status().as_u16(), 200);
    assert_eq!(post(&http, &s, "/api/cart/add", &format!("product_id={id}&quantity=1")).await.0, 200);
    let other_build = http.get(s.url("/assets/0123456789abcdef/shop.wasm")).send().await.unwrap();
    assert_eq!(other_build.status().as_u16(), 404);
    let (status, body) = readyz(&http, &s).await;
    assert_eq!((status, body["database"].as_str(), body["redis"].as_str()), (200, Some("ok"), Some("ok")));

    let res = http.get(s.url("/metrics")).bearer_auth(token).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = res.text().await.unwrap();
    for needle in [
        // By route pattern, never by raw path.
        r#"shop_http_request_duration_seconds_bucket{kind="page",route="/p/{slug}",method="GET",status="200""#,
        r#"shop_http_request_duration_seconds_bucket{kind="server_fn",route="/api/cart/add",method="POST",status="200""#,
        r#"shop_http_request_duration_seconds_bucket{kind="asset",route="/assets/{fingerprint}/{*file}",method="GET",status="404""#,
        r#"shop_cart_operations_total{op="add",outcome="ok"}"#,
        r#"shop_db_pool_connections{state="in_use"}"#,
        "shop_redis_circuit_open 0",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
    assert!(!text.contains(&format!("/p/{slug}")), "no per-product labels");
    assert!(!text.contains("0123456789abcdef"), "no per-file labels");
}

/// A form POST from a browser that accepts compressed answers: (Content-Encoding, body length).
async fn post_compressible(
    http: &reqwest::Client,
    s: &TestServer,
    path: &str,
    body: String,
) -> (Option<String>, usize) {
    let res = http
        .post(s.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept-encoding", "gzip, br")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let encoding = res.headers().get("content-encoding").map(|v| v.to_str().unwrap().to_string());
    (encoding, res.bytes().await.unwrap().len())
}

/// Compression costs CPU on every answer: small answers go as they are (they arrive in the same
/// round trip either way), large JSON and pages are compressed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn answers_are_compressed_only_where_it_pays() {
    let t = testkit::sqlite().await;
    let s = testkit::spawn(&t.url, None).await;
    let http = testkit::browser();
    let ids = testkit::products_in_stock(&s, 24).await;
    assert_eq!(ids.len(), 24);
    let (encoding, len) =
        post_compressible(&http, &s, "/api/cart/add", format!("product_id={}&quantity=1", ids[0].0)).await;
    assert!(len < 1400, "a one-line cart answer is small ({len} bytes)");
    assert_eq!(encoding, None, "a small answer is sent as it is");
    // A typical cart (five lines) arrives in one round trip either way: not worth the encoder.
    for (id, _) in &ids[1..5] {
        post_compressible(&http, &s, "/api/cart/add", format!("product_id={id}&quantity=1")).await;
    }
    let (encoding, len) = post_compressible(&http, &s, "/api/cart", String::new()).await;
    assert!(len > 1400, "a five-line cart answer is over one segment ({len} bytes)");
    assert_eq!(encoding, None, "a five-line cart answer is sent as it is");
    for (id, _) in &ids[5..] {
        post_compressible(&http, &s, "/api/cart/add", format!("product_id={id}&quantity=1")).await;
    }
    let plain = post(&http, &s, "/api/cart", "").await.1.to_string().len();
    assert!(plain > 4096, "a 24-line cart answer is larger ({plain} bytes)");
    let (encoding, len) = post_compressible(&http, &s, "/api/cart", String::new()).await;
    assert_eq!(encoding.as_deref(), Some("br"));
    assert!(len * 2 < plain, "compressed to {len} of {plain} bytes");

    let (_, slug) = some_product(&s).await;
    let res = http.get(s.url(&format!("/p/{slug}"))).header("accept-encoding", "gzip, br").send().await.unwrap();
    assert_eq!(res.headers().get("content-encoding").map(|v| v.to_str().unwrap()), Some("br"));
    assert!(res.headers().get("vary").is_some_and(|v| v.to_str().unwrap().contains("accept-encoding")));

    // What Chromium and Firefox send: they get zstd, which costs the server a quarter of brotli's
    // time on a page for about 5% more bytes.
    let chrome = "gzip, deflate, br, zstd";
    let page = http.get(s.url(&format!("/p/{slug}"))).send().await.unwrap().bytes().await.unwrap();
    let res = http.get(s.url(&format!("/p/{slug}"))).header("accept-encoding", chrome).send().await.unwrap();
    assert_eq!(res.headers().get("content-encoding").map(|v| v.to_str().unwrap()), Some("zstd"));
    let body = res.bytes().await.unwrap();
    let html = String::from_utf8(zstd::decode_all(&body[..]).unwrap()).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.ends_with("</script>"), "a whole page");
    assert!(html.contains(&slug), "the product's page");
    assert!(body.len() * 3 < page.len(), "compressed to {} of {} bytes", body.len(), page.len());
    let res = http
        .post(s.url("/api/cart"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept-encoding", chrome)
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers().get("content-encoding").map(|v| v.to_str().unwrap()), Some("zstd"));
    let cart: Value = serde_json::from_slice(&zstd::decode_all(&res.bytes().await.unwrap()[..]).unwrap()).unwrap();
    assert_eq!(cart, post(&http, &s, "/api/cart", "").await.1, "the large cart answer, whole");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redis_outage_keeps_the_catalogue_up_and_heals_itself() {
    let t = testkit::postgres().await;
    let mut redis = RedisServer::start();
    let s = testkit::spawn(&t.url, Some(&redis.url())).await;
    let http = testkit::browser();
    let (id, slug) = some_product(&s).await;
    assert_eq!(post(&http, &s, "/api/cart/add", &format!("product_id={id}&quantity=2")).await.0, 200);

    redis.stop();
    // Catalogue pages still render (first visits and returning guests alike).
    for path in ["/".to_string(), format!("/p/{slug}"), "/c/kitchen".into(), "/search?q=lamp".into()] {
        let res = http.get(s.url(&path)).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200, "{path} during the outage");
    }
    // Cart operations fail fast with a clear 503, never a 500.
    for _ in 0..5 {
        let started = Instant::now();
        let (status, body) = post(&http, &s, "/api/cart/add", &format!("product_id={id}&quantity=1")).await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["error"], "unavailable");
        assert!(!body["message"].as_str().unwrap().is_empty());
        assert!(started.elapsed() < Duration::from_secs(3), "fails fast: {:?}", started.elapsed());
    }
    let (status, body) = readyz(&http, &s).await;
    assert_eq!((status, body["redis"].as_str()), (200, Some("unreachable")), "{body}");

    // Redis comes back (empty: it kept nothing). No restart: the breaker closes by itself, and the
    // browser's copy restores the cart.
    redis.start_again();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = post(&http, &s, "/api/cart", "").await;
        if status == 200 {
            assert_eq!(body["lines"].as_array().unwrap().len(), 0, "Redis lost the guest cart");
            break;
        }
        assert!(Instant::now() < deadline, "cart still unavailable 20 s after Redis returned: {status} {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, cart) = post(
        &http,
        &s,
        "/api/cart/restore",
        &format!("lines=%5B%7B%22product_id%22%3A{id}%2C%22quantity%22%3A2%7D%5D"),
    )
    .await;
    assert_eq!(status, 200, "{cart}");
    assert_eq!(cart["lines"][0]["quantity"], 2);
    assert_eq!(readyz(&http, &s).await.1["redis"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_shop_starts_without_redis_and_uses_it_once_it_appears() {
    let t = testkit::sqlite().await;
    let mut redis = RedisServer::start();
    redis.stop();
    let s = testkit::spawn(&t.url, Some(&redis.url())).await;
    let http = testkit::browser();
    let (id, slug) = some_product(&s).await;
    assert_eq!(http.get(s.url(&format!("/p/{slug}"))).send().await.unwrap().status().as_u16(), 200);
    let (status, body) = post(&http, &s, "/api/cart/add", &format!("product_id={id}&quantity=1")).await;
    assert_eq!(status, 503, "{body}");
    redis.start_again();
    let deadline = Instant::now() + Duration::from_secs(20);
    while post(&http, &s, "/api/cart/add", &format!("product_id={id}&quantity=1")).await.0 != 200 {
        assert!(Instant::now() < deadline, "Redis never picked up");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_one_database_and_redis_are_one_shop() {
    let t = testkit::postgres().await;
    let redis = RedisServer::start();
    let a = testkit::spawn(&t.url, Some(&redis.url())).await;
    let b = testkit::spawn(&t.url, Some(&redis.url())).await;
    // One browser, talking to both (cookies are per host, not per port, as behind a balancer).
    let http = testkit::browser();
    let (id, _) = some_product(&a).await;
    assert_eq!(post(&http, &a, "/api/cart/add", &format!("product_id={id}&quantity=3")).await.0, 200);
    let (status, cart) = post(&http, &b, "/api/cart", "").await;
    assert_eq!(status, 200);
    assert_eq!(cart["lines"][0]["quantity"], 3, "B serves the session and cart made on A: {cart}");
    // Sign up on B: the merged cart is visible on A.
    let (status, _) = post(&http, &b, "/api/auth/register", "email=fleet%40example.com&password=longenough").await;
    assert_eq!(status, 200);
    let (_, me) = post(&http, &a, "/api/auth/me", "").await;
    assert_eq!(me["email"], "fleet@example.com");
    assert_eq!(post(&http, &a, "/api/cart/set", &format!("product_id={id}&quantity=5")).await.0, 200);
    let (_, cart) = post(&http, &b, "/api/cart", "").await;
    assert_eq!(cart["lines"][0]["quantity"], 5);
    assert_eq!(cart["guest"], false);
}

/// Opens `/events/cart` as `http` and waits up to `within` for a `cart` event.
struct CartStream(reqwest::Response);

impl CartStream {
    async fn open(http: &reqwest::Client, s: &TestServer) -> CartStream {
        let res = http.get(s.url("/events/cart")).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200);
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
        CartStream(res)
    }

    async fn next_cart_event(&mut self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.0.chunk()).await {
                Ok(Ok(Some(chunk))) => {
                    if String::from_utf8_lossy(&chunk).contains("event: cart") {
                        return true;
                    }
                }
                _ => return false,
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn open_pages_hear_about_their_cart_within_a_second() {
    let t = testkit::sqlite().await;
    let s = testkit::spawn(&t.url, None).await;
    let (id, _) = some_product(&s).await;
    let shopper = testkit::browser();
    assert_eq!(post(&shopper, &s, "/api/cart/add", &format!("product_id={id}&quantity=1")).await.0, 200);
    let mut page = CartStream::open(&shopper, &s).await;
    // Another tab of the same browser changes the cart.
    let started = Instant::now();
    assert_eq!(post(&shopper, &s, "/api/cart/set", &format!("product_id={id}&quantity=4")).await.0, 200);
    assert!(page.next_cart_event(Duration::from_secs(1)).await, "no event within a second");
    assert!(started.elapsed() < Duration::from_secs(1));
    // Someone else's cart is none of this page's business.
    let other = testkit::browser();
    assert_eq!(post(&other, &s, "/api/cart/add", &format!("product_id={id}&quantity=1")).await.0, 200);
    assert!(!page.next_cart_event(Duration::from_millis(500)).await, "heard another shopper's cart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_change_through_one_instance_reaches_pages_on_the_other() {
    let t = testkit::postgres().await;
    let redis = RedisServer::start();
    let a = testkit::spawn(&t.url, Some(&redis.url())).await;
    let b = testkit::spawn(&t.url, Some(&redis.url())).await;
    let (id, _) = some_product(&a).await;
    let http = testkit::browser();
    let (status, _) = post(&http, &a, "/api/auth/register", "email=live%40example.com&password=longenough").await;
    assert_eq!(status, 200);
    let mut page_on_b = CartStream::open(&http, &b).await;
    // Give the stream a moment to subscribe before the change is published.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(post(&http, &a, "/api/cart/add", &format!("product_id={id}&quantity=2")).await.0, 200);
    assert!(page_on_b.next_cart_event(Duration::from_secs(1)).await, "B's page did not hear A's change");
    let (_, cart) = post(&http, &b, "/api/cart", "").await;
    assert_eq!(cart["lines"][0]["quantity"], 2);
}

/// The database restarting (every connection cut, new ones refused for a while): `/readyz` says so
/// while it lasts, requests that need the database answer 503 rather than 500, and the pool
/// reconnects by itself when it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_restart_is_reported_and_survived() {
    let t = testkit::postgres().await;
    let host_port = t.url.split('@').nth(1).and_then(|rest| rest.split('/').next()).unwrap();
    let pg = std::net::ToSocketAddrs::to_socket_addrs(host_port).unwrap().next().unwrap();
    let mut proxy = testkit::TcpProxy::start(pg).await;
    let through_proxy = t.url.replace(host_port, &format!("127.0.0.1:{}", proxy.port));
    let s = testkit::spawn(&through_proxy, None).await;
    let http = testkit::browser();
    let (id, _) = some_product(&s).await;
    assert_eq!(post(&http, &s, "/api/cart/add", &format!("product_id={id}&quantity=1")).await.0, 200);
    assert_eq!(readyz(&http, &s).await.0, 200);

    proxy.stop().await;
    let (status, body) = readyz(&http, &s).await;
    assert_eq!((status, body["database"].as_str()), (503, Some("unreachable")), "{body}");
    let (status, body) = post(&http, &s, "/api/cart/add", &format!("product_id={id}&quantity=1")).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "unavailable");

    proxy.start_again().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while readyz(&http, &s).await.0 != 200 {
        assert!(Instant::now() < deadline, "/readyz still failing 20 s after the database returned");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, cart) = post(&http, &s, "/api/cart/add", &format!("product_id={id}&quantity=1")).await;
    assert_eq!(status, 200, "{cart}");
    assert_eq!(cart["lines"][0]["quantity"], 2, "the cart from before the outage is intact: {cart}");
}

/// The pages name the client code and styles by their content, and those files are served for a
/// year without revalidation; another build's name is a 404, never this build's files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_files_are_named_by_content_and_kept_for_a_year() {
    let site = tempfile::tempdir().unwrap();
    let pkg = site.path().join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    let files = [("shop.js", "export default function(){}"), ("shop.wasm", "\0asm wasm"), ("shop.css", "body{}")];
    for (name, body) in files {
        std::fs::write(pkg.join(name), body).unwrap();
    }
    let t = testkit::sqlite().await;
    let root = site.path().to_str().unwrap();
    let s = testkit::spawn_with(&t.url, None, &[("LEPTOS_SITE_ROOT", root)]).await;
    let http = testkit::browser();
    let page = http.get(s.url("/")).send().await.unwrap();
    assert_eq!(page.headers()["cache-control"], "private, no-cache", "pages are not kept");
    let html = page.text().await.unwrap();
    let folder = html.split("\"/assets/").nth(1).and_then(|rest| rest.split('/').next()).expect("an /assets/ URL");
    assert_eq!(folder.len(), 16, "a fingerprint: {folder}");
    assert!(!html.contains("/pkg/"), "every asset is named by its fingerprint");
    for (name, body) in files {
        let url = format!("/assets/{folder}/{name}");
        assert!(html.contains(&url), "the page names {url}");
        let res = http.get(s.url(&url)).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200, "{url}");
        assert_eq!(res.headers()["cache-control"], "public, max-age=31536000, immutable", "{url}");
        if name.ends_with(".wasm") {
            assert_eq!(res.headers()["content-type"], "application/wasm", "browsers compile it as it streams");
        }
        assert_eq!(res.text().await.unwrap(), body, "{url}");
        // Compressed once after start, at brotli's best: a browser that accepts it gets that copy.
        let mut compressed = None;
        for _ in 0..100 {
            let res = http.get(s.url(&url)).header("accept-encoding", "gzip, br").send().await.unwrap();
            if res.headers().get("content-encoding").is_some_and(|v| v == "br") {
                assert_eq!(res.headers()["cache-control"], "public, max-age=31536000, immutable");
                assert!(res.headers()["vary"].to_str().unwrap().contains("accept-encoding"));
                compressed = Some(res.bytes().await.unwrap());
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let compressed = compressed.expect("a brotli copy within five seconds");
        let mut decoded = String::new();
        std::io::Read::read_to_string(&mut brotli::Decompressor::new(&compressed[..], 4096), &mut decoded).unwrap();
        assert_eq!(decoded, body, "{url}");
    }
    for wrong in [
        "/assets/0123456789abcdef/shop.js".to_string(),
        format!("/assets/{folder}/missing.js"),
        format!("/assets/{folder}/%2e%2e/pkg/shop.js"),
        format!("/assets/{folder}/shop.d.ts"),
        format!("/assets/{folder}x/shop.js"),
    ] {
        let res = http.get(s.url(&wrong)).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 404, "{wrong}");
        assert_eq!(res.headers()["cache-control"], "no-store", "{wrong}");
    }

    // Files rebuilt on disk while a server runs are not served under its fingerprint: it serves
    // the bytes it took that fingerprint of.
    std::fs::write(pkg.join("shop.wasm"), "\0asm wasm, rebuilt").unwrap();
    let res = http.get(s.url(&format!("/assets/{folder}/shop.wasm"))).send().await.unwrap();
    assert_eq!(res.text().await.unwrap(), "\0asm wasm");

    // A new build (another site root, as a deploy gives a new process) is another name, and the
    // old name is not served there.
    let site2 = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(site2.path().join("pkg")).unwrap();
    for (name, _) in files {
        std::fs::copy(pkg.join(name), site2.path().join("pkg").join(name)).unwrap();
    }
    let s2 = testkit::spawn_with(&t.url, None, &[("LEPTOS_SITE_ROOT", site2.path().to_str().unwrap())]).await;
    let html2 = http.get(s2.url("/")).send().await.unwrap().text().await.unwrap();
    let folder2 = html2.split("\"/assets/").nth(1).and_then(|rest| rest.split('/').next()).unwrap();
    assert_ne!(folder2, folder);
    let old = http.get(s2.url(&format!("/assets/{folder}/shop.wasm"))).send().await.unwrap();
    assert_eq!(old.status().as_u16(), 404, "another build's name");
    let new = http.get(s2.url(&format!("/assets/{folder2}/shop.wasm"))).send().await.unwrap();
    assert_eq!(new.text().await.unwrap(), "\0asm wasm, rebuilt");
}
