//! Catalogue queries. Reads only; writes go through `set_price`/`set_stock` (admin, CLI, checkout).

use super::db::{Db, Dialect, Row};
use crate::domain::catalog::{clamp_page, like_contains_pattern, normalize_search, page_count, Sort, PAGE_SIZE};
use crate::domain::money::Currency;
use crate::model::{Category, Listing, ProductCard, ProductDetail};
use sqlx::Row as _;

const CARD_COLUMNS: &str = "p.id, p.slug, p.name, p.price_cents, p.currency, p.stock, p.image, p.category_id";

#[derive(Clone, Debug)]
pub struct SqlCatalog {
    db: Db,
}

fn card_from_row(row: &Row) -> Result<ProductCard, sqlx::Error> {
    let currency: String = row.try_get("currency")?;
    Ok(ProductCard {
        id: row.try_get("id")?,
        slug: row.try_get("slug")?,
        name: row.try_get("name")?,
        price_cents: row.try_get("price_cents")?,
        currency: Currency::parse(&currency).unwrap_or_default(),
        stock: row.try_get("stock")?,
        image: row.try_get("image")?,
        category_id: row.try_get("category_id")?,
    })
}

fn category_from_row(row: &Row) -> Result<Category, sqlx::Error> {
    Ok(Category {
        id: row.try_get("id")?,
        slug: row.try_get("slug")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
    })
}

impl SqlCatalog {
    pub fn new(db: Db) -> Self {
        SqlCatalog { db }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    fn order_by(&self, sort: Sort) -> &'static str {
        // Byte order for names on both databases, so the two agree (PostgreSQL would otherwise
        // use the locale's collation).
        match (sort, self.db.dialect) {
            (Sort::Name, Dialect::Postgres) => "p.name COLLATE \"C\" ASC, p.id ASC",
            (Sort::Name, Dialect::Sqlite) => "p.name ASC, p.id ASC",
            (Sort::Popular, _) => "p.popularity DESC, p.id ASC",
            (Sort::PriceAsc, _) => "p.price_cents ASC, p.id ASC",
            (Sort::PriceDesc, _) => "p.price_cents DESC, p.id ASC",
            (Sort::Newest, _) => "p.created_at DESC, p.id DESC",
        }
    }

    pub async fn categories(&self) -> Result<Vec<Category>, sqlx::Error> {
        let rows = sqlx::query("SELECT id, slug, name, description FROM categories ORDER BY position, name")
            .fetch_all(&self.db.pool)
            .await?;
        rows.iter().map(category_from_row).collect()
    }

    pub async fn category_by_slug(&self, slug: &str) -> Result<Option<Category>, sqlx::Error> {
        let row = sqlx::query("SELECT id, slug, name, description FROM categories WHERE slug = $1")
            .bind(slug)
            .fetch_optional(&self.db.pool)
            .await?;
        row.as_ref().map(category_from_row).transpose()
    }

