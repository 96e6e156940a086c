//! Orders. Placing one is a single transaction: take the cart's lines from the store of record
//! (a SQL cart is locked, read and emptied right here; a Redis cart was claimed for this order),
//! consume that cart version (`cart_orders`: one version, at most one order), take the stock with
//! a guarded update (`stock >= quantity`), price every line from the catalogue row it locked,
//! check that this comes to the quote the shopper confirmed, and write the order, its lines and
//! the purchase events. Anything that does not match rolls all of it back.

use super::cart_store::CartOwner;
use super::catalog::lock_products;
use super::db::{now_ms, Db};
use super::pricing;
use super::sql_cart::{bump_version, lock_cart, read_lines, write_through_copy, CartCopy};
use crate::domain::cart::StoredLine;
use crate::domain::checkout::{quote_context, Address, Quote};
use crate::domain::money::Currency;
use crate::domain::pricing::{LineInput, PricedCart, Promotion};
use crate::domain::variants::option_label;
use crate::model::{Adjustment, AdminOrder, OrderLineView, OrderSummary, OrderView};
use sqlx::Row;
use std::collections::HashMap;
use std::sync::Arc;

/// Where an order's lines come from.
#[derive(Clone, Debug)]
pub enum Basket {
    /// A cart kept in SQL: locked, read, checked and emptied inside the order transaction.
    Sql(CartOwner),
    /// A cart kept in Redis and claimed for this order: its lines at its version.
    Claimed { owner: CartOwner, version: u64, lines: Vec<StoredLine> },
}

impl Basket {
    pub fn owner(&self) -> &CartOwner {
        match self {
            Basket::Sql(owner) | Basket::Claimed { owner, .. } => owner,
        }
    }
}

#[derive(Clone)]
pub struct NewOrder {
    pub id: String,
    pub reference: String,
    pub user_id: Option<i64>,
    pub email: String,
    pub address: Address,
    pub access_token: String,
    pub idempotency_key: String,
    pub request_hash: String,
    pub payment_ref: String,
    /// What the shopper confirmed: the order is placed only at exactly this.
    pub quote: Quote,
    /// The shopper's code and delivery choices, priced again inside the transaction.
    pub pricing: OrderPricing,
    /// Who bought, for the purchase events (`u:<id>` or `a:<anonymous id>`).
    pub subject: String,
}

/// What the quote was priced with besides the lines.
#[derive(Clone, Debug, Default)]
pub struct OrderPricing {
    pub code: Option<String>,
    pub country: String,
    pub method_id: Option<i64>,
    /// `u:<account id>` for a signed-in shopper: what per-customer limits count.
    pub customer: Option<String>,
}

/// Not enough of a product, or it is no longer sold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineProblem {
    Short { variant_id: i64, name: String, available: i64 },
    Unavailable { variant_id: i64, name: String },
}

#[derive(Debug)]
pub enum PlaceOutcome {
    Placed,
    /// The idempotency key already has an order.
    KeyUsed(Box<StoredOrder>),
    /// The cart is not what the shopper confirmed: another version, or other prices.
    Changed,
    /// This version of the cart was already ordered (another tab, another key): the order, if
    /// there is one (a voided version has none).
    AlreadyOrdered(Option<String>),
    /// The cart holds nothing to order.
    Empty,
    Problems(Vec<LineProblem>),
    /// A promotion the quote counted on cannot be redeemed now (used up, ended, the customer's
    /// limit); `code` when it is the shopper's code.
    PromotionUnavailable {
        message: String,
        code: bool,
    },
}

/// Payment states of an order (`orders.payment_state`).
pub mod payment {
    pub const AUTHORIZED: &str = "authorized";
    pub const CAPTURED: &str = "captured";
    pub const CAPTURE_FAILED: &str = "capture_failed";
}

/// Order statuses shown to shoppers (`orders.status`).
pub mod status {
    /// Placed, payment authorised, capture not confirmed yet.
    pub const PENDING_PAYMENT: &str = "pending_payment";
    pub const PAID: &str = "paid";
}

/// An order with what access checks need.
#[derive(Clone, Debug)]
pub struct StoredOrder {
    pub view: OrderView,
    pub user_id: Option<i64>,
    pub access_token: String,
    pub request_hash: String,
    pub payment_ref: String,
    pub payment_state: String,
    /// When the payment state last changed or a capture was last leased (Unix ms).
    pub payment_updated_at: i64,
}

