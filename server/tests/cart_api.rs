//! The cart endpoints over HTTP, against the embedded default (SQLite, SQL sessions and carts)
//! and against PostgreSQL + Redis: concurrency, every kind of bad input, restore, forms without
//! JavaScript and cross-site refusal.

use serde_json::Value;
use testkit::{both_setups, post_json as post, setup, Kind, TestServer};

both_setups!(
    hundred_concurrent_adds_stop_at_99,
    fifty_products_at_once_all_land,
    bad_input_is_refused_and_changes_nothing,
    restore_validates_and_never_overrides,
    forms_without_javascript_redirect_with_a_message,
    cross_site_posts_are_refused,
);

/// A product in stock with at least `min_stock` units (stock raised if needed).
async fn product(s: &TestServer, min_stock: i64) -> i64 {
    let id: i64 = sqlx::query_scalar(
        "SELECT id FROM products WHERE option1_name = '' AND active = 1 ORDER BY id LIMIT 1 OFFSET 10",
    )
    .fetch_one(s.state.db.read())
    .await
    .unwrap();
    sqlx::query("UPDATE products SET stock = $1 WHERE id = $2 AND stock < $1")
        .bind(min_stock)
        .bind(id)
        .execute(&mut *s.state.db.write().await.unwrap())
        .await
        .unwrap();
    // The variant is what carts and checkout read (these products have one).
    sqlx::query("UPDATE variants SET stock = $1 WHERE product_id = $2 AND stock < $1")
        .bind(min_stock)
        .bind(id)
        .execute(&mut *s.state.db.write().await.unwrap())
        .await
        .unwrap();
    s.state.catalog.invalidate_product(id).await;
    id
}

fn quantity(cart: &Value, product_id: i64) -> u64 {
    cart["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["product_id"] == product_id)
        .map(|l| l["quantity"].as_u64().unwrap())
        .unwrap_or(0)
}

async fn hundred_concurrent_adds_stop_at_99(kind: Kind) {
    let t = setup(kind).await;
    let s = &t.server;
    let http = testkit::browser();
    let pid = product(s, 500).await;
    // The first add creates the session every later request shares.
    let (status, _) = post(&http, s, "/api/cart/add", "product_id=1&quantity=1").await;
    assert_eq!(status, 200);
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (http, url) = (http.clone(), s.url("/api/cart/add"));
        tasks.push(tokio::spawn(async move {
            let res = http
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("product_id={pid}&quantity=1"))
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        }));
    }
    let mut capped = 0;
    for task in tasks {
        let (status, body) = task.await.unwrap();
        assert_eq!(status, 200, "no error but the cap message: {body}");
        let notices = body["notices"].as_array().unwrap();
        if notices.iter().any(|n| n.as_str().unwrap().contains("At most 99")) {
            capped += 1;
        } else {
            assert!(notices.is_empty(), "{notices:?}");
        }
    }
    assert_eq!(capped, 1, "exactly one add found the line full");
    let (_, cart) = post(&http, s, "/api/cart", "").await;
    assert_eq!(quantity(&cart, pid), 99);
    assert_eq!(quantity(&cart, 1), 1);
    assert_eq!(cart["item_count"], 100);
}

