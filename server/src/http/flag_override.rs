//! QA overrides of feature flags: `?ff.cart_layout=drawer` forces that variant for this browser
//! (a cookie, 30 days); `?ff.cart_layout=` removes the override. Unknown flags or variants are
//! ignored. Forced visitors are not counted in experiments.

use app::cookies::OVERRIDE_PREFIX;
use app::state::AppState;
use axum::{
    extract::{Request, State},
    http::{header, HeaderValue},
    middleware::Next,
    response::Response,
};

enum Change {
    Force(String, String),
    Clear(String),
}

fn requested(state: &AppState, query: &str) -> Vec<Change> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .filter_map(|(k, v)| Some((k.strip_prefix(OVERRIDE_PREFIX)?, v)))
        .filter_map(|(name, v)| {
            let flag = state.experiments.flag(name)?;
            if v.is_empty() {
                Some(Change::Clear(flag.name))
            } else {
                flag.has_variant(v).then(|| Change::Force(flag.name.clone(), v.to_string()))
            }
        })
        .collect()
}

pub async fn apply(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let changes = req.uri().query().map(|q| requested(&state, q)).unwrap_or_default();
    if changes.is_empty() {
        return next.run(req).await;
    }
    // This request already sees the new override: rebuild its Cookie header (read with the one
    // cookie parser) without the old ones.
    let mut jar = app::cookies::jar(req.headers());
    let secure = state.config.secure_cookies;
    let mut set_cookies = Vec::new();
    for change in &changes {
        let (name, value) = match change {
            Change::Force(name, value) => (name, Some(value)),
            Change::Clear(name) => (name, None),
        };
        let cookie_name = format!("{OVERRIDE_PREFIX}{name}");
        jar.force_remove(&cookie_name);
        match value {
            Some(v) => {
                jar.add((cookie_name.clone(), v.clone()));
                set_cookies.push(app::cookies::set_cookie(&cookie_name, v, 2_592_000, secure));
            }
            None => set_cookies.push(app::cookies::set_cookie(&cookie_name, "", 0, secure)),
        }
    }
    let header_value: Vec<String> = jar.iter().map(|c| c.stripped().encoded().to_string()).collect();
    req.headers_mut().remove(header::COOKIE);
    if let Ok(v) = HeaderValue::from_str(&header_value.join("; ")) {
        req.headers_mut().insert(header::COOKIE, v);
    }
    let mut res = next.run(req).await;
    for c in set_cookies.into_iter().flatten() {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}
