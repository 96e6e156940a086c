//! Checkout over HTTP on SQLite and on PostgreSQL + Redis: a full purchase, no overselling
//! under 50 concurrent buyers, one order per idempotency key, who may see an order, and the
//! checkout page's order summary as text.

use serde_json::Value;
use testkit::{
    both_setups, checkout_form as form, new_key as key, post, products_in_stock as products, setup, stock, Kind,
    TestServer,
};

both_setups!(
    a_guest_buys_two_products,
    fifty_buyers_for_ten_units_make_ten_orders,
    one_idempotency_key_one_order,
    orders_are_private,
    bad_checkout_input_is_refused,
    the_summary_text_separates_item_and_price,
);

/// The quote the checkout summary gives this browser now (what placing the order confirms).
async fn quote(http: &reqwest::Client, s: &TestServer) -> String {
    testkit::checkout_summary(http, s).await["quote"].as_str().unwrap().to_string()
}

async fn a_guest_buys_two_products(kind: Kind) {
    let t = setup(kind).await;
    let s = &t.server;
    let ps = products(s, 2).await;
    let http = testkit::browser();
    post(&http, s, "/api/cart/add", &format!("product_id={}&quantity=2", ps[0].0)).await;
    post(&http, s, "/api/cart/add", &format!("product_id={}&quantity=1", ps[1].0)).await;
    let before = (stock(s, ps[0].0).await, stock(s, ps[1].0).await);
    let (status, summary) = post(&http, s, "/api/checkout/summary", "").await;
    assert_eq!(status, 200);
    let subtotal = 2 * ps[0].1 + ps[1].1;
    assert_eq!(summary["cart"]["subtotal_cents"], subtotal);
    let shipping = if subtotal >= 5000 { 0 } else { 499 };
    assert_eq!(summary["total_cents"], subtotal + shipping);
    assert_eq!(summary["problems"], Value::Array(vec![]));
    let k = summary["idempotency_key"].as_str().unwrap().to_string();
    let q = summary["quote"].as_str().unwrap().to_string();
    let (status, placed) =
        post(&http, s, "/api/checkout/place", &form(&k, &q, "ann%40example.com", "Springfield")).await;
    assert_eq!(status, 200, "{placed}");
    assert_eq!(placed["created"], true);
    let order = &placed["order"];
    assert_eq!(order["total_cents"], subtotal + shipping);
    assert_eq!(order["status"], "paid");
    assert_eq!(order["lines"].as_array().unwrap().len(), 2);
    assert_eq!(order["address"]["postcode"], "AB1 2CD");
    assert_eq!((stock(s, ps[0].0).await, stock(s, ps[1].0).await), (before.0 - 2, before.1 - 1));
    // The cart is empty afterwards; the page says so too.
    let (_, cart) = post(&http, s, "/api/cart", "").await;
    assert!(cart["lines"].as_array().unwrap().is_empty());
    // Purchases are recorded as events, in the same transaction.
    let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE kind = 'purchase' AND order_id = $1")
        .bind(order["id"].as_str().unwrap())
        .fetch_one(s.state.db.read())
        .await
        .unwrap();
    assert_eq!(events, 2);
    // The guest's confirmation page works in this session, and by its link anywhere.
    let id = order["id"].as_str().unwrap();
    let (status, _) = post(&http, s, "/api/orders/get", &format!("id={id}")).await;
    assert_eq!(status, 200);
    let url = placed["url"].as_str().unwrap();
    let page = reqwest::get(s.url(url)).await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().await.unwrap().contains("Thank you for your order"));
}

