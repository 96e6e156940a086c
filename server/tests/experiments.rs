//! Feature flags and the cart layout experiment over HTTP, on SQLite and PostgreSQL: admin-only
//! changes that reach another instance within 5 s, the kill switch, sticky assignment (reloads,
//! sign-in), QA overrides, one exposure per subject, and conversions attributed in the report.

use serde_json::Value;
use std::time::{Duration, Instant};
use testkit::{post, Backend, TestServer};

macro_rules! both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $name() { super::$name(super::Backend::Sqlite).await } )* }
        mod postgres { $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $name() { super::$name(super::Backend::Postgres).await } )* }
    };
}

both_databases!(
    flags_are_for_admins_only,
    a_flag_change_reaches_another_instance_within_five_seconds,
    assignment_is_sticky_and_counted_once,
    overrides_force_a_variant_and_ignore_nonsense,
    the_variant_survives_signing_in,
    conversions_are_attributed_in_the_report,
);

async fn set_flag(http: &reqwest::Client, s: &TestServer, enabled: bool, variants: &str) -> Value {
    let enabled = if enabled { "&enabled=on" } else { "" };
    let (status, body) =
        post(http, s, "/api/admin/flags/update", &format!("name=cart_layout{enabled}&variants={variants}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// A new browser that has seen one page (so it has its anonymous id).
async fn visitor(s: &TestServer) -> reqwest::Client {
    let http = testkit::browser();
    assert_eq!(http.get(s.url("/")).send().await.unwrap().status().as_u16(), 200);
    http
}

async fn layout(http: &reqwest::Client, s: &TestServer) -> String {
    let (status, body) = post(http, s, "/api/experiments/cart_layout", "").await;
    assert_eq!(status, 200, "{body}");
    body.as_str().unwrap().to_string()
}

async fn exposures(s: &TestServer, subject_like: &str) -> Vec<(String, String)> {
    sqlx::query_as("SELECT subject, variant FROM exposures WHERE flag = 'cart_layout' AND subject LIKE $1")
        .bind(subject_like)
        .fetch_all(s.state.db.read())
        .await
        .unwrap()
}

async fn flags_are_for_admins_only(backend: Backend) {
    let t = testkit::database(backend).await;
    let s = testkit::spawn(&t.url, None).await;
    let guest = testkit::browser();
    assert_eq!(post(&guest, &s, "/api/admin/flags", "").await.0, 401);
    assert_eq!(
        post(&guest, &s, "/api/admin/flags/update", "name=cart_layout&enabled=on&variants=page:1,drawer:1").await.0,
        401
    );
    let customer = testkit::browser();
    let (status, _) =
        post(&customer, &s, "/api/auth/register", "email=shopper%40example.com&password=longenough").await;
    assert_eq!(status, 200);
    assert_eq!(post(&customer, &s, "/api/admin/flags", "").await.0, 403);
    assert_eq!(
        post(&customer, &s, "/api/admin/flags/update", "name=cart_layout&enabled=on&variants=page:1,drawer:1").await.0,
        403
    );
    assert_eq!(post(&customer, &s, "/api/admin/experiments/report", "flag=cart_layout").await.0, 403);
    assert!(!s.state.experiments.flag("cart_layout").unwrap().enabled, "nothing changed");

    let admin = testkit::admin_browser(&s).await;
    let (status, flags) = post(&admin, &s, "/api/admin/flags", "").await;
    assert_eq!(status, 200);
    assert_eq!(flags[0]["name"], "cart_layout");
    assert_eq!(flags[0]["enabled"], false, "shipped off");
    // Bad input: a clear 4xx and the flag as it was.
    for (body, code) in [
        ("name=cart_layout&enabled=on&variants=page:1", 422),
        ("name=cart_layout&enabled=on&variants=page:x,drawer:1", 422),
        ("name=cart_layout&enabled=maybe&variants=page:1,drawer:1", 400),
        ("name=nope&enabled=on&variants=page:1,drawer:1", 404),
    ] {
        assert_eq!(post(&admin, &s, "/api/admin/flags/update", body).await.0, code, "{body}");
    }
    assert_eq!(s.state.experiments.flag("cart_layout").unwrap().variants_spec(), "page:50,drawer:50");
    // The admin pages render for admins only.
    let page = admin.get(s.url("/admin")).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().await.unwrap().contains("cart_layout"));
    let denied = customer.get(s.url("/admin/experiments/cart_layout")).send().await.unwrap();
    assert_eq!(denied.status().as_u16(), 403);
}

async fn a_flag_change_reaches_another_instance_within_five_seconds(backend: Backend) {
    let t = testkit::database(backend).await;
    let a = testkit::spawn(&t.url, None).await;
    let b = testkit::spawn(&t.url, None).await;
    let reload = server::tasks::spawn_flag_reload(b.state.clone());
    let admin = testkit::admin_browser(&a).await;
    let shopper = visitor(&b).await;
    assert_eq!(layout(&shopper, &b).await, "page", "off: everyone gets the control");

    set_flag(&admin, &a, true, "page:0,drawer:100").await;
    let started = Instant::now();
    while layout(&shopper, &b).await != "drawer" {
        assert!(started.elapsed() < Duration::from_secs(5), "instance B did not see the change in 5 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The kill switch: everyone back on the control, on every instance, even assigned subjects.
    set_flag(&admin, &a, false, "page:0,drawer:100").await;
    let started = Instant::now();
    while layout(&shopper, &b).await != "page" {
        assert!(started.elapsed() < Duration::from_secs(5), "instance B did not see the kill switch in 5 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    reload.abort();
}

async fn assignment_is_sticky_and_counted_once(backend: Backend) {
    let t = testkit::database(backend).await;
    let s = testkit::spawn(&t.url, None).await;
    let admin = testkit::admin_browser(&s).await;
    set_flag(&admin, &s, true, "page:50,drawer:50").await;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..24 {
        let shopper = visitor(&s).await;
        let first = layout(&shopper, &s).await;
        for _ in 0..3 {
            shopper.get(s.url("/")).send().await.unwrap();
            assert_eq!(layout(&shopper, &s).await, first, "sticky across reloads");
        }
        seen.insert(first);
    }
    assert_eq!(seen.len(), 2, "both variants are served: {seen:?}");
    let rows = exposures(&s, "a:%").await;
    assert_eq!(rows.len(), 24, "one exposure per subject, however many pages");
    // Changing the weights does not move subjects already assigned.
    set_flag(&admin, &s, true, "page:1,drawer:99").await;
    let before = exposures(&s, "a:%").await;
    assert_eq!(before, rows);
}

async fn overrides_force_a_variant_and_ignore_nonsense(backend: Backend) {
    let t = testkit::database(backend).await;
    let s = testkit::spawn(&t.url, None).await;
    let admin = testkit::admin_browser(&s).await;
    // The experiment runs with everyone in the control; QA can still see the drawer.
    set_flag(&admin, &s, true, "page:100,drawer:0").await;
    let qa = testkit::browser();
    let res = qa.get(s.url("/?ff.cart_layout=drawer")).send().await.unwrap();
    assert!(res
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|c| c.to_str().unwrap().starts_with("ff.cart_layout=drawer")));
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"data-cart-layout="drawer""#), "the page is rendered with the forced variant");
    assert!(html.contains(r#"id="cart-drawer""#));
    assert_eq!(layout(&qa, &s).await, "drawer");
    // Unknown flags and variants are ignored: no cookie, nothing changes.
    for q in ["ff.cart_layout=sideways", "ff.nope=drawer", "ff.cart_layout=drawer%00", "ff.=x"] {
        let res = qa.get(s.url(&format!("/?{q}"))).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200);
        assert!(res.headers().get("set-cookie").is_none_or(|c| !c.to_str().unwrap().starts_with("ff.")), "{q}");
        assert_eq!(layout(&qa, &s).await, "drawer", "{q}");
    }
    assert!(exposures(&s, "%").await.is_empty(), "forced visitors are not counted");
    // An empty value removes the override.
    qa.get(s.url("/?ff.cart_layout=")).send().await.unwrap();
    assert_eq!(layout(&qa, &s).await, "page");
    let html = qa.get(s.url("/")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains(r#"data-cart-layout="page""#) && !html.contains(r#"id="cart-drawer""#));
    // A disabled flag is the control for everyone: the override forces nothing.
    set_flag(&admin, &s, false, "page:50,drawer:50").await;
    let html = qa.get(s.url("/?ff.cart_layout=drawer")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains(r#"data-cart-layout="page""#), "off means off");
    assert_eq!(layout(&qa, &s).await, "page");
}

async fn the_variant_survives_signing_in(backend: Backend) {
    let t = testkit::database(backend).await;
    let s = testkit::spawn(&t.url, None).await;
    let admin = testkit::admin_browser(&s).await;
    set_flag(&admin, &s, true, "page:50,drawer:50").await;

    // A guest signs up: the account inherits what the guest was shown.
    let first = visitor(&s).await;
    let shown = layout(&first, &s).await;
    let (status, body) = post(&first, &s, "/api/auth/register", "email=ann%40example.com&password=longenough").await;
    assert_eq!(status, 200);
    let uid = body["user"]["id"].as_i64().unwrap();
    assert_eq!(layout(&first, &s).await, shown);
    assert_eq!(exposures(&s, &format!("u:{uid}")).await, vec![(format!("u:{uid}"), shown.clone())]);
    post(&first, &s, "/api/auth/logout", "").await;

    // On another browser showing the other variant, signing in does not flip the layout.
    let other = loop {
        let b = visitor(&s).await;
        if layout(&b, &s).await != shown {
            break b;
        }
    };
    let other_shown = layout(&other, &s).await;
    let (status, _) = post(&other, &s, "/api/auth/login", "email=ann%40example.com&password=longenough").await;
    assert_eq!(status, 200);
    assert_eq!(layout(&other, &s).await, other_shown, "no flip mid-visit");
    let html = other.get(s.url("/")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains(&format!(r#"data-cart-layout="{other_shown}""#)));
    // The account keeps its first assignment for the report.
    assert_eq!(exposures(&s, &format!("u:{uid}")).await, vec![(format!("u:{uid}"), shown)]);
}

async fn conversions_are_attributed_in_the_report(backend: Backend) {
    let t = testkit::database(backend).await;
    let s = testkit::spawn(&t.url, None).await;
    let admin = testkit::admin_browser(&s).await;
    set_flag(&admin, &s, true, "page:50,drawer:50").await;
    let product: i64 = sqlx::query_scalar(
        "SELECT id FROM products WHERE option1_name = '' AND stock > 50 AND active = 1 ORDER BY id LIMIT 1",
    )
    .fetch_one(s.state.db.read())
    .await
    .unwrap();
    let mut expected = std::collections::HashMap::<String, (u64, u64, u64, u64)>::new();
    for i in 0..16 {
        let shopper = visitor(&s).await;
        let v = layout(&shopper, &s).await;
        let e = expected.entry(v).or_default();
        e.0 += 1;
        if i % 2 == 0 {
            // Twice: a step counts once per subject.
            for _ in 0..2 {
                assert_eq!(
                    post(&shopper, &s, "/api/cart/add", &format!("product_id={product}&quantity=1")).await.0,
                    200
                );
            }
            e.1 += 1;
        }
        if i % 4 == 0 {
            assert_eq!(post(&shopper, &s, "/api/checkout/summary", "").await.0, 200);
            e.2 += 1;
        }
    }
    // Conversions are written in the background.
    let deadline = Instant::now() + Duration::from_secs(5);
    let report = loop {
        let (status, report) = post(&admin, &s, "/api/admin/experiments/report", "flag=cart_layout").await;
        assert_eq!(status, 200, "{report}");
        let adds: u64 =
            report["variants"].as_array().unwrap().iter().map(|v| v["steps"][0]["conversions"].as_u64().unwrap()).sum();
        if adds == 8 || Instant::now() > deadline {
            break report;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for v in report["variants"].as_array().unwrap() {
        let name = v["variant"].as_str().unwrap();
        let (subjects, adds, checkouts, orders) = expected.get(name).copied().unwrap_or_default();
        assert_eq!(v["subjects"].as_u64().unwrap(), subjects, "{name}: {report}");
        assert_eq!(v["steps"][0]["conversions"].as_u64().unwrap(), adds, "{name}");
        assert_eq!(v["steps"][1]["conversions"].as_u64().unwrap(), checkouts, "{name}");
        assert_eq!(v["steps"][2]["conversions"].as_u64().unwrap(), orders, "{name}");
    }
    assert!(report["variants"][1]["steps"][0]["vs_control"].is_object() || expected.len() < 2);
    // The report page renders the same numbers.
    let html = admin.get(s.url("/admin/experiments/cart_layout")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("data-testid=\"experiment-report\""));
}
