//! Storage behind small types and traits. SQL goes through one `Any` pool (SQLite or PostgreSQL).

pub mod cached_cart;
pub mod cart_store;
pub mod carts;
pub mod catalog;
pub mod catalog_cache;
pub mod db;
pub mod events;
pub mod experiments;
pub mod group_commit;
pub mod orders;
pub mod page_cache;
pub mod pricing;
pub mod rate_limit;
pub mod read_copy;
pub mod redis;
pub mod redis_cart;
pub mod session_cache;
pub mod session_store;
pub mod sql_cart;
pub mod users;
pub mod write_behind;
