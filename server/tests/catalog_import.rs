//! `server catalog import` against SQLite and PostgreSQL: the sample Shopify export
//! (`samples/shopify_products.csv`), a second import that changes nothing, a changed price, a
//! refused row (nothing imported, or the other products with --skip-invalid), a SKU of another
//! product, and two imports at once.

use app::storage::db::Db;
use server::catalog_import::{import_bytes, Counts, ImportError, ImportOptions, ImportReport};
use std::collections::HashSet;
use testkit::{database, Backend};

/// Runs an async test body once per database.
macro_rules! both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Backend::Sqlite).await } )* }
        mod postgres { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Backend::Postgres).await } )* }
    };
}

both_databases!(
    the_sample_imports_and_importing_it_again_changes_nothing,
    a_changed_price_updates_that_variant_and_logs_its_product,
    a_bad_row_imports_nothing_unless_skip_invalid,
    a_sku_of_another_product_is_refused,
    two_imports_at_once_both_land,
);

const SAMPLE: &str = include_str!("../../samples/shopify_products.csv");
const SAMPLE_PRODUCTS: usize = 32;
const SAMPLE_VARIANTS: usize = 111;

fn options(skip_invalid: bool) -> ImportOptions {
    ImportOptions {
        skip_invalid,
        category_column: None,
        public_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/../public").into(),
    }
}

async fn import(db: &Db, csv: &str, skip_invalid: bool) -> ImportReport {
    import_bytes(db, csv.as_bytes(), &options(skip_invalid)).await.expect("the import runs")
}

async fn count(db: &Db, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db.read()).await.unwrap()
}

async fn product(db: &Db, slug: &str) -> (i64, i64, i64, i64, i64) {
    sqlx::query_as("SELECT id, price_cents, max_price_cents, stock, active FROM products WHERE slug = $1")
        .bind(slug)
        .fetch_one(db.read())
        .await
        .unwrap_or_else(|e| panic!("{slug}: {e}"))
}

/// Products whose price range or stock disagree with their variants.
async fn wrong_aggregates(db: &Db) -> i64 {
    count(
        db,
        "SELECT COUNT(*) FROM products p JOIN (SELECT product_id, MIN(price_cents) AS low, MAX(price_cents) AS high, \
         SUM(stock) AS units FROM variants GROUP BY product_id) v ON v.product_id = p.id \
         WHERE p.price_cents <> v.low OR p.max_price_cents <> v.high OR p.stock <> v.units",
    )
    .await
}

/// `csv` with the cell of `column` set to `value` in the row of variant `sku`.
fn with_cell(csv: &str, sku: &str, column: &str, value: &str) -> String {
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header = reader.headers().unwrap().clone();
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
    writer.write_record(&header).unwrap();
    let mut found = false;
    for record in reader.records() {
        let mut record: Vec<String> = record.unwrap().iter().map(String::from).collect();
        if record[at("Variant SKU")] == sku {
            record[at(column)] = value.to_string();
            found = true;
        }
        writer.write_record(&record).unwrap();
    }
    assert!(found, "no variant {sku}");
    String::from_utf8(writer.into_inner().unwrap()).unwrap()
}

/// The line of the file where the row of variant `sku` starts.
fn line_of(csv: &str, sku: &str) -> u64 {
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let at = reader.headers().unwrap().iter().position(|h| h == "Variant SKU").unwrap();
    reader.records().map(Result::unwrap).find(|r| &r[at] == sku).map(|r| r.position().unwrap().line()).unwrap()
}

/// `csv`'s header and the rows `keep` says yes to, given their handle and SKU.
fn only(csv: &str, keep: impl Fn(&str, &str) -> bool) -> String {
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header = reader.headers().unwrap().clone();
    let sku = header.iter().position(|h| h == "Variant SKU").unwrap();
    let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
    writer.write_record(&header).unwrap();
    for record in reader.records() {
        let record = record.unwrap();
        if keep(&record[0], &record[sku]) {
            writer.write_record(&record).unwrap();
        }
    }
    String::from_utf8(writer.into_inner().unwrap()).unwrap()
}

/// The handles of `csv`, in order.
fn handles(csv: &str) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for record in csv::Reader::from_reader(csv.as_bytes()).records() {
        let handle = record.unwrap()[0].to_string();
        if !seen.contains(&handle) {
            seen.push(handle);
        }
    }
    seen
}

