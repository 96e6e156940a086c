//! Products with variants over HTTP, on the embedded default (SQLite) and on PostgreSQL + Redis:
//! cart lines per variant with their options, the API's compatibility with clients that send
//! only `product_id`, refusals that change nothing, 100 concurrent adds capped at one variant's
//! stock, the sign-in merge of one variant from both carts, the order's snapshot of SKU and
//! options, the product page's variant links; and a database filled before variants existed,
//! migrated.

use serde_json::Value;
use testkit::{both_setups, post, setup, Kind, TestServer};

both_setups!(
    lines_are_per_variant_and_keep_their_options,
    product_id_alone_works_only_for_one_variant,
    hundred_concurrent_adds_stop_at_the_variants_stock,
    the_same_variant_from_guest_and_account_carts_merges_once,
    checkout_takes_variant_stock_and_keeps_sku_and_options,
    the_product_page_picks_variants_with_and_without_javascript,
);

/// A product with options: (product id, slug, its in-stock variants as (id, sku)).
async fn product_with_options(s: &TestServer) -> (i64, String, Vec<(i64, String)>) {
    let (pid, slug): (i64, String) = sqlx::query_as(
        "SELECT p.id, p.slug FROM products p WHERE p.active = 1 AND p.option2_name <> '' AND \
         (SELECT COUNT(*) FROM variants v WHERE v.product_id = p.id AND v.stock >= 5) >= 3 ORDER BY p.id LIMIT 1",
    )
    .fetch_one(s.state.db.read())
    .await
    .unwrap();
    let variants: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, sku FROM variants WHERE product_id = $1 AND stock >= 5 ORDER BY position, id")
            .bind(pid)
            .fetch_all(s.state.db.read())
            .await
            .unwrap();
    (pid, slug, variants)
}

async fn cart(http: &reqwest::Client, s: &TestServer) -> Value {
    let (status, body) = post(http, s, "/api/cart", "").await;
    assert_eq!(status, 200, "{body}");
    body
}

fn line(cart: &Value, variant: i64) -> Option<&Value> {
    cart["lines"].as_array().unwrap().iter().find(|l| l["variant_id"] == variant)
}

async fn variant_stock(s: &TestServer, id: i64) -> i64 {
    sqlx::query_scalar("SELECT stock FROM variants WHERE id = $1").bind(id).fetch_one(s.state.db.read()).await.unwrap()
}

async fn product_totals(s: &TestServer, pid: i64) -> (i64, i64, i64, i64) {
    let (stock, price): (i64, i64) = sqlx::query_as("SELECT stock, price_cents FROM products WHERE id = $1")
        .bind(pid)
        .fetch_one(s.state.db.read())
        .await
        .unwrap();
    let (sum, min): (i64, i64) =
        sqlx::query_as("SELECT CAST(SUM(stock) AS BIGINT), MIN(price_cents) FROM variants WHERE product_id = $1")
            .bind(pid)
            .fetch_one(s.state.db.read())
            .await
            .unwrap();
    (stock, sum, price, min)
}

