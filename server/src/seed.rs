//! Loads the demo catalogue into an empty database.

use crate::demo;
use app::domain::catalog::normalize_text;
use app::storage::db::Db;

/// Inserts the demo catalogue when there are no products yet. Returns how many were inserted.
pub async fn seed_if_empty(db: &Db) -> Result<usize, sqlx::Error> {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM products").fetch_one(&db.pool).await?;
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
    }
    tx.commit().await?;
    Ok(products.len())
}
