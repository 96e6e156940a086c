//! Accounts: register, sign in (with the guest-cart merge), sign out.

use super::cart::view_of;
use super::visitor::{Visitor, PENDING_MERGE_KEY};
use crate::domain::merge::report_notices;
use crate::error::AppError;
use crate::model::{AuthAnswer, UserInfo};
use crate::state::AppState;
use crate::storage::cart_store::CartOwner;
use crate::storage::rate_limit::Window;
use crate::storage::sql_cart::MergeOutcome;
use crate::storage::users::{User, UserError};
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use std::sync::OnceLock;
use std::time::Duration;

pub const MIN_PASSWORD: usize = 8;
pub const MAX_PASSWORD: usize = 128;
/// Sign-in and sign-up attempts one address may have failing or in flight per window, over all
/// accounts (successful ones are taken back).
pub const ATTEMPTS_PER_ADDRESS: u64 = 50;
/// Sign-in attempts one address may make on one account per window. An attacker's address is
/// locked out of that account; the customer's own address is not.
pub const ATTEMPTS_PER_ADDRESS_AND_ACCOUNT: u64 = 10;
/// Sign-in attempts on one account, from any address, after which the account slows down: one
/// attempt per `account_delay` from browsers that never signed in to it, so guessing spread over
/// many addresses stays slow, while the customer's own browsers are never held up.
pub const ACCOUNT_SLOWDOWN_FROM: u64 = 10;
pub const ACCOUNT_MAX_DELAY: Duration = Duration::from_secs(30);
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// One attempt per this long on an account with `failures` recent failures: 1 s, doubling with
/// every failure, at most `ACCOUNT_MAX_DELAY`.
pub fn account_delay(failures: u64) -> Duration {
    let doublings = failures.saturating_sub(ACCOUNT_SLOWDOWN_FROM).min(16) as u32;
    Duration::from_secs(1u64 << doublings).min(ACCOUNT_MAX_DELAY)
}

const WRONG: &str = "That email and password do not match an account.";

/// Trims and lower-cases an email and checks its shape.
pub fn normalize_email(raw: &str) -> Result<String, AppError> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        });
    if valid {
        Ok(email)
    } else {
        Err(AppError::Invalid("Enter an email address like name@example.com.".into()))
    }
}

pub fn check_password(password: &str) -> Result<(), AppError> {
    let n = password.chars().count();
    if (MIN_PASSWORD..=MAX_PASSWORD).contains(&n) {
        Ok(())
    } else {
        Err(AppError::Invalid(format!("Passwords are {MIN_PASSWORD} to {MAX_PASSWORD} characters long.")))
    }
}

/// Argon2 takes tens of milliseconds of one core per hash. Left unbounded, a burst of sign-ins
/// fills every core and every other request slows with them; so hashing gets all cores but one,
/// and sign-ins queue (or, past `HASH_QUEUE_WAIT`, answer 503) while browsing and carts carry on.
fn hashing_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        tokio::sync::Semaphore::new(cores.saturating_sub(1).max(1))
    })
}

const HASH_QUEUE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs a password hash or check in a hashing slot, on the blocking pool.
async fn in_hashing_slot<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, AppError> {
    let busy = || AppError::Unavailable("Signing in is busy right now. Please try again in a moment.".into());
    let _slot = tokio::time::timeout(HASH_QUEUE_WAIT, hashing_slots().acquire())
        .await
        .map_err(|_| busy())?
        .map_err(|_| busy())?;
    tokio::task::spawn_blocking(work).await.map_err(|_| AppError::internal())
}

/// Argon2id with the crate's recommended parameters, in a hashing slot.
pub async fn hash_password(password: String) -> Result<String, AppError> {
    in_hashing_slot(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string())
    })
    .await?
    .map_err(|e| {
        tracing::error!(error = %e, "password hashing failed");
        AppError::internal()
    })
}

/// A hash of nothing in particular, verified against when the email is unknown so that a wrong
/// email takes as long as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default().hash_password(b"decoy password", &salt).map(|h| h.to_string()).unwrap_or_default()
    })
}

