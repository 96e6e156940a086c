//! Admin pages for pricing: promotions (`/admin/promotions`, one promotion and its redemptions
//! at `/admin/promotions/:id`) and shipping and tax (`/admin/shipping`). Every form posts to its
//! endpoint and works without JavaScript.

use super::admin::{denied, AdminNav};
use crate::api::promotions::{
    admin_promotions, admin_shipping, promotion_redemptions, SavePromotion, SetMethodPrice, SetPromotionActive,
    SetTaxSettings, SetZoneTax,
};
use crate::components::page_title::PageTitle;
use crate::domain::money::{format_cents, Currency};
use crate::domain::pricing::{PromoKind, Promotion, Rate, Rounding, Target};
use crate::domain::promotion_form::format_datetime;
use leptos::prelude::*;
use leptos_meta::Meta;
use leptos_router::hooks::use_params_map;

/// "10% off", "$5.00 off", "Free shipping", "Buy 2, get 1 free" (prices in the store's currency).
fn describe(p: &Promotion, currency: Currency) -> String {
    let what = match &p.kind {
        PromoKind::Percent { percent } => format!("{percent}% off"),
        PromoKind::Fixed { cents } => format!("{} off", format_cents(*cents, currency)),
        PromoKind::FreeShipping => "Free shipping".into(),
        PromoKind::BuyGet { buy, percent: 100 } => format!("Buy {buy}, get 1 free"),
        PromoKind::BuyGet { buy, percent } => format!("Buy {buy}, get 1 at {percent}% off"),
    };
    let on = match p.target {
        Target::Order => String::new(),
        Target::Category(id) => format!(" · category {id}"),
        Target::Product(id) => format!(" · product {id}"),
        Target::Variant(id) => format!(" · variant {id}"),
    };
    let min = if p.min_subtotal_cents > 0 {
        format!(" · from {}", format_cents(p.min_subtotal_cents, currency))
    } else {
        String::new()
    };
    format!("{what}{on}{min}")
}

