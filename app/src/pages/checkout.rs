//! `/checkout`: contact, shipping address and the order summary, recomputed on the server.

use crate::api::checkout::{get_checkout_summary, PlaceOrder};
use crate::components::cart::CartCtx;
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
                    Ok(s) => view! { <CheckoutForm summary=s error refetch=move || summary.refetch() /> }.into_any(),
                    Err(e) => super::error_view(e),
                }
            })}
        </Transition>
    }
}

#[component]
fn CheckoutForm(
    summary: CheckoutSummary,
    error: RwSignal<Option<String>>,
    refetch: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let cart = expect_context::<CartCtx>();
    let pending = RwSignal::new(false);
    let navigate = leptos_router::hooks::use_navigate();
    let currency = summary.cart.currency;
    let blocked = !summary.problems.is_empty();
    let total = format_cents(summary.total_cents, currency);
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
            );
            pending.set(true);
            error.set(None);
            let navigate = navigate.clone();
            leptos::task::spawn_local(async move {
                let (key, quote, email, name, line1, line2, city, postcode, country) = args;
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
                            refetch();
                        }
                    }
                }
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (ev, &navigate, cart, refetch);
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
                <input type="hidden" name="idempotency_key" value=summary.idempotency_key.clone() />
                <input type="hidden" name="quote" value=summary.quote.clone() />
                <h2>"Contact"</h2>
                <div class="field">
                    <label for="email">"Email"</label>
                    <input id="email" name="email" type="email" autocomplete="email" required maxlength="254" value=summary.email.clone().unwrap_or_default() />
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
                    <select id="country" name="country" autocomplete="country" required>
                        {COUNTRIES.iter().map(|(code, name)| view! { <option value=*code selected=*code == "US">{*name}</option> }).collect_view()}
                    </select>
                </div>
                <p class="muted">"Payment is simulated in this demo shop: no card is needed and nothing is charged."</p>
                {move || error.get().map(|e| view! { <p class="notice notice-error" role="alert">{e}</p> })}
                {blocked.then(|| view! {
                    <div class="notice notice-error" role="alert">
                        <ul>{summary.problems.iter().map(|p| view! { <li>{p.clone()}</li> }).collect_view()}</ul>
                        <p><a href="/cart">"Review your cart"</a></p>
                    </div>
                })}
                <button type="submit" class="btn btn-primary" disabled=move || blocked || pending.get()>
                    {format!("Place order · {total}")}
                </button>
            </form>
            <aside class="summary" aria-labelledby="order-summary-h">
                <h2 id="order-summary-h">"Your order"</h2>
                <ul class="order-lines">
                    {summary.cart.lines.iter().filter(|l| l.on_sale).map(|l| view! {
                        // What was bought on the left (with the variant's options under the name),
                        // its price on the right. Spaces between
                        // the parts are text, not only layout, so a copy or a screen reader gets
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
                <dl>
                    <dt>"Subtotal"</dt>
                    <dd>{format_cents(summary.cart.subtotal_cents, currency)}</dd>
                    <dt>"Shipping"</dt>
                    <dd>{if summary.shipping_cents == 0 { "Free".to_string() } else { format_cents(summary.shipping_cents, currency) }}</dd>
                    <dt class="total">"Total"</dt>
                    <dd class="total" data-testid="checkout-total">{format_cents(summary.total_cents, currency)}</dd>
                </dl>
            </aside>
        </div>
    }
}
