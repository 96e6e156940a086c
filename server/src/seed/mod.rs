//! Loads the demo catalogue (`demo`, with its product `pictures` and its `options`) and a synthetic
//! order history (`history`) into an empty database.

pub mod demo;
pub mod history;
pub mod options;
pub mod pictures;
mod slug;

use app::domain::catalog::normalize_text;
use app::storage::db::Db;

/// Inserts the demo catalogue when there are no products yet. Returns how many were inserted.
pub async fn seed_if_empty(db: &Db) -> Result<usize, sqlx::Error> {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM products").fetch_one(db.read()).await?;
    if count > 0 {
        return Ok(0);
    }
    seed(db).await
}

pub async fn seed(db: &Db) -> Result<usize, sqlx::Error> {
    let categories = demo::categories();
    let products = demo::products();
    let mut tx = db.begin_write().await?;
    for c in &categories {
        sqlx::query("INSERT INTO categories (id, slug, name, description, position) VALUES ($1, $2, $3, $4, $5)")
            .bind(c.id)
            .bind(&c.slug)
            .bind(&c.name)
            .bind(&c.description)
            .bind(c.position)
            .execute(&mut *tx)
            .await?;
    }
    for p in &products {
        let category = categories.iter().find(|c| c.id == p.category_id).map(|c| c.name.as_str()).unwrap_or("");
        let search_text = normalize_text(&format!("{} {} {}", p.name, category, p.description));
        sqlx::query(
            "INSERT INTO products (id, slug, name, description, category_id, price_cents, currency, stock, \
             active, featured, image, created_at, popularity, search_text) \
             VALUES ($1, $2, $3, $4, $5, $6, 'USD', $7, 1, $8, $9, $10, $11, $12)",
        )
        .bind(p.id)
        .bind(&p.slug)
        .bind(&p.name)
        .bind(&p.description)
        .bind(p.category_id)
        .bind(p.price_cents)
        .bind(p.stock)
        .bind(i64::from(p.featured))
        .bind(&p.image)
        .bind(p.created_at)
        .bind(p.popularity)
        .bind(search_text)
        .execute(&mut *tx)
        .await?;
        let (names, variants) = options::variants(p, |colour| colour_picture(&p.image, colour));
        for (i, v) in variants.iter().enumerate() {
            let value = |k: usize| v.values.get(k).map(String::as_str).unwrap_or("");
            sqlx::query(
                "INSERT INTO variants (id, product_id, sku, option1, option2, option3, price_cents, compare_at_cents, \
                 stock, image, position) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(v.id)
            .bind(p.id)
            .bind(&v.sku)
            .bind(value(0))
            .bind(value(1))
            .bind(value(2))
            .bind(v.price_cents)
            .bind(v.compare_at_cents)
            .bind(v.stock)
            .bind(&v.image)
            .bind(i as i64)
            .execute(&mut *tx)
            .await?;
        }
        let name = |k: usize| names.get(k).copied().unwrap_or("");
        sqlx::query("UPDATE products SET option1_name = $1, option2_name = $2, option3_name = $3 WHERE id = $4")
            .bind(name(0))
            .bind(name(1))
            .bind(name(2))
            .bind(p.id)
            .execute(&mut *tx)
            .await?;
        app::storage::catalog::refresh_totals(&mut tx, p.id).await?;
    }
    // Weights for shipping by weight: between 0.3 and 2.1 kg, the same on every run.
    sqlx::query("UPDATE variants SET weight_grams = 300 + (id % 7) * 300").execute(&mut *tx).await?;
    // Discount codes to try in the demo (no automatic promotion: the demo's prices are the
    // prices until a shopper enters a code).
    let now = app::storage::db::now_ms();
    for (code, name, kind, value, target, target_id, min_subtotal, combinable) in [
        ("WELCOME10", "10% off your order", "percent", 10, "order", 0, 3_000, 1),
        ("SHOES15", "15% off shoes", "percent", 15, "category", 8, 0, 0),
        ("FREESHIP", "Free shipping", "free_shipping", 0, "order", 0, 0, 1),
        ("TAKE5", "$5.00 off", "fixed", 500, "order", 0, 2_500, 1),
    ] {
        sqlx::query(
            "INSERT INTO promotions (code, name, kind, value, target, target_id, min_subtotal_cents, combinable, \
             active, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $9)",
        )
        .bind(code)
        .bind(name)
        .bind(kind)
        .bind(value as i64)
        .bind(target)
        .bind(target_id as i64)
        .bind(min_subtotal as i64)
        .bind(combinable as i64)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(products.len())
}

/// The picture of a product in one colour (`/img/p/tee.svg` → `/img/p/tee-navy.svg`). Only clothes
/// and shoes come in colours, and `pictures`' tests check each of their nouns is drawn in every one.
fn colour_picture(image: &str, colour: &str) -> Option<String> {
    let stem = image.strip_prefix("/img/p/")?.strip_suffix(".svg")?;
    let known = pictures::COLOURS.iter().any(|c| c.eq_ignore_ascii_case(colour));
    known.then(|| format!("/img/p/{stem}-{}.svg", colour.to_lowercase()))
}

/// Loads a synthetic purchase history (see `history`) when there are no events yet, so the demo
/// shop's recommendations have something to learn from on first start.
pub async fn seed_history_if_empty(db: &Db) -> Result<usize, sqlx::Error> {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events").fetch_one(db.read()).await?;
    if count > 0 {
        return Ok(0);
    }
    let products: Vec<(i64, i64)> = demo::products().iter().map(|p| (p.id, p.category_id)).collect();
    let orders = history::generate(&products, 600, 2026, app::storage::db::now_ms());
    let rows: Vec<(String, i64, String, i64)> = orders
        .iter()
        .flat_map(|o| {
            o.products.iter().map(move |p| (format!("seed:{}", o.customer), *p, format!("seed-{}", o.order), o.at_ms))
        })
        .collect();
    let mut tx = db.begin_write().await?;
    for chunk in rows.chunks(250) {
        let mut sql = String::from("INSERT INTO events (subject, kind, product_id, order_id, created_at) VALUES ");
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!("(${}, 'purchase', ${}, ${}, ${})", i * 4 + 1, i * 4 + 2, i * 4 + 3, i * 4 + 4));
        }
        let mut q = sqlx::query(&sql);
        for (subject, product, order, at) in chunk {
            q = q.bind(subject.as_str()).bind(*product).bind(order.as_str()).bind(*at);
        }
        q.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(rows.len())
}
