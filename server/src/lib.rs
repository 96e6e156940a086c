#![recursion_limit = "512"]

//! The shop's server: builds the shared state, the axum router around the Leptos app, and the
//! background work. `main.rs` is only argument parsing and process lifecycle.
//!
//! - `http`: the HTTP edge (router, API guard, page cache, visitor id, flag override, cart
//!   events stream, health, metrics);
//! - `catalog_import`: `server catalog import`, products from Shopify's product CSV;
//! - `seed`: the demo catalogue and order history loaded into an empty database;
//! - `startup`, `tasks`, `cli`, `telemetry`: building the state, background work, the commands
//!   besides serving, logging.

pub mod catalog_import;
pub mod cli;
pub mod http;
pub mod seed;
pub mod startup;
pub mod tasks;
pub mod telemetry;
