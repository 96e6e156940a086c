//! Hostile requests, many of them, against the embedded shop and against PostgreSQL + Redis:
//! cookie names spelled every way a parser might read them, encoded and broken redirect targets,
//! line breaks wherever a value could reach a header, huge path parameters, garbage in every
//! cookie, and ten thousand live streams. Every answer is a 4xx or a normal page: no 5xx, no
//! panic (caught or not), and the server's memory grows by less than `MEMORY_BOUND`.
//!
//! One test per file: the memory figure is this process's, so nothing else may run beside it.

use reqwest::header::COOKIE;
use std::sync::atomic::Ordering;
use testkit::{Kind, TestServer};

/// Most the process may grow while serving the whole barrage (caches included).
const MEMORY_BOUND: u64 = 64 * 1024 * 1024;
const STREAMS: usize = 10_000;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .unwrap()
}

/// Sends one request and checks the answer: never a 5xx, never a dropped connection, and no
/// `Location` that leaves the site.
async fn expect_sane(s: &TestServer, req: reqwest::RequestBuilder, what: &str) -> u16 {
    let res = req.send().await.unwrap_or_else(|e| panic!("{what}: no answer ({e})"));
    let status = res.status().as_u16();
    assert!(status < 500, "{what}: {status}");
    if let Some(location) = res.headers().get("location") {
        let location = location.to_str().unwrap_or_else(|_| panic!("{what}: Location is not text"));
        let host = url::Url::parse(&s.origin()).unwrap().join(location).unwrap();
        assert_eq!(host.host_str(), Some("127.0.0.1"), "{what}: Location {location}");
    }
    status
}

