//! Cart pricing: promotions, shipping and tax turned into one priced cart. Pure and total: the
//! same function prices the cart page, the checkout quote and the order inside the checkout
//! transaction, so what the shopper was shown is what they pay. Money stays in integer cents
//! (i128 inside, so no intermediate product can overflow); no input makes it panic.

use crate::domain::money::Currency;
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::fmt::Write as _;

/// One cart line as priced by the catalogue now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineInput {
    pub variant_id: i64,
    pub product_id: i64,
    pub category_id: i64,
    pub quantity: u32,
    pub unit_cents: i64,
    pub weight_grams: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PromoKind {
    /// Percent off the targeted lines, 1..=100.
    Percent { percent: u8 },
    /// A fixed amount off the targeted lines, spread over them (never more than they cost).
    Fixed { cents: i64 },
    /// The shipping is free (target ignored).
    FreeShipping,
    /// Buy `buy` of the target, the next one is `percent` off (100 = free): for every `buy + 1`
    /// units of targeted lines, the cheapest units get the discount. `floor(total_qty / (buy + 1))`
    /// units are discounted, the cheapest ones.
    BuyGet { buy: u32, percent: u8 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    Order,
    Category(i64),
    Product(i64),
    Variant(i64),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promotion {
    pub id: i64,
    /// None for an automatic promotion; codes are stored upper-case.
    pub code: Option<String>,
    /// Shown to the shopper, e.g. "10% off shoes".
    pub name: String,
    pub kind: PromoKind,
    pub target: Target,
    /// The cart's subtotal (before any discount) must reach this.
    pub min_subtotal_cents: i64,
    /// Combinable promotions apply together; an exclusive one applies alone.
    pub combinable: bool,
    /// Unix ms, inclusive.
    pub starts_at: Option<i64>,
    /// Unix ms, exclusive.
    pub ends_at: Option<i64>,
    pub usage_limit: Option<i64>,
    pub per_customer_limit: Option<i64>,
    pub times_used: i64,
    pub active: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rate {
    Flat {
        cents: i64,
    },
    /// (subtotal from, price) bands on the subtotal after discounts: the band with the highest
    /// `from` <= subtotal applies (no band matching: the first band's price).
    Bands(Vec<(i64, i64)>),
    /// Base plus a price per started kilogram of the lines' total weight.
    Weight {
        base_cents: i64,
        per_kg_cents: i64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingMethod {
    pub id: i64,
    pub name: String,
    pub rate: Rate,
    /// Free when the discounted subtotal reaches it.
    pub free_over_cents: Option<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Rounding {
    #[default]
    PerLine,
    PerTotal,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TaxSettings {
    pub inclusive: bool,
    pub rounding: Rounding,
}

/// The destination zone's tax: e.g. ("VAT", 2000) for 20%. Rate in basis points, 0..=10_000
/// (bounded by callers; clamped anyway).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxRate {
    pub label: String,
    pub rate_bp: u32,
}

#[derive(Clone, Copy, Debug)]
pub struct PricingInput<'a> {
    pub currency: Currency,
    pub lines: &'a [LineInput],
    /// Candidate promotions: the automatic ones and the applied code's. Availability (dates,
    /// limits) is already checked by the caller with [`Promotion::availability`].
    pub promotions: &'a [Promotion],
    pub shipping: Option<&'a ShippingMethod>,
    pub tax: Option<&'a TaxRate>,
    pub settings: &'a TaxSettings,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricedLine {
    pub variant_id: i64,
    pub quantity: u32,
    pub unit_cents: i64,
    /// `unit_cents * quantity`.
    pub gross_cents: i64,
    pub discount_cents: i64,
    /// `gross_cents - discount_cents`.
    pub net_cents: i64,
    /// Tax included in (inclusive) or added to (exclusive) `net_cents`.
    pub tax_cents: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedDiscount {
    pub promotion_id: i64,
    pub code: Option<String>,
    pub label: String,
    /// Always > 0; for free shipping, the shipping saved.
    pub amount_cents: i64,
    /// True when the amount comes off the shipping, not the goods.
    pub shipping: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxLine {
    pub label: String,
    pub rate_bp: u32,
    pub amount_cents: i64,
}

/// Why a candidate promotion is not in the priced cart, so the cart page can say so.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NotApplied {
    BelowMinimum {
        min_subtotal_cents: i64,
    },
    /// No line is targeted, or what it targets already costs nothing.
    NothingEligible,
    /// An exclusive or combined alternative saves more.
    BetterOffer,
    /// Free shipping, but there is no shipping charge to take off.
    NoShipping,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricedCart {
    pub currency: Currency,
    /// Same order as the input lines.
    pub lines: Vec<PricedLine>,
    /// In the order applied.
    pub discounts: Vec<AppliedDiscount>,
    /// Sum of gross.
    pub subtotal_cents: i64,
    /// Goods discounts (sum of the lines' `discount_cents`).
    pub discount_cents: i64,
    /// Before shipping discounts (0 when no method).
    pub shipping_cents: i64,
    pub shipping_discount_cents: i64,
    /// Total tax, on goods and shipping.
    pub tax_cents: i64,
    /// One per rate; empty when there is no tax or the rate is 0.
    pub tax_lines: Vec<TaxLine>,
    pub tax_inclusive: bool,
    /// `subtotal - discount + shipping - shipping_discount (+ tax when exclusive)`.
    pub total_cents: i64,
    /// Candidate promotions that did not apply, sorted by promotion id.
    pub not_applied: Vec<(i64, NotApplied)>,
}

/// Why a promotion cannot be used now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Unavailable {
    Inactive,
    NotStarted,
    Expired,
    UsedUp,
    CustomerLimit,
    NeedsAccount,
}

impl Promotion {
    /// Whether the promotion may be used now: a pure check done by callers before [`price`], and
    /// again inside the checkout transaction so a code used up meanwhile is refused.
    /// `customer_uses`: None when the shopper is a guest (a promotion with a per-customer limit
    /// then needs an account, since a guest's uses cannot be counted), Some(n) = redemptions by
    /// this customer so far.
    pub fn availability(&self, now_ms: i64, customer_uses: Option<i64>) -> Result<(), Unavailable> {
        if !self.active {
            return Err(Unavailable::Inactive);
        }
        if self.starts_at.is_some_and(|start| now_ms < start) {
            return Err(Unavailable::NotStarted);
        }
        if self.ends_at.is_some_and(|end| now_ms >= end) {
            return Err(Unavailable::Expired);
        }
        if self.usage_limit.is_some_and(|limit| self.times_used >= limit) {
            return Err(Unavailable::UsedUp);
        }
        if let Some(limit) = self.per_customer_limit {
            match customer_uses {
                None => return Err(Unavailable::NeedsAccount),
                Some(uses) if uses >= limit => return Err(Unavailable::CustomerLimit),
                Some(_) => {}
            }
        }
        Ok(())
    }
}

impl Unavailable {
    /// A shopper-facing sentence. `code` is the code as entered (normalised); an empty `code`
    /// means an automatic promotion, which is then called "this offer".
    pub fn message(&self, code: &str) -> String {
        let (subject, object) = if code.is_empty() {
            ("This offer".to_string(), "this offer".to_string())
        } else {
            (format!("The code {code}"), format!("the code {code}"))
        };
        match self {
            Unavailable::Inactive => format!("{subject} is not active."),
            Unavailable::NotStarted => format!("{subject} is not valid yet."),
            Unavailable::Expired => format!("{subject} has expired."),
            Unavailable::UsedUp => format!("{subject} has reached its usage limit."),
            Unavailable::CustomerLimit => format!("You have already used {object} as many times as allowed."),
            Unavailable::NeedsAccount => format!("Sign in to use {object}."),
        }
    }
}

impl PricedCart {
    /// A stable text of every amount, line and discount, for the checkout quote digest. Lines are
    /// sorted by variant id and discounts by promotion id so the text depends on the prices only,
    /// not on the order things were added; strings are written quoted and escaped so no label
    /// can forge a separator. Display names are left out: renaming a promotion changes no price.
    pub fn fingerprint(&self) -> String {
        let mut out = String::new();
        let _ = write!(
            out,
            "currency={};subtotal={};discount={};shipping={};shipping_discount={};tax={};inclusive={};total={}",
            self.currency.code(),
            self.subtotal_cents,
            self.discount_cents,
            self.shipping_cents,
            self.shipping_discount_cents,
            self.tax_cents,
            self.tax_inclusive,
            self.total_cents
        );
        let mut lines: Vec<&PricedLine> = self.lines.iter().collect();
        lines.sort_by_key(|l| {
            (l.variant_id, l.quantity, l.unit_cents, l.gross_cents, l.discount_cents, l.net_cents, l.tax_cents)
        });
        for l in lines {
            let _ = write!(
                out,
                "|line:{}:{}:{}:{}:{}:{}:{}",
                l.variant_id, l.quantity, l.unit_cents, l.gross_cents, l.discount_cents, l.net_cents, l.tax_cents
            );
        }
        let mut discounts: Vec<&AppliedDiscount> = self.discounts.iter().collect();
        discounts.sort_by(|a, b| {
            (a.promotion_id, a.shipping, a.amount_cents, &a.code).cmp(&(
                b.promotion_id,
                b.shipping,
                b.amount_cents,
                &b.code,
            ))
        });
        for d in discounts {
            let _ = write!(out, "|discount:{}:{:?}:{}:{}", d.promotion_id, d.code, d.shipping, d.amount_cents);
        }
        for t in &self.tax_lines {
            let _ = write!(out, "|tax:{:?}:{}:{}", t.label, t.rate_bp, t.amount_cents);
        }
        out
    }
}

/// Spreads `amount` over `weights` in proportion, largest remainder: parts sum to exactly
/// `amount` when amount <= sum(weights), each part <= its weight, none negative. Ties are broken
/// by index so the result is deterministic. A negative amount or weight counts as 0; an amount
/// above the sum of weights gives every part its whole weight.
pub fn allocate(amount: i64, weights: &[i64]) -> Vec<i64> {
    let weights: Vec<i128> = weights.iter().map(|&w| i128::from(w.max(0))).collect();
    let total: i128 = weights.iter().fold(0i128, |acc, &w| acc.saturating_add(w));
    if total == 0 {
        return vec![0; weights.len()];
    }
    let amount = i128::from(amount).clamp(0, total);
    // amount and each weight fit in i64, so their product fits in i128.
    let mut parts: Vec<i128> = Vec::with_capacity(weights.len());
    let mut remainders: Vec<(i128, usize)> = Vec::with_capacity(weights.len());
    for (i, &w) in weights.iter().enumerate() {
        let product = amount.saturating_mul(w);
        parts.push(product / total);
        remainders.push((product % total, i));
    }
    let given: i128 = parts.iter().sum();
    let mut left = amount - given;
    // Largest remainder first, lower index first among equal remainders.
    remainders.sort_by_key(|&(rem, i)| (Reverse(rem), i));
    for (rem, i) in remainders {
        if left <= 0 || rem == 0 {
            break;
        }
        parts[i] += 1;
        left -= 1;
    }
    parts.into_iter().map(to_cents).collect()
}

/// Validates and normalises a shopper-entered code: trims, upper-cases, 3..=32 chars of
/// A-Z 0-9 - _ ; None otherwise. Only ASCII is accepted so look-alike letters cannot name a
/// different code than the one printed on a flyer.
pub fn normalize_code(raw: &str) -> Option<String> {
    let code = raw.trim().to_ascii_uppercase();
    let valid = (3..=32).contains(&code.len())
        && code.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    valid.then_some(code)
}

/// Prices a cart: picks the best allowed set of promotions, then shipping and tax.
///
/// Lines are worked on in a canonical order (by variant id, then the other fields) and put back
/// in input order at the end, so that every tie-break (cheapest unit, largest remainder) and
/// therefore every line's amount is the same however the cart is ordered.
pub fn price(input: &PricingInput) -> PricedCart {
    let mut order: Vec<usize> = (0..input.lines.len()).collect();
    order.sort_by_key(|&i| line_key(&input.lines[i]));
    let lines: Vec<&LineInput> = order.iter().map(|&i| &input.lines[i]).collect();
    let gross: Vec<i64> =
        lines.iter().map(|l| to_cents(i128::from(l.unit_cents.max(0)) * i128::from(l.quantity))).collect();
    let subtotal = to_cents(gross.iter().map(|&g| i128::from(g)).sum());
    let weight_grams: i128 = lines
        .iter()
        .map(|l| i128::from(l.weight_grams.max(0)) * i128::from(l.quantity))
        .fold(0i128, |acc, w| acc.saturating_add(w));

    // Drop what cannot apply at all, then split into the combinable set and exclusive ones.
    let mut not_applied: Vec<(i64, NotApplied)> = Vec::new();
    let mut combinable: Vec<&Promotion> = Vec::new();
    let mut exclusive: Vec<&Promotion> = Vec::new();
    for promo in input.promotions {
        if promo.min_subtotal_cents > subtotal {
            not_applied.push((promo.id, NotApplied::BelowMinimum { min_subtotal_cents: promo.min_subtotal_cents }));
        } else if promo.kind == PromoKind::FreeShipping {
            if input.shipping.is_none() {
                not_applied.push((promo.id, NotApplied::NoShipping));
            } else if promo.combinable {
                combinable.push(promo);
            } else {
                exclusive.push(promo);
            }
        } else if !lines.iter().any(|l| targets(promo.target, l)) {
            not_applied.push((promo.id, NotApplied::NothingEligible));
        } else if promo.combinable {
            combinable.push(promo);
        } else {
            exclusive.push(promo);
        }
    }
    exclusive.sort_by_key(|p| p.id);

    // Price every option; ties keep the combined set, then the lower id (the earlier one).
    let mut options: Vec<Vec<&Promotion>> = Vec::new();
    if !combinable.is_empty() {
        options.push(combinable);
    }
    options.extend(exclusive.into_iter().map(|p| vec![p]));
    let mut best: Option<(usize, Outcome)> = None;
    for (i, option) in options.iter().enumerate() {
        let outcome = apply_option(&lines, &gross, weight_grams, option, input.shipping);
        if best.as_ref().is_none_or(|(_, b)| outcome.saving > b.saving) {
            best = Some((i, outcome));
        }
    }
    let (chosen, outcome) = match best {
        Some(found) => found,
        None => (usize::MAX, apply_option(&lines, &gross, weight_grams, &[], input.shipping)),
    };
    for (i, option) in options.iter().enumerate() {
        if i != chosen {
            not_applied.extend(option.iter().map(|p| (p.id, NotApplied::BetterOffer)));
        }
    }
    not_applied.extend(outcome.unused.iter().cloned());
    not_applied.sort_by_key(|(id, _)| *id);

    let net: Vec<i64> = gross.iter().zip(&outcome.line_discounts).map(|(g, d)| g.saturating_sub(*d).max(0)).collect();
    let net_shipping = outcome.shipping.saturating_sub(outcome.shipping_discount).max(0);
    let rate_bp = input.tax.map(|t| t.rate_bp.min(10_000)).unwrap_or(0);
    let (line_tax, shipping_tax) = compute_tax(&net, net_shipping, rate_bp, input.settings);
    let tax = to_cents(line_tax.iter().map(|&t| i128::from(t)).sum::<i128>() + i128::from(shipping_tax));
    let discount = to_cents(outcome.line_discounts.iter().map(|&d| i128::from(d)).sum());

    let mut priced: Vec<Option<PricedLine>> = vec![None; lines.len()];
    for (k, &original) in order.iter().enumerate() {
        let l = lines[k];
        priced[original] = Some(PricedLine {
            variant_id: l.variant_id,
            quantity: l.quantity,
            unit_cents: l.unit_cents.max(0),
            gross_cents: gross[k],
            discount_cents: outcome.line_discounts[k],
            net_cents: net[k],
            tax_cents: line_tax[k],
        });
    }

    let mut total = i128::from(subtotal) - i128::from(discount) + i128::from(outcome.shipping)
        - i128::from(outcome.shipping_discount);
    if !input.settings.inclusive {
        total += i128::from(tax);
    }
    let tax_lines = match input.tax {
        Some(t) if rate_bp > 0 => vec![TaxLine { label: t.label.clone(), rate_bp, amount_cents: tax }],
        _ => Vec::new(),
    };
    PricedCart {
        currency: input.currency,
        lines: priced.into_iter().flatten().collect(),
        discounts: outcome.applied,
        subtotal_cents: subtotal,
        discount_cents: discount,
        shipping_cents: outcome.shipping,
        shipping_discount_cents: outcome.shipping_discount,
        tax_cents: tax,
        tax_lines,
        tax_inclusive: input.settings.inclusive,
        total_cents: to_cents(total),
        not_applied,
    }
}

/// What one option (a set of promotions applied together) does to the cart. Line vectors are
/// in the canonical line order.
struct Outcome {
    line_discounts: Vec<i64>,
    applied: Vec<AppliedDiscount>,
    /// Promotions of this option that ended up taking nothing off.
    unused: Vec<(i64, NotApplied)>,
    shipping: i64,
    shipping_discount: i64,
    saving: i128,
}

fn apply_option(
    lines: &[&LineInput],
    gross: &[i64],
    weight_grams: i128,
    promos: &[&Promotion],
    shipping: Option<&ShippingMethod>,
) -> Outcome {
    let mut promos: Vec<&Promotion> = promos.to_vec();
    promos.sort_by_key(|p| (kind_rank(&p.kind), p.id));
    let mut discounts = vec![0i64; lines.len()];
    let mut remaining: Vec<i64> = gross.to_vec();
    let mut applied = Vec::new();
    let mut unused = Vec::new();

    // Goods first: free shipping is last in the order, so the shipping it removes is the one the
    // discounted subtotal leads to.
    for promo in promos.iter().filter(|p| p.kind != PromoKind::FreeShipping) {
        let eligible: Vec<usize> = (0..lines.len()).filter(|&i| targets(promo.target, lines[i])).collect();
        let parts = match promo.kind {
            PromoKind::Percent { percent } => {
                let base: i128 = eligible.iter().map(|&i| i128::from(remaining[i])).sum();
                let off = to_cents(round_half_up(base * i128::from(percent.min(100)), 100));
                spread(off, &eligible, &remaining)
            }
            PromoKind::Fixed { cents } => {
                let base: i128 = eligible.iter().map(|&i| i128::from(remaining[i])).sum();
                let off = to_cents(i128::from(cents.max(0)).min(base));
                spread(off, &eligible, &remaining)
            }
            PromoKind::BuyGet { buy, percent } => buy_get(lines, &eligible, &remaining, buy, percent),
            PromoKind::FreeShipping => Vec::new(),
        };
        let mut amount: i128 = 0;
        for (i, part) in parts {
            let part = part.clamp(0, remaining[i]);
            remaining[i] -= part;
            discounts[i] = discounts[i].saturating_add(part);
            amount += i128::from(part);
        }
        if amount > 0 {
            applied.push(discount_of(promo, to_cents(amount), false));
        } else {
            unused.push((promo.id, NotApplied::NothingEligible));
        }
    }

    let goods_after = to_cents(remaining.iter().map(|&r| i128::from(r)).sum());
    let shipping_cents = shipping.map(|m| shipping_cost(m, goods_after, weight_grams)).unwrap_or(0);
    let mut shipping_discount = 0i64;
    for promo in promos.iter().filter(|p| p.kind == PromoKind::FreeShipping) {
        let amount = shipping_cents - shipping_discount;
        if amount > 0 {
            shipping_discount = shipping_cents;
            applied.push(discount_of(promo, amount, true));
        } else {
            unused.push((promo.id, NotApplied::NoShipping));
        }
    }

    let saving = discounts.iter().map(|&d| i128::from(d)).sum::<i128>() + i128::from(shipping_discount);
    Outcome { line_discounts: discounts, applied, unused, shipping: shipping_cents, shipping_discount, saving }
}

/// Spreads `off` over the eligible lines in proportion to what they still cost.
fn spread(off: i64, eligible: &[usize], remaining: &[i64]) -> Vec<(usize, i64)> {
    let weights: Vec<i64> = eligible.iter().map(|&i| remaining[i]).collect();
    eligible.iter().copied().zip(allocate(off, &weights)).collect()
}

/// The cheapest `floor(total_qty / (buy + 1))` eligible units get `percent` off their unit price;
/// equal prices go to the lower variant id first so the choice never depends on line order.
fn buy_get(lines: &[&LineInput], eligible: &[usize], remaining: &[i64], buy: u32, percent: u8) -> Vec<(usize, i64)> {
    let total_qty: u64 = eligible.iter().map(|&i| u64::from(lines[i].quantity)).sum();
    let mut free_units = total_qty / (u64::from(buy) + 1);
    let mut by_price: Vec<usize> = eligible.to_vec();
    by_price.sort_by_key(|&i| (lines[i].unit_cents.max(0), lines[i].variant_id, i));
    let mut parts = Vec::new();
    for i in by_price {
        if free_units == 0 {
            break;
        }
        let units = free_units.min(u64::from(lines[i].quantity));
        free_units -= units;
        let full = i128::from(units).saturating_mul(i128::from(lines[i].unit_cents.max(0)));
        let off = round_half_up(full.saturating_mul(i128::from(percent.min(100))), 100);
        parts.push((i, to_cents(off).min(remaining[i])));
    }
    parts
}

/// Tax per line and on the shipping, in the canonical line order.
fn compute_tax(net: &[i64], net_shipping: i64, rate_bp: u32, settings: &TaxSettings) -> (Vec<i64>, i64) {
    if rate_bp == 0 {
        return (vec![0; net.len()], 0);
    }
    let tax_of = |amount: i128| -> i64 {
        let r = i128::from(rate_bp);
        let den = if settings.inclusive { 10_000 + r } else { 10_000 };
        to_cents(round_half_up(amount.saturating_mul(r), den))
    };
    match settings.rounding {
        Rounding::PerLine => (net.iter().map(|&n| tax_of(i128::from(n))).collect(), tax_of(i128::from(net_shipping))),
        Rounding::PerTotal => {
            let base: i128 = net.iter().map(|&n| i128::from(n)).sum::<i128>() + i128::from(net_shipping);
            let mut weights = net.to_vec();
            weights.push(net_shipping);
            let mut parts = allocate(tax_of(base), &weights);
            let shipping_tax = parts.pop().unwrap_or(0);
            (parts, shipping_tax)
        }
    }
}

/// The method's charge for goods costing `goods_cents` after discounts and weighing
/// `weight_grams` in all.
fn shipping_cost(method: &ShippingMethod, goods_cents: i64, weight_grams: i128) -> i64 {
    if method.free_over_cents.is_some_and(|over| goods_cents >= over) {
        return 0;
    }
    let cost = match &method.rate {
        Rate::Flat { cents } => i128::from(*cents),
        Rate::Bands(bands) => {
            // Highest `from` not above the subtotal; the first such band among equal `from`s.
            let mut found: Option<(i64, i64)> = None;
            for &(from, band_price) in bands {
                if from <= goods_cents && found.is_none_or(|(best_from, _)| from > best_from) {
                    found = Some((from, band_price));
                }
            }
            i128::from(found.or_else(|| bands.first().copied()).map(|(_, p)| p).unwrap_or(0))
        }
        Rate::Weight { base_cents, per_kg_cents } => {
            let started_kg = (weight_grams.max(0) + 999) / 1000;
            i128::from((*base_cents).max(0))
                .saturating_add(i128::from((*per_kg_cents).max(0)).saturating_mul(started_kg))
        }
    };
    to_cents(cost)
}

fn discount_of(promo: &Promotion, amount_cents: i64, shipping: bool) -> AppliedDiscount {
    AppliedDiscount {
        promotion_id: promo.id,
        code: promo.code.clone(),
        label: promo.name.clone(),
        amount_cents,
        shipping,
    }
}

fn targets(target: Target, line: &LineInput) -> bool {
    line.quantity > 0
        && match target {
            Target::Order => true,
            Target::Category(id) => line.category_id == id,
            Target::Product(id) => line.product_id == id,
            Target::Variant(id) => line.variant_id == id,
        }
}

/// The order promotions of one option apply in.
fn kind_rank(kind: &PromoKind) -> u8 {
    match kind {
        PromoKind::BuyGet { .. } => 0,
        PromoKind::Percent { .. } => 1,
        PromoKind::Fixed { .. } => 2,
        PromoKind::FreeShipping => 3,
    }
}

fn line_key(l: &LineInput) -> (i64, i64, i64, i64, u32, i64) {
    (l.variant_id, l.product_id, l.category_id, l.unit_cents, l.quantity, l.weight_grams)
}

/// `num / den` rounded half up, for non-negative amounts (a negative numerator counts as 0).
fn round_half_up(num: i128, den: i128) -> i128 {
    if den <= 0 {
        return 0;
    }
    num.max(0).saturating_add(den / 2) / den
}

/// Back to cents: never negative, saturating at the largest amount an i64 holds.
fn to_cents(value: i128) -> i64 {
    i64::try_from(value.max(0)).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn line(variant_id: i64, category_id: i64, quantity: u32, unit_cents: i64) -> LineInput {
        LineInput { variant_id, product_id: variant_id * 10, category_id, quantity, unit_cents, weight_grams: 500 }
    }

    fn promo(id: i64, kind: PromoKind, target: Target) -> Promotion {
        Promotion {
            id,
            code: None,
            name: format!("promo {id}"),
            kind,
            target,
            min_subtotal_cents: 0,
            combinable: true,
            starts_at: None,
            ends_at: None,
            usage_limit: None,
            per_customer_limit: None,
            times_used: 0,
            active: true,
        }
    }

    fn flat(cents: i64) -> ShippingMethod {
        ShippingMethod { id: 1, name: "Standard".into(), rate: Rate::Flat { cents }, free_over_cents: None }
    }

    fn run(
        lines: &[LineInput],
        promotions: &[Promotion],
        shipping: Option<&ShippingMethod>,
        tax: Option<&TaxRate>,
        settings: &TaxSettings,
    ) -> PricedCart {
        price(&PricingInput { currency: Currency::USD, lines, promotions, shipping, tax, settings })
    }

    fn simple(lines: &[LineInput], promotions: &[Promotion]) -> PricedCart {
        run(lines, promotions, None, None, &TaxSettings::default())
    }

    #[test]
    fn no_promotions_no_shipping_no_tax() {
        let cart = simple(&[line(1, 1, 2, 1000), line(2, 1, 1, 550)], &[]);
        assert_eq!(cart.subtotal_cents, 2550);
        assert_eq!(cart.total_cents, 2550);
        assert_eq!(cart.lines[0].gross_cents, 2000);
        assert_eq!(cart.lines[1].net_cents, 550);
        assert!(cart.discounts.is_empty() && cart.tax_lines.is_empty() && cart.not_applied.is_empty());
    }

    #[test]
    fn percent_rounds_half_up_and_spreads_by_largest_remainder() {
        // 15% of 333 + 334 = 100.05 -> 100; 100 spread 333:334 -> 49.93.., 50.07.. -> 50, 50.
        let cart = simple(
            &[line(1, 1, 1, 333), line(2, 1, 1, 334)],
            &[promo(7, PromoKind::Percent { percent: 15 }, Target::Order)],
        );
        assert_eq!(cart.discount_cents, 100);
        assert_eq!(cart.lines[0].discount_cents, 50);
        assert_eq!(cart.lines[1].discount_cents, 50);
        assert_eq!(cart.discounts.len(), 1);
        assert_eq!(cart.discounts[0].amount_cents, 100);
        assert_eq!(cart.total_cents, 567);
        // 10% of 5 = 0.5 -> 1 (half up).
        let cart = simple(&[line(1, 1, 1, 5)], &[promo(7, PromoKind::Percent { percent: 10 }, Target::Order)]);
        assert_eq!(cart.discount_cents, 1);
    }

    #[test]
    fn percent_targets_only_its_category() {
        let cart = simple(
            &[line(1, 5, 1, 1000), line(2, 6, 1, 1000)],
            &[promo(1, PromoKind::Percent { percent: 20 }, Target::Category(6))],
        );
        assert_eq!(cart.lines[0].discount_cents, 0);
        assert_eq!(cart.lines[1].discount_cents, 200);
        let cart =
            simple(&[line(1, 5, 1, 1000)], &[promo(1, PromoKind::Percent { percent: 20 }, Target::Product(999))]);
        assert_eq!(cart.not_applied, vec![(1, NotApplied::NothingEligible)]);
        assert_eq!(cart.discount_cents, 0);
    }

    #[test]
    fn fixed_is_capped_at_what_the_lines_cost() {
        let lines = [line(1, 1, 1, 300), line(2, 1, 1, 100)];
        let cart = simple(&lines, &[promo(1, PromoKind::Fixed { cents: 200 }, Target::Order)]);
        assert_eq!((cart.lines[0].discount_cents, cart.lines[1].discount_cents), (150, 50));
        let cart = simple(&lines, &[promo(1, PromoKind::Fixed { cents: 10_000 }, Target::Variant(2))]);
        assert_eq!(cart.lines[1].discount_cents, 100);
        assert_eq!(cart.discounts[0].amount_cents, 100);
        assert_eq!(cart.total_cents, 300);
    }

    #[test]
    fn percent_then_fixed_works_on_what_is_left() {
        // 50% of 1000 = 500, then 800 off capped at the 500 left.
        let cart = simple(
            &[line(1, 1, 1, 1000)],
            &[
                promo(2, PromoKind::Fixed { cents: 800 }, Target::Order),
                promo(3, PromoKind::Percent { percent: 50 }, Target::Order),
            ],
        );
        assert_eq!(
            cart.discounts.iter().map(|d| (d.promotion_id, d.amount_cents)).collect::<Vec<_>>(),
            vec![(3, 500), (2, 500)]
        );
        assert_eq!(cart.total_cents, 0);
    }

    #[test]
    fn buy_get_discounts_the_cheapest_units() {
        // Buy 2 get 1 free over 5 units: 1 unit free, the cheapest (variant 2 at 300).
        let lines = [line(1, 1, 3, 1000), line(2, 1, 2, 300)];
        let cart = simple(&lines, &[promo(1, PromoKind::BuyGet { buy: 2, percent: 100 }, Target::Order)]);
        assert_eq!(cart.lines[1].discount_cents, 300);
        assert_eq!(cart.lines[0].discount_cents, 0);
        // Buy 1 get 1 half off over 5 units: 2 units at 50%: both 300 units -> 300.
        let cart = simple(&lines, &[promo(1, PromoKind::BuyGet { buy: 1, percent: 50 }, Target::Order)]);
        assert_eq!(cart.lines[1].discount_cents, 300);
        // Buy 0 get 1 at 33% on 3 units of 1000 -> 990 (rounded on the line: 3 * 1000 * 0.33).
        let cart = simple(&lines, &[promo(1, PromoKind::BuyGet { buy: 0, percent: 33 }, Target::Variant(1))]);
        assert_eq!(cart.lines[0].discount_cents, 990);
        // Equal prices: the lower variant id gets the unit, whatever the line order.
        let tied = [line(9, 1, 1, 500), line(4, 1, 1, 500)];
        let cart = simple(&tied, &[promo(1, PromoKind::BuyGet { buy: 1, percent: 100 }, Target::Order)]);
        assert_eq!((cart.lines[0].discount_cents, cart.lines[1].discount_cents), (0, 500));
        // Not enough units: nothing off, reported.
        let cart =
            simple(&[line(1, 1, 2, 100)], &[promo(1, PromoKind::BuyGet { buy: 2, percent: 100 }, Target::Order)]);
        assert_eq!(cart.discount_cents, 0);
        assert!(cart.discounts.is_empty());
        assert_eq!(cart.not_applied, vec![(1, NotApplied::NothingEligible)]);
    }

    #[test]
    fn free_shipping_saves_the_shipping_charge() {
        let ship = flat(499);
        let cart = run(
            &[line(1, 1, 1, 1000)],
            &[promo(1, PromoKind::FreeShipping, Target::Order)],
            Some(&ship),
            None,
            &TaxSettings::default(),
        );
        assert_eq!(cart.shipping_cents, 499);
        assert_eq!(cart.shipping_discount_cents, 499);
        assert_eq!(cart.discounts, vec![discount_of(&promo(1, PromoKind::FreeShipping, Target::Order), 499, true)]);
        assert_eq!(cart.total_cents, 1000);
        // No method: nothing to take off.
        let cart = simple(&[line(1, 1, 1, 1000)], &[promo(1, PromoKind::FreeShipping, Target::Order)]);
        assert_eq!(cart.not_applied, vec![(1, NotApplied::NoShipping)]);
        // Already free over a threshold: nothing to take off either.
        let ship = ShippingMethod { free_over_cents: Some(1000), ..flat(499) };
        let cart = run(
            &[line(1, 1, 1, 1000)],
            &[promo(1, PromoKind::FreeShipping, Target::Order)],
            Some(&ship),
            None,
            &TaxSettings::default(),
        );
        assert_eq!((cart.shipping_cents, cart.shipping_discount_cents), (0, 0));
        assert_eq!(cart.not_applied, vec![(1, NotApplied::NoShipping)]);
    }

    #[test]
    fn below_minimum_is_reported() {
        let mut p = promo(3, PromoKind::Percent { percent: 10 }, Target::Order);
        p.min_subtotal_cents = 5000;
        let cart = simple(&[line(1, 1, 1, 4999)], &[p]);
        assert_eq!(cart.not_applied, vec![(3, NotApplied::BelowMinimum { min_subtotal_cents: 5000 })]);
        assert_eq!(cart.total_cents, 4999);
    }

    #[test]
    fn best_option_wins_and_ties_prefer_the_combined_set() {
        let lines = [line(1, 1, 1, 1000)];
        let mut exclusive = promo(5, PromoKind::Percent { percent: 25 }, Target::Order);
        exclusive.combinable = false;
        let a = promo(1, PromoKind::Percent { percent: 10 }, Target::Order);
        let b = promo(2, PromoKind::Fixed { cents: 100 }, Target::Order);
        // Combined: 100 + 100 = 200 < 250.
        let cart = simple(&lines, &[a.clone(), b.clone(), exclusive.clone()]);
        assert_eq!(cart.discount_cents, 250);
        assert_eq!(cart.not_applied, vec![(1, NotApplied::BetterOffer), (2, NotApplied::BetterOffer)]);
        // Combined: 10% = 100, then 150 off the 900 left = 250: a tie, the combined set wins.
        let b = promo(2, PromoKind::Fixed { cents: 150 }, Target::Order);
        let cart = simple(&lines, &[exclusive.clone(), a, b]);
        assert_eq!(cart.discount_cents, 250);
        assert_eq!(cart.discounts.iter().map(|d| d.promotion_id).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(cart.not_applied, vec![(5, NotApplied::BetterOffer)]);
        // Two equal exclusives: the lower id wins.
        let mut other = exclusive.clone();
        other.id = 4;
        let cart = simple(&lines, &[exclusive, other]);
        assert_eq!(cart.discounts[0].promotion_id, 4);
        assert_eq!(cart.not_applied, vec![(5, NotApplied::BetterOffer)]);
    }

    #[test]
    fn shipping_rates() {
        let lines = [line(1, 1, 3, 1000)]; // 1500 g
        let bands = ShippingMethod { rate: Rate::Bands(vec![(1000, 500), (5000, 0), (2500, 300)]), ..flat(0) };
        let cost = |m: &ShippingMethod, lines: &[LineInput], promos: &[Promotion]| {
            run(lines, promos, Some(m), None, &TaxSettings::default()).shipping_cents
        };
        assert_eq!(cost(&bands, &lines, &[]), 300);
        // 3000 - 20% = 2400 after discount: the 1000 band.
        assert_eq!(cost(&bands, &lines, &[promo(1, PromoKind::Percent { percent: 20 }, Target::Order)]), 500);
        // Below every band: the first band's price.
        assert_eq!(cost(&bands, &[line(1, 1, 1, 10)], &[]), 500);
        let empty = ShippingMethod { rate: Rate::Bands(vec![]), ..flat(0) };
        assert_eq!(cost(&empty, &lines, &[]), 0);
        let weight = ShippingMethod { rate: Rate::Weight { base_cents: 400, per_kg_cents: 150 }, ..flat(0) };
        assert_eq!(cost(&weight, &lines, &[]), 400 + 2 * 150); // 1.5 kg -> 2 started kg
        assert_eq!(cost(&weight, &[line(1, 1, 2, 10)], &[]), 400 + 150); // exactly 1 kg
        let free_over = ShippingMethod { free_over_cents: Some(3000), ..flat(700) };
        assert_eq!(cost(&free_over, &lines, &[]), 0);
        // The threshold is checked on the discounted subtotal.
        assert_eq!(cost(&free_over, &lines, &[promo(1, PromoKind::Fixed { cents: 1 }, Target::Order)]), 700);
    }

    #[test]
    fn exclusive_tax_per_line_and_per_total() {
        // Lines 1005 and 1005, shipping 500, 7.5%: per line 75.375 -> 75, twice, + 37.5 -> 38 = 188.
        let lines = [line(1, 1, 1, 1005), line(2, 1, 1, 1005)];
        let vat = TaxRate { label: "Sales tax".into(), rate_bp: 750 };
        let ship = flat(500);
        let settings = TaxSettings { inclusive: false, rounding: Rounding::PerLine };
        let cart = run(&lines, &[], Some(&ship), Some(&vat), &settings);
        assert_eq!(cart.lines.iter().map(|l| l.tax_cents).collect::<Vec<_>>(), vec![75, 75]);
        assert_eq!(cart.tax_cents, 188);
        assert_eq!(cart.total_cents, 2010 + 500 + 188);
        assert_eq!(cart.tax_lines, vec![TaxLine { label: "Sales tax".into(), rate_bp: 750, amount_cents: 188 }]);
        // Per total: 2510 * 7.5% = 188.25 -> 188, spread 1005:1005:500 -> 75.27, 75.27, 37.45: the
        // spare cent goes to the largest remainder, the shipping: 75, 75, 38.
        let settings = TaxSettings { inclusive: false, rounding: Rounding::PerTotal };
        let cart = run(&lines, &[], Some(&ship), Some(&vat), &settings);
        assert_eq!(cart.tax_cents, 188);
        assert_eq!(cart.lines.iter().map(|l| l.tax_cents).collect::<Vec<_>>(), vec![75, 75]);
        // Three lines of 101 at 5%: per line 5.05 -> 5 each = 15; per total 303 * 5% = 15.15 -> 15.
        let lines = [line(1, 1, 1, 101), line(2, 1, 1, 101), line(3, 1, 1, 101)];
        let five = TaxRate { label: "Tax".into(), rate_bp: 500 };
        let per_line =
            run(&lines, &[], None, Some(&five), &TaxSettings { inclusive: false, rounding: Rounding::PerLine });
        assert_eq!(per_line.tax_cents, 15);
        // 10 lines of 105 at 10%: per line 10.5 -> 11 each = 110; per total 1050 * 10% = 105.
        let lines: Vec<LineInput> = (1..=10).map(|v| line(v, 1, 1, 105)).collect();
        let ten = TaxRate { label: "Tax".into(), rate_bp: 1000 };
        let per_line =
            run(&lines, &[], None, Some(&ten), &TaxSettings { inclusive: false, rounding: Rounding::PerLine });
        let per_total =
            run(&lines, &[], None, Some(&ten), &TaxSettings { inclusive: false, rounding: Rounding::PerTotal });
        assert_eq!(per_line.tax_cents, 110);
        assert_eq!(per_total.tax_cents, 105);
        assert_eq!(per_total.lines.iter().map(|l| l.tax_cents).sum::<i64>(), 105);
        assert_eq!(per_total.total_cents, 1050 + 105);
    }

    #[test]
    fn inclusive_tax_per_line_and_per_total() {
        // 20% VAT contained in 1000: 1000 * 2000 / 12000 = 166.67 -> 167; in 599: 99.83 -> 100;
        // shipping 450 after nothing off: 75.
        let lines = [line(1, 1, 1, 1000), line(2, 1, 1, 599)];
        let vat = TaxRate { label: "VAT".into(), rate_bp: 2000 };
        let ship = flat(450);
        let settings = TaxSettings { inclusive: true, rounding: Rounding::PerLine };
        let cart = run(&lines, &[], Some(&ship), Some(&vat), &settings);
        assert_eq!(cart.lines.iter().map(|l| l.tax_cents).collect::<Vec<_>>(), vec![167, 100]);
        assert_eq!(cart.tax_cents, 167 + 100 + 75);
        assert_eq!(cart.total_cents, 1599 + 450);
        assert!(cart.tax_inclusive);
        // Per total: 2049 / 6 = 341.5 -> 342 (per line gave 342 as well), spread 1000:599:450.
        let settings = TaxSettings { inclusive: true, rounding: Rounding::PerTotal };
        let cart = run(&lines, &[], Some(&ship), Some(&vat), &settings);
        assert_eq!(cart.tax_cents, 342);
        // 342 * 1000 / 2049 = 166.91, * 599 / 2049 = 99.98, * 450 / 2049 = 75.11 -> 166, 99, 75 + 2 largest.
        assert_eq!(cart.lines.iter().map(|l| l.tax_cents).collect::<Vec<_>>(), vec![167, 100]);
        assert_eq!(cart.total_cents, 1599 + 450);
        // Free shipping: shipping is taxed after its discount, so none of its tax remains.
        let cart = run(&lines, &[promo(1, PromoKind::FreeShipping, Target::Order)], Some(&ship), Some(&vat), &settings);
        assert_eq!(cart.tax_cents, 267); // 1599 / 6 = 266.5 -> 267
        assert_eq!(cart.total_cents, 1599);
    }

    #[test]
    fn zero_rate_has_no_tax_line() {
        let zero = TaxRate { label: "VAT".into(), rate_bp: 0 };
        let cart = run(&[line(1, 1, 1, 1000)], &[], None, Some(&zero), &TaxSettings::default());
        assert!(cart.tax_lines.is_empty());
        assert_eq!(cart.tax_cents, 0);
        let huge = TaxRate { label: "VAT".into(), rate_bp: u32::MAX };
        let cart = run(&[line(1, 1, 1, 1000)], &[], None, Some(&huge), &TaxSettings::default());
        assert_eq!(cart.tax_lines[0].rate_bp, 10_000);
        assert_eq!(cart.tax_cents, 1000);
    }

    #[test]
    fn allocate_examples() {
        assert_eq!(allocate(5, &[3, 3, 3]), vec![2, 2, 1]);
        assert_eq!(allocate(10, &[1, 1, 1]), vec![1, 1, 1]);
        assert_eq!(allocate(2, &[1, 1, 1]), vec![1, 1, 0]);
        assert_eq!(allocate(100, &[333, 334]), vec![50, 50]);
        assert_eq!(allocate(5, &[0, 0]), vec![0, 0]);
        assert_eq!(allocate(50, &[10, 20]), vec![10, 20]);
        assert_eq!(allocate(-5, &[10, 20]), vec![0, 0]);
        assert_eq!(allocate(3, &[-4, 3]), vec![0, 3]);
        assert_eq!(allocate(i64::MAX, &[i64::MAX, i64::MAX]), vec![i64::MAX / 2 + 1, i64::MAX / 2]);
        assert!(allocate(7, &[]).is_empty());
    }

    #[test]
    fn normalize_code_examples() {
        assert_eq!(normalize_code("  spring10 "), Some("SPRING10".into()));
        assert_eq!(normalize_code("a-b_c"), Some("A-B_C".into()));
        assert_eq!(normalize_code("ab"), None);
        assert_eq!(normalize_code(&"A".repeat(32)), Some("A".repeat(32)));
        assert_eq!(normalize_code(&"A".repeat(33)), None);
        assert_eq!(normalize_code("SPRING 10"), None);
        assert_eq!(normalize_code("straße"), None);
        assert_eq!(normalize_code("ÅBC"), None);
        assert_eq!(normalize_code(""), None);
        assert_eq!(normalize_code("50%OFF"), None);
    }

    #[test]
    fn availability_and_messages() {
        let mut p = promo(1, PromoKind::Percent { percent: 10 }, Target::Order);
        p.code = Some("SPRING10".into());
        p.starts_at = Some(1000);
        p.ends_at = Some(2000);
        assert_eq!(p.availability(1000, Some(0)), Ok(()));
        assert_eq!(p.availability(999, Some(0)), Err(Unavailable::NotStarted));
        assert_eq!(p.availability(2000, Some(0)), Err(Unavailable::Expired));
        p.usage_limit = Some(5);
        p.times_used = 5;
        assert_eq!(p.availability(1500, Some(0)), Err(Unavailable::UsedUp));
        p.times_used = 4;
        p.per_customer_limit = Some(1);
        assert_eq!(p.availability(1500, None), Err(Unavailable::NeedsAccount));
        assert_eq!(p.availability(1500, Some(1)), Err(Unavailable::CustomerLimit));
        assert_eq!(p.availability(1500, Some(0)), Ok(()));
        p.active = false;
        assert_eq!(p.availability(1500, Some(0)), Err(Unavailable::Inactive));

        assert_eq!(Unavailable::Expired.message("SPRING10"), "The code SPRING10 has expired.");
        assert_eq!(Unavailable::NotStarted.message("SPRING10"), "The code SPRING10 is not valid yet.");
        assert_eq!(Unavailable::Inactive.message("SPRING10"), "The code SPRING10 is not active.");
        assert_eq!(Unavailable::UsedUp.message("SPRING10"), "The code SPRING10 has reached its usage limit.");
        assert_eq!(
            Unavailable::CustomerLimit.message("SPRING10"),
            "You have already used the code SPRING10 as many times as allowed."
        );
        assert_eq!(Unavailable::NeedsAccount.message("SPRING10"), "Sign in to use the code SPRING10.");
        assert_eq!(Unavailable::Expired.message(""), "This offer has expired.");
    }

    #[test]
    fn fingerprint_is_order_independent_and_sees_amounts() {
        let lines = [line(1, 1, 2, 1000), line(2, 1, 1, 333)];
        let promos = [promo(1, PromoKind::Percent { percent: 10 }, Target::Order)];
        let a = simple(&lines, &promos);
        let b = simple(&[lines[1].clone(), lines[0].clone()], &promos);
        assert_eq!(a.fingerprint(), b.fingerprint());
        let c = simple(&lines, &[promo(1, PromoKind::Percent { percent: 11 }, Target::Order)]);
        assert_ne!(a.fingerprint(), c.fingerprint());
        assert!(a.fingerprint().starts_with("currency=USD;subtotal=2333;discount=233;"));
    }

    #[test]
    fn extreme_inputs_do_not_panic() {
        let lines = [
            LineInput {
                variant_id: i64::MIN,
                product_id: 0,
                category_id: 0,
                quantity: u32::MAX,
                unit_cents: i64::MAX,
                weight_grams: i64::MAX,
            },
            LineInput {
                variant_id: i64::MAX,
                product_id: 0,
                category_id: 0,
                quantity: u32::MAX,
                unit_cents: i64::MIN,
                weight_grams: i64::MIN,
            },
        ];
        let promos = [
            promo(1, PromoKind::BuyGet { buy: 0, percent: 255 }, Target::Order),
            promo(2, PromoKind::Percent { percent: 255 }, Target::Order),
            promo(3, PromoKind::Fixed { cents: i64::MIN }, Target::Order),
            promo(4, PromoKind::FreeShipping, Target::Order),
        ];
        let ship = ShippingMethod { rate: Rate::Weight { base_cents: i64::MAX, per_kg_cents: i64::MAX }, ..flat(0) };
        let tax = TaxRate { label: "T".into(), rate_bp: u32::MAX };
        for inclusive in [false, true] {
            for rounding in [Rounding::PerLine, Rounding::PerTotal] {
                let cart = run(&lines, &promos, Some(&ship), Some(&tax), &TaxSettings { inclusive, rounding });
                assert!(cart.total_cents >= 0);
                let _ = cart.fingerprint();
            }
        }
    }

    fn line_strategy() -> impl Strategy<Value = Vec<LineInput>> {
        prop::collection::vec((1i64..4, 1i64..4, 0u32..6, 0i64..5000, 0i64..3000), 0..7).prop_map(|rows| {
            rows.into_iter()
                .enumerate()
                .map(|(i, (product_id, category_id, quantity, unit_cents, weight_grams))| LineInput {
                    variant_id: i as i64 * 7 % 11 + 1,
                    product_id,
                    category_id,
                    quantity,
                    unit_cents,
                    weight_grams,
                })
                .collect()
        })
    }

    fn target_strategy() -> impl Strategy<Value = Target> {
        prop_oneof![
            Just(Target::Order),
            (1i64..4).prop_map(Target::Category),
            (1i64..4).prop_map(Target::Product),
            (1i64..8).prop_map(Target::Variant),
        ]
    }

    fn kind_strategy() -> impl Strategy<Value = PromoKind> {
        prop_oneof![
            (0u8..=100).prop_map(|percent| PromoKind::Percent { percent }),
            (0i64..20_000).prop_map(|cents| PromoKind::Fixed { cents }),
            Just(PromoKind::FreeShipping),
            (0u32..4, 0u8..=100).prop_map(|(buy, percent)| PromoKind::BuyGet { buy, percent }),
        ]
    }

    fn promos_strategy() -> impl Strategy<Value = Vec<Promotion>> {
        prop::collection::vec((kind_strategy(), target_strategy(), 0i64..20_000, any::<bool>()), 0..6).prop_map(
            |rows| {
                rows.into_iter()
                    .enumerate()
                    .map(|(i, (kind, target, min, combinable))| {
                        let mut p = promo(i as i64 * 3 % 7 + 1, kind, target);
                        p.min_subtotal_cents = min / 4;
                        p.combinable = combinable;
                        p
                    })
                    .collect()
            },
        )
    }

    fn shipping_strategy() -> impl Strategy<Value = Option<ShippingMethod>> {
        let rate = prop_oneof![
            (0i64..2000).prop_map(|cents| Rate::Flat { cents }),
            prop::collection::vec((0i64..20_000, 0i64..2000), 0..4).prop_map(Rate::Bands),
            (0i64..1000, 0i64..500).prop_map(|(base_cents, per_kg_cents)| Rate::Weight { base_cents, per_kg_cents }),
        ];
        prop::option::of((rate, prop::option::of(0i64..30_000)).prop_map(|(rate, free_over_cents)| ShippingMethod {
            id: 1,
            name: "Ship".into(),
            rate,
            free_over_cents,
        }))
    }

    fn tax_strategy() -> impl Strategy<Value = (Option<TaxRate>, TaxSettings)> {
        (
            prop::option::of((0u32..=10_000).prop_map(|rate_bp| TaxRate { label: "VAT".into(), rate_bp })),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(tax, inclusive, per_total)| {
                let rounding = if per_total { Rounding::PerTotal } else { Rounding::PerLine };
                (tax, TaxSettings { inclusive, rounding })
            })
    }

    fn totals(cart: &PricedCart) -> [i64; 7] {
        [
            cart.subtotal_cents,
            cart.discount_cents,
            cart.shipping_cents,
            cart.shipping_discount_cents,
            cart.tax_cents,
            cart.total_cents,
            cart.discounts.iter().map(|d| d.amount_cents).sum(),
        ]
    }

    fn per_variant(cart: &PricedCart) -> Vec<PricedLine> {
        let mut lines = cart.lines.clone();
        lines.sort_by_key(|l| (l.variant_id, l.quantity, l.unit_cents, l.gross_cents));
        lines
    }

    proptest! {
        #[test]
        fn allocate_parts_sum_and_stay_within_weights(
            weights in prop::collection::vec(0i64..1_000_000_000_000, 0..12),
            fraction in 0u32..=1000,
        ) {
            let sum: i64 = weights.iter().sum();
            let amount = (i128::from(sum) * i128::from(fraction) / 1000) as i64;
            let parts = allocate(amount, &weights);
            prop_assert_eq!(parts.len(), weights.len());
            prop_assert_eq!(parts.iter().sum::<i64>(), amount);
            for (p, w) in parts.iter().zip(&weights) {
                prop_assert!(0 <= *p && p <= w);
            }
        }

        #[test]
        fn allocate_never_panics(amount in any::<i64>(), weights in prop::collection::vec(any::<i64>(), 0..8)) {
            let parts = allocate(amount, &weights);
            prop_assert_eq!(parts.len(), weights.len());
            for (p, w) in parts.iter().zip(&weights) {
                prop_assert!(0 <= *p && *p <= (*w).max(0));
            }
        }

        #[test]
        fn priced_cart_invariants(
            lines in line_strategy(),
            promos in promos_strategy(),
            shipping in shipping_strategy(),
            (tax, settings) in tax_strategy(),
        ) {
            let cart = run(&lines, &promos, shipping.as_ref(), tax.as_ref(), &settings);
            prop_assert_eq!(cart.lines.len(), lines.len());
            for (priced, input) in cart.lines.iter().zip(&lines) {
                prop_assert_eq!(priced.variant_id, input.variant_id);
                prop_assert_eq!(priced.gross_cents, input.unit_cents * i64::from(input.quantity));
                prop_assert!(priced.discount_cents >= 0 && priced.discount_cents <= priced.gross_cents);
                prop_assert_eq!(priced.net_cents, priced.gross_cents - priced.discount_cents);
                prop_assert!(priced.tax_cents >= 0);
            }
            for v in totals(&cart) {
                prop_assert!(v >= 0);
            }
            prop_assert_eq!(cart.subtotal_cents, cart.lines.iter().map(|l| l.gross_cents).sum::<i64>());
            prop_assert_eq!(cart.discount_cents, cart.lines.iter().map(|l| l.discount_cents).sum::<i64>());
            // No cent created or lost between the lines and the listed discounts.
            let goods: i64 = cart.discounts.iter().filter(|d| !d.shipping).map(|d| d.amount_cents).sum();
            let ship: i64 = cart.discounts.iter().filter(|d| d.shipping).map(|d| d.amount_cents).sum();
            prop_assert_eq!(goods, cart.discount_cents);
            prop_assert_eq!(ship, cart.shipping_discount_cents);
            prop_assert!(cart.shipping_discount_cents <= cart.shipping_cents);
            prop_assert!(cart.discount_cents <= cart.subtotal_cents);
            for d in &cart.discounts {
                prop_assert!(d.amount_cents > 0);
                let p = promos.iter().find(|p| p.id == d.promotion_id).unwrap();
                if d.shipping {
                    prop_assert!(d.amount_cents <= cart.shipping_cents);
                } else {
                    let eligible: i64 = lines.iter().filter(|l| targets(p.target, l)).map(|l| l.unit_cents * i64::from(l.quantity)).sum();
                    prop_assert!(d.amount_cents <= eligible);
                    if let PromoKind::Fixed { cents } = p.kind {
                        prop_assert!(d.amount_cents <= cents);
                    }
                }
            }
            // Every candidate is accounted for exactly once.
            let mut seen: Vec<i64> = cart.discounts.iter().map(|d| d.promotion_id).chain(cart.not_applied.iter().map(|(id, _)| *id)).collect();
            seen.sort_unstable();
            let mut ids: Vec<i64> = promos.iter().map(|p| p.id).collect();
            ids.sort_unstable();
            ids.dedup();
            if ids.len() == promos.len() {
                prop_assert_eq!(seen, ids);
            }
            let base = cart.subtotal_cents - cart.discount_cents + cart.shipping_cents - cart.shipping_discount_cents;
            if settings.inclusive {
                prop_assert_eq!(cart.total_cents, base);
            } else {
                prop_assert_eq!(cart.total_cents - cart.tax_cents, base);
            }
            // Line tax plus shipping tax is the total tax; so shipping tax is never negative.
            let line_tax: i64 = cart.lines.iter().map(|l| l.tax_cents).sum();
            prop_assert!(line_tax <= cart.tax_cents);
            let shipping_net = cart.shipping_cents - cart.shipping_discount_cents;
            prop_assert!(cart.tax_cents - line_tax <= shipping_net);
            if tax.as_ref().is_none_or(|t| t.rate_bp == 0) {
                prop_assert_eq!(cart.tax_cents, 0);
                prop_assert!(cart.tax_lines.is_empty());
            } else {
                prop_assert_eq!(cart.tax_lines.iter().map(|t| t.amount_cents).sum::<i64>(), cart.tax_cents);
            }
        }

        #[test]
        fn totals_do_not_depend_on_line_order(
            (lines, shuffled) in line_strategy().prop_flat_map(|l| (Just(l.clone()), Just(l).prop_shuffle())),
            promos in promos_strategy(),
            shipping in shipping_strategy(),
            (tax, settings) in tax_strategy(),
        ) {
            let a = run(&lines, &promos, shipping.as_ref(), tax.as_ref(), &settings);
            let b = run(&shuffled, &promos, shipping.as_ref(), tax.as_ref(), &settings);
            let reversed: Vec<LineInput> = lines.iter().rev().cloned().collect();
            let c = run(&reversed, &promos, shipping.as_ref(), tax.as_ref(), &settings);
            prop_assert_eq!(totals(&a), totals(&b));
            prop_assert_eq!(totals(&a), totals(&c));
            prop_assert_eq!(per_variant(&a), per_variant(&b));
            prop_assert_eq!(per_variant(&a), per_variant(&c));
            prop_assert_eq!(&a.discounts, &b.discounts);
            prop_assert_eq!(&a.not_applied, &c.not_applied);
            prop_assert_eq!(a.fingerprint(), b.fingerprint());
        }

        #[test]
        fn never_panics_on_any_input(
            raw in prop::collection::vec((any::<i64>(), any::<i64>(), any::<u32>(), any::<i64>(), any::<i64>()), 0..5),
            kinds in prop::collection::vec((any::<u8>(), any::<i64>(), any::<u32>(), 0u8..4, any::<i64>()), 0..5),
            bands in prop::collection::vec((any::<i64>(), any::<i64>()), 0..4),
            free_over in prop::option::of(any::<i64>()),
            rate_bp in any::<u32>(),
            inclusive in any::<bool>(),
        ) {
            let lines: Vec<LineInput> = raw
                .into_iter()
                .map(|(v, c, quantity, unit_cents, weight_grams)| LineInput { variant_id: v, product_id: v, category_id: c, quantity, unit_cents, weight_grams })
                .collect();
            let promos: Vec<Promotion> = kinds
                .into_iter()
                .enumerate()
                .map(|(i, (percent, cents, buy, which, min))| {
                    let kind = match which {
                        0 => PromoKind::Percent { percent },
                        1 => PromoKind::Fixed { cents },
                        2 => PromoKind::FreeShipping,
                        _ => PromoKind::BuyGet { buy, percent },
                    };
                    let mut p = promo(i as i64, kind, Target::Order);
                    p.min_subtotal_cents = min;
                    p.combinable = i % 2 == 0;
                    p
                })
                .collect();
            let ship = ShippingMethod { rate: Rate::Bands(bands), free_over_cents: free_over, ..flat(0) };
            let tax = TaxRate { label: "T".into(), rate_bp };
            for rounding in [Rounding::PerLine, Rounding::PerTotal] {
                let cart = run(&lines, &promos, Some(&ship), Some(&tax), &TaxSettings { inclusive, rounding });
                prop_assert!(cart.total_cents >= 0 && cart.tax_cents >= 0);
                for l in &cart.lines {
                    prop_assert!(l.discount_cents <= l.gross_cents && l.net_cents >= 0);
                }
                let _ = cart.fingerprint();
            }
        }
    }
}