async fn the_sample_imports_and_importing_it_again_changes_nothing(backend: Backend) {
    let t = database(backend).await;
    let db = &t.db;
    let (products_before, changes_before) =
        (count(db, "SELECT COUNT(*) FROM products").await, count(db, "SELECT COUNT(*) FROM catalog_changes").await);

    let report = import(db, SAMPLE, false).await;
    assert!(report.imported && !report.failed(), "{report}");
    assert_eq!(report.rejected, vec![], "{report}");
    assert_eq!(report.products, Counts { created: SAMPLE_PRODUCTS, updated: 0, unchanged: 0 });
    assert_eq!(report.variants, Counts { created: SAMPLE_VARIANTS, updated: 0, unchanged: 0 });
    // The demo shop has the others (matched by name, "Home & Decor", or slug).
    assert_eq!(report.categories_created, ["Stationery", "Uncategorised"]);
    let printed = report.to_string();
    assert!(printed.contains("products: 32 created, 0 updated, 0 unchanged"), "{printed}");
    assert!(printed.contains("variants: 111 created, 0 updated, 0 unchanged"), "{printed}");
    assert_eq!(count(db, "SELECT COUNT(*) FROM products").await, products_before + SAMPLE_PRODUCTS as i64);
    assert_eq!(count(db, "SELECT COUNT(*) FROM catalog_changes").await, changes_before + SAMPLE_PRODUCTS as i64);
    assert_eq!(wrong_aggregates(db).await, 0);

    // Size × colour, two sold out, XL dearer.
    let (tee, low, high, stock, active) = product(db, "merino-crew-tee").await;
    assert_eq!((low, high, stock, active), (3800, 4000, 10 * 12, 1));
    assert_eq!(count(db, &format!("SELECT COUNT(*) FROM variants WHERE product_id = {tee}")).await, 12);
    let (image, search_text, names): (String, String, String) = sqlx::query_as(
        "SELECT image, search_text, option1_name || '/' || option2_name || '/' || option3_name FROM products \
         WHERE slug = 'merino-crew-tee'",
    )
    .fetch_one(db.read())
    .await
    .unwrap();
    assert_eq!((image.as_str(), names.as_str()), ("/img/apparel-1.svg", "Size/Colour/"));
    assert!(search_text.starts_with("merino crew tee apparel a lightweight crew-neck tee"), "{search_text}");
    assert_eq!(product(db, "waxed-canvas-jacket").await.4, 0, "a draft is inactive");
    assert_eq!(product(db, "wool-house-slipper").await.4, 0, "an unpublished product is inactive");
    let (html, text): (String, String) =
        sqlx::query_as("SELECT description_html, description FROM products WHERE slug = 'wooden-block-set'")
            .fetch_one(db.read())
            .await
            .unwrap();
    for banned in ["<script", "document.cookie", "onerror", "javascript:"] {
        assert!(!html.contains(banned) && !text.contains(banned), "{banned}: {html} / {text}");
    }
    assert!(html.starts_with("<p>Fifty beech blocks"), "{html}");
    assert_eq!(text, "Fifty beech blocks in five shapes, finished with food-safe oil. Safety notes");
    let (sku, compare_at): (String, Option<i64>) = sqlx::query_as(
        "SELECT sku, compare_at_cents FROM variants WHERE sku LIKE 'stoneware-mug-set-%' ORDER BY position",
    )
    .fetch_one(db.read())
    .await
    .unwrap();
    assert_eq!((sku.as_str(), compare_at), ("stoneware-mug-set-speckled-white", None), "a blank SKU is derived");
    let categories: Vec<(String, String)> = sqlx::query_as(
        "SELECT p.slug, c.slug FROM products p JOIN categories c ON c.id = p.category_id \
         WHERE p.slug IN ('sample-swatch-kit', 'brass-table-lamp', 'wooden-block-set', 'brass-mechanical-pencil') \
         ORDER BY p.slug",
    )
    .fetch_all(db.read())
    .await
    .unwrap();
    let categories: Vec<(&str, &str)> = categories.iter().map(|(p, c)| (p.as_str(), c.as_str())).collect();
    assert_eq!(
        categories,
        [
            ("brass-mechanical-pencil", "stationery"),
            ("brass-table-lamp", "home-decor"),
            ("sample-swatch-kit", "uncategorised"),
            ("wooden-block-set", "toys")
        ]
    );

    let again = import(db, SAMPLE, false).await;
    assert!(again.imported, "{again}");
    assert_eq!(again.products, Counts { created: 0, updated: 0, unchanged: SAMPLE_PRODUCTS });
    assert_eq!(again.variants, Counts { created: 0, updated: 0, unchanged: SAMPLE_VARIANTS });
    assert!(again.categories_created.is_empty() && again.changed_product_ids.is_empty());
    assert_eq!(count(db, "SELECT COUNT(*) FROM catalog_changes").await, changes_before + SAMPLE_PRODUCTS as i64);
}

