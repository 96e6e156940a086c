//! Who is asking: the tower-sessions session of the request, the account (if signed in) and the
//! cart owner. The session holds identity only; its id is never used as a storage key directly,
//! only through a hash.
//!
//! Reading who the visitor is never writes the session. When the session store cannot be read
//! (Redis down), a signed-in browser is still recognised by its signed `acct` cookie, so an
//! outage never looks like a sign-out: the account's cart (kept in SQL) keeps working.

use crate::cookies::{self, Signer};
use crate::error::AppError;
use crate::state::AppState;
use crate::storage::cart_store::CartOwner;
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tower_sessions::Session;

pub const USER_KEY: &str = "uid";
/// A guest cart whose merge into the account failed at sign-in; retried on the next cart read.
pub const PENDING_MERGE_KEY: &str = "pending_merge";
/// Day number of the last visit; refreshed at most daily (`touch`) so active sessions keep
/// sliding forward without a store write on every request.
const SEEN_KEY: &str = "seen";
/// Signing purpose of the `acct` cookie.
const ACCOUNT_PURPOSE: &str = "acct";
/// Signing purpose of the device cookie (a browser that signed in to an account before).
const DEVICE_PURPOSE: &str = "dev";
/// How long a browser stays known for an account.
const DEVICE_DAYS: i64 = 365;

/// The long-lived anonymous id of a browser (the signed `aid` cookie), put in the request by the
/// server's middleware. Used for recommendations and experiment assignment, never for access.
/// `fresh`: minted for this very request (a first visit), so nothing personal is known yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnonId {
    pub id: String,
    pub fresh: bool,
}

/// Put into each page request by the page cache: set when rendering used anything personal (a
/// session, a flash message, a returning browser's id, a flag override). Such a page is never
/// cached for other visitors, whatever its cookies looked like.
#[derive(Clone, Debug, Default)]
pub struct PersonalRender(Arc<AtomicBool>);

