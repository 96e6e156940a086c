//! Who is signed in, for the header and the account pages.

use super::cart::{CartCtx, MessageKind};
use crate::api::auth::{logout, me};
use crate::error::AppError;
use crate::model::{AuthAnswer, CartView, UserInfo};
use leptos::prelude::*;

#[derive(Clone, Copy)]
pub struct AuthCtx {
    initial: Resource<Result<Option<UserInfo>, AppError>>,
    /// Set once the browser signs in or out; until then the page-load answer stands.
    current: RwSignal<Option<Option<UserInfo>>>,
}

impl AuthCtx {
    pub fn provide() -> AuthCtx {
        let ctx = AuthCtx { initial: Resource::new(|| (), |_| me()), current: RwSignal::new(None) };
        provide_context(ctx);
        ctx
    }

    pub fn user(&self) -> Option<UserInfo> {
        self.current.get().unwrap_or_else(|| self.initial.get().and_then(Result::ok).flatten())
    }

    /// The signed-in account once it is known (waits for the page-load answer if needed).
    pub async fn resolved_user(&self) -> Option<UserInfo> {
        if let Some(known) = self.current.get_untracked() {
            return known;
        }
        self.initial.await.ok().flatten()
    }

    /// True right after signing out on this page (the move to the home page is under way).
    pub fn just_signed_out(&self) -> bool {
        self.current.get() == Some(None)
    }

    /// After a sign-in or registration from this page: the account and its merged cart.
    pub fn signed_in(&self, answer: AuthAnswer) {
        let cart = expect_context::<CartCtx>();
        self.current.set(Some(Some(answer.user)));
        cart.reset(answer.cart);
        for n in answer.notices {
            cart.say(MessageKind::Info, n);
        }
    }

    /// Signs out: the session ends server-side; here the cart and its browser copy are emptied so
    /// the next person at this computer sees nothing of it.
    pub fn sign_out(&self) {
        let ctx = *self;
        let cart = expect_context::<CartCtx>();
        let navigate = leptos_router::hooks::use_navigate();
        leptos::task::spawn_local(async move {
            match logout().await {
                Ok(()) => {
                    crate::client::local_cart::clear();
                    navigate("/", Default::default());
                    cart.reset(CartView { guest: true, ..CartView::default() });
                    ctx.current.set(Some(None));
                    cart.say(MessageKind::Ok, "You are signed out.");
                }
                Err(e) => cart.say(MessageKind::Error, e.message()),
            }
        });
    }
}

/// "Sign in" or "Account" in the header.
#[component]
pub fn AccountLink() -> impl IntoView {
    let auth = expect_context::<AuthCtx>();
    view! {
        <Transition fallback=|| view! { <a href="/login">"Sign in"</a> }>
            {move || match auth.user() {
                Some(user) => view! { <a href="/account" title=user.email.clone()>"Account"</a> }.into_any(),
                None => view! { <a href="/login">"Sign in"</a> }.into_any(),
            }}
        </Transition>
    }
}
