//! Orders. Placing one is a single transaction: claim the idempotency key, take the stock with a
//! guarded update (`stock >= quantity`, price unchanged), write the order and its lines with a
//! price snapshot, record purchase events and, for carts kept in SQL, empty the cart. Any
//! shortage rolls everything back.

use super::cart_store::CartOwner;
use super::db::{now_ms, Db};
use super::sql_cart::{bump_version, lock_cart};
use crate::domain::checkout::Address;
use crate::domain::money::Currency;
use crate::model::{OrderLineView, OrderSummary, OrderView};
use sqlx::Row;

pub struct NewOrderLine {
    pub product_id: i64,
    pub name: String,
    pub unit_price_cents: i64,
    pub quantity: u32,
}

pub struct NewOrder {
    pub id: String,
    pub reference: String,
    pub user_id: Option<i64>,
    pub email: String,
    pub currency: Currency,
    pub subtotal_cents: i64,
    pub shipping_cents: i64,
    pub total_cents: i64,
    pub address: Address,
    pub access_token: String,
    pub idempotency_key: String,
    pub request_hash: String,
    pub payment_ref: String,
    pub lines: Vec<NewOrderLine>,
    /// Who bought, for the purchase events (`u:<id>` or `a:<anonymous id>`).
    pub subject: String,
    /// A cart kept in SQL is emptied in the same transaction.
    pub clear_sql_cart: Option<CartOwner>,
}

/// Not enough of a product, or its price moved since the summary was computed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineProblem {
    Short { product_id: i64, name: String, available: i64 },
    PriceChanged { product_id: i64, name: String },
    Unavailable { product_id: i64, name: String },
}

#[derive(Debug)]
pub enum PlaceOutcome {
    Placed,
    /// The idempotency key already has an order.
    KeyUsed(Box<StoredOrder>),
    Problems(Vec<LineProblem>),
}

/// An order with what access checks need.
#[derive(Clone, Debug)]
pub struct StoredOrder {
    pub view: OrderView,
    pub user_id: Option<i64>,
    pub access_token: String,
    pub request_hash: String,
}

#[derive(Clone, Debug)]
pub struct OrderStore {
    db: Db,
}

impl OrderStore {
    pub fn new(db: Db) -> Self {
        OrderStore { db }
    }

