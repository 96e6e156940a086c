//! Catalogue queries and pages against SQLite and PostgreSQL: paging bounds, every sort order,
//! literal search with metacharacters, and 404s.

use app::domain::catalog::{Sort, PAGE_SIZE};
use app::storage::catalog::SqlCatalog;
use testkit::{database, Backend};

/// Runs an async test body once per database.
macro_rules! both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test] async fn $name() { super::$name(super::Backend::Sqlite).await } )* }
        mod postgres { $( #[tokio::test] async fn $name() { super::$name(super::Backend::Postgres).await } )* }
    };
}

both_databases!(paging_is_bounded, every_sort_order_is_right, search_is_literal, pages_and_statuses);

async fn paging_is_bounded(backend: Backend) {
    let t = database(backend).await;
    let catalog = SqlCatalog::new(t.db.clone());
    let kitchen = catalog.category_by_slug("kitchen").await.unwrap().expect("kitchen exists");
    let first = catalog.list_category(kitchen.id, Sort::Popular, 1).await.unwrap();
    assert_eq!(first.total, 45);
    assert_eq!(first.pages, 2);
    assert_eq!(first.products.len(), PAGE_SIZE as usize);
    let last = catalog.list_category(kitchen.id, Sort::Popular, 2).await.unwrap();
    assert_eq!(last.products.len(), 45 - PAGE_SIZE as usize);
    // Past the end is clamped to the last page, page 0 to the first.
    let beyond = catalog.list_category(kitchen.id, Sort::Popular, 999_999).await.unwrap();
    assert_eq!(beyond.page, 2);
    assert_eq!(beyond.products, last.products);
    assert_eq!(catalog.list_category(kitchen.id, Sort::Popular, 0).await.unwrap().page, 1);
    // Pages never overlap and together hold every product exactly once.
    let mut ids: Vec<i64> = first.products.iter().chain(&last.products).map(|p| p.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 45);
    // An unknown category has no products rather than an error.
    assert_eq!(catalog.list_category(-5, Sort::Name, 1).await.unwrap().total, 0);
}

async fn every_sort_order_is_right(backend: Backend) {
    let t = database(backend).await;
    let catalog = SqlCatalog::new(t.db.clone());
    let cat = catalog.category_by_slug("electronics").await.unwrap().unwrap();
    for sort in Sort::ALL {
        let mut all = catalog.list_category(cat.id, sort, 1).await.unwrap().products;
        all.extend(catalog.list_category(cat.id, sort, 2).await.unwrap().products);
        assert_eq!(all.len(), 45, "{sort:?}");
        let ok = all.windows(2).all(|w| match sort {
            Sort::PriceAsc => w[0].price_cents <= w[1].price_cents,
            Sort::PriceDesc => w[0].price_cents >= w[1].price_cents,
            Sort::Name => w[0].name.as_bytes() <= w[1].name.as_bytes(),
            Sort::Newest | Sort::Popular => true,
        });
        assert!(ok, "{sort:?} out of order: {:?}", all.iter().map(|p| (&p.name, p.price_cents)).collect::<Vec<_>>());
    }
    // Popularity and age are not on the card: check them in SQL order against the table.
    for (sort, column, desc) in [(Sort::Popular, "popularity", true), (Sort::Newest, "created_at", true)] {
        let listed: Vec<i64> =
            catalog.list_category(cat.id, sort, 1).await.unwrap().products.iter().map(|p| p.id).collect();
        let mut values = Vec::new();
        for id in &listed {
            let v: i64 = sqlx::query_scalar(&format!("SELECT {column} FROM products WHERE id = $1"))
                .bind(id)
                .fetch_one(t.db.read())
                .await
                .unwrap();
            values.push(v);
        }
        assert!(values.windows(2).all(|w| if desc { w[0] >= w[1] } else { w[0] <= w[1] }), "{sort:?}: {values:?}");
    }
}

