//! Every setting the shop reads from the environment, with its default, in one struct.
//! It lives in `app` (not `server`) because server functions read it from the request context.
//! Secrets (the cookie secret, the metrics token, passwords inside URLs) never print: they are
//! `SecretString`s, and `Debug` shows URLs without their credentials.

use secrecy::SecretString;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Clone)]
pub struct Config {
    /// `SHOP_ADDR`, default `127.0.0.1:3000`.
    pub addr: SocketAddr,
    /// `DATABASE_URL`, default `sqlite://data/shop.db` (created and seeded on first start).
    pub database_url: String,
    /// `DATABASE_MAX_CONNECTIONS`, default 16 (PostgreSQL) / 8 (SQLite).
    pub database_max_connections: Option<u32>,
    /// `REDIS_URL`: when set, sessions, guest carts and the user-cart cache live in Redis.
    pub redis_url: Option<String>,
    /// `COOKIE_SECRET` (at least 64 bytes). Default: a random secret kept in `data/cookie-secret`.
    /// Instances that share sessions must share it.
    pub cookie_secret: Option<SecretString>,
    /// `SHOP_ORIGINS`: comma-separated origins allowed to post to the API (CSRF check).
    /// Default: `http://127.0.0.1:{port},http://localhost:{port}`.
    pub origins: Vec<String>,
    /// `COOKIE_SECURE`: mark cookies Secure (default: true when an origin is https).
    pub secure_cookies: bool,
    /// `RUST_LOG`, default `info,sqlx=warn` with tower-sessions at warn.
    pub log_filter: String,
    /// `LOG_FORMAT=json` for JSON logs; default human-readable.
    pub log_json: bool,
    /// `SEED_DEMO`: load the demo catalogue into an empty database (default true).
    pub seed_demo: bool,
    /// `SESSION_DAYS`: days of inactivity before a guest session expires (default 30).
    pub session_inactivity: Duration,
    /// `SESSION_CACHE_MB`: on SQLite, how many megabytes of sessions the process keeps in memory
    /// so most requests read theirs without a database round trip (default 32; 0 turns it off).
    /// Not used on PostgreSQL, whose session table several instances may share.
    pub session_cache_bytes: u64,
    /// `CART_CACHE_MB`: in the embedded default (SQLite, no Redis), how many megabytes of carts
    /// the process keeps in memory so showing a cart needs no database round trip (default 32;
    /// 0 turns it off). Not used where other processes could write carts (PostgreSQL, Redis).
    pub cart_cache_bytes: u64,
    /// `SHUTDOWN_GRACE_SECS`: how long in-flight requests get on shutdown (default 20).
    pub shutdown_grace: Duration,
    /// `LEPTOS_SITE_ROOT`: the folder holding the built client code and styles (`pkg/`) and the
    /// public files (default `target/site`, where `cargo leptos build` puts them).
    pub site_root: String,
    /// `LEPTOS_WATCH=true` (set by `cargo leptos watch`): pages name the client files under
    /// `/pkg/`, read from disk on every request, so rebuilds show without a restart.
    pub dev_watch: bool,
    /// `TRUST_PROXY`: take the client address from the last `X-Forwarded-For` entry (set it only
    /// behind a proxy that writes that header). Default false: the socket's peer address.
    pub trust_proxy: bool,
    /// `METRICS_TOKEN`: serve `/metrics` on the shop's port to requests carrying
    /// `Authorization: Bearer <token>`. Unset: `/metrics` is not served there (404).
    pub metrics_token: Option<SecretString>,
    /// `METRICS_ADDR`: serve `/metrics` (only) on this address too, e.g. `127.0.0.1:9100`.
    pub metrics_addr: Option<SocketAddr>,
    /// `LIVE_STREAMS_MAX`: most open live cart streams (`/events/cart`) per process (default 10,000).
    pub max_live_streams: usize,
    /// `CART_PERSISTENCE`: where cart changes go (`database`, `write-through`, `write-behind`;
    /// the last two need `REDIS_URL`). Unset: today's choice per kind of cart (with Redis, guest
    /// carts in Redis only and account carts write-through; without, everything in the database).
    pub cart_persistence: Option<CartPersistence>,
    /// `CART_FLUSH_IDLE_SECS`: with write-behind, how long a cart stays unchanged in Redis before
    /// it is written to the database (default 30).
    pub cart_flush_idle: Duration,
    /// `PAYMENTS_SIMULATE_CAPTURE_FAILURES`: the simulated payment provider fails this many
    /// captures before it succeeds again (default 0; for demonstrations and tests).
    pub simulated_capture_failures: u32,
}

