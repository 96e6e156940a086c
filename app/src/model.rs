//! Data shapes shared by the server and the browser (serialised into pages and API answers).

use crate::domain::catalog::Sort;
use crate::domain::money::{format_cents, Currency};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
}

/// What a listing shows of a product. Price and stock are over all its variants: the lowest
/// price (with `max_price_cents` above it when variants differ) and the units of all of them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductCard {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub price_cents: i64,
    pub max_price_cents: i64,
    pub currency: Currency,
    pub stock: i64,
    pub image: String,
    pub category_id: i64,
    /// The variant an add-to-cart button on a listing adds; `None` when there are several to
    /// choose from (on the product page).
    pub single_variant: Option<i64>,
}

impl ProductCard {
    /// "$12.00", or "From $12.00" when its variants differ in price.
    pub fn price(&self) -> String {
        let price = format_cents(self.price_cents, self.currency);
        if self.max_price_cents > self.price_cents {
            format!("From {price}")
        } else {
            price
        }
    }
    pub fn stock_status(&self) -> StockStatus {
        StockStatus::from_stock(self.stock)
    }
}

/// One thing a cart can hold: a variant of a product, with what a cart line shows of both.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariantCard {
    /// The variant's id: what cart lines are keyed by.
    pub id: i64,
    pub product_id: i64,
    pub sku: String,
    /// The product's slug and name.
    pub slug: String,
    pub name: String,
    /// "Size: M / Colour: Navy"; empty for a product without options.
    pub options: String,
    pub price_cents: i64,
    pub currency: Currency,
    pub stock: i64,
    /// The variant's picture, or the product's.
    pub image: String,
    pub category_id: i64,
    /// For shipping by weight; 0 when unknown.
    #[serde(default)]
    pub weight_grams: i64,
}

impl VariantCard {
    /// The name with the options, for messages: "Linen Shirt (Size: M / Colour: Navy)".
    pub fn label(&self) -> String {
        if self.options.is_empty() {
            self.name.clone()
        } else {
            format!("{} ({})", self.name, self.options)
        }
    }
}

/// A variant as its product page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    pub id: i64,
    pub sku: String,
    /// One value per option of the product, in the product's option order.
    pub values: Vec<String>,
    pub price_cents: i64,
    /// The "was" price, shown struck through when above the price.
    pub compare_at_cents: Option<i64>,
    pub stock: i64,
    /// Empty: the product's picture.
    pub image: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductDetail {
    pub card: ProductCard,
    /// Plain text (search, meta tags).
    pub description: String,
    /// Sanitised HTML from a catalogue import; shown instead of `description` when not empty.
    pub description_html: String,
    pub category: Category,
    pub active: bool,
    /// Up to three option names ("Size", "Colour"); empty for a product without options.
    pub option_names: Vec<String>,
    /// At least one; in the store's order.
    pub variants: Vec<Variant>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StockStatus {
    InStock,
    Low(i64),
    SoldOut,
}

impl StockStatus {
    pub const LOW_STOCK: i64 = 5;

    pub fn from_stock(stock: i64) -> Self {
        if stock <= 0 {
            StockStatus::SoldOut
        } else if stock <= Self::LOW_STOCK {
            StockStatus::Low(stock)
        } else {
            StockStatus::InStock
        }
    }

    pub fn label(self) -> String {
        match self {
            StockStatus::InStock => "In stock".into(),
            StockStatus::Low(n) => format!("Only {n} left"),
            StockStatus::SoldOut => "Sold out".into(),
        }
    }

    pub fn class(self) -> &'static str {
        match self {
            StockStatus::InStock => "stock in",
            StockStatus::Low(_) => "stock low",
            StockStatus::SoldOut => "stock out",
        }
    }
}

/// One page of a category or search listing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    pub products: Vec<ProductCard>,
    pub total: u64,
    pub page: u32,
    pub pages: u32,
    pub sort: Sort,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryPage {
    pub category: Category,
    pub listing: Listing,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchPage {
    /// The query as it was matched (normalised).
    pub query: String,
    pub listing: Listing,
}

/// A cart line as shown and as answered by `/api/cart*`. Prices and stock are today's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartLine {
    /// What the line holds; cart changes name it.
    pub variant_id: i64,
    /// Its product (0 when the variant is no longer sold).
    pub product_id: i64,
    pub sku: String,
    pub slug: String,
    pub name: String,
    /// The chosen options, "Size: M / Colour: Navy"; empty for a product without options.
    pub options: String,
    pub image: String,
    pub unit_price_cents: i64,
    pub quantity: u32,
    pub line_total_cents: i64,
    /// Units in stock now.
    pub stock_available: i64,
    /// False when the product is no longer sold; such lines are not charged.
    pub on_sale: bool,
    /// The price when the line was added, when it has changed since.
    pub previous_price_cents: Option<i64>,
    /// What promotions aimed at a category and shipping by weight need.
    #[serde(default)]
    pub category_id: i64,
    #[serde(default)]
    pub weight_grams: i64,
}

impl CartLine {
    /// The name with the options, for messages: "Linen Shirt (Size: M / Colour: Navy)".
    pub fn label(&self) -> String {
        if self.options.is_empty() {
            self.name.clone()
        } else {
            format!("{} ({})", self.name, self.options)
        }
    }
}

/// The whole cart, as every cart endpoint answers it.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CartView {
    pub lines: Vec<CartLine>,
    pub subtotal_cents: i64,
    pub currency: Currency,
    pub item_count: u32,
    /// Increases with every change.
    pub version: u64,
    /// True for a guest cart (mirrored into and restorable from the browser's storage).
    pub guest: bool,
    /// Messages for the shopper about this answer: caps, price changes, dropped lines.
    pub notices: Vec<String>,
    /// Discounts, shipping to the chosen destination, tax and the total, priced on the server.
    #[serde(default)]
    pub pricing: CartPricing,
}

