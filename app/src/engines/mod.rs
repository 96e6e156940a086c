//! Long-lived engines the state holds beside storage: the flag table, the recommendation model,
//! the live-cart notifier and the payment provider. They know nothing of requests or visitors;
//! the services use them.

pub mod cart_sync;
pub mod experiments;
pub mod payments;
pub mod recs;
