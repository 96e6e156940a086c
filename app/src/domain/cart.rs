//! Cart rules: limits, caps, input parsing, and turning stored lines plus current catalogue
//! data into what the shopper sees. Pure functions; the stores apply the caps atomically.

use crate::domain::money::Currency;
use crate::model::{CartLine, CartView, VariantCard};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Most units of one product in a cart.
pub const MAX_QUANTITY: u32 = 99;
/// Most distinct products in a cart.
pub const MAX_LINES: usize = 100;

/// A line as the stores keep it: no names or current prices, only what was chosen and the price
/// seen when it was chosen (to tell the shopper when it changed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredLine {
    pub variant_id: i64,
    pub quantity: u32,
    pub price_cents: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StoredCart {
    /// In the order they were first added.
    pub lines: Vec<StoredLine>,
    /// Increases with every change; 0 means the cart was never written.
    pub version: u64,
}

impl StoredCart {
    pub fn quantity_of(&self, variant_id: i64) -> u32 {
        self.lines.iter().find(|l| l.variant_id == variant_id).map(|l| l.quantity).unwrap_or(0)
    }

    /// Never written, or gone (expired session, flushed store): the only state a browser copy
    /// may be restored into.
    pub fn is_pristine(&self) -> bool {
        self.version == 0 && self.lines.is_empty()
    }
}

/// How many units of a product one line may hold: the per-line maximum or the stock, if lower.
pub fn line_cap(stock: i64) -> u32 {
    stock.clamp(0, i64::from(MAX_QUANTITY)) as u32
}

/// Why a form field was refused. `Malformed` maps to 400, `OutOfRange` to 422.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldError {
    Malformed(String),
    OutOfRange(String),
}

/// Parses a whole number from a form field and checks its range.
pub fn parse_int_field(raw: &str, field: &str, min: i64, max: i64) -> Result<i64, FieldError> {
    let trimmed = raw.trim();
    let range = || {
        if max == i64::MAX {
            FieldError::OutOfRange(format!("{field} must be a whole number of at least {min}."))
        } else {
            FieldError::OutOfRange(format!("{field} must be between {min} and {max}."))
        }
    };
    let value: i64 = match trimmed.parse() {
        Ok(v) => v,
        // A number too large for i64 is still a number: out of range, not malformed.
        Err(_) if !trimmed.is_empty() && trimmed.trim_start_matches(['-', '+']).bytes().all(|b| b.is_ascii_digit()) => {
            return Err(range())
        }
        Err(_) => return Err(FieldError::Malformed(format!("{field} must be a whole number."))),
    };
    if value < min || value > max {
        return Err(range());
    }
    Ok(value)
}

pub fn parse_quantity(raw: &str, allow_zero: bool) -> Result<u32, FieldError> {
    let min = if allow_zero { 0 } else { 1 };
    parse_int_field(raw, "Quantity", min, i64::from(MAX_QUANTITY)).map(|v| v as u32)
}

pub fn parse_product_id(raw: &str) -> Result<i64, FieldError> {
    parse_int_field(raw, "Product id", 1, i64::MAX)
}

pub fn parse_variant_id(raw: &str) -> Result<i64, FieldError> {
    parse_int_field(raw, "Variant id", 1, i64::MAX)
}

/// What a cart change names: a variant, or a product that has only one (clients written before
/// variants existed send `product_id` alone). The form fields as sent, unparsed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ItemRef {
    pub variant_id: Option<i64>,
    pub product_id: Option<i64>,
}

impl ItemRef {
    /// Parses the optional `variant_id` and `product_id` fields: at least one, each a positive id.
    pub fn parse(variant_id: Option<&str>, product_id: Option<&str>) -> Result<ItemRef, FieldError> {
        let variant_id = variant_id.filter(|v| !v.trim().is_empty()).map(parse_variant_id).transpose()?;
        let product_id = product_id.filter(|v| !v.trim().is_empty()).map(parse_product_id).transpose()?;
        if variant_id.is_none() && product_id.is_none() {
            return Err(FieldError::Malformed("Name the item: variant_id (or product_id).".into()));
        }
        Ok(ItemRef { variant_id, product_id })
    }
}

/// A line of a browser's saved cart, before the server has checked it. Copies saved before
/// variants existed carry only `product_id`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientLine {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<i64>,
    pub quantity: i64,
}

impl ClientLine {
    pub fn item(&self) -> ItemRef {
        ItemRef { variant_id: self.variant_id, product_id: self.product_id }
    }
}

