use crate::domain::catalog::Sort;
use crate::model::Listing;
use leptos::prelude::*;

use super::product_card::ProductGrid;

/// Builds a listing URL from its path and query pairs, dropping empty values.
pub fn listing_href(path: &str, pairs: &[(&str, String)]) -> String {
    let query = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    }
}

fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Sort selector, pager and grid for a category or search listing. `path` and `q` rebuild links.
#[component]
pub fn ListingView(listing: Listing, path: String, #[prop(optional)] q: Option<String>) -> impl IntoView {
    let q = q.unwrap_or_default();
    let sort = listing.sort;
    let page_href = {
        let (path, q) = (path.clone(), q.clone());
        move |page: u32| {
            let sort_key = if sort == Sort::default() { String::new() } else { sort.key().to_string() };
            let page = if page <= 1 { String::new() } else { page.to_string() };
            listing_href(&path, &[("q", q.clone()), ("sort", sort_key), ("page", page)])
        }
    };
    let count = listing.total;
    let summary = match count {
        0 => "No products".to_string(),
        1 => "1 product".to_string(),
        n => format!("{n} products"),
    };
    let (page, pages) = (listing.page, listing.pages);
    let empty = listing.products.is_empty();
    view! {
        <div class="listing-tools">
            <p class="result-count" aria-live="polite">{summary}</p>
            <SortForm path=path.clone() q=q.clone() current=sort />
        </div>
        {(!empty).then(|| view! { <ProductGrid products=listing.products label="Products" /> })}
        {(pages > 1).then(|| view! { <Pager page pages href=page_href /> })}
    }
}

/// A GET form: works without JavaScript; with it, changing the select applies at once.
#[component]
fn SortForm(path: String, q: String, current: Sort) -> impl IntoView {
    let form_ref = NodeRef::<leptos::html::Form>::new();
    let on_change = move |_| {
        if let Some(form) = form_ref.get() {
            let _ = form.request_submit();
        }
    };
    view! {
        <form class="sort-form" method="get" action=path node_ref=form_ref>
            {(!q.is_empty()).then(|| view! { <input type="hidden" name="q" value=q.clone() /> })}
            <label for="sort">"Sort by"</label>
            <select id="sort" name="sort" on:change=on_change>
                {Sort::ALL
                    .into_iter()
                    .map(|s| view! { <option value=s.key() selected=s == current>{s.label()}</option> })
                    .collect_view()}
            </select>
            <noscript>
                <button type="submit" class="btn btn-small">"Apply"</button>
            </noscript>
        </form>
    }
}

#[component]
fn Pager(page: u32, pages: u32, href: impl Fn(u32) -> String + 'static) -> impl IntoView {
    // First, last, and two either side of the current page.
    let mut shown: Vec<u32> = (1..=pages).filter(|&p| p == 1 || p == pages || p.abs_diff(page) <= 2).collect();
    shown.dedup();
    let mut items = Vec::new();
    let mut last = 0;
    for p in shown {
        if p > last + 1 {
            items.push(view! { <li class="gap" aria-hidden="true">"…"</li> }.into_any());
        }
        let link = if p == page {
            view! {
                <li>
                    <a href=href(p) aria-current="page" class="current">{p}</a>
                </li>
            }
            .into_any()
        } else {
            view! {
                <li>
                    <a href=href(p) aria-label=format!("Page {p}")>{p}</a>
                </li>
            }
            .into_any()
        };
        items.push(link);
        last = p;
    }
    let prev = (page > 1).then(|| view! { <a class="btn btn-small" rel="prev" href=href(page - 1)>"← Previous"</a> });
    let next = (page < pages).then(|| view! { <a class="btn btn-small" rel="next" href=href(page + 1)>"Next →"</a> });
    view! {
        <nav class="pager" aria-label="Pages">
            {prev}
            <ul>{items}</ul>
            {next}
        </nav>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hrefs_encode_and_skip_empty_values() {
        assert_eq!(
            listing_href("/search", &[("q", "50% off & more".into()), ("page", String::new())]),
            "/search?q=50%25+off+%26+more"
        );
        assert_eq!(listing_href("/c/kitchen", &[("sort", String::new())]), "/c/kitchen");
    }
}