async fn fifty_products_at_once_all_land(kind: Kind) {
    let t = setup(kind).await;
    let s = &t.server;
    let http = testkit::browser();
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM products WHERE option1_name = '' AND active = 1 AND stock > 0 ORDER BY id LIMIT 51",
    )
    .fetch_all(s.state.db.read())
    .await
    .unwrap();
    let (status, _) = post(&http, s, "/api/cart/add", &format!("product_id={}&quantity=1", ids[50])).await;
    assert_eq!(status, 200);
    let mut tasks = Vec::new();
    for &pid in &ids[..50] {
        let (http, url) = (http.clone(), s.url("/api/cart/add"));
        tasks.push(tokio::spawn(async move {
            http.post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("product_id={pid}&quantity=1"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    let (_, cart) = post(&http, s, "/api/cart", "").await;
    assert_eq!(cart["lines"].as_array().unwrap().len(), 51);
    for &pid in &ids {
        assert_eq!(quantity(&cart, pid), 1, "product {pid}");
    }
    assert!(cart["version"].as_u64().unwrap() >= 51);
}

async fn bad_input_is_refused_and_changes_nothing(kind: Kind) {
    let t = setup(kind).await;
    let s = &t.server;
    let http = testkit::browser();
    let pid = product(s, 50).await;
    let (_, before) = post(&http, s, "/api/cart/add", &format!("product_id={pid}&quantity=2")).await;
    let cases: Vec<(&str, String, u16)> = vec![
        ("/api/cart/add", format!("product_id={pid}&quantity=0"), 422),
        ("/api/cart/add", format!("product_id={pid}&quantity=-1"), 422),
        ("/api/cart/add", format!("product_id={pid}&quantity=100"), 422),
        ("/api/cart/add", format!("product_id={pid}&quantity=abc"), 400),
        ("/api/cart/add", format!("product_id={pid}&quantity=9223372036854775808"), 422),
        ("/api/cart/add", format!("product_id={pid}&quantity=1.5"), 400),
        ("/api/cart/add", format!("product_id={pid}"), 400),
        ("/api/cart/add", "product_id=987654321&quantity=1".into(), 422),
        ("/api/cart/add", "product_id=-5&quantity=1".into(), 422),
        ("/api/cart/add", "product_id=&quantity=1".into(), 400),
        ("/api/cart/add", "quantity=1".into(), 400),
        ("/api/cart/add", "%%%".into(), 400),
        ("/api/cart/set", format!("product_id={pid}&quantity=100"), 422),
        ("/api/cart/set", format!("product_id={pid}&quantity=-1"), 422),
        ("/api/cart/remove", "product_id=abc".into(), 400),
        ("/api/cart/restore", "lines=not-json".into(), 400),
        ("/api/cart/restore", "lines=%7B%7D".into(), 400),
    ];
    for (path, body, want) in cases {
        let (status, answer) = post(&http, s, path, &body).await;
        assert_eq!(status, want, "{path} {body}: {answer}");
        assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()), "{path} {body}: clear message");
    }
    // A body that is not form-encoded, and one over 16 KB.
    let res = http
        .post(s.url("/api/cart/add"))
        .header("content-type", "application/json")
        .body(format!(r#"{{"product_id":{pid},"quantity":1}}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 415);
    assert!(res.json::<Value>().await.unwrap()["message"].as_str().unwrap().contains("form-encoded"));
    let res = http
        .post(s.url("/api/cart/add"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("product_id={pid}&quantity=1&pad={}", "x".repeat(17 * 1024)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 413);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "payload_too_large");
    // A sold-out product cannot be added.
    sqlx::query("UPDATE products SET stock = 0 WHERE id = 2")
        .execute(&mut *s.state.db.write().await.unwrap())
        .await
        .unwrap();
    // The variant is what carts and checkout read (these products have one).
    sqlx::query("UPDATE variants SET stock = 0 WHERE product_id = 2")
        .execute(&mut *s.state.db.write().await.unwrap())
        .await
        .unwrap();
    s.state.catalog.invalidate_product(2).await;
    let (status, answer) = post(&http, s, "/api/cart/add", "product_id=2&quantity=1").await;
    assert_eq!(status, 422);
    assert!(answer["message"].as_str().unwrap().contains("sold out"));
    let (_, after) = post(&http, s, "/api/cart", "").await;
    assert_eq!(after["version"], before["version"], "nothing changed the cart");
    assert_eq!(after["lines"], before["lines"]);
}

async fn restore_validates_and_never_overrides(kind: Kind) {
    let t = setup(kind).await;
    let s = &t.server;
    let http = testkit::browser();
    let a = product(s, 3).await;
    sqlx::query("UPDATE products SET stock = 3 WHERE id = $1")
        .bind(a)
        .execute(&mut *s.state.db.write().await.unwrap())
        .await
        .unwrap();
    // The variant is what carts and checkout read (these products have one).
    sqlx::query("UPDATE variants SET stock = 3 WHERE product_id = $1")
        .bind(a)
        .execute(&mut *s.state.db.write().await.unwrap())
        .await
        .unwrap();
    sqlx::query("UPDATE products SET stock = 0 WHERE id = 3")
        .execute(&mut *s.state.db.write().await.unwrap())
        .await
        .unwrap();
    // The variant is what carts and checkout read (these products have one).
    sqlx::query("UPDATE variants SET stock = 0 WHERE product_id = 3")
        .execute(&mut *s.state.db.write().await.unwrap())
        .await
        .unwrap();
    s.state.catalog.invalidate_all();
    let lines = format!(
        r#"[{{"product_id":{a},"quantity":7}},{{"product_id":3,"quantity":1}},{{"product_id":999999,"quantity":2}},{{"product_id":4,"quantity":2}}]"#
    );
    let body = format!("lines={}", urlencode(&lines));
    let (status, cart) = post(&http, s, "/api/cart/restore", &body).await;
    assert_eq!(status, 200, "{cart}");
    assert_eq!(quantity(&cart, a), 3, "capped at stock");
    assert_eq!(quantity(&cart, 3), 0, "sold out: dropped");
    assert_eq!(quantity(&cart, 999999), 0, "unknown: dropped");
    assert_eq!(quantity(&cart, 4), 2);
    let notices: Vec<&str> = cart["notices"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
    assert!(notices.iter().any(|n| n.contains("restored")), "{notices:?}");
    assert!(notices.iter().any(|n| n.contains("sold out")), "{notices:?}");
    assert!(notices.iter().any(|n| n.contains("no longer available")), "{notices:?}");
    assert!(notices.iter().any(|n| n.contains("Only 3")), "{notices:?}");
    // Restoring again (a second tab, a retry) does not add anything: the server wins.
    let (status, again) = post(&http, s, "/api/cart/restore", &body).await;
    assert_eq!(status, 200);
    assert_eq!(again["lines"], cart["lines"]);
    assert_eq!(again["version"], cart["version"]);
    // Nor does it revive a cart the shopper emptied.
    post(&http, s, "/api/cart/clear", "").await;
    let (_, emptied) = post(&http, s, "/api/cart/restore", &body).await;
    assert!(emptied["lines"].as_array().unwrap().is_empty());
}

async fn forms_without_javascript_redirect_with_a_message(kind: Kind) {
    let t = setup(kind).await;
    let s = &t.server;
    let http = testkit::browser();
    let pid = product(s, 20).await;
    let form = |path: &str, body: String| {
        http.post(s.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "text/html,application/xhtml+xml")
            .header("referer", s.url("/c/kitchen?page=2"))
            .body(body)
    };
    let res = form("/api/cart/add", format!("product_id={pid}&quantity=2")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 303);
    assert_eq!(res.headers()["location"], "/c/kitchen?page=2");
    let cookies: Vec<String> =
        res.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect();
    assert!(cookies.iter().any(|c| c.starts_with("flash=ok:Added")), "{cookies:?}");
    // The next page shows the message once and clears it.
    let page = http.get(s.url("/c/kitchen?page=2")).send().await.unwrap();
    let clears = page.headers().get_all("set-cookie").iter().any(|v| v.to_str().unwrap().starts_with("flash=;"));
    let html = page.text().await.unwrap();
    assert!(html.contains("Added to your cart."));
    assert!(clears, "the flash cookie is cleared");
    assert!(html.contains(r#"data-testid="cart-count" aria-label="2 items in cart""#), "badge rendered on the server");
    // An error goes back too, with the message, and changes nothing.
    let res = form("/api/cart/add", format!("product_id={pid}&quantity=abc")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 303);
    assert_eq!(res.headers()["location"], "/c/kitchen?page=2");
    let flash = res.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect::<Vec<_>>();
    assert!(flash.iter().any(|c| c.starts_with("flash=error:Quantity")), "{flash:?}");
    assert_eq!(flash.iter().filter(|c| c.starts_with("flash=")).count(), 1, "one message: {flash:?}");
    let (_, cart) = post(&http, s, "/api/cart", "").await;
    assert_eq!(quantity(&cart, pid), 2);
    // The cart page renders the lines on the server, forms and all.
    let html = http.get(s.url("/cart")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains(r#"action="/api/cart/set""#) && html.contains(r#"action="/api/cart/remove""#));
}

async fn cross_site_posts_are_refused(kind: Kind) {
    let t = setup(kind).await;
    let s = &t.server;
    let http = testkit::browser();
    let pid = product(s, 20).await;
    let (_, before) = post(&http, s, "/api/cart/add", &format!("product_id={pid}&quantity=1")).await;
    for (header, value) in [("origin", "https://evil.example"), ("referer", "https://evil.example/page")] {
        let res = http
            .post(s.url("/api/cart/add"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header(header, value)
            .body(format!("product_id={pid}&quantity=5"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 403, "{header}");
    }
    let res = http
        .post(s.url("/api/cart/add"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", s.origin())
        .body(format!("product_id={pid}&quantity=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200, "our own origin is fine");
    let (_, after) = post(&http, s, "/api/cart", "").await;
    assert_eq!(quantity(&after, pid), quantity(&before, pid) + 1);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