/// What restoring or merging could not keep.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Adjustment {
    /// Not in the catalogue, or no longer sold.
    Unavailable {
        variant_id: i64,
    },
    SoldOut {
        variant_id: i64,
        name: String,
    },
    /// Fewer units than asked for: stock or the per-line maximum.
    Capped {
        variant_id: i64,
        name: String,
        requested: u32,
        kept: u32,
    },
    /// Over the line limit.
    TooManyLines {
        variant_id: i64,
    },
}

impl Adjustment {
    pub fn message(&self) -> String {
        match self {
            Adjustment::Unavailable { .. } => "An item is no longer available and was removed.".into(),
            Adjustment::SoldOut { name, .. } => format!("{name} is sold out and was removed."),
            Adjustment::Capped { name, kept, .. } => {
                format!("Only {kept} of {name} can be in your cart, so the quantity was set to {kept}.")
            }
            Adjustment::TooManyLines { .. } => {
                format!("A cart holds at most {MAX_LINES} different products; the rest were left out.")
            }
        }
    }
}

/// Shopper-facing messages for lines that were dropped or capped; unknown products summed up.
pub fn summarise_adjustments(adjustments: &[Adjustment]) -> Vec<String> {
    let unavailable = adjustments.iter().filter(|a| matches!(a, Adjustment::Unavailable { .. })).count();
    let too_many = adjustments.iter().filter(|a| matches!(a, Adjustment::TooManyLines { .. })).count();
    let mut out: Vec<String> = adjustments
        .iter()
        .filter(|a| matches!(a, Adjustment::SoldOut { .. } | Adjustment::Capped { .. }))
        .map(Adjustment::message)
        .collect();
    match unavailable {
        0 => {}
        1 => out.push("1 item is no longer available and was removed.".into()),
        n => out.push(format!("{n} items are no longer available and were removed.")),
    }
    if too_many > 0 {
        out.push(format!("A cart holds at most {MAX_LINES} different products; {too_many} were left out."));
    }
    out
}

/// Checks a browser's saved lines, each resolved to `(variant id, quantity)`, against the
/// catalogue: unknown or retired variants and sold-out ones are dropped, quantities are capped,
/// duplicates are summed, at most `MAX_LINES` are kept. `products` holds the variants on sale
/// among the requested ids.
pub fn validate_client_lines(
    lines: &[(i64, i64)],
    products: &HashMap<i64, VariantCard>,
) -> (Vec<StoredLine>, Vec<Adjustment>) {
    let mut kept: Vec<StoredLine> = Vec::new();
    let mut adjustments = Vec::new();
    // Sum duplicates first, in first-seen order.
    let mut wanted: Vec<(i64, i64)> = Vec::new();
    for &(variant_id, quantity) in lines {
        match wanted.iter_mut().find(|(id, _)| *id == variant_id) {
            Some((_, q)) => *q = q.saturating_add(quantity.max(0)),
            None => wanted.push((variant_id, quantity.max(0))),
        }
    }
    for (variant_id, quantity) in wanted {
        if quantity <= 0 {
            continue;
        }
        let Some(card) = products.get(&variant_id) else {
            adjustments.push(Adjustment::Unavailable { variant_id });
            continue;
        };
        let cap = line_cap(card.stock);
        if cap == 0 {
            adjustments.push(Adjustment::SoldOut { variant_id, name: card.label() });
            continue;
        }
        if kept.len() >= MAX_LINES {
            adjustments.push(Adjustment::TooManyLines { variant_id });
            continue;
        }
        let requested = quantity.min(i64::from(u32::MAX)) as u32;
        let q = requested.min(cap);
        if q < requested {
            adjustments.push(Adjustment::Capped { variant_id, name: card.label(), requested, kept: q });
        }
        kept.push(StoredLine { variant_id, quantity: q, price_cents: card.price_cents });
    }
    (kept, adjustments)
}

