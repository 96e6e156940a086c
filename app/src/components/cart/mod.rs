//! The shopper's cart in the browser: one `CartCtx` shared by the badge, the cart page and the
//! forms. Changes show at once (optimistic) and are confirmed or rolled back by the server's
//! answer; every confirmed cart is mirrored into localStorage for guests' safety.
//!
//! Every cart control is a real `<form>` posting to a cart endpoint, so it works without
//! JavaScript; with it, `on_cart_submit` takes over the same forms.
//!
//! - `store`: `CartCtx`, the client store, and its messages;
//! - `live_sync`: the page's subscription to changes made elsewhere (browser only);
//! - `forms`: the submit handler of every cart form;
//! - `views`: the badge, the "Add to cart" button and a cart line;
//! - `notices`: the messages shown to the shopper;
//! - `pricing`: totals with discounts, shipping and tax, and the code and delivery forms.
//!
//! Dependencies go one way: `views` → `forms` → `store` → `live_sync`, and `notices` → `store`.

mod forms;
#[cfg(feature = "hydrate")]
mod live_sync;
mod notices;
mod pricing;
mod store;
mod views;

pub use crate::domain::cart::CartOp;
pub use forms::on_cart_submit;
pub use notices::Notices;
pub use pricing::{CartPricingPanel, CodeForm, DeliveryForm, PricingTotals};
pub use store::{CartCtx, Message, MessageKind};
pub use views::{AddToCartButton, CartBadge, CartLineView};
