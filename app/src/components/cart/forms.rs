//! The submit handler shared by every cart form: with JavaScript, it turns the form's post into
//! a `CartOp` for the store; without, the form simply posts.

use super::store::CartCtx;
#[cfg(feature = "hydrate")]
use crate::api::cart::{AddToCart, ClearCart, RemoveFromCart, SetCartQuantity};
#[cfg(feature = "hydrate")]
use crate::domain::cart::{CartOp, MAX_QUANTITY};
#[cfg(feature = "hydrate")]
use leptos::server_fn::ServerFn;

/// The submit handler for every cart form: reads the form's action (a cart server function's
/// URL) and fields and dispatches the same operation the form would post. Without JavaScript
/// the form simply posts.
pub fn on_cart_submit(ctx: CartCtx) -> impl Fn(leptos::ev::SubmitEvent) + Clone + 'static {
    move |ev: leptos::ev::SubmitEvent| {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let Some(form) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlFormElement>().ok()) else { return };
            let Ok(data) = web_sys::FormData::new_with_form(&form) else { return };
            let field = |name: &str| data.get(name).as_string().unwrap_or_default();
            let action = form.get_attribute("action").unwrap_or_default();
            let variant_id = field("variant_id").trim().parse::<i64>().ok();
            let quantity = field("quantity").trim().parse::<u32>().ok();
            let (add, set) = (AddToCart::url(), SetCartQuantity::url());
            let (remove, clear) = (RemoveFromCart::url(), ClearCart::url());
            let op = match (action.as_str(), variant_id, quantity) {
                (a, Some(variant_id), Some(quantity)) if a == add && (1..=MAX_QUANTITY).contains(&quantity) => {
                    CartOp::Add { variant_id, quantity }
                }
                (a, Some(variant_id), Some(quantity)) if a == set && quantity <= MAX_QUANTITY => {
                    CartOp::Set { variant_id, quantity }
                }
                (a, Some(variant_id), _) if a == remove => CartOp::Remove { variant_id },
                (a, _, _) if a == clear => CartOp::Clear,
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

#[cfg(test)]
mod tests {
    use crate::api::cart::{AddToCart, ClearCart, RemoveFromCart, SetCartQuantity};
    use leptos::server_fn::ServerFn;

    /// The forms post to the server functions' own URLs; these are the paths the no-JavaScript
    /// forms, the server's flash messages and the end-to-end tests know.
    #[test]
    fn cart_forms_post_to_the_cart_endpoints() {
        assert_eq!(AddToCart::url(), "/api/cart/add");
        assert_eq!(SetCartQuantity::url(), "/api/cart/set");
        assert_eq!(RemoveFromCart::url(), "/api/cart/remove");
        assert_eq!(ClearCart::url(), "/api/cart/clear");
    }
}
