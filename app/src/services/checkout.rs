//! Checkout and orders: the summary, placing an order exactly once, and who may see an order.

use super::cart::{store_for, view_of};
use super::payments::PaymentError;
use super::visitor::Visitor;
use crate::domain::checkout::{request_fingerprint, shipping_cents, valid_idempotency_key, Address};
use crate::domain::experiments::Step;
use crate::error::AppError;
use crate::model::{CartView, CheckoutSummary, OrderSummary, OrderView, PlacedOrder};
use crate::state::AppState;
use crate::storage::cart_store::CartOwner;
use crate::storage::orders::{LineProblem, NewOrder, NewOrderLine, PlaceOutcome, StoredOrder};

/// Orders a guest placed in this session, so the confirmation page works without the key.
const RECENT_ORDERS_KEY: &str = "recent_orders";

pub struct PlaceRequest {
    pub idempotency_key: String,
    pub email: String,
    pub address: Address,
}

fn cart_problems(cart: &CartView) -> Vec<String> {
    let mut problems = Vec::new();
    if cart.lines.iter().all(|l| !l.on_sale) {
        problems.push("Your cart is empty.".to_string());
    }
    for l in &cart.lines {
        if !l.on_sale {
            problems.push(format!("{} is no longer available: remove it to check out.", l.name));
        } else if l.stock_available <= 0 {
            problems.push(format!("{} is sold out: remove it to check out.", l.name));
        } else if l.stock_available < i64::from(l.quantity) {
            problems.push(format!("Only {} left of {}: lower the quantity to check out.", l.stock_available, l.name));
        }
    }
    problems
}

pub async fn summary(state: &AppState, visitor: &Visitor) -> Result<CheckoutSummary, AppError> {
    super::experiments::record_step(state, visitor, Step::CheckoutStarted).await;
    let cart = super::cart::read(state, visitor).await?;
    let email = match visitor.user_id().await? {
        Some(id) => state.users.by_id(id).await?.map(|u| u.email),
        None => None,
    };
    let shipping = shipping_cents(cart.subtotal_cents);
    Ok(CheckoutSummary {
        problems: cart_problems(&cart),
        shipping_cents: shipping,
        total_cents: cart.subtotal_cents + shipping,
        cart,
        email,
        idempotency_key: uuid::Uuid::new_v4().to_string(),
    })
}

fn problem_message(problems: &[LineProblem]) -> String {
    problems
        .iter()
        .map(|p| match p {
            LineProblem::Short { name, available: 0, .. } => format!("{name} has just sold out."),
            LineProblem::Short { name, available, .. } => format!("Only {available} left of {name}."),
            LineProblem::PriceChanged { name, .. } => format!("The price of {name} has just changed."),
            LineProblem::Unavailable { name, .. } => format!("{name} is no longer available."),
        })
        .collect::<Vec<_>>()
        .join(" ")
        + " Your cart is unchanged: review it and try again."
}

fn confirmation_url(order: &StoredOrder) -> String {
    format!("/orders/{}?key={}", order.view.id, order.access_token)
}

fn random_hex(bytes: usize) -> String {
    (0..bytes).map(|_| format!("{:02x}", rand::random::<u8>())).collect()
}

