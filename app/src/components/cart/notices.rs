//! Messages for the shopper: the flash left by a no-JavaScript form post, and the store's notices,
//! confirmations and errors.

use super::store::{CartCtx, MessageKind};
use leptos::prelude::*;

/// Messages about the cart and the page: notices, confirmations and errors.
#[component]
pub fn Notices() -> impl IntoView {
    let ctx = expect_context::<CartCtx>();
    let flash = Resource::new(
        || (),
        |_| async move {
            #[cfg(feature = "ssr")]
            {
                crate::services::visitor::Visitor::current().ok().and_then(|v| v.take_flash())
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
