//! Pure shop rules: no Leptos, no I/O. Everything here is unit tested.

pub mod accounts;
pub mod cart;
pub mod catalog;
pub mod catalog_edit;
pub mod checkout;
pub mod experiments;
pub mod merge;
pub mod money;
pub mod pricing;
pub mod promotion_form;
pub mod recs;
pub mod redirect;
pub mod variants;
