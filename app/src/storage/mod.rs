//! Storage behind small types and traits. SQL goes through one `Any` pool (SQLite or PostgreSQL).

pub mod catalog;
pub mod catalog_cache;
pub mod db;