async fn lines_are_per_variant_and_keep_their_options(kind: Kind) {
    let setup = setup(kind).await;
    let s = &setup.server;
    let (pid, _, variants) = product_with_options(s).await;
    let http = testkit::browser();
    let (a, b) = (variants[0].0, variants[1].0);
    for (v, q) in [(a, 2), (b, 1), (a, 1)] {
        let (status, body) = post(&http, s, "/api/cart/add", &format!("variant_id={v}&quantity={q}")).await;
        assert_eq!(status, 200, "{body}");
    }
    let c = cart(&http, s).await;
    assert_eq!(c["lines"].as_array().unwrap().len(), 2, "two variants, two lines: {c}");
    let la = line(&c, a).unwrap();
    assert_eq!((la["quantity"].as_u64(), la["product_id"].as_i64()), (Some(3), Some(pid)));
    let options = la["options"].as_str().unwrap();
    assert!(options.starts_with("Size: ") && options.contains(" / Colour: "), "{options}");
    assert_ne!(la["options"], line(&c, b).unwrap()["options"]);
    assert_eq!(la["sku"].as_str(), Some(variants[0].1.as_str()));

    // Set and remove act on one variant only.
    let (status, body) = post(&http, s, "/api/cart/set", &format!("variant_id={a}&quantity=1")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(line(&body, a).unwrap()["quantity"], 1);
    assert_eq!(line(&body, b).unwrap()["quantity"], 1);
    let (status, body) = post(&http, s, "/api/cart/remove", &format!("variant_id={b}")).await;
    assert_eq!(status, 200, "{body}");
    assert!(line(&body, b).is_none() && line(&body, a).is_some());
}

async fn product_id_alone_works_only_for_one_variant(kind: Kind) {
    let setup = setup(kind).await;
    let s = &setup.server;
    let (pid, _, variants) = product_with_options(s).await;
    let http = testkit::browser();
    let before = cart(&http, s).await;

    // Several variants: a clear 422 naming the options, and nothing changes.
    let (status, body) = post(&http, s, "/api/cart/add", &format!("product_id={pid}&quantity=1")).await;
    assert_eq!(status, 422, "{body}");
    let message = body.to_string();
    assert!(message.contains("Size") && message.contains("Colour"), "{message}");

    // A variant of another product, an unknown variant, a malformed one.
    let other: i64 = sqlx::query_scalar("SELECT id FROM products WHERE option1_name = '' AND active = 1 LIMIT 1")
        .fetch_one(s.state.db.read())
        .await
        .unwrap();
    let v = variants[0].0;
    for (form, want) in [
        (format!("variant_id={v}&product_id={other}&quantity=1"), 422),
        ("variant_id=987654321&quantity=1".to_string(), 422),
        ("variant_id=abc&quantity=1".to_string(), 400),
        ("variant_id=-4&quantity=1".to_string(), 422),
        ("quantity=1".to_string(), 400),
    ] {
        let (status, body) = post(&http, s, "/api/cart/add", &form).await;
        assert_eq!(status, want, "{form}: {body}");
    }
    assert_eq!(cart(&http, s).await["lines"], before["lines"], "refusals change nothing");

    // One variant: product_id alone still works (clients written before variants), and the line
    // carries both ids (for a one-variant product made before variants, they are equal).
    let (status, body) = post(&http, s, "/api/cart/add", &format!("product_id={other}&quantity=2")).await;
    assert_eq!(status, 200, "{body}");
    let l = &body["lines"][0];
    assert_eq!(
        (l["product_id"].as_i64(), l["variant_id"].as_i64(), l["quantity"].as_u64()),
        (Some(other), Some(other), Some(2))
    );
    // With both ids matching, too.
    let (status, body) = post(&http, s, "/api/cart/add", &format!("variant_id={v}&product_id={pid}&quantity=1")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(line(&body, v).unwrap()["quantity"], 1);
}

async fn hundred_concurrent_adds_stop_at_the_variants_stock(kind: Kind) {
    let setup = setup(kind).await;
    let s = &setup.server;
    let (pid, _, variants) = product_with_options(s).await;
    let v = variants[0].0;
    let sku = variants[0].1.clone();
    let admin = testkit::admin_browser(s).await;
    let (status, body) = post(&admin, s, "/api/admin/products/update", &format!("slug={sku}&stock=7")).await;
    assert_eq!(status, 200, "{body}");
    let (stock, sum, _, _) = product_totals(s, pid).await;
    assert_eq!(stock, sum, "the product's stock is its variants'");

    let http = testkit::browser();
    // The first add starts the guest's session, which the other 99 then share.
    let (status, body) = post(&http, s, "/api/cart/add", &format!("variant_id={v}&quantity=1")).await;
    assert_eq!(status, 200, "{body}");
    let adds = (0..99).map(|_| {
        let http = http.clone();
        async move { post(&http, s, "/api/cart/add", &format!("variant_id={v}&quantity=1")).await.0 }
    });
    let statuses = futures::future::join_all(adds).await;
    assert!(statuses.iter().all(|st| *st == 200 || *st == 409), "{statuses:?}");
    let c = cart(&http, s).await;
    assert_eq!(line(&c, v).unwrap()["quantity"], 7, "capped at the variant's stock: {c}");
}

async fn the_same_variant_from_guest_and_account_carts_merges_once(kind: Kind) {
    let setup = setup(kind).await;
    let s = &setup.server;
    let (_, _, variants) = product_with_options(s).await;
    let (v, other) = (variants[0].0, variants[1].0);
    let mail = format!("variant{}@example.com", rand::random::<u32>());
    let creds = format!("email={mail}&password=correct+horse+battery");

    let account = testkit::browser();
    assert_eq!(post(&account, s, "/api/auth/register", &creds).await.0, 200);
    assert_eq!(post(&account, s, "/api/cart/add", &format!("variant_id={v}&quantity=1")).await.0, 200);

    let guest = testkit::browser();
    assert_eq!(post(&guest, s, "/api/cart/add", &format!("variant_id={v}&quantity=2")).await.0, 200);
    assert_eq!(post(&guest, s, "/api/cart/add", &format!("variant_id={other}&quantity=1")).await.0, 200);
    let (status, body) = post(&guest, s, "/api/auth/login", &creds).await;
    assert_eq!(status, 200, "{body}");
    let merged = &body["cart"];
    assert_eq!(line(merged, v).unwrap()["quantity"], 3, "{merged}");
    assert_eq!(line(merged, other).unwrap()["quantity"], 1);

    // Signing in again (another tab, a retry) merges nothing twice.
    let (status, body) = post(&guest, s, "/api/auth/login", &creds).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(line(&cart(&guest, s).await, v).unwrap()["quantity"], 3);
}

async fn checkout_takes_variant_stock_and_keeps_sku_and_options(kind: Kind) {
    let setup = setup(kind).await;
    let s = &setup.server;
    let (pid, _, variants) = product_with_options(s).await;
    let (a, b) = (variants[0].0, variants[1].0);
    let (stock_a, stock_b) = (variant_stock(s, a).await, variant_stock(s, b).await);
    let http = testkit::browser();
    post(&http, s, "/api/cart/add", &format!("variant_id={a}&quantity=2")).await;
    post(&http, s, "/api/cart/add", &format!("variant_id={b}&quantity=1")).await;
    let summary = testkit::checkout_summary(&http, s).await;
    let form = testkit::checkout_form(
        &testkit::new_key(),
        summary["quote"].as_str().unwrap(),
        "variants%40example.com",
        "Leeds",
    );
    let (status, placed) = post(&http, s, "/api/checkout/place", &form).await;
    assert_eq!(status, 200, "{placed}");
    let lines = placed["order"]["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2, "{placed}");
    for l in lines {
        assert_eq!(l["product_id"], pid);
        let sku = l["sku"].as_str().unwrap();
        assert!(variants.iter().any(|(id, s)| s == sku && l["variant_id"] == *id), "{l}");
        assert!(l["options"].as_str().unwrap().starts_with("Size: "), "{l}");
    }
    assert_eq!(variant_stock(s, a).await, stock_a - 2);
    assert_eq!(variant_stock(s, b).await, stock_b - 1);
    let (stock, sum, price, min) = product_totals(s, pid).await;
    assert_eq!((stock, price), (sum, min), "the product's totals follow its variants");
    // The snapshot stays as ordered when the catalogue changes.
    sqlx::query("UPDATE variants SET option1 = 'Renamed' WHERE id = $1")
        .bind(a)
        .execute(s.state.db.read())
        .await
        .unwrap();
    let id = placed["order"]["id"].as_str().unwrap();
    let order = s.state.orders.get(id).await.unwrap().unwrap();
    assert!(order.view.lines.iter().all(|l| !l.options.contains("Renamed")));
}

async fn the_product_page_picks_variants_with_and_without_javascript(kind: Kind) {
    let setup = setup(kind).await;
    let s = &setup.server;
    let (_, slug, variants) = product_with_options(s).await;
    let (size, colour): (String, String) = sqlx::query_as("SELECT option1, option2 FROM variants WHERE id = $1")
        .bind(variants[1].0)
        .fetch_one(s.state.db.read())
        .await
        .unwrap();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    // The picker form without JavaScript: the picked values become the variant's own address.
    let res = http.get(s.url(&format!("/p/{slug}?o1={size}&o2={colour}"))).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(location, format!("/p/{slug}?variant={}", variants[1].1));
    // That address renders the variant, its radio buttons checked.
    let page = http.get(s.url(&location)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(&format!("name=\"variant_id\" value=\"{}\"", variants[1].0)), "the form adds this variant");
    // (Leptos may put a hydration marker after a text node: `<legend>Size<!></legend>`.)
    assert!(page.contains("<legend>Size<") && page.contains("<legend>Colour<"), "both option groups");
    // Hostile or unknown values land on a real variant, never an error.
    for q in ["o1=%00&o2=x", "variant=nope", "o1=<script>", "o3=x"] {
        let res = http.get(s.url(&format!("/p/{slug}?{q}"))).send().await.unwrap();
        assert!(res.status() == 200 || res.status() == 303, "{q}: {}", res.status());
        if let Some(loc) = res.headers().get("location") {
            assert!(loc.to_str().unwrap().starts_with(&format!("/p/{slug}?variant=")));
        }
    }
}

/// A database filled by the code before variants (migrations up to 0008) keeps every product,
/// cart, order and event valid after the variants migration.
async fn migrates_old_data(db_url: &str) {
    use app::storage::db::Db;
    let dir = tempfile::tempdir().unwrap();
    let dialect = if db_url.starts_with("sqlite") { "sqlite" } else { "postgres" };
    let source = format!("{}/../migrations/{dialect}", env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(&source).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.as_str() < "0009" {
            std::fs::copy(&path, dir.path().join(&name)).unwrap();
        }
    }
    let db = Db::connect(db_url, 2).await.unwrap();
    let old = sqlx::migrate::Migrator::new(dir.path()).await.unwrap();
    let mut conn = db.write().await.unwrap();
    old.run_direct(&mut *conn).await.unwrap();
    for sql in [
        "INSERT INTO categories (id, slug, name, description) VALUES (1, 'kitchen', 'Kitchen', 'Pots')",
        "INSERT INTO products (id, slug, name, description, category_id, price_cents, stock, image, created_at, search_text) \
         VALUES (5, 'iron-pan-5', 'Iron Pan', 'A pan.', 1, 2500, 12, '/img/kitchen-1.svg', 1, 'iron pan')",
        "INSERT INTO products (id, slug, name, description, category_id, price_cents, stock, image, created_at, search_text) \
         VALUES (6, 'tea-pot-6', 'Tea Pot', 'A pot.', 1, 1800, 0, '/img/kitchen-2.svg', 1, 'tea pot')",
        "INSERT INTO carts (id, owner, version, updated_at) VALUES (1, 'u:1', 4, 1)",
        "INSERT INTO cart_items (cart_id, product_id, quantity, price_cents, position) VALUES (1, 5, 2, 2500, 1)",
        "INSERT INTO orders (id, reference, email, status, currency, subtotal_cents, shipping_cents, total_cents, ship_name, \
         ship_line1, ship_line2, ship_city, ship_postcode, ship_country, access_token, idempotency_key, request_hash, \
         payment_ref, created_at) VALUES ('o1', 'R1', 'a@b.c', 'paid', 'USD', 3600, 0, 3600, 'A', 'B', '', 'C', 'D', 'GB', \
         't', 'k', 'h', 'p', 1)",
        "INSERT INTO order_lines (order_id, product_id, name, unit_price_cents, quantity, line_total_cents) \
         VALUES ('o1', 6, 'Tea Pot', 1800, 2, 3600)",
        "INSERT INTO events (subject, kind, product_id, created_at) VALUES ('u:1', 'view', 5, 1)",
    ] {
        sqlx::query(sql).execute(&mut *conn).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    drop(conn);
    db.migrate().await.expect("the variants migration runs on old data");

    let variants: Vec<(i64, i64, String, i64, i64)> =
        sqlx::query_as("SELECT id, product_id, sku, price_cents, stock FROM variants ORDER BY id")
            .fetch_all(db.read())
            .await
            .unwrap();
    assert_eq!(
        variants,
        vec![(5, 5, "iron-pan-5".into(), 2500, 12), (6, 6, "tea-pot-6".into(), 1800, 0)],
        "every product became a one-variant product with its own id"
    );
    let cart: (i64, i64) =
        sqlx::query_as("SELECT variant_id, quantity FROM cart_items").fetch_one(db.read()).await.unwrap();
    assert_eq!(cart, (5, 2), "the cart line now names the product's variant");
    let order: (i64, i64, String, String) =
        sqlx::query_as("SELECT product_id, variant_id, sku, options FROM order_lines WHERE order_id = 'o1'")
            .fetch_one(db.read())
            .await
            .unwrap();
    assert_eq!(order, (6, 6, "tea-pot-6".into(), String::new()));
    let max: i64 =
        sqlx::query_scalar("SELECT max_price_cents FROM products WHERE id = 5").fetch_one(db.read()).await.unwrap();
    assert_eq!(max, 2500);
    // And the shop reads them: the old cart, with the catalogue behind it.
    let catalog = app::storage::catalog::SqlCatalog::new(db.clone());
    let cards = catalog.variant_cards(&[5]).await.unwrap();
    assert_eq!((cards[0].product_id, cards[0].name.as_str(), cards[0].options.as_str()), (5, "Iron Pan", ""));
    let page = catalog.product_by_slug("iron-pan-5").await.unwrap().unwrap();
    assert_eq!((page.variants.len(), page.option_names.len(), page.card.single_variant), (1, 0, Some(5)));
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_sqlite_data_migrates() {
    let dir = tempfile::tempdir().unwrap();
    migrates_old_data(&testkit::sqlite_url(&dir, "old.db")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_postgres_data_migrates() {
    let admin = std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| testkit::PG_DEFAULT.into());
    let name = format!(
        "shop_test_{}_{:08x}",
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
        rand::random::<u32>()
    );
    let url = testkit::create_postgres_database(&admin, &name).await.expect("PostgreSQL is required");
    migrates_old_data(&url).await;
    testkit::drop_postgres_database(&admin, &name).await;
}
