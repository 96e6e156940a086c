//! Who is asking: built once per request by the server's middleware (`Visitor::from_request`),
//! from the tower-sessions session, the signed cookies, the anonymous id, the client address, QA
//! overrides and the flash message, and passed down to the services. Services never read the
//! request themselves. The session holds identity only; its id is never used as a storage key
//! directly, only through a hash.
//!
//! Reading who the visitor is never writes the session; the writes are the named actions
//! (`sign_in`, `sign_out`, `start_cart`). Cookies the visitor's actions set are queued here and
//! added to the response by the same middleware. When the session store cannot be read
//! (Redis down), a signed-in browser is still recognised by its signed `acct` cookie, so an
//! outage never looks like a sign-out: the account's cart (kept in SQL) keeps working.

use crate::cookies::{self, Signer};
use crate::domain::experiments::Subject;
use crate::error::AppError;
use crate::model::Flash;
use crate::state::AppState;
use crate::storage::cart_store::CartOwner;
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
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
/// Most QA overrides (`ff.<flag>` cookies) read from one request.
const MAX_OVERRIDES: usize = 8;

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

#[derive(Clone)]
pub struct Visitor {
    pub session: Session,
    anon: Option<AnonId>,
    /// The client's address as rate limits count it (see `client_address`).
    address: String,
    /// QA overrides from `ff.<flag>` cookies: (flag, variant).
    overrides: Arc<[(String, String)]>,
    /// The one-time message left by the previous form post, if any.
    flash: Option<Flash>,
    /// The page cache's marker for this render (a detached one outside the page cache).
    personal: PersonalRender,
    /// `Set-Cookie` values for the response, added by the middleware that built the visitor.
    set_cookies: Arc<Mutex<Vec<http::HeaderValue>>>,
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
    /// The visitor of a request, read once: its session (from the session layer), cookies,
    /// anonymous id and page-cache marker (from earlier middleware) and peer address.
    pub fn from_request<B>(state: &AppState, session: Session, req: &http::Request<B>) -> Visitor {
        let headers = req.headers();
        // One parse of the Cookie header for everything below (the session layer's own parser).
        let jar = cookies::jar(headers);
        let cookie = |name: &str| jar.get(name).map(|c| c.value().to_string());
        let lifetime = state.config.session_inactivity;
        let signed_account =
            cookie(cookies::ACCOUNT).and_then(|v| state.signer.verify(ACCOUNT_PURPOSE, &v)).and_then(|v| {
                let (uid, issued) = v.split_once(':')?;
                let issued: i64 = issued.parse().ok()?;
                let age = crate::storage::db::now_ms() - issued;
                (0..lifetime.as_millis() as i64).contains(&age).then_some(())?;
                Some((uid.parse().ok()?, issued))
            });
        let peer = req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0);
        let overrides: Vec<(String, String)> = jar
            .iter()
            .filter_map(|c| Some((c.name().strip_prefix(cookies::OVERRIDE_PREFIX)?.to_string(), c.value().to_string())))
            .take(MAX_OVERRIDES)
            .collect();
        Visitor {
            session,
            anon: req.extensions().get::<AnonId>().cloned(),
            address: client_address(headers, peer, state.config.trust_proxy),
            overrides: overrides.into(),
            flash: cookie(cookies::FLASH).and_then(|v| crate::edge::flash::parse(&v)),
            personal: req.extensions().get::<PersonalRender>().cloned().unwrap_or_default(),
            set_cookies: Arc::default(),
            signed_account,
            device: cookie(cookies::DEVICE).and_then(|v| state.signer.verify(DEVICE_PURPOSE, &v)),
            signer: state.signer.clone(),
            users: state.users.clone(),
            secure_cookies: state.config.secure_cookies,
            session_lifetime: lifetime,
        }
    }

    /// The visitor of the current request (built by the server's middleware). A request with a
    /// session, or with an account cookie, renders a personal page.
    pub fn current() -> Result<Visitor, AppError> {
        // `with_context`: cloning the request's parts (headers, extensions) only to read one
        // extension would cost more than the rest of this function.
        let visitor =
            leptos::prelude::with_context::<http::request::Parts, _>(|p| p.extensions.get::<Visitor>().cloned())
                .flatten()
                .ok_or_else(|| {
                    tracing::error!("no visitor on this request (the visitor middleware is missing)");
                    AppError::internal()
                })?;
        if visitor.session.id().is_some() || visitor.signed_account.is_some() {
            visitor.mark_personal();
        }
        Ok(visitor)
    }

    /// Notes that the page being rendered used something personal (see `PersonalRender`).
    pub fn mark_personal(&self) {
        self.personal.mark();
    }

    /// The cookies this visitor's actions set, for the response (taken once).
    pub fn take_cookies(&self) -> Vec<http::HeaderValue> {
        std::mem::take(&mut *self.set_cookies.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn set_cookie(&self, value: Option<http::HeaderValue>) {
        if let Some(value) = value {
            self.set_cookies.lock().unwrap_or_else(|e| e.into_inner()).push(value);
        }
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
    pub fn is_first_visit(&self) -> bool {
        self.anon.as_ref().is_some_and(|a| a.fresh)
    }

    /// The browser's anonymous id, if it has one. A returning browser's id makes the page
    /// personal (its recommendations follow its history).
    pub fn anon_id(&self) -> Option<&str> {
        let anon = self.anon.as_ref()?;
        if !anon.fresh {
            self.mark_personal();
        }
        Some(&anon.id)
    }

    /// Who did something, for events and experiments: the account, else the browser.
    pub async fn subject(&self) -> Subject {
        match self.user_id().await {
            Ok(Some(id)) => Subject::User(id),
            _ => match self.anon_id() {
                Some(a) => Subject::Anon(a.to_string()),
                None => Subject::Unknown,
            },
        }
    }

    /// The client's address, for rate limiting (see `client_address`).
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The QA override of `flag`, if this browser has one (a forced page is personal).
    pub fn forced_variant(&self, flag: &str) -> Option<&str> {
        let forced = self.overrides.iter().find(|(f, _)| f == flag).map(|(_, v)| v.as_str())?;
        self.mark_personal();
        Some(forced)
    }

    /// Takes the flash message left by the previous form post, clearing its cookie.
    pub fn take_flash(&self) -> Option<Flash> {
        let flash = self.flash.clone()?;
        self.mark_personal();
        self.set_cookie(cookies::set_cookie(cookies::FLASH, "", 0, self.secure_cookies));
        Some(flash)
    }

    /// The cart owner, or `None` when a guest has no session yet (so no cart). Never writes.
    pub async fn cart_owner(&self) -> Result<Option<CartOwner>, AppError> {
        if let Some(uid) = self.user_id().await? {
            return Ok(Some(CartOwner::User(uid)));
        }
        Ok(self.session.id().map(|id| CartOwner::Guest(guest_key(&id.to_string()))))
    }

    /// The cart owner, giving a guest without a session one now (the session keys the cart).
    pub async fn start_cart(&self) -> Result<CartOwner, AppError> {
        if let Some(owner) = self.cart_owner().await? {
            return Ok(owner);
        }
        self.session.insert(SEEN_KEY, today()).await.map_err(unavailable)?;
        self.session.save().await.map_err(unavailable)?;
        let id = self.session.id().ok_or_else(AppError::internal)?;
        Ok(CartOwner::Guest(guest_key(&id.to_string())))
    }
}

/// The client's address: the socket's peer, or with `trust_proxy` the last `X-Forwarded-For`
/// entry when it is an IP address (the one the shop's own proxy added). One reading for every
/// part of the shop that limits by address.
fn client_address(headers: &http::HeaderMap, peer: Option<std::net::SocketAddr>, trust_proxy: bool) -> String {
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