/// The three classic ways to persist a cart (`CART_PERSISTENCE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CartPersistence {
    /// Every change in SQL only.
    Database,
    /// Every change in SQL, then a copy in Redis for reads.
    WriteThrough,
    /// Every change in Redis only; idle carts are written to SQL in the background, and at once
    /// before anything that reads SQL as the truth.
    WriteBehind,
}

impl std::str::FromStr for CartPersistence {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "database" => Ok(CartPersistence::Database),
            "write-through" => Ok(CartPersistence::WriteThrough),
            "write-behind" => Ok(CartPersistence::WriteBehind),
            _ => Err("CART_PERSISTENCE: expected database, write-through or write-behind".into()),
        }
    }
}

/// `scheme://user:password@host/...` without the credentials.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://***@{}", &url[..scheme], &url[at + 1..]),
        _ => url.to_string(),
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("addr", &self.addr)
            .field("database_url", &redact_url(&self.database_url))
            .field("database_max_connections", &self.database_max_connections)
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .field("cookie_secret", &self.cookie_secret)
            .field("origins", &self.origins)
            .field("secure_cookies", &self.secure_cookies)
            .field("log_filter", &self.log_filter)
            .field("log_json", &self.log_json)
            .field("seed_demo", &self.seed_demo)
            .field("session_inactivity", &self.session_inactivity)
            .field("session_cache_bytes", &self.session_cache_bytes)
            .field("cart_cache_bytes", &self.cart_cache_bytes)
            .field("site_root", &self.site_root)
            .field("dev_watch", &self.dev_watch)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("trust_proxy", &self.trust_proxy)
            .field("metrics_token", &self.metrics_token)
            .field("metrics_addr", &self.metrics_addr)
            .field("max_live_streams", &self.max_live_streams)
            .field("cart_persistence", &self.cart_persistence)
            .field("cart_flush_idle", &self.cart_flush_idle)
            .field("simulated_capture_failures", &self.simulated_capture_failures)
            .finish()
    }
}