async fn a_changed_price_updates_that_variant_and_logs_its_product(backend: Backend) {
    let t = database(backend).await;
    let db = &t.db;
    import(db, SAMPLE, false).await;
    let (oven, ..) = product(db, "enamel-dutch-oven").await;
    let last_change = count(db, "SELECT COALESCE(MAX(id), 0) FROM catalog_changes").await;

    let report = import(db, &with_cell(SAMPLE, "EDO-35", "Variant Price", "99.00"), false).await;
    assert_eq!(report.variants, Counts { created: 0, updated: 1, unchanged: SAMPLE_VARIANTS - 1 }, "{report}");
    assert_eq!(report.products, Counts { created: 0, updated: 1, unchanged: SAMPLE_PRODUCTS - 1 });
    assert_eq!(report.changed_product_ids, [oven]);
    let logged: Vec<i64> =
        sqlx::query_scalar(&format!("SELECT product_id FROM catalog_changes WHERE id > {last_change}"))
            .fetch_all(db.read())
            .await
            .unwrap();
    assert_eq!(logged, [oven]);
    assert_eq!(product(db, "enamel-dutch-oven").await, (oven, 9900, 22900, 10, 1));

    // A file naming one variant changes that one and leaves the product's others alone.
    let one = only(&with_cell(SAMPLE, "EDO-35", "Variant Price", "101.00"), |_, sku| sku == "EDO-35");
    let report = import(db, &one, false).await;
    assert_eq!(report.variants, Counts { created: 0, updated: 1, unchanged: 0 }, "{report}\n{one}");
    assert_eq!(count(db, &format!("SELECT COUNT(*) FROM variants WHERE product_id = {oven}")).await, 3);
    assert_eq!(product(db, "enamel-dutch-oven").await, (oven, 10100, 22900, 10, 1));
    assert_eq!(wrong_aggregates(db).await, 0);
}

