//! Administrators' use cases for promotions, shipping and tax: every one checks the admin role
//! first, parses its input with the domain's rules and changes nothing on bad input.

use super::visitor::Visitor;
use crate::domain::pricing::{Rounding, TaxSettings};
use crate::domain::promotion_form::{PromotionDraft, PromotionFields};
use crate::error::AppError;
use crate::model::{AdminPromotion, Redemption, ShippingZoneView};
use crate::state::AppState;
use crate::storage::pricing::SaveError;

async fn admin(state: &AppState, visitor: &Visitor) -> Result<(), AppError> {
    super::auth::require_admin(state, visitor).await.map(|_| ())
}

fn parse_id(raw: &str, what: &str) -> Result<i64, AppError> {
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| AppError::BadRequest(format!("{what} must be a positive whole number.")))
}

pub async fn list(state: &AppState, visitor: &Visitor) -> Result<Vec<AdminPromotion>, AppError> {
    admin(state, visitor).await?;
    Ok(state.pricing.admin_list().await?)
}

/// Creates a promotion (`id` empty) or replaces one; 422 naming every problem otherwise.
pub async fn save(
    state: &AppState,
    visitor: &Visitor,
    id: Option<&str>,
    fields: &PromotionFields,
) -> Result<i64, AppError> {
    admin(state, visitor).await?;
    let id = match id.map(str::trim).filter(|s| !s.is_empty()) {
        Some(raw) => Some(parse_id(raw, "id")?),
        None => None,
    };
    let draft = PromotionDraft::parse(fields).map_err(|problems| AppError::Invalid(problems.join(" ")))?;
    if draft.code.is_none() && draft.active && id.is_none() {
        let automatic = state.pricing.config().await?.automatic.len() as i64;
        if automatic >= crate::storage::pricing::MAX_AUTOMATIC {
            return Err(AppError::Invalid(format!(
                "At most {} automatic promotions can run at once: end one first.",
                crate::storage::pricing::MAX_AUTOMATIC
            )));
        }
    }
    match state.pricing.save(id, &draft).await {
        Ok(id) => Ok(id),
        Err(SaveError::CodeTaken) => Err(AppError::Conflict("Another promotion already has that code.".into())),
        Err(SaveError::NotFound) => Err(AppError::NotFound("There is no such promotion.".into())),
        Err(SaveError::Db(e)) => Err(e.into()),
    }
}

pub async fn set_active(state: &AppState, visitor: &Visitor, id: &str, active: bool) -> Result<(), AppError> {
    admin(state, visitor).await?;
    let id = parse_id(id, "id")?;
    if state.pricing.set_active(id, active).await? {
        Ok(())
    } else {
        Err(AppError::NotFound("There is no such promotion.".into()))
    }
}

pub async fn redemptions(state: &AppState, visitor: &Visitor, id: &str) -> Result<Vec<Redemption>, AppError> {
    admin(state, visitor).await?;
    Ok(state.pricing.redemptions(parse_id(id, "id")?).await?)
}

pub async fn zones(state: &AppState, visitor: &Visitor) -> Result<(Vec<ShippingZoneView>, TaxSettings), AppError> {
    admin(state, visitor).await?;
    let settings = state.pricing.config().await?.settings.clone();
    Ok((state.pricing.zones().await?, settings))
}

/// A zone's tax: a label of at most 20 characters and a rate from 0 to 100% with at most two
/// decimals ("20", "8.25").
pub async fn set_zone_tax(
    state: &AppState,
    visitor: &Visitor,
    zone: &str,
    label: &str,
    rate_percent: &str,
) -> Result<(), AppError> {
    admin(state, visitor).await?;
    let zone = parse_id(zone, "zone")?;
    let label = label.trim();
    if label.is_empty() || label.chars().count() > 20 || label.chars().any(char::is_control) {
        return Err(AppError::Invalid("A tax label has 1 to 20 characters.".into()));
    }
    let rate_bp = crate::domain::catalog_edit::parse_price(rate_percent)
        .ok()
        .filter(|bp| (0..=10_000).contains(bp))
        .ok_or_else(|| AppError::Invalid("A tax rate is a percentage from 0 to 100, such as 20 or 8.25.".into()))?;
    if state.pricing.set_zone_tax(zone, label, rate_bp).await? {
        Ok(())
    } else {
        Err(AppError::NotFound("There is no such zone.".into()))
    }
}

/// A method's price (the flat price, or the base price of a weight rate) and the subtotal from
/// which it is free (empty: never).
pub async fn set_method_price(
    state: &AppState,
    visitor: &Visitor,
    method: &str,
    price: &str,
    free_over: &str,
) -> Result<(), AppError> {
    admin(state, visitor).await?;
    let method = parse_id(method, "method")?;
    let price = crate::domain::catalog_edit::parse_price(price).map_err(|e| AppError::Invalid(e.to_string()))?;
    let free_over = match free_over.trim() {
        "" => None,
        raw => Some(crate::domain::catalog_edit::parse_price(raw).map_err(|e| AppError::Invalid(e.to_string()))?),
    };
    if state.pricing.set_method_price(method, price, free_over).await? {
        Ok(())
    } else {
        Err(AppError::NotFound("There is no such shipping method.".into()))
    }
}

/// Whether prices include tax ("inclusive" / "exclusive") and how tax rounds ("line" / "total").
pub async fn set_tax_settings(state: &AppState, visitor: &Visitor, mode: &str, rounding: &str) -> Result<(), AppError> {
    admin(state, visitor).await?;
    let inclusive = match mode {
        "inclusive" => true,
        "exclusive" => false,
        _ => return Err(AppError::Invalid("Prices either include tax or exclude it.".into())),
    };
    let rounding = match rounding {
        "line" => Rounding::PerLine,
        "total" => Rounding::PerTotal,
        _ => return Err(AppError::Invalid("Tax rounds per line or per total.".into())),
    };
    state.pricing.set_tax_settings(&TaxSettings { inclusive, rounding }).await?;
    Ok(())
}
