//! The cart's money beyond its lines, for one shopper: the discount code they applied, the
//! destination and shipping method they chose (kept in their session, so they survive sign-in,
//! which keeps the session's data under a new id), and the promotions, shipping and tax that
//! follow. `domain::pricing` does the arithmetic; this finds its inputs.

use super::visitor::Visitor;
use crate::domain::money::Currency;
use crate::domain::pricing::{normalize_code, LineInput, NotApplied, PricedCart, Promotion};
use crate::error::AppError;
use crate::model::{Adjustment, CartPricing, CartView};
use crate::state::AppState;
use crate::storage::db::now_ms;
use std::time::Duration;

const CODE_KEY: &str = "promo_code";
const COUNTRY_KEY: &str = "ship_country";
const METHOD_KEY: &str = "ship_method";

/// Wrong codes one visitor may try per window before being made to wait: enough for typos, far
/// too few to guess codes.
const CODE_ATTEMPTS: u64 = 10;
const CODE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// What the shopper chose: kept in the session.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Choices {
    pub code: Option<String>,
    pub country: Option<String>,
    pub method_id: Option<i64>,
}

/// The choices in the session. A session that cannot be read has none (the cart still prices).
pub async fn choices(visitor: &Visitor) -> Choices {
    let s = &visitor.session;
    Choices {
        code: s.get::<String>(CODE_KEY).await.ok().flatten().and_then(|c| normalize_code(&c)),
        country: s.get::<String>(COUNTRY_KEY).await.ok().flatten().filter(|c| c.len() == 2),
        method_id: s.get::<i64>(METHOD_KEY).await.ok().flatten(),
    }
}

async fn forget_code(visitor: &Visitor) {
    let _ = visitor.session.remove::<String>(CODE_KEY).await;
}

/// The lines that are charged, as pricing takes them.
pub fn line_inputs(view: &CartView) -> Vec<LineInput> {
    view.lines
        .iter()
        .filter(|l| l.on_sale)
        .map(|l| LineInput {
            variant_id: l.variant_id,
            product_id: l.product_id,
            category_id: l.category_id,
            quantity: l.quantity,
            unit_cents: l.unit_price_cents,
            weight_grams: l.weight_grams,
        })
        .collect()
}

/// Who a per-customer limit counts: the account.
pub fn customer_key(user_id: Option<i64>) -> Option<String> {
    user_id.map(|id| format!("u:{id}"))
}

/// Why a code that passed its own checks does not apply to this cart, for the shopper.
pub fn not_applied_message(code: &str, why: &NotApplied, currency: Currency) -> String {
    match why {
        NotApplied::BelowMinimum { min_subtotal_cents } => format!(
            "The code {code} needs a subtotal of at least {}.",
            crate::domain::money::format_cents(*min_subtotal_cents, currency)
        ),
        NotApplied::NothingEligible => format!("The code {code} does not apply to anything in your cart."),
        NotApplied::BetterOffer => {
            format!("The code {code} cannot be combined with the better offer already applied to your cart.")
        }
        NotApplied::NoShipping => format!("The code {code} takes off shipping, and this cart ships free already."),
    }
}

/// Everything that priced one cart, and the result.
#[derive(Clone, Debug)]
pub struct Priced {
    pub cart: PricedCart,
    pub code: Option<String>,
    pub country: String,
    pub method_id: Option<i64>,
    pub method_name: String,
    /// Why the shopper's code was dropped, if it was.
    pub notice: Option<String>,
}

impl Priced {
    /// What the amounts alone do not say, for the checkout quote: method, code and destination.
    pub fn context(&self) -> String {
        crate::domain::checkout::quote_context(&self.method_name, self.code.as_deref())
    }
}

/// The code's promotion if it may be used by this shopper now, else why not.
async fn usable_code(
    state: &AppState,
    code: &str,
    customer: Option<&str>,
) -> Result<Result<Promotion, String>, AppError> {
    let Some(promotion) = state.pricing.by_code(code).await? else {
        return Ok(Err(format!("The code {code} is not valid.")));
    };
    let uses = match (promotion.per_customer_limit, customer) {
        (Some(_), Some(c)) => Some(state.pricing.customer_uses(promotion.id, c).await?),
        (Some(_), None) => None,
        (None, _) => Some(0),
    };
    Ok(match promotion.availability(now_ms(), uses) {
        Ok(()) => Ok(promotion),
        Err(why) => Err(why.message(code)),
    })
}