/// The promotion form, empty or filled with `p` (then it replaces `p`).
#[component]
fn PromotionForm(action: ServerAction<SavePromotion>, p: Option<Promotion>) -> impl IntoView {
    let id = p.as_ref().map(|p| p.id.to_string()).unwrap_or_default();
    let (kind, value, buy) = match p.as_ref().map(|p| &p.kind) {
        Some(PromoKind::Percent { percent }) => ("percent", percent.to_string(), String::new()),
        Some(PromoKind::Fixed { cents }) => ("fixed", format!("{}.{:02}", cents / 100, cents % 100), String::new()),
        Some(PromoKind::FreeShipping) => ("free_shipping", String::new(), String::new()),
        Some(PromoKind::BuyGet { buy, percent }) => ("buy_get", percent.to_string(), buy.to_string()),
        None => ("percent", String::new(), String::new()),
    };
    let (target, target_id) = match p.as_ref().map(|p| p.target) {
        Some(Target::Category(id)) => ("category", id.to_string()),
        Some(Target::Product(id)) => ("product", id.to_string()),
        Some(Target::Variant(id)) => ("variant", id.to_string()),
        _ => ("order", String::new()),
    };
    let text = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
    let min = p
        .as_ref()
        .filter(|p| p.min_subtotal_cents > 0)
        .map(|p| format!("{}.{:02}", p.min_subtotal_cents / 100, p.min_subtotal_cents % 100))
        .unwrap_or_default();
    let opt = |value: &'static str, label: &'static str, chosen: &str| {
        view! { <option value=value selected=value == chosen>{label}</option> }
    };
    view! {
        <ActionForm action attr:class="form-card form-wide promotion-form">
            <input type="hidden" name="id" value=id />
            <div class="field-row">
                <div class="field">
                    <label for="promo-name">"Name shown to shoppers"</label>
                    <input id="promo-name" name="name" required maxlength="80" value=p.as_ref().map(|p| p.name.clone()) />
                </div>
                <div class="field">
                    <label for="promo-code">"Code (empty: automatic)"</label>
                    <input id="promo-code" name="code" maxlength="32" value=p.as_ref().and_then(|p| p.code.clone()) />
                </div>
            </div>
            <div class="field-row">
                <div class="field">
                    <label for="promo-kind">"Gives"</label>
                    <select id="promo-kind" name="kind">
                        {opt("percent", "Percent off", kind)}
                        {opt("fixed", "Amount off", kind)}
                        {opt("free_shipping", "Free shipping", kind)}
                        {opt("buy_get", "Buy N, get one at % off", kind)}
                    </select>
                </div>
                <div class="field">
                    <label for="promo-value">"Percent or amount"</label>
                    <input id="promo-value" name="value" maxlength="20" value=value />
                </div>
                <div class="field">
                    <label for="promo-buy">"Buy N (buy N, get one)"</label>
                    <input id="promo-buy" name="buy_quantity" inputmode="numeric" maxlength="4" value=buy />
                </div>
            </div>
            <div class="field-row">
                <div class="field">
                    <label for="promo-target">"Applies to"</label>
                    <select id="promo-target" name="target">
                        {opt("order", "The whole order", target)}
                        {opt("category", "A category", target)}
                        {opt("product", "A product", target)}
                        {opt("variant", "A variant", target)}
                    </select>
                </div>
                <div class="field">
                    <label for="promo-target-id">"Its id"</label>
                    <input id="promo-target-id" name="target_id" inputmode="numeric" maxlength="20" value=target_id />
                </div>
                <div class="field">
                    <label for="promo-min">"Minimum subtotal"</label>
                    <input id="promo-min" name="min_subtotal" maxlength="20" value=min />
                </div>
            </div>
            <div class="field-row">
                <div class="field">
                    <label for="promo-starts">"Starts (UTC)"</label>
                    <input id="promo-starts" name="starts_at" type="datetime-local" value=format_datetime(p.as_ref().and_then(|p| p.starts_at)) />
                </div>
                <div class="field">
                    <label for="promo-ends">"Ends (UTC)"</label>
                    <input id="promo-ends" name="ends_at" type="datetime-local" value=format_datetime(p.as_ref().and_then(|p| p.ends_at)) />
                </div>
            </div>
            <div class="field-row">
                <div class="field">
                    <label for="promo-limit">"Uses in all"</label>
                    <input id="promo-limit" name="usage_limit" inputmode="numeric" maxlength="8" value=text(p.as_ref().and_then(|p| p.usage_limit)) />
                </div>
                <div class="field">
                    <label for="promo-per-customer">"Uses per customer"</label>
                    <input id="promo-per-customer" name="per_customer_limit" inputmode="numeric" maxlength="8" value=text(p.as_ref().and_then(|p| p.per_customer_limit)) />
                </div>
            </div>
            <label class="check" for="promo-combinable">
                <input id="promo-combinable" type="checkbox" name="combinable" value="on" checked=p.as_ref().is_none_or(|p| p.combinable) />
                " Combines with other promotions"
            </label>
            <label class="check" for="promo-active">
                <input id="promo-active" type="checkbox" name="active" value="on" checked=p.as_ref().is_none_or(|p| p.active) />
                " Active"
            </label>
            <button type="submit" class="btn btn-primary">"Save promotion"</button>
        </ActionForm>
    }
}

