//! The client cart store: `CartCtx`, the cart shown on the page, the server's confirmed copy,
//! changes in flight and messages for the shopper. It sends changes to the server (showing them
//! at once, see `domain::cart::optimistic`), takes the server's answers, mirrors each confirmed
//! cart into localStorage and restores a lost guest cart from it.

use crate::api::cart::{add_to_cart, clear_cart, get_cart, remove_from_cart, restore_cart, set_cart_quantity};
use crate::api::experiments::cart_layout;
use crate::client::local_cart;
use crate::domain::cart::{optimistic, CartOp};
use crate::error::AppError;
use crate::model::CartView;
use leptos::prelude::*;

#[cfg(feature = "hydrate")]
use super::live_sync;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKind {
    Ok,
    Info,
    Error,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub id: u64,
    pub kind: MessageKind,
    pub text: String,
}

#[derive(Clone, Copy)]
pub struct CartCtx {
    /// The cart as the page was rendered with (server-side, then hydrated from the same data).
    initial: Resource<Result<CartView, AppError>>,
    /// The latest cart the server confirmed after load.
    confirmed: RwSignal<Option<CartView>>,
    /// What is shown: the confirmed cart plus changes still in flight.
    shown: RwSignal<Option<CartView>>,
    pub messages: RwSignal<Vec<Message>>,
    pub in_flight: RwSignal<u32>,
    next_id: StoredValue<u64>,
    /// Set when an add succeeds; the drawer layout opens on it.
    pub last_added: RwSignal<Option<i64>>,
    /// True while the browser copy is being restored into the server cart; signing in waits for
    /// it so the restored lines are part of the merge.
    pub restoring: RwSignal<bool>,
    /// The cart layout this visitor is assigned (`page` or `drawer`), decided on the server.
    pub layout: Resource<Result<String, AppError>>,
    /// Whether the drawer (drawer layout) is open.
    pub drawer_open: RwSignal<bool>,
}

impl CartCtx {
    pub fn provide() -> CartCtx {
        let ctx = CartCtx {
            initial: Resource::new(|| (), |_| get_cart()),
            confirmed: RwSignal::new(None),
            shown: RwSignal::new(None),
            messages: RwSignal::new(Vec::new()),
            in_flight: RwSignal::new(0),
            next_id: StoredValue::new(0),
            last_added: RwSignal::new(None),
            restoring: RwSignal::new(false),
            layout: Resource::new(|| (), |_| cart_layout()),
            drawer_open: RwSignal::new(false),
        };
        provide_context(ctx);
        ctx
    }

    /// The cart to display. Reads the page-load resource until the browser has its own copy, so
    /// server rendering and hydration produce the same markup.
    pub fn view(&self) -> Option<CartView> {
        self.shown.get().or_else(|| self.initial.get().and_then(Result::ok))
    }

    pub fn is_drawer(&self) -> bool {
        self.layout.get_untracked().and_then(Result::ok).as_deref() == Some("drawer")
    }

    pub fn item_count(&self) -> u32 {
        self.view().map(|v| v.item_count).unwrap_or(0)
    }

    pub fn say(&self, kind: MessageKind, text: impl Into<String>) {
        let id = self.next_id.get_value() + 1;
        self.next_id.set_value(id);
        let text = text.into();
        self.messages.update(|m| {
            m.retain(|old| old.text != text);
            m.push(Message { id, kind, text });
            if m.len() > 4 {
                m.remove(0);
            }
        });
    }

    pub fn dismiss(&self, id: u64) {
        self.messages.update(|m| m.retain(|x| x.id != id));
    }

    /// Takes a cart answered by the server. Older answers (lower version) arriving late are
    /// ignored; the newest always wins.
    pub fn accept(&self, view: CartView, announce: bool) {
        let newer = self.confirmed.with_untracked(|c| c.as_ref().is_none_or(|c| view.version >= c.version));
        if announce {
            for n in &view.notices {
                self.say(MessageKind::Info, n.clone());
            }
        }
        if !newer {
            return;
        }
        local_cart::save(&view);
        #[cfg(feature = "hydrate")]
        if view.version > 0 && !live_sync::connected() {
            // A guest's first change made the session this page can now listen on.
            self.listen();
        }
        self.confirmed.set(Some(view.clone()));
        self.shown.set(Some(view));
    }

