//! `GET /events/cart`: a Server-Sent Events stream that says `cart` whenever this visitor's cart
//! changes anywhere (another tab, another device, another instance). The page then reloads its
//! cart through `/api/cart`; the stream itself carries no cart data.

use app::services::visitor::Visitor;
use app::state::AppState;
use axum::{
    extract::State,
    response::sse::{Event, KeepAlive, Sse},
};
use futures::stream::{self, Stream};
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tower_sessions::Session;

pub async fn stream(
    State(state): State<AppState>,
    session: Session,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    // Whose cart is decided once: signing in or out makes the page reconnect.
    let owner = Visitor { session }.cart_owner(false).await.ok().flatten().map(|o| o.key());
    let rx = state.cart_sync.subscribe();
    let closing = state.cart_sync.closing();
    metrics::gauge!("shop_cart_sync_streams").increment(1.0);
    let events = stream::unfold((rx, closing, owner, StreamGuard), |(mut rx, mut closing, owner, guard)| async move {
        loop {
            tokio::select! {
                // Shutting down: end the stream (the browser reconnects to another instance).
                _ = closing.wait_for(|c| *c) => return None,
                got = rx.recv() => match got {
                    Ok(key) if owner.as_deref() == Some(key.as_str()) => break,
                    Ok(_) => continue,
                    // Missed some: one notice covers them all.
                    Err(RecvError::Lagged(_)) => break,
                    Err(RecvError::Closed) => return None,
                },
            }
        }
        Some((Ok(Event::default().event("cart").data("changed")), (rx, closing, owner, guard)))
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(20)))
}

/// Counts open streams down when the browser goes away.
struct StreamGuard;

impl Drop for StreamGuard {
    fn drop(&mut self) {
        metrics::gauge!("shop_cart_sync_streams").decrement(1.0);
    }
}
