//! Browser-only helpers (localStorage, storage events). Every function is a no-op on the server,
//! so components can call them unconditionally.

pub mod local_cart;
