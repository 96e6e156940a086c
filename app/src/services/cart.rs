//! Cart use cases: read, add, set, remove, clear, restore. Prices and stock always come from
//! the catalogue; the browser sends only variant (or product) ids and quantities.

use super::visitor::Visitor;
use crate::domain::cart::{
    build_view, line_cap, summarise_adjustments, validate_client_lines, ClientLine, ItemRef, StoredCart, MAX_LINES,
    MAX_QUANTITY,
};
use crate::error::AppError;
use crate::model::{CartView, VariantCard};
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
    let ids: Vec<i64> = stored.lines.iter().map(|l| l.variant_id).collect();
    let cards = state.catalog.variants(&ids).await?;
    Ok(build_view(stored, &cards, guest))
}

/// What a cart change names, looked up.
enum Item {
    OnSale(VariantCard),
    /// A variant id that is not on sale (any more): its line may still be removed.
    Gone(i64),
}

/// Finds the variant `item` names. `product_id` alone stands for a product's only variant; for a
/// product with several the answer is a 422 naming the options to choose. With both ids, the
/// variant must belong to that product.
async fn resolve(state: &AppState, item: &ItemRef) -> Result<Item, AppError> {
    match (item.variant_id, item.product_id) {
        (Some(variant_id), product_id) => match state.catalog.variant(variant_id).await? {
            Some(card) if product_id.is_some_and(|p| p != card.product_id) => {
                Err(AppError::Invalid("That variant belongs to another product.".into()))
            }
            Some(card) => Ok(Item::OnSale(card)),
            None => Ok(Item::Gone(variant_id)),
        },
        (None, Some(product_id)) => {
            let Some(product) = state.catalog.product_variants(product_id).await? else {
                // Lines saved before variants hold the product's id, which is its variant's id.
                return Ok(Item::Gone(product_id));
            };
            match product.ids.as_slice() {
                [only] => Ok(state.catalog.variant(*only).await?.map_or(Item::Gone(*only), Item::OnSale)),
                [] => Ok(Item::Gone(product_id)),
                _ => Err(AppError::Invalid(format!(
                    "{} comes in several versions: choose {} (send variant_id).",
                    product.name,
                    product.option_names.join(" and ")
                ))),
            }
        }
        (None, None) => Err(AppError::BadRequest("Name the item: variant_id (or product_id).".into())),
    }
}

async fn read_lines(state: &AppState, visitor: &Visitor) -> Result<CartView, AppError> {
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

/// The current cart, priced for this shopper (discounts, shipping estimate, tax, total).
pub async fn read(state: &AppState, visitor: &Visitor) -> Result<CartView, AppError> {
    priced(state, visitor, read_lines(state, visitor).await?).await
}

/// Adds `view.pricing` for this shopper's code and destination.
pub async fn priced(state: &AppState, visitor: &Visitor, mut view: CartView) -> Result<CartView, AppError> {
    super::pricing::price_view(state, visitor, &mut view).await?;
    Ok(view)
}

/// Adds (`Mode::Add`) or sets (`Mode::Set`, 0 removes) a line, capped at stock and the line maximum.
pub async fn change(
    state: &AppState,
    visitor: &Visitor,
    item: ItemRef,
    mode: Mode,
    quantity: u32,
) -> Result<CartView, AppError> {
    let view = change_lines(state, visitor, item, mode, quantity).await?;
    priced(state, visitor, view).await
}

async fn change_lines(
    state: &AppState,
    visitor: &Visitor,
    item: ItemRef,
    mode: Mode,
    quantity: u32,
) -> Result<CartView, AppError> {
    let item = resolve(state, &item).await?;
    let owner = visitor.start_cart().await?;
    let card = match item {
        Item::OnSale(card) => card,
        Item::Gone(variant_id) if mode == Mode::Set && quantity == 0 => {
            // Removing a line whose product has gone is always allowed.
            let stored = state.carts.remove(&owner, variant_id).await?;
            return view_of(state, &stored, owner.is_guest()).await;
        }
        Item::Gone(_) => return Err(AppError::Invalid("That product does not exist or is no longer sold.".into())),
    };
    let variant_id = card.id;
    let cap = line_cap(card.stock);
    if cap == 0 && quantity > 0 {
        return Err(AppError::Invalid(format!("{} is sold out.", card.label())));
    }
    let request = LineChange { variant_id, mode, quantity, cap, price_cents: card.price_cents, max_lines: MAX_LINES };
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
        // Signals are per product: recommendations are served per product.
        super::recs::record_signal(state, visitor, crate::domain::recs::Signal::Cart, card.product_id).await;
        super::experiments::record_step(state, visitor, crate::domain::experiments::Step::AddToCart).await;
    }
    let mut view = view_of(state, &change.cart, owner.is_guest()).await?;
    if change.capped {
        view.notices.insert(
            0,
            if card.stock < i64::from(MAX_QUANTITY) {
                format!("Only {} of {} in stock, so your cart has {}.", card.stock, card.label(), change.quantity)
            } else {
                format!(
                    "At most {cap} of one product per order, so your cart has {} of {}.",
                    change.quantity,
                    card.label()
                )
            },
        );
    }
    Ok(view)
}