async fn a_bad_row_imports_nothing_unless_skip_invalid(backend: Backend) {
    let t = database(backend).await;
    let db = &t.db;
    let snapshot = |db: &Db| {
        let db = db.clone();
        async move {
            (
                count(&db, "SELECT COUNT(*) FROM products").await,
                count(&db, "SELECT COUNT(*) FROM variants").await,
                count(&db, "SELECT COUNT(*) FROM categories").await,
                count(&db, "SELECT COUNT(*) FROM catalog_changes").await,
            )
        }
    };
    let before = snapshot(db).await;
    let bad = with_cell(SAMPLE, "TR2-9", "Variant Price", "12.345");
    let line = line_of(&bad, "TR2-9");

    let report = import(db, &bad, false).await;
    assert!(!report.imported && report.failed(), "{report}");
    assert_eq!(report.rejected.len(), 1, "{report}");
    assert_eq!(report.rejected[0].line, line);
    assert!(report.rejected[0].reason.contains("Variant Price \"12.345\""), "{report}");
    assert_eq!((report.products, report.variants), (Counts::default(), Counts::default()));
    let printed = report.to_string();
    assert!(printed.contains(&format!("line {line}: Variant Price")), "{printed}");
    assert!(printed.contains("nothing imported"), "{printed}");
    assert_eq!(snapshot(db).await, before, "nothing was written");

    // A 10 MB cell is refused with its size, and nothing imported either.
    let huge = with_cell(SAMPLE, "WBS-50", "Body (HTML)", &format!("<p>{}</p>", "x".repeat(10 << 20)));
    let report = import(db, &huge, false).await;
    assert!(report.failed(), "{report}");
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(report.rejected[0].line, line_of(&huge, "WBS-50"));
    assert_eq!(report.rejected[0].reason, "the cell in column \"Body (HTML)\" is 10485767 bytes; the most is 65536");
    assert_eq!(snapshot(db).await, before);

    let report = import(db, &bad, true).await;
    assert!(report.imported && !report.failed(), "{report}");
    assert_eq!(report.products.created, SAMPLE_PRODUCTS - 1);
    assert_eq!(report.skipped.iter().map(|s| s.handle.as_str()).collect::<Vec<_>>(), ["trail-runner-2"]);
    assert!(report.to_string().contains("products skipped for a rejected row: \"trail-runner-2\" (line "), "{report}");
    assert_eq!(count(db, "SELECT COUNT(*) FROM products WHERE slug = 'trail-runner-2'").await, 0);
    assert_eq!(wrong_aggregates(db).await, 0);

    // A file in another encoding is refused whole, --skip-invalid or not.
    let before = snapshot(db).await;
    let mut latin1 = SAMPLE.replace("Trail Runner 2", "Trail Runner Caf\u{e9}").into_bytes();
    let at = latin1.windows(2).position(|w| w == "\u{e9}".as_bytes()).unwrap();
    latin1.splice(at..at + 2, [0xe9]);
    let error = import_bytes(db, &latin1, &options(true)).await.unwrap_err();
    assert!(matches!(error, ImportError::File(_)), "{error}");
    assert!(error.to_string().contains("is not UTF-8") && error.to_string().contains("\"Title\""), "{error}");
    assert_eq!(snapshot(db).await, before);
}

async fn a_sku_of_another_product_is_refused(backend: Backend) {
    let t = database(backend).await;
    let db = &t.db;
    import(db, SAMPLE, false).await;
    let header = SAMPLE.lines().next().unwrap();
    let at = |name: &str| header.split(',').position(|h| h == name).unwrap();
    let mut cells = vec![""; header.split(',').count()];
    for (column, value) in
        [("Handle", "travel-mug"), ("Title", "Travel Mug"), ("Variant SKU", "EDO-35"), ("Variant Price", "20")]
    {
        cells[at(column)] = value;
    }
    let file = format!("{header}\n{}\n", cells.join(","));
    let report = import(db, &file, false).await;
    assert!(report.failed(), "{report}");
    assert_eq!(report.rejected[0].line, 2);
    assert_eq!(report.rejected[0].reason, "SKU \"EDO-35\" belongs to another product, \"enamel-dutch-oven\"");
    assert_eq!(count(db, "SELECT COUNT(*) FROM products WHERE slug = 'travel-mug'").await, 0);
}

async fn two_imports_at_once_both_land(backend: Backend) {
    let t = database(backend).await;
    let db = &t.db;
    let handles = handles(SAMPLE);
    assert_eq!(handles.len(), SAMPLE_PRODUCTS);
    let first_half: HashSet<&str> = handles[..SAMPLE_PRODUCTS / 2].iter().map(String::as_str).collect();
    let (a, b) = (only(SAMPLE, |h, _| first_half.contains(h)), only(SAMPLE, |h, _| !first_half.contains(h)));
    let (ra, rb) = tokio::join!(import(db, &a, false), import(db, &b, false));
    assert!(ra.imported && rb.imported, "{ra}\n{rb}");
    assert_eq!(ra.products.created + rb.products.created, SAMPLE_PRODUCTS);
    assert_eq!(ra.variants.created + rb.variants.created, SAMPLE_VARIANTS);
    let ids: HashSet<i64> = ra.changed_product_ids.iter().chain(&rb.changed_product_ids).copied().collect();
    assert_eq!(ids.len(), SAMPLE_PRODUCTS);
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
    assert_eq!(
        count(db, &format!("SELECT COUNT(*) FROM variants WHERE product_id IN ({list})")).await,
        SAMPLE_VARIANTS as i64
    );
    assert_eq!(wrong_aggregates(db).await, 0);
}

