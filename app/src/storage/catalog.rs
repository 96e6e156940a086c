//! Catalogue queries, and the one write operators make: price and stock edits (`apply_edit`),
//! logged in `catalog_changes` so every instance can drop what it cached.

use super::db::{now_ms, Db, Dialect, Row};
use crate::domain::catalog::{clamp_page, like_contains_pattern, normalize_search, page_count, Sort, PAGE_SIZE};
use crate::domain::catalog_edit::ProductEdit;
use crate::domain::money::Currency;
use crate::domain::variants::option_label;
use crate::model::{Category, Listing, ProductCard, ProductDetail, Variant, VariantCard};
use sqlx::Row as _;

// `single_variant`: the variant a listing's add-to-cart button adds (products with several
// variants are chosen on their page).
const CARD_COLUMNS: &str = "p.id, p.slug, p.name, p.price_cents, p.max_price_cents, p.currency, p.stock, p.image, \
     p.category_id, (SELECT CASE WHEN COUNT(*) = 1 THEN MIN(v.id) END FROM variants v WHERE v.product_id = p.id) \
     AS single_variant";

const VARIANT_CARD_COLUMNS: &str = "v.id, v.product_id, v.sku, v.option1, v.option2, v.option3, v.price_cents, \
     v.stock, v.image AS v_image, p.slug, p.name, p.currency, p.image, p.category_id, p.option1_name, \
     p.option2_name, p.option3_name, v.weight_grams";

/// A product's variants, for resolving a cart request that names only the product.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductVariants {
    pub name: String,
    pub option_names: Vec<String>,
    /// In the store's order.
    pub ids: Vec<i64>,
}

fn option_names(row: &Row) -> Result<Vec<String>, sqlx::Error> {
    let mut names = Vec::new();
    for col in ["option1_name", "option2_name", "option3_name"] {
        let name: String = row.try_get(col)?;
        if !name.is_empty() {
            names.push(name);
        }
    }
    Ok(names)
}

fn variant_card_from_row(row: &Row) -> Result<VariantCard, sqlx::Error> {
    let currency: String = row.try_get("currency")?;
    let names = option_names(row)?;
    let values: Vec<String> =
        ["option1", "option2", "option3"].iter().map(|c| row.try_get(*c)).collect::<Result<_, _>>()?;
    let variant_image: String = row.try_get("v_image")?;
    Ok(VariantCard {
        id: row.try_get("id")?,
        product_id: row.try_get("product_id")?,
        sku: row.try_get("sku")?,
        slug: row.try_get("slug")?,
        name: row.try_get("name")?,
        options: option_label(&names, &values),
        price_cents: row.try_get("price_cents")?,
        currency: Currency::parse(&currency).unwrap_or_default(),
        stock: row.try_get("stock")?,
        image: if variant_image.is_empty() { row.try_get("image")? } else { variant_image },
        category_id: row.try_get("category_id")?,
        weight_grams: row.try_get("weight_grams")?,
    })
}

/// Locks products before their variants are written (PostgreSQL; SQLite has one writer at a
/// time anyway), in id order. See `OrderStore::place`.
pub async fn lock_products(conn: &mut sqlx::AnyConnection, dialect: Dialect, ids: &[i64]) -> Result<(), sqlx::Error> {
    if dialect != Dialect::Postgres || ids.is_empty() {
        return Ok(());
    }
    // The table lock first, in the mode the coming UPDATE of products takes anyway (writers do
    // not block each other with it): a catalogue import locks `products` then `variants` whole,
    // and so must everyone else, or a checkout holding variants could wait on the import while
    // the import waits on it.
    sqlx::query("LOCK TABLE products IN ROW EXCLUSIVE MODE").execute(&mut *conn).await?;
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    sqlx::query(&format!("SELECT id FROM products WHERE id IN ({list}) ORDER BY id FOR UPDATE"))
        .fetch_all(conn)
        .await?;
    Ok(())
}

