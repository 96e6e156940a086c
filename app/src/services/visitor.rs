//! Who is asking: the tower-sessions session of the request, the account (if logged in) and the
//! cart owner. The session holds identity only; its id is never used as a storage key directly,
//! only through a hash.

use crate::error::AppError;
use crate::storage::cart_store::CartOwner;
use sha2::{Digest, Sha256};
use tower_sessions::Session;

pub const USER_KEY: &str = "uid";
/// A guest cart whose merge into the account failed at sign-in; retried on the next cart read.
pub const PENDING_MERGE_KEY: &str = "pending_merge";
/// Day number of the last visit; updated at most daily so active sessions keep sliding forward
/// without a store write on every request.
const SEEN_KEY: &str = "seen";

#[derive(Clone)]
pub struct Visitor {
    pub session: Session,
}

/// The long-lived anonymous id of a browser (the `aid` cookie), put in the request by the
/// server's middleware. Used for recommendations and experiment assignment, never for access.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnonId(pub String);

pub const ANON_COOKIE: &str = "aid";

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

impl Visitor {
    /// The session of the current request (the session layer puts it in the request).
    pub async fn current() -> Result<Visitor, AppError> {
        let session = leptos_axum::extract::<Session>().await.map_err(|e| {
            tracing::error!(error = %e, "no session layer on this request");
            AppError::internal()
        })?;
        Ok(Visitor { session })
    }

    /// The logged-in account, if any. Fails only when the session store is unreachable.
    pub async fn user_id(&self) -> Result<Option<i64>, AppError> {
        if self.session.id().is_none() {
            return Ok(None);
        }
        let user = self.session.get::<i64>(USER_KEY).await.map_err(unavailable)?;
        let seen = self.session.get::<i64>(SEEN_KEY).await.map_err(unavailable)?;
        if self.session.id().is_some() && seen != Some(today()) {
            self.session.insert(SEEN_KEY, today()).await.map_err(unavailable)?;
        }
        Ok(user)
    }

    /// The guest cart of this session, if the visitor is a guest with a session.
    pub async fn guest_owner(&self) -> Result<Option<CartOwner>, AppError> {
        if self.user_id().await?.is_some() {
            return Ok(None);
        }
        Ok(self.session.id().map(|id| CartOwner::Guest(guest_key(&id.to_string()))))
    }

    /// Signs the session in as `user_id` under a new session id (no fixation).
    pub async fn sign_in(&self, user_id: i64) -> Result<(), AppError> {
        if self.session.id().is_none() {
            self.session.insert(SEEN_KEY, today()).await.map_err(unavailable)?;
        }
        self.session.cycle_id().await.map_err(unavailable)?;
        self.session.insert(USER_KEY, user_id).await.map_err(unavailable)?;
        self.session.insert(SEEN_KEY, today()).await.map_err(unavailable)?;
        Ok(())
    }

    /// Ends the session: its record is deleted and the browser starts over as a new guest.
    pub async fn sign_out(&self) -> Result<(), AppError> {
        self.session.flush().await.map_err(unavailable)
    }

    /// The browser's anonymous id, if it has one.
    pub fn anon_id() -> Option<String> {
        let parts = leptos::prelude::use_context::<http::request::Parts>()?;
        parts.extensions.get::<AnonId>().map(|a| a.0.clone())
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

    /// The client's address, for rate limiting.
    pub async fn client_ip(trust_proxy: bool) -> String {
        if trust_proxy {
            if let Some(parts) = leptos::prelude::use_context::<http::request::Parts>() {
                if let Some(ip) = parts
                    .headers
                    .get("x-forwarded-for")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.rsplit(',').next())
                    .map(|v| v.trim().to_string())
                    .filter(|v| !v.is_empty())
                {
                    return ip;
                }
            }
        }
        match leptos_axum::extract::<axum::extract::ConnectInfo<std::net::SocketAddr>>().await {
            Ok(axum::extract::ConnectInfo(addr)) => addr.ip().to_string(),
            Err(_) => "unknown".into(),
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

#[cfg(test)]
mod tests {
    #[test]
    fn guest_keys_are_stable_and_do_not_reveal_the_id() {
        let k = super::guest_key("AAAABBBBCCCCDDDD");
        assert_eq!(k, super::guest_key("AAAABBBBCCCCDDDD"));
        assert_eq!(k.len(), 32);
        assert!(!k.contains("AAAA"));
        assert_ne!(k, super::guest_key("AAAABBBBCCCCDDDE"));
    }
}