/// The command itself, as `server catalog import` runs it: it connects and migrates, imports,
/// prints the report, and fails when nothing was imported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_imports_and_fails_when_nothing_is_imported() {
    let t = database(Backend::Sqlite).await;
    let config = || testkit::config(&[("DATABASE_URL", &t.url)]);
    let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let public = concat!(env!("CARGO_MANIFEST_DIR"), "/../public");
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/../samples/shopify_products.csv");

    let bad = std::env::temp_dir().join(format!("catalog-import-{}.csv", uuid::Uuid::new_v4()));
    std::fs::write(&bad, with_cell(SAMPLE, "TR2-9", "Variant Inventory Qty", "-3")).unwrap();
    let bad_path = bad.to_str().unwrap();
    let refused = server::cli::catalog(config(), &args(&["import", bad_path, "--public-dir", public])).await;
    assert_eq!(refused, Err(format!("nothing imported from {bad_path}")));
    assert_eq!(count(&t.db, "SELECT COUNT(*) FROM products WHERE slug = 'merino-crew-tee'").await, 0);
    let skipped =
        server::cli::catalog(config(), &args(&["import", "--skip-invalid", bad_path, "--public-dir", public])).await;
    assert_eq!(skipped, Ok(()));
    assert_eq!(count(&t.db, "SELECT COUNT(*) FROM products WHERE slug = 'merino-crew-tee'").await, 1);
    std::fs::remove_file(&bad).unwrap();

    assert_eq!(server::cli::catalog(config(), &args(&["import", sample, "--public-dir", public])).await, Ok(()));
    assert_eq!(count(&t.db, "SELECT COUNT(*) FROM products WHERE slug = 'trail-runner-2'").await, 1);
    // A file over 50 MiB is refused unread (a sparse file: it takes no disk).
    let big = std::env::temp_dir().join(format!("catalog-import-{}.csv", uuid::Uuid::new_v4()));
    std::fs::File::create(&big).unwrap().set_len(50 * 1024 * 1024 + 1).unwrap();
    let refused = server::cli::catalog(config(), &args(&["import", big.to_str().unwrap()])).await.unwrap_err();
    std::fs::remove_file(&big).unwrap();
    assert!(refused.contains("is 52428801 bytes; the most an import reads is 52428800"), "{refused}");
    let missing = server::cli::catalog(config(), &args(&["import", "/no/such/file.csv"])).await.unwrap_err();
    assert!(missing.starts_with("cannot read /no/such/file.csv"), "{missing}");
    let unknown = server::cli::catalog(config(), &args(&["import", sample, "--category-column", "Flavour"])).await;
    assert!(unknown.unwrap_err().contains("the header has no \"Flavour\" column"));
}

/// With Redis, the changed products are announced at once on the channel instances listen to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_products_are_announced_on_redis() {
    let redis = testkit::RedisServer::start();
    let heard = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = heard.clone();
    app::storage::redis::subscribe(&redis.url(), app::storage::catalog_cache::CHANNEL, move |m| {
        sink.lock().unwrap().push(m)
    })
    .await
    .unwrap();
    server::catalog_import::announce(&redis.url(), &[7, 11]).await;
    let started = std::time::Instant::now();
    while heard.lock().unwrap().len() < 2 && started.elapsed() < std::time::Duration::from_secs(5) {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(*heard.lock().unwrap(), ["7", "11"]);
}

/// What `s` serves for the product `slug`: its listing price and the price of variant `sku`, or
/// `None` while it has no such product.
async fn served(http: &reqwest::Client, s: &testkit::TestServer, slug: &str, sku: &str) -> Option<(i64, i64)> {
    let (status, body) = testkit::post(http, s, "/api/catalog/product", &format!("slug={slug}")).await;
    if status == 404 {
        return None;
    }
    assert_eq!(status, 200, "{body}");
    let variant = body["variants"].as_array().unwrap().iter().find(|v| v["sku"] == sku).unwrap();
    Some((body["card"]["price_cents"].as_i64().unwrap(), variant["price_cents"].as_i64().unwrap()))
}

