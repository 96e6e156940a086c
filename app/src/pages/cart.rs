use crate::api::cart::ClearCart;
use crate::components::cart::{on_cart_submit, CartCtx, CartLineView, CartPricingPanel};
use crate::components::page_title::PageTitle;
use crate::components::recs::RecsRow;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Meta;

#[component]
pub fn CartPage() -> impl IntoView {
    let ctx = expect_context::<CartCtx>();
    view! {
        <PageTitle text="Your cart · Copperleaf" />
        <Meta name="description" content="Review the items in your Copperleaf cart." />
        <Meta name="robots" content="noindex" />
        <h1>"Your cart"</h1>
        <Transition fallback=|| view! { <p class="loading">"Loading your cart…"</p> }>
            {move || {
                let Some(cart) = ctx.view() else {
                    return view! { <p class="notice notice-error">"Your cart could not be loaded. Please reload the page."</p> }.into_any();
                };
                if cart.lines.is_empty() {
                    return view! {
                        <section class="empty-state" aria-labelledby="empty-h">
                            <h2 id="empty-h">"Your cart is empty"</h2>
                            <p>"Find something you like and it will wait for you here."</p>
                            <p><a class="btn btn-primary" href="/">"Start shopping"</a></p>
                        </section>
                    }.into_any();
                }
                let count = cart.item_count;
                let priced = cart.clone();
                let blocked = cart.lines.iter().any(|l| !l.on_sale || l.stock_available < i64::from(l.quantity));
                view! {
                    <div class="cart-layout">
                        <ul class="cart-lines" aria-label="Items in your cart">
                            {cart.lines.into_iter().map(|line| view! { <CartLineView line /> }).collect_view()}
                        </ul>
                        <aside class="summary" aria-labelledby="summary-h">
                            <h2 id="summary-h">"Summary"</h2>
                            <p>"Items: " <span data-testid="cart-items">{count}</span></p>
                            <CartPricingPanel cart=priced />
                            {if blocked {
                                view! { <p class="notice notice-error">"Some items are unavailable in the quantity you chose. Adjust them to check out."</p> }.into_any()
                            } else {
                                view! { <a class="btn btn-primary" href="/checkout">"Check out"</a> }.into_any()
                            }}
                            <form method="post" action=ClearCart::url() on:submit=on_cart_submit(ctx)>
                                <button type="submit" class="btn btn-link">"Empty the cart"</button>
                            </form>
                        </aside>
                    </div>
                }.into_any()
            }}
        </Transition>
        <RecsRow context="cart".to_string() title="You might also like" id="also-like" />
    }
}