pub async fn remove(state: &AppState, visitor: &Visitor, item: ItemRef) -> Result<CartView, AppError> {
    let view = remove_line(state, visitor, item).await?;
    priced(state, visitor, view).await
}

async fn remove_line(state: &AppState, visitor: &Visitor, item: ItemRef) -> Result<CartView, AppError> {
    let Some(owner) = visitor.cart_owner().await? else {
        return Ok(CartView { guest: true, ..CartView::default() });
    };
    let variant_id = match resolve(state, &item).await? {
        Item::OnSale(card) => card.id,
        Item::Gone(id) => id,
    };
    let stored = state.carts.remove(&owner, variant_id).await?;
    state.cart_sync.changed(&owner);
    metrics::counter!("shop_cart_operations_total", "op" => "remove", "outcome" => "ok").increment(1);
    view_of(state, &stored, owner.is_guest()).await
}

pub async fn clear(state: &AppState, visitor: &Visitor) -> Result<CartView, AppError> {
    let view = clear_lines(state, visitor).await?;
    priced(state, visitor, view).await
}

async fn clear_lines(state: &AppState, visitor: &Visitor) -> Result<CartView, AppError> {
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
/// A cart that exists on the server is never overwritten: the server wins. The copy's discount
/// code comes back too when the session has none, if it still applies.
pub async fn restore(
    state: &AppState,
    visitor: &Visitor,
    lines: Vec<ClientLine>,
    code: Option<String>,
) -> Result<CartView, AppError> {
    let mut notices = Vec::new();
    let mut view = restore_lines(state, visitor, lines).await?;
    if let Some(code) = code.filter(|c| !c.trim().is_empty()) {
        if super::pricing::choices(visitor).await.code.is_none() && !view.lines.is_empty() {
            if let Err(e) = super::pricing::apply_code(state, visitor, &view, &code).await {
                notices.push(e.message());
            }
        }
    }
    view.notices.extend(notices);
    priced(state, visitor, view).await
}

async fn restore_lines(state: &AppState, visitor: &Visitor, lines: Vec<ClientLine>) -> Result<CartView, AppError> {
    if visitor.user_id().await?.is_some() {
        // Accounts keep their cart on the server; a browser copy never overrides it.
        return read_lines(state, visitor).await;
    }
    // Each line resolved to a variant; one that names nothing on sale is dropped below.
    let mut resolved = Vec::with_capacity(lines.len());
    for line in &lines {
        let id = match resolve(state, &line.item()).await {
            Ok(Item::OnSale(card)) => card.id,
            Ok(Item::Gone(id)) => id,
            // Ambiguous or unnamed: nothing the server could keep.
            Err(AppError::Invalid(_) | AppError::BadRequest(_)) => 0,
            Err(e) => return Err(e),
        };
        resolved.push((id, line.quantity));
    }
    let ids: Vec<i64> = resolved.iter().map(|(id, _)| *id).filter(|id| *id > 0).collect();
    let cards = state.catalog.variants(&ids).await?;
    let (kept, adjustments) = validate_client_lines(&resolved, &cards);
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
