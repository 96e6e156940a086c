//! Trust: what an attacker or a failing dependency tries, and what the shop does about it, on
//! SQLite and on PostgreSQL + Redis where storage is involved. The page cache never serves one
//! visitor's session to another; redirects stay on the site and never panic; sign-in guessing is
//! counted before it is checked; hostile input cannot grow memory; a disabled flag is off for
//! everyone; a Redis outage is not a sign-out; operator surfaces are closed; the Redis breaker
//! probes with one call.

use reqwest::header::{COOKIE, SET_COOKIE};
use serde_json::Value;
use std::time::{Duration, Instant};
use testkit::{both_setups, post, setup, setup_with, sid_from, Kind, RedisServer, TestServer};

both_setups!(
    a_session_under_another_cookie_spelling_never_reaches_the_page_cache,
    sign_in_never_redirects_to_another_site,
    line_breaks_in_redirect_targets_change_nothing_and_panic_nothing,
    a_burst_of_wrong_passwords_is_counted_before_it_is_checked,
    hostile_slugs_and_busy_visitors_cannot_grow_memory,
    a_disabled_flag_is_off_for_everyone_and_only_real_views_count,
);

async fn product(s: &TestServer) -> (i64, String) {
    sqlx::query_as(
        "SELECT id, slug FROM products WHERE option1_name = '' AND stock > 50 AND active = 1 ORDER BY id LIMIT 1",
    )
    .fetch_one(s.state.db.read())
    .await
    .unwrap()
}

fn set_cookies(res: &reqwest::Response) -> Vec<String> {
    res.headers().get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok().map(String::from)).collect()
}

fn plain() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// Where a browser goes with this `Location`: the host it resolves to from the shop's origin.
fn lands_on(s: &TestServer, location: &str) -> Option<String> {
    url::Url::parse(&s.origin()).unwrap().join(location).ok().and_then(|u| u.host_str().map(String::from))
}

async fn register(http: &reqwest::Client, s: &TestServer, email: &str) {
    let (status, body) = post(http, s, "/api/auth/register", &format!("email={email}&password=correct+horse")).await;
    assert_eq!(status, 200, "{body}");
}

