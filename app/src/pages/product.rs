use crate::api::cart::AddToCart;
use crate::api::catalog::get_product;
use crate::components::cart::{on_cart_submit, CartCtx};
use crate::components::page_title::PageTitle;
use crate::components::recs::RecsRow;
use crate::model::ProductDetail;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Meta;
use leptos_router::hooks::use_params_map;

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

#[component]
fn ProductView(product: ProductDetail) -> impl IntoView {
    let ctx = expect_context::<CartCtx>();
    let card = product.card.clone();
    let status = card.stock_status();
    let sold_out = !product.active || card.stock <= 0;
    let max_qty = card.stock.clamp(1, 99);
    let (qty, set_qty) = signal(1i64);
    let description = product.description.clone();
    let meta = description.split(". ").next().unwrap_or(&description).to_string();
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
            <img class="product-image" src=card.image.clone() alt=card.name.clone() width="400" height="400" />
            <div class="product-info">
                <h1>{card.name.clone()}</h1>
                <p class="price price-large">{card.price()}</p>
                <p class=status.class()>{if product.active { status.label() } else { "No longer available".into() }}</p>
                <p class="description">{description}</p>
                <form class="buy-form" method="post" action=AddToCart::url() on:submit=on_cart_submit(ctx)>
                    <input type="hidden" name="product_id" value=card.id />
                    <div class="stepper">
                        <label for="qty">"Quantity"</label>
                        <div class="stepper-controls">
                            <button
                                type="button"
                                class="btn btn-icon"
                                aria-label="Decrease quantity"
                                disabled=move || { sold_out || qty.get() <= 1 }
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
                                        set_qty.set(v.clamp(1, max_qty));
                                    }
                                }
                                disabled=sold_out
                            />
                            <button
                                type="button"
                                class="btn btn-icon"
                                aria-label="Increase quantity"
                                disabled=move || { sold_out || qty.get() >= max_qty }
                                on:click=move |_| set_qty.update(|q| *q = (*q + 1).min(max_qty))
                            >"+"</button>
                        </div>
                    </div>
                    <button type="submit" class="btn btn-primary" disabled=sold_out>
                        {if sold_out { "Sold out" } else { "Add to cart" }}
                    </button>
                </form>
            </div>
        </article>
        <RecsRow context=format!("product:{}", card.id) title="Frequently bought together" id="bought-together" />
    }
}