impl Config {
    pub fn from_env() -> Result<Config, String> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads settings through `get`, so tests can pass a map instead of the process environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
        let non_empty = |k: &str| get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let addr: SocketAddr = non_empty("SHOP_ADDR")
            .or_else(|| non_empty("LEPTOS_SITE_ADDR"))
            .unwrap_or_else(|| "127.0.0.1:3000".into())
            .parse()
            .map_err(|e| format!("SHOP_ADDR: {e}"))?;
        let origins: Vec<String> = match non_empty("SHOP_ORIGINS") {
            Some(list) => list.split(',').map(|s| s.trim().trim_end_matches('/').to_string()).collect(),
            None => vec![format!("http://127.0.0.1:{}", addr.port()), format!("http://localhost:{}", addr.port())],
        };
        let secure_cookies = match non_empty("COOKIE_SECURE") {
            Some(v) => parse_bool(&v).ok_or("COOKIE_SECURE: expected true or false")?,
            None => origins.iter().any(|o| o.starts_with("https://")),
        };
        let database_max_connections = match non_empty("DATABASE_MAX_CONNECTIONS") {
            Some(v) => Some(v.parse().map_err(|_| "DATABASE_MAX_CONNECTIONS: expected a number")?),
            None => None,
        };
        let seed_demo = match non_empty("SEED_DEMO") {
            Some(v) => parse_bool(&v).ok_or("SEED_DEMO: expected true or false")?,
            None => true,
        };
        let session_days: u64 = match non_empty("SESSION_DAYS") {
            Some(v) => v.parse().map_err(|_| "SESSION_DAYS: expected a number of days")?,
            None => 30,
        };
        let grace: u64 = match non_empty("SHUTDOWN_GRACE_SECS") {
            Some(v) => v.parse().map_err(|_| "SHUTDOWN_GRACE_SECS: expected seconds")?,
            None => 20,
        };
        let trust_proxy = match non_empty("TRUST_PROXY") {
            Some(v) => parse_bool(&v).ok_or("TRUST_PROXY: expected true or false")?,
            None => false,
        };
        let cookie_secret = non_empty("COOKIE_SECRET");
        if let Some(secret) = &cookie_secret {
            if secret.len() < 64 {
                return Err("COOKIE_SECRET must be at least 64 characters".into());
            }
        }
        let metrics_token = non_empty("METRICS_TOKEN");
        if metrics_token.as_ref().is_some_and(|t| t.len() < 16) {
            return Err("METRICS_TOKEN must be at least 16 characters".into());
        }
        let metrics_addr = match non_empty("METRICS_ADDR") {
            Some(v) => Some(v.parse().map_err(|e| format!("METRICS_ADDR: {e}"))?),
            None => None,
        };
        let max_live_streams = match non_empty("LIVE_STREAMS_MAX") {
            Some(v) => v.parse().map_err(|_| "LIVE_STREAMS_MAX: expected a number")?,
            None => 10_000,
        };
        let simulated_capture_failures = match non_empty("PAYMENTS_SIMULATE_CAPTURE_FAILURES") {
            Some(v) => v.parse().map_err(|_| "PAYMENTS_SIMULATE_CAPTURE_FAILURES: expected a number")?,
            None => 0,
        };
        let cart_persistence: Option<CartPersistence> = match non_empty("CART_PERSISTENCE") {
            Some(v) => Some(v.parse()?),
            None => None,
        };
        if cart_persistence.is_some_and(|p| p != CartPersistence::Database) && non_empty("REDIS_URL").is_none() {
            return Err("CART_PERSISTENCE: write-through and write-behind need REDIS_URL".into());
        }
        let flush_idle: u64 = match non_empty("CART_FLUSH_IDLE_SECS") {
            Some(v) => v
                .parse()
                .ok()
                .filter(|s| (1..=86_400).contains(s))
                .ok_or("CART_FLUSH_IDLE_SECS: expected 1 to 86400 seconds")?,
            None => 30,
        };
        let session_cache_mb: u64 = match non_empty("SESSION_CACHE_MB") {
            Some(v) => {
                v.parse().ok().filter(|mb| *mb <= 4096).ok_or("SESSION_CACHE_MB: expected 0 to 4096 megabytes")?
            }
            None => 32,
        };
        let cart_cache_mb: u64 = match non_empty("CART_CACHE_MB") {
            Some(v) => v.parse().ok().filter(|mb| *mb <= 4096).ok_or("CART_CACHE_MB: expected 0 to 4096 megabytes")?,
            None => 32,
        };
        Ok(Config {
            addr,
            database_url: non_empty("DATABASE_URL").unwrap_or_else(|| "sqlite://data/shop.db".into()),
            database_max_connections,
            redis_url: non_empty("REDIS_URL"),
            cookie_secret: cookie_secret.map(SecretString::from),
            origins,
            secure_cookies,
            // tower-sessions opens an info-level span for every request and every session call,
            // a few percent of a cart read's CPU; its errors are still logged at warn and above.
            log_filter: non_empty("RUST_LOG")
                .unwrap_or_else(|| "info,sqlx=warn,tower_sessions=warn,tower_sessions_core=warn".into()),
            log_json: non_empty("LOG_FORMAT").is_some_and(|v| v == "json"),
            seed_demo,
            session_inactivity: Duration::from_secs(session_days * 24 * 3600),
            session_cache_bytes: session_cache_mb * 1024 * 1024,
            cart_cache_bytes: cart_cache_mb * 1024 * 1024,
            shutdown_grace: Duration::from_secs(grace),
            site_root: non_empty("LEPTOS_SITE_ROOT").unwrap_or_else(|| "target/site".into()),
            dev_watch: non_empty("LEPTOS_WATCH").is_some_and(|v| v == "true"),
            trust_proxy,
            metrics_token: metrics_token.map(SecretString::from),
            metrics_addr,
            max_live_streams,
            cart_persistence,
            cart_flush_idle: Duration::from_secs(flush_idle),
            simulated_capture_failures,
        })
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_need_no_environment() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.addr.to_string(), "127.0.0.1:3000");
        assert_eq!(c.database_url, "sqlite://data/shop.db");
        assert_eq!(c.redis_url, None);
        assert_eq!(c.origins, vec!["http://127.0.0.1:3000", "http://localhost:3000"]);
        assert!(!c.secure_cookies);
        assert_eq!(c.session_inactivity, Duration::from_secs(30 * 86400));
        assert_eq!(c.session_cache_bytes, 32 * 1024 * 1024);
        assert_eq!(c.cart_cache_bytes, 32 * 1024 * 1024);
    }

    #[test]
    fn settings_are_read_and_checked() {
        let c = cfg(&[("SHOP_ADDR", "0.0.0.0:8080"), ("SHOP_ORIGINS", "https://shop.example/"), ("REDIS_URL", " ")])
            .unwrap();
        assert_eq!(c.addr.port(), 8080);
        assert_eq!(c.origins, vec!["https://shop.example"]);
        assert!(c.secure_cookies, "https origins imply Secure cookies");
        assert_eq!(c.redis_url, None, "blank means unset");
        assert!(cfg(&[("SHOP_ADDR", "nonsense")]).is_err());
        assert!(cfg(&[("COOKIE_SECRET", "short")]).is_err());
        assert!(cfg(&[("SEED_DEMO", "maybe")]).is_err());
        assert!(cfg(&[("METRICS_TOKEN", "short")]).is_err());
        assert!(cfg(&[("METRICS_ADDR", "nowhere")]).is_err());
        assert_eq!(cfg(&[("SESSION_CACHE_MB", "0")]).unwrap().session_cache_bytes, 0);
        assert!(cfg(&[("SESSION_CACHE_MB", "4097")]).is_err());
        assert!(cfg(&[("SESSION_CACHE_MB", "-1")]).is_err());
        assert_eq!(cfg(&[("CART_CACHE_MB", "0")]).unwrap().cart_cache_bytes, 0);
        assert!(cfg(&[("CART_CACHE_MB", "4097")]).is_err());
    }

    #[test]
    fn secrets_never_print() {
        let secret = "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t";
        let c = cfg(&[
            ("COOKIE_SECRET", secret),
            ("METRICS_TOKEN", "metrics-token-value-123"),
            ("DATABASE_URL", "postgres://shop:dbpass123@db.internal/shop"),
            ("REDIS_URL", "redis://:redispass456@cache.internal:6379"),
        ])
        .unwrap();
        let printed = format!("{c:?}");
        for leaked in [secret, "metrics-token-value-123", "dbpass123", "redispass456"] {
            assert!(!printed.contains(leaked), "{leaked} printed in {printed}");
        }
        assert!(printed.contains("db.internal/shop") && printed.contains("cache.internal:6379"));
    }

    #[test]
    fn cart_persistence_is_one_of_three_and_the_redis_ones_need_redis() {
        assert_eq!(cfg(&[]).unwrap().cart_persistence, None);
        let c = cfg(&[("CART_PERSISTENCE", "write-behind"), ("REDIS_URL", "redis://127.0.0.1:6379")]).unwrap();
        assert_eq!(c.cart_persistence, Some(CartPersistence::WriteBehind));
        assert_eq!(c.cart_flush_idle, Duration::from_secs(30));
        assert_eq!(cfg(&[("CART_PERSISTENCE", "database")]).unwrap().cart_persistence, Some(CartPersistence::Database));
        assert!(cfg(&[("CART_PERSISTENCE", "write-through")]).is_err(), "needs Redis");
        assert!(cfg(&[("CART_PERSISTENCE", "sometimes")]).is_err());
        assert!(cfg(&[("CART_FLUSH_IDLE_SECS", "0")]).is_err());
        assert!(cfg(&[("CART_FLUSH_IDLE_SECS", "abc")]).is_err());
    }
}
