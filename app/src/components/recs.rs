//! A row of recommendations, rendered on the server with its reasons.

use crate::api::recs::recommendations;
use leptos::prelude::*;

use super::cart::AddToCartButton;

#[component]
pub fn RecsRow(#[prop(into)] context: Signal<String>, title: &'static str, #[prop(into)] id: String) -> impl IntoView {
    let recs = Resource::new(move || context.get(), recommendations);
    let heading = format!("{id}-h");
    view! {
        <Suspense fallback=|| ()>
            {move || {
                let heading = heading.clone();
                let id = id.clone();
                Suspend::new(async move {
                    let list = recs.await.unwrap_or_default();
                    (!list.is_empty()).then(|| view! {
                        <section class="recs" aria-labelledby=heading.clone() id=id>
                            <h2 id=heading.clone()>{title}</h2>
                            <ul class="grid" aria-label=title>
                                {list.into_iter().map(|r| {
                                    let p = r.product;
                                    let status = p.stock_status();
                                    view! {
                                        <li class="card" data-product-id=p.id data-category-id=p.category_id>
                                            <a class="card-link" href=format!("/p/{}", p.slug)>
                                                <img src=p.image.clone() alt=p.name.clone() width="400" height="400" loading="lazy" decoding="async" />
                                                <span class="card-name">{p.name.clone()}</span>
                                            </a>
                                            <p class="reason">{r.reason}</p>
                                            <p class="price">{p.price()}</p>
                                            <p class=status.class()>{status.label()}</p>
                                            <AddToCartButton product=p.clone() />
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        </section>
                    })
                })
            }}
        </Suspense>
    }
}
