//! Account endpoints. A wrong email or password always gets the same answer; repeated failures
//! are rate limited per address and per email (429 with Retry-After).

use crate::error::AppError;
use crate::model::{AuthAnswer, UserInfo};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::services::{auth, visitor::Visitor};
#[cfg(feature = "ssr")]
use crate::state::app_state;

/// Where to go after signing in: a path on this site, never another site (see
/// `domain::redirect`); the account page when none is given.
pub fn safe_next(next: Option<&str>) -> String {
    crate::domain::redirect::after_sign_in(next)
}

/// `next` from a sign-in form: absent or a path on this site, checked before anything is done.
#[cfg(feature = "ssr")]
fn checked_next(next: Option<&str>) -> Result<String, AppError> {
    match next.map(str::trim).filter(|n| !n.is_empty()) {
        None => Ok(crate::domain::redirect::DEFAULT_AFTER_SIGN_IN.to_string()),
        Some(n) => crate::domain::redirect::local_path(n)
            .ok_or_else(|| AppError::BadRequest("next must be a path on this site, such as /cart.".into())),
    }
}

#[server(endpoint = "auth/register")]
pub async fn register(email: String, password: String, next: Option<String>) -> Result<AuthAnswer, AppError> {
    let next = checked_next(next.as_deref())?;
    let state = app_state()?;
    let answer = auth::register(&state, &Visitor::current()?, &email, password).await?;
    crate::edge::go_to(&next);
    crate::edge::succeeded(&answer.notices, "Welcome to Copperleaf. Your account is ready.");
    Ok(answer)
}

#[server(endpoint = "auth/login")]
pub async fn login(email: String, password: String, next: Option<String>) -> Result<AuthAnswer, AppError> {
    let next = checked_next(next.as_deref())?;
    let state = app_state()?;
    let answer = auth::login(&state, &Visitor::current()?, &email, password).await?;
    crate::edge::go_to(&next);
    crate::edge::succeeded(&answer.notices, "Welcome back. You are signed in.");
    Ok(answer)
}

/// Signs out: the session ends and the browser continues as a new guest with an empty cart.
#[server(endpoint = "auth/logout")]
pub async fn logout() -> Result<(), AppError> {
    let state = app_state()?;
    auth::logout(&state, &Visitor::current()?).await?;
    crate::edge::go_to("/");
    crate::edge::succeeded(&[], "You are signed out.");
    Ok(())
}

/// The signed-in account, or null.
#[server(endpoint = "auth/me")]
pub async fn me() -> Result<Option<UserInfo>, AppError> {
    let state = app_state()?;
    auth::me(&state, &Visitor::current()?).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn next_stays_on_this_site() {
        use super::safe_next;
        assert_eq!(safe_next(Some("/cart")), "/cart");
        assert_eq!(safe_next(Some("//evil.example")), "/account");
        assert_eq!(safe_next(Some("/\\evil.example")), "/account");
        assert_eq!(safe_next(Some("https://evil.example")), "/account");
        assert_eq!(safe_next(Some("/api/auth/logout")), "/account");
        assert_eq!(safe_next(Some("/%09/evil.example")), "/%09/evil.example", "an escaped tab is a path");
        assert_eq!(safe_next(Some("/\t/evil.example")), "/account");
        assert_eq!(safe_next(None), "/account");
    }
}