#[component]
pub fn PromotionsAdminPage() -> impl IntoView {
    let save = ServerAction::<SavePromotion>::new();
    let toggle = ServerAction::<SetPromotionActive>::new();
    let list = Resource::new(move || (save.version().get(), toggle.version().get()), |_| admin_promotions());
    let currency = Currency::default();
    view! {
        <PageTitle text="Promotions · Admin" />
        <Meta name="robots" content="noindex" />
        <h1>"Promotions"</h1>
        <AdminNav />
        <p class="lede">
            "A promotion with a code applies when a shopper enters it in the cart; one without applies by itself. "
            "Limits are checked when the order is placed, so a code is never used more often than allowed."
        </p>
        {move || save.value().get().map(|r| match r {
            Ok(_) => view! { <p class="notice notice-ok" role="status" data-testid="promotion-saved">"Saved."</p> }.into_any(),
            Err(e) => view! { <p class="notice notice-error" role="alert">{e.message()}</p> }.into_any(),
        })}
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match list.await {
                    Ok(list) => view! {
                        <div class="table-wrap">
                            <table class="report" data-testid="promotions">
                                <caption class="visually-hidden">"Promotions"</caption>
                                <thead>
                                    <tr>
                                        <th scope="col">"Promotion"</th><th scope="col">"Code"</th><th scope="col">"Gives"</th>
                                        <th scope="col" class="num">"Used"</th><th scope="col" class="num">"Saved"</th><th scope="col">"State"</th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {list.into_iter().map(|a| {
                                        let p = a.promotion;
                                        let href = format!("/admin/promotions/{}", p.id);
                                        let limit = p.usage_limit.map(|l| format!(" of {l}")).unwrap_or_default();
                                        view! {
                                            <tr data-code=p.code.clone().unwrap_or_default()>
                                                <th scope="row"><a href=href>{p.name.clone()}</a></th>
                                                <td>{p.code.clone().unwrap_or_else(|| "automatic".into())}</td>
                                                <td>{describe(&p, currency)}</td>
                                                <td class="num" data-testid="times-used">{format!("{}{limit}", p.times_used)}</td>
                                                <td class="num">{format_cents(a.saved_cents, currency)}</td>
                                                <td>
                                                    <ActionForm action=toggle>
                                                        <input type="hidden" name="id" value=p.id.to_string() />
                                                        <input type="hidden" name="active" value=if p.active { "0" } else { "1" } />
                                                        {if p.active { "Active " } else { "Off " }}
                                                        <button type="submit" class="btn btn-link">{if p.active { "Disable" } else { "Enable" }}</button>
                                                    </ActionForm>
                                                </td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }.into_any(),
                    Err(e) => denied(e, "/admin/promotions"),
                }
            })}
        </Transition>
        <h2>"New promotion"</h2>
        <PromotionForm action=save p=None />
    }
}

/// One promotion: its form, to edit it, and the orders that used it.
#[component]
pub fn PromotionAdminPage() -> impl IntoView {
    let params = use_params_map();
    let save = ServerAction::<SavePromotion>::new();
    let id = move || params.read().get("id").unwrap_or_default();
    let data = Resource::new(
        move || (id(), save.version().get()),
        |(id, _)| async move {
            let list = admin_promotions().await?;
            let redemptions = promotion_redemptions(id.clone()).await?;
            Ok::<_, crate::error::AppError>((list.into_iter().find(|a| a.promotion.id.to_string() == id), redemptions))
        },
    );
    let currency = Currency::default();
    view! {
        <PageTitle text="Promotion · Admin" />
        <Meta name="robots" content="noindex" />
        <h1>"Promotion"</h1>
        <AdminNav />
        {move || save.value().get().map(|r| match r {
            Ok(_) => view! { <p class="notice notice-ok" role="status">"Saved."</p> }.into_any(),
            Err(e) => view! { <p class="notice notice-error" role="alert">{e.message()}</p> }.into_any(),
        })}
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok((Some(a), redemptions)) => view! {
                        <p class="lede">{describe(&a.promotion, currency)}</p>
                        <PromotionForm action=save p=Some(a.promotion.clone()) />
                        <h2>"Redemptions"</h2>
                        {if redemptions.is_empty() {
                            view! { <p>"No order has used it yet."</p> }.into_any()
                        } else {
                            view! {
                                <ul class="redemptions" data-testid="redemptions">
                                    {redemptions.into_iter().map(|r| view! {
                                        <li>{format!("{} · {} · saved {}", r.reference, r.customer, format_cents(r.amount_cents, currency))}</li>
                                    }).collect_view()}
                                </ul>
                            }.into_any()
                        }}
                    }.into_any(),
                    Ok((None, _)) => view! { <p>"There is no such promotion."</p> }.into_any(),
                    Err(e) => denied(e, "/admin/promotions"),
                }
            })}
        </Transition>
        <p><a href="/admin/promotions">"All promotions"</a></p>
    }
}

fn rate_text(rate: &Rate, free_over: Option<i64>, currency: Currency) -> String {
    let base = match rate {
        Rate::Flat { cents } => format_cents(*cents, currency),
        Rate::Weight { base_cents, per_kg_cents } => {
            format!("{} + {} per kg", format_cents(*base_cents, currency), format_cents(*per_kg_cents, currency))
        }
        Rate::Bands(bands) => bands
            .iter()
            .map(|(from, cents)| format!("from {}: {}", format_cents(*from, currency), format_cents(*cents, currency)))
            .collect::<Vec<_>>()
            .join(", "),
    };
    match free_over {
        Some(f) => format!("{base}; free from {}", format_cents(f, currency)),
        None => base,
    }
}

