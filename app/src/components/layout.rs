use super::auth::AccountLink;
use super::cart::CartBadge;
use crate::api::catalog::list_categories;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

pub const SHOP_NAME: &str = "Copperleaf";

/// The sticky bar (brand, search on wide screens, account and cart) and, below it, a part that
/// scrolls away: the search field on narrow screens and the category strip. On a phone the bar
/// is one row, so the cart stays in sight while it takes a tenth of the screen, not a quarter.
#[component]
pub fn Header() -> impl IntoView {
    let categories = OnceResource::new(list_categories());
    view! {
        <header class="site-header">
            <div class="bar">
                <a class="brand" href="/" aria-label=format!("{SHOP_NAME} home")>
                    <svg class="brand-mark" viewBox="0 0 24 24" width="28" height="28" aria-hidden="true">
                        <path d="M5 8h14l-1.2 11.2a2 2 0 0 1-2 1.8H8.2a2 2 0 0 1-2-1.8z" fill="currentColor" />
                        <path d="M9 8V6a3 3 0 0 1 6 0v2" fill="none" stroke="currentColor" stroke-width="2" />
                    </svg>
                    <span class="brand-name">{SHOP_NAME}</span>
                </a>
                <SearchForm id="site-search-q" class="site-search site-search-wide" />
                <nav class="header-actions" aria-label="Your shopping">
                    <AccountLink />
                    <CartBadge />
                </nav>
            </div>
        </header>
        <div class="below-header">
            <SearchForm id="site-search-q-narrow" class="site-search site-search-narrow" />
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
        </div>
    }
}

/// The product search; the header shows one of its two (by screen width, in the style sheet).
#[component]
fn SearchForm(id: &'static str, class: &'static str) -> impl IntoView {
    let query = use_query_map();
    let current_q = move || query.read().get("q").unwrap_or_default();
    view! {
        <div class=class>
            <form method="get" action="/search" role="search">
                <label for=id class="visually-hidden">"Search products"</label>
                <input id=id type="search" name="q" placeholder="Search products" maxlength="200" value=current_q />
                <button type="submit" class="btn btn-icon" aria-label="Search">
                    <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
                        <circle cx="11" cy="11" r="7" fill="none" stroke="currentColor" stroke-width="2" />
                        <path d="m20 20-4-4" stroke="currentColor" stroke-width="2" stroke-linecap="round" />
                    </svg>
                </button>
            </form>
        </div>
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
