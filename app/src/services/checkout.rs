//! Checkout and orders: the summary the shopper confirms, placing that order exactly once, the
//! payment capture after it, and who may see an order.

use super::cart::view_of;
use super::visitor::Visitor;
use crate::domain::accounts::normalize_email;
use crate::domain::cart::cart_problems;
use crate::domain::checkout::{request_fingerprint, valid_idempotency_key, Address, Quote};
use crate::domain::experiments::Step;
use crate::engines::payments::PaymentError;
use crate::error::AppError;
use crate::model::{AdminOrder, CartView, CheckoutSummary, OrderSummary, OrderView, PlacedOrder};
use crate::state::AppState;
use crate::storage::cart_store::CartOwner;
use crate::storage::carts::Begin;
use crate::storage::orders::{LineProblem, NewOrder, OrderPricing, PlaceOutcome, StoredOrder};
use std::time::Duration;

/// Orders a guest placed in this session, so the confirmation page works without the key.
const RECENT_ORDERS_KEY: &str = "recent_orders";
/// How long a repeated submission waits for the first one (same idempotency key) to finish.
const SAME_KEY_WAIT: Duration = Duration::from_secs(5);

pub struct PlaceRequest {
    /// The shipping method chosen in the form, if any.
    pub method_id: Option<i64>,
    pub idempotency_key: String,
    /// The summary's `quote`: what the shopper saw and confirmed.
    pub quote: String,
    pub email: String,
    pub address: Address,
}

pub async fn summary(state: &AppState, visitor: &Visitor) -> Result<CheckoutSummary, AppError> {
    super::experiments::record_step(state, visitor, Step::CheckoutStarted).await;
    priced_summary(state, visitor).await
}

/// The order as it would be placed now, read from the cart's store of record and priced with
/// the catalogue, with the quote that placing it must confirm.
async fn priced_summary(state: &AppState, visitor: &Visitor) -> Result<CheckoutSummary, AppError> {
    let mut cart = match visitor.cart_owner().await? {
        Some(owner) => {
            let read = state.carts.load_for_checkout(&owner).await?;
            let mut view = view_of(state, &read.cart, owner.is_guest()).await?;
            view.notices.extend(read.notice);
            view
        }
        None => CartView { guest: true, ..CartView::default() },
    };
    let email = match visitor.user_id().await? {
        Some(id) => state.users.by_id(id).await?.map(|u| u.email),
        None => None,
    };
    let priced = super::pricing::price_view(state, visitor, &mut cart).await?;
    Ok(CheckoutSummary {
        problems: cart_problems(&cart),
        shipping_cents: cart.pricing.shipping_cents,
        total_cents: priced.cart.total_cents,
        quote: Quote::of(cart.version, &priced.cart, &priced.context()).token(),
        cart,
        email,
        idempotency_key: uuid::Uuid::new_v4().to_string(),
    })
}

/// Nothing was placed because the cart is not what the shopper confirmed: a 409 carrying what
/// the order would be now. The catalogue's copies of those products are refreshed first, so a
/// stale copy cannot hand out the old price again.
async fn changed(state: &AppState, visitor: &Visitor, message: String) -> AppError {
    if let Ok(Some(owner)) = visitor.cart_owner().await {
        if let Ok(read) = state.carts.load_for_checkout(&owner).await {
            let ids: Vec<i64> = read.cart.lines.iter().map(|l| l.variant_id).collect();
            state.catalog.refresh_variants(&ids).await;
        }
    }
    metrics::counter!("shop_orders_total", "outcome" => "changed").increment(1);
    match priced_summary(state, visitor).await {
        Ok(summary) => AppError::CheckoutChanged { message, summary: Box::new(summary) },
        Err(e) => e,
    }
}

const CHANGED: &str =
    "Your cart or its prices changed since you confirmed your order. Nothing was charged: please check the new total and place the order again.";

