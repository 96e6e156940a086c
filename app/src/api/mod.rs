//! Server functions, grouped by feature. Each has a stable endpoint under `/api/`, takes a
//! form-encoded POST body and answers JSON (errors as [`crate::error::AppError`]). What the answer says in HTTP besides
//! its body (an error's status, and for a plain form post the redirect and the flash) is set
//! through `crate::edge`.

pub mod auth;
pub mod cart;
pub mod catalog;
pub mod catalog_admin;
pub mod checkout;
pub mod experiments;
pub mod promotions;
pub mod recs;
