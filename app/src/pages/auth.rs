//! Sign in, register and the account page.

#[cfg(feature = "hydrate")]
use crate::api::auth::{login, register};
use crate::api::auth::{safe_next, Login, Logout, Register};
use crate::components::auth::AuthCtx;
use crate::components::cart::CartCtx;
use crate::components::page_title::PageTitle;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Meta;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_query_map;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    SignIn,
    Register,
}

#[component]
pub fn LoginPage() -> impl IntoView {
    view! { <AuthForm mode=Mode::SignIn /> }
}

#[component]
pub fn RegisterPage() -> impl IntoView {
    view! { <AuthForm mode=Mode::Register /> }
}

/// One form for both: real `<form>` posting to the endpoint; with JavaScript the answer updates
/// the header and the cart in place and the page moves on.
#[component]
fn AuthForm(mode: Mode) -> impl IntoView {
    let auth = expect_context::<AuthCtx>();
    let cart = expect_context::<CartCtx>();
    let query = use_query_map();
    let next = move || safe_next(query.read().get("next").as_deref());
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let navigate = leptos_router::hooks::use_navigate();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            ev.prevent_default();
            let Some(form) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlFormElement>().ok()) else { return };
            let Ok(data) = web_sys::FormData::new_with_form(&form) else { return };
            let field = |name: &str| data.get(name).as_string().unwrap_or_default();
            let (email, password, to) = (field("email"), field("password"), next());
            pending.set(true);
            error.set(None);
            let navigate = navigate.clone();
            leptos::task::spawn_local(async move {
                let result = match mode {
                    Mode::SignIn => login(email, password, Some(to.clone())).await,
                    Mode::Register => register(email, password, Some(to.clone())).await,
                };
                pending.set(false);
                match result {
                    Ok(answer) => {
                        auth.signed_in(answer);
                        navigate(&to, Default::default());
                    }
                    Err(e) => error.set(Some(e.message())),
                }
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (ev, &navigate, auth, mode);
    };
    let (title, heading, action, button, autocomplete) = match mode {
        Mode::SignIn => ("Sign in · Copperleaf", "Sign in", Login::url(), "Sign in", "current-password"),
        Mode::Register => {
            ("Create an account · Copperleaf", "Create an account", Register::url(), "Create account", "new-password")
        }
    };
    view! {
        <PageTitle text=title />
        <Meta name="description" content="Sign in to Copperleaf to keep your cart on every device and see your orders." />
        <Meta name="robots" content="noindex" />
        <h1>{heading}</h1>
        <div class="form-card">
            <form method="post" action=action on:submit=on_submit novalidate=false>
                <input type="hidden" name="next" value=next />
                <div class="field">
                    <label for="email">"Email"</label>
                    <input id="email" name="email" type="email" autocomplete="email" required maxlength="254" />
                </div>
                <div class="field">
                    <label for="password">"Password"</label>
                    <input id="password" name="password" type="password" autocomplete=autocomplete required maxlength="128" />
                    {(mode == Mode::Register).then(|| view! { <span class="hint">"8 to 128 characters."</span> })}
                </div>
                {move || error.get().map(|e| view! { <p class="notice notice-error" role="alert">{e}</p> })}
                <button
                    type="submit"
                    class="btn btn-primary"
                    disabled=move || pending.get() || cart.restoring.get()
                >
                    {button}
                </button>
            </form>
            {match mode {
                Mode::SignIn => view! {
                    <p>"New here? " <a href=move || crate::domain::redirect::with_next("/register", &next())>"Create an account"</a></p>
                }.into_any(),
                Mode::Register => view! {
                    <p>"Already have an account? " <a href=move || crate::domain::redirect::with_next("/login", &next())>"Sign in"</a></p>
                }.into_any(),
            }}
        </div>
    }
}

#[component]
pub fn AccountPage() -> impl IntoView {
    let auth = expect_context::<AuthCtx>();
    view! {
        <PageTitle text="Your account · Copperleaf" />
        <Meta name="robots" content="noindex" />
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                // Signing out here moves to the home page; do not bounce to the sign-in form.
                if auth.just_signed_out() {
                    return ().into_any();
                }
                match auth.resolved_user().await {
                None => view! { <Redirect path="/login?next=/account" /> }.into_any(),
                Some(user) => view! {
                    <h1>"Your account"</h1>
                    <p>"Signed in as " <strong>{user.email.clone()}</strong></p>
                    <ul class="account-links">
                        <li><a href="/account/orders">"Your orders"</a></li>
                        <li><a href="/cart">"Your cart"</a></li>
                        {user.is_admin.then(|| view! { <li><a href="/admin">"Shop admin: feature flags and experiments"</a></li> })}
                    </ul>
                    <form method="post" action=Logout::url() on:submit=move |ev: leptos::ev::SubmitEvent| {
                        #[cfg(feature = "hydrate")]
                        {
                            ev.prevent_default();
                            auth.sign_out();
                        }
                        #[cfg(not(feature = "hydrate"))]
                        let _ = ev;
                    }>
                        <button type="submit" class="btn">"Sign out"</button>
                    </form>
                }.into_any(),
                }
            })}
        </Transition>
    }
}
