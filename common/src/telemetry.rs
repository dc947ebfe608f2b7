//! Tracing set-up: human-readable logs by default, JSON when `LOG_FORMAT=json`.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// Installs the global subscriber once; later calls (as in tests) are ignored.
pub fn init(service: &str) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("info,{service}=info,budgetsmart_common=info")));
    let json = crate::config::string("LOG_FORMAT", "text").eq_ignore_ascii_case("json");
    let registry = tracing_subscriber::registry().with(filter);
    let result = if json {
        registry.with(fmt::layer().json().with_current_span(true)).try_init()
    } else {
        registry.with(fmt::layer().with_target(true)).try_init()
    };
    // A second init (several services in one test process) is expected and harmless.
    let _ = result;
}
