//! What prices a cart beyond its lines: promotions, shipping zones and methods, the tax of each
//! zone and the store's tax settings. Carts are priced from a copy kept here for a couple of
//! seconds (one entry, replaced whole); the order transaction reads all of it again from the
//! database (`load_in`), so a stale copy can show a total but never charge it.

use super::db::{now_ms, Db};
use crate::domain::money::Currency;
use crate::domain::pricing::{
    price, LineInput, PricedCart, PricingInput, PromoKind, Promotion, Rate, Rounding, ShippingMethod, Target, TaxRate,
    TaxSettings,
};
use crate::domain::promotion_form::PromotionDraft;
use crate::model::{AdminPromotion, Redemption, ShippingOption, ShippingZoneView};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// How long a copy of the settings serves cart pages before it is read again.
const CONFIG_TTL: Duration = Duration::from_secs(2);
/// Automatic promotions considered at once; more than this is refused by the admin form.
pub const MAX_AUTOMATIC: i64 = 50;

/// A destination: its countries, its tax and how orders ship there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zone {
    pub id: i64,
    pub name: String,
    pub countries: Vec<String>,
    pub tax: TaxRate,
    /// Active methods, in the store's order (the first is the default).
    pub methods: Vec<ShippingMethod>,
}

/// A cart priced for a destination: the priced cart, the shipping method it used (`None` when
/// the destination has none), and every method of the destination with its price for this cart.
pub type PricedFor = (PricedCart, Option<i64>, Vec<ShippingOption>);

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PricingConfig {
    /// Active automatic promotions (no code) that have not ended.
    pub automatic: Vec<Promotion>,
    pub zones: Vec<Zone>,
    pub settings: TaxSettings,
}

impl PricingConfig {
    pub fn zone_for(&self, country: &str) -> Option<&Zone> {
        self.zones.iter().find(|z| z.countries.iter().any(|c| c == country))
    }

    /// Prices `lines` for a destination and method (the zone's first when `method_id` is not one
    /// of its methods), with the automatic promotions in force now and the code's promotion if
    /// the caller found it usable. Also answers every method's price for this cart. Cart pages
    /// and the order transaction both price through here.
    pub fn price(
        &self,
        currency: Currency,
        lines: &[LineInput],
        code_promotion: Option<&Promotion>,
        country: &str,
        method_id: Option<i64>,
    ) -> PricedFor {
        let now = now_ms();
        let mut promotions: Vec<Promotion> =
            self.automatic.iter().filter(|p| p.availability(now, Some(0)).is_ok()).cloned().collect();
        promotions.extend(code_promotion.cloned());
        let zone = self.zone_for(country);
        let tax = zone.map(|z| &z.tax);
        let methods = zone.map(|z| z.methods.as_slice()).unwrap_or_default();
        let run = |shipping| {
            price(&PricingInput { currency, lines, promotions: &promotions, shipping, tax, settings: &self.settings })
        };
        let options: Vec<ShippingOption> = methods
            .iter()
            .map(|m| ShippingOption { id: m.id, name: m.name.clone(), cents: run(Some(m)).shipping_cents })
            .collect();
        let chosen = methods.iter().find(|m| Some(m.id) == method_id).or(methods.first());
        (run(chosen), chosen.map(|m| m.id), options)
    }

    /// Where shipping is estimated before the shopper chooses: the first zone's first country.
    pub fn default_country(&self) -> Option<&str> {
        self.zones.first().and_then(|z| z.countries.first()).map(String::as_str)
    }
}

/// The settings as read at an instant.
type Snapshot = Option<(Instant, Arc<PricingConfig>)>;

#[derive(Clone, Debug)]
pub struct PricingStore {
    db: Db,
    cached: Arc<RwLock<Snapshot>>,
}

const PROMOTION_COLUMNS: &str = "id, code, name, kind, value, buy_quantity, target, target_id, min_subtotal_cents, \
    starts_at, ends_at, usage_limit, per_customer_limit, times_used, combinable, active";

