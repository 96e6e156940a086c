use crate::api::cart::AddToCart;
use crate::api::catalog::get_product;
use crate::components::cart::{on_cart_submit, CartCtx};
use crate::components::page_title::PageTitle;
use crate::components::recs::RecsRow;
use crate::domain::money::format_cents;
use crate::domain::variants::{option_label, option_values, pick, variant_href, ValueState};
use crate::model::{ProductDetail, StockStatus};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Meta;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};
use leptos_router::NavigateOptions;
use std::sync::Arc;

#[component]
pub fn ProductPage() -> impl IntoView {
    let params = use_params_map();
    let data = Resource::new(move || params.read().get("slug").unwrap_or_default(), get_product);
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(p) => view! { <ProductView product=p /> }.into_any(),
                    Err(e) => super::error_view(e),
                }
            })}
        </Suspense>
    }
}

/// The option values picked in the URL: `o1`..`o3` (the no-JavaScript form sends them; the
/// server then redirects to `?variant=<sku>`).
fn picked_values(query: &leptos_router::params::ParamsMap, count: usize) -> Vec<Option<String>> {
    (1..=count).map(|i| query.get(&format!("o{i}")).filter(|v| !v.is_empty())).collect()
}

#[component]
fn ProductView(product: ProductDetail) -> impl IntoView {
    let ctx = expect_context::<CartCtx>();
    let query = use_query_map();
    let navigate = use_navigate();
    let product = Arc::new(product);
    let card = product.card.clone();
    let slug = card.slug.clone();
    let option_count = product.option_names.len();
    // The variant shown: from `?variant=<sku>` (shared links), else the picked values.
    let chosen = {
        let product = product.clone();
        Memo::new(move |_| {
            let q = query.read();
            let picked = picked_values(&q, option_count);
            pick(&product.variants, q.get("variant").as_deref(), &picked).cloned()
        })
    };
    let variant = move || chosen.get();
    let active = product.active;
    let sold_out = move || !active || variant().is_none_or(|v| v.stock <= 0);
    let max_qty = move || variant().map(|v| v.stock).unwrap_or(0).clamp(1, 99);
    let (qty, set_qty) = signal(1i64);
    let description = product.description.clone();
    let meta = description.split(". ").next().unwrap_or(&description).to_string();
    let currency = card.currency;
    let listed_price = card.price();
    let price =
        move || variant().map(|v| format_cents(v.price_cents, currency)).unwrap_or_else(|| listed_price.clone());
    let was = move || {
        variant()
            .and_then(|v| v.compare_at_cents.filter(|c| *c > v.price_cents))
            .map(|c| view! { <s class="price-was" aria-label=format!("was {}", format_cents(c, currency))>{format_cents(c, currency)}</s> })
    };
    let status = move || {
        if !active {
            return ("stock out", "No longer available".to_string());
        }
        let s = StockStatus::from_stock(variant().map(|v| v.stock).unwrap_or(0));
        (s.class(), s.label())
    };
    let product_image = card.image.clone();
    let image = move || variant().filter(|v| !v.image.is_empty()).map(|v| v.image).unwrap_or(product_image.clone());
    let name = card.name.clone();
    let alt = {
        let product = product.clone();
        let name = name.clone();
        move || match variant() {
            Some(v) if !v.values.is_empty() => format!("{name} ({})", option_label(&product.option_names, &v.values)),
            _ => name.clone(),
        }
    };
    // The pickers are rendered once; only their checked and sold-out states follow the chosen
    // variant, so a keyboard user moving through a radio group keeps the focus.
    let states = {
        let product = product.clone();
        Memo::new(move |_| chosen.get().map(|c| option_values(option_count, &product.variants, &c)).unwrap_or_default())
    };
    let pickers = (option_count > 0).then(|| {
        let groups = chosen.get_untracked().map(|c| option_values(option_count, &product.variants, &c)).unwrap_or_default();
        view! {
            <form class="variant-picker" method="get" action=format!("/p/{slug}")>
                {groups
                    .into_iter()
                    .enumerate()
                    .map(|(i, values)| {
                        let option = product.option_names[i].clone();
                        let field = format!("o{}", i + 1);
                        view! {
                            <fieldset class="option-group">
                                <legend>{option}</legend>
                                {values
                                    .into_iter()
                                    .enumerate()
                                    .map(|(j, o)| {
                                        let id = format!("opt-{}-{}", i + 1, j + 1);
                                        let state = move || states.with(|s| s.get(i).and_then(|g| g.get(j)).map(|o| o.state));
                                        let selected = move || states.with(|s| s.get(i).and_then(|g| g.get(j)).is_some_and(|o| o.selected));
                                        let note = move || match state() {
                                            Some(ValueState::SoldOut) => " (sold out)",
                                            Some(ValueState::Missing) => " (not available in this combination)",
                                            _ => "",
                                        };
                                        let class = move || match state() {
                                            Some(ValueState::SoldOut) => "option option-sold-out",
                                            Some(ValueState::Missing) => "option option-missing",
                                            _ => "option",
                                        };
                                        // With JavaScript a pick shows its variant at once (no reload),
                                        // with the URL following; without, the form's button does it.
                                        let on_change = {
                                            let product = product.clone();
                                            let navigate = navigate.clone();
                                            let slug = slug.clone();
                                            let value = o.value.clone();
                                            move |_| {
                                                let Some(current) = chosen.get_untracked() else { return };
                                                let mut picked: Vec<Option<String>> =
                                                    current.values.iter().cloned().map(Some).collect();
                                                if let Some(slot) = picked.get_mut(i) {
                                                    *slot = Some(value.clone());
                                                }
                                                if let Some(v) = pick(&product.variants, None, &picked) {
                                                    navigate(
                                                        &variant_href(&slug, &v.sku),
                                                        NavigateOptions { replace: true, scroll: false, ..Default::default() },
                                                    );
                                                }
                                            }
                                        };
                                        view! {
                                            <span class=class>
                                                <input
                                                    type="radio"
                                                    id=id.clone()
                                                    name=field.clone()
                                                    value=o.value.clone()
                                                    checked=o.selected
                                                    prop:checked=selected
                                                    on:change=on_change
                                                />
                                                <label for=id>{o.value.clone()}<span class="visually-hidden">{note}</span></label>
                                            </span>
                                        }
                                    })
                                    .collect_view()}
                            </fieldset>
                        }
                    })
                    .collect_view()}
                <noscript><button type="submit" class="btn btn-secondary btn-small">"Show this choice"</button></noscript>
            </form>
        }
    });
    view! {
        <PageTitle text=format!("{} · Copperleaf", card.name) />
        <Meta name="description" content=meta />
        <nav class="breadcrumbs" aria-label="Breadcrumb">
            <ol>
                <li><a href="/">"Home"</a></li>
                <li><a href=format!("/c/{}", product.category.slug)>{product.category.name.clone()}</a></li>
                <li><a href=format!("/p/{}", card.slug) aria-current="page">{card.name.clone()}</a></li>
            </ol>
        </nav>
        <article class="product">
            <img class="product-image" src=image alt=alt width="400" height="400" />
            <div class="product-info">
                <h1>{card.name.clone()}</h1>
                <p class="price price-large" data-testid="product-price">{was} " " {price}</p>
                <p class=move || status().0 data-testid="product-stock">{move || status().1}</p>
                {pickers}
                {if product.description_html.is_empty() {
                    view! { <p class="description">{description}</p> }.into_any()
                } else {
                    // Sanitised when it was imported (see the catalogue import).
                    view! { <div class="description" inner_html=product.description_html.clone()></div> }.into_any()
                }}
                <form class="buy-form" method="post" action=AddToCart::url() on:submit=on_cart_submit(ctx)>
                    <input type="hidden" name="product_id" value=card.id />
                    <input type="hidden" name="variant_id" prop:value=move || variant().map(|v| v.id).unwrap_or(0).to_string() value=variant().map(|v| v.id).unwrap_or(0) />
                    <div class="stepper">
                        <label for="qty">"Quantity"</label>
                        <div class="stepper-controls">
                            <button
                                type="button"
                                class="btn btn-icon"
                                aria-label="Decrease quantity"
                                disabled=move || { sold_out() || qty.get() <= 1 }
                                on:click=move |_| set_qty.update(|q| *q = (*q - 1).max(1))
                            >"−"</button>
                            <input
                                id="qty"
                                name="quantity"
                                type="number"
                                inputmode="numeric"
                                min="1"
                                max=max_qty
                                value="1"
                                prop:value=move || qty.get().to_string()
                                on:input=move |ev| {
                                    if let Ok(v) = event_target_value(&ev).parse::<i64>() {
                                        set_qty.set(v.clamp(1, max_qty()));
                                    }
                                }
                                disabled=sold_out
                            />
                            <button
                                type="button"
                                class="btn btn-icon"
                                aria-label="Increase quantity"
                                disabled=move || { sold_out() || qty.get() >= max_qty() }
                                on:click=move |_| set_qty.update(|q| *q = (*q + 1).min(max_qty()))
                            >"+"</button>
                        </div>
                    </div>
                    <button type="submit" class="btn btn-primary" disabled=sold_out>
                        {move || if sold_out() { "Sold out" } else { "Add to cart" }}
                    </button>
                </form>
            </div>
        </article>
        <RecsRow context=format!("product:{}", card.id) title="Frequently bought together" id="bought-together" />
    }
}