async fn barrage(s: &TestServer) {
    let http = client();
    let (pid, slug): (i64, String) = sqlx::query_as(
        "SELECT id, slug FROM products WHERE option1_name = '' AND stock > 10 AND active = 1 ORDER BY id LIMIT 1",
    )
    .fetch_one(s.state.db.read())
    .await
    .unwrap();
    // A session with a cart, to spell its cookie in odd ways.
    let res = http
        .post(s.url("/api/cart/add"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("product_id={pid}&quantity=1"))
        .send()
        .await
        .unwrap();
    let sid = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("sid="))
        .map(|c| c.split(';').next().unwrap()[4..].to_string())
        .unwrap();
    let huge = "x".repeat(30_000);
    let cookies = [
        format!("%73id={sid}"),
        format!(" sid = {sid} "),
        format!("SID={sid}"),
        format!("sid=\"{sid}\""),
        format!("sid={sid}; sid=garbage"),
        format!("sid={huge}"),
        "aid=not-a-real-id; acct=1:2.deadbeef; flash=ok:%0D%0ASet-Cookie:%20x=1".into(),
        "ff.cart_layout=drawer%0D%0Ax; ff.=; ff.nope=1".into(),
        format!("acct={huge}"),
        (0..400).map(|i| format!("c{i}=v")).collect::<Vec<_>>().join("; "),
        "=; ;;; =x; a".into(),
    ];
    for cookie in &cookies {
        for path in ["/", "/cart", "/checkout", "/account", "/c/kitchen"] {
            expect_sane(s, http.get(s.url(path)).header(COOKIE, cookie.as_str()), &format!("GET {path} {cookie:.40}"))
                .await;
        }
        let req = http
            .post(s.url("/api/cart"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header(COOKIE, cookie.as_str());
        expect_sane(s, req, &format!("cart {cookie:.40}")).await;
    }
    // Non-UTF-8 bytes in a cookie header.
    let raw = reqwest::header::HeaderValue::from_bytes(b"sid=\xff\xfe; aid=\xc3\x28").unwrap();
    expect_sane(s, http.get(s.url("/")).header(COOKIE, raw), "binary cookie").await;

    // Redirect targets: encoded, broken, with line breaks; as forms with and without JavaScript.
    let many_slashes = "%2F".repeat(3_000);
    let targets = [
        "%2F%09%2Fevil.example",
        "%2F%5Cevil.example",
        "%2F%2Fevil.example",
        "%0D%0ALocation%3A%20https%3A%2F%2Fevil.example",
        "%2Fok%0ASet-Cookie%3A%20a%3Db",
        "https%3A%2F%2Fevil.example",
        "%E2%80%A8%2F%2Fevil.example",
        "%2F%00",
        many_slashes.as_str(),
    ];
    for next in targets {
        for accept in ["text/html", "application/json"] {
            let req = http
                .post(s.url("/api/auth/login"))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("accept", accept)
                .header("referer", format!("{}/login", s.origin()))
                .body(format!("email=a%40example.com&password=wrong-password&next={next}"));
            expect_sane(s, req, &format!("login next={next:.40}")).await;
            let req = http
                .post(s.url("/api/auth/register"))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("accept", accept)
                .body(format!("email=hostile{}%40example.com&password=long+enough&next={next}", rand::random::<u32>()));
            expect_sane(s, req, &format!("register next={next:.40}")).await;
        }
        expect_sane(s, http.get(s.url(&format!("/login?next={next}"))), "login page").await;
    }
    for referer in ["/\t/evil.example", "/\\evil.example", "\t//evil.example", "\u{0}"] {
        let Ok(value) = reqwest::header::HeaderValue::from_str(&format!("{}{referer}", s.origin())) else { continue };
        let req = http
            .post(s.url("/api/cart/add"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "text/html")
            .header("referer", value)
            .body(format!("product_id={pid}&quantity=1"));
        expect_sane(s, req, &format!("referer {referer:?}")).await;
    }

    // Line breaks and junk wherever a value can travel: paths, queries, headers.
    for path in [
        "/p/%0D%0ASet-Cookie:%20x=1",
        "/c/%0A%0D",
        "/orders/%0D%0A?key=%0D%0A",
        "/search?q=%0D%0A&sort=%0D%0A&page=%0D%0A",
        "/?ff.cart_layout=drawer%0D%0ASet-Cookie:%20x=1",
        "/?ff.%0D%0A=drawer",
        "/search?q=a&page=99999999999999999999999",
        "/admin/experiments/%0D%0A",
    ] {
        expect_sane(s, http.get(s.url(path)), path).await;
    }
    let req = http.get(s.url("/")).header("x-forwarded-for", "1.2.3.4\t, \t999.1.1.1").header("accept", "\t*/*");
    expect_sane(s, req, "forwarded-for junk").await;

    // Huge path parameters are refused before any lookup.
    for path in [
        format!("/p/{huge}"),
        format!("/c/{huge}"),
        format!("/orders/{huge}?key={huge}"),
        format!("/admin/experiments/{huge}"),
        format!("/search?q={huge}"),
        format!("/{huge}"),
    ] {
        expect_sane(s, http.get(s.url(&path)), &path[..20]).await;
    }
    for (endpoint, body) in [
        ("/api/catalog/product", format!("slug={huge}")),
        ("/api/catalog/category", format!("slug={huge}")),
        ("/api/orders/get", format!("id={huge}&key={huge}")),
        ("/api/recommendations", format!("context=product:{huge}")),
        ("/api/cart/add", format!("product_id={huge}&quantity=1")),
        ("/api/admin/orders/capture", format!("id={huge}")),
    ] {
        let req = http.post(s.url(endpoint)).header("content-type", "application/x-www-form-urlencoded").body(body);
        expect_sane(s, req, endpoint).await;
    }
    expect_sane(s, http.get(s.url(&format!("/p/{slug}"))), "a real product still serves").await;
}

/// Ten thousand `/events/cart` requests: without a cart they are turned away at once (204), and
/// one cart cannot hold more than a few streams.
async fn streams(s: &TestServer) {
    let http = client();
    let turned_away = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers: Vec<_> = (0..16)
        .map(|_| {
            let (http, url, turned_away) = (http.clone(), s.url("/events/cart"), turned_away.clone());
            tokio::spawn(async move {
                for _ in 0..STREAMS / 16 {
                    let res = http.get(&url).send().await.unwrap();
                    assert_eq!(res.status().as_u16(), 204);
                    turned_away.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    assert_eq!(turned_away.load(Ordering::SeqCst), STREAMS / 16 * 16);
    assert_eq!(s.state.cart_sync.open_streams(), 0);
    let shopper = testkit::browser();
    let pid: i64 =
        sqlx::query_scalar("SELECT id FROM products WHERE option1_name = '' AND stock > 10 ORDER BY id LIMIT 1")
            .fetch_one(s.state.db.read())
            .await
            .unwrap();
    assert_eq!(testkit::post(&shopper, s, "/api/cart/add", &format!("product_id={pid}&quantity=1")).await.0, 200);
    let mut open = Vec::new();
    let mut refused = 0;
    for _ in 0..40 {
        let res = shopper.get(s.url("/events/cart")).send().await.unwrap();
        match res.status().as_u16() {
            200 => open.push(res),
            429 => refused += 1,
            other => panic!("stream answered {other}"),
        }
    }
    assert_eq!(open.len(), app::engines::cart_sync::STREAMS_PER_CART);
    assert_eq!(refused, 40 - app::engines::cart_sync::STREAMS_PER_CART);
    drop(open);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_requests_get_4xx_or_a_normal_page_and_nothing_grows() {
    let panics = testkit::panic_counter();
    let before = panics.load(Ordering::SeqCst);
    {
        let t = testkit::setup(Kind::Embedded).await;
        // Warm up once so caches and pools exist before measuring.
        barrage(&t.server).await;
        let rss = testkit::rss_bytes();
        for _ in 0..3 {
            barrage(&t.server).await;
        }
        streams(&t.server).await;
        let grown = testkit::rss_bytes().saturating_sub(rss);
        println!("resident memory grew by {} KB over three barrages and {STREAMS} streams", grown / 1024);
        assert!(grown < MEMORY_BOUND, "memory grew by {} MB", grown / (1024 * 1024));
    }
    let t = testkit::setup(Kind::Scaled).await;
    barrage(&t.server).await;
    streams(&t.server).await;
    assert_eq!(panics.load(Ordering::SeqCst), before, "no handler panicked, caught or not");
}