    pub async fn place(&self, o: &NewOrder) -> Result<PlaceOutcome, sqlx::Error> {
        let mut tx = self.db.begin_write().await?;
        let claimed = sqlx::query(
            "INSERT INTO orders (id, reference, user_id, email, status, currency, subtotal_cents, shipping_cents, \
             total_cents, ship_name, ship_line1, ship_line2, ship_city, ship_postcode, ship_country, access_token, \
             idempotency_key, request_hash, payment_ref, created_at) \
             VALUES ($1, $2, $3, $4, 'paid', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) \
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(&o.id)
        .bind(&o.reference)
        .bind(o.user_id)
        .bind(&o.email)
        .bind(o.currency.code())
        .bind(o.subtotal_cents)
        .bind(o.shipping_cents)
        .bind(o.total_cents)
        .bind(&o.address.name)
        .bind(&o.address.line1)
        .bind(&o.address.line2)
        .bind(&o.address.city)
        .bind(&o.address.postcode)
        .bind(&o.address.country)
        .bind(&o.access_token)
        .bind(&o.idempotency_key)
        .bind(&o.request_hash)
        .bind(&o.payment_ref)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed == 0 {
            tx.rollback().await?;
            let existing = self.by_key(&o.idempotency_key).await?;
            return Ok(match existing {
                Some(order) => PlaceOutcome::KeyUsed(Box::new(order)),
                // The other request rolled back between our insert and our read: report a retry.
                None => PlaceOutcome::Problems(vec![]),
            });
        }
        // Products in id order, so concurrent orders lock rows in the same order.
        let mut lines: Vec<&NewOrderLine> = o.lines.iter().collect();
        lines.sort_by_key(|l| l.product_id);
        let mut problems = Vec::new();
        for l in &lines {
            let taken = sqlx::query(
                "UPDATE products SET stock = stock - $1, popularity = popularity + $1 \
                 WHERE id = $2 AND active = 1 AND stock >= $1 AND price_cents = $3",
            )
            .bind(i64::from(l.quantity))
            .bind(l.product_id)
            .bind(l.unit_price_cents)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if taken == 1 {
                continue;
            }
            let row = sqlx::query("SELECT stock, price_cents, active FROM products WHERE id = $1")
                .bind(l.product_id)
                .fetch_optional(&mut *tx)
                .await?;
            let (product_id, name) = (l.product_id, l.name.clone());
            problems.push(match row {
                Some(r) if r.try_get::<i64, _>("active")? != 1 => LineProblem::Unavailable { product_id, name },
                Some(r) if r.try_get::<i64, _>("price_cents")? != l.unit_price_cents => {
                    LineProblem::PriceChanged { product_id, name }
                }
                Some(r) => LineProblem::Short { product_id, name, available: r.try_get::<i64, _>("stock")?.max(0) },
                None => LineProblem::Unavailable { product_id, name },
            });
        }
        if !problems.is_empty() {
            tx.rollback().await?;
            return Ok(PlaceOutcome::Problems(problems));
        }
        let now = now_ms();
        for l in &lines {
            sqlx::query(
                "INSERT INTO order_lines (order_id, product_id, name, unit_price_cents, quantity, line_total_cents) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&o.id)
            .bind(l.product_id)
            .bind(&l.name)
            .bind(l.unit_price_cents)
            .bind(i64::from(l.quantity))
            .bind(l.unit_price_cents * i64::from(l.quantity))
            .execute(&mut *tx)
            .await?;
            sqlx::query("INSERT INTO events (subject, kind, product_id, order_id, created_at) VALUES ($1, 'purchase', $2, $3, $4)")
                .bind(&o.subject)
                .bind(l.product_id)
                .bind(&o.id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(owner) = &o.clear_sql_cart {
            let (cart_id, _) = lock_cart(&mut tx, &owner.key()).await?;
            sqlx::query("DELETE FROM cart_items WHERE cart_id = $1").bind(cart_id).execute(&mut *tx).await?;
            bump_version(&mut tx, cart_id).await?;
        }
        tx.commit().await?;
        Ok(PlaceOutcome::Placed)
    }

    async fn load(&self, filter: &str, value: &str) -> Result<Option<StoredOrder>, sqlx::Error> {
        let sql = format!(
            "SELECT id, reference, user_id, email, status, currency, subtotal_cents, shipping_cents, total_cents, \
             ship_name, ship_line1, ship_line2, ship_city, ship_postcode, ship_country, access_token, request_hash, \
             created_at FROM orders WHERE {filter} = $1"
        );
        let Some(r) = sqlx::query(&sql).bind(value).fetch_optional(&self.db.pool).await? else { return Ok(None) };
        let id: String = r.try_get("id")?;
        let lines = sqlx::query(
            "SELECT product_id, name, unit_price_cents, quantity, line_total_cents FROM order_lines \
             WHERE order_id = $1 ORDER BY name, product_id",
        )
        .bind(&id)
        .fetch_all(&self.db.pool)
        .await?
        .iter()
        .map(|l| {
            Ok(OrderLineView {
                product_id: l.try_get("product_id")?,
                name: l.try_get("name")?,
                unit_price_cents: l.try_get("unit_price_cents")?,
                quantity: l.try_get::<i64, _>("quantity")? as u32,
                line_total_cents: l.try_get("line_total_cents")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let currency: String = r.try_get("currency")?;
        Ok(Some(StoredOrder {
            user_id: r.try_get("user_id")?,
            access_token: r.try_get("access_token")?,
            request_hash: r.try_get("request_hash")?,
            view: OrderView {
                id,
                reference: r.try_get("reference")?,
                status: r.try_get("status")?,
                email: r.try_get("email")?,
                currency: Currency::parse(&currency).unwrap_or_default(),
                subtotal_cents: r.try_get("subtotal_cents")?,
                shipping_cents: r.try_get("shipping_cents")?,
                total_cents: r.try_get("total_cents")?,
                address: Address {
                    name: r.try_get("ship_name")?,
                    line1: r.try_get("ship_line1")?,
                    line2: r.try_get("ship_line2")?,
                    city: r.try_get("ship_city")?,
                    postcode: r.try_get("ship_postcode")?,
                    country: r.try_get("ship_country")?,
                },
                lines,
                created_at: r.try_get("created_at")?,
            },
        }))
    }

    pub async fn get(&self, id: &str) -> Result<Option<StoredOrder>, sqlx::Error> {
        self.load("id", id).await
    }

    pub async fn by_key(&self, key: &str) -> Result<Option<StoredOrder>, sqlx::Error> {
        self.load("idempotency_key", key).await
    }

    pub async fn for_user(&self, user_id: i64) -> Result<Vec<OrderSummary>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT o.id, o.reference, o.status, o.currency, o.total_cents, o.created_at, \
             CAST(COALESCE(SUM(l.quantity), 0) AS BIGINT) AS items \
             FROM orders o LEFT JOIN order_lines l ON l.order_id = o.id WHERE o.user_id = $1 \
             GROUP BY o.id, o.reference, o.status, o.currency, o.total_cents, o.created_at \
             ORDER BY o.created_at DESC LIMIT 200",
        )
        .bind(user_id)
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let currency: String = r.try_get("currency")?;
                Ok(OrderSummary {
                    id: r.try_get("id")?,
                    reference: r.try_get("reference")?,
                    status: r.try_get("status")?,
                    currency: Currency::parse(&currency).unwrap_or_default(),
                    total_cents: r.try_get("total_cents")?,
                    items: r.try_get::<i64, _>("items")? as u32,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }
}
