//! Recommendations endpoint.

use crate::error::AppError;
use crate::model::Recommendation;
use leptos::prelude::*;

/// A row of recommendations for `context` (`home`, `cart` or `product:{id}`): product ids with a
/// short reason each, and the product cards to show them. Never fails for lack of data: when
/// there is no signal, or serving is slow or broken, the row is best sellers.
#[server(endpoint = "recommendations")]
pub async fn recommendations(context: String) -> Result<Vec<Recommendation>, AppError> {
    use crate::services::{recs::Context, visitor::Visitor};
    let context = Context::parse(&context)
        .ok_or_else(|| AppError::BadRequest("context must be home, cart or product:{id}.".into()))?;
    let state = crate::state::app_state()?;
    let visitor = Visitor::current()?;
    Ok(crate::services::recs::recommend(&state, &visitor, context).await)
}
