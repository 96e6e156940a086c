//! The page's subscription to `/events/cart`: another tab, device or instance changed this cart.
//! One subscription per page; connecting again replaces it. Only in the browser.

use std::cell::RefCell;
use wasm_bindgen::{closure::Closure, JsCast};

type Listener = Closure<dyn FnMut(web_sys::MessageEvent)>;

thread_local! {
    static SOURCE: RefCell<Option<(web_sys::EventSource, Listener)>> = const { RefCell::new(None) };
}

pub fn connected() -> bool {
    SOURCE.with(|s| s.borrow().is_some())
}

/// Listens for changes of this session's cart; `on_change` runs on each.
pub fn connect(on_change: impl Fn() + 'static) {
    close();
    let Ok(source) = web_sys::EventSource::new("/events/cart") else { return };
    let listener: Listener = Closure::new(move |_: web_sys::MessageEvent| on_change());
    if source.add_event_listener_with_callback("cart", listener.as_ref().unchecked_ref()).is_ok() {
        SOURCE.with(|s| *s.borrow_mut() = Some((source, listener)));
    }
}

pub fn close() {
    if let Some((source, _)) = SOURCE.with(|s| s.borrow_mut().take()) {
        source.close();
    }
}