/// The cart as the shopper sees it: current names, prices and stock from the catalogue.
/// Lines whose product is gone stay visible (so the shopper can see and remove them) but are
/// not counted or charged.
pub fn build_view(stored: &StoredCart, products: &HashMap<i64, VariantCard>, guest: bool) -> CartView {
    let mut lines = Vec::with_capacity(stored.lines.len());
    let mut subtotal: i64 = 0;
    let mut items: u32 = 0;
    let mut currency = Currency::default();
    let mut notices = Vec::new();
    let mut any_price_change = false;
    for l in &stored.lines {
        match products.get(&l.variant_id) {
            Some(card) => {
                currency = card.currency;
                let line_total = card.price_cents.saturating_mul(i64::from(l.quantity));
                subtotal = subtotal.saturating_add(line_total);
                items += l.quantity;
                let previous = (l.price_cents != card.price_cents).then_some(l.price_cents);
                any_price_change |= previous.is_some();
                if card.stock < i64::from(l.quantity) {
                    notices.push(if card.stock <= 0 {
                        format!("{} has sold out since you added it.", card.label())
                    } else {
                        format!("Only {} of {} left: lower the quantity to check out.", card.stock, card.label())
                    });
                }
                lines.push(CartLine {
                    variant_id: l.variant_id,
                    product_id: card.product_id,
                    sku: card.sku.clone(),
                    slug: card.slug.clone(),
                    name: card.name.clone(),
                    options: card.options.clone(),
                    image: card.image.clone(),
                    unit_price_cents: card.price_cents,
                    quantity: l.quantity,
                    line_total_cents: line_total,
                    stock_available: card.stock.max(0),
                    on_sale: true,
                    previous_price_cents: previous,
                    category_id: card.category_id,
                    weight_grams: card.weight_grams,
                });
            }
            None => lines.push(CartLine {
                variant_id: l.variant_id,
                product_id: 0,
                sku: String::new(),
                slug: String::new(),
                name: "Item no longer available".into(),
                options: String::new(),
                image: String::new(),
                unit_price_cents: 0,
                quantity: l.quantity,
                line_total_cents: 0,
                stock_available: 0,
                on_sale: false,
                previous_price_cents: None,
                category_id: 0,
                weight_grams: 0,
            }),
        }
    }
    if any_price_change {
        notices.insert(0, "Some prices changed since you added the items; the cart shows today's prices.".into());
    }
    CartView {
        lines,
        subtotal_cents: subtotal,
        currency,
        item_count: items,
        version: stored.version,
        guest,
        notices,
        pricing: Default::default(),
    }
}

/// A change the shopper asks for, as the browser sends it to the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CartOp {
    Add { variant_id: i64, quantity: u32 },
    Set { variant_id: i64, quantity: u32 },
    Remove { variant_id: i64 },
    Clear,
}

/// The cart as it will be once `op` succeeds, as far as the browser can tell: what is shown at
/// once, before the server answers (its answer then replaces it). An add is capped at the stock
/// the view knows and at `MAX_QUANTITY`, but never lowers a line; totals and the item count are
/// recomputed from the lines. A product not in the view yet only counts towards the item count:
/// its name and price come with the server's answer.
pub fn optimistic(view: &CartView, op: &CartOp) -> CartView {
    let mut v = view.clone();
    v.notices.clear();
    match *op {
        CartOp::Add { variant_id, quantity } => match v.lines.iter_mut().find(|l| l.variant_id == variant_id) {
            Some(line) => {
                let cap = line_cap(line.stock_available);
                line.quantity = line.quantity.saturating_add(quantity).min(cap.max(line.quantity));
            }
            None => {
                v.item_count = v.item_count.saturating_add(quantity);
                return v;
            }
        },
        CartOp::Set { variant_id, quantity: 0 } | CartOp::Remove { variant_id } => {
            v.lines.retain(|l| l.variant_id != variant_id)
        }
        CartOp::Set { variant_id, quantity } => {
            if let Some(line) = v.lines.iter_mut().find(|l| l.variant_id == variant_id) {
                line.quantity = quantity;
            }
        }
        CartOp::Clear => v.lines.clear(),
    }
    for l in &mut v.lines {
        l.line_total_cents = if l.on_sale { l.unit_price_cents.saturating_mul(i64::from(l.quantity)) } else { 0 };
    }
    v.subtotal_cents = v.lines.iter().map(|l| l.line_total_cents).sum();
    v.item_count = v.lines.iter().filter(|l| l.on_sale).map(|l| l.quantity).sum();
    v
}

