//! Writes an import plan in one transaction: products matched by slug, variants by SKU, each
//! compared with what is stored and written only when it differs, so importing a file twice
//! changes nothing the second time. Variants the file does not mention are left alone. Every
//! product created or changed gets a `catalog_changes` row (running instances follow that log and
//! drop what they cached), and its price range and stock are recomputed from all its variants in
//! the same transaction.
//!
//! Checks that need the database run first, inside the transaction, so the report lists them
//! with the file's own refusals: a SKU that belongs to another product; a variant whose options
//! an unmentioned variant of the product already has; a change of option names while variants
//! the file does not list would keep the old ones.

use super::shopify_csv::{category_slug, Plan, ProductPlan, Rejection, Skipped, VariantPlan};
use super::ImportReport;
use app::domain::catalog::normalize_text;
use app::storage::db::{now_ms, Db, Dialect, Row};
use sqlx::{AnyConnection, Row as _};
use std::collections::{HashMap, HashSet};

/// Rows per `IN (...)` list or multi-row insert: far below either database's parameter limit.
const CHUNK: usize = 500;

struct StoredProduct {
    id: i64,
    name: String,
    description: String,
    description_html: String,
    category_id: i64,
    active: i64,
    image: String,
    search_text: String,
    option_names: [String; 3],
    price_cents: i64,
    max_price_cents: i64,
    stock: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct VariantRow {
    id: i64,
    product_id: i64,
    sku: String,
    options: [String; 3],
    price_cents: i64,
    compare_at_cents: Option<i64>,
    stock: i64,
    weight_grams: i64,
    image: String,
    position: i64,
}

impl VariantRow {
    fn planned(v: &VariantPlan, id: i64, product_id: i64, position: usize) -> VariantRow {
        VariantRow {
            id,
            product_id,
            sku: v.sku.clone(),
            options: v.options.clone(),
            price_cents: v.price_cents,
            compare_at_cents: v.compare_at_cents,
            stock: v.stock,
            weight_grams: v.weight_grams,
            image: v.image.clone(),
            position: position as i64,
        }
    }
}

/// What a product row should hold besides its identity.
struct ProductRow<'a> {
    plan: &'a ProductPlan,
    category_id: i64,
    search_text: String,
    /// Lowest and highest variant price, and the variants' stock summed.
    price_cents: i64,
    max_price_cents: i64,
    stock: i64,
}

impl ProductRow<'_> {
    fn differs_from(&self, stored: &StoredProduct) -> bool {
        let p = self.plan;
        stored.name != p.name
            || stored.description != p.description
            || stored.description_html != p.description_html
            || stored.category_id != self.category_id
            || stored.active != i64::from(p.active)
            || stored.image != p.image
            || stored.search_text != self.search_text
            || stored.option_names != p.option_names
            || stored.price_cents != self.price_cents
            || stored.max_price_cents != self.max_price_cents
            || stored.stock != self.stock
    }
}