    /// Replaces the cart outright (the owner changed: signed in or out), whatever its version.
    /// An empty guest cart is not saved: after signing out the browser keeps no copy at all.
    pub fn reset(&self, view: CartView) {
        if view.guest && view.lines.is_empty() {
            local_cart::clear();
        } else {
            local_cart::save(&view);
        }
        // A new owner: listen for the new cart's changes instead.
        #[cfg(feature = "hydrate")]
        {
            live_sync::close();
            if !view.guest || view.version > 0 {
                self.listen();
            }
        }
        self.confirmed.set(Some(view.clone()));
        self.shown.set(Some(view));
    }

    /// Applies `op` optimistically and sends it; rolls back with a message if it fails.
    pub fn dispatch(&self, op: CartOp) {
        let ctx = *self;
        if let Some(current) = self.shown.get_untracked().or_else(|| self.initial.get_untracked().and_then(Result::ok))
        {
            self.shown.set(Some(optimistic(&current, &op)));
        }
        self.in_flight.update(|n| *n += 1);
        leptos::task::spawn_local(async move {
            let result = match &op {
                CartOp::Add { variant_id, quantity } => {
                    add_to_cart(Some(variant_id.to_string()), None, quantity.to_string()).await
                }
                CartOp::Set { variant_id, quantity } => {
                    set_cart_quantity(Some(variant_id.to_string()), None, quantity.to_string()).await
                }
                CartOp::Remove { variant_id } => remove_from_cart(Some(variant_id.to_string()), None).await,
                CartOp::Clear => clear_cart().await,
            };
            ctx.in_flight.update(|n| *n = n.saturating_sub(1));
            match result {
                Ok(view) => {
                    if let CartOp::Add { variant_id, .. } = op {
                        ctx.last_added.set(Some(variant_id));
                        if ctx.is_drawer() {
                            ctx.drawer_open.set(true);
                        } else if view.notices.is_empty() {
                            ctx.say(MessageKind::Ok, "Added to your cart.");
                        }
                    }
                    ctx.accept(view, true);
                }
                Err(e) => {
                    let confirmed =
                        ctx.confirmed.get_untracked().or_else(|| ctx.initial.get_untracked().and_then(Result::ok));
                    ctx.shown.set(confirmed);
                    ctx.say(MessageKind::Error, e.message());
                }
            }
        });
    }

    /// Reloads the cart from the server (another tab or device changed it, or an order emptied it).
    pub fn refresh(&self) {
        let ctx = *self;
        leptos::task::spawn_local(async move {
            if let Ok(view) = get_cart().await {
                let stale = ctx.confirmed.with_untracked(|c| c.as_ref().is_some_and(|c| c.guest != view.guest));
                if stale {
                    ctx.reset(view);
                } else {
                    ctx.accept(view, false);
                }
            }
        });
    }

    /// After hydration: keep the browser copy in step with the server, restore it into a lost
    /// guest cart, and follow changes made in other tabs.
    pub fn start_sync(&self) {
        let ctx = *self;
        let started = StoredValue::new(false);
        Effect::new(move |_| {
            let Some(Ok(view)) = ctx.initial.get() else { return };
            if started.get_value() {
                return;
            }
            started.set_value(true);
            let saved = local_cart::load();
            let lost = view.guest && view.version == 0 && view.lines.is_empty();
            match saved {
                Some(saved) if lost && !saved.lines.is_empty() => {
                    ctx.restoring.set(true);
                    leptos::task::spawn_local(async move {
                        let lines = serde_json::to_string(&saved.lines).unwrap_or_else(|_| "[]".into());
                        match restore_cart(lines, saved.code.clone()).await {
                            Ok(restored) => ctx.accept(restored, true),
                            Err(e) => ctx.say(MessageKind::Error, e.message()),
                        }
                        ctx.restoring.set(false);
                    });
                }
                _ => {
                    #[cfg(feature = "hydrate")]
                    if !view.guest && !live_sync::connected() {
                        ctx.listen();
                    }
                    ctx.accept(view, false)
                }
            }
        });
        #[cfg(feature = "hydrate")]
        {
            let handle = window_event_listener(leptos::ev::storage, move |ev: web_sys::StorageEvent| {
                if ev.key().as_deref() == Some(local_cart::KEY) {
                    ctx.refresh();
                }
            });
            on_cleanup(move || handle.remove());
        }
    }

    /// Follows changes made elsewhere (another tab, device or instance) by reloading the cart,
    /// unless a change of ours is in flight: its answer carries the newest cart.
    #[cfg(feature = "hydrate")]
    fn listen(&self) {
        let ctx = *self;
        live_sync::connect(move || {
            if ctx.in_flight.get_untracked() == 0 {
                ctx.refresh();
            }
        });
    }
}
