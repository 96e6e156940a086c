//! The submit handler shared by every cart form: with JavaScript, it turns the form's post into
//! a `CartOp` for the store; without, the form simply posts.

use super::store::CartCtx;
#[cfg(feature = "hydrate")]
use crate::domain::cart::CartOp;

/// The submit handler for every cart form: reads the form's action and fields and dispatches
/// the same operation the form would post. Without JavaScript the form simply posts.
pub fn on_cart_submit(ctx: CartCtx) -> impl Fn(leptos::ev::SubmitEvent) + Clone + 'static {
    move |ev: leptos::ev::SubmitEvent| {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let Some(form) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlFormElement>().ok()) else { return };
            let Ok(data) = web_sys::FormData::new_with_form(&form) else { return };
            let field = |name: &str| data.get(name).as_string().unwrap_or_default();
            let action = form.get_attribute("action").unwrap_or_default();
            let product_id = field("product_id").trim().parse::<i64>().ok();
            let quantity = field("quantity").trim().parse::<u32>().ok();
            let op = match (action.as_str(), product_id, quantity) {
                ("/api/cart/add", Some(product_id), Some(quantity)) if (1..=99).contains(&quantity) => {
                    CartOp::Add { product_id, quantity }
                }
                ("/api/cart/set", Some(product_id), Some(quantity)) if quantity <= 99 => {
                    CartOp::Set { product_id, quantity }
                }
                ("/api/cart/remove", Some(product_id), _) => CartOp::Remove { product_id },
                ("/api/cart/clear", _, _) => CartOp::Clear,
                // Let the server explain what is wrong with the input.
                _ => return,
            };
            ev.prevent_default();
            ctx.dispatch(op);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (ev, ctx);
    }
}