/// Prices the shopper's cart and writes the result into `view.pricing`. A code that no longer
/// applies is taken off the cart, with a notice saying why.
pub async fn price_view(state: &AppState, visitor: &Visitor, view: &mut CartView) -> Result<Priced, AppError> {
    let choices = choices(visitor).await;
    let config = state.pricing.config().await?;
    let country = choices
        .country
        .filter(|c| config.zone_for(c).is_some())
        .or_else(|| config.default_country().map(str::to_string))
        .unwrap_or_default();
    let lines = line_inputs(view);
    let customer = customer_key(visitor.user_id().await?);
    let mut notice = None;
    let mut code_promotion = None;
    if let Some(code) = &choices.code {
        match usable_code(state, code, customer.as_deref()).await? {
            Ok(p) => code_promotion = Some(p),
            Err(why) => notice = Some(why),
        }
    }
    let (mut cart, method_id, methods) =
        config.price(view.currency, &lines, code_promotion.as_ref(), &country, choices.method_id);
    if let (Some(p), Some(code)) = (&code_promotion, &choices.code) {
        if let Some((_, why)) = cart.not_applied.iter().find(|(id, _)| *id == p.id) {
            // An empty cart keeps its code: there is nothing yet for it to apply to.
            if !lines.is_empty() {
                notice = Some(not_applied_message(code, why, view.currency));
            }
        }
    }
    let mut code = choices.code.clone();
    if let Some(n) = &notice {
        forget_code(visitor).await;
        code = None;
        view.notices.push(format!("{n} It was removed from your cart."));
        if code_promotion.is_some() {
            (cart, _, _) = config.price(view.currency, &lines, None, &country, method_id);
        }
    }
    view.pricing = CartPricing {
        code: code.clone(),
        discounts: cart
            .discounts
            .iter()
            .map(|d| Adjustment { label: d.label.clone(), amount_cents: d.amount_cents })
            .collect(),
        discount_cents: cart.discount_cents,
        country: country.clone(),
        method_id,
        methods,
        shipping_cents: cart.shipping_cents - cart.shipping_discount_cents,
        tax_lines: cart
            .tax_lines
            .iter()
            .map(|t| Adjustment { label: t.label.clone(), amount_cents: t.amount_cents })
            .collect(),
        tax_cents: cart.tax_cents,
        tax_inclusive: cart.tax_inclusive,
        total_cents: cart.total_cents,
    };
    let method_name =
        view.pricing.methods.iter().find(|m| Some(m.id) == method_id).map(|m| m.name.clone()).unwrap_or_default();
    Ok(Priced { cart, code, country, method_id, method_name, notice })
}

/// Applies a discount code to the shopper's cart (`view`, as it is now). An unknown code counts
/// against a limit per visitor (429 beyond it); a known one that cannot be used says why (422).
/// Nothing is kept unless the code applies.
pub async fn apply_code(state: &AppState, visitor: &Visitor, view: &CartView, raw: &str) -> Result<(), AppError> {
    let limit_key = format!("code:{}", visitor.address());
    let window = state.login_failures.get(&limit_key).await;
    if window.count >= CODE_ATTEMPTS {
        return Err(AppError::RateLimited {
            message: "Too many codes tried. Please wait a few minutes and try again.".into(),
            retry_after_secs: window.resets_in_secs.max(1),
        });
    }
    let Some(code) = normalize_code(raw) else {
        state.login_failures.hit(&limit_key, CODE_WINDOW, CODE_ATTEMPTS).await;
        return Err(AppError::Invalid("A discount code has 3 to 32 letters and digits.".into()));
    };
    let customer = customer_key(visitor.user_id().await?);
    let promotion = match usable_code(state, &code, customer.as_deref()).await? {
        Ok(p) => p,
        Err(why) => {
            state.login_failures.hit(&limit_key, CODE_WINDOW, CODE_ATTEMPTS).await;
            return Err(AppError::Invalid(why));
        }
    };
    // The code must do something for this cart now (an empty cart may hold it for later).
    let lines = line_inputs(view);
    if !lines.is_empty() {
        let config = state.pricing.config().await?;
        let c = choices(visitor).await;
        let country = c
            .country
            .filter(|c| config.zone_for(c).is_some())
            .or_else(|| config.default_country().map(str::to_string))
            .unwrap_or_default();
        let (cart, _, _) = config.price(view.currency, &lines, Some(&promotion), &country, c.method_id);
        if let Some((_, why)) = cart.not_applied.iter().find(|(id, _)| *id == promotion.id) {
            return Err(AppError::Invalid(not_applied_message(&code, why, view.currency)));
        }
    }
    visitor.session.insert(CODE_KEY, &code).await.map_err(|_| {
        AppError::Unavailable("Your cart is temporarily unavailable. Please try again in a moment.".into())
    })?;
    Ok(())
}

pub async fn remove_code(visitor: &Visitor) {
    forget_code(visitor).await;
}

/// Remembers where the shopper wants shipping estimated and how it should ship. A country the
/// store does not ship to is refused (422); an unknown method falls back to the zone's first.
pub async fn set_delivery(
    state: &AppState,
    visitor: &Visitor,
    country: &str,
    method_id: Option<i64>,
) -> Result<(), AppError> {
    let country = country.trim().to_ascii_uppercase();
    let config = state.pricing.config().await?;
    let Some(zone) = config.zone_for(&country).filter(|_| country.len() == 2) else {
        return Err(AppError::Invalid("We do not ship to that country yet.".into()));
    };
    // Both checked before anything is kept: a refused choice changes nothing.
    if method_id.is_some_and(|id| !zone.methods.iter().any(|m| m.id == id)) {
        return Err(AppError::Invalid("That shipping method is not available to this country.".into()));
    }
    let unavailable =
        |_| AppError::Unavailable("Your choice could not be saved right now. Please try again in a moment.".into());
    visitor.session.insert(COUNTRY_KEY, &country).await.map_err(unavailable)?;
    if let Some(id) = method_id {
        visitor.session.insert(METHOD_KEY, id).await.map_err(unavailable)?;
    }
    Ok(())
}
