//! The cart's money beyond its lines, as the server priced it: the totals list (discounts,
//! shipping, tax, total), the discount code form and the delivery estimate form. Both forms post
//! to their endpoints without JavaScript; with it, the answer replaces the cart in place.

use super::store::CartCtx;
#[cfg(feature = "hydrate")]
use super::store::MessageKind;
use crate::api::cart::{ApplyDiscountCode, RemoveDiscountCode, SetDelivery};
use crate::domain::checkout::COUNTRIES;
use crate::domain::money::{format_cents, Currency};
use crate::model::{CartPricing, CartView};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

/// Subtotal, each discount, shipping, tax and the total, for a priced cart.
#[component]
pub fn PricingTotals(
    subtotal_cents: i64,
    pricing: CartPricing,
    currency: Currency,
    /// "Shipping" or "Estimated shipping".
    shipping_label: &'static str,
    /// The total's test id ("cart-total", "checkout-total").
    total_testid: &'static str,
) -> impl IntoView {
    let money = move |c: i64| format_cents(c, currency);
    let method = pricing.methods.iter().find(|m| Some(m.id) == pricing.method_id).map(|m| m.name.clone());
    let inclusive = pricing.tax_inclusive;
    view! {
        <dl class="totals">
            <dt>"Subtotal"</dt>
            <dd data-testid="cart-subtotal">{money(subtotal_cents)}</dd>
            {pricing.discounts.iter().map(|d| view! {
                <dt class="discount">{d.label.clone()}</dt>
                <dd class="discount" data-testid="discount">{format!("−{}", money(d.amount_cents))}</dd>
            }).collect_view()}
            <dt>{shipping_label}{method.map(|m| view! { <br /><span class="method-name">{m}</span> })}</dt>
            <dd data-testid="pricing-shipping">
                {if pricing.method_id.is_none() {
                    "Not available".to_string()
                } else if pricing.shipping_cents == 0 {
                    "Free".to_string()
                } else {
                    money(pricing.shipping_cents)
                }}
            </dd>
            {pricing.tax_lines.iter().map(|t| view! {
                <dt class="tax">{if inclusive { format!("Includes {}", t.label) } else { t.label.clone() }}</dt>
                <dd class="tax" data-testid="tax-line">{money(t.amount_cents)}</dd>
            }).collect_view()}
            <dt class="total">"Total"</dt>
            <dd class="total" data-testid=total_testid>{money(pricing.total_cents)}</dd>
        </dl>
    }
}

/// The submit handler of the code and delivery forms: with JavaScript, posts the same fields to
/// the form's endpoint and takes the cart it answers (or says why not).
fn on_pricing_submit(ctx: CartCtx) -> impl Fn(leptos::ev::SubmitEvent) + Clone + 'static {
    move |ev: leptos::ev::SubmitEvent| {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let Some(form) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlFormElement>().ok()) else { return };
            let Ok(data) = web_sys::FormData::new_with_form(&form) else { return };
            let field = |name: &str| data.get(name).as_string();
            let (code, country, method) = (field("code").unwrap_or_default(), field("country"), field("method"));
            let action = form.get_attribute("action").unwrap_or_default();
            ev.prevent_default();
            leptos::task::spawn_local(async move {
                let result = if action == ApplyDiscountCode::url() {
                    crate::api::cart::apply_discount_code(code).await
                } else if action == RemoveDiscountCode::url() {
                    crate::api::cart::remove_discount_code().await
                } else {
                    crate::api::cart::set_delivery(country.unwrap_or_default(), method).await
                };
                match result {
                    Ok(view) => ctx.accept(view, true),
                    Err(e) => ctx.say(MessageKind::Error, e.message()),
                }
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (ev, ctx);
    }
}

/// Apply a discount code, or show the applied one with a way to remove it.
#[component]
pub fn CodeForm(pricing: CartPricing) -> impl IntoView {
    let ctx = expect_context::<CartCtx>();
    match pricing.code {
        Some(code) => view! {
            <form method="post" action=RemoveDiscountCode::url() class="code-form" on:submit=on_pricing_submit(ctx)>
                <p>"Code " <strong data-testid="applied-code">{code}</strong> " applied. "
                    <button type="submit" class="btn btn-link">"Remove"</button>
                </p>
            </form>
        }
        .into_any(),
        None => view! {
            <form method="post" action=ApplyDiscountCode::url() class="code-form" on:submit=on_pricing_submit(ctx)>
                <label for="discount-code">"Discount code"</label>
                <div class="inline-field">
                    <input id="discount-code" name="code" type="text" autocomplete="off" required maxlength="32" />
                    <button type="submit" class="btn">"Apply"</button>
                </div>
            </form>
        }
        .into_any(),
    }
}

/// Where to ship and how: the shipping estimate and tax follow the choice.
#[component]
pub fn DeliveryForm(pricing: CartPricing, currency: Currency, #[prop(optional)] methods: bool) -> impl IntoView {
    let ctx = expect_context::<CartCtx>();
    let country = pricing.country.clone();
    view! {
        <form method="post" action=SetDelivery::url() class="delivery-form" on:submit=on_pricing_submit(ctx)>
            <label for="ship-country">"Ship to"</label>
            <select id="ship-country" name="country" autocomplete="country">
                {COUNTRIES.iter().map(|(code, name)| view! { <option value=*code selected=*code == country>{*name}</option> }).collect_view()}
            </select>
            {methods.then(|| view! {
                <fieldset class="methods">
                    <legend>"Shipping method"</legend>
                    {pricing.methods.iter().map(|m| {
                        let id = format!("method-{}", m.id);
                        let price = if m.cents == 0 { "Free".to_string() } else { format_cents(m.cents, currency) };
                        view! {
                            <label for=id.clone() class="check">
                                <input id=id.clone() type="radio" name="method" value=m.id.to_string() checked=Some(m.id) == pricing.method_id />
                                {format!(" {} · {price}", m.name)}
                            </label>
                        }
                    }).collect_view()}
                </fieldset>
            })}
            <button type="submit" class="btn">"Update"</button>
        </form>
    }
}

/// The cart page's summary: totals, code, delivery estimate.
#[component]
pub fn CartPricingPanel(cart: CartView) -> impl IntoView {
    view! {
        <PricingTotals subtotal_cents=cart.subtotal_cents pricing=cart.pricing.clone() currency=cart.currency shipping_label="Estimated shipping" total_testid="cart-total" />
        <CodeForm pricing=cart.pricing.clone() />
        <DeliveryForm pricing=cart.pricing currency=cart.currency />
    }
}
