//! The product page's option picker without JavaScript is a GET form sending the picked values
//! (`/p/<slug>?o1=M&o2=Navy`). This answers it with a redirect to the variant's shareable address,
//! `/p/<slug>?variant=<sku>`, which the page renders. With JavaScript the page navigates there
//! itself and never sends the form.

use app::domain::catalog::valid_slug;
use app::domain::variants::{pick, variant_href};
use app::state::AppState;
use axum::{
    extract::{Request, State},
    http::{header, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};

pub async fn choose(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(picked) = picked(&req) else { return next.run(req).await };
    let slug = req.uri().path().trim_start_matches("/p/");
    let Ok(Some(product)) = state.catalog.product_by_slug(slug).await else { return next.run(req).await };
    let picked: Vec<Option<String>> = (0..product.option_names.len()).map(|i| picked[i].clone()).collect();
    let Some(variant) = pick(&product.variants, None, &picked) else { return next.run(req).await };
    // The slug passed `valid_slug` ([a-z0-9-]) and the SKU is percent-encoded: the header is safe.
    let location = variant_href(slug, &variant.sku);
    match HeaderValue::from_str(&location) {
        Ok(value) => (StatusCode::SEE_OTHER, [(header::LOCATION, value)]).into_response(),
        Err(_) => next.run(req).await,
    }
}

/// The values a product page's picker form sent, when this is such a request.
fn picked(req: &Request) -> Option<[Option<String>; 3]> {
    if req.method() != Method::GET {
        return None;
    }
    let slug = req.uri().path().strip_prefix("/p/")?;
    let query = req.uri().query()?;
    if !valid_slug(slug) || query.len() > 1024 {
        return None;
    }
    let mut picked: [Option<String>; 3] = Default::default();
    let axum::extract::Query(pairs) = axum::extract::Query::<Vec<(String, String)>>::try_from_uri(req.uri()).ok()?;
    for (key, value) in pairs {
        let slot = match key.as_ref() {
            "o1" => 0,
            "o2" => 1,
            "o3" => 2,
            // A shared link already names its variant.
            "variant" => return None,
            _ => continue,
        };
        if !value.is_empty() && value.len() <= 100 {
            picked[slot] = Some(value);
        }
    }
    picked.iter().any(Option::is_some).then_some(picked)
}