/// Polls until every server in `servers` serves `want`.
async fn until_all_serve(servers: &[&testkit::TestServer], slug: &str, sku: &str, want: Option<(i64, i64)>) {
    let http = testkit::browser();
    let started = std::time::Instant::now();
    for (n, s) in servers.iter().enumerate() {
        loop {
            let got = served(&http, s, slug, sku).await;
            if got == want {
                break;
            }
            assert!(
                started.elapsed().as_secs() < 10,
                "server {n} of {}: {slug} still {got:?} instead of {want:?}",
                servers.len()
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

/// Running instances show what an import created and changed, though they had the product (or
/// its absence) cached: through the change log alone (SQLite, no Redis), and at once over Redis
/// on two PostgreSQL instances.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn running_instances_pick_up_an_import() {
    // Embedded: one instance, the change log only.
    let t = database(Backend::Sqlite).await;
    let s = testkit::spawn(&t.url, None).await;
    // The follower a served instance runs (the test harness starts no background tasks).
    let follower = server::tasks::spawn_catalog_follow(s.state.clone());
    let http = testkit::browser();
    assert_eq!(served(&http, &s, "merino-crew-tee", "MCT-L-NAV").await, None, "remembered as unknown");
    import(&t.db, SAMPLE, false).await;
    until_all_serve(&[&s], "merino-crew-tee", "MCT-L-NAV", Some((3800, 3800))).await;
    import(&t.db, &with_cell(SAMPLE, "MCT-L-NAV", "Variant Price", "36.50"), false).await;
    until_all_serve(&[&s], "merino-crew-tee", "MCT-L-NAV", Some((3650, 3650))).await;
    follower.abort();

    // Scaled out: two instances on PostgreSQL + Redis, told over Redis as the command does.
    let t = database(Backend::Postgres).await;
    let redis = testkit::RedisServer::start();
    let a = testkit::spawn(&t.url, Some(&redis.url())).await;
    let b = testkit::spawn(&t.url, Some(&redis.url())).await;
    import(&t.db, SAMPLE, false).await;
    until_all_serve(&[&a, &b], "merino-crew-tee", "MCT-L-NAV", Some((3800, 3800))).await;
    // No follower runs here: only the broadcast can tell them.
    let report = import(&t.db, &with_cell(SAMPLE, "MCT-L-NAV", "Variant Price", "36.50"), false).await;
    server::catalog_import::announce(&redis.url(), &report.changed_product_ids).await;
    until_all_serve(&[&a, &b], "merino-crew-tee", "MCT-L-NAV", Some((3650, 3650))).await;
}

/// On PostgreSQL an import locks the catalogue tables while checkouts lock product and variant
/// rows: run both at once, over and over, and every import lands and every checkout answers
/// (an order, or a 409 when the import changed the price it confirmed), never a deadlock's 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn imports_and_checkouts_at_once_never_deadlock() {
    let t = database(Backend::Postgres).await;
    import(&t.db, SAMPLE, false).await;
    let s = testkit::spawn(&t.url, None).await;
    let variant: i64 =
        sqlx::query_scalar("SELECT id FROM variants WHERE sku = 'MCT-M-NAV'").fetch_one(t.db.read()).await.unwrap();
    let shoppers = (0..12).map(|i| {
        let s = &s;
        async move {
            let http = testkit::browser();
            let (status, body) =
                testkit::post(&http, s, "/api/cart/add", &format!("variant_id={variant}&quantity=1")).await;
            assert_eq!(status, 200, "{body}");
            let summary = testkit::checkout_summary(&http, s).await;
            let form = testkit::checkout_form(
                &testkit::new_key(),
                summary["quote"].as_str().unwrap(),
                &format!("buyer{i}%40example.com"),
                "Leeds",
            );
            testkit::post(&http, s, "/api/checkout/place", &form).await.0
        }
    });
    let imports = (0..6).map(|i| {
        let db = t.db.clone();
        async move {
            let stock = (100 + i).to_string();
            let price = if i % 2 == 0 { "38.00" } else { "37.00" };
            let csv = with_cell(
                &with_cell(SAMPLE, "MCT-M-NAV", "Variant Inventory Qty", &stock),
                "MCT-M-NAV",
                "Variant Price",
                price,
            );
            import(&db, &csv, false).await.imported
        }
    });
    let (statuses, imported) = tokio::join!(futures::future::join_all(shoppers), futures::future::join_all(imports));
    assert!(imported.iter().all(|i| *i), "every import landed");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 409), "{statuses:?}");
    assert_eq!(wrong_aggregates(&t.db).await, 0, "products agree with their variants");
}
