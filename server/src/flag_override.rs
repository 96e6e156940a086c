//! QA overrides of feature flags: `?ff.cart_layout=drawer` forces that variant for this browser
//! (a cookie, 30 days); `?ff.cart_layout=` removes the override. Unknown flags or variants are
//! ignored. Forced visitors are not counted in experiments.

use app::services::experiments::OVERRIDE_PREFIX;
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
    // This request already sees the new override: rebuild its Cookie header without the old ones.
    let mut cookies: Vec<String> = req
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect();
    let mut set_cookies = Vec::new();
    for change in &changes {
        let (name, value) = match change {
            Change::Force(name, value) => (name, Some(value)),
            Change::Clear(name) => (name, None),
        };
        let cookie_name = format!("{OVERRIDE_PREFIX}{name}");
        cookies.retain(|c| c.split_once('=').map(|(k, _)| k.trim()) != Some(cookie_name.as_str()));
        match value {
            Some(v) => {
                cookies.insert(0, format!("{cookie_name}={v}"));
                set_cookies.push(format!("{cookie_name}={v}; Path=/; Max-Age=2592000; HttpOnly; SameSite=Lax"));
            }
            None => set_cookies.push(format!("{cookie_name}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax")),
        }
    }
    req.headers_mut().remove(header::COOKIE);
    if let Ok(v) = HeaderValue::from_str(&cookies.join("; ")) {
        req.headers_mut().insert(header::COOKIE, v);
    }
    let mut res = next.run(req).await;
    for c in set_cookies {
        if let Ok(v) = HeaderValue::from_str(&c) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}