fn promotion_from_row(r: &AnyRow) -> Result<Promotion, sqlx::Error> {
    let value: i64 = r.try_get("value")?;
    let percent = value.clamp(0, 100) as u8;
    let kind = match r.try_get::<String, _>("kind")?.as_str() {
        "percent" => PromoKind::Percent { percent },
        "fixed" => PromoKind::Fixed { cents: value },
        "buy_get" => PromoKind::BuyGet { buy: r.try_get::<i64, _>("buy_quantity")?.clamp(1, 1000) as u32, percent },
        _ => PromoKind::FreeShipping,
    };
    let target_id: i64 = r.try_get("target_id")?;
    let target = match r.try_get::<String, _>("target")?.as_str() {
        "category" => Target::Category(target_id),
        "product" => Target::Product(target_id),
        "variant" => Target::Variant(target_id),
        _ => Target::Order,
    };
    Ok(Promotion {
        id: r.try_get("id")?,
        code: r.try_get("code")?,
        name: r.try_get("name")?,
        kind,
        target,
        min_subtotal_cents: r.try_get("min_subtotal_cents")?,
        combinable: r.try_get::<i64, _>("combinable")? == 1,
        starts_at: r.try_get("starts_at")?,
        ends_at: r.try_get("ends_at")?,
        usage_limit: r.try_get("usage_limit")?,
        per_customer_limit: r.try_get("per_customer_limit")?,
        times_used: r.try_get("times_used")?,
        active: r.try_get::<i64, _>("active")? == 1,
    })
}

/// `0:899,5000:499` into bands; a malformed band is skipped (the admin form refuses them).
fn parse_bands(raw: &str) -> Vec<(i64, i64)> {
    raw.split(',')
        .filter_map(|b| {
            let (from, cents) = b.trim().split_once(':')?;
            Some((from.trim().parse().ok()?, cents.trim().parse().ok()?))
        })
        .collect()
}

fn method_from_row(r: &AnyRow) -> Result<ShippingMethod, sqlx::Error> {
    let base: i64 = r.try_get("base_cents")?;
    let rate = match r.try_get::<String, _>("rate_kind")?.as_str() {
        "weight" => Rate::Weight { base_cents: base, per_kg_cents: r.try_get("per_kg_cents")? },
        "bands" => Rate::Bands(parse_bands(&r.try_get::<String, _>("bands")?)),
        _ => Rate::Flat { cents: base },
    };
    Ok(ShippingMethod {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        rate,
        free_over_cents: r.try_get("free_over_cents")?,
    })
}

/// The settings as the database has them now, through `conn` (a pooled connection, or the
/// order transaction's).
pub async fn load_in(conn: &mut AnyConnection) -> Result<PricingConfig, sqlx::Error> {
    let automatic = sqlx::query(&format!(
        "SELECT {PROMOTION_COLUMNS} FROM promotions WHERE code IS NULL AND active = 1 \
         AND (ends_at IS NULL OR ends_at > $1) ORDER BY id LIMIT $2"
    ))
    .bind(now_ms())
    .bind(MAX_AUTOMATIC)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(promotion_from_row)
    .collect::<Result<Vec<_>, _>>()?;
    let mut zones = Vec::new();
    for r in sqlx::query("SELECT id, name, countries, tax_label, tax_rate_bp FROM shipping_zones ORDER BY position, id")
        .fetch_all(&mut *conn)
        .await?
    {
        zones.push(Zone {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            countries: r.try_get::<String, _>("countries")?.split(',').map(|c| c.trim().to_string()).collect(),
            tax: TaxRate {
                label: r.try_get("tax_label")?,
                rate_bp: r.try_get::<i64, _>("tax_rate_bp")?.clamp(0, 10_000) as u32,
            },
            methods: Vec::new(),
        });
    }
    for r in sqlx::query(
        "SELECT id, zone_id, name, rate_kind, base_cents, per_kg_cents, bands, free_over_cents FROM shipping_methods \
         WHERE active = 1 ORDER BY position, id",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        let zone_id: i64 = r.try_get("zone_id")?;
        if let Some(zone) = zones.iter_mut().find(|z| z.id == zone_id) {
            zone.methods.push(method_from_row(&r)?);
        }
    }
    let mut settings = TaxSettings::default();
    for r in sqlx::query("SELECT key, value FROM store_settings").fetch_all(&mut *conn).await? {
        let value: String = r.try_get("value")?;
        match r.try_get::<String, _>("key")?.as_str() {
            "tax_inclusive" => settings.inclusive = value == "1",
            "tax_rounding" => settings.rounding = if value == "total" { Rounding::PerTotal } else { Rounding::PerLine },
            _ => {}
        }
    }
    Ok(PricingConfig { automatic, zones, settings })
}