/// Zones with their tax, their methods' prices, and the store's tax settings.
#[component]
pub fn ShippingAdminPage() -> impl IntoView {
    let tax = ServerAction::<SetZoneTax>::new();
    let method = ServerAction::<SetMethodPrice>::new();
    let settings = ServerAction::<SetTaxSettings>::new();
    let data = Resource::new(
        move || (tax.version().get(), method.version().get(), settings.version().get()),
        |_| admin_shipping(),
    );
    let currency = Currency::default();
    let error = move || {
        [
            tax.value().get().and_then(Result::err),
            method.value().get().and_then(Result::err),
            settings.value().get().and_then(Result::err),
        ]
        .into_iter()
        .flatten()
        .next()
        .map(|e| view! { <p class="notice notice-error" role="alert">{e.message()}</p> })
    };
    view! {
        <PageTitle text="Shipping and tax · Admin" />
        <Meta name="robots" content="noindex" />
        <h1>"Shipping and tax"</h1>
        <AdminNav />
        {error}
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok((zones, s)) => view! {
                        <ActionForm action=settings attr:class="form-card form-wide">
                            <h2>"Tax"</h2>
                            <label class="check" for="tax-inclusive">
                                <input id="tax-inclusive" type="radio" name="mode" value="inclusive" checked=s.inclusive />
                                " Prices include tax"
                            </label>
                            <label class="check" for="tax-exclusive">
                                <input id="tax-exclusive" type="radio" name="mode" value="exclusive" checked=!s.inclusive />
                                " Tax is added to prices"
                            </label>
                            <label class="check" for="round-line">
                                <input id="round-line" type="radio" name="rounding" value="line" checked=s.rounding == Rounding::PerLine />
                                " Round tax per line"
                            </label>
                            <label class="check" for="round-total">
                                <input id="round-total" type="radio" name="rounding" value="total" checked=s.rounding == Rounding::PerTotal />
                                " Round tax once on the total"
                            </label>
                            <button type="submit" class="btn btn-primary">"Save tax settings"</button>
                        </ActionForm>
                        {zones.into_iter().map(|z| {
                            let rate = format!("{}.{:02}", z.tax_rate_bp / 100, z.tax_rate_bp % 100);
                            let (label_id, rate_id) = (format!("zone-{}-label", z.id), format!("zone-{}-rate", z.id));
                            view! {
                                <section class="form-card form-wide" data-zone=z.id>
                                    <h2>{z.name.clone()}</h2>
                                    <p class="muted">{format!("Countries: {}", z.countries)}</p>
                                    <ActionForm action=tax attr:class="inline-form">
                                        <input type="hidden" name="zone" value=z.id.to_string() />
                                        <label for=label_id.clone()>"Tax"</label>
                                        <input id=label_id name="label" value=z.tax_label.clone() maxlength="20" />
                                        <label for=rate_id.clone()>"Rate %"</label>
                                        <input id=rate_id name="rate" value=rate maxlength="6" />
                                        <button type="submit" class="btn">"Save"</button>
                                    </ActionForm>
                                    <ul>
                                        {z.methods.into_iter().map(|m| {
                                            let base = match m.rate {
                                                Rate::Flat { cents } | Rate::Weight { base_cents: cents, .. } => Some(cents),
                                                Rate::Bands(_) => None,
                                            };
                                            let price_id = format!("method-{}-price", m.id);
                                            let free_id = format!("method-{}-free", m.id);
                                            view! {
                                                <li>
                                                    <strong>{m.name.clone()}</strong>
                                                    {format!(": {}", rate_text(&m.rate, m.free_over_cents, currency))}
                                                    {base.map(|b| view! {
                                                        <ActionForm action=method attr:class="inline-form">
                                                            <input type="hidden" name="method" value=m.id.to_string() />
                                                            <label for=price_id.clone()>"Price"</label>
                                                            <input id=price_id name="price" value=format!("{}.{:02}", b / 100, b % 100) maxlength="12" />
                                                            <label for=free_id.clone()>"Free from"</label>
                                                            <input id=free_id name="free_over" value=m.free_over_cents.map(|f| format!("{}.{:02}", f / 100, f % 100)) maxlength="12" />
                                                            <button type="submit" class="btn">"Save"</button>
                                                        </ActionForm>
                                                    })}
                                                </li>
                                            }
                                        }).collect_view()}
                                    </ul>
                                </section>
                            }
                        }).collect_view()}
                    }.into_any(),
                    Err(e) => denied(e, "/admin/shipping"),
                }
            })}
        </Transition>
    }
}
