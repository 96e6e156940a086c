//! The shopper's cart in the browser: one `CartCtx` shared by the badge, the cart page and the
//! forms. Changes show at once (optimistic) and are confirmed or rolled back by the server's
//! answer; every confirmed cart is mirrored into localStorage for guests' safety.
//!
//! Every cart control is a real `<form>` posting to a cart endpoint, so it works without
//! JavaScript; with it, `on_cart_submit` takes over the same forms.

use crate::api::cart::{add_to_cart, clear_cart, get_cart, remove_from_cart, restore_cart, set_cart_quantity};
use crate::api::experiments::cart_layout;
use crate::client::local_cart;
use crate::domain::cart::optimistic;
pub use crate::domain::cart::CartOp;
use crate::domain::money::format_cents;
use crate::error::AppError;
use crate::model::{CartLine, CartView};
use leptos::prelude::*;

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
        if view.version > 0 && !live::connected() {
            // A guest's first change made the session this page can now listen on.
            live::connect(*self);
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
            live::close();
            if !view.guest || view.version > 0 {
                live::connect(*self);
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
                CartOp::Add { product_id, quantity } => add_to_cart(product_id.to_string(), quantity.to_string()).await,
                CartOp::Set { product_id, quantity } => {
                    set_cart_quantity(product_id.to_string(), quantity.to_string()).await
                }
                CartOp::Remove { product_id } => remove_from_cart(product_id.to_string()).await,
                CartOp::Clear => clear_cart().await,
            };
            ctx.in_flight.update(|n| *n = n.saturating_sub(1));
            match result {
                Ok(view) => {
                    if let CartOp::Add { product_id, .. } = op {
                        ctx.last_added.set(Some(product_id));
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
                        match restore_cart(lines).await {
                            Ok(restored) => ctx.accept(restored, true),
                            Err(e) => ctx.say(MessageKind::Error, e.message()),
                        }
                        ctx.restoring.set(false);
                    });
                }
                _ => {
                    #[cfg(feature = "hydrate")]
                    if !view.guest && !live::connected() {
                        live::connect(ctx);
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
}

/// The page's subscription to `/events/cart`: another tab, device or instance changed this cart,
/// so reload it (unless a change of ours is in flight: its answer carries the newest cart).
#[cfg(feature = "hydrate")]
mod live {
    use super::CartCtx;
    use leptos::prelude::*;
    use std::cell::RefCell;
    use wasm_bindgen::{closure::Closure, JsCast};

    type Listener = Closure<dyn FnMut(web_sys::MessageEvent)>;

    thread_local! {
        static SOURCE: RefCell<Option<(web_sys::EventSource, Listener)>> = const { RefCell::new(None) };
    }

    pub fn connected() -> bool {
        SOURCE.with(|s| s.borrow().is_some())
    }

    pub fn connect(ctx: CartCtx) {
        close();
        let Ok(source) = web_sys::EventSource::new("/events/cart") else { return };
        let listener: Listener = Closure::new(move |_: web_sys::MessageEvent| {
            if ctx.in_flight.get_untracked() == 0 {
                ctx.refresh();
            }
        });
        if source.add_event_listener_with_callback("cart", listener.as_ref().unchecked_ref()).is_ok() {
            SOURCE.with(|s| *s.borrow_mut() = Some((source, listener)));
        }
    }

    pub fn close() {
        if let Some((source, _)) = SOURCE.with(|s| s.borrow_mut().take()) {
            source.close();
        }
    }
}

/// The submit handler for every cart form: reads the form's action and fields and dispatches
/// the same operation the form would post. Without JavaScript the form simply posts.
pub fn on_cart_submit(ctx: CartCtx) -> impl Fn(leptos::ev::SubmitEvent) + Clone + 'static {
    move |ev: leptos::ev::SubmitEvent| {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let Some(form) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlFormElement>().ok()) else { return };
            let Ok(data) = web_sys::FormData::new_with_form(&form) else { return };
            let field = |name: &str| data.get(name).as_string().unwrap_or_default();
            let action = form.get_attribute("action").unwrap_or_default();
            let product_id = field("product_id").trim().parse::<i64>().ok();
            let quantity = field("quantity").trim().parse::<u32>().ok();
            let op = match (action.as_str(), product_id, quantity) {
                ("/api/cart/add", Some(product_id), Some(quantity)) if (1..=99).contains(&quantity) => {
                    CartOp::Add { product_id, quantity }
                }
                ("/api/cart/set", Some(product_id), Some(quantity)) if quantity <= 99 => {
                    CartOp::Set { product_id, quantity }
                }
                ("/api/cart/remove", Some(product_id), _) => CartOp::Remove { product_id },
                ("/api/cart/clear", _, _) => CartOp::Clear,
                // Let the server explain what is wrong with the input.
                _ => return,
            };
            ev.prevent_default();
            ctx.dispatch(op);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (ev, ctx);
    }
}

/// The cart link with its item count, on every page.
#[component]
pub fn CartBadge() -> impl IntoView {
    let ctx = expect_context::<CartCtx>();
    // In the drawer layout the link opens the drawer; without JavaScript it goes to /cart.
    let open_drawer = move |ev: leptos::ev::MouseEvent| {
        if ctx.is_drawer() {
            ev.prevent_default();
            ctx.drawer_open.set(true);
        }
    };
    view! {
        <a class="cart-link" href="/cart" on:click=open_drawer>
            <svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true">
                <path d="M3 4h2l2.2 10.2a2 2 0 0 0 2 1.6h7.6a2 2 0 0 0 2-1.5L21 8H6" fill="none" stroke="currentColor" stroke-width="2" stroke-linejoin="round" />
                <circle cx="10" cy="20" r="1.5" fill="currentColor" />
                <circle cx="17" cy="20" r="1.5" fill="currentColor" />
            </svg>
            <span>"Cart"</span>
            <Transition fallback=|| view! { <span class="badge" data-testid="cart-count">"0"</span> }>
                {move || {
                    let n = ctx.item_count();
                    view! {
                        <span class="badge" data-testid="cart-count" aria-label=format!("{n} items in cart")>
                            {n}
                        </span>
                    }
                }}
            </Transition>
        </a>
    }
}

