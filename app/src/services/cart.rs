//! Cart use cases: read, add, set, remove, clear, restore. Prices and stock always come from
//! the catalogue; the browser sends only product ids and quantities.

use super::visitor::Visitor;
use crate::domain::cart::{
    build_view, line_cap, summarise_adjustments, validate_client_lines, ClientLine, StoredCart, MAX_LINES, MAX_QUANTITY,
};
use crate::error::AppError;
use crate::model::CartView;
use crate::state::AppState;
use crate::storage::cart_store::{CartOwner, LineChange, Mode, StoreError};

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::CartFull => AppError::Invalid(format!(
                "Your cart already holds {MAX_LINES} different products. Remove one to add another."
            )),
            StoreError::Unavailable(detail) => {
                tracing::warn!(%detail, "cart storage unavailable");
                metrics::counter!("shop_cart_store_unavailable_total").increment(1);
                AppError::Unavailable(
                    "Your cart is temporarily unavailable. Nothing was changed; please try again in a moment.".into(),
                )
            }
            StoreError::Claimed(claim) if claim.id.starts_with("m:") => AppError::Conflict(
                "Your cart is being moved into your account right now. Nothing was changed; try again in a moment."
                    .into(),
            ),
            StoreError::Claimed(_) => AppError::Conflict(
                "An order for this cart is being placed right now. Nothing was changed; try again in a moment.".into(),
            ),
            StoreError::Ordered(reference) => AppError::Conflict(format!(
                "This cart was just ordered as {reference}, so it cannot change any more. It will be empty in a moment."
            )),
            StoreError::Backend(detail) => {
                tracing::error!(%detail, "cart storage failed");
                AppError::internal()
            }
        }
    }
}

/// Builds the shopper's view of a stored cart with today's catalogue data.
pub async fn view_of(state: &AppState, stored: &StoredCart, guest: bool) -> Result<CartView, AppError> {
    let ids: Vec<i64> = stored.lines.iter().map(|l| l.product_id).collect();
    let cards = state.catalog.cards(&ids).await?;
    Ok(build_view(stored, &cards, guest))
}

pub async fn read(state: &AppState, visitor: &Visitor) -> Result<CartView, AppError> {
    let Some(owner) = visitor.cart_owner().await? else {
        return Ok(CartView { guest: true, ..CartView::default() });
    };
    let retried = match owner {
        CartOwner::User(uid) => super::merge::retry_pending(state, visitor, uid).await,
        CartOwner::Guest(_) => vec![],
    };
    let read = state.carts.load(&owner).await?;
    let mut view = view_of(state, &read.cart, owner.is_guest()).await?;
    view.notices.extend(read.notice);
    view.notices.extend(retried);
    Ok(view)
}

