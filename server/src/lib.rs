#![recursion_limit = "512"]

//! The shop's server: builds the shared state, the axum router around the Leptos app, and the
//! background work. `main.rs` is only argument parsing and process lifecycle.

pub mod api;
pub mod bench;
pub mod cart_events;
pub mod cli;
pub mod demo;
pub mod flag_override;
pub mod health;
pub mod history;
pub mod journey;
pub mod loadgen;
pub mod metrics;
pub mod page_cache;
pub mod recs_eval;
pub mod router;
pub mod seed;
pub mod startup;
pub mod tasks;
pub mod telemetry;
pub mod visitor_id;
