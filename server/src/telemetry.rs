//! Structured logs through `tracing`: human-readable by default, JSON with `LOG_FORMAT=json`.

use app::config::Config;
use tracing_subscriber::{fmt, EnvFilter};

pub fn init(config: &Config) {
    let filter = EnvFilter::try_new(&config.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_target(true);
    // `try_init` so tests that build several servers in one process do not panic.
    let _ = if config.log_json { builder.json().try_init() } else { builder.try_init() };
}
