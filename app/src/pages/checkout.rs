//! `/checkout`: contact, shipping address and the order summary, recomputed on the server.

use crate::api::checkout::{get_checkout_summary, PlaceOrder};
use crate::components::cart::{CartCtx, PricingTotals};
use crate::components::page_title::PageTitle;
use crate::domain::checkout::COUNTRIES;
use crate::domain::money::format_cents;
use crate::model::CheckoutSummary;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Meta;

#[component]
pub fn CheckoutPage() -> impl IntoView {
    let summary = Resource::new(|| (), |_| get_checkout_summary());
    // Outlives a refreshed summary: why the shopper is looking at a new total.
    let error = RwSignal::new(None::<String>);
    view! {
        <PageTitle text="Checkout · Copperleaf" />
        <Meta name="robots" content="noindex" />
        <h1>"Checkout"</h1>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match summary.await {
                    Ok(s) => view! { <CheckoutForm summary=s error /> }.into_any(),
                    Err(e) => super::error_view(e),
                }
            })}
        </Transition>
    }
}

/// The form is rendered once; what the server prices (the summary, its quote, the total on the
/// button) follows `current`, so a new delivery choice never wipes what the shopper typed.
#[component]
fn CheckoutForm(summary: CheckoutSummary, error: RwSignal<Option<String>>) -> impl IntoView {
    let cart = expect_context::<CartCtx>();
    let pending = RwSignal::new(false);
    // A delivery change being priced: the order cannot be placed until its quote is here.
    let repricing = RwSignal::new(false);
    let navigate = leptos_router::hooks::use_navigate();
    let currency = summary.cart.currency;
    let initial_country = summary.cart.pricing.country.clone();
    let current = RwSignal::new(summary);
    let reprice = move || {
        repricing.set(true);
        leptos::task::spawn_local(async move {
            if let Ok(s) = get_checkout_summary().await {
                current.set(s);
            }
            repricing.set(false);
        });
    };
    // With JavaScript the delivery (country, method) is priced as soon as it is chosen.
    let delivery_changed = move |country: String, method: Option<String>| {
        repricing.set(true);
        leptos::task::spawn_local(async move {
            match crate::api::cart::set_delivery(country, method).await {
                Ok(view) => cart.accept(view, false),
                Err(e) => error.set(Some(e.message())),
            }
            reprice();
        });
    };
    let on_country = move |ev: leptos::ev::Event| delivery_changed(event_target_value(&ev), None);
    let on_method = move |ev: leptos::ev::Event| {
        let country = current.with_untracked(|s| s.cart.pricing.country.clone());
        delivery_changed(country, Some(event_target_value(&ev)));
    };
    let blocked = move || current.with(|s| !s.problems.is_empty() || s.cart.pricing.method_id.is_none());
    let total = move || current.with(|s| format_cents(s.total_cents, currency));
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            ev.prevent_default();
            if pending.get_untracked() {
                return;
            }
            let Some(form) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlFormElement>().ok()) else { return };
            let Ok(data) = web_sys::FormData::new_with_form(&form) else { return };
            let f = |name: &str| data.get(name).as_string().unwrap_or_default();
            let args = (
                f("idempotency_key"),
                f("quote"),
                f("email"),
                f("name"),
                f("line1"),
                f("line2"),
                f("city"),
                f("postcode"),
                f("country"),
                f("method"),
            );
            pending.set(true);
            error.set(None);
            let navigate = navigate.clone();
            leptos::task::spawn_local(async move {
                let (key, quote, email, name, line1, line2, city, postcode, country, method) = args;
                let result = crate::api::checkout::place_order(
                    key,
                    quote,
                    email,
                    name,
                    line1,
                    Some(line2),
                    city,
                    postcode,
                    country,
                    Some(method),
                )
                .await;
                match result {
                    Ok(placed) => {
                        cart.refresh();
                        navigate(&placed.url, Default::default());
                    }
                    Err(e) => {
                        pending.set(false);
                        let changed = matches!(e, crate::error::AppError::CheckoutChanged { .. });
                        if changed || matches!(e, crate::error::AppError::Conflict(_)) {
                            cart.refresh();
                        }
                        error.set(Some(e.message()));
                        if changed {
                            // Show what the order would be now; the shopper confirms again.
                            reprice();
                        }
                    }
                }
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (ev, &navigate, cart, reprice);
    };
    let field =
        |id: &'static str, label: &'static str, autocomplete: &'static str, required: bool, max: &'static str| {
            view! {
                <div class="field">
                    <label for=id>{label}{(!required).then_some(" (optional)")}</label>
                    <input id=id name=id type="text" autocomplete=autocomplete required=required maxlength=max />
                </div>
            }
        };
    view! {
        <div class="checkout-layout">
            <form method="post" action=PlaceOrder::url() class="form-card form-wide" on:submit=on_submit>
                // Attributes, not properties: a hidden input's value is its attribute, so the
                // server-rendered form carries them without JavaScript, and they follow a new quote.
                <input type="hidden" name="idempotency_key" value=move || current.with(|s| s.idempotency_key.clone()) />
                <input type="hidden" name="quote" value=move || current.with(|s| s.quote.clone()) />
                <h2>"Contact"</h2>
                <div class="field">
                    <label for="email">"Email"</label>
                    <input id="email" name="email" type="email" autocomplete="email" required maxlength="254" value=current.with_untracked(|s| s.email.clone().unwrap_or_default()) />
                    <span class="hint">"We send the receipt here."</span>
                </div>
                <h2>"Shipping address"</h2>
                {field("name", "Full name", "name", true, "100")}
                {field("line1", "Street address", "address-line1", true, "120")}
                {field("line2", "Apartment, suite", "address-line2", false, "120")}
                <div class="field-row">
                    {field("city", "Town or city", "address-level2", true, "80")}
                    {field("postcode", "Postcode", "postal-code", true, "12")}
                </div>
                <div class="field">
                    <label for="country">"Country"</label>
                    <select id="country" name="country" autocomplete="country" required on:change=on_country>
                        {COUNTRIES.iter().map(|(code, name)| view! { <option value=*code selected=*code == initial_country>{*name}</option> }).collect_view()}
                    </select>
                    <span class="hint">"Shipping and tax follow the country."</span>
                </div>
                <fieldset class="methods">
                    <legend>"Shipping method"</legend>
                    {move || current.with(|s| {
                        let chosen = s.cart.pricing.method_id;
                        s.cart.pricing.methods.iter().map(|m| {
                            let id = format!("method-{}", m.id);
                            let price = if m.cents == 0 { "Free".to_string() } else { format_cents(m.cents, currency) };
                            view! {
                                <label for=id.clone() class="check">
                                    <input id=id.clone() type="radio" name="method" value=m.id.to_string() checked=Some(m.id) == chosen on:change=on_method />
                                    {format!(" {} · {price}", m.name)}
                                </label>
                            }
                        }).collect_view()
                    })}
                </fieldset>
                <p class="muted">"Payment is simulated in this demo shop: no card is needed and nothing is charged."</p>
                {move || error.get().map(|e| view! { <p class="notice notice-error" role="alert">{e}</p> })}
                {move || current.with(|s| (!s.problems.is_empty()).then(|| view! {
                    <div class="notice notice-error" role="alert">
                        <ul>{s.problems.iter().map(|p| view! { <li>{p.clone()}</li> }).collect_view()}</ul>
                        <p><a href="/cart">"Review your cart"</a></p>
                    </div>
                }))}
                {move || current.with(|s| s.cart.pricing.method_id.is_none()).then(|| view! {
                    <p class="notice notice-error" role="alert">"We do not ship to this country yet."</p>
                })}
                <button type="submit" class="btn btn-primary" disabled=move || blocked() || pending.get() || repricing.get()>
                    {move || format!("Place order · {}", total())}
                </button>
            </form>
            <aside class="summary" aria-labelledby="order-summary-h">
                <h2 id="order-summary-h">"Your order"</h2>
                {move || current.with(|summary| view! {
                    <ul class="order-lines">
                        {summary.cart.lines.iter().filter(|l| l.on_sale).map(|l| view! {
                            // What was bought on the left (with the variant's options under the
                            // name), its price on the right. Spaces between the parts are text, not
                            // only layout, so a copy or a screen reader gets
                            // "Nordic Dutch Oven × 1 $168.99" rather than "Nordic Dutch Oven × 1$168.99".
                            <li class="order-line">
                                <div class="order-line-item">
                                    <span class="order-line-name">{format!("{} × {}", l.name, l.quantity)}</span>
                                    {(!l.options.is_empty()).then(|| view! { " " <span class="line-options">{l.options.clone()}</span> })}
                                </div>
                                " "
                                <span class="order-line-price">{format_cents(l.line_total_cents, currency)}</span>
                            </li>
                        }).collect_view()}
                    </ul>
                    <PricingTotals subtotal_cents=summary.cart.subtotal_cents pricing=summary.cart.pricing.clone() currency shipping_label="Shipping" total_testid="checkout-total" />
                })}
                <p class="muted">"Discount codes are applied in " <a href="/cart">"your cart"</a> "."</p>
            </aside>
        </div>
    }
}
