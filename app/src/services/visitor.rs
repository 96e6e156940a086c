//! Who is asking: the tower-sessions session of the request, the account (if logged in) and the
//! cart owner. The session holds identity only; its id is never used as a storage key directly,
//! only through a hash.

use crate::error::AppError;
use crate::storage::cart_store::CartOwner;
use sha2::{Digest, Sha256};
use tower_sessions::Session;

pub const USER_KEY: &str = "uid";
/// Day number of the last visit; updated at most daily so active sessions keep sliding forward
/// without a store write on every request.
const SEEN_KEY: &str = "seen";

#[derive(Clone)]
pub struct Visitor {
    pub session: Session,
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