async fn fifty_buyers_for_ten_units_make_ten_orders(kind: Kind) {
    let t = setup(kind).await;
    let s = &t.server;
    let pid = products(s, 1).await[0].0;
    sqlx::query("UPDATE products SET stock = 10 WHERE id = $1")
        .bind(pid)
        .execute(&mut *s.state.db.write().await.unwrap())
        .await
        .unwrap();
    // The variant is what carts and checkout read (these products have one).
    sqlx::query("UPDATE variants SET stock = 10 WHERE product_id = $1")
        .bind(pid)
        .execute(&mut *s.state.db.write().await.unwrap())
        .await
        .unwrap();
    s.state.catalog.invalidate_product(pid).await;
    let mut buyers = Vec::new();
    for _ in 0..50 {
        let http = testkit::browser();
        let (status, _) = post(&http, s, "/api/cart/add", &format!("product_id={pid}&quantity=1")).await;
        assert_eq!(status, 200);
        buyers.push(http);
    }
    let mut tasks = Vec::new();
    for http in buyers.clone() {
        let url = s.url("/api/checkout/place");
        let q = quote(&http, s).await;
        tasks.push(tokio::spawn(async move {
            let res = http
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form(&key(), &q, "buyer%40example.com", "Springfield"))
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        }));
    }
    let (mut placed, mut refused) = (0, 0);
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            200 => placed += 1,
            409 => {
                let m = body["message"].as_str().unwrap();
                assert!(m.contains("left") || m.contains("sold out"), "{m}");
                refused += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!((placed, refused), (10, 40));
    assert_eq!(stock(s, pid).await, 0, "never below zero");
    let orders: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM order_lines WHERE product_id = $1")
        .bind(pid)
        .fetch_one(s.state.db.read())
        .await
        .unwrap();
    assert_eq!(orders, 10);
    // The forty who missed out keep their carts.
    let mut kept = 0;
    for http in &buyers {
        let (_, cart) = post(http, s, "/api/cart", "").await;
        kept += cart["lines"].as_array().unwrap().len();
    }
    assert_eq!(kept, 40);
}

async fn one_idempotency_key_one_order(kind: Kind) {
    let t = setup(kind).await;
    let s = &t.server;
    let ps = products(s, 1).await;
    let http = testkit::browser();
    post(&http, s, "/api/cart/add", &format!("product_id={}&quantity=3", ps[0].0)).await;
    let before = stock(s, ps[0].0).await;
    let k = key();
    let q = quote(&http, s).await;
    // A double click, a resubmit and retries, all at once.
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (http, url, body) =
            (http.clone(), s.url("/api/checkout/place"), form(&k, &q, "ann%40example.com", "Springfield"));
        tasks.push(tokio::spawn(async move {
            let res = http
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        }));
    }
    let mut ids = Vec::new();
    let mut created = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert_eq!(status, 200, "{body}");
        ids.push(body["order"]["id"].as_str().unwrap().to_string());
        created += usize::from(body["created"] == true);
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one order");
    assert_eq!(created, 1);
    assert_eq!(stock(s, ps[0].0).await, before - 3, "stock taken once");
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE idempotency_key = $1")
        .bind(&k)
        .fetch_one(s.state.db.read())
        .await
        .unwrap();
    assert_eq!(n, 1);
    // Later, the same key with the same contents: the same order. With other contents: refused.
    let (status, again) =
        post(&http, s, "/api/checkout/place", &form(&k, &q, "ann%40example.com", "Springfield")).await;
    assert_eq!((status, again["order"]["id"].as_str().unwrap()), (200, ids[0].as_str()));
    let (status, body) = post(&http, s, "/api/checkout/place", &form(&k, &q, "ann%40example.com", "Shelbyville")).await;
    assert_eq!(status, 409, "{body}");
}

async fn orders_are_private(kind: Kind) {
    let t = setup(kind).await;
    let s = &t.server;
    let ps = products(s, 1).await;
    let (a, b) = (testkit::browser(), testkit::browser());
    for (http, mail) in [(&a, "a"), (&b, "b")] {
        let (status, _) = post(
            http,
            s,
            "/api/auth/register",
            &format!("email={mail}{}%40example.com&password=correct+horse", rand::random::<u32>()),
        )
        .await;
        assert_eq!(status, 200);
    }
    post(&a, s, "/api/cart/add", &format!("product_id={}&quantity=1", ps[0].0)).await;
    let q = quote(&a, s).await;
    let (status, placed) =
        post(&a, s, "/api/checkout/place", &form(&key(), &q, "a%40example.com", "Springfield")).await;
    assert_eq!(status, 200);
    let id = placed["order"]["id"].as_str().unwrap().to_string();
    let (_, list_a) = post(&a, s, "/api/orders", "").await;
    assert_eq!(list_a.as_array().unwrap().len(), 1);
    assert_eq!(list_a[0]["id"], id.as_str());
    let (_, list_b) = post(&b, s, "/api/orders", "").await;
    assert!(list_b.as_array().unwrap().is_empty(), "B sees none of A's orders");
    let (status, _) = post(&b, s, "/api/orders/get", &format!("id={id}")).await;
    assert_eq!(status, 404, "another account cannot read it");
    let (status, _) = post(&b, s, "/api/orders/get", &format!("id={id}&key=wrong-key")).await;
    assert_eq!(status, 404);
    let (status, _) = post(&testkit::browser(), s, "/api/orders", "").await;
    assert_eq!(status, 401);
    let (status, got) = post(&a, s, "/api/orders/get", &format!("id={id}")).await;
    assert_eq!((status, got["id"].as_str().unwrap()), (200, id.as_str()));
}