pub async fn write(db: &Db, plan: Plan, skip_invalid: bool) -> Result<ImportReport, sqlx::Error> {
    let mut report = ImportReport {
        rows: plan.rows,
        skip_invalid,
        rejected: plan.rejected,
        skipped: plan.skipped,
        ..ImportReport::default()
    };
    let mut tx = db.begin_write().await?;
    if db.dialect == Dialect::Postgres {
        // New ids are MAX(id) + 1, so another import (or any writer adding rows) must wait for
        // this one to commit. This mode conflicts with itself and with writes, not with reads:
        // the shop keeps serving while an import runs, though its stock updates wait for it.
        sqlx::query("LOCK TABLE categories, products, variants IN SHARE ROW EXCLUSIVE MODE").execute(&mut *tx).await?;
    }
    let stored = load_products(&mut tx, &plan.products).await?;
    let ids: Vec<i64> = stored.values().map(|p| p.id).collect();
    let stored_variants = load_variants(&mut tx, &ids).await?;
    let owners = sku_owners(&mut tx, &plan.products).await?;
    let mut products = Vec::with_capacity(plan.products.len());
    for p in plan.products {
        let current = stored.get(&p.slug);
        let variants = current.and_then(|s| stored_variants.get(&s.id)).map(Vec::as_slice).unwrap_or_default();
        let refused = conflicts(&p, current, variants, &owners);
        if refused.is_empty() {
            products.push(p);
        } else {
            report.rejected.extend(refused);
            report.skipped.push(Skipped { handle: p.slug, line: p.line });
        }
    }
    report.rejected.sort_by_key(|r| r.line);
    report.skipped.sort_by_key(|s| s.line);
    if !report.rejected.is_empty() && (!skip_invalid || products.is_empty()) {
        tx.rollback().await?;
        return Ok(report);
    }

    let mut categories = Categories::load(&mut tx).await?;
    let mut next_product = max_id(&mut tx, "products").await? + 1;
    let mut next_variant = max_id(&mut tx, "variants").await? + 1;
    let created_at = now_ms();
    for p in &products {
        let (category_id, category_name) = categories.resolve(&mut tx, &p.category, &mut report).await?;
        let search_text = normalize_text(&format!("{} {} {}", p.name, category_name, p.description));
        match stored.get(&p.slug) {
            None => {
                let id = next_product;
                next_product += 1;
                let variants: Vec<VariantRow> = p
                    .variants
                    .iter()
                    .enumerate()
                    .map(|(position, v)| {
                        next_variant += 1;
                        VariantRow::planned(v, next_variant - 1, id, position)
                    })
                    .collect();
                let row = product_row(p, category_id, search_text, &variants);
                insert_product(&mut tx, id, &row, created_at).await?;
                for v in &variants {
                    insert_variant(&mut tx, v).await?;
                }
                report.products.created += 1;
                report.variants.created += variants.len();
                report.changed_product_ids.push(id);
            }
            Some(current) => {
                let mut variants = stored_variants.get(&current.id).cloned().unwrap_or_default();
                let mut changed = false;
                for (position, v) in p.variants.iter().enumerate() {
                    match variants.iter_mut().find(|stored| stored.sku == v.sku) {
                        Some(stored) => {
                            let wanted = VariantRow::planned(v, stored.id, current.id, position);
                            if *stored == wanted {
                                report.variants.unchanged += 1;
                            } else {
                                update_variant(&mut tx, &wanted).await?;
                                *stored = wanted;
                                report.variants.updated += 1;
                                changed = true;
                            }
                        }
                        None => {
                            let wanted = VariantRow::planned(v, next_variant, current.id, position);
                            next_variant += 1;
                            insert_variant(&mut tx, &wanted).await?;
                            variants.push(wanted);
                            report.variants.created += 1;
                            changed = true;
                        }
                    }
                }
                let row = product_row(p, category_id, search_text, &variants);
                if row.differs_from(current) {
                    update_product(&mut tx, current.id, &row).await?;
                    changed = true;
                }
                if changed {
                    report.products.updated += 1;
                    report.changed_product_ids.push(current.id);
                } else {
                    report.products.unchanged += 1;
                }
            }
        }
    }
    log_changes(&mut tx, &report.changed_product_ids).await?;
    tx.commit().await?;
    report.imported = true;
    Ok(report)
}

fn product_row<'a>(
    plan: &'a ProductPlan,
    category_id: i64,
    search_text: String,
    variants: &[VariantRow],
) -> ProductRow<'a> {
    ProductRow {
        plan,
        category_id,
        search_text,
        price_cents: variants.iter().map(|v| v.price_cents).min().unwrap_or(0),
        max_price_cents: variants.iter().map(|v| v.price_cents).max().unwrap_or(0),
        stock: variants.iter().map(|v| v.stock).sum(),
    }
}

