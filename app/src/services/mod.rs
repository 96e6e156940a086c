//! Server-side use cases called by the server functions: each takes the `AppState` and the
//! visitor, applies the domain rules and talks to storage.

pub mod auth;
pub mod cart;
pub mod cart_sync;
pub mod catalog_admin;
pub mod checkout;
pub mod experiments;
pub mod flash;
pub mod payments;
pub mod recs;
pub mod visitor;
