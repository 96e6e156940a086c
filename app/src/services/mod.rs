//! Server-side use cases called by the server functions: functions over the `AppState`, the
//! `Visitor` and the input, that apply the domain rules and use storage and the engines.

pub mod auth;
pub mod cart;
pub mod catalog_admin;
pub mod checkout;
pub mod experiments;
pub mod merge;
pub mod passwords;
pub mod pricing;
pub mod promotions;
pub mod recs;
pub mod visitor;