/// Sets a product's listing price (its lowest variant price), its highest price and its stock
/// (all its variants') from its variants. Every write to variants calls it in its transaction.
pub async fn refresh_totals(conn: &mut sqlx::AnyConnection, product_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE products SET \
         price_cents = COALESCE((SELECT MIN(price_cents) FROM variants WHERE product_id = $1), price_cents), \
         max_price_cents = COALESCE((SELECT MAX(price_cents) FROM variants WHERE product_id = $1), max_price_cents), \
         stock = COALESCE((SELECT SUM(stock) FROM variants WHERE product_id = $1), 0) WHERE id = $1",
    )
    .bind(product_id)
    .execute(conn)
    .await?;
    Ok(())
}

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
        max_price_cents: row.try_get("max_price_cents")?,
        currency: Currency::parse(&currency).unwrap_or_default(),
        stock: row.try_get("stock")?,
        image: row.try_get("image")?,
        category_id: row.try_get("category_id")?,
        single_variant: row.try_get("single_variant")?,
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
            .fetch_all(self.db.read())
            .await?;
        rows.iter().map(category_from_row).collect()
    }

    pub async fn category_by_slug(&self, slug: &str) -> Result<Option<Category>, sqlx::Error> {
        let row = sqlx::query("SELECT id, slug, name, description FROM categories WHERE slug = $1")
            .bind(slug)
            .fetch_optional(self.db.read())
            .await?;
        row.as_ref().map(category_from_row).transpose()
    }

    /// One page of active products in a category. Out-of-range pages are clamped.
    pub async fn list_category(&self, category_id: i64, sort: Sort, page: u32) -> Result<Listing, sqlx::Error> {
        let total: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM products p WHERE p.active = 1 AND p.category_id = $1")
                .bind(category_id)
                .fetch_one(self.db.read())
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
            .fetch_all(self.db.read())
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
        .fetch_one(self.db.read())
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
            .fetch_all(self.db.read())
            .await?;
        let products = rows.iter().map(card_from_row).collect::<Result<Vec<_>, _>>()?;
        Ok((query, Listing { products, total, page, pages: page_count(total, PAGE_SIZE), sort }))
    }

    /// A product page, including products no longer on sale (shown as unavailable).
    pub async fn product_by_slug(&self, slug: &str) -> Result<Option<ProductDetail>, sqlx::Error> {
        let sql = format!(
            "SELECT {CARD_COLUMNS}, p.description, p.description_html, p.active, p.option1_name, p.option2_name, \
             p.option3_name, c.slug AS c_slug, c.name AS c_name, \
             c.description AS c_description FROM products p JOIN categories c ON c.id = p.category_id \
             WHERE p.slug = $1"
        );
        let Some(row) = sqlx::query(&sql).bind(slug).fetch_optional(self.db.read()).await? else {
            return Ok(None);
        };
        let card = card_from_row(&row)?;
        let active: i64 = row.try_get("active")?;
        let variants = sqlx::query(
            "SELECT id, sku, option1, option2, option3, price_cents, compare_at_cents, stock, image FROM variants \
             WHERE product_id = $1 ORDER BY position, id",
        )
        .bind(card.id)
        .fetch_all(self.db.read())
        .await?;
        let option_names = option_names(&row)?;
        let variants = variants
            .iter()
            .map(|v| {
                Ok(Variant {
                    id: v.try_get("id")?,
                    sku: v.try_get("sku")?,
                    values: ["option1", "option2", "option3"][..option_names.len()]
                        .iter()
                        .map(|c| v.try_get(*c))
                        .collect::<Result<_, _>>()?,
                    price_cents: v.try_get("price_cents")?,
                    compare_at_cents: v.try_get("compare_at_cents")?,
                    stock: v.try_get("stock")?,
                    image: v.try_get("image")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok(Some(ProductDetail {
            category: Category {
                id: card.category_id,
                slug: row.try_get("c_slug")?,
                name: row.try_get("c_name")?,
                description: row.try_get("c_description")?,
            },
            description: row.try_get("description")?,
            description_html: row.try_get("description_html")?,
            active: active == 1,
            option_names,
            variants,
            card,
        }))
    }

    /// Variants an admin can edit, of products on sale: those whose product matches `query`, or
    /// with no query the lowest stock first (what needs attention).
    pub async fn admin_variants(&self, query: &str) -> Result<Vec<VariantCard>, sqlx::Error> {
        let normalized = normalize_search(query);
        let rows = if normalized.is_empty() {
            let sql = format!(
                "SELECT {VARIANT_CARD_COLUMNS} FROM variants v JOIN products p ON p.id = v.product_id \
                 WHERE p.active = 1 ORDER BY v.stock, v.id LIMIT 50"
            );
            sqlx::query(&sql).fetch_all(self.db.read()).await?
        } else {
            let name_order = match self.db.dialect {
                Dialect::Postgres => "p.name COLLATE \"C\"",
                Dialect::Sqlite => "p.name",
            };
            let sql = format!(
                "SELECT {VARIANT_CARD_COLUMNS} FROM variants v JOIN products p ON p.id = v.product_id \
                 WHERE p.active = 1 AND p.search_text LIKE $1 ESCAPE '\\' \
                 ORDER BY {name_order}, p.id, v.position, v.id LIMIT 100"
            );
            sqlx::query(&sql).bind(like_contains_pattern(&normalized)).fetch_all(self.db.read()).await?
        };
        rows.iter().map(variant_card_from_row).collect()
    }

    /// Variants on sale by id, with what a cart line shows of their product; unknown ids and
    /// variants of retired products are left out.
    pub async fn variant_cards(&self, ids: &[i64]) -> Result<Vec<VariantCard>, sqlx::Error> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        // Ids are integers we parsed, so inlining them is safe and keeps one statement per call.
        let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let sql = format!(
            "SELECT {VARIANT_CARD_COLUMNS} FROM variants v JOIN products p ON p.id = v.product_id \
             WHERE p.active = 1 AND v.id IN ({list})"
        );
        let rows = sqlx::query(&sql).fetch_all(self.db.read()).await?;
        rows.iter().map(variant_card_from_row).collect()
    }

    /// The variants of an active product, `None` when there is no such product on sale.
    pub async fn product_variants(&self, product_id: i64) -> Result<Option<ProductVariants>, sqlx::Error> {
        let Some(row) = sqlx::query(
            "SELECT name, option1_name, option2_name, option3_name FROM products WHERE id = $1 AND active = 1",
        )
        .bind(product_id)
        .fetch_optional(self.db.read())
        .await?
        else {
            return Ok(None);
        };
        let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM variants WHERE product_id = $1 ORDER BY position, id")
            .bind(product_id)
            .fetch_all(self.db.read())
            .await?;
        Ok(Some(ProductVariants { name: row.try_get("name")?, option_names: option_names(&row)?, ids }))
    }

    /// Active products by id, in no particular order; unknown or retired ids are left out.
    pub async fn cards_by_ids(&self, ids: &[i64]) -> Result<Vec<ProductCard>, sqlx::Error> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        // Ids are integers we parsed, so inlining them is safe and keeps one statement per call.
        let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let sql = format!("SELECT {CARD_COLUMNS} FROM products p WHERE p.active = 1 AND p.id IN ({list})");
        let rows = sqlx::query(&sql).fetch_all(self.db.read()).await?;
        rows.iter().map(card_from_row).collect()
    }

    pub async fn featured(&self, limit: u32) -> Result<Vec<ProductCard>, sqlx::Error> {
        let sql = format!(
            "SELECT {CARD_COLUMNS} FROM products p WHERE p.active = 1 AND p.featured = 1 \
             ORDER BY p.popularity DESC, p.id LIMIT $1"
        );
        let rows = sqlx::query(&sql).bind(i64::from(limit)).fetch_all(self.db.read()).await?;
        rows.iter().map(card_from_row).collect()
    }

    /// Best sellers overall or in one category, in stock only.
    pub async fn popular(&self, category_id: Option<i64>, limit: u32) -> Result<Vec<ProductCard>, sqlx::Error> {
        let sql = format!(
            "SELECT {CARD_COLUMNS} FROM products p WHERE p.active = 1 AND p.stock > 0 \
             AND ($1 = 0 OR p.category_id = $1) ORDER BY p.popularity DESC, p.id LIMIT $2"
        );
        let rows =
            sqlx::query(&sql).bind(category_id.unwrap_or(0)).bind(i64::from(limit)).fetch_all(self.db.read()).await?;
        rows.iter().map(card_from_row).collect()
    }

    /// Writes an edit of one variant (by SKU; a product without options has one variant, whose
    /// SKU is the product's slug unless an import gave it another) and logs it in
    /// `catalog_changes`, in one transaction, so no instance can see the new price without the log
    /// entry that tells it to drop the old one. Retired products can be edited too. Returns the
    /// product's card; `None` when no variant has this SKU.
    pub async fn apply_edit(&self, sku: &str, edit: ProductEdit) -> Result<Option<ProductCard>, sqlx::Error> {
        let mut tx = self.db.begin_write().await?;
        let product_id: Option<i64> = sqlx::query_scalar("SELECT product_id FROM variants WHERE sku = $1")
            .bind(sku)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(product_id) = product_id else {
            tx.rollback().await?;
            return Ok(None);
        };
        lock_products(&mut tx, self.db.dialect, &[product_id]).await?;
        sqlx::query(
            "UPDATE variants SET price_cents = COALESCE($1, price_cents), stock = COALESCE($2, stock) WHERE sku = $3",
        )
        .bind(edit.price_cents)
        .bind(edit.stock)
        .bind(sku)
        .execute(&mut *tx)
        .await?;
        refresh_totals(&mut tx, product_id).await?;
        let row = sqlx::query(&format!("SELECT {CARD_COLUMNS} FROM products p WHERE p.id = $1"))
            .bind(product_id)
            .fetch_one(&mut *tx)
            .await?;
        let card = card_from_row(&row)?;
        sqlx::query("INSERT INTO catalog_changes (product_id, created_at) VALUES ($1, $2)")
            .bind(card.id)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(card))
    }

    /// Edits logged at or after `since_ms`: `(change id, product id)`, oldest first. Followers
    /// read a window rather than "after the last id": a PostgreSQL sequence hands out ids in
    /// order, but transactions may commit out of that order.
    pub async fn changes_since(&self, since_ms: i64) -> Result<Vec<(i64, i64)>, sqlx::Error> {
        let rows =
            sqlx::query("SELECT id, product_id FROM catalog_changes WHERE created_at >= $1 ORDER BY id LIMIT 10000")
                .bind(since_ms)
                .fetch_all(self.db.read())
                .await?;
        rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get("product_id")?))).collect()
    }

    /// Forgets log entries older than `max_age_ms`: every running instance has read them.
    pub async fn prune_changes(&self, max_age_ms: i64) -> Result<u64, sqlx::Error> {
        let done = sqlx::query("DELETE FROM catalog_changes WHERE created_at < $1")
            .bind(now_ms() - max_age_ms)
            .execute(&mut *self.db.write().await?)
            .await?;
        Ok(done.rows_affected())
    }

    /// Slugs of the active products viewed most since `since_ms`, then best sellers to fill up
    /// to `limit` (a new shop has no views yet).
    pub async fn most_viewed(&self, since_ms: i64, limit: u32) -> Result<Vec<String>, sqlx::Error> {
        let mut slugs: Vec<String> = sqlx::query_scalar(
            "SELECT p.slug FROM events e JOIN products p ON p.id = e.product_id \
             WHERE e.kind = 'view' AND e.created_at >= $1 AND p.active = 1 \
             GROUP BY p.id, p.slug ORDER BY COUNT(*) DESC, p.id LIMIT $2",
        )
        .bind(since_ms)
        .bind(i64::from(limit))
        .fetch_all(self.db.read())
        .await?;
        if slugs.len() < limit as usize {
            let more: Vec<String> =
                sqlx::query_scalar("SELECT slug FROM products WHERE active = 1 ORDER BY popularity DESC, id LIMIT $1")
                    .bind(i64::from(limit))
                    .fetch_all(self.db.read())
                    .await?;
            for slug in more {
                if slugs.len() >= limit as usize {
                    break;
                }
                if !slugs.contains(&slug) {
                    slugs.push(slug);
                }
            }
        }
        Ok(slugs)
    }

    pub async fn product_count(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT COUNT(*) FROM products").fetch_one(self.db.read()).await
    }
}
