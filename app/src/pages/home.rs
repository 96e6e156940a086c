use crate::api::catalog::{featured_products, list_categories};
use crate::components::page_title::PageTitle;
use crate::components::product_card::ProductGrid;
use crate::components::recs::RecsRow;
use leptos::prelude::*;
use leptos_meta::Meta;

#[component]
pub fn HomePage() -> impl IntoView {
    let featured = Resource::new(|| (), |_| featured_products());
    let categories = Resource::new(|| (), |_| list_categories());
    view! {
        <PageTitle text="Copperleaf · Everyday goods, shipped fast" />
        <Meta name="description" content="Shop kitchen, home, outdoor, electronics, books and more at Copperleaf. Free returns within 30 days." />
        <section class="hero">
            <h1>"Good things for every day"</h1>
            <p>"Hand-picked goods across twelve departments, with honest prices and free returns."</p>
        </section>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match featured.await {
                    Ok(products) => view! {
                        <section aria-labelledby="featured-h">
                            <h2 id="featured-h">"Featured"</h2>
                            <ProductGrid products label="Featured products" />
                        </section>
                    }.into_any(),
                    Err(e) => super::error_view(e),
                }
            })}
        </Suspense>
        <RecsRow context="home".to_string() title="Recommended for you" id="recommendations" />
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let list = categories.await.unwrap_or_default();
                view! {
                    <section aria-labelledby="departments-h">
                        <h2 id="departments-h">"Shop by department"</h2>
                        <ul class="departments">
                            {list.into_iter().map(|c| view! {
                                <li>
                                    <a href=format!("/c/{}", c.slug)>
                                        <strong>{c.name}</strong>
                                        <span>{c.description}</span>
                                    </a>
                                </li>
                            }).collect_view()}
                        </ul>
                    </section>
                }
            })}
        </Suspense>
    }
}