#[derive(Clone, Debug)]
pub struct OrderStore {
    db: Db,
    /// The cart store's in-process copy, if it keeps one: an order empties a cart, so the copy
    /// is told like every other write of the cart tables.
    cart_copy: Option<Arc<CartCopy>>,
}

/// The products in `lines`, in id order (so concurrent orders lock rows in the same order).
fn sorted(lines: &[StoredLine]) -> Vec<StoredLine> {
    let mut lines = lines.to_vec();
    lines.sort_by_key(|l| l.variant_id);
    lines
}

impl OrderStore {
    pub fn new(db: Db) -> Self {
        OrderStore { db, cart_copy: None }
    }

    /// An order store that keeps the cart store's `copy` right (see `sql_cart`).
    pub fn with_cart_copy(db: Db, copy: Option<Arc<CartCopy>>) -> Self {
        OrderStore { db, cart_copy: copy }
    }

    pub async fn place(&self, o: &NewOrder, basket: &Basket) -> Result<PlaceOutcome, sqlx::Error> {
        let store = OrderStore { cart_copy: None, ..self.clone() };
        let (o, basket) = (o.clone(), basket.clone());
        write_through_copy(self.cart_copy.as_ref(), vec![basket.owner().key()], async move {
            store.place_now(&o, &basket).await
        })
        .await
        .unwrap_or_else(|e| Err(sqlx::Error::Protocol(format!("the order transaction stopped: {e}"))))
    }

