//! The `drawer` cart layout: a slide-over cart that opens after add-to-cart and from the cart
//! link. A modal dialog: focus moves into it, Tab stays inside, Escape closes it and focus goes
//! back where it was. Rendered only for visitors assigned the drawer, so the server sends the
//! layout the visitor gets and nothing switches after hydration.

use super::cart::{CartCtx, CartLineView};
use crate::domain::money::format_cents;
use leptos::html;
use leptos::prelude::*;

/// Marks the page with the visitor's cart layout and, for `drawer`, renders the drawer.
#[component]
pub fn CartLayout() -> impl IntoView {
    let ctx = expect_context::<CartCtx>();
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let layout = ctx.layout.await.unwrap_or_else(|_| "page".into());
                let drawer = layout == "drawer";
                view! {
                    <div id="cart-layout" data-cart-layout=layout>
                        {drawer.then(|| view! { <CartDrawer /> })}
                    </div>
                }
            })}
        </Suspense>
    }
}

#[component]
fn CartDrawer() -> impl IntoView {
    let ctx = expect_context::<CartCtx>();
    let panel = NodeRef::<html::Div>::new();
    let close_button = NodeRef::<html::Button>::new();
    let open = ctx.drawer_open;
    let close = move || open.set(false);
    // Following a link from the drawer (checkout, a product) leaves it closed on the next page.
    let on_click = move |ev: leptos::ev::MouseEvent| {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let link = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .and_then(|e| e.closest("a[href]").ok().flatten());
            if link.is_some() {
                open.set(false);
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    };

    #[cfg(feature = "hydrate")]
    {
        // Remember what had focus, move focus in on open, give it back on close.
        let previous: StoredValue<Option<web_sys::HtmlElement>, LocalStorage> = StoredValue::new_local(None);
        Effect::new(move |was_open: Option<bool>| {
            use wasm_bindgen::JsCast;
            let is_open = open.get();
            if is_open && was_open != Some(true) {
                let active = document().active_element().and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
                previous.set_value(active);
                // After the frame: the dialog must have lost `hidden` before it can take focus.
                request_animation_frame(move || {
                    if let Some(b) = close_button.get_untracked() {
                        let _ = b.focus();
                    }
                });
            } else if !is_open && was_open == Some(true) {
                if let Some(el) = previous.get_value() {
                    request_animation_frame(move || {
                        let _ = el.focus();
                    });
                }
            }
            is_open
        });
    }

    let on_keydown = move |ev: leptos::ev::KeyboardEvent| match ev.key().as_str() {
        "Escape" => {
            ev.prevent_default();
            close();
        }
        #[cfg(feature = "hydrate")]
        "Tab" => trap_tab(&ev, panel),
        _ => {}
    };

    view! {
        <div class="drawer-backdrop" hidden=move || !open.get() on:click=move |_| close()></div>
        <div
            id="cart-drawer"
            class="cart-drawer"
            role="dialog"
            aria-modal="true"
            aria-labelledby="cart-drawer-title"
            hidden=move || !open.get()
            node_ref=panel
            on:keydown=on_keydown
            on:click=on_click
        >
            <div class="drawer-head">
                <h2 id="cart-drawer-title">"Your cart"</h2>
                <button type="button" class="btn btn-icon" aria-label="Close cart" node_ref=close_button on:click=move |_| close()>
                    "×"
                </button>
            </div>
            {move || {
                let view = ctx.view();
                let lines = view.as_ref().map(|v| v.lines.clone()).unwrap_or_default();
                if lines.is_empty() {
                    return view! { <p class="drawer-empty">"Your cart is empty."</p> }.into_any();
                }
                let (subtotal, currency, count) =
                    view.map(|v| (v.subtotal_cents, v.currency, v.item_count)).unwrap_or_default();
                view! {
                    <ul class="cart-lines drawer-lines">
                        {lines.into_iter().map(|line| view! { <CartLineView line in_drawer=true /> }).collect_view()}
                    </ul>
                    <div class="drawer-foot">
                        <p class="drawer-subtotal">
                            <span>{format!("Subtotal ({count} {})", if count == 1 { "item" } else { "items" })}</span>
                            // Text between label and amount: the flex layout alone leaves
                            // "Subtotal (1 item)$168.99" to copies and screen readers.
                            " "
                            <strong data-testid="drawer-subtotal">{format_cents(subtotal, currency)}</strong>
                        </p>
                        <a class="btn btn-primary btn-block" href="/checkout">"Check out"</a>
                        <a class="btn btn-block" href="/cart">"View cart"</a>
                    </div>
                }
                .into_any()
            }}
        </div>
    }
}

/// Keeps Tab and Shift+Tab cycling inside the drawer.
#[cfg(feature = "hydrate")]
fn trap_tab(ev: &leptos::ev::KeyboardEvent, panel: NodeRef<html::Div>) {
    use wasm_bindgen::JsCast;
    let Some(panel) = panel.get() else { return };
    let Ok(nodes) = panel.query_selector_all(
        "a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex='-1'])",
    ) else {
        return;
    };
    let focusable: Vec<web_sys::HtmlElement> = (0..nodes.length())
        .filter_map(|i| nodes.item(i))
        .filter_map(|n| n.dyn_into::<web_sys::HtmlElement>().ok())
        .collect();
    let (Some(first), Some(last)) = (focusable.first(), focusable.last()) else { return };
    let active = document().active_element();
    let at = |el: &web_sys::HtmlElement| active.as_ref().is_some_and(|a| a == el.unchecked_ref::<web_sys::Element>());
    let inside = active.as_ref().is_some_and(|a| panel.contains(Some(a)));
    if ev.shift_key() && (at(first) || !inside) {
        ev.prevent_default();
        let _ = last.focus();
    } else if !ev.shift_key() && (at(last) || !inside) {
        ev.prevent_default();
        let _ = first.focus();
    }
}
