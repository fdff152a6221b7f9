//! Logging setup: JSON lines in Lambda (and whenever `LOG_FORMAT=json`), human-readable otherwise.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("AWS_LAMBDA_FUNCTION_NAME").is_ok()
        || std::env::var("LOG_FORMAT").map(|v| v == "json").unwrap_or(false);
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    let _ = if json {
        builder.json().with_current_span(true).with_span_list(false).without_time().try_init()
    } else {
        builder.try_init()
    };
}