impl PersonalRender {
    pub fn mark(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_marked(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Notes that the page being rendered used something personal (see `PersonalRender`).
pub fn mark_personal() {
    if let Some(parts) = leptos::prelude::use_context::<http::request::Parts>() {
        if let Some(marker) = parts.extensions.get::<PersonalRender>() {
            marker.mark();
        }
    }
}

#[derive(Clone)]
pub struct Visitor {
    pub session: Session,
    /// The account named by a valid `acct` cookie, and when it was issued; used only when the
    /// session cannot be read.
    signed_account: Option<(i64, i64)>,
    /// The signed device cookie's value, if any.
    device: Option<String>,
    signer: Signer,
    users: crate::storage::users::UserStore,
    secure_cookies: bool,
    session_lifetime: Duration,
}

/// The hash under which a device cookie names an account (not the email itself).
fn account_tag(email: &str) -> String {
    Sha256::digest(email.as_bytes()).iter().take(12).map(|b| format!("{b:02x}")).collect()
}

fn unavailable(e: impl std::fmt::Display) -> AppError {
    tracing::warn!(error = %e, "session store unavailable");
    AppError::Unavailable("We cannot reach your session right now. Please try again in a moment.".into())
}

/// A stable, non-reversible cart key for a session id.
pub fn guest_key(session_id: &str) -> String {
    let digest = Sha256::digest(session_id.as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

fn today() -> i64 {
    crate::storage::db::now_ms() / 86_400_000
}

/// Keeps a session that is in use from expiring: writes the day of the visit at most once a
/// day. Called once per request by the server; failures (a store outage) are ignored.
pub async fn touch(session: &Session) {
    if session.id().is_none() {
        return;
    }
    if let Ok(seen) = session.get::<i64>(SEEN_KEY).await {
        if seen != Some(today()) {
            let _ = session.insert(SEEN_KEY, today()).await;
        }
    }
}

impl Visitor {
    /// The visitor of `session`, with the request's cookies.
    pub fn new(state: &AppState, session: Session, headers: &http::HeaderMap) -> Visitor {
        let lifetime = state.config.session_inactivity;
        let signed_account = cookies::get(headers, cookies::ACCOUNT)
            .and_then(|v| state.signer.verify(ACCOUNT_PURPOSE, &v))
            .and_then(|v| {
                let (uid, issued) = v.split_once(':')?;
                let issued: i64 = issued.parse().ok()?;
                let age = crate::storage::db::now_ms() - issued;
                (0..lifetime.as_millis() as i64).contains(&age).then_some(())?;
                Some((uid.parse().ok()?, issued))
            });
        Visitor {
            session,
            signed_account,
            device: cookies::get(headers, cookies::DEVICE).and_then(|v| state.signer.verify(DEVICE_PURPOSE, &v)),
            signer: state.signer.clone(),
            users: state.users.clone(),
            secure_cookies: state.config.secure_cookies,
            session_lifetime: lifetime,
        }
    }

    /// The visitor of the current request (the session layer puts the session in the request).
    pub async fn current() -> Result<Visitor, AppError> {
        let session = leptos_axum::extract::<Session>().await.map_err(|e| {
            tracing::error!(error = %e, "no session layer on this request");
            AppError::internal()
        })?;
        let state = crate::state::app_state()?;
        let parts = leptos::prelude::use_context::<http::request::Parts>();
        let visitor =
            Visitor::new(&state, session, parts.as_ref().map(|p| &p.headers).unwrap_or(&http::HeaderMap::new()));
        if visitor.session.id().is_some() || visitor.signed_account.is_some() {
            mark_personal();
        }
        Ok(visitor)
    }

    /// The signed-in account, if any. Never writes. When the session store is unreachable, the
    /// signed `acct` cookie stands in, unless the account signed out since it was issued;
    /// without one, that is an error (503), not a sign-out.
    pub async fn user_id(&self) -> Result<Option<i64>, AppError> {
        match self.session_user().await {
            Err(e) => match self.signed_account {
                Some((uid, issued)) => match self.users.signed_out_at(uid).await? {
                    Some(signed_out) if signed_out < issued => {
                        metrics::counter!("shop_session_fallbacks_total").increment(1);
                        Ok(Some(uid))
                    }
                    _ => Err(e),
                },
                None => Err(e),
            },
            other => other,
        }
    }

    /// The account the session itself names: no stand-in while the store is unreachable (for
    /// what only a live session may do, such as administration).
    pub async fn session_user(&self) -> Result<Option<i64>, AppError> {
        if self.session.id().is_none() {
            return Ok(None);
        }
        self.session.get::<i64>(USER_KEY).await.map_err(unavailable)
    }

    /// The guest cart of this session, if the visitor is a guest with a session.
    pub async fn guest_owner(&self) -> Result<Option<CartOwner>, AppError> {
        if self.user_id().await?.is_some() {
            return Ok(None);
        }
        Ok(self.session.id().map(|id| CartOwner::Guest(guest_key(&id.to_string()))))
    }

    fn set_cookie(&self, value: Option<http::HeaderValue>) {
        if let (Some(value), Some(res)) = (value, leptos::prelude::use_context::<leptos_axum::ResponseOptions>()) {
            res.append_header(http::header::SET_COOKIE, value);
        }
    }

    /// Signs the session in as `user_id` under a new session id (no fixation), and gives the
    /// browser the signed `acct` cookie that names the account while the store is unreachable.
    pub async fn sign_in(&self, user_id: i64) -> Result<(), AppError> {
        if self.session.id().is_none() {
            self.session.insert(SEEN_KEY, today()).await.map_err(unavailable)?;
        }
        self.session.cycle_id().await.map_err(unavailable)?;
        self.session.insert(USER_KEY, user_id).await.map_err(unavailable)?;
        self.session.insert(SEEN_KEY, today()).await.map_err(unavailable)?;
        let value = self.signer.sign(ACCOUNT_PURPOSE, &format!("{user_id}:{}", crate::storage::db::now_ms()));
        let max_age = self.session_lifetime.as_secs() as i64;
        self.set_cookie(cookies::set_cookie(cookies::ACCOUNT, &value, max_age, self.secure_cookies));
        Ok(())
    }

    /// Ends the session: its record is deleted, the account's signed cookies stop standing in for
    /// it, and the browser starts over as a new guest.
    pub async fn sign_out(&self) -> Result<(), AppError> {
        if let Some(uid) = self.session_user().await? {
            self.users.mark_signed_out(uid).await?;
        }
        self.session.flush().await.map_err(unavailable)?;
        self.set_cookie(cookies::set_cookie(cookies::ACCOUNT, "", 0, self.secure_cookies));
        Ok(())
    }

    /// Whether this browser signed in to the account `email` before (its signed device cookie).
    pub fn is_known_device_for(&self, email: &str) -> bool {
        self.device.as_deref().and_then(|v| v.split_once(':')).is_some_and(|(tag, issued)| {
            let fresh =
                issued.parse::<i64>().is_ok_and(|t| crate::storage::db::now_ms() - t < DEVICE_DAYS * 86_400_000);
            fresh && tag == account_tag(email)
        })
    }

    /// Remembers this browser for the account `email` (after a successful sign-in), so that
    /// guessing on the account elsewhere never slows its owner down here.
    pub fn remember_device(&self, email: &str) {
        let value =
            self.signer.sign(DEVICE_PURPOSE, &format!("{}:{}", account_tag(email), crate::storage::db::now_ms()));
        self.set_cookie(cookies::set_cookie(cookies::DEVICE, &value, DEVICE_DAYS * 86_400, self.secure_cookies));
    }

    /// A first visit: the anonymous id was minted for this very request. Nothing is recorded
    /// about such visitors (views, exposures) until they come back, so traffic without cookies
    /// cannot fill the tables.
    pub fn is_first_visit() -> bool {
        leptos::prelude::use_context::<http::request::Parts>()
            .and_then(|p| p.extensions.get::<AnonId>().map(|a| a.fresh))
            .unwrap_or(false)
    }

    /// The browser's anonymous id, if it has one. A returning browser's id makes the page
    /// personal (its recommendations follow its history).
    pub fn anon_id() -> Option<String> {
        let parts = leptos::prelude::use_context::<http::request::Parts>()?;
        let anon = parts.extensions.get::<AnonId>()?;
        if !anon.fresh {
            mark_personal();
        }
        Some(anon.id.clone())
    }

    /// Who did something, for events: `u:<id>` for accounts, `a:<anonymous id>` otherwise.
    pub async fn subject(&self) -> String {
        match self.user_id().await {
            Ok(Some(id)) => format!("u:{id}"),
            _ => match Self::anon_id() {
                Some(a) => format!("a:{a}"),
                None => "a:unknown".into(),
            },
        }
    }

    /// The client's address, for rate limiting (see `client_address`).
    pub async fn client_ip(trust_proxy: bool) -> String {
        let peer = leptos_axum::extract::<axum::extract::ConnectInfo<std::net::SocketAddr>>().await.ok().map(|c| c.0);
        match leptos::prelude::use_context::<http::request::Parts>() {
            Some(parts) => client_address(&parts.headers, peer, trust_proxy),
            None => peer.map(|p| p.ip().to_string()).unwrap_or_else(|| "unknown".into()),
        }
    }

    /// The cart owner. With `create`, a guest without a session gets one now (the session must
    /// exist to key the cart); without it, `None` means "no cart yet".
    pub async fn cart_owner(&self, create: bool) -> Result<Option<CartOwner>, AppError> {
        if let Some(uid) = self.user_id().await? {
            return Ok(Some(CartOwner::User(uid)));
        }
        if self.session.id().is_none() {
            if !create {
                return Ok(None);
            }
            self.session.insert(SEEN_KEY, today()).await.map_err(unavailable)?;
            self.session.save().await.map_err(unavailable)?;
        }
        let id = self.session.id().ok_or_else(AppError::internal)?;
        Ok(Some(CartOwner::Guest(guest_key(&id.to_string()))))
    }
}

/// The client's address: the socket's peer, or with `trust_proxy` the last `X-Forwarded-For`
/// entry when it is an IP address (the one the shop's own proxy added). One reading for every
/// part of the shop that limits by address.
pub fn client_address(headers: &http::HeaderMap, peer: Option<std::net::SocketAddr>, trust_proxy: bool) -> String {
    let forwarded = trust_proxy
        .then(|| headers.get("x-forwarded-for"))
        .flatten()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|v| v.trim().parse::<std::net::IpAddr>().ok());
    match (forwarded, peer) {
        (Some(ip), _) => ip.to_string(),
        (None, Some(peer)) => peer.ip().to_string(),
        (None, None) => "unknown".into(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_client_address_is_the_peer_unless_a_trusted_proxy_says_otherwise() {
        let mut h = http::HeaderMap::new();
        h.insert("x-forwarded-for", "203.0.113.1, 198.51.100.7".parse().unwrap());
        let peer = Some("127.0.0.1:5000".parse().unwrap());
        assert_eq!(super::client_address(&h, peer, true), "198.51.100.7");
        assert_eq!(super::client_address(&h, peer, false), "127.0.0.1");
        h.insert("x-forwarded-for", "not-an-ip".parse().unwrap());
        assert_eq!(super::client_address(&h, peer, true), "127.0.0.1");
    }

    #[test]
    fn guest_keys_are_stable_and_do_not_reveal_the_id() {
        let k = super::guest_key("AAAABBBBCCCCDDDD");
        assert_eq!(k, super::guest_key("AAAABBBBCCCCDDDD"));
        assert_eq!(k.len(), 32);
        assert!(!k.contains("AAAA"));
        assert_ne!(k, super::guest_key("AAAABBBBCCCCDDDE"));
    }
}
