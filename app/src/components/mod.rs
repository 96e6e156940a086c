//! View pieces shared by several pages.

pub mod auth;
pub mod cart;
pub mod cart_drawer;
pub mod layout;
pub mod listing;
pub mod page_title;
pub mod product_card;
pub mod recs;