    /// One page of active products in a category. Out-of-range pages are clamped.
    pub async fn list_category(&self, category_id: i64, sort: Sort, page: u32) -> Result<Listing, sqlx::Error> {
        let total: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM products p WHERE p.active = 1 AND p.category_id = $1")
                .bind(category_id)
                .fetch_one(&self.db.pool)
                .await?;
        let total = total.max(0) as u64;
        let page = clamp_page(page, total, PAGE_SIZE);
        let sql = format!(
            "SELECT {CARD_COLUMNS} FROM products p WHERE p.active = 1 AND p.category_id = $1 \
             ORDER BY {} LIMIT $2 OFFSET $3",
            self.order_by(sort)
        );
        let rows = sqlx::query(&sql)
            .bind(category_id)
            .bind(i64::from(PAGE_SIZE))
            .bind(i64::from((page - 1) * PAGE_SIZE))
            .fetch_all(&self.db.pool)
            .await?;
        let products = rows.iter().map(card_from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(Listing { products, total, page, pages: page_count(total, PAGE_SIZE), sort })
    }

    /// Literal, case-insensitive substring search over name, category and description.
    /// Returns the normalised query with the listing; an empty query matches nothing.
    pub async fn search(&self, raw_query: &str, sort: Sort, page: u32) -> Result<(String, Listing), sqlx::Error> {
        let query = normalize_search(raw_query);
        if query.is_empty() {
            return Ok((query, Listing { products: vec![], total: 0, page: 1, pages: 1, sort }));
        }
        let pattern = like_contains_pattern(&query);
        let total: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM products p WHERE p.active = 1 AND p.search_text LIKE $1 ESCAPE '\\'",
        )
        .bind(&pattern)
        .fetch_one(&self.db.pool)
        .await?;
        let total = total.max(0) as u64;
        let page = clamp_page(page, total, PAGE_SIZE);
        let sql = format!(
            "SELECT {CARD_COLUMNS} FROM products p WHERE p.active = 1 AND p.search_text LIKE $1 ESCAPE '\\' \
             ORDER BY {} LIMIT $2 OFFSET $3",
            self.order_by(sort)
        );
        let rows = sqlx::query(&sql)
            .bind(&pattern)
            .bind(i64::from(PAGE_SIZE))
            .bind(i64::from((page - 1) * PAGE_SIZE))
            .fetch_all(&self.db.pool)
            .await?;
        let products = rows.iter().map(card_from_row).collect::<Result<Vec<_>, _>>()?;
        Ok((query, Listing { products, total, page, pages: page_count(total, PAGE_SIZE), sort }))
    }

    /// A product page, including products no longer on sale (shown as unavailable).
    pub async fn product_by_slug(&self, slug: &str) -> Result<Option<ProductDetail>, sqlx::Error> {
        let sql = format!(
            "SELECT {CARD_COLUMNS}, p.description, p.active, c.slug AS c_slug, c.name AS c_name, \
             c.description AS c_description FROM products p JOIN categories c ON c.id = p.category_id \
             WHERE p.slug = $1"
        );
        let Some(row) = sqlx::query(&sql).bind(slug).fetch_optional(&self.db.pool).await? else {
            return Ok(None);
        };
        let card = card_from_row(&row)?;
        let active: i64 = row.try_get("active")?;
        Ok(Some(ProductDetail {
            category: Category {
                id: card.category_id,
                slug: row.try_get("c_slug")?,
                name: row.try_get("c_name")?,
                description: row.try_get("c_description")?,
            },
            description: row.try_get("description")?,
            active: active == 1,
            card,
        }))
    }

    /// Active products by id, in no particular order; unknown or retired ids are left out.
    pub async fn cards_by_ids(&self, ids: &[i64]) -> Result<Vec<ProductCard>, sqlx::Error> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        // Ids are integers we parsed, so inlining them is safe and keeps one statement per call.
        let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let sql = format!("SELECT {CARD_COLUMNS} FROM products p WHERE p.active = 1 AND p.id IN ({list})");
        let rows = sqlx::query(&sql).fetch_all(&self.db.pool).await?;
        rows.iter().map(card_from_row).collect()
    }

    pub async fn featured(&self, limit: u32) -> Result<Vec<ProductCard>, sqlx::Error> {
        let sql = format!(
            "SELECT {CARD_COLUMNS} FROM products p WHERE p.active = 1 AND p.featured = 1 \
             ORDER BY p.popularity DESC, p.id LIMIT $1"
        );
        let rows = sqlx::query(&sql).bind(i64::from(limit)).fetch_all(&self.db.pool).await?;
        rows.iter().map(card_from_row).collect()
    }

    /// Best sellers overall or in one category, in stock only.
    pub async fn popular(&self, category_id: Option<i64>, limit: u32) -> Result<Vec<ProductCard>, sqlx::Error> {
        let sql = format!(
            "SELECT {CARD_COLUMNS} FROM products p WHERE p.active = 1 AND p.stock > 0 \
             AND ($1 = 0 OR p.category_id = $1) ORDER BY p.popularity DESC, p.id LIMIT $2"
        );
        let rows =
            sqlx::query(&sql).bind(category_id.unwrap_or(0)).bind(i64::from(limit)).fetch_all(&self.db.pool).await?;
        rows.iter().map(card_from_row).collect()
    }

    pub async fn product_count(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT COUNT(*) FROM products").fetch_one(&self.db.pool).await
    }
}
