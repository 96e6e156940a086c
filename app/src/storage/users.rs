//! Accounts.

use super::db::{now_ms, Db};
use sqlx::Row;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub password_hash: String,
    pub role: String,
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.role == "admin"
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("an account with this email exists")]
    Taken,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

#[derive(Clone, Debug)]
pub struct UserStore {
    db: Db,
}

fn user_from_row(row: &sqlx::any::AnyRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        password_hash: row.try_get("password_hash")?,
        role: row.try_get("role")?,
    })
}

impl UserStore {
    pub fn new(db: Db) -> Self {
        UserStore { db }
    }

    /// Creates an account; `Taken` when the (already normalised) email is in use.
    pub async fn create(&self, email: &str, password_hash: &str, role: &str) -> Result<User, UserError> {
        let row = sqlx::query(
            "INSERT INTO users (email, password_hash, role, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (email) DO NOTHING RETURNING id, email, password_hash, role",
        )
        .bind(email)
        .bind(password_hash)
        .bind(role)
        .bind(now_ms())
        .fetch_optional(&mut *self.db.write().await?)
        .await?;
        match row {
            Some(row) => Ok(user_from_row(&row)?),
            None => Err(UserError::Taken),
        }
    }

    pub async fn by_email(&self, email: &str) -> Result<Option<User>, sqlx::Error> {
        let row = sqlx::query("SELECT id, email, password_hash, role FROM users WHERE email = $1")
            .bind(email)
            .fetch_optional(self.db.read())
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    pub async fn by_id(&self, id: i64) -> Result<Option<User>, sqlx::Error> {
        let row = sqlx::query("SELECT id, email, password_hash, role FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(self.db.read())
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// Records that the account signed out now (account cookies issued before no longer count).
    pub async fn mark_signed_out(&self, id: i64) -> Result<(), sqlx::Error> {
        let mut tx = self.db.begin_write().await?;
        sqlx::query("UPDATE users SET signed_out_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    /// When the account last signed out (Unix ms; 0 if never), `None` if there is no such account.
    pub async fn signed_out_at(&self, id: i64) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar("SELECT signed_out_at FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(self.db.read())
            .await
    }

    pub async fn set_role(&self, email: &str, role: &str) -> Result<bool, sqlx::Error> {
        let res = sqlx::query("UPDATE users SET role = $1 WHERE email = $2")
            .bind(role)
            .bind(email)
            .execute(&mut *self.db.write().await?)
            .await?;
        Ok(res.rows_affected() == 1)
    }
}