/// What the stored catalogue refuses in product `p` (`variants` are its stored variants).
fn conflicts(
    p: &ProductPlan,
    current: Option<&StoredProduct>,
    variants: &[VariantRow],
    owners: &HashMap<String, (i64, String)>,
) -> Vec<Rejection> {
    let mut refused = Vec::new();
    for v in &p.variants {
        if let Some((owner, slug)) = owners.get(&v.sku) {
            if Some(*owner) != current.map(|c| c.id) {
                refused.push(Rejection {
                    line: v.line,
                    reason: format!("SKU {:?} belongs to another product, {slug:?}", v.sku),
                });
            }
        }
    }
    let Some(current) = current else { return refused };
    let in_file: HashSet<&str> = p.variants.iter().map(|v| v.sku.as_str()).collect();
    let others: Vec<&VariantRow> = variants.iter().filter(|v| !in_file.contains(v.sku.as_str())).collect();
    if others.is_empty() {
        return refused;
    }
    if current.option_names != p.option_names {
        let names = |n: &[String; 3]| match n.iter().filter(|n| !n.is_empty()).cloned().collect::<Vec<_>>() {
            none if none.is_empty() => "none".to_string(),
            some => some.join(", "),
        };
        let skus: Vec<&str> = others.iter().take(5).map(|v| v.sku.as_str()).collect();
        refused.push(Rejection {
            line: p.line,
            reason: format!(
                "the options would change from ({}) to ({}), but stored variants not in the file ({}{}) have the old ones",
                names(&current.option_names),
                names(&p.option_names),
                skus.join(", "),
                if others.len() > skus.len() { ", ..." } else { "" }
            ),
        });
        return refused;
    }
    for v in &p.variants {
        if let Some(other) = others.iter().find(|o| o.options == v.options) {
            refused.push(Rejection {
                line: v.line,
                reason: format!("the product's variant {:?}, not in the file, already has these options", other.sku),
            });
        }
    }
    refused
}

