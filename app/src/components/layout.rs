use super::auth::AccountLink;
use super::cart::CartBadge;
use crate::api::catalog::list_categories;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

pub const SHOP_NAME: &str = "Copperleaf";

#[component]
pub fn Header() -> impl IntoView {
    let categories = OnceResource::new(list_categories());
    let query = use_query_map();
    let current_q = move || query.read().get("q").unwrap_or_default();
    view! {
        <header class="site-header">
            <div class="bar">
                <a class="brand" href="/" aria-label=format!("{SHOP_NAME} home")>
                    <svg class="brand-mark" viewBox="0 0 24 24" width="28" height="28" aria-hidden="true">
                        <path d="M5 8h14l-1.2 11.2a2 2 0 0 1-2 1.8H8.2a2 2 0 0 1-2-1.8z" fill="currentColor" />
                        <path d="M9 8V6a3 3 0 0 1 6 0v2" fill="none" stroke="currentColor" stroke-width="2" />
                    </svg>
                    <span>{SHOP_NAME}</span>
                </a>
                <div class="site-search">
                    <form method="get" action="/search" role="search">
                        <label for="site-search-q" class="visually-hidden">"Search products"</label>
                        <input
                            id="site-search-q"
                            type="search"
                            name="q"
                            placeholder="Search products"
                            maxlength="200"
                            value=current_q
                        />
                        <button type="submit" class="btn btn-icon" aria-label="Search">
                            <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
                                <circle cx="11" cy="11" r="7" fill="none" stroke="currentColor" stroke-width="2" />
                                <path d="m20 20-4-4" stroke="currentColor" stroke-width="2" stroke-linecap="round" />
                            </svg>
                        </button>
                    </form>
                </div>
                <nav class="header-actions" aria-label="Your shopping">
                    <AccountLink />
                    <CartBadge />
                </nav>
            </div>
            <nav class="category-nav" aria-label="Categories">
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        let list = categories.await.unwrap_or_default();
                        view! {
                            <ul>
                                {list
                                    .into_iter()
                                    .map(|c| {
                                        view! {
                                            <li>
                                                <a href=format!("/c/{}", c.slug)>{c.name}</a>
                                            </li>
                                        }
                                    })
                                    .collect_view()}
                            </ul>
                        }
                    })}
                </Suspense>
            </nav>
        </header>
    }
}

#[component]
pub fn Footer() -> impl IntoView {
    // What the store's tax setting says about the prices shown, as the server priced the cart.
    let cart = use_context::<crate::components::cart::CartCtx>();
    let tax = move || match cart.and_then(|c| c.view()) {
        Some(v) if v.pricing.tax_inclusive => " · Prices include tax where it applies",
        Some(_) => " · Tax is added at checkout where it applies",
        None => "",
    };
    view! {
        <footer class="site-footer">
            <p>
                {SHOP_NAME}
                // Inside a Transition, like the cart badge, so the server renders it too.
                <Transition fallback=|| ()>
                    <span data-testid="tax-note">{tax}</span>
                </Transition>
                " · Free returns within 30 days · This is a demo shop: no real orders are shipped."
            </p>
        </footer>
    }
}
