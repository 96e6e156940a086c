//! The HTTP edge: the router around the Leptos app, the JSON API guard, the page cache, the
//! visitor id cookie, the flag override, the cart events stream, health and metrics.

pub mod api;
pub mod assets;
pub mod cart_events;
pub mod compression;
pub mod flag_override;
pub mod health;
pub mod metrics;
pub mod page_cache;
pub mod router;
pub mod variant_links;
pub mod visitor_id;