/// Adds (`Mode::Add`) or sets (`Mode::Set`, 0 removes) a line, capped at stock and the line maximum.
pub async fn change(
    state: &AppState,
    visitor: &Visitor,
    product_id: i64,
    mode: Mode,
    quantity: u32,
) -> Result<CartView, AppError> {
    let card = state.catalog.card(product_id).await?;
    let owner = visitor.start_cart().await?;
    let Some(card) = card else {
        if mode == Mode::Set && quantity == 0 {
            // Removing a line whose product has gone is always allowed.
            let stored = state.carts.remove(&owner, product_id).await?;
            return view_of(state, &stored, owner.is_guest()).await;
        }
        return Err(AppError::Invalid("That product does not exist or is no longer sold.".into()));
    };
    let cap = line_cap(card.stock);
    if cap == 0 && quantity > 0 {
        return Err(AppError::Invalid(format!("{} is sold out.", card.name)));
    }
    let request = LineChange { product_id, mode, quantity, cap, price_cents: card.price_cents, max_lines: MAX_LINES };
    let result = state.carts.change(&owner, request).await;
    let outcome = match &result {
        Ok(c) if c.capped => "capped",
        Ok(_) => "ok",
        Err(StoreError::CartFull) => "cart_full",
        Err(StoreError::Unavailable(_)) => "unavailable",
        Err(StoreError::Claimed(_)) => "claimed",
        Err(StoreError::Ordered(_)) => "ordered",
        Err(StoreError::Backend(_)) => "error",
    };
    let op = match mode {
        Mode::Add => "add",
        Mode::Set => "set",
    };
    metrics::counter!("shop_cart_operations_total", "op" => op, "outcome" => outcome).increment(1);
    let change = result?;
    state.cart_sync.changed(&owner);
    if mode == Mode::Add {
        super::recs::record_signal(state, visitor, crate::domain::recs::Signal::Cart, product_id).await;
        super::experiments::record_step(state, visitor, crate::domain::experiments::Step::AddToCart).await;
    }
    let mut view = view_of(state, &change.cart, owner.is_guest()).await?;
    if change.capped {
        view.notices.insert(
            0,
            if card.stock < i64::from(MAX_QUANTITY) {
                format!("Only {} of {} in stock, so your cart has {}.", card.stock, card.name, change.quantity)
            } else {
                format!(
                    "At most {cap} of one product per order, so your cart has {} of {}.",
                    change.quantity, card.name
                )
            },
        );
    }
    Ok(view)
}

pub async fn remove(state: &AppState, visitor: &Visitor, product_id: i64) -> Result<CartView, AppError> {
    let Some(owner) = visitor.cart_owner().await? else {
        return Ok(CartView { guest: true, ..CartView::default() });
    };
    let stored = state.carts.remove(&owner, product_id).await?;
    state.cart_sync.changed(&owner);
    metrics::counter!("shop_cart_operations_total", "op" => "remove", "outcome" => "ok").increment(1);
    view_of(state, &stored, owner.is_guest()).await
}

pub async fn clear(state: &AppState, visitor: &Visitor) -> Result<CartView, AppError> {
    let Some(owner) = visitor.cart_owner().await? else {
        return Ok(CartView { guest: true, ..CartView::default() });
    };
    let stored = state.carts.clear(&owner).await?;
    state.cart_sync.changed(&owner);
    metrics::counter!("shop_cart_operations_total", "op" => "clear", "outcome" => "ok").increment(1);
    view_of(state, &stored, owner.is_guest()).await
}

/// Restores a guest's cart from the browser's copy when the server has lost it (expired session,
/// cleared cookie, flushed store). Everything is checked here; the answer says what was dropped.
/// A cart that exists on the server is never overwritten: the server wins.
pub async fn restore(state: &AppState, visitor: &Visitor, lines: Vec<ClientLine>) -> Result<CartView, AppError> {
    if visitor.user_id().await?.is_some() {
        // Accounts keep their cart on the server; a browser copy never overrides it.
        return read(state, visitor).await;
    }
    let ids: Vec<i64> = lines.iter().map(|l| l.product_id).collect();
    let cards = state.catalog.cards(&ids).await?;
    let (kept, adjustments) = validate_client_lines(&lines, &cards);
    let owner = visitor.start_cart().await?;
    match state.carts.restore_if_pristine(&owner, &kept).await? {
        Some(stored) => {
            state.cart_sync.changed(&owner);
            metrics::counter!("shop_cart_operations_total", "op" => "restore", "outcome" => "ok").increment(1);
            let mut view = view_of(state, &stored, true).await?;
            view.notices.extend(summarise_adjustments(&adjustments));
            if !kept.is_empty() {
                view.notices.insert(0, "We restored the cart saved in this browser.".into());
            }
            Ok(view)
        }
        None => {
            metrics::counter!("shop_cart_operations_total", "op" => "restore", "outcome" => "server_wins").increment(1);
            let read = state.carts.load(&owner).await?;
            let mut view = view_of(state, &read.cart, true).await?;
            view.notices.extend(read.notice);
            Ok(view)
        }
    }
}
