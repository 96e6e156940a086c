//! Accounts and the guest-cart merge over HTTP, on the embedded default (SQLite) and on
//! PostgreSQL + Redis: sign-in rules, session id cycling, rate limits, isolation between
//! accounts, every merge case, a merge failing halfway, and ten concurrent sign-ins.

use reqwest::header::COOKIE;
use serde_json::Value;
use testkit::{both_setups, post, setup, sid_from, Kind, TestServer};

both_setups!(
    register_login_logout,
    session_id_changes_at_login_and_logout,
    wrong_credentials_get_one_answer_and_are_rate_limited,
    accounts_never_see_each_other,
    merge_cases,
    merge_drops_unavailable_and_caps_at_stock,
    merge_failing_halfway_keeps_the_account_cart_and_retries,
    ten_concurrent_logins_merge_once,
    a_second_user_on_the_same_browser_gets_their_own_cart,
);

const PASSWORD: &str = "correct horse battery";

fn email() -> String {
    format!("shopper{}@example.com", rand::random::<u32>())
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn register(http: &reqwest::Client, s: &TestServer, email: &str) -> Value {
    let (status, body) =
        post(http, s, "/api/auth/register", &format!("email={}&password={}", enc(email), enc(PASSWORD))).await;
    assert_eq!(status, 200, "register: {body}");
    body
}

async fn login(http: &reqwest::Client, s: &TestServer, email: &str) -> Value {
    let (status, body) =
        post(http, s, "/api/auth/login", &format!("email={}&password={}", enc(email), enc(PASSWORD))).await;
    assert_eq!(status, 200, "login: {body}");
    body
}

async fn add(http: &reqwest::Client, s: &TestServer, pid: i64, q: u32) {
    let (status, body) = post(http, s, "/api/cart/add", &format!("product_id={pid}&quantity={q}")).await;
    assert_eq!(status, 200, "add {pid}: {body}");
}

async fn cart(http: &reqwest::Client, s: &TestServer) -> Value {
    post(http, s, "/api/cart", "").await.1
}

fn qty(cart: &Value, pid: i64) -> u64 {
    cart["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["product_id"] == pid)
        .map(|l| l["quantity"].as_u64().unwrap())
        .unwrap_or(0)
}

/// Products in stock with plenty of units, distinct for the test.
async fn products(s: &TestServer, n: usize) -> Vec<i64> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM products WHERE option1_name = '' AND active = 1 AND stock >= 20 ORDER BY id LIMIT $1",
    )
    .bind(n as i64)
    .fetch_all(s.state.db.read())
    .await
    .unwrap();
    assert_eq!(ids.len(), n);
    ids
}

async fn register_login_logout(kind: Kind) {
    let t = setup(kind).await;
    let s = &t.server;
    let http = testkit::browser();
    let mail = email();
    let answer = register(&http, s, &format!("  {}  ", mail.to_uppercase())).await;
    assert_eq!(answer["user"]["email"], mail, "trimmed and lower-cased");
    let (status, me) = post(&http, s, "/api/auth/me", "").await;
    assert_eq!(status, 200);
    assert_eq!(me["email"], mail);
    let (status, body) =
        post(&http, s, "/api/auth/register", &format!("email={}&password={}", enc(&mail), enc(PASSWORD))).await;
    assert_eq!(status, 409, "{body}");
    for (e, p, want) in
        [("bad-email", PASSWORD, 422), (mail.as_str(), "short", 422), (mail.as_str(), &"x".repeat(129), 422)]
    {
        let fresh = testkit::browser();
        let (status, body) =
            post(&fresh, s, "/api/auth/register", &format!("email={}&password={}", enc(e), enc(p))).await;
        assert_eq!(status, want, "{e} {body}");
    }
    let (status, _) = post(&http, s, "/api/auth/logout", "").await;
    assert_eq!(status, 200);
    let (_, me) = post(&http, s, "/api/auth/me", "").await;
    assert_eq!(me, Value::Null);
    let c = cart(&http, s).await;
    assert_eq!(c["guest"], true);
    let answer = login(&http, s, &mail.to_uppercase()).await;
    assert_eq!(answer["user"]["email"], mail);
    assert_eq!(answer["user"]["is_admin"], false);
    // The stored hash is argon2id, never the password.
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE email = $1")
        .bind(&mail)
        .fetch_one(s.state.db.read())
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$") && !hash.contains(PASSWORD));
}

