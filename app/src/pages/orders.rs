//! An order's page (the confirmation after checkout) and the account's order history.

use crate::api::checkout::{get_order, list_orders};
use crate::components::page_title::PageTitle;
use crate::domain::checkout::COUNTRIES;
use crate::domain::money::format_cents;
use crate::error::AppError;
use crate::model::OrderView;
use leptos::prelude::*;
use leptos_meta::Meta;
use leptos_router::components::Redirect;
use leptos_router::hooks::{use_params_map, use_query_map};

#[component]
pub fn OrderPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let order = Resource::new(
        move || (params.read().get("id").unwrap_or_default(), query.read().get("key")),
        |(id, key)| get_order(id, key),
    );
    view! {
        <Meta name="robots" content="noindex" />
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match order.await {
                    Ok(o) => view! { <OrderDetail order=o /> }.into_any(),
                    Err(e) => super::error_view(e),
                }
            })}
        </Suspense>
    }
}

/// An order's status as the shopper reads it.
pub fn status_label(status: &str) -> String {
    match status {
        // Placed and authorised; the capture is being retried.
        "pending_payment" => "confirmed (payment processing)".into(),
        other => other.to_string(),
    }
}

#[component]
fn OrderDetail(order: OrderView) -> impl IntoView {
    let c = order.currency;
    let country = COUNTRIES.iter().find(|(code, _)| *code == order.address.country).map(|(_, n)| *n).unwrap_or("");
    let a = order.address.clone();
    view! {
        <PageTitle text=format!("Order {} · Copperleaf", order.reference) />
        <h1>"Thank you for your order"</h1>
        <p class="lede">
            "Order " <strong data-testid="order-reference">{order.reference.clone()}</strong> " is "
            <strong data-testid="order-status">{status_label(&order.status)}</strong>
            ". A receipt goes to " {order.email.clone()} ". Keep this page's address to see the order again."
        </p>
        <div class="cart-layout">
            <div class="table-wrap">
                <table>
                    <caption class="visually-hidden">"Items in this order"</caption>
                    <thead>
                        <tr><th scope="col">"Item"</th><th scope="col" class="num">"Price"</th><th scope="col" class="num">"Qty"</th><th scope="col" class="num">"Total"</th></tr>
                    </thead>
                    <tbody>
                        {order.lines.iter().map(|l| view! {
                            <tr>
                                <td>
                                    {l.name.clone()}
                                    {(!l.options.is_empty()).then(|| view! { " " <span class="line-options">{l.options.clone()}</span> })}
                                </td>
                                <td class="num">{format_cents(l.unit_price_cents, c)}</td>
                                <td class="num">{l.quantity}</td>
                                <td class="num">{format_cents(l.line_total_cents, c)}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
            <aside class="summary" aria-labelledby="totals-h">
                <h2 id="totals-h">"Totals"</h2>
                <dl>
                    <dt>"Subtotal"</dt><dd>{format_cents(order.subtotal_cents, c)}</dd>
                    {order.discounts.iter().map(|d| view! {
                        <dt class="discount">{d.label.clone()}</dt>
                        <dd class="discount" data-testid="order-discount">{format!("−{}", format_cents(d.amount_cents, c))}</dd>
                    }).collect_view()}
                    <dt>"Shipping"{(!order.shipping_method.is_empty()).then(|| format!(" ({})", order.shipping_method))}</dt>
                    <dd>{if order.shipping_cents == 0 { "Free".into() } else { format_cents(order.shipping_cents, c) }}</dd>
                    {order.tax_lines.iter().map(|t| view! {
                        <dt class="tax">{if order.tax_inclusive { format!("Includes {}", t.label) } else { t.label.clone() }}</dt>
                        <dd class="tax" data-testid="order-tax">{format_cents(t.amount_cents, c)}</dd>
                    }).collect_view()}
                    <dt class="total">"Total"</dt><dd class="total" data-testid="order-total">{format_cents(order.total_cents, c)}</dd>
                </dl>
                <h2>"Shipping to"</h2>
                <address>
                    {a.name}<br />{a.line1}<br />
                    {(!a.line2.is_empty()).then(|| view! { {a.line2.clone()}<br /> })}
                    {a.postcode} " " {a.city}<br />{country}
                </address>
            </aside>
        </div>
        <p><a class="btn" href="/">"Continue shopping"</a></p>
    }
}

#[component]
pub fn AccountOrdersPage() -> impl IntoView {
    let orders = Resource::new(|| (), |_| list_orders());
    view! {
        <PageTitle text="Your orders · Copperleaf" />
        <Meta name="robots" content="noindex" />
        <h1>"Your orders"</h1>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match orders.await {
                    Err(AppError::Unauthorized(_)) => {
                        view! { <Redirect path="/login?next=/account/orders" /> }.into_any()
                    }
                    Ok(list) if list.is_empty() => view! {
                        <section class="empty-state"><p>"No orders yet."</p><p><a class="btn btn-primary" href="/">"Start shopping"</a></p></section>
                    }.into_any(),
                    Ok(list) => view! {
                        <div class="table-wrap">
                            <table>
                                <caption class="visually-hidden">"Your orders, newest first"</caption>
                                <thead><tr><th scope="col">"Order"</th><th scope="col">"Status"</th><th scope="col" class="num">"Items"</th><th scope="col" class="num">"Total"</th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|o| view! {
                                        <tr>
                                            <td><a href=format!("/orders/{}", o.id)>{o.reference}</a></td>
                                            <td>{status_label(&o.status)}</td>
                                            <td class="num">{o.items}</td>
                                            <td class="num">{format_cents(o.total_cents, o.currency)}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }.into_any(),
                    Err(e) => super::error_view(e),
                }
            })}
        </Suspense>
    }
}