    async fn place_now(&self, o: &NewOrder, basket: &Basket) -> Result<PlaceOutcome, sqlx::Error> {
        let mut tx = self.db.begin_write().await?;
        let owner = basket.owner().key();
        let (version, lines, sql_cart) = match basket {
            Basket::Sql(_) => {
                let (cart_id, version) = lock_cart(&mut tx, &owner).await?;
                (version as u64, read_lines(&mut tx, cart_id).await?, Some(cart_id))
            }
            Basket::Claimed { version, lines, .. } => {
                // A write-behind cart was written to SQL at the claimed version just before: that
                // copy goes with the order too (the Redis cart is emptied once this commits).
                let copy: Option<i64> = sqlx::query_scalar("SELECT id FROM carts WHERE owner = $1 AND version = $2")
                    .bind(&owner)
                    .bind(*version as i64)
                    .fetch_optional(&mut *tx)
                    .await?;
                (*version, lines.clone(), copy)
            }
        };
        if version != o.quote.version {
            let earlier = ordered_as(&mut tx, &owner, o.quote.version).await?;
            tx.rollback().await?;
            return Ok(match earlier {
                Some(order) => PlaceOutcome::AlreadyOrdered(order),
                None => PlaceOutcome::Changed,
            });
        }
        if lines.is_empty() {
            tx.rollback().await?;
            return Ok(PlaceOutcome::Empty);
        }
        // The version is consumed here, once: a second order of it conflicts.
        let consumed = sqlx::query(
            "INSERT INTO cart_orders (owner, version, order_id, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (owner, version) DO NOTHING",
        )
        .bind(&owner)
        .bind(version as i64)
        .bind(&o.id)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if consumed == 0 {
            let earlier = ordered_as(&mut tx, &owner, version).await?;
            tx.rollback().await?;
            return Ok(PlaceOutcome::AlreadyOrdered(earlier.flatten()));
        }
        let lines = sorted(&lines);
        let mut problems = Vec::new();
        let mut priced = Vec::with_capacity(lines.len());
        let mut currency = None;
        // Products are locked before their variants, here and in every other write to variants
        // (edits, imports), so a product's stock (the sum of its variants') is always written by
        // whoever holds its variants, and no two writers wait on each other in a circle.
        let ids = lines.iter().map(|l| l.variant_id.to_string()).collect::<Vec<_>>().join(",");
        let owners: Vec<i64> =
            sqlx::query_scalar(&format!("SELECT DISTINCT product_id FROM variants WHERE id IN ({ids})"))
                .fetch_all(&mut *tx)
                .await?;
        lock_products(&mut tx, self.db.dialect, &owners).await?;
        let mut sold: Vec<(i64, i64)> = Vec::with_capacity(lines.len());
        let mut snapshots = Vec::with_capacity(lines.len());
        for l in &lines {
            let taken = sqlx::query(
                "UPDATE variants SET stock = stock - $1 WHERE id = $2 AND stock >= $1 \
                 AND product_id IN (SELECT id FROM products WHERE active = 1) \
                 RETURNING price_cents, product_id, sku, option1, option2, option3, weight_grams",
            )
            .bind(i64::from(l.quantity))
            .bind(l.variant_id)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(row) = taken {
                let product_id: i64 = row.try_get("product_id")?;
                priced.push(LineInput {
                    variant_id: l.variant_id,
                    product_id,
                    category_id: 0,
                    quantity: l.quantity,
                    unit_cents: row.try_get("price_cents")?,
                    weight_grams: row.try_get("weight_grams")?,
                });
                let values: Vec<String> =
                    ["option1", "option2", "option3"].iter().map(|c| row.try_get(*c)).collect::<Result<_, _>>()?;
                snapshots.push((product_id, row.try_get::<String, _>("sku")?, values));
                match sold.iter_mut().find(|(p, _)| *p == product_id) {
                    Some((_, q)) => *q += i64::from(l.quantity),
                    None => sold.push((product_id, i64::from(l.quantity))),
                }
                continue;
            }
            let row = sqlx::query(
                "SELECT p.name, p.active, v.stock FROM variants v JOIN products p ON p.id = v.product_id WHERE v.id = $1",
            )
            .bind(l.variant_id)
            .fetch_optional(&mut *tx)
            .await?;
            let variant_id = l.variant_id;
            problems.push(match row {
                Some(r) if r.try_get::<i64, _>("active")? == 1 => LineProblem::Short {
                    variant_id,
                    name: r.try_get("name")?,
                    available: r.try_get::<i64, _>("stock")?.max(0),
                },
                Some(r) => LineProblem::Unavailable { variant_id, name: r.try_get("name")? },
                None => LineProblem::Unavailable { variant_id, name: format!("Item {variant_id}") },
            });
        }
        sold.sort_unstable();
        let mut products: HashMap<i64, (String, [String; 3], i64)> = HashMap::new();
        if problems.is_empty() {
            for &(product_id, quantity) in &sold {
                // The product's stock is the sum of its variants', so it drops by what they did.
                let row = sqlx::query(
                    "UPDATE products SET stock = stock - $1, popularity = popularity + $1 WHERE id = $2 \
                     RETURNING name, currency, option1_name, option2_name, option3_name, category_id",
                )
                .bind(quantity)
                .bind(product_id)
                .fetch_one(&mut *tx)
                .await?;
                currency.get_or_insert(Currency::parse(&row.try_get::<String, _>("currency")?).unwrap_or_default());
                let option_names =
                    [row.try_get("option1_name")?, row.try_get("option2_name")?, row.try_get("option3_name")?];
                products.insert(product_id, (row.try_get("name")?, option_names, row.try_get("category_id")?));
            }
        }
        if !problems.is_empty() {
            tx.rollback().await?;
            return Ok(PlaceOutcome::Problems(problems));
        }
        let currency = currency.unwrap_or_default();
        for line in &mut priced {
            line.category_id = products.get(&line.product_id).map_or(0, |p| p.2);
        }
        // Promotions, shipping and tax as the database has them now, and the code checked again
        // for this customer: the order is placed only at exactly the quote the shopper confirmed.
        let config = pricing::load_in(&mut tx).await?;
        let p = &o.pricing;
        let code_promotion = match &p.code {
            Some(code) => {
                let Some(promotion) = pricing::by_code_in(&mut tx, code).await? else {
                    tx.rollback().await?;
                    return Ok(PlaceOutcome::PromotionUnavailable {
                        message: format!("The code {code} is not valid any more."),
                        code: true,
                    });
                };
                let uses = match (&promotion.per_customer_limit, &p.customer) {
                    (Some(_), Some(c)) => Some(pricing::customer_uses_in(&mut tx, promotion.id, c).await?),
                    (Some(_), None) => None,
                    (None, _) => Some(0),
                };
                if let Err(why) = promotion.availability(now_ms(), uses) {
                    tx.rollback().await?;
                    return Ok(PlaceOutcome::PromotionUnavailable { message: why.message(code), code: true });
                }
                Some(promotion)
            }
            None => None,
        };
        let (cart, method_id, _) = config.price(currency, &priced, code_promotion.as_ref(), &p.country, p.method_id);
        let method_name = config
            .zone_for(&p.country)
            .and_then(|z| z.methods.iter().find(|m| Some(m.id) == method_id))
            .map(|m| m.name.clone())
            .unwrap_or_default();
        if Quote::of(version, &cart, &quote_context(&method_name, p.code.as_deref())) != o.quote {
            tx.rollback().await?;
            return Ok(PlaceOutcome::Changed);
        }
        let now = now_ms();
        let claimed = sqlx::query(
            "INSERT INTO orders (id, reference, user_id, email, status, currency, subtotal_cents, shipping_cents, \
             total_cents, ship_name, ship_line1, ship_line2, ship_city, ship_postcode, ship_country, access_token, \
             idempotency_key, request_hash, payment_ref, created_at, payment_state, payment_updated_at, \
             discount_cents, shipping_discount_cents, tax_cents, tax_inclusive, shipping_method, promo_code) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $20, \
             $22, $23, $24, $25, $26, $27) \
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(&o.id)
        .bind(&o.reference)
        .bind(o.user_id)
        .bind(&o.email)
        .bind(status::PENDING_PAYMENT)
        .bind(currency.code())
        .bind(cart.subtotal_cents)
        .bind(cart.shipping_cents - cart.shipping_discount_cents)
        .bind(cart.total_cents)
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
        .bind(now)
        .bind(payment::AUTHORIZED)
        .bind(cart.discount_cents)
        .bind(cart.shipping_discount_cents)
        .bind(cart.tax_cents)
        .bind(i64::from(cart.tax_inclusive))
        .bind(&method_name)
        .bind(p.code.clone().unwrap_or_default())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed == 0 {
            tx.rollback().await?;
            let existing = self.by_key(&o.idempotency_key).await?;
            return Ok(match existing {
                Some(order) => PlaceOutcome::KeyUsed(Box::new(order)),
                // The other request rolled back between our insert and our read.
                None => PlaceOutcome::Changed,
            });
        }
        if let Some(refusal) = redeem(&mut tx, o, &cart, code_promotion.as_ref(), now).await? {
            tx.rollback().await?;
            return Ok(refusal);
        }
        let mut adjustments: Vec<(&str, &str, i64, Option<i64>)> = cart
            .discounts
            .iter()
            .map(|d| {
                let kind = if d.shipping { "shipping_discount" } else { "discount" };
                (kind, d.label.as_str(), d.amount_cents, Some(d.promotion_id))
            })
            .collect();
        adjustments.extend(cart.tax_lines.iter().map(|t| ("tax", t.label.as_str(), t.amount_cents, None)));
        for (position, (kind, label, amount, promotion)) in adjustments.into_iter().enumerate() {
            sqlx::query(
                "INSERT INTO order_adjustments (order_id, position, kind, label, amount_cents, promotion_id) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&o.id)
            .bind(position as i64)
            .bind(kind)
            .bind(label)
            .bind(amount)
            .bind(promotion)
            .execute(&mut *tx)
            .await?;
        }
        for ((l, (product_id, sku, values)), charged) in priced.iter().zip(&snapshots).zip(&cart.lines) {
            let (name, option_names, _) = &products[product_id];
            sqlx::query(
                "INSERT INTO order_lines (order_id, product_id, variant_id, sku, options, name, unit_price_cents, \
                 quantity, line_total_cents, discount_cents, tax_cents) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(&o.id)
            .bind(product_id)
            .bind(l.variant_id)
            .bind(sku)
            .bind(option_label(option_names, values))
            .bind(name)
            .bind(l.unit_cents)
            .bind(i64::from(l.quantity))
            .bind(charged.gross_cents)
            .bind(charged.discount_cents)
            .bind(charged.tax_cents)
            .execute(&mut *tx)
            .await?;
            sqlx::query("INSERT INTO events (subject, kind, product_id, order_id, created_at) VALUES ($1, 'purchase', $2, $3, $4)")
                .bind(&o.subject)
                .bind(product_id)
                .bind(&o.id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        // The cart loses exactly what was ordered: all of it, at the version that was read.
        if let Some(cart_id) = sql_cart {
            sqlx::query("DELETE FROM cart_items WHERE cart_id = $1").bind(cart_id).execute(&mut *tx).await?;
            bump_version(&mut tx, cart_id).await?;
        }
        tx.commit().await?;
        Ok(PlaceOutcome::Placed)
    }

    /// What consumed `version` of `owner`'s cart: `None` if nothing, `Some(None)` if it was voided.
    pub async fn ordered_version(
        &self,
        owner: &CartOwner,
        version: u64,
    ) -> Result<Option<Option<String>>, sqlx::Error> {
        let row = sqlx::query("SELECT order_id FROM cart_orders WHERE owner = $1 AND version = $2")
            .bind(owner.key())
            .bind(version as i64)
            .fetch_optional(self.db.read())
            .await?;
        row.map(|r| r.try_get::<Option<String>, _>("order_id")).transpose()
    }

    /// Makes `version` of `owner`'s cart unorderable if no order has it yet (an interrupted
    /// checkout whose claim is being given back). Returns the order that has it, if one does.
    pub async fn void_version(&self, owner: &CartOwner, version: u64) -> Result<Option<String>, sqlx::Error> {
        let mut tx = self.db.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO cart_orders (owner, version, order_id, created_at) VALUES ($1, $2, NULL, $3) \
             ON CONFLICT (owner, version) DO NOTHING",
        )
        .bind(owner.key())
        .bind(version as i64)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let order = if inserted == 1 { None } else { ordered_as(&mut tx, &owner.key(), version).await?.flatten() };
        tx.commit().await?;
        Ok(order)
    }

    /// Forgets consumed cart versions older than `max_age_ms` (their carts have moved on or gone).
    pub async fn prune_cart_versions(&self, max_age_ms: i64) -> Result<u64, sqlx::Error> {
        let res = sqlx::query("DELETE FROM cart_orders WHERE created_at < $1")
            .bind(now_ms() - max_age_ms)
            .execute(&mut *self.db.write().await?)
            .await?;
        Ok(res.rows_affected())
    }

    /// Records the outcome of a capture attempt.
    pub async fn record_capture(&self, id: &str, result: Result<(), String>) -> Result<(), sqlx::Error> {
        let (state, order_status, error) = match &result {
            Ok(()) => (payment::CAPTURED, status::PAID, String::new()),
            Err(e) => (payment::CAPTURE_FAILED, status::PENDING_PAYMENT, e.clone()),
        };
        sqlx::query(
            "UPDATE orders SET payment_state = $1, status = $2, payment_error = $3, \
             payment_attempts = payment_attempts + 1, payment_updated_at = $4 \
             WHERE id = $5 AND payment_state <> $6",
        )
        .bind(state)
        .bind(order_status)
        .bind(error)
        .bind(now_ms())
        .bind(id)
        .bind(payment::CAPTURED)
        .execute(&mut *self.db.write().await?)
        .await?;
        Ok(())
    }

    /// Orders whose payment is authorised but not captured, last touched before `before_ms`,
    /// with fewer than `max_attempts` capture attempts: (id, payment reference, last touched).
    pub async fn uncaptured(
        &self,
        before_ms: i64,
        max_attempts: i64,
        limit: i64,
    ) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, payment_ref, payment_updated_at FROM orders WHERE payment_state IN ($1, $2) \
             AND payment_updated_at < $3 AND payment_attempts < $4 ORDER BY created_at LIMIT $5",
        )
        .bind(payment::AUTHORIZED)
        .bind(payment::CAPTURE_FAILED)
        .bind(before_ms)
        .bind(max_attempts)
        .bind(limit)
        .fetch_all(self.db.read())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("payment_ref")?, r.try_get("payment_updated_at")?)))
            .collect()
    }

    /// Takes the right to capture an order's payment now: only if nobody touched its payment
    /// since `seen_ms` (compare-and-set), so two instances never capture one order at once.
    pub async fn lease_capture(&self, id: &str, seen_ms: i64) -> Result<bool, sqlx::Error> {
        let mut tx = self.db.begin_write().await?;
        let leased = sqlx::query(
            "UPDATE orders SET payment_updated_at = $1 WHERE id = $2 AND payment_updated_at = $3 AND payment_state <> $4",
        )
        .bind(now_ms().max(seen_ms + 1))
        .bind(id)
        .bind(seen_ms)
        .bind(payment::CAPTURED)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(leased == 1)
    }

    /// For administrators: orders whose payment needs attention first, then the newest.
    pub async fn for_admin(&self, limit: i64) -> Result<Vec<AdminOrder>, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "SELECT {ADMIN_COLUMNS} FROM orders \
             ORDER BY CASE WHEN payment_state = $1 THEN 1 ELSE 0 END, created_at DESC LIMIT $2"
        ))
        .bind(payment::CAPTURED)
        .bind(limit)
        .fetch_all(self.db.read())
        .await?;
        rows.iter().map(admin_order).collect()
    }

    /// One order as administrators see it.
    pub async fn admin_view(&self, id: &str) -> Result<Option<AdminOrder>, sqlx::Error> {
        let row = sqlx::query(&format!("SELECT {ADMIN_COLUMNS} FROM orders WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.db.read())
            .await?;
        row.as_ref().map(admin_order).transpose()
    }

    async fn load(&self, filter: &str, value: &str) -> Result<Option<StoredOrder>, sqlx::Error> {
        let sql = format!(
            "SELECT id, reference, user_id, email, status, currency, subtotal_cents, shipping_cents, total_cents, \
             ship_name, ship_line1, ship_line2, ship_city, ship_postcode, ship_country, access_token, request_hash, \
             created_at, payment_ref, payment_state, payment_updated_at, discount_cents, shipping_discount_cents, \
             tax_cents, tax_inclusive, shipping_method, promo_code FROM orders WHERE {filter} = $1"
        );
        let Some(r) = sqlx::query(&sql).bind(value).fetch_optional(self.db.read()).await? else { return Ok(None) };
        let id: String = r.try_get("id")?;
        let lines = sqlx::query(
            "SELECT product_id, variant_id, sku, options, name, unit_price_cents, quantity, line_total_cents, \
             discount_cents, tax_cents FROM order_lines WHERE order_id = $1 ORDER BY name, options, variant_id",
        )
        .bind(&id)
        .fetch_all(self.db.read())
        .await?
        .iter()
        .map(|l| {
            Ok(OrderLineView {
                product_id: l.try_get("product_id")?,
                variant_id: l.try_get("variant_id")?,
                sku: l.try_get("sku")?,
                options: l.try_get("options")?,
                name: l.try_get("name")?,
                unit_price_cents: l.try_get("unit_price_cents")?,
                quantity: l.try_get::<i64, _>("quantity")? as u32,
                line_total_cents: l.try_get("line_total_cents")?,
                discount_cents: l.try_get("discount_cents")?,
                tax_cents: l.try_get("tax_cents")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let (mut discounts, mut tax_lines) = (Vec::new(), Vec::new());
        for a in
            sqlx::query("SELECT kind, label, amount_cents FROM order_adjustments WHERE order_id = $1 ORDER BY position")
                .bind(&id)
                .fetch_all(self.db.read())
                .await?
        {
            let adjustment = Adjustment { label: a.try_get("label")?, amount_cents: a.try_get("amount_cents")? };
            match a.try_get::<String, _>("kind")?.as_str() {
                "tax" => tax_lines.push(adjustment),
                _ => discounts.push(adjustment),
            }
        }
        let currency: String = r.try_get("currency")?;
        Ok(Some(StoredOrder {
            user_id: r.try_get("user_id")?,
            access_token: r.try_get("access_token")?,
            request_hash: r.try_get("request_hash")?,
            payment_ref: r.try_get("payment_ref")?,
            payment_state: r.try_get("payment_state")?,
            payment_updated_at: r.try_get("payment_updated_at")?,
            view: OrderView {
                id,
                reference: r.try_get("reference")?,
                status: r.try_get("status")?,
                email: r.try_get("email")?,
                currency: Currency::parse(&currency).unwrap_or_default(),
                subtotal_cents: r.try_get("subtotal_cents")?,
                shipping_cents: r.try_get("shipping_cents")?,
                total_cents: r.try_get("total_cents")?,
                discount_cents: r.try_get("discount_cents")?,
                shipping_method: r.try_get("shipping_method")?,
                shipping_discount_cents: r.try_get("shipping_discount_cents")?,
                tax_cents: r.try_get("tax_cents")?,
                tax_inclusive: r.try_get::<i64, _>("tax_inclusive")? == 1,
                promo_code: r.try_get("promo_code")?,
                discounts,
                tax_lines,
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
        .fetch_all(self.db.read())
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

/// Counts the order against every promotion it used, inside the order transaction. Each
/// promotion's row is raised only while it is under its usage limit (and still active and
/// running), which also locks it until commit: concurrent checkouts redeem one at a time, and
/// the per-customer count read after it is exact. `Some` refusal when one cannot be redeemed.
async fn redeem(
    tx: &mut super::db::Tx,
    o: &NewOrder,
    cart: &PricedCart,
    code_promotion: Option<&Promotion>,
    now: i64,
) -> Result<Option<PlaceOutcome>, sqlx::Error> {
    let customer = o.pricing.customer.clone().unwrap_or_else(|| format!("e:{}", o.email));
    let mut saved: Vec<(i64, i64)> = Vec::new();
    for d in &cart.discounts {
        match saved.iter_mut().find(|(id, _)| *id == d.promotion_id) {
            Some((_, amount)) => *amount += d.amount_cents,
            None => saved.push((d.promotion_id, d.amount_cents)),
        }
    }
    saved.sort_unstable();
    for (promotion_id, amount) in saved {
        let is_code = code_promotion.is_some_and(|p| p.id == promotion_id);
        let raised = sqlx::query(
            "UPDATE promotions SET times_used = times_used + 1 WHERE id = $1 AND active = 1 \
             AND (usage_limit IS NULL OR times_used < usage_limit) AND (ends_at IS NULL OR ends_at > $2) \
             RETURNING name, per_customer_limit",
        )
        .bind(promotion_id)
        .bind(now)
        .fetch_optional(&mut **tx)
        .await?;
        let label = |name: &str| match (is_code, &o.pricing.code) {
            (true, Some(code)) => format!("The code {code}"),
            _ => format!("The offer \"{name}\""),
        };
        let Some(row) = raised else {
            let name: Option<String> = sqlx::query_scalar("SELECT name FROM promotions WHERE id = $1")
                .bind(promotion_id)
                .fetch_optional(&mut **tx)
                .await?;
            return Ok(Some(PlaceOutcome::PromotionUnavailable {
                message: format!("{} has just reached its limit or ended.", label(&name.unwrap_or_default())),
                code: is_code,
            }));
        };
        let name: String = row.try_get("name")?;
        if let Some(limit) = row.try_get::<Option<i64>, _>("per_customer_limit")? {
            if pricing::customer_uses_in(tx, promotion_id, &customer).await? >= limit {
                return Ok(Some(PlaceOutcome::PromotionUnavailable {
                    message: format!("{} was already used as often as one customer may.", label(&name)),
                    code: is_code,
                }));
            }
        }
        sqlx::query(
            "INSERT INTO promotion_redemptions (promotion_id, order_id, customer, amount_cents, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(promotion_id)
        .bind(&o.id)
        .bind(&customer)
        .bind(amount)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(None)
}

/// The order that consumed `version` of the cart `owner`: `None` if the version is unused,
/// `Some(None)` if it was voided.
async fn ordered_as(tx: &mut super::db::Tx, owner: &str, version: u64) -> Result<Option<Option<String>>, sqlx::Error> {
    let row = sqlx::query("SELECT order_id FROM cart_orders WHERE owner = $1 AND version = $2")
        .bind(owner)
        .bind(version as i64)
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|r| r.try_get::<Option<String>, _>("order_id")).transpose()
}

const ADMIN_COLUMNS: &str = "id, reference, email, status, currency, total_cents, created_at, payment_state, \
    payment_error, payment_attempts";

fn admin_order(r: &sqlx::any::AnyRow) -> Result<AdminOrder, sqlx::Error> {
    let currency: String = r.try_get("currency")?;
    Ok(AdminOrder {
        id: r.try_get("id")?,
        reference: r.try_get("reference")?,
        email: r.try_get("email")?,
        status: r.try_get("status")?,
        currency: Currency::parse(&currency).unwrap_or_default(),
        total_cents: r.try_get("total_cents")?,
        created_at: r.try_get("created_at")?,
        payment_state: r.try_get("payment_state")?,
        payment_error: r.try_get("payment_error")?,
        payment_attempts: r.try_get("payment_attempts")?,
    })
}
