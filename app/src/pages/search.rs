use crate::api::catalog::search_products;
use crate::components::listing::ListingView;
use crate::components::page_title::PageTitle;
use leptos::prelude::*;
use leptos_meta::Meta;
use leptos_router::hooks::use_query_map;

#[component]
pub fn SearchPage() -> impl IntoView {
    let query = use_query_map();
    let data = Resource::new(
        move || {
            let q = query.read();
            (q.get("q"), q.get("sort"), q.get("page"))
        },
        |(q, sort, page)| search_products(q, sort, page),
    );
    view! {
        <Meta name="description" content="Search the Copperleaf catalogue." />
        <Meta name="robots" content="noindex" />
        <Suspense fallback=|| view! { <p class="loading">"Searching…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(result) => {
                        let heading = if result.query.is_empty() {
                            "Search".to_string()
                        } else {
                            format!("Results for “{}”", result.query)
                        };
                        let title = if result.query.is_empty() {
                            "Search · Copperleaf".to_string()
                        } else {
                            format!("“{}” · Search · Copperleaf", result.query)
                        };
                        let empty_hint = (result.listing.total == 0).then(|| {
                            if result.query.is_empty() {
                                view! { <p>"Type what you are looking for in the search box above."</p> }.into_any()
                            } else {
                                view! { <p>"Nothing matched. Try fewer or different words, or browse a department."</p> }.into_any()
                            }
                        });
                        view! {
                            <PageTitle text=title />
                            <h1>{heading}</h1>
                            {empty_hint}
                            <ListingView listing=result.listing path="/search".to_string() q=result.query />
                        }.into_any()
                    }
                    Err(e) => super::error_view(e),
                }
            })}
        </Suspense>
    }
}
