//! The cart's own views: the badge in the header, the listing's "Add to cart" button and one
//! cart line with its quantity controls (cart page and drawer).

use super::forms::on_cart_submit;
use super::store::CartCtx;
use crate::api::cart::{AddToCart, RemoveFromCart, SetCartQuantity};
use crate::domain::cart::line_cap;
use crate::domain::money::format_cents;
use crate::model::{CartLine, ProductCard};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

/// The cart link with its item count, on every page.
#[component]
pub fn CartBadge() -> impl IntoView {
    let ctx = expect_context::<CartCtx>();
    // In the drawer layout the link opens the drawer; without JavaScript it goes to /cart.
    let open_drawer = move |ev: leptos::ev::MouseEvent| {
        if ctx.is_drawer() {
            ev.prevent_default();
            ctx.drawer_open.set(true);
        }
    };
    view! {
        <a class="cart-link" href="/cart" on:click=open_drawer>
            <svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true">
                <path d="M3 4h2l2.2 10.2a2 2 0 0 0 2 1.6h7.6a2 2 0 0 0 2-1.5L21 8H6" fill="none" stroke="currentColor" stroke-width="2" stroke-linejoin="round" />
                <circle cx="10" cy="20" r="1.5" fill="currentColor" />
                <circle cx="17" cy="20" r="1.5" fill="currentColor" />
            </svg>
            <span>"Cart"</span>
            <Transition fallback=|| view! { <span class="badge" data-testid="cart-count">"0"</span> }>
                {move || {
                    let n = ctx.item_count();
                    view! {
                        <span class="badge" data-testid="cart-count" aria-label=format!("{n} items in cart")>
                            {n}
                        </span>
                    }
                }}
            </Transition>
        </a>
    }
}

/// "Add to cart" for a listing card: one unit of a product's only variant. A product with
/// several variants gets a link to its page, where they are chosen.
#[component]
pub fn AddToCartButton(product: ProductCard) -> impl IntoView {
    let ctx = expect_context::<CartCtx>();
    let name = product.name.clone();
    let sold_out = product.stock <= 0;
    let Some(variant_id) = product.single_variant else {
        return view! {
            <a class="btn btn-secondary btn-small" href=format!("/p/{}", product.slug) aria-label=format!("Choose options: {name}")>
                "Choose options"
            </a>
        }
        .into_any();
    };
    view! {
        <form method="post" action=AddToCart::url() on:submit=on_cart_submit(ctx)>
            <input type="hidden" name="variant_id" value=variant_id />
            <input type="hidden" name="quantity" value="1" />
            <button
                type="submit"
                class="btn btn-primary btn-small"
                disabled=sold_out
                aria-label=if sold_out { format!("Sold out: {name}") } else { format!("Add to cart: {name}") }
            >
                {if sold_out { "Sold out" } else { "Add to cart" }}
            </button>
        </form>
    }
    .into_any()
}

/// Quantity controls, line total and remove button of one line (cart page and drawer).
#[component]
pub fn CartLineView(line: CartLine, #[prop(optional)] in_drawer: bool) -> impl IntoView {
    let ctx = expect_context::<CartCtx>();
    let submit = on_cart_submit(ctx);
    let pid = line.variant_id;
    let q = line.quantity;
    let max = line_cap(line.stock_available);
    let currency = ctx.view().map(|v| v.currency).unwrap_or_default();
    let href = format!("/p/{}", line.slug);
    // Screen readers and buttons name the variant, not only the product.
    let name = if line.options.is_empty() { line.name.clone() } else { format!("{} ({})", line.name, line.options) };
    let qty_id = format!("{}qty-{pid}", if in_drawer { "drawer-" } else { "" });
    let title = line.name.clone();
    let options = line.options.clone();
    view! {
        <li class="cart-line" data-product-id=line.product_id data-variant-id=pid>
            {(!line.image.is_empty()).then(|| view! { <img src=line.image.clone() alt="" width="96" height="96" loading="lazy" /> })}
            <div>
                {if line.on_sale {
                    view! { <h3><a href=href>{title}</a></h3> }.into_any()
                } else {
                    view! { <h3>{title}</h3> }.into_any()
                }}
                {(!options.is_empty()).then(|| view! { <p class="line-options">{options}</p> })}
                <p class="line-meta">
                    {format_cents(line.unit_price_cents, currency)} " each"
                    {line.previous_price_cents.map(|p| view! { <span class="price-changed">" · was " {format_cents(p, currency)}</span> })}
                </p>
                {(line.on_sale && line.stock_available < i64::from(q)).then(|| view! {
                    <p class="price-changed">{format!("Only {} left", line.stock_available)}</p>
                })}
            </div>
            <div class="line-actions">
                {line.on_sale.then(|| {
                    let submit = submit.clone();
                    let submit2 = submit.clone();
                    let submit3 = submit.clone();
                    view! {
                        <div class="qty-form">
                            <form method="post" action=SetCartQuantity::url() on:submit=submit>
                                <input type="hidden" name="variant_id" value=pid />
                                <input type="hidden" name="quantity" value=q.saturating_sub(1) />
                                <button type="submit" class="btn btn-icon" aria-label=format!("One fewer {name}")>"−"</button>
                            </form>
                            <form method="post" action=SetCartQuantity::url() on:submit=submit2 class="qty-set">
                                <input type="hidden" name="variant_id" value=pid />
                                <label for=qty_id.clone() class="visually-hidden">{format!("Quantity of {name}")}</label>
                                <input id=qty_id.clone() type="number" name="quantity" min="0" max=max value=q inputmode="numeric" />
                                <button type="submit" class="btn btn-small">"Update"</button>
                            </form>
                            <form method="post" action=AddToCart::url() on:submit=submit3>
                                <input type="hidden" name="variant_id" value=pid />
                                <input type="hidden" name="quantity" value="1" />
                                <button type="submit" class="btn btn-icon" aria-label=format!("One more {name}") disabled={q >= max}>"+"</button>
                            </form>
                        </div>
                    }
                })}
                <span class="line-total">{format_cents(line.line_total_cents, currency)}</span>
                <form method="post" action=RemoveFromCart::url() on:submit=on_cart_submit(ctx)>
                    <input type="hidden" name="variant_id" value=pid />
                    <button type="submit" class="btn btn-link btn-danger" aria-label=format!("Remove {name} from cart")>"Remove"</button>
                </form>
            </div>
        </li>
    }
}