fn problem_message(problems: &[LineProblem]) -> String {
    problems
        .iter()
        .map(|p| match p {
            LineProblem::Short { name, available: 0, .. } => format!("{name} has just sold out."),
            LineProblem::Short { name, available, .. } => format!("Only {available} left of {name}."),
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

/// Places the order the shopper confirmed (`req.quote`), once per idempotency key and once per
/// cart version.
pub async fn place(state: &AppState, visitor: &Visitor, req: PlaceRequest) -> Result<PlacedOrder, AppError> {
    let stale_form = || AppError::BadRequest("The checkout form is out of date. Reload the page and try again.".into());
    if !valid_idempotency_key(&req.idempotency_key) {
        return Err(stale_form());
    }
    let quote = Quote::parse(&req.quote).ok_or_else(stale_form)?;
    let email = normalize_email(&req.email)?;
    let address = Address::validated(&req.address)
        .map_err(|problems| AppError::Invalid(problems.into_iter().map(|p| p.message).collect::<Vec<_>>().join(" ")))?;
    let user_id = visitor.user_id().await?;
    let owner = visitor.cart_owner().await?;
    // An account's cart is keyed by the account, so this names the account or the guest cart.
    let buyer = owner.as_ref().map_or_else(|| "anonymous".to_string(), |o| o.key());
    let fingerprint = request_fingerprint(&buyer, &email, &address);

    // The same key again (double click, resubmit, retry): the same order, or a refusal.
    if let Some(existing) = state.orders.by_key(&req.idempotency_key).await? {
        return replay(existing, &fingerprint);
    }
    let Some(owner) = owner else { return Err(AppError::Invalid("Your cart is empty.".into())) };
    // Shipping and tax follow the address: a country other than the one the summary was for
    // becomes the cart's destination, and the quote (made for the other) no longer matches.
    let before = super::pricing::choices(visitor).await;
    let method_changed = req.method_id.is_some() && req.method_id != before.method_id;
    if before.country.as_deref() != Some(address.country.as_str()) || method_changed {
        // A method of the previous country's zone is not one of this country's: its first then.
        if super::pricing::set_delivery(state, visitor, &address.country, req.method_id).await.is_err() {
            super::pricing::set_delivery(state, visitor, &address.country, None).await?;
        }
    }
    let choices = super::pricing::choices(visitor).await;
    if state.pricing.config().await?.zone_for(&address.country).is_none_or(|z| z.methods.is_empty()) {
        return Err(AppError::Invalid("We do not ship to that country yet.".into()));
    }
    let pricing = OrderPricing {
        code: choices.code,
        country: address.country.clone(),
        method_id: choices.method_id,
        customer: super::pricing::customer_key(user_id),
    };
    let id = uuid::Uuid::new_v4().to_string();
    let order = NewOrder {
        reference: format!("CL-{}", id[..8].to_uppercase()),
        id,
        user_id,
        email,
        address,
        access_token: random_hex(16),
        idempotency_key: req.idempotency_key.clone(),
        request_hash: fingerprint.clone(),
        payment_ref: String::new(),
        quote,
        pricing,
        subject: visitor.subject().await.key(),
    };
    // From the payment authorisation to the capture, nothing may be abandoned halfway (a
    // browser that goes away must not leave a payment held or a cart claimed): that part runs
    // on its own task, which finishes whatever happens to this request.
    let committed =
        tokio::spawn(commit(state.clone(), owner.clone(), order)).await.map_err(|_| AppError::internal())?;
    let key = &req.idempotency_key;
    match committed? {
        Committed::Placed(placed) => {
            metrics::counter!("shop_orders_total", "outcome" => "placed").increment(1);
            after_placed(state, visitor, &owner, &placed.view.id).await;
            super::experiments::record_step(state, visitor, Step::OrderPlaced).await;
            Ok(PlacedOrder { url: confirmation_url(&placed), order: placed.view, created: true })
        }
        Committed::KeyUsed(existing) => replay(existing, &fingerprint),
        Committed::Refused(message) => after_refusal(state, visitor, key, &fingerprint, &message).await,
        Committed::PromotionGone { message, code } => {
            // The code cannot be used any more: it comes off the cart, and the shopper sees the
            // total without it before confirming again.
            metrics::counter!("shop_orders_total", "outcome" => "promotion_gone").increment(1);
            // The cart pages' copy of the settings must not offer it again.
            state.pricing.invalidate();
            if code {
                super::pricing::remove_code(visitor).await;
            }
            Err(changed(state, visitor, message).await)
        }
        Committed::Busy(claim) => {
            // The same submission again while the first is still being placed: wait for it.
            if claim.id.split(':').nth(1) == Some(key.as_str()) {
                return wait_for_same_key(state, key, &fingerprint).await;
            }
            Err(AppError::Conflict(
                "This cart is being ordered in another window right now. Nothing was charged here.".into(),
            ))
        }
        Committed::Blocked(problems) => {
            metrics::counter!("shop_orders_total", "outcome" => "stock").increment(1);
            Err(AppError::Conflict(problems))
        }
        Committed::Problems(problems) => {
            metrics::counter!("shop_orders_total", "outcome" => "stock").increment(1);
            Err(AppError::Conflict(problem_message(&problems)))
        }
    }
}

/// How the committing part of an order ended.
enum Committed {
    Placed(StoredOrder),
    /// The idempotency key already had this order.
    KeyUsed(StoredOrder),
    /// The cart is not what the shopper confirmed; why, for the shopper.
    Refused(String),
    /// A promotion the quote counted on cannot be redeemed (used up, ended); why.
    PromotionGone {
        message: String,
        code: bool,
    },
    /// Another order holds the cart right now.
    Busy(crate::storage::cart_store::Claim),
    /// What stops the cart from being ordered as it is (sold out, no longer sold...).
    Blocked(String),
    Problems(Vec<LineProblem>),
}

/// Longest a payment provider call may take: well inside the claim timeout, so a claimed cart
/// is never given back while its order could still commit.
const PAYMENT_CALL_TIMEOUT: Duration = Duration::from_secs(10);

async fn with_timeout<T>(call: impl std::future::Future<Output = Result<T, PaymentError>>) -> Result<T, PaymentError> {
    tokio::time::timeout(PAYMENT_CALL_TIMEOUT, call).await.unwrap_or(Err(PaymentError::Unavailable))
}

/// Claims the cart, authorises the payment, places the order in one transaction, settles the
/// cart and captures the payment. Runs detached from the request (see `place`).
async fn commit(state: AppState, owner: CartOwner, mut order: NewOrder) -> Result<Committed, AppError> {
    let claim_id = format!("o:{}:{}", order.idempotency_key, order.id);
    let quote = order.quote.clone();
    let basket = match state.carts.begin_order(&owner, &claim_id, quote.version).await? {
        Begin::Ready(basket) => basket,
        Begin::Changed => return Ok(Committed::Refused(CHANGED.into())),
        Begin::Busy(claim) => return Ok(Committed::Busy(claim)),
        Begin::Ordered(reference) => return Ok(Committed::Refused(already_ordered(&reference))),
    };
    // Cheap refusals before any payment is authorised (the transaction checks all of it again).
    let cart = state.carts.basket(&basket).await?;
    if cart.version != quote.version {
        state.carts.order_abandoned(&basket, &claim_id).await;
        let earlier = state.orders.ordered_version(&owner, quote.version).await?;
        return Ok(Committed::Refused(refusal_message(&state, earlier).await?));
    }
    if cart.lines.is_empty() {
        state.carts.order_abandoned(&basket, &claim_id).await;
        return Err(AppError::Invalid("Your cart is empty.".into()));
    }
    let problems = cart_problems(&view_of(&state, &cart, owner.is_guest()).await?);
    if !problems.is_empty() {
        state.carts.order_abandoned(&basket, &claim_id).await;
        return Ok(Committed::Blocked(problems.join(" ")));
    }
    let authorization =
        match with_timeout(state.payments.authorize(quote.total_cents, quote.currency, &order.reference)).await {
            Ok(a) => a,
            Err(e) => {
                state.carts.order_abandoned(&basket, &claim_id).await;
                return Err(match e {
                    PaymentError::Declined => {
                        AppError::Invalid("Your payment was declined. Nothing was charged.".into())
                    }
                    PaymentError::Unavailable => {
                        AppError::Unavailable("Payments are unavailable right now. Nothing was charged.".into())
                    }
                });
            }
        };
    order.payment_ref = authorization.clone();
    let outcome = match state.orders.place(&order, &basket).await {
        Ok(o) => o,
        Err(e) => {
            // The commit may have gone through even though its answer was lost: look before
            // undoing anything.
            match state.orders.get(&order.id).await {
                Ok(Some(_)) => PlaceOutcome::Placed,
                Ok(None) => {
                    let _ = with_timeout(state.payments.void(&authorization)).await;
                    state.carts.order_abandoned(&basket, &claim_id).await;
                    return Err(e.into());
                }
                // Unknown: keep the claim and the authorisation; the claim is settled later from
                // what the database says.
                Err(_) => return Err(e.into()),
            }
        }
    };
    if !matches!(outcome, PlaceOutcome::Placed) {
        let _ = with_timeout(state.payments.void(&authorization)).await;
        state.carts.order_abandoned(&basket, &claim_id).await;
    }
    Ok(match outcome {
        PlaceOutcome::Placed => {
            // The cart must not outlive its order, whatever fails from here on.
            state.carts.order_placed(&basket, &claim_id).await;
            capture(&state, &order.id, &authorization).await;
            let placed = state.orders.get(&order.id).await?.ok_or_else(AppError::internal)?;
            state.catalog.sold(placed.view.lines.iter().map(|l| l.product_id).collect()).await;
            Committed::Placed(placed)
        }
        PlaceOutcome::KeyUsed(existing) => Committed::KeyUsed(*existing),
        PlaceOutcome::AlreadyOrdered(earlier) => Committed::Refused(refusal_message(&state, Some(earlier)).await?),
        PlaceOutcome::Changed => Committed::Refused(CHANGED.into()),
        PlaceOutcome::PromotionUnavailable { message, code } => Committed::PromotionGone {
            message: if code {
                format!("{message} It was removed from your cart. Nothing was charged: check the new total and place the order again.")
            } else {
                format!("{message} Nothing was charged: check the new total and place the order again.")
            },
            code,
        },
        PlaceOutcome::Empty => return Err(AppError::Invalid("Your cart is empty.".into())),
        PlaceOutcome::Problems(problems) => Committed::Problems(problems),
    })
}

/// Why a confirmed cart version cannot be ordered: `earlier` is what consumed it, if anything
/// (`Some(Some(order))`: an order; `Some(None)`: voided; `None`: the cart just changed).
async fn refusal_message(state: &AppState, earlier: Option<Option<String>>) -> Result<String, AppError> {
    if let Some(Some(order_id)) = earlier {
        if let Some(o) = state.orders.get(&order_id).await? {
            return Ok(already_ordered(&o.view.reference));
        }
    }
    Ok(CHANGED.to_string())
}

fn already_ordered(reference: &str) -> String {
    format!(
        "This cart was already ordered as {reference} (in another window, or with an earlier click). Nothing more was charged."
    )
}

/// A refused order: a concurrent request with this key may have just placed it (then this is a
/// replay); otherwise the shopper gets the new summary to confirm.
async fn after_refusal(
    state: &AppState,
    visitor: &Visitor,
    key: &str,
    fingerprint: &str,
    message: &str,
) -> Result<PlacedOrder, AppError> {
    match state.orders.by_key(key).await? {
        Some(existing) => replay(existing, fingerprint),
        None => Err(changed(state, visitor, message.to_string()).await),
    }
}

async fn wait_for_same_key(state: &AppState, key: &str, fingerprint: &str) -> Result<PlacedOrder, AppError> {
    let deadline = tokio::time::Instant::now() + SAME_KEY_WAIT;
    while tokio::time::Instant::now() < deadline {
        if let Some(existing) = state.orders.by_key(key).await? {
            return replay(existing, fingerprint);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(AppError::Conflict("This order is still being placed. Reload the page in a moment to see it.".into()))
}

/// Captures the authorised payment and records the outcome on the order. A failure is kept on
/// the order (`capture_failed`), shown to administrators and retried; the order stands.
async fn capture(state: &AppState, order_id: &str, authorization: &str) {
    let result = with_timeout(state.payments.capture(authorization)).await.map_err(|e| e.to_string());
    if let Err(e) = &result {
        tracing::error!(error = %e, order = %order_id, "capture failed after the order was placed; will retry");
        metrics::counter!("shop_payment_captures_total", "outcome" => "failed").increment(1);
    } else {
        metrics::counter!("shop_payment_captures_total", "outcome" => "captured").increment(1);
    }
    if let Err(e) = state.orders.record_capture(order_id, result).await {
        // The order stays `authorized`; the retry task captures it and records the outcome.
        tracing::error!(error = %e, order = %order_id, "could not record a capture");
    }
}

/// Orders whose capture failed or was never recorded, older than `after`: capture again, each
/// under a lease so that two instances (or an administrator) never capture one order at once.
/// Returns how many were captured now.
pub async fn retry_captures(state: &AppState, after: Duration, max_attempts: i64) -> Result<usize, AppError> {
    let before = crate::storage::db::now_ms() - after.as_millis() as i64;
    let pending = state.orders.uncaptured(before, max_attempts, 100).await?;
    let mut captured = 0;
    for (id, authorization, touched) in pending {
        if !state.orders.lease_capture(&id, touched).await? {
            continue;
        }
        capture(state, &id, &authorization).await;
        if state.orders.get(&id).await?.is_some_and(|o| o.payment_state == crate::storage::orders::payment::CAPTURED) {
            captured += 1;
        }
    }
    Ok(captured)
}

/// An administrator asks to capture one order's payment again.
pub async fn retry_capture(state: &AppState, id: &str) -> Result<AdminOrder, AppError> {
    let not_found = || AppError::NotFound("There is no such order.".into());
    let order = state.orders.get(id).await?.ok_or_else(not_found)?;
    if order.payment_state != crate::storage::orders::payment::CAPTURED {
        if !state.orders.lease_capture(id, order.payment_updated_at).await? {
            return Err(AppError::Conflict("This payment is being captured right now. Reload in a moment.".into()));
        }
        capture(state, id, &order.payment_ref).await;
    }
    state.orders.admin_view(id).await?.ok_or_else(not_found)
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

/// After the order is committed: let a guest see the order again, and tell the cart's other open
/// pages it is empty.
async fn after_placed(
    state: &AppState,
    visitor: &Visitor,
    owner: &crate::storage::cart_store::CartOwner,
    order_id: &str,
) {
    if owner.is_guest() {
        let mut recent: Vec<String> = visitor.session.get(RECENT_ORDERS_KEY).await.ok().flatten().unwrap_or_default();
        recent.push(order_id.to_string());
        if recent.len() > 10 {
            recent.remove(0);
        }
        let _ = visitor.session.insert(RECENT_ORDERS_KEY, recent).await;
    }
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
    // Order ids and keys are short: anything longer is not looked up.
    if id.len() > 64 || key.is_some_and(|k| k.len() > 64) {
        return Err(not_found());
    }
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
