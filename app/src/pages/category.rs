use crate::api::catalog::get_category_page;
use crate::components::listing::ListingView;
use crate::components::page_title::PageTitle;
use leptos::prelude::*;
use leptos_meta::Meta;
use leptos_router::hooks::{use_params_map, use_query_map};

#[component]
pub fn CategoryPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let data = Resource::new(
        move || {
            let q = query.read();
            (params.read().get("slug").unwrap_or_default(), q.get("sort"), q.get("page"))
        },
        |(slug, sort, page)| get_category_page(slug, sort, page),
    );
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(page) => {
                        let path = format!("/c/{}", page.category.slug);
                        let title = if page.listing.page > 1 {
                            format!("{} · page {} · Copperleaf", page.category.name, page.listing.page)
                        } else {
                            format!("{} · Copperleaf", page.category.name)
                        };
                        view! {
                            <PageTitle text=title />
                            <Meta name="description" content=page.category.description.clone() />
                            <nav class="breadcrumbs" aria-label="Breadcrumb">
                                <ol>
                                    <li><a href="/">"Home"</a></li>
                                    <li><a href=path.clone() aria-current="page">{page.category.name.clone()}</a></li>
                                </ol>
                            </nav>
                            <h1>{page.category.name.clone()}</h1>
                            <p class="lede">{page.category.description.clone()}</p>
                            <ListingView listing=page.listing path />
                        }.into_any()
                    }
                    Err(e) => super::error_view(e),
                }
            })}
        </Suspense>
    }
}