async fn session_id_changes_at_login_and_logout(kind: Kind) {
    let t = setup(kind).await;
    let s = &t.server;
    let http = testkit::browser();
    let mail = email();
    register(&http, s, &mail).await;
    post(&http, s, "/api/auth/logout", "").await;
    // A guest session, then sign in: a new id, and the old one is dead.
    let guest = http
        .post(s.url("/api/cart/add"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("product_id=1&quantity=1")
        .send()
        .await
        .unwrap();
    let guest_sid = sid_from(&guest).expect("a guest session");
    let res = http
        .post(s.url("/api/auth/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("email={}&password={}", enc(&mail), enc(PASSWORD)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let user_sid = sid_from(&res).expect("a new session cookie at login");
    assert_ne!(user_sid, guest_sid, "session id cycled at login");
    assert_eq!(me_with(s, &guest_sid).await, Value::Null, "the pre-login session id grants nothing");
    let res = http
        .post(s.url("/api/auth/logout"))
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(me_with(s, &user_sid).await, Value::Null, "the signed-in session is gone after logout");
    // Cross-site sign-in attempts are refused before anything else.
    let res = reqwest::Client::new()
        .post(s.url("/api/auth/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "https://evil.example")
        .body(format!("email={}&password={}", enc(&mail), enc(PASSWORD)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
}

async fn wrong_credentials_get_one_answer_and_are_rate_limited(kind: Kind) {
    let t = setup(kind).await;
    let s = &t.server;
    let http = testkit::browser();
    let mail = email();
    register(&http, s, &mail).await;
    post(&http, s, "/api/auth/logout", "").await;
    let (s1, wrong_pw) =
        post(&http, s, "/api/auth/login", &format!("email={}&password=wrong-password", enc(&mail))).await;
    let (s2, no_user) = post(&http, s, "/api/auth/login", "email=nobody%40example.com&password=wrong-password").await;
    assert_eq!((s1, s2), (401, 401));
    assert_eq!(wrong_pw["message"], no_user["message"], "no way to tell which accounts exist");
    for _ in 1..app::domain::accounts::ATTEMPTS_PER_ADDRESS_AND_ACCOUNT {
        let (status, _) =
            post(&http, s, "/api/auth/login", &format!("email={}&password=wrong-password", enc(&mail))).await;
        assert_eq!(status, 401);
    }
    // The limit for this email from this address: even the right password now waits here.
    let res = http
        .post(s.url("/api/auth/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("email={}&password={}", enc(&mail), enc(PASSWORD)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 429);
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 900, "{retry}");
    // Per address: failures across many emails lock this address out.
    for i in 0..app::domain::accounts::ATTEMPTS_PER_ADDRESS {
        post(&http, s, "/api/auth/login", &format!("email=probe{i}%40example.com&password=wrong-password")).await;
    }
    let (status, body) = post(&http, s, "/api/auth/login", "email=another%40example.com&password=whatever1").await;
    assert_eq!(status, 429, "{body}");
}

async fn accounts_never_see_each_other(kind: Kind) {
    let t = setup(kind).await;
    let s = &t.server;
    let ids = products(s, 3).await;
    let (a, b) = (testkit::browser(), testkit::browser());
    register(&a, s, &email()).await;
    let mail_b = email();
    register(&b, s, &mail_b).await;
    add(&a, s, ids[0], 2).await;
    add(&b, s, ids[1], 1).await;
    let (ca, cb) = (cart(&a, s).await, cart(&b, s).await);
    assert_eq!((qty(&ca, ids[0]), qty(&ca, ids[1])), (2, 0));
    assert_eq!((qty(&cb, ids[0]), qty(&cb, ids[1])), (0, 1));
    // Whatever B sends, the cart is chosen by B's session, never by a field.
    post(&b, s, "/api/cart/remove", &format!("product_id={}", ids[0])).await;
    post(&b, s, "/api/cart/clear", "").await;
    post(&b, s, "/api/cart/add", &format!("product_id={}&quantity=1&user_id=1&owner=u:1", ids[2])).await;
    let ca2 = cart(&a, s).await;
    assert_eq!(ca2["lines"], ca["lines"], "A's cart untouched");
    // The same account on a second device sees the same cart.
    let b2 = testkit::browser();
    login(&b2, s, &mail_b).await;
    assert_eq!(cart(&b2, s).await["lines"], cart(&b, s).await["lines"]);
}

async fn merge_cases(kind: Kind) {
    let t = setup(kind).await;
    let s = &t.server;
    let ids = products(s, 4).await;
    let mail = email();
    // The account already holds 2 of ids[0] and 1 of ids[3].
    let device = testkit::browser();
    register(&device, s, &mail).await;
    add(&device, s, ids[0], 2).await;
    add(&device, s, ids[3], 1).await;
    // A guest elsewhere adds 3 of ids[0] (overlap) and 1 of ids[1] (new), then signs in.
    let guest = testkit::browser();
    add(&guest, s, ids[0], 3).await;
    add(&guest, s, ids[1], 1).await;
    let answer = login(&guest, s, &mail).await;
    assert_eq!(qty(&answer["cart"], ids[0]), 5, "overlap summed");
    assert_eq!(qty(&answer["cart"], ids[1]), 1, "new line added");
    assert_eq!(qty(&answer["cart"], ids[3]), 1, "the account's other line kept");
    let notices = answer["notices"].to_string();
    assert!(notices.contains("moved your guest cart"), "{notices}");
    assert_eq!(cart(&device, s).await["lines"], answer["cart"]["lines"], "the other device sees the merged cart");
    // Signing in again from a fresh guest with an empty cart changes nothing.
    let empty_guest = testkit::browser();
    let again = login(&empty_guest, s, &mail).await;
    assert_eq!(again["cart"]["lines"], answer["cart"]["lines"]);
    assert_eq!(again["notices"], Value::Array(vec![]));
    // An empty account takes the guest cart as it is.
    let guest2 = testkit::browser();
    add(&guest2, s, ids[2], 4).await;
    let fresh = register(&guest2, s, &email()).await;
    assert_eq!(fresh["cart"]["lines"].as_array().unwrap().len(), 1);
    assert_eq!(qty(&fresh["cart"], ids[2]), 4);
    // After signing in, the guest cart is gone: signing out leaves an empty guest cart.
    post(&guest, s, "/api/auth/logout", "").await;
    assert!(cart(&guest, s).await["lines"].as_array().unwrap().is_empty());
}

async fn merge_drops_unavailable_and_caps_at_stock(kind: Kind) {
    let t = setup(kind).await;
    let s = &t.server;
    let ids = products(s, 3).await;
    let mail = email();
    let device = testkit::browser();
    register(&device, s, &mail).await;
    add(&device, s, ids[0], 3).await;
    let guest = testkit::browser();
    add(&guest, s, ids[0], 4).await;
    add(&guest, s, ids[1], 1).await;
    add(&guest, s, ids[2], 2).await;
    // Before the guest signs in: stock of ids[0] drops to 5 and ids[1] is withdrawn.
    sqlx::query("UPDATE products SET stock = 5 WHERE id = $1")
        .bind(ids[0])
        .execute(&mut *s.state.db.write().await.unwrap())
        .await
        .unwrap();
    // The variant is what carts and checkout read (these products have one).
    sqlx::query("UPDATE variants SET stock = 5 WHERE product_id = $1")
        .bind(ids[0])
        .execute(&mut *s.state.db.write().await.unwrap())
        .await
        .unwrap();
    sqlx::query("UPDATE products SET active = 0 WHERE id = $1")
        .bind(ids[1])
        .execute(&mut *s.state.db.write().await.unwrap())
        .await
        .unwrap();
    s.state.catalog.invalidate_all();
    let answer = login(&guest, s, &mail).await;
    assert_eq!(qty(&answer["cart"], ids[0]), 5, "3 + 4 capped at the 5 in stock");
    assert_eq!(qty(&answer["cart"], ids[1]), 0, "withdrawn product dropped");
    assert_eq!(qty(&answer["cart"], ids[2]), 2);
    let notices = answer["notices"].to_string();
    assert!(notices.contains("Only 5"), "{notices}");
    assert!(notices.contains("no longer available"), "{notices}");
}

async fn merge_failing_halfway_keeps_the_account_cart_and_retries(kind: Kind) {
    let t = setup(kind).await;
    let s = &t.server;
    let ids = products(s, 3).await;
    let mail = email();
    let device = testkit::browser();
    register(&device, s, &mail).await;
    add(&device, s, ids[0], 1).await;
    let before = cart(&device, s).await;
    let guest = testkit::browser();
    add(&guest, s, ids[1], 2).await;
    add(&guest, s, ids[2], 1).await;
    // A real failure inside the merge transaction: writing ids[2] into an account cart fails,
    // after ids[1] has been written.
    testkit::install_merge_failure(s, t.backend, ids[2]).await;
    let answer = login(&guest, s, &mail).await;
    assert_eq!(answer["user"]["email"], mail, "the sign-in still succeeds");
    assert!(answer["notices"].to_string().contains("could not add your guest cart"), "{}", answer["notices"]);
    let after = cart(&device, s).await;
    assert_eq!(after["lines"], before["lines"], "the account cart is exactly as it was");
    assert_eq!(after["version"], before["version"]);
    // Once the fault is gone, the next cart read finishes the merge, once.
    testkit::remove_merge_failure(s, t.backend).await;
    let retried = cart(&guest, s).await;
    assert_eq!((qty(&retried, ids[0]), qty(&retried, ids[1]), qty(&retried, ids[2])), (1, 2, 1), "{retried}");
    assert!(retried["notices"].to_string().contains("moved your guest cart"));
    let again = cart(&guest, s).await;
    assert_eq!(again["lines"], retried["lines"], "merged once");
}

async fn ten_concurrent_logins_merge_once(kind: Kind) {
    let t = setup(kind).await;
    let s = &t.server;
    let ids = products(s, 2).await;
    let mail = email();
    let device = testkit::browser();
    register(&device, s, &mail).await;
    add(&device, s, ids[0], 1).await;
    // One guest session (one cookie), ten sign-ins at the same moment: two tabs, a double
    // submit, retries.
    let res = reqwest::Client::new()
        .post(s.url("/api/cart/add"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("product_id={}&quantity=2", ids[0]))
        .send()
        .await
        .unwrap();
    let sid = sid_from(&res).unwrap();
    reqwest::Client::new()
        .post(s.url("/api/cart/add"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header(COOKIE, format!("sid={sid}"))
        .body(format!("product_id={}&quantity=3", ids[1]))
        .send()
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (url, sid, mail) = (s.url("/api/auth/login"), sid.clone(), mail.clone());
        tasks.push(tokio::spawn(async move {
            let res = reqwest::Client::new()
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .header(COOKIE, format!("sid={sid}"))
                .body(format!("email={}&password={}", enc(&mail), enc(PASSWORD)))
                .send()
                .await
                .unwrap();
            res.status().as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let c = cart(&device, s).await;
    assert_eq!(qty(&c, ids[0]), 3, "1 + 2, added exactly once: {c}");
    assert_eq!(qty(&c, ids[1]), 3, "added exactly once: {c}");
}

async fn a_second_user_on_the_same_browser_gets_their_own_cart(kind: Kind) {
    let t = setup(kind).await;
    let s = &t.server;
    let ids = products(s, 2).await;
    let browser = testkit::browser();
    let (first, second) = (email(), email());
    register(&browser, s, &first).await;
    add(&browser, s, ids[0], 2).await;
    let other = testkit::browser();
    register(&other, s, &second).await;
    // The second person signs in on the same browser without the first signing out.
    let answer = login(&browser, s, &second).await;
    assert_eq!(qty(&answer["cart"], ids[0]), 0, "the first user's cart does not follow");
    add(&browser, s, ids[1], 1).await;
    let first_device = testkit::browser();
    let first_cart = login(&first_device, s, &first).await;
    assert_eq!(qty(&first_cart["cart"], ids[0]), 2);
    assert_eq!(qty(&first_cart["cart"], ids[1]), 0);
}

/// `/api/auth/me` as a client holding only the given session cookie.
async fn me_with(s: &TestServer, sid: &str) -> Value {
    reqwest::Client::new()
        .post(s.url("/api/auth/me"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header(COOKIE, format!("sid={sid}"))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()
}

/// Two instances on one PostgreSQL without Redis share the session table: a sign-out on one
/// must end the session on the other at once (no instance may answer from its own copy).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sign_out_on_one_instance_ends_the_session_on_another() {
    let t = testkit::database(testkit::Backend::Postgres).await;
    let a = testkit::spawn(&t.url, None).await;
    let b = testkit::spawn(&t.url, None).await;
    let http = testkit::browser();
    let mail = email();
    register(&http, &a, &mail).await;
    let res = http
        .post(a.url("/api/auth/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("email={}&password={}", enc(&mail), enc(PASSWORD)))
        .send()
        .await
        .unwrap();
    let sid = sid_from(&res).expect("a session cookie at login");
    for _ in 0..3 {
        assert_eq!(me_with(&b, &sid).await["email"], mail, "instance B reads the shared session");
    }
    let (status, _) = post(&http, &a, "/api/auth/logout", "").await;
    assert_eq!(status, 200);
    assert_eq!(me_with(&b, &sid).await, Value::Null, "instance B still honours a signed-out session");
}

/// The embedded default's in-process copy of sessions (`session_cache`), on a real SQLite file.
mod session_cache {
    use app::storage::session_cache::SessionCache;
    use app::storage::session_store::SqlSessionStore;
    use std::collections::HashMap;
    use std::sync::Arc;
    use tower_sessions::session::{Id, Record};
    use tower_sessions::SessionStore;

    fn record(id: Id, user: &str) -> Record {
        let mut data = HashMap::new();
        data.insert("user".to_string(), serde_json::json!(user));
        Record { id, data, expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1) }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_session_read_again_does_not_touch_the_database() {
        let t = testkit::sqlite().await;
        let cached = SqlSessionStore::with_cache(t.db.clone(), Arc::new(SessionCache::new(1 << 20)));
        let plain = SqlSessionStore::new(t.db.clone());
        let mut r = record(Id::default(), "ada");
        cached.create(&mut r).await.unwrap();
        assert_eq!(cached.load(&r.id).await.unwrap().unwrap().data, r.data);
        // With the table gone, only a copy can answer.
        sqlx::query("DROP TABLE sessions").execute(&mut *t.db.write().await.unwrap()).await.unwrap();
        assert!(plain.load(&r.id).await.is_err(), "the table really is gone");
        assert_eq!(cached.load(&r.id).await.unwrap().unwrap().data, r.data, "served from the copy");
    }

    /// Sign-outs racing reads of the same session: after every sign-out, the session reads as
    /// signed out, from the copy and from the table. A load that read the signed-in row just
    /// before the write must not put it back in the copy afterwards.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_write_racing_reads_is_never_undone_by_the_copy() {
        let t = testkit::sqlite().await;
        let store = SqlSessionStore::with_cache(t.db.clone(), Arc::new(SessionCache::new(1 << 20)));
        let plain = SqlSessionStore::new(t.db.clone());
        for round in 0..60 {
            let id = Id::default();
            store.save(&record(id, "signed-in")).await.unwrap();
            let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let readers: Vec<_> = (0..6)
                .map(|_| {
                    let (store, stop) = (store.clone(), stop.clone());
                    tokio::spawn(async move {
                        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                            store.load(&id).await.unwrap();
                            // A copy answers without suspending: let the writer's tasks run.
                            tokio::task::yield_now().await;
                        }
                    })
                })
                .collect();
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            store.save(&record(id, "signed-out")).await.unwrap();
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            for r in readers {
                r.await.unwrap();
            }
            let want = serde_json::json!("signed-out");
            assert_eq!(plain.load(&id).await.unwrap().unwrap().data["user"], want, "round {round}: table");
            assert_eq!(store.load(&id).await.unwrap().unwrap().data["user"], want, "round {round}: copy");
        }
    }
}
