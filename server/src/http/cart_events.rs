//! `GET /events/cart`: a Server-Sent Events stream that says `cart` whenever this visitor's cart
//! changes anywhere (another tab, another device, another instance). The page then reloads its
//! cart through `/api/cart`; the stream itself carries no cart data.
//!
//! Only a visitor with a cart gets a stream (others: 204, which tells `EventSource` to stop), a
//! cart and a client address hold a few at most (429), the process a bounded number (503), and
//! every stream ends after `MAX_STREAM_AGE` (the browser reconnects), so open streams can never
//! pile up.

use app::engines::cart_sync::Refused;
use app::services::visitor::Visitor;
use app::state::AppState;
use axum::{
    extract::State,
    http::{header, StatusCode},
    response::{
        sse::{Event, KeepAlive, Sse},
        IntoResponse, Response,
    },
};
use futures::stream;
use std::convert::Infallible;
use std::time::Duration;

/// Longest a stream stays open before the browser is asked to reconnect.
const MAX_STREAM_AGE: Duration = Duration::from_secs(30 * 60);

pub async fn stream(State(state): State<AppState>, axum::Extension(visitor): axum::Extension<Visitor>) -> Response {
    // Whose cart is decided once: signing in or out makes the page reconnect.
    let owner = visitor.cart_owner().await.ok().flatten();
    let Some(owner) = owner else { return StatusCode::NO_CONTENT.into_response() };
    let subscription = match state.cart_sync.subscribe(&owner, visitor.address()) {
        Ok(s) => s,
        Err(refused) => {
            metrics::counter!("shop_cart_sync_refused_total", "why" => match refused {
                Refused::TooMany => "per_cart_or_address",
                Refused::Full => "full",
            })
            .increment(1);
            let status = match refused {
                Refused::TooMany => StatusCode::TOO_MANY_REQUESTS,
                Refused::Full => StatusCode::SERVICE_UNAVAILABLE,
            };
            return (status, [(header::RETRY_AFTER, "30")]).into_response();
        }
    };
    let closing = state.cart_sync.closing();
    let ends = tokio::time::Instant::now() + MAX_STREAM_AGE;
    let events = stream::unfold((subscription, closing), move |(mut sub, mut closing)| async move {
        let changed = tokio::select! {
            // Shutting down: end the stream (the browser reconnects to another instance).
            _ = closing.wait_for(|c| *c) => false,
            _ = tokio::time::sleep_until(ends) => false,
            changed = sub.changes.changed() => changed.is_ok(),
        };
        changed.then(|| (Ok::<_, Infallible>(Event::default().event("cart").data("changed")), (sub, closing)))
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(20))).into_response()
}