async fn a_session_under_another_cookie_spelling_never_reaches_the_page_cache(kind: Kind) {
    let t = setup(kind).await;
    let s = &t.server;
    let (pid, _) = product(s).await;
    // The attacker has a cart and a session.
    let res = plain()
        .post(s.url("/api/cart/add"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("product_id={pid}&quantity=3"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let sid = sid_from(&res).expect("a session");
    for (i, cookie) in
        [format!("%73id={sid}"), format!(" sid ={sid}"), format!("x=1;%73%69d={sid}"), format!("sid={sid}")]
            .iter()
            .enumerate()
    {
        let path = format!("/?campaign={i}-{}", rand::random::<u32>());
        let res = plain().get(s.url(&path)).header(COOKIE, cookie.as_str()).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200);
        assert!(res.text().await.unwrap().contains("line_total_cents"), "{cookie}: rendered with the session's cart");
        // A stranger without cookies asks for the same page.
        let stranger = plain().get(s.url(&path)).send().await.unwrap();
        let body = stranger.text().await.unwrap();
        assert!(!body.contains("line_total_cents"), "{cookie}: another visitor's cart was served from the cache");
    }
}

async fn sign_in_never_redirects_to_another_site(kind: Kind) {
    let t = setup(kind).await;
    let s = &t.server;
    let email = format!("redir{}%40example.com", rand::random::<u32>());
    register(&testkit::browser(), s, &email).await;
    let host = s.addr.ip().to_string();
    for next in [
        "%2F%09%2Fevil.example",
        "%2F%5Cevil.example",
        "%5C%5Cevil.example",
        "%2F%2Fevil.example",
        "https%3A%2F%2Fevil.example",
        "https%3Aevil.example",
        "+%2F%2Fevil.example",
        "%09%2F%2Fevil.example",
        "%2F%0A%2Fevil.example",
        "%2F%2F%09evil.example",
        "javascript%3Aalert(1)",
    ] {
        // A plain HTML form (no JavaScript): the answer is a redirect.
        let res = plain()
            .post(s.url("/api/auth/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "text/html")
            .header("referer", s.url("/login"))
            .body(format!("email={email}&password=correct+horse&next={next}"))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_redirection(), "{next}: {}", res.status());
        let location = res.headers()["location"].to_str().unwrap().to_string();
        assert_eq!(lands_on(s, &location).as_deref(), Some(host.as_str()), "{next} -> {location}");
        // From script: refused outright.
        let (status, body) = post(
            &testkit::browser(),
            s,
            "/api/auth/login",
            &format!("email={email}&password=correct+horse&next={next}"),
        )
        .await;
        assert_eq!(status, 400, "{next}: {body}");
    }
    // A good target is followed.
    let res = plain()
        .post(s.url("/api/auth/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "text/html")
        .body(format!("email={email}&password=correct+horse&next=%2Fcart%3Fx%3D1"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["location"], "/cart?x=1");
    // The page that goes back to where a form came from reads the Referer the same way.
    for referer in [format!("{}/\t/evil.example", s.origin()), format!("{}/\\evil.example", s.origin())] {
        let res = plain()
            .post(s.url("/api/cart/clear"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "text/html")
            .header("referer", referer.as_str())
            .send()
            .await
            .unwrap();
        let location = res.headers()["location"].to_str().unwrap().to_string();
        assert_eq!(lands_on(s, &location).as_deref(), Some(host.as_str()), "{referer:?} -> {location}");
    }
}

async fn line_breaks_in_redirect_targets_change_nothing_and_panic_nothing(kind: Kind) {
    let panics = testkit::panic_counter();
    let before = panics.load(std::sync::atomic::Ordering::SeqCst);
    let t = setup(kind).await;
    let s = &t.server;
    let email = format!("crlf{}@example.com", rand::random::<u32>());
    for accept in ["text/html", "application/json"] {
        let res = plain()
            .post(s.url("/api/auth/register"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", accept)
            .body(format!(
                "email={}&password=correct+horse&next=%2Fok%0D%0ASet-Cookie%3A%20evil%3D1",
                email.replace('@', "%40")
            ))
            .send()
            .await
            .expect("the connection is answered, not dropped");
        assert!(res.status().as_u16() < 500, "{}", res.status());
        assert!(set_cookies(&res).iter().all(|c| !c.contains("evil")), "{:?}", set_cookies(&res));
    }
    let accounts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE email = $1")
        .bind(&email)
        .fetch_one(s.state.db.read())
        .await
        .unwrap();
    assert_eq!(accounts, 0, "a refused request changes nothing");
    for path in ["/p/%0D%0Aevil", "/login?next=%0D%0ASet-Cookie:%20x=1", "/c/%0A", "/?ff.cart_layout=drawer%0D%0Ax:1"] {
        let res = plain().get(s.url(path)).send().await.expect(path);
        assert!(res.status().as_u16() < 500, "{path}: {}", res.status());
        assert!(set_cookies(&res).iter().all(|c| !c.contains("x=1") && !c.contains("\n")), "{path}");
    }
    assert_eq!(panics.load(std::sync::atomic::Ordering::SeqCst), before, "no handler panicked");
}

async fn login(s: &TestServer, email: &str, password: &str, from: &str) -> u16 {
    plain()
        .post(s.url("/api/auth/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-forwarded-for", from)
        .body(format!("email={email}&password={password}"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn a_burst_of_wrong_passwords_is_counted_before_it_is_checked(kind: Kind) {
    let t = setup_with(kind, &[("TRUST_PROXY", "true")]).await;
    let s = &t.server;
    let email = format!("victim{}%40example.com", rand::random::<u32>());
    // The customer's own browser (it signed up here, so the shop knows it).
    let customer = testkit::browser();
    register(&customer, s, &email).await;
    // Thirty wrong passwords at the same moment from one address.
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let (url, email) = (s.url("/api/auth/login"), email.clone());
            tokio::spawn(async move {
                plain()
                    .post(url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header("x-forwarded-for", "10.1.1.1")
                    .body(format!("email={email}&password=wrong-guess-{i}"))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    let tried = statuses.iter().filter(|s| **s == 401).count() as u64;
    let limited = statuses.iter().filter(|s| **s == 429).count() as u64;
    assert_eq!(tried + limited, 30, "{statuses:?}");
    assert!(
        tried <= app::domain::accounts::ATTEMPTS_PER_ADDRESS_AND_ACCOUNT,
        "{tried} guesses were checked against a limit of {}",
        app::domain::accounts::ATTEMPTS_PER_ADDRESS_AND_ACCOUNT
    );
    // The attacker's address stays locked out of this account...
    assert_eq!(login(s, &email, "correct+horse", "10.1.1.1").await, 429);
    // ...but the customer, from their own address, is not.
    assert_eq!(login(s, &email, "correct+horse", "10.2.2.2").await, 200);
    // Guessing spread over many addresses slows the account down: one attempt per second or
    // more from browsers that never signed in to it...
    let mut statuses = Vec::new();
    for i in 0..12 {
        statuses.push(login(s, &email, "wrong-again", &format!("10.9.0.{i}")).await);
    }
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 11, "{statuses:?}");
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    assert_eq!(login(s, &email, "correct+horse", "10.7.7.7").await, 429, "held up like any unknown browser");
    // ...while the customer's own browser gets in at once, whatever the guessing.
    let res = customer
        .post(s.url("/api/auth/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-forwarded-for", "10.6.6.6")
        .body(format!("email={email}&password=correct+horse"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    if let Some(redis) = &t.redis {
        // A counter some earlier fault left without an expiry still runs out.
        let client = app::storage::redis::Redis::connect(&redis.url(), 1).await.unwrap();
        let key = format!("rl:login:pair:10.3.3.3:{}", email.replace("%40", "@"));
        use fred::prelude::KeysInterface;
        let _: () = client.pool.next().set(&key, 500, None, None, false).await.unwrap();
        assert_eq!(login(s, &email, "correct+horse", "10.3.3.3").await, 429);
        let ttl: i64 = client.pool.next().pttl(&key).await.unwrap();
        assert!(ttl > 0 && ttl <= app::domain::accounts::FAILURE_WINDOW.as_millis() as i64, "{ttl}");
    }
}

async fn hostile_slugs_and_busy_visitors_cannot_grow_memory(kind: Kind) {
    let t = setup(kind).await;
    let s = &t.server;
    let http = plain();
    // Made-up slugs: huge ones are not even looked up; plausible ones are remembered within a
    // byte budget, apart from real products.
    let huge = "a".repeat(30_000);
    for _ in 0..20 {
        let res = http.get(s.url(&format!("/p/{huge}"))).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 404);
    }
    for i in 0..2_000 {
        let (status, _) = post(&http, s, "/api/catalog/product", &format!("slug=no-such-product-{i:0>100}")).await;
        assert_eq!(status, 404);
    }
    let (_, missing) = s.state.catalog.product_cache_bytes().await;
    assert!(missing <= 1024 * 1024, "unknown slugs hold {missing} bytes");
    // One visitor viewing many products (and one product many times) records a bounded number
    // of signals.
    let visitor = testkit::browser();
    visitor.get(s.url("/")).send().await.unwrap();
    let slugs: Vec<String> = sqlx::query_scalar("SELECT slug FROM products ORDER BY id LIMIT 300")
        .fetch_all(s.state.db.read())
        .await
        .unwrap();
    for slug in slugs.iter().chain(std::iter::repeat_n(&slugs[0], 50)) {
        let (status, _) = post(&visitor, s, "/api/catalog/product", &format!("slug={slug}")).await;
        assert_eq!(status, 200);
    }
    s.state.events.flush().await;
    let per_subject: Vec<i64> =
        sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE subject LIKE 'a:%' AND kind = 'view' GROUP BY subject")
            .fetch_all(s.state.db.read())
            .await
            .unwrap();
    assert_eq!(per_subject.len(), 1);
    assert_eq!(per_subject[0], app::storage::events::MAX_PER_SUBJECT_PER_DAY as i64, "{per_subject:?}");
}

/// Turns the cart layout experiment on (everyone in the control unless forced, so pages cache
/// alike for every new visitor) or off.
async fn set_flag(admin: &reqwest::Client, s: &TestServer, enabled: bool) {
    let body = format!("name=cart_layout&variants=page%3A100%2Cdrawer%3A0{}", if enabled { "&enabled=on" } else { "" });
    let (status, answer) = post(admin, s, "/api/admin/flags/update", &body).await;
    assert_eq!(status, 200, "{answer}");
}

async fn exposures(s: &TestServer) -> Vec<String> {
    sqlx::query_scalar("SELECT subject FROM exposures").fetch_all(s.state.db.read()).await.unwrap()
}

async fn a_disabled_flag_is_off_for_everyone_and_only_real_views_count(kind: Kind) {
    let t = setup(kind).await;
    let s = &t.server;
    let admin = testkit::admin_browser(s).await;
    set_flag(&admin, s, false).await;
    // Off means off, whatever the override says.
    let qa = testkit::browser();
    let html = qa.get(s.url("/?ff.cart_layout=drawer")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains(r#"data-cart-layout="page""#), "a disabled flag served the drawer");
    let (_, layout) = post(&qa, s, "/api/experiments/cart_layout", "").await;
    assert_eq!(layout, "page");
    set_flag(&admin, s, true).await;
    // A forced visitor sees the variant and is never counted, nor are their conversions.
    qa.get(s.url("/?ff.cart_layout=drawer")).send().await.unwrap();
    let (pid, _) = product(s).await;
    assert_eq!(post(&qa, s, "/api/cart/add", &format!("product_id={pid}&quantity=1")).await.0, 200);
    // A browser cannot choose its anonymous id: a made-up one is replaced, never counted.
    let forged = "00000000-0000-4000-8000-000000000001";
    let res = plain().get(s.url("/c/kitchen")).header(COOKIE, format!("aid={forged}")).send().await.unwrap();
    let minted = set_cookies(&res).into_iter().find(|c| c.starts_with("aid=")).expect("a new id is minted");
    assert!(!minted.contains(forged));
    // Two first visits to one page: the second is served from the cache and counts nothing.
    let path = format!("/c/kitchen?visit={}", rand::random::<u32>());
    let first = plain().get(s.url(&path)).send().await.unwrap();
    assert_eq!(first.headers()["x-page-cache"], "miss");
    let second = plain().get(s.url(&path)).send().await.unwrap();
    assert_eq!(second.headers()["x-page-cache"], "hit");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let counted = exposures(s).await;
    assert!(counted.iter().all(|subject| !subject.contains(forged)), "{counted:?}");
    let conversions: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM conversions").fetch_one(s.state.db.read()).await.unwrap();
    assert_eq!(conversions, 0, "the forced visitor's add to cart is not a conversion");
    // First visits are not counted either (only visitors who come back): nothing so far.
    assert!(counted.is_empty(), "{counted:?}");
    // A visitor who comes back is counted, once, under the id the shop gave them.
    let returning = testkit::browser();
    returning.get(s.url("/c/kitchen")).send().await.unwrap();
    returning.get(s.url("/c/kitchen?again=1")).send().await.unwrap();
    let counted = exposures(s).await;
    assert_eq!(counted.len(), 1, "{counted:?}");
}

/// Redis down: a signed-in shopper is still signed in and keeps their account cart (kept in
/// SQL); only guest carts, which live in Redis, are unavailable.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redis_outage_is_not_a_sign_out() {
    let mut t = setup(Kind::Scaled).await;
    let s = &t.server;
    let (pid, _) = product(s).await;
    let http = testkit::browser();
    register(&http, s, &format!("outage{}%40example.com", rand::random::<u32>())).await;
    assert_eq!(post(&http, s, "/api/cart/add", &format!("product_id={pid}&quantity=2")).await.0, 200);
    t.redis.as_mut().unwrap().stop();
    let (status, cart) = post(&http, s, "/api/cart", "").await;
    assert_eq!(status, 200, "{cart}");
    assert_eq!((cart["guest"].clone(), cart["lines"][0]["quantity"].clone()), (Value::Bool(false), 2.into()));
    let (status, cart) = post(&http, s, "/api/cart/add", &format!("product_id={pid}&quantity=1")).await;
    assert_eq!((status, cart["lines"][0]["quantity"].clone()), (200, 3.into()), "{cart}");
    let (status, me) = post(&http, s, "/api/auth/me", "").await;
    assert_eq!(status, 200, "{me}");
    assert!(me["email"].as_str().is_some_and(|e| e.starts_with("outage")), "{me}");
    let html = http.get(s.url("/account")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Signed in as"), "the account page still knows the shopper");
    // A guest (no account cookie) gets a clear 503 for the cart kept in Redis.
    let (status, body) = post(&testkit::browser(), s, "/api/cart/add", &format!("product_id={pid}&quantity=1")).await;
    assert_eq!(status, 503, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_are_for_operators_only() {
    let db = testkit::sqlite().await;
    let open = testkit::spawn(&db.url, None).await;
    assert_eq!(plain().get(open.url("/metrics")).send().await.unwrap().status().as_u16(), 404);
    let token = "operators-only-metrics-token";
    let s = testkit::spawn_with(&db.url, None, &[("METRICS_TOKEN", token)]).await;
    let get = |auth: Option<&str>| {
        let mut req = plain().get(s.url("/metrics"));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        req.send()
    };
    assert_eq!(get(None).await.unwrap().status().as_u16(), 401);
    assert_eq!(get(Some("Bearer wrong-token-of-some-length")).await.unwrap().status().as_u16(), 401);
    let res = get(Some(&format!("Bearer {token}"))).await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert!(res.text().await.unwrap().contains("shop_"));
    // On its own listener (METRICS_ADDR), for the internal network.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = server::http::metrics::listener_router(open.state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let res = plain().get(format!("http://{addr}/metrics")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_answer_carries_the_security_headers_and_cookies_are_secure_on_https() {
    let db = testkit::sqlite().await;
    let s = testkit::spawn_with(&db.url, None, &[("COOKIE_SECURE", "true")]).await;
    let (pid, slug) = product(&s).await;
    let http = plain();
    let answers = vec![
        http.get(s.url("/")).send().await.unwrap(),
        http.get(s.url(&format!("/p/{slug}"))).send().await.unwrap(),
        http.get(s.url("/no-such-page")).send().await.unwrap(),
        http.get(s.url("/healthz")).send().await.unwrap(),
        http.post(s.url("/api/cart")).header("content-type", "application/x-www-form-urlencoded").send().await.unwrap(),
    ];
    for res in &answers {
        let h = res.headers();
        assert_eq!(h["x-frame-options"], "DENY", "{}", res.url());
        assert!(h["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "same-origin");
    }
    // Every cookie the shop sets is Secure on an https shop.
    let mut cookies = set_cookies(&http.get(s.url("/?ff.cart_layout=drawer")).send().await.unwrap());
    let res = http
        .post(s.url("/api/cart/add"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "text/html")
        .body(format!("product_id={pid}&quantity=1"))
        .send()
        .await
        .unwrap();
    cookies.extend(set_cookies(&res));
    let res = http
        .post(s.url("/api/auth/register"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("email=secure{}%40example.com&password=correct+horse", rand::random::<u32>()))
        .send()
        .await
        .unwrap();
    cookies.extend(set_cookies(&res));
    for name in ["aid=", "ff.cart_layout=", "flash=", "sid=", "acct="] {
        let cookie = cookies.iter().find(|c| c.starts_with(name)).unwrap_or_else(|| panic!("{name} in {cookies:?}"));
        assert!(cookie.contains("Secure"), "{cookie}");
        assert!(cookie.contains("HttpOnly"), "{cookie}");
    }
}

/// After the open window, a failing Redis gets one probe, not every waiting call.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_half_open_breaker_lets_exactly_one_probe_through() {
    let server = RedisServer::start();
    let redis = app::storage::redis::Redis::connect(&server.url(), 4).await.unwrap();
    redis.ping().await.unwrap();
    server.pause();
    for _ in 0..3 {
        assert!(redis.ping().await.is_err());
    }
    assert!(redis.is_open());
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let redis = redis.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                let result = redis.ping().await;
                (started.elapsed(), result)
            })
        })
        .collect();
    let mut slow = 0;
    for call in calls {
        let (took, result) = call.await.unwrap();
        assert!(result.is_err());
        if took >= Duration::from_millis(500) {
            slow += 1;
        } else {
            assert_eq!(result.unwrap_err(), app::storage::redis::RedisError::Open, "the others fail fast");
        }
    }
    assert_eq!(slow, 1, "exactly one probe waited on Redis");
    server.resume();
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while redis.ping().await.is_err() {
        assert!(Instant::now() < deadline, "the breaker never closed after Redis came back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