/// Places the order for the current cart, once per idempotency key.
pub async fn place(state: &AppState, visitor: &Visitor, req: PlaceRequest) -> Result<PlacedOrder, AppError> {
    if !valid_idempotency_key(&req.idempotency_key) {
        return Err(AppError::BadRequest("The checkout form is out of date. Reload the page and try again.".into()));
    }
    let email = super::auth::normalize_email(&req.email)?;
    let address = Address::validated(&req.address)
        .map_err(|problems| AppError::Invalid(problems.into_iter().map(|p| p.message).collect::<Vec<_>>().join(" ")))?;
    let user_id = visitor.user_id().await?;
    let owner = visitor.cart_owner(false).await?;
    let buyer = match (&owner, user_id) {
        (_, Some(id)) => format!("u:{id}"),
        (Some(o), None) => o.key(),
        (None, None) => "anonymous".into(),
    };
    let fingerprint = request_fingerprint(&buyer, &email, &address);

    // The same key again (double click, resubmit, retry): the same order, or a refusal.
    if let Some(existing) = state.orders.by_key(&req.idempotency_key).await? {
        return replay(existing, &fingerprint);
    }
    let Some(owner) = owner else { return Err(AppError::Invalid("Your cart is empty.".into())) };
    let stored = store_for(state, &owner).load(&owner).await?;
    let cart = view_of(state, &stored, owner.is_guest()).await?;
    let problems = cart_problems(&cart);
    if !problems.is_empty() {
        // A concurrent request with this key may have just placed the order (and emptied the cart).
        if let Some(existing) = state.orders.by_key(&req.idempotency_key).await? {
            return replay(existing, &fingerprint);
        }
        if cart.lines.is_empty() {
            return Err(AppError::Invalid("Your cart is empty.".into()));
        }
        return Err(AppError::Conflict(problems.join(" ")));
    }
    let shipping = shipping_cents(cart.subtotal_cents);
    let total = cart.subtotal_cents + shipping;
    let id = uuid::Uuid::new_v4().to_string();
    let reference = format!("CL-{}", id[..8].to_uppercase());
    let authorization = state.payments.authorize(total, cart.currency, &reference).await.map_err(|e| match e {
        PaymentError::Declined => AppError::Invalid("Your payment was declined. Nothing was charged.".into()),
        PaymentError::Unavailable => {
            AppError::Unavailable("Payments are unavailable right now. Nothing was charged.".into())
        }
    })?;
    let order = NewOrder {
        id: id.clone(),
        reference,
        user_id,
        email,
        currency: cart.currency,
        subtotal_cents: cart.subtotal_cents,
        shipping_cents: shipping,
        total_cents: total,
        address,
        access_token: random_hex(16),
        idempotency_key: req.idempotency_key.clone(),
        request_hash: fingerprint.clone(),
        payment_ref: authorization.clone(),
        lines: cart
            .lines
            .iter()
            .filter(|l| l.on_sale)
            .map(|l| NewOrderLine {
                product_id: l.product_id,
                name: l.name.clone(),
                unit_price_cents: l.unit_price_cents,
                quantity: l.quantity,
            })
            .collect(),
        subject: visitor.subject().await,
        clear_sql_cart: (!owner.is_guest() || state.guest_carts_in_sql()).then(|| owner.clone()),
    };
    let outcome = match state.orders.place(&order).await {
        Ok(o) => o,
        Err(e) => {
            let _ = state.payments.void(&authorization).await;
            return Err(e.into());
        }
    };
    match outcome {
        PlaceOutcome::Placed => {
            if let Err(e) = state.payments.capture(&authorization).await {
                tracing::error!(error = %e, order = %id, "capture failed after the order was placed");
            }
            metrics::counter!("shop_orders_total", "outcome" => "placed").increment(1);
            // Stock changed: this instance's caches now, the others' without holding the reply.
            let sold: Vec<i64> = order.lines.iter().map(|l| l.product_id).collect();
            for &id in &sold {
                state.catalog.invalidate_product(id).await;
            }
            let catalog = state.catalog.clone();
            tokio::spawn(async move {
                for id in sold {
                    catalog.announce(id).await;
                }
            });
            after_placed(state, visitor, &owner, &id).await;
            super::experiments::record_step(state, visitor, Step::OrderPlaced).await;
            let placed = state.orders.get(&id).await?.ok_or_else(AppError::internal)?;
            Ok(PlacedOrder { url: confirmation_url(&placed), order: placed.view, created: true })
        }
        PlaceOutcome::KeyUsed(existing) => {
            let _ = state.payments.void(&authorization).await;
            replay(*existing, &fingerprint)
        }
        PlaceOutcome::Problems(problems) => {
            let _ = state.payments.void(&authorization).await;
            metrics::counter!("shop_orders_total", "outcome" => "stock").increment(1);
            if problems.is_empty() {
                return Err(AppError::Conflict("Your order could not be placed just now. Please try again.".into()));
            }
            Err(AppError::Conflict(problem_message(&problems)))
        }
    }
}

fn replay(existing: StoredOrder, fingerprint: &str) -> Result<PlacedOrder, AppError> {
    if existing.request_hash != fingerprint {
        metrics::counter!("shop_orders_total", "outcome" => "key_conflict").increment(1);
        return Err(AppError::Conflict(
            "This checkout was already used for a different order. Reload the page to start a new one.".into(),
        ));
    }
    metrics::counter!("shop_orders_total", "outcome" => "replayed").increment(1);
    Ok(PlacedOrder { url: confirmation_url(&existing), order: existing.view, created: false })
}

/// After the order is committed: empty a cart kept in Redis, and let a guest see the order again.
async fn after_placed(state: &AppState, visitor: &Visitor, owner: &CartOwner, order_id: &str) {
    if owner.is_guest() && !state.guest_carts_in_sql() {
        if let Err(e) = state.guest_carts.clear(owner).await {
            tracing::warn!(error = %e, "order placed but the guest cart could not be emptied");
        }
    } else if let (CartOwner::User(_), Some(cache)) = (owner, &state.cart_cache) {
        cache.invalidate(owner).await;
    }
    if owner.is_guest() {
        let mut recent: Vec<String> = visitor.session.get(RECENT_ORDERS_KEY).await.ok().flatten().unwrap_or_default();
        recent.push(order_id.to_string());
        if recent.len() > 10 {
            recent.remove(0);
        }
        let _ = visitor.session.insert(RECENT_ORDERS_KEY, recent).await;
    }
    // Other open pages of this cart now show it empty.
    state.cart_sync.changed(owner);
}

/// An order, for its owner, for the session that placed it, or for whoever holds its key.
/// Everyone else gets "not found", so order ids cannot be probed.
pub async fn order_for(
    state: &AppState,
    visitor: &Visitor,
    id: &str,
    key: Option<&str>,
) -> Result<OrderView, AppError> {
    let not_found = || AppError::NotFound("We could not find that order.".into());
    let order = state.orders.get(id).await?.ok_or_else(not_found)?;
    let user = visitor.user_id().await?;
    let by_owner = order.user_id.is_some() && order.user_id == user;
    let by_key = key.is_some_and(|k| constant_time_eq(k.as_bytes(), order.access_token.as_bytes()));
    let by_session = order.user_id.is_none()
        && visitor
            .session
            .get::<Vec<String>>(RECENT_ORDERS_KEY)
            .await
            .ok()
            .flatten()
            .is_some_and(|ids| ids.iter().any(|x| x == id));
    if by_owner || by_key || by_session {
        Ok(order.view)
    } else {
        Err(not_found())
    }
}

pub async fn list(state: &AppState, visitor: &Visitor) -> Result<Vec<OrderSummary>, AppError> {
    let Some(user) = visitor.user_id().await? else {
        return Err(AppError::Unauthorized("Sign in to see your orders.".into()));
    };
    Ok(state.orders.for_user(user).await?)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