fn placeholders(n: usize) -> String {
    (1..=n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

async fn load_products(
    conn: &mut AnyConnection,
    products: &[ProductPlan],
) -> Result<HashMap<String, StoredProduct>, sqlx::Error> {
    let mut stored = HashMap::new();
    for chunk in products.chunks(CHUNK) {
        let sql = format!(
            "SELECT id, slug, name, description, description_html, category_id, active, image, search_text, \
             option1_name, option2_name, option3_name, price_cents, max_price_cents, stock \
             FROM products WHERE slug IN ({})",
            placeholders(chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for p in chunk {
            query = query.bind(p.slug.as_str());
        }
        for row in query.fetch_all(&mut *conn).await? {
            let product = StoredProduct {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                description: row.try_get("description")?,
                description_html: row.try_get("description_html")?,
                category_id: row.try_get("category_id")?,
                active: row.try_get("active")?,
                image: row.try_get("image")?,
                search_text: row.try_get("search_text")?,
                option_names: [
                    row.try_get("option1_name")?,
                    row.try_get("option2_name")?,
                    row.try_get("option3_name")?,
                ],
                price_cents: row.try_get("price_cents")?,
                max_price_cents: row.try_get("max_price_cents")?,
                stock: row.try_get("stock")?,
            };
            stored.insert(row.try_get("slug")?, product);
        }
    }
    Ok(stored)
}

fn variant_from_row(row: &Row) -> Result<VariantRow, sqlx::Error> {
    Ok(VariantRow {
        id: row.try_get("id")?,
        product_id: row.try_get("product_id")?,
        sku: row.try_get("sku")?,
        options: [row.try_get("option1")?, row.try_get("option2")?, row.try_get("option3")?],
        price_cents: row.try_get("price_cents")?,
        compare_at_cents: row.try_get("compare_at_cents")?,
        stock: row.try_get("stock")?,
        weight_grams: row.try_get("weight_grams")?,
        image: row.try_get("image")?,
        position: row.try_get("position")?,
    })
}

/// The stored variants of `product_ids`, by product.
async fn load_variants(
    conn: &mut AnyConnection,
    product_ids: &[i64],
) -> Result<HashMap<i64, Vec<VariantRow>>, sqlx::Error> {
    let mut by_product: HashMap<i64, Vec<VariantRow>> = HashMap::new();
    for chunk in product_ids.chunks(CHUNK) {
        let sql = format!(
            "SELECT id, product_id, sku, option1, option2, option3, price_cents, compare_at_cents, stock, image, \
             position, weight_grams FROM variants WHERE product_id IN ({}) ORDER BY product_id, position, id",
            placeholders(chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for id in chunk {
            query = query.bind(*id);
        }
        for row in query.fetch_all(&mut *conn).await? {
            let v = variant_from_row(&row)?;
            by_product.entry(v.product_id).or_default().push(v);
        }
    }
    Ok(by_product)
}

/// The stored products of the file's SKUs: SKU → (product id, product slug).
async fn sku_owners(
    conn: &mut AnyConnection,
    products: &[ProductPlan],
) -> Result<HashMap<String, (i64, String)>, sqlx::Error> {
    let skus: Vec<&str> = products.iter().flat_map(|p| p.variants.iter().map(|v| v.sku.as_str())).collect();
    let mut owners = HashMap::new();
    for chunk in skus.chunks(CHUNK) {
        let sql = format!(
            "SELECT v.sku, v.product_id, p.slug FROM variants v JOIN products p ON p.id = v.product_id \
             WHERE v.sku IN ({})",
            placeholders(chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for sku in chunk {
            query = query.bind(*sku);
        }
        for row in query.fetch_all(&mut *conn).await? {
            owners.insert(row.try_get("sku")?, (row.try_get("product_id")?, row.try_get("slug")?));
        }
    }
    Ok(owners)
}

async fn max_id(conn: &mut AnyConnection, table: &'static str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(&format!("SELECT COALESCE(MAX(id), 0) FROM {table}")).fetch_one(conn).await
}

/// The categories, found by name or slug, created on first use.
struct Categories {
    /// (id, slug, name)
    known: Vec<(i64, String, String)>,
    next_id: i64,
    next_position: i64,
}

impl Categories {
    async fn load(conn: &mut AnyConnection) -> Result<Categories, sqlx::Error> {
        let rows = sqlx::query("SELECT id, slug, name, position FROM categories").fetch_all(&mut *conn).await?;
        let mut known = Vec::with_capacity(rows.len());
        let (mut next_id, mut next_position) = (1, 0);
        for row in rows {
            let id: i64 = row.try_get("id")?;
            let position: i64 = row.try_get("position")?;
            next_id = next_id.max(id + 1);
            next_position = next_position.max(position + 1);
            known.push((id, row.try_get("slug")?, row.try_get("name")?));
        }
        Ok(Categories { known, next_id, next_position })
    }

    /// The category named `name` (ignoring case), else the one with its slug, else a new one:
    /// (id, name as stored).
    async fn resolve(
        &mut self,
        conn: &mut AnyConnection,
        name: &str,
        report: &mut ImportReport,
    ) -> Result<(i64, String), sqlx::Error> {
        let lower = name.to_lowercase();
        let slug = category_slug(name);
        let found = self
            .known
            .iter()
            .find(|(_, _, n)| n.to_lowercase() == lower)
            .or_else(|| self.known.iter().find(|(_, s, _)| *s == slug));
        if let Some((id, _, stored_name)) = found {
            return Ok((*id, stored_name.clone()));
        }
        let id = self.next_id;
        sqlx::query("INSERT INTO categories (id, slug, name, description, position) VALUES ($1, $2, $3, '', $4)")
            .bind(id)
            .bind(slug.as_str())
            .bind(name)
            .bind(self.next_position)
            .execute(&mut *conn)
            .await?;
        self.next_id += 1;
        self.next_position += 1;
        self.known.push((id, slug, name.to_string()));
        report.categories_created.push(name.to_string());
        Ok((id, name.to_string()))
    }
}

async fn insert_product(
    conn: &mut AnyConnection,
    id: i64,
    row: &ProductRow<'_>,
    created_at: i64,
) -> Result<(), sqlx::Error> {
    let p = row.plan;
    sqlx::query(
        "INSERT INTO products (id, slug, name, description, description_html, category_id, price_cents, \
         max_price_cents, stock, active, featured, image, created_at, popularity, search_text, option1_name, \
         option2_name, option3_name) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11, $12, 0, $13, $14, $15, $16)",
    )
    .bind(id)
    .bind(p.slug.as_str())
    .bind(p.name.as_str())
    .bind(p.description.as_str())
    .bind(p.description_html.as_str())
    .bind(row.category_id)
    .bind(row.price_cents)
    .bind(row.max_price_cents)
    .bind(row.stock)
    .bind(i64::from(p.active))
    .bind(p.image.as_str())
    .bind(created_at)
    .bind(row.search_text.as_str())
    .bind(p.option_names[0].as_str())
    .bind(p.option_names[1].as_str())
    .bind(p.option_names[2].as_str())
    .execute(conn)
    .await?;
    Ok(())
}

async fn update_product(conn: &mut AnyConnection, id: i64, row: &ProductRow<'_>) -> Result<(), sqlx::Error> {
    let p = row.plan;
    sqlx::query(
        "UPDATE products SET name = $1, description = $2, description_html = $3, category_id = $4, \
         price_cents = $5, max_price_cents = $6, stock = $7, active = $8, image = $9, search_text = $10, \
         option1_name = $11, option2_name = $12, option3_name = $13 WHERE id = $14",
    )
    .bind(p.name.as_str())
    .bind(p.description.as_str())
    .bind(p.description_html.as_str())
    .bind(row.category_id)
    .bind(row.price_cents)
    .bind(row.max_price_cents)
    .bind(row.stock)
    .bind(i64::from(p.active))
    .bind(p.image.as_str())
    .bind(row.search_text.as_str())
    .bind(p.option_names[0].as_str())
    .bind(p.option_names[1].as_str())
    .bind(p.option_names[2].as_str())
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

async fn insert_variant(conn: &mut AnyConnection, v: &VariantRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO variants (id, product_id, sku, option1, option2, option3, price_cents, compare_at_cents, \
         stock, image, position, weight_grams) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(v.id)
    .bind(v.product_id)
    .bind(v.sku.as_str())
    .bind(v.options[0].as_str())
    .bind(v.options[1].as_str())
    .bind(v.options[2].as_str())
    .bind(v.price_cents)
    .bind(v.compare_at_cents)
    .bind(v.stock)
    .bind(v.image.as_str())
    .bind(v.position)
    .bind(v.weight_grams)
    .execute(conn)
    .await?;
    Ok(())
}

async fn update_variant(conn: &mut AnyConnection, v: &VariantRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE variants SET option1 = $1, option2 = $2, option3 = $3, price_cents = $4, compare_at_cents = $5, \
         stock = $6, image = $7, position = $8, weight_grams = $10 WHERE id = $9",
    )
    .bind(v.options[0].as_str())
    .bind(v.options[1].as_str())
    .bind(v.options[2].as_str())
    .bind(v.price_cents)
    .bind(v.compare_at_cents)
    .bind(v.stock)
    .bind(v.image.as_str())
    .bind(v.position)
    .bind(v.id)
    .bind(v.weight_grams)
    .execute(conn)
    .await?;
    Ok(())
}

/// One change-log row per product. Stamped now, at the end of the transaction: followers read a
/// window of recent stamps, and a stamp taken when a long import began could fall out of it
/// before the commit makes the row visible.
async fn log_changes(conn: &mut AnyConnection, product_ids: &[i64]) -> Result<(), sqlx::Error> {
    let at = now_ms();
    for chunk in product_ids.chunks(CHUNK) {
        let values: Vec<String> = (0..chunk.len()).map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2)).collect();
        let sql = format!("INSERT INTO catalog_changes (product_id, created_at) VALUES {}", values.join(", "));
        let mut query = sqlx::query(&sql);
        for id in chunk {
            query = query.bind(*id).bind(at);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}