/// "Add to cart" for a listing card: one unit.
#[component]
pub fn AddToCartButton(product_id: i64, sold_out: bool, name: String) -> impl IntoView {
    let ctx = expect_context::<CartCtx>();
    view! {
        <form method="post" action="/api/cart/add" on:submit=on_cart_submit(ctx)>
            <input type="hidden" name="product_id" value=product_id />
            <input type="hidden" name="quantity" value="1" />
            <button
                type="submit"
                class="btn btn-primary btn-small"
                disabled=sold_out
                aria-label=if sold_out { format!("Sold out: {name}") } else { format!("Add to cart: {name}") }
            >
                {if sold_out { "Sold out" } else { "Add to cart" }}
            </button>
        </form>
    }
}

/// Quantity controls, line total and remove button of one line (cart page and drawer).
#[component]
pub fn CartLineView(line: CartLine, #[prop(optional)] in_drawer: bool) -> impl IntoView {
    let ctx = expect_context::<CartCtx>();
    let submit = on_cart_submit(ctx);
    let pid = line.product_id;
    let q = line.quantity;
    let max = line.stock_available.clamp(0, 99) as u32;
    let currency = ctx.view().map(|v| v.currency).unwrap_or_default();
    let href = format!("/p/{}", line.slug);
    let name = line.name.clone();
    let qty_id = format!("{}qty-{pid}", if in_drawer { "drawer-" } else { "" });
    view! {
        <li class="cart-line" data-product-id=pid>
            {(!line.image.is_empty()).then(|| view! { <img src=line.image.clone() alt="" width="96" height="96" loading="lazy" /> })}
            <div>
                {if line.on_sale {
                    view! { <h3><a href=href>{name.clone()}</a></h3> }.into_any()
                } else {
                    view! { <h3>{name.clone()}</h3> }.into_any()
                }}
                <p class="line-meta">
                    {format_cents(line.unit_price_cents, currency)} " each"
                    {line.previous_price_cents.map(|p| view! { <span class="price-changed">" · was " {format_cents(p, currency)}</span> })}
                </p>
                {(line.on_sale && line.stock_available < i64::from(q)).then(|| view! {
                    <p class="price-changed">{format!("Only {} left", line.stock_available)}</p>
                })}
            </div>
            <div class="line-actions">
                {line.on_sale.then(|| {
                    let submit = submit.clone();
                    let submit2 = submit.clone();
                    let submit3 = submit.clone();
                    view! {
                        <div class="qty-form">
                            <form method="post" action="/api/cart/set" on:submit=submit>
                                <input type="hidden" name="product_id" value=pid />
                                <input type="hidden" name="quantity" value=q.saturating_sub(1) />
                                <button type="submit" class="btn btn-icon" aria-label=format!("One fewer {name}")>"−"</button>
                            </form>
                            <form method="post" action="/api/cart/set" on:submit=submit2 class="qty-set">
                                <input type="hidden" name="product_id" value=pid />
                                <label for=qty_id.clone() class="visually-hidden">{format!("Quantity of {name}")}</label>
                                <input id=qty_id.clone() type="number" name="quantity" min="0" max=max value=q inputmode="numeric" />
                                <button type="submit" class="btn btn-small">"Update"</button>
                            </form>
                            <form method="post" action="/api/cart/add" on:submit=submit3>
                                <input type="hidden" name="product_id" value=pid />
                                <input type="hidden" name="quantity" value="1" />
                                <button type="submit" class="btn btn-icon" aria-label=format!("One more {name}") disabled={q >= max}>"+"</button>
                            </form>
                        </div>
                    }
                })}
                <span class="line-total">{format_cents(line.line_total_cents, currency)}</span>
                <form method="post" action="/api/cart/remove" on:submit=on_cart_submit(ctx)>
                    <input type="hidden" name="product_id" value=pid />
                    <button type="submit" class="btn btn-link btn-danger" aria-label=format!("Remove {} from cart", line.name)>"Remove"</button>
                </form>
            </div>
        </li>
    }
}

/// Messages about the cart and the page: notices, confirmations and errors.
#[component]
pub fn Notices() -> impl IntoView {
    let ctx = expect_context::<CartCtx>();
    let flash = Resource::new(
        || (),
        |_| async move {
            #[cfg(feature = "ssr")]
            {
                crate::services::flash::take()
            }
            #[cfg(not(feature = "ssr"))]
            {
                None::<crate::model::Flash>
            }
        },
    );
    view! {
        <div class="notices" role="status" aria-live="polite">
            <Suspense fallback=|| ()>
                {move || flash.get().flatten().map(|f| {
                    let class = format!("notice notice-{}", if f.kind == "error" { "error" } else if f.kind == "ok" { "ok" } else { "info" });
                    view! { <p class=class>{f.message}</p> }
                })}
            </Suspense>
            <For each=move || ctx.messages.get() key=|m| m.id let:m>
                <p class=match m.kind {
                    MessageKind::Ok => "notice notice-ok",
                    MessageKind::Info => "notice notice-info",
                    MessageKind::Error => "notice notice-error",
                }>
                    <button type="button" class="btn btn-link notice-dismiss" aria-label="Dismiss" on:click=move |_| ctx.dismiss(m.id)>"×"</button>
                    {m.text.clone()}
                </p>
            </For>
        </div>
    }
}
