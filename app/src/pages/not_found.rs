use crate::components::page_title::PageTitle;
use leptos::prelude::*;
use leptos_meta::Meta;

/// The router's fallback for unknown paths.
#[component]
pub fn NotFound() -> impl IntoView {
    super::set_status(404);
    view! { <NotFoundBody message="We could not find that page.".to_string() /> }
}

#[component]
pub fn NotFoundBody(message: String) -> impl IntoView {
    view! {
        <PageTitle text="Not found · Copperleaf" />
        <Meta name="robots" content="noindex" />
        <section class="not-found">
            <h1>"Page not found"</h1>
            <p>{message}</p>
            <p>
                <a class="btn" href="/">"Go to the home page"</a>
            </p>
        </section>
    }
}