async fn verify_password(password: String, hash: Option<String>) -> Result<bool, AppError> {
    in_hashing_slot(move || {
        let hash = hash.unwrap_or_else(|| decoy_hash().to_string());
        PasswordHash::new(&hash)
            .is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await
}

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
    let ip = limit_address(&Visitor::client_ip(state.config.trust_proxy).await);
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

/// The address as rate limits count it: an IPv6 address by its /64 (what one host usually
/// gets), so an attacker cannot take a fresh address from their own block for every guess.
fn limit_address(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        _ => ip.to_string(),
    }
}

pub async fn login(state: &AppState, visitor: &Visitor, email: &str, password: String) -> Result<AuthAnswer, AppError> {
    let ip = limit_address(&Visitor::client_ip(state.config.trust_proxy).await);
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
    if let (None, Some(anon)) = (current, Visitor::anon_id()) {
        let (from, to) = (format!("a:{anon}"), format!("u:{}", user.id));
        // What this browser did as a guest now informs the account's recommendations, and the
        // experiments it is in stay as they were.
        state.events.relabel(&from, &to);
        state.experiments.on_sign_in(visitor, &from, &to).await;
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
    let cart = view_of(state, &read.cart, false).await?;
    Ok(AuthAnswer { user: info(user), cart, notices })
}

/// Merges guest cart `guest` into account `user_id` once. Returns the notices for the shopper,
/// or `None` when there was nothing (left) to merge.
pub async fn merge_guest(state: &AppState, guest: &CartOwner, user_id: i64) -> Result<Option<Vec<String>>, AppError> {
    match state.carts.merge_guest(guest, user_id, &state.catalog).await? {
        MergeOutcome::Merged { report, .. } => {
            metrics::counter!("shop_cart_merges_total", "outcome" => "merged").increment(1);
            Ok(Some(report_notices(&report)))
        }
        MergeOutcome::AlreadyMerged => {
            metrics::counter!("shop_cart_merges_total", "outcome" => "already_merged").increment(1);
            Ok(None)
        }
        MergeOutcome::Nothing => Ok(None),
    }
}

/// Retries a merge that failed at sign-in, if one is pending for this session.
pub async fn retry_pending_merge(state: &AppState, visitor: &Visitor, user_id: i64) -> Vec<String> {
    let Ok(Some(key)) = visitor.session.get::<String>(PENDING_MERGE_KEY).await else { return vec![] };
    let Some(guest) = key.strip_prefix("g:").map(|h| CartOwner::Guest(h.to_string())) else {
        let _ = visitor.session.remove::<String>(PENDING_MERGE_KEY).await;
        return vec![];
    };
    match merge_guest(state, &guest, user_id).await {
        Ok(notices) => {
            let _ = visitor.session.remove::<String>(PENDING_MERGE_KEY).await;
            notices.unwrap_or_default()
        }
        Err(e) => {
            tracing::warn!(error = %e, "pending guest-cart merge still failing");
            vec![]
        }
    }
}

pub async fn logout(visitor: &Visitor) -> Result<(), AppError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(normalize_email("  Ann@Example.COM ").unwrap(), "ann@example.com");
        for bad in ["", "ann", "ann@", "@example.com", "ann@example", "a nn@example.com", "ann@.com", "a@b@c.com"] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
        assert!(normalize_email(&format!("{}@example.com", "a".repeat(250))).is_err());
    }

    #[test]
    fn addresses_are_limited_by_host_and_ipv6_by_its_64() {
        assert_eq!(limit_address("203.0.113.9"), "203.0.113.9");
        assert_eq!(limit_address("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(limit_address("2001:db8:1:2:bbbb::7"), limit_address("2001:db8:1:2:aaaa::1"));
        assert_eq!(limit_address("unknown"), "unknown");
    }

    #[test]
    fn account_delays_double_up_to_the_cap() {
        assert_eq!(account_delay(ACCOUNT_SLOWDOWN_FROM), Duration::from_secs(1));
        assert_eq!(account_delay(ACCOUNT_SLOWDOWN_FROM + 2), Duration::from_secs(4));
        assert_eq!(account_delay(ACCOUNT_SLOWDOWN_FROM + 40), ACCOUNT_MAX_DELAY);
    }

    #[test]
    fn password_length_is_8_to_128_characters() {
        assert!(check_password("1234567").is_err());
        assert!(check_password("12345678").is_ok());
        assert!(check_password(&"é".repeat(128)).is_ok(), "characters, not bytes");
        assert!(check_password(&"x".repeat(129)).is_err());
    }

    #[tokio::test]
    async fn hashing_never_takes_every_core() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (running, most) = (running.clone(), most.clone());
                tokio::spawn(in_hashing_slot(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    running.fetch_sub(1, Ordering::SeqCst);
                }))
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let most = most.load(Ordering::SeqCst);
        assert!((1..=cores.saturating_sub(1).max(1)).contains(&most), "{most} hashes at once on {cores} cores");
    }

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let hash = hash_password("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse".into(), Some(hash.clone())).await.unwrap());
        assert!(!verify_password("wrong horse".into(), Some(hash)).await.unwrap());
        assert!(!verify_password("anything".into(), None).await.unwrap());
    }
}