/// The cart's money beyond its lines, as `domain::pricing` computed it for this shopper's
/// code and destination. Every amount is in minor units of `CartView::currency`.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CartPricing {
    /// The discount code applied to this cart, if any.
    pub code: Option<String>,
    /// Each saving, in the order applied (shipping savings included).
    pub discounts: Vec<Adjustment>,
    /// Goods discounts: subtotal minus this is what the lines cost now.
    pub discount_cents: i64,
    /// The destination the shipping and tax are for (ISO country code; empty: none chosen).
    pub country: String,
    /// The chosen shipping method, and every method to that destination with its price now.
    pub method_id: Option<i64>,
    pub methods: Vec<ShippingOption>,
    /// Shipping after its discounts.
    pub shipping_cents: i64,
    pub tax_lines: Vec<Adjustment>,
    pub tax_cents: i64,
    /// True when prices include tax (the tax lines are then "included", not added).
    pub tax_inclusive: bool,
    pub total_cents: i64,
}

/// One discount or tax line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adjustment {
    pub label: String,
    pub amount_cents: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingOption {
    pub id: i64,
    pub name: String,
    /// For this cart, before shipping discounts.
    pub cents: i64,
}

impl CartView {
    pub fn subtotal(&self) -> String {
        format_cents(self.subtotal_cents, self.currency)
    }
}

/// A one-time message shown after a form post without JavaScript.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flash {
    /// `ok`, `info` or `error`.
    pub kind: String,
    pub message: String,
}

/// The signed-in account, as the browser sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub id: i64,
    pub email: String,
    pub is_admin: bool,
}

/// The answer to registering or signing in: the account, its cart after merging the guest cart,
/// and what the shopper should be told about the merge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthAnswer {
    pub user: UserInfo,
    pub cart: CartView,
    pub notices: Vec<String>,
}

/// What `/checkout` shows before the order is placed, recomputed on the server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutSummary {
    pub cart: CartView,
    pub shipping_cents: i64,
    pub total_cents: i64,
    /// Reasons the order cannot be placed as it is (stock, unavailable items, empty cart).
    pub problems: Vec<String>,
    /// The signed-in account's email, to prefill the form.
    pub email: Option<String>,
    /// A fresh idempotency key for this checkout form.
    pub idempotency_key: String,
    /// What placing the order confirms (`Quote::token`): this cart version at these prices. An
    /// order whose cart or prices no longer match is refused with a new summary.
    pub quote: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLineView {
    pub product_id: i64,
    pub variant_id: i64,
    pub sku: String,
    pub name: String,
    /// The options as they were when ordered.
    pub options: String,
    pub unit_price_cents: i64,
    pub quantity: u32,
    pub line_total_cents: i64,
    /// The line's share of the order's discounts, and the tax on what remains.
    #[serde(default)]
    pub discount_cents: i64,
    #[serde(default)]
    pub tax_cents: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderView {
    pub id: String,
    pub reference: String,
    pub status: String,
    pub email: String,
    pub currency: Currency,
    pub subtotal_cents: i64,
    pub shipping_cents: i64,
    pub total_cents: i64,
    /// As charged: goods discounts, the shipping method and its discount, tax (included in the
    /// prices or added), and each discount and tax line.
    #[serde(default)]
    pub discount_cents: i64,
    #[serde(default)]
    pub shipping_method: String,
    #[serde(default)]
    pub shipping_discount_cents: i64,
    #[serde(default)]
    pub tax_cents: i64,
    #[serde(default)]
    pub tax_inclusive: bool,
    #[serde(default)]
    pub promo_code: String,
    #[serde(default)]
    pub discounts: Vec<Adjustment>,
    #[serde(default)]
    pub tax_lines: Vec<Adjustment>,
    pub address: crate::domain::checkout::Address,
    pub lines: Vec<OrderLineView>,
    pub created_at: i64,
}

/// The answer to placing an order (the same answer for a repeated idempotency key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlacedOrder {
    pub order: OrderView,
    /// The confirmation page, with the key a guest needs to see it again.
    pub url: String,
    /// True when this request created the order; false for a replay of the same key.
    pub created: bool,
}

/// An order as administrators see it: with its payment state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminOrder {
    pub id: String,
    pub reference: String,
    pub email: String,
    pub status: String,
    pub currency: Currency,
    pub total_cents: i64,
    pub created_at: i64,
    /// `authorized`, `captured` or `capture_failed`.
    pub payment_state: String,
    /// Why the last capture failed, if it did.
    pub payment_error: String,
    pub payment_attempts: i64,
}

/// One row of an account's order history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderSummary {
    pub id: String,
    pub reference: String,
    pub status: String,
    pub currency: Currency,
    pub total_cents: i64,
    pub items: u32,
    pub created_at: i64,
}

/// One recommended product with a short reason ("Often bought with …").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recommendation {
    pub product_id: i64,
    pub reason: String,
    pub product: ProductCard,
}

/// A promotion as administrators see it, with what it has saved shoppers so far.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminPromotion {
    pub promotion: crate::domain::pricing::Promotion,
    pub saved_cents: i64,
}

/// One order that used a promotion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redemption {
    pub order_id: String,
    pub reference: String,
    /// `u:<account id>` or `e:<email>`.
    pub customer: String,
    pub amount_cents: i64,
    pub created_at: i64,
}

/// A shipping zone with its tax and methods, for administrators.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingZoneView {
    pub id: i64,
    pub name: String,
    pub countries: String,
    pub tax_label: String,
    pub tax_rate_bp: i64,
    pub methods: Vec<crate::domain::pricing::ShippingMethod>,
}
