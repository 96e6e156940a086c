//! Accounts: register, sign in (with the guest-cart merge), sign out.

use super::cart::view_of;
use super::merge::merge_guest;
use super::passwords::{hash_password, verify_password};
use super::visitor::{Visitor, PENDING_MERGE_KEY};
use crate::domain::accounts::{
    account_delay, check_password, limit_address, normalize_email, ACCOUNT_SLOWDOWN_FROM, ATTEMPTS_PER_ADDRESS,
    ATTEMPTS_PER_ADDRESS_AND_ACCOUNT, FAILURE_WINDOW, MAX_PASSWORD,
};
use crate::domain::experiments::Subject;
use crate::error::AppError;
use crate::model::{AuthAnswer, UserInfo};
use crate::state::AppState;
use crate::storage::cart_store::CartOwner;
use crate::storage::rate_limit::Window;
use crate::storage::users::{User, UserError};

const WRONG: &str = "That email and password do not match an account.";

fn info(user: &User) -> UserInfo {
    UserInfo { id: user.id, email: user.email.clone(), is_admin: user.is_admin() }
}

pub async fn register(
    state: &AppState,
    visitor: &Visitor,
    email: &str,
    password: String,
) -> Result<AuthAnswer, AppError> {
    let email = normalize_email(email)?;
    check_password(&password)?;
    let ip = limit_address(visitor.address());
    // Registrations count against the address too, so the form cannot be used to probe which
    // emails have accounts at speed. Counted first; a successful sign-up is taken back.
    let ip_key = format!("login:ip:{ip}");
    refuse_over(state.login_failures.hit(&ip_key, FAILURE_WINDOW, ATTEMPTS_PER_ADDRESS).await, ATTEMPTS_PER_ADDRESS)?;
    let hash = hash_password(password).await?;
    let user = match state.users.create(&email, &hash, "customer").await {
        Ok(u) => u,
        Err(UserError::Taken) => {
            return Err(AppError::Conflict("An account with this email already exists. Sign in instead.".into()));
        }
        Err(UserError::Db(e)) => {
            state.login_failures.undo(&ip_key).await;
            return Err(e.into());
        }
    };
    state.login_failures.undo(&ip_key).await;
    metrics::counter!("shop_auth_total", "op" => "register", "outcome" => "ok").increment(1);
    sign_in(state, visitor, &user).await
}

/// 429 when a counted window is over `max`.
fn refuse_over(w: Window, max: u64) -> Result<(), AppError> {
    if w.count > max {
        metrics::counter!("shop_auth_total", "op" => "login", "outcome" => "rate_limited").increment(1);
        return Err(AppError::RateLimited {
            message: "Too many attempts. Please wait a few minutes and try again.".into(),
            retry_after_secs: w.resets_in_secs.max(1),
        });
    }
    Ok(())
}

pub async fn login(state: &AppState, visitor: &Visitor, email: &str, password: String) -> Result<AuthAnswer, AppError> {
    let ip = limit_address(visitor.address());
    // A malformed email or password cannot match an account: same answer as a wrong one.
    let email = normalize_email(email).unwrap_or_else(|_| email.trim().to_lowercase().chars().take(254).collect());
    let counters = &state.login_failures;
    // Every attempt is counted before the password is checked, so a burst of guesses cannot all
    // be tried under a limit; attempts that succeed are taken back.
    let ip_key = format!("login:ip:{ip}");
    let pair_key = format!("login:pair:{ip}:{email}");
    let account_key = format!("login:account:{email}");
    let gate_key = format!("login:gate:{email}");
    refuse_over(counters.hit(&ip_key, FAILURE_WINDOW, ATTEMPTS_PER_ADDRESS).await, ATTEMPTS_PER_ADDRESS)?;
    let pair = counters.hit(&pair_key, FAILURE_WINDOW, ATTEMPTS_PER_ADDRESS_AND_ACCOUNT).await;
    refuse_over(pair, ATTEMPTS_PER_ADDRESS_AND_ACCOUNT)?;
    let attempts = counters.hit(&account_key, FAILURE_WINDOW, u64::MAX).await.count;
    // Slowed down: one attempt per delay for this account, from browsers it has never signed in
    // on; its owner's own browsers are not held up by guessing elsewhere.
    if attempts > ACCOUNT_SLOWDOWN_FROM && !visitor.is_known_device_for(&email) {
        refuse_over(counters.hit(&gate_key, account_delay(attempts), 1).await, 1)?;
    }
    let user = if password.chars().count() <= MAX_PASSWORD { state.users.by_email(&email).await? } else { None };
    let ok = verify_password(password, user.as_ref().map(|u| u.password_hash.clone())).await?;
    let Some(user) = user.filter(|_| ok) else {
        metrics::counter!("shop_auth_total", "op" => "login", "outcome" => "wrong").increment(1);
        return Err(AppError::Unauthorized(WRONG.into()));
    };
    counters.undo(&ip_key).await;
    counters.reset_all(&[&pair_key, &account_key, &gate_key]).await;
    metrics::counter!("shop_auth_total", "op" => "login", "outcome" => "ok").increment(1);
    sign_in(state, visitor, &user).await
}

