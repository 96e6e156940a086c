//! Server functions, grouped by feature. Each has a stable endpoint under `/api/`, takes a
//! form-encoded POST body and answers JSON (errors as [`crate::error::AppError`]).

pub mod cart;
pub mod catalog;
