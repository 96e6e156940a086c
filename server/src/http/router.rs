//! The axum router: health, API, pages and static files, with sessions, compression and cache
//! headers.

use super::{
    api, assets, cart_events, compression, flag_override, health, metrics, page_cache, variant_links, visitor_id,
};
use crate::startup;
use app::services::visitor::Visitor;
use app::state::AppState;
use app::{shell, App};
use axum::{
    extract::State,
    http::{header, HeaderValue, Request},
    middleware::{self, Next},
    response::Response,
    routing::{any, get},
    Router,
};
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::catch_panic::CatchPanicLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer};

/// The shop's listener with TCP_NODELAY on every connection: otherwise a response written in
/// more than one segment can wait for the client's delayed ACK (about 40 ms; the load test saw it
/// as a product-page p95 of 46 ms against a p50 of 3 ms).
pub fn no_delay(listener: tokio::net::TcpListener) -> NoDelay {
    use axum::serve::ListenerExt;
    fn set(tcp: &mut tokio::net::TcpStream) {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::trace!(error = %e, "could not set TCP_NODELAY");
        }
    }
    listener.tap_io(set)
}

/// What `no_delay` returns (named so `ConnectInfo<SocketAddr>` works with it).
pub type NoDelay = axum::serve::TapIo<tokio::net::TcpListener, fn(&mut tokio::net::TcpStream)>;

/// The app's routes, generated once per process. Generating them renders the app with resource
/// loading suppressed process-wide (leptos-rs/leptos#4773): doing it while another server in the
/// same process renders a page (tests build many) leaves that page's resources pending forever.
fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

pub fn build(state: AppState) -> Result<Router, startup::StartupError> {
    metrics::handle();
    let key = state.cookie_key.clone();
    let inactivity = time::Duration::seconds(state.config.session_inactivity.as_secs() as i64);
    let sessions = SessionManagerLayer::new(startup::session_store(&state))
        .with_name(app::cookies::SESSION)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.config.secure_cookies)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(inactivity))
        .with_signed(key);
    let routes = route_list();
    // Before every server function: mark the call and, for a plain form post, answer with a
    // checked redirect back to its page unless the function says otherwise (`app::edge`).
    // leptos_axum itself provides the `AppState`.
    let origins: std::sync::Arc<[String]> = state.config.origins.clone().into();
    let secure_cookies = state.config.secure_cookies;
    let options = state.leptos_options.clone();
    Ok(Router::new()
        .route("/api/{*fn_name}", any(api::unknown_endpoint))
        .leptos_routes_with_context(&state, routes, move || app::edge::begin(&origins, secure_cookies), {
            let options = options.clone();
            move || shell(options.clone())
        })
        .route("/events/cart", get(cart_events::stream))
        .route_layer(middleware::from_fn(metrics::track))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(middleware::from_fn_with_state(state.clone(), with_visitor))
        .layer(sessions)
        .layer(middleware::from_fn_with_state(state.clone(), api::guard))
        .layer(middleware::from_fn_with_state(state.clone(), page_cache::serve))
        .layer(middleware::from_fn_with_state(state.clone(), variant_links::choose))
        .layer(middleware::from_fn_with_state(state.clone(), visitor_id::ensure))
        .layer(middleware::from_fn_with_state(state.clone(), flag_override::apply))
        // Health checks and the client's files stay outside the session layer: they need no
        // visitor and must not touch the session store.
        .route("/assets/{fingerprint}/{*file}", assets::route(&options).layer(middleware::from_fn(metrics::track)))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        // Only with METRICS_TOKEN (a bearer token); METRICS_ADDR serves it on its own listener.
        .route("/metrics", get(metrics::render_with_token))
        .layer(middleware::from_fn(cache_headers))
        .layer(compression::for_api())
        .layer(compression::for_the_rest())
        .layer(middleware::from_fn(security_headers))
        // A panic is a bug, never an answer: the client gets a 500, the connection survives, and
        // the panic is logged and counted.
        .layer(CatchPanicLayer::custom(panicked))
        .with_state(state))
}

/// Builds the request's `Visitor` once (session, signed cookies, anonymous id, address, QA
/// overrides, flash) for the handlers and server functions below, adds the cookies its actions
/// set to the response, and keeps a session in use from expiring (a store write at most once a
/// day), after the request so its own work comes first.
async fn with_visitor(
    State(state): State<AppState>,
    session: Session,
    mut req: Request<axum::body::Body>,
    next: Next,
) -> Response {
    // Static files need no visitor and keep no session alive.
    if ["/pkg/", "/img/", "/favicon"].iter().any(|p| req.uri().path().starts_with(p)) {
        return next.run(req).await;
    }
    let visitor = Visitor::from_request(&state, session.clone(), &req);
    req.extensions_mut().insert(visitor.clone());
    let mut res = next.run(req).await;
    for cookie in visitor.take_cookies() {
        res.headers_mut().append(header::SET_COOKIE, cookie);
    }
    app::services::visitor::touch(&session).await;
    res
}

/// Headers every answer carries: no framing by other sites (clickjacking), no content sniffing,
/// and no full URLs (order links carry their key) in the `Referer` sent to other sites.
async fn security_headers(req: Request<axum::body::Body>, next: Next) -> Response {
    let mut res = next.run(req).await;
    let headers = res.headers_mut();
    for (name, value) in [
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            header::CONTENT_SECURITY_POLICY,
            "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
    ] {
        headers.entry(name).or_insert(HeaderValue::from_static(value));
    }
    res
}

fn panicked(err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = %detail, "a request handler panicked");
    ::metrics::counter!("shop_panics_total").increment(1);
    axum::response::IntoResponse::into_response(app::error::AppError::internal())
}

/// Static files: the wasm/js/css bundle revalidates on every load (names are not hashed, so a
/// deploy must be picked up at once); pictures are cached for a day. Pages are never cached.
async fn cache_headers(req: Request<axum::body::Body>, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let mut res = next.run(req).await;
    if res.headers().contains_key(header::CACHE_CONTROL) {
        return res;
    }
    let value = if path.starts_with("/pkg/") {
        "public, no-cache"
    } else if path.starts_with("/img/") || path == "/favicon.svg" {
        "public, max-age=86400"
    } else if path.starts_with("/api/") {
        "no-store"
    } else {
        "private, no-cache"
    };
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    res
}

#[cfg(test)]
mod no_delay_tests {
    use axum::serve::Listener;

    #[tokio::test]
    async fn accepted_connections_send_at_once() {
        let plain = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = plain.local_addr().unwrap();
        let mut listener = super::no_delay(plain);
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (accepted, _) = listener.accept().await;
        assert!(accepted.nodelay().unwrap());
    }
}
