//! The shop's Leptos application: pages, components, server functions and, behind the `ssr`
//! feature, the server-side services and storage they call.

#![recursion_limit = "512"]

pub mod api;
pub mod client;
pub mod components;
pub mod domain;
pub mod error;
pub mod model;
pub mod pages;

#[cfg(feature = "ssr")]
pub mod config;
#[cfg(feature = "ssr")]
pub mod cookies;
#[cfg(feature = "ssr")]
pub mod edge;
#[cfg(feature = "ssr")]
pub mod engines;
#[cfg(feature = "ssr")]
pub mod services;
#[cfg(feature = "ssr")]
pub mod state;
#[cfg(feature = "ssr")]
pub mod storage;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Link, MetaTags};
use leptos_router::{
    components::{Route, Router, Routes},
    path, SsrMode,
};

use crate::components::auth::AuthCtx;
use crate::components::cart::{CartCtx, Notices};
use crate::components::cart_drawer::CartLayout;
use crate::components::layout::{Footer, Header};
use crate::pages::{
    admin::{AdminPage, ExperimentPage, OrdersAdminPage, ProductsAdminPage},
    admin_pricing::{PromotionAdminPage, PromotionsAdminPage, ShippingAdminPage},
    auth::{AccountPage, LoginPage, RegisterPage},
    cart::CartPage,
    category::CategoryPage,
    checkout::CheckoutPage,
    home::HomePage,
    not_found::NotFound,
    orders::{AccountOrdersPage, OrderPage},
    product::ProductPage,
    search::SearchPage,
};

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="theme-color" content="#0f766e" />
                // The package directory is `assets/<fingerprint>` (see the server's `http::assets`):
                // styles, loader and wasm are named by their content and cached for a year. Here in
                // the shell, rendered on the server only, not in the hydrated app, which would not
                // know the fingerprint.
                <link rel="stylesheet" href=format!("/{}/shop.css", options.site_pkg_dir) />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let cart = CartCtx::provide();
    AuthCtx::provide();
    cart.start_sync();
    // Pages render completely before the first byte is sent (`SsrMode::Async`): statuses such as
    // 404 and each page's <title> are then known up front, and crawlers get the whole page.
    view! {
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg" />
        <Router>
            <a class="skip-link" href="#main">"Skip to content"</a>
            <Header />
            <Notices />
            <main id="main" tabindex="-1">
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=HomePage ssr=SsrMode::Async />
                    <Route path=path!("/c/:slug") view=CategoryPage ssr=SsrMode::Async />
                    <Route path=path!("/p/:slug") view=ProductPage ssr=SsrMode::Async />
                    <Route path=path!("/search") view=SearchPage ssr=SsrMode::Async />
                    <Route path=path!("/cart") view=CartPage ssr=SsrMode::Async />
                    <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async />
                    <Route path=path!("/register") view=RegisterPage ssr=SsrMode::Async />
                    <Route path=path!("/account") view=AccountPage ssr=SsrMode::Async />
                    <Route path=path!("/account/orders") view=AccountOrdersPage ssr=SsrMode::Async />
                    <Route path=path!("/checkout") view=CheckoutPage ssr=SsrMode::Async />
                    <Route path=path!("/orders/:id") view=OrderPage ssr=SsrMode::Async />
                    <Route path=path!("/admin") view=AdminPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/products") view=ProductsAdminPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/orders") view=OrdersAdminPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/promotions") view=PromotionsAdminPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/promotions/:id") view=PromotionAdminPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/shipping") view=ShippingAdminPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/experiments/:flag") view=ExperimentPage ssr=SsrMode::Async />
                </Routes>
            </main>
            <Footer />
            <CartLayout />
        </Router>
    }
}
