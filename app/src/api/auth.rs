//! Account endpoints. A wrong email or password always gets the same answer; repeated failures
//! are rate limited per address and per email (429 with Retry-After).

use crate::error::AppError;
use crate::model::{AuthAnswer, UserInfo};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::services::{auth, visitor::Visitor};
#[cfg(feature = "ssr")]
use crate::state::app_state;

/// Where to go after signing in: a path on this site, never another site (`//evil`).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.starts_with("/\\") && !p.starts_with("/api/") => {
            p.to_string()
        }
        _ => "/account".to_string(),
    }
}

#[server(endpoint = "auth/register")]
pub async fn register(email: String, password: String, next: Option<String>) -> Result<AuthAnswer, AppError> {
    let state = app_state()?;
    let answer = auth::register(&state, &Visitor::current().await?, &email, password).await?;
    super::redirect_plain_form(&safe_next(next.as_deref()));
    Ok(answer)
}

#[server(endpoint = "auth/login")]
pub async fn login(email: String, password: String, next: Option<String>) -> Result<AuthAnswer, AppError> {
    let state = app_state()?;
    let answer = auth::login(&state, &Visitor::current().await?, &email, password).await?;
    super::redirect_plain_form(&safe_next(next.as_deref()));
    Ok(answer)
}

/// Signs out: the session ends and the browser continues as a new guest with an empty cart.
#[server(endpoint = "auth/logout")]
pub async fn logout() -> Result<(), AppError> {
    auth::logout(&Visitor::current().await?).await?;
    super::redirect_plain_form("/");
    Ok(())
}

/// The signed-in account, or null.
#[server(endpoint = "auth/me")]
pub async fn me() -> Result<Option<UserInfo>, AppError> {
    let state = app_state()?;
    auth::me(&state, &Visitor::current().await?).await
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
        assert_eq!(safe_next(None), "/account");
    }
}