/// The promotion with `code` (already normalised), active or not.
pub async fn by_code_in(conn: &mut AnyConnection, code: &str) -> Result<Option<Promotion>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {PROMOTION_COLUMNS} FROM promotions WHERE code = $1"))
        .bind(code)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(promotion_from_row).transpose()
}

/// How often `customer` has redeemed the promotion.
pub async fn customer_uses_in(conn: &mut AnyConnection, promotion_id: i64, customer: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM promotion_redemptions WHERE promotion_id = $1 AND customer = $2")
        .bind(promotion_id)
        .bind(customer)
        .fetch_one(&mut *conn)
        .await
}

/// Why a draft cannot be saved.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("that code is taken")]
    CodeTaken,
    #[error("no such promotion")]
    NotFound,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl PricingStore {
    pub fn new(db: Db) -> Self {
        PricingStore { db, cached: Arc::new(RwLock::new(None)) }
    }

    /// The settings for pricing carts: a copy at most `CONFIG_TTL` old.
    pub async fn config(&self) -> Result<Arc<PricingConfig>, sqlx::Error> {
        if let Some((at, config)) = self.cached.read().ok().and_then(|c| c.clone()) {
            if at.elapsed() < CONFIG_TTL {
                return Ok(config);
            }
        }
        let config = Arc::new(load_in(&mut *self.db.read().acquire().await?).await?);
        if let Ok(mut c) = self.cached.write() {
            *c = Some((Instant::now(), config.clone()));
        }
        Ok(config)
    }

    /// Drops the copy, after an administrator changed something.
    pub fn invalidate(&self) {
        if let Ok(mut c) = self.cached.write() {
            *c = None;
        }
    }

    pub async fn by_code(&self, code: &str) -> Result<Option<Promotion>, sqlx::Error> {
        by_code_in(&mut *self.db.read().acquire().await?, code).await
    }

    pub async fn customer_uses(&self, promotion_id: i64, customer: &str) -> Result<i64, sqlx::Error> {
        customer_uses_in(&mut *self.db.read().acquire().await?, promotion_id, customer).await
    }

    /// Every promotion with its redemptions, newest first.
    pub async fn admin_list(&self) -> Result<Vec<AdminPromotion>, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "SELECT {PROMOTION_COLUMNS}, \
             (SELECT CAST(COALESCE(SUM(amount_cents), 0) AS BIGINT) FROM promotion_redemptions r \
              WHERE r.promotion_id = promotions.id) AS saved_cents \
             FROM promotions ORDER BY id DESC LIMIT 500"
        ))
        .fetch_all(self.db.read())
        .await?;
        rows.iter()
            .map(|r| Ok(AdminPromotion { promotion: promotion_from_row(r)?, saved_cents: r.try_get("saved_cents")? }))
            .collect()
    }

    /// Creates (`id` None) or replaces a promotion; returns its id.
    pub async fn save(&self, id: Option<i64>, d: &PromotionDraft) -> Result<i64, SaveError> {
        let now = now_ms();
        let mut tx = self.db.begin_write().await?;
        if let Some(code) = &d.code {
            let taken: Option<i64> = sqlx::query_scalar("SELECT id FROM promotions WHERE code = $1")
                .bind(code)
                .fetch_optional(&mut *tx)
                .await?;
            if taken.is_some_and(|t| Some(t) != id) {
                return Err(SaveError::CodeTaken);
            }
        }
        let sql = match id {
            None => {
                "INSERT INTO promotions (code, name, kind, value, buy_quantity, target, target_id, \
                     min_subtotal_cents, starts_at, ends_at, usage_limit, per_customer_limit, combinable, active, \
                     created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
                     $15) RETURNING id"
            }
            Some(_) => {
                "UPDATE promotions SET code = $1, name = $2, kind = $3, value = $4, buy_quantity = $5, \
                        target = $6, target_id = $7, min_subtotal_cents = $8, starts_at = $9, ends_at = $10, \
                        usage_limit = $11, per_customer_limit = $12, combinable = $13, active = $14, updated_at = $15 \
                        WHERE id = $16 RETURNING id"
            }
        };
        let row = sqlx::query(sql)
            .bind(&d.code)
            .bind(&d.name)
            .bind(d.kind)
            .bind(d.value)
            .bind(d.buy_quantity)
            .bind(d.target)
            .bind(d.target_id)
            .bind(d.min_subtotal_cents)
            .bind(d.starts_at)
            .bind(d.ends_at)
            .bind(d.usage_limit)
            .bind(d.per_customer_limit)
            .bind(i64::from(d.combinable))
            .bind(i64::from(d.active))
            .bind(now);
        let row = match id {
            Some(id) => row.bind(id),
            None => row,
        }
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Err(SaveError::NotFound) };
        let saved: i64 = row.try_get("id")?;
        tx.commit().await?;
        self.invalidate();
        Ok(saved)
    }

    /// Turns a promotion off (or on again); its redemptions stay.
    pub async fn set_active(&self, id: i64, active: bool) -> Result<bool, sqlx::Error> {
        let n = sqlx::query("UPDATE promotions SET active = $1, updated_at = $2 WHERE id = $3")
            .bind(i64::from(active))
            .bind(now_ms())
            .bind(id)
            .execute(&mut *self.db.write().await?)
            .await?
            .rows_affected();
        self.invalidate();
        Ok(n == 1)
    }

    /// The orders that used a promotion, newest first.
    pub async fn redemptions(&self, promotion_id: i64) -> Result<Vec<Redemption>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT r.order_id, o.reference, r.customer, r.amount_cents, r.created_at FROM promotion_redemptions r \
             JOIN orders o ON o.id = r.order_id WHERE r.promotion_id = $1 ORDER BY r.created_at DESC LIMIT 200",
        )
        .bind(promotion_id)
        .fetch_all(self.db.read())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Redemption {
                    order_id: r.try_get("order_id")?,
                    reference: r.try_get("reference")?,
                    customer: r.try_get("customer")?,
                    amount_cents: r.try_get("amount_cents")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Zones with their tax and methods, for administrators.
    pub async fn zones(&self) -> Result<Vec<ShippingZoneView>, sqlx::Error> {
        let config = load_in(&mut *self.db.read().acquire().await?).await?;
        Ok(config
            .zones
            .into_iter()
            .map(|z| ShippingZoneView {
                id: z.id,
                name: z.name,
                countries: z.countries.join(","),
                tax_label: z.tax.label,
                tax_rate_bp: i64::from(z.tax.rate_bp),
                methods: z.methods,
            })
            .collect())
    }

    /// Sets a zone's tax; false when there is no such zone.
    pub async fn set_zone_tax(&self, zone_id: i64, label: &str, rate_bp: i64) -> Result<bool, sqlx::Error> {
        let n = sqlx::query("UPDATE shipping_zones SET tax_label = $1, tax_rate_bp = $2 WHERE id = $3")
            .bind(label)
            .bind(rate_bp)
            .bind(zone_id)
            .execute(&mut *self.db.write().await?)
            .await?
            .rows_affected();
        self.invalidate();
        Ok(n == 1)
    }

    /// Sets a method's flat price (or base price) and its free-shipping threshold.
    pub async fn set_method_price(
        &self,
        method_id: i64,
        base_cents: i64,
        free_over_cents: Option<i64>,
    ) -> Result<bool, sqlx::Error> {
        let n = sqlx::query("UPDATE shipping_methods SET base_cents = $1, free_over_cents = $2 WHERE id = $3")
            .bind(base_cents)
            .bind(free_over_cents)
            .bind(method_id)
            .execute(&mut *self.db.write().await?)
            .await?
            .rows_affected();
        self.invalidate();
        Ok(n == 1)
    }

    /// Whether catalogue prices include tax, and how tax is rounded.
    pub async fn set_tax_settings(&self, settings: &TaxSettings) -> Result<(), sqlx::Error> {
        let mut tx = self.db.begin_write().await?;
        for (key, value) in [
            ("tax_inclusive", if settings.inclusive { "1" } else { "0" }),
            ("tax_rounding", if settings.rounding == Rounding::PerTotal { "total" } else { "line" }),
        ] {
            sqlx::query("UPDATE store_settings SET value = $1 WHERE key = $2")
                .bind(value)
                .bind(key)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.invalidate();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::parse_bands;

    #[test]
    fn bands_parse_and_skip_nonsense() {
        assert_eq!(parse_bands("0:899, 5000:499,10000:0"), vec![(0, 899), (5000, 499), (10000, 0)]);
        assert_eq!(parse_bands("x:1,2:y,,3:4"), vec![(3, 4)]);
        assert_eq!(parse_bands(""), vec![]);
    }
}