/// Switches the session to `user` under a new id and merges this browser's guest cart into the
/// account's. The sign-in stands even if the merge fails; the merge is then retried later.
async fn sign_in(state: &AppState, visitor: &Visitor, user: &User) -> Result<AuthAnswer, AppError> {
    let current = visitor.user_id().await?;
    let guest = if current.is_none() { visitor.guest_owner().await? } else { None };
    visitor.sign_in(user.id).await?;
    visitor.remember_device(&user.email);
    if let (None, Some(anon)) = (current, visitor.anon_id()) {
        let (from, to) = (Subject::Anon(anon.to_string()), Subject::User(user.id));
        // What this browser did as a guest now informs the account's recommendations, and the
        // experiments it is in stay as they were.
        state.events.relabel(&from.key(), &to.key());
        super::experiments::on_sign_in(state, visitor, &from, &to).await;
    }
    let mut notices = Vec::new();
    if let Some(guest) = guest {
        match merge_guest(state, &guest, user.id).await {
            Ok(Some(report)) => {
                state.cart_sync.changed(&CartOwner::User(user.id));
                notices.extend(report)
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %e, user = user.id, "merging the guest cart failed; will retry");
                metrics::counter!("shop_cart_merges_total", "outcome" => "failed").increment(1);
                let _ = visitor.session.insert(PENDING_MERGE_KEY, guest.key()).await;
                notices.push(
                    "We could not add your guest cart to your account just now; we will try again shortly.".into(),
                );
            }
        }
    }
    let owner = CartOwner::User(user.id);
    let read = state.carts.load(&owner).await?;
    // Priced for the signed-in account: a code limited per customer now counts this account.
    let cart = super::cart::priced(state, visitor, view_of(state, &read.cart, false).await?).await?;
    Ok(AuthAnswer { user: info(user), cart, notices })
}

pub async fn logout(state: &AppState, visitor: &Visitor) -> Result<(), AppError> {
    if let Some(uid) = visitor.session_user().await? {
        // Written behind, the account's cart goes to the database now, while the session is
        // still known to be its owner's; if that fails the flusher writes it shortly.
        if let Err(e) = state.carts.persist(&CartOwner::User(uid)).await {
            tracing::warn!(error = %e, "could not write the cart to the database at sign-out");
        }
    }
    visitor.sign_out().await?;
    metrics::counter!("shop_auth_total", "op" => "logout", "outcome" => "ok").increment(1);
    Ok(())
}

/// Admin pages and endpoints: 401 for guests, 403 for customers. Only a live session counts
/// (no stand-in while the session store is unreachable).
pub async fn require_admin(state: &AppState, visitor: &Visitor) -> Result<User, AppError> {
    let Some(id) = visitor.session_user().await? else {
        return Err(AppError::Unauthorized("Sign in with an administrator account.".into()));
    };
    match state.users.by_id(id).await? {
        Some(user) if user.is_admin() => Ok(user),
        _ => Err(AppError::Forbidden("This needs an administrator account.".into())),
    }
}

/// Creates an administrator, or makes an existing account one (`server admin create`).
pub async fn create_admin(state: &AppState, email: &str, password: String) -> Result<User, AppError> {
    let email = normalize_email(email)?;
    check_password(&password)?;
    let hash = hash_password(password).await?;
    match state.users.create(&email, &hash, "admin").await {
        Ok(user) => Ok(user),
        Err(UserError::Taken) => {
            state.users.set_role(&email, "admin").await?;
            state.users.by_email(&email).await?.ok_or_else(AppError::internal)
        }
        Err(UserError::Db(e)) => Err(e.into()),
    }
}

pub async fn me(state: &AppState, visitor: &Visitor) -> Result<Option<UserInfo>, AppError> {
    let Some(id) = visitor.user_id().await? else { return Ok(None) };
    Ok(state.users.by_id(id).await?.as_ref().map(info))
}