async fn bad_checkout_input_is_refused(kind: Kind) {
    let t = setup(kind).await;
    let s = &t.server;
    let ps = products(s, 1).await;
    let http = testkit::browser();
    let q = quote(&http, s).await;
    let (status, _) =
        post(&http, s, "/api/checkout/place", &form(&key(), &q, "ann%40example.com", "Springfield")).await;
    assert_eq!(status, 422, "empty cart");
    post(&http, s, "/api/cart/add", &format!("product_id={}&quantity=2", ps[0].0)).await;
    let (_, cart_before) = post(&http, s, "/api/cart", "").await;
    let q = quote(&http, s).await;
    for (body, want) in [
        (form("short", &q, "ann%40example.com", "Springfield"), 400),
        (form(&key(), "not-a-quote", "ann%40example.com", "Springfield"), 400),
        (form(&key(), &q, "not-an-email", "Springfield"), 422),
        (form(&key(), &q, "ann%40example.com", ""), 422),
        (form(&key(), &q, "ann%40example.com", "Springfield").replace("country=US", "country=XX"), 422),
        (form(&key(), &q, "ann%40example.com", "Springfield").replace("&name=Ann+Lee", ""), 400),
        (form(&key(), &q, "ann%40example.com", "Springfield").replace(&format!("&quote={q}"), ""), 400),
    ] {
        let (status, answer) = post(&http, s, "/api/checkout/place", &body).await;
        assert_eq!(status, want, "{body}: {answer}");
        assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // A shortage at the last moment: refused, cart kept as it was.
    sqlx::query("UPDATE products SET stock = 1 WHERE id = $1")
        .bind(ps[0].0)
        .execute(&mut *s.state.db.write().await.unwrap())
        .await
        .unwrap();
    // The variant is what carts and checkout read (these products have one).
    sqlx::query("UPDATE variants SET stock = 1 WHERE product_id = $1")
        .bind(ps[0].0)
        .execute(&mut *s.state.db.write().await.unwrap())
        .await
        .unwrap();
    s.state.catalog.invalidate_product(ps[0].0).await;
    let (status, answer) =
        post(&http, s, "/api/checkout/place", &form(&key(), &q, "ann%40example.com", "Springfield")).await;
    assert_eq!(status, 409, "{answer}");
    assert!(answer["message"].as_str().unwrap().contains("Only 1 left"));
    let (_, cart_after) = post(&http, s, "/api/cart", "").await;
    assert_eq!(cart_after["lines"][0]["quantity"], cart_before["lines"][0]["quantity"]);
    assert_eq!(cart_after["version"], cart_before["version"]);
    assert_eq!(stock(s, ps[0].0).await, 1);
}

/// The checkout page's order lines read "{name} × {quantity} {price}" as text (what a copy or a
/// screen reader gets), not only laid out apart: they once read "Nordic Dutch Oven × 1$168.99".
async fn the_summary_text_separates_item_and_price(kind: Kind) {
    let t = setup(kind).await;
    let s = &t.server;
    let ps = products(s, 2).await;
    let http = testkit::browser();
    post(&http, s, "/api/cart/add", &format!("product_id={}&quantity=2", ps[0].0)).await;
    post(&http, s, "/api/cart/add", &format!("product_id={}&quantity=1", ps[1].0)).await;
    let summary = testkit::checkout_summary(&http, s).await;
    let html = http.get(s.url("/checkout")).send().await.unwrap().text().await.unwrap();
    let start = html.find(r#"<ul class="order-lines">"#).expect("the order summary is rendered on the server");
    let list = &html[start..start + html[start..].find("</ul>").unwrap()];
    // The list's text as a browser collapses it: tags (and hydration comments) out, runs of
    // whitespace as one space.
    let mut text = String::new();
    let mut in_tag = false;
    for c in list.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let lines = summary["cart"]["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2, "{summary}");
    for line in lines {
        let item = format!("{} × {} $", line["name"].as_str().unwrap(), line["quantity"]);
        assert!(text.contains(&item), "{item:?} not in {text:?}");
    }
}