async fn search_is_literal(backend: Backend) {
    let t = database(backend).await;
    let catalog = SqlCatalog::new(t.db.clone());
    // A product whose name contains LIKE metacharacters and quotes, to prove they match literally.
    sqlx::query("UPDATE products SET name = $1, search_text = $2 WHERE id = 1")
        .bind("100% Cotton_Tee \"Classic\" O'Neil")
        .bind("100% cotton_tee \"classic\" o'neil")
        .execute(&mut *t.db.write().await.unwrap())
        .await
        .unwrap();
    let (_, hit) = catalog.search("100%", Sort::Popular, 1).await.unwrap();
    assert_eq!(hit.products.iter().map(|p| p.id).collect::<Vec<_>>(), vec![1], "% is literal");
    let (_, hit) = catalog.search("cotton_tee", Sort::Popular, 1).await.unwrap();
    assert_eq!(hit.total, 1, "_ is literal");
    let (_, none) = catalog.search("cotton%tee", Sort::Popular, 1).await.unwrap();
    assert_eq!(none.total, 0, "% does not act as a wildcard");
    let (_, hit) = catalog.search("\"Classic\" O'Neil", Sort::Popular, 1).await.unwrap();
    assert_eq!(hit.total, 1, "quotes are literal");
    for nasty in ["<script>alert(1)</script>", "'; DROP TABLE products; --", "\\", "%%%", "___"] {
        let (_, r) = catalog.search(nasty, Sort::Name, 1).await.unwrap();
        assert_eq!(r.total, 0, "{nasty}");
    }
    let (q, r) = catalog.search(&"ab".repeat(512), Sort::Name, 1).await.unwrap();
    assert_eq!(q.chars().count(), 100, "long text is cut, not refused");
    assert_eq!(r.total, 0);
    // Unicode: case-insensitive beyond ASCII.
    let accented: String =
        sqlx::query_scalar("SELECT name FROM products WHERE name LIKE '%É%' OR name LIKE '%é%' LIMIT 1")
            .fetch_one(t.db.read())
            .await
            .expect("the demo catalogue has accented names");
    let word = accented.split_whitespace().find(|w| !w.is_ascii()).unwrap().to_uppercase();
    let (_, r) = catalog.search(&word, Sort::Name, 1).await.unwrap();
    assert!(r.products.iter().any(|p| p.name == accented), "{word} finds {accented}");
    // Plain words match across name, category and description; every hit contains the text.
    let (_, r) = catalog.search("KNIFE", Sort::PriceAsc, 1).await.unwrap();
    assert!(r.total > 0);
    assert!(r.products.windows(2).all(|w| w[0].price_cents <= w[1].price_cents));
    assert_eq!(catalog.search("   ", Sort::Name, 1).await.unwrap().1.total, 0);
}

async fn pages_and_statuses(backend: Backend) {
    let t = database(backend).await;
    let server = testkit::spawn(&t.url, None).await;
    let http = testkit::browser();
    let get = |path: &str| {
        let (http, url) = (http.clone(), server.url(path));
        async move {
            let res = http.get(url).send().await.unwrap();
            let status = res.status().as_u16();
            (status, res.text().await.unwrap())
        }
    };
    let (status, body) = get("/").await;
    assert_eq!(status, 200);
    assert!(body.contains("<title>Copperleaf"), "home has a title");
    let (status, body) = get("/c/kitchen").await;
    assert_eq!(status, 200);
    assert!(body.contains("<title>Kitchen · Copperleaf</title>"));
    assert!(body.contains(r#"name="description""#));
    assert!(body.contains(r#"loading="lazy""#) && body.contains(r#"width="400""#));
    let slug: String =
        sqlx::query_scalar("SELECT slug FROM products WHERE id = 7").fetch_one(t.db.read()).await.unwrap();
    let name: String =
        sqlx::query_scalar("SELECT name FROM products WHERE id = 7").fetch_one(t.db.read()).await.unwrap();
    let (status, body) = get(&format!("/p/{slug}")).await;
    assert_eq!(status, 200);
    assert!(body.contains(&format!("<title>{} · Copperleaf</title>", html_escape(&name))), "{name}");
    for path in ["/p/no-such-product", "/c/no-such-category", "/no/such/page"] {
        let (status, body) = get(path).await;
        assert_eq!(status, 404, "{path}");
        assert!(body.contains("Page not found"), "{path} renders the 404 page");
    }
    for path in [
        "/c/kitchen?page=-1",
        "/c/kitchen?page=abc",
        "/c/kitchen?page=999999",
        "/c/kitchen?sort=bogus",
        "/search?q=%25",
        "/search?q=_",
        "/search?q=%22%27",
        "/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "/search?q=%3C%2Ftitle%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "/search?q=%C3%A9tag%C3%A8re",
        "/search",
    ] {
        let (status, body) = get(path).await;
        assert_eq!(status, 200, "{path}");
        assert!(!body.contains("<script>alert(1)"), "{path} escapes the query");
    }
    let long = format!("/search?q={}", "x".repeat(1024));
    assert_eq!(get(&long).await.0, 200);
    let (status, body) = get("/c/kitchen?page=999999").await;
    assert_eq!(status, 200);
    assert!(
        body.contains(r#"aria-current="page" class="current">2<"#)
            || body.contains(r#"class="current" aria-current="page">2<"#)
    );
    assert_eq!(get("/healthz").await.0, 200);
    let (status, body) = get("/readyz").await;
    assert_eq!(status, 200);
    assert!(body.contains("\"database\":\"ok\""));
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