/// What stops this cart (as priced with today's catalogue) from being ordered, one message per
/// problem for the shopper: nothing on sale in it, lines no longer sold, sold out, or wanting more
/// than is in stock. Empty when the cart can be ordered. Price changes are not problems: the
/// cart already shows today's prices and the quote confirms them.
pub fn cart_problems(cart: &CartView) -> Vec<String> {
    let mut problems = Vec::new();
    if cart.lines.iter().all(|l| !l.on_sale) {
        problems.push("Your cart is empty.".to_string());
    }
    for l in &cart.lines {
        if !l.on_sale {
            problems.push(format!("{} is no longer available: remove it to check out.", l.label()));
        } else if l.stock_available <= 0 {
            problems.push(format!("{} is sold out: remove it to check out.", l.label()));
        } else if l.stock_available < i64::from(l.quantity) {
            problems.push(format!(
                "Only {} left of {}: lower the quantity to check out.",
                l.stock_available,
                l.label()
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem_line(name: &str, quantity: u32, stock: i64) -> CartLine {
        CartLine {
            variant_id: stock,
            product_id: stock,
            sku: String::new(),
            slug: String::new(),
            name: name.into(),
            options: String::new(),
            image: String::new(),
            unit_price_cents: 1_000,
            quantity,
            line_total_cents: 1_000 * i64::from(quantity),
            stock_available: stock,
            on_sale: true,
            previous_price_cents: None,
            category_id: 0,
            weight_grams: 0,
        }
    }

    fn problem_cart(lines: Vec<CartLine>) -> CartView {
        CartView { lines, ..CartView::default() }
    }

    #[test]
    fn a_cart_in_stock_has_no_problems() {
        assert!(cart_problems(&problem_cart(vec![problem_line("Mug", 2, 2), problem_line("Bowl", 1, 40)])).is_empty());
        let changed = CartLine { previous_price_cents: Some(900), ..problem_line("Mug", 1, 3) };
        assert!(cart_problems(&problem_cart(vec![changed])).is_empty(), "a price change alone does not block");
    }

    #[test]
    fn an_empty_cart_cannot_be_ordered() {
        assert_eq!(cart_problems(&problem_cart(vec![])), vec!["Your cart is empty."]);
    }

    #[test]
    fn each_line_that_cannot_be_ordered_says_why() {
        let gone = CartLine { on_sale: false, stock_available: 0, ..problem_line("Old vase", 1, 0) };
        let problems = cart_problems(&problem_cart(vec![
            problem_line("Mug", 1, 5),
            problem_line("Bowl", 2, 0),
            problem_line("Jug", 3, 2),
            gone.clone(),
        ]));
        assert_eq!(
            problems,
            vec![
                "Bowl is sold out: remove it to check out.",
                "Only 2 left of Jug: lower the quantity to check out.",
                "Old vase is no longer available: remove it to check out.",
            ]
        );
        assert_eq!(
            cart_problems(&problem_cart(vec![problem_line("Bowl", 1, -3)])),
            vec!["Bowl is sold out: remove it to check out."],
            "negative stock is sold out"
        );
        // Only lines no longer sold: nothing could be ordered, and each is named.
        assert_eq!(
            cart_problems(&problem_cart(vec![gone])),
            vec!["Your cart is empty.", "Old vase is no longer available: remove it to check out."]
        );
    }

    fn card(id: i64, price: i64, stock: i64) -> VariantCard {
        VariantCard {
            id,
            product_id: id,
            sku: format!("sku-{id}"),
            slug: format!("p-{id}"),
            name: format!("Product {id}"),
            options: String::new(),
            price_cents: price,
            currency: Currency::USD,
            stock,
            image: String::new(),
            category_id: 1,
            weight_grams: 0,
        }
    }

    #[test]
    fn caps_follow_stock_and_the_line_maximum() {
        assert_eq!(line_cap(0), 0);
        assert_eq!(line_cap(-4), 0);
        assert_eq!(line_cap(7), 7);
        assert_eq!(line_cap(5000), MAX_QUANTITY);
    }

    #[test]
    fn quantities_are_parsed_strictly() {
        assert_eq!(parse_quantity("3", false), Ok(3));
        assert_eq!(parse_quantity(" 99 ", false), Ok(99));
        assert_eq!(parse_quantity("0", true), Ok(0));
        assert!(matches!(parse_quantity("0", false), Err(FieldError::OutOfRange(_))));
        assert!(matches!(parse_quantity("-1", false), Err(FieldError::OutOfRange(_))));
        assert!(matches!(parse_quantity("100", false), Err(FieldError::OutOfRange(_))));
        assert!(matches!(parse_quantity("9223372036854775808", false), Err(FieldError::OutOfRange(_))));
        assert!(matches!(parse_quantity("abc", false), Err(FieldError::Malformed(_))));
        assert!(matches!(parse_quantity("1.5", false), Err(FieldError::Malformed(_))));
        assert!(matches!(parse_quantity("", false), Err(FieldError::Malformed(_))));
        assert!(matches!(parse_variant_id("-3"), Err(FieldError::OutOfRange(_))));
        assert_eq!(parse_variant_id("42"), Ok(42));
    }

    #[test]
    fn the_view_uses_current_prices_and_flags_changes() {
        let stored = StoredCart {
            lines: vec![
                StoredLine { variant_id: 1, quantity: 2, price_cents: 1000 },
                StoredLine { variant_id: 2, quantity: 1, price_cents: 550 },
                StoredLine { variant_id: 3, quantity: 4, price_cents: 100 },
            ],
            version: 7,
        };
        let products: HashMap<_, _> = [(1, card(1, 1200, 10)), (2, card(2, 550, 0))].into_iter().collect();
        let v = build_view(&stored, &products, true);
        assert_eq!(v.version, 7);
        assert_eq!(v.lines.len(), 3);
        assert_eq!(v.lines[0].unit_price_cents, 1200);
        assert_eq!(v.lines[0].line_total_cents, 2400);
        assert_eq!(v.lines[0].previous_price_cents, Some(1000));
        assert_eq!(v.lines[1].previous_price_cents, None);
        assert!(!v.lines[2].on_sale, "unknown product is shown as unavailable");
        assert_eq!(v.subtotal_cents, 2400 + 550);
        assert_eq!(v.item_count, 3);
        assert!(v.notices.iter().any(|n| n.contains("prices changed")));
        assert!(v.notices.iter().any(|n| n.contains("sold out")));
    }

    #[test]
    fn client_lines_are_checked_against_the_catalogue() {
        let products: HashMap<_, _> =
            [(1, card(1, 100, 3)), (2, card(2, 100, 0)), (4, card(4, 100, 500))].into_iter().collect();
        let lines = vec![(1, 5), (2, 1), (3, 1), (4, 60), (4, 60), (5, -2)];
        let (kept, adj) = validate_client_lines(&lines, &products);
        assert_eq!(
            kept,
            vec![
                StoredLine { variant_id: 1, quantity: 3, price_cents: 100 },
                StoredLine { variant_id: 4, quantity: 99, price_cents: 100 },
            ]
        );
        assert!(adj.contains(&Adjustment::SoldOut { variant_id: 2, name: "Product 2".into() }));
        assert!(adj.contains(&Adjustment::Unavailable { variant_id: 3 }));
        assert!(adj.iter().any(|a| matches!(a, Adjustment::Capped { variant_id: 1, kept: 3, .. })));
        assert!(adj.iter().any(|a| matches!(a, Adjustment::Capped { variant_id: 4, requested: 120, kept: 99, .. })));
    }

    #[test]
    fn restoring_keeps_at_most_the_line_limit() {
        let products: HashMap<_, _> = (1..=150).map(|i| (i, card(i, 100, 10))).collect();
        let lines: Vec<_> = (1..=150).map(|i| (i, 1)).collect();
        let (kept, adj) = validate_client_lines(&lines, &products);
        assert_eq!(kept.len(), MAX_LINES);
        assert_eq!(adj.len(), 50);
    }

    fn line(variant_id: i64, quantity: u32, price: i64, stock: i64) -> CartLine {
        CartLine {
            variant_id,
            product_id: variant_id,
            sku: format!("sku-{variant_id}"),
            slug: format!("p-{variant_id}"),
            name: format!("Product {variant_id}"),
            options: String::new(),
            image: String::new(),
            unit_price_cents: price,
            quantity,
            line_total_cents: price * i64::from(quantity),
            stock_available: stock,
            on_sale: true,
            previous_price_cents: None,
            category_id: 0,
            weight_grams: 0,
        }
    }

    /// Two lines: 2 × $10 (stock 5) and 1 × $3.50 (plenty of stock), with a notice.
    fn shown() -> CartView {
        let lines = vec![line(1, 2, 1000, 5), line(2, 1, 350, 500)];
        CartView {
            subtotal_cents: 2350,
            item_count: 3,
            lines,
            currency: Currency::USD,
            version: 4,
            guest: true,
            notices: vec!["Some prices changed.".into()],
            pricing: Default::default(),
        }
    }

    fn quantities(v: &CartView) -> Vec<(i64, u32)> {
        v.lines.iter().map(|l| (l.variant_id, l.quantity)).collect()
    }

    #[test]
    fn an_add_shows_at_once_with_new_totals() {
        let v = optimistic(&shown(), &CartOp::Add { variant_id: 1, quantity: 1 });
        assert_eq!(quantities(&v), vec![(1, 3), (2, 1)]);
        assert_eq!(v.lines[0].line_total_cents, 3000);
        assert_eq!(v.subtotal_cents, 3350);
        assert_eq!(v.item_count, 4);
        assert!(v.notices.is_empty(), "old notices go; the answer brings its own");
        assert_eq!((v.version, v.guest, v.currency), (4, true, Currency::USD), "the rest is kept");
    }

    #[test]
    fn an_add_is_capped_at_known_stock_and_the_line_maximum() {
        let v = optimistic(&shown(), &CartOp::Add { variant_id: 1, quantity: 10 });
        assert_eq!(quantities(&v)[0], (1, 5), "stock is 5");
        assert_eq!(v.subtotal_cents, 5000 + 350);
        let v = optimistic(&shown(), &CartOp::Add { variant_id: 2, quantity: MAX_QUANTITY });
        assert_eq!(quantities(&v)[1], (2, MAX_QUANTITY), "stock 500, but at most MAX_QUANTITY");
        assert_eq!(v.item_count, 2 + MAX_QUANTITY);
    }

    #[test]
    fn an_add_never_lowers_a_line_already_over_stock() {
        let mut cart = shown();
        cart.lines[0].stock_available = 1;
        let v = optimistic(&cart, &CartOp::Add { variant_id: 1, quantity: 1 });
        assert_eq!(quantities(&v)[0], (1, 2));
        cart.lines[0].stock_available = 0;
        let v = optimistic(&cart, &CartOp::Add { variant_id: 1, quantity: 1 });
        assert_eq!(quantities(&v)[0], (1, 2));
    }

    #[test]
    fn an_add_of_a_product_not_shown_yet_only_counts_it() {
        let v = optimistic(&shown(), &CartOp::Add { variant_id: 9, quantity: 2 });
        assert_eq!(quantities(&v), vec![(1, 2), (2, 1)], "no line until the server names and prices it");
        assert_eq!(v.item_count, 5);
        assert_eq!(v.subtotal_cents, 2350);
        assert!(v.notices.is_empty());
    }

    #[test]
    fn set_changes_a_line_and_zero_removes_it() {
        let v = optimistic(&shown(), &CartOp::Set { variant_id: 2, quantity: 4 });
        assert_eq!(quantities(&v), vec![(1, 2), (2, 4)]);
        assert_eq!(v.subtotal_cents, 2000 + 1400);
        assert_eq!(v.item_count, 6);
        let v = optimistic(&shown(), &CartOp::Set { variant_id: 1, quantity: 0 });
        assert_eq!(quantities(&v), vec![(2, 1)]);
        assert_eq!((v.subtotal_cents, v.item_count), (350, 1));
    }

    #[test]
    fn set_of_an_unknown_product_changes_nothing_but_the_notices() {
        let v = optimistic(&shown(), &CartOp::Set { variant_id: 9, quantity: 3 });
        assert_eq!(quantities(&v), quantities(&shown()));
        assert_eq!((v.subtotal_cents, v.item_count), (2350, 3));
        let v = optimistic(&shown(), &CartOp::Remove { variant_id: 9 });
        assert_eq!(quantities(&v), quantities(&shown()));
    }

    #[test]
    fn remove_and_clear() {
        let v = optimistic(&shown(), &CartOp::Remove { variant_id: 2 });
        assert_eq!(quantities(&v), vec![(1, 2)]);
        assert_eq!((v.subtotal_cents, v.item_count), (2000, 2));
        let v = optimistic(&shown(), &CartOp::Clear);
        assert!(v.lines.is_empty());
        assert_eq!((v.subtotal_cents, v.item_count), (0, 0));
    }

    #[test]
    fn lines_no_longer_sold_are_neither_counted_nor_charged() {
        let mut cart = shown();
        cart.lines[1].on_sale = false;
        let v = optimistic(&cart, &CartOp::Add { variant_id: 1, quantity: 1 });
        assert_eq!(v.lines[1].line_total_cents, 0);
        assert_eq!((v.subtotal_cents, v.item_count), (3000, 3));
    }
}
