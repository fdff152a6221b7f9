//! Logging setup: JSON lines in Lambda (and whenever `LOG_FORMAT=json`), human-readable otherwise.
//!
//! Whatever `RUST_LOG` asks for, the HTTP and signing layers of the AWS SDK and of the HTTP
//! client are capped (see [`filter`]): at their `trace` level they print request headers, and
//! headers carry the AWS signature's key id, the session token and Overstock's Basic
//! credentials. The connector's own logs never carry secrets or customer data at any level.

use tracing_subscriber::EnvFilter;

/// Levels the libraries below are capped at, whatever the requested level.
const CAPS: &[&str] = &[
    "aws_smithy_runtime=debug",
    "aws_smithy_runtime_api=debug",
    "aws_smithy_http_client=info",
    "aws_sigv4=info",
    "aws_config=info",
    "aws_runtime=info",
    "hyper=info",
    "hyper_util=info",
    "h2=info",
    "reqwest=info",
    "rustls=info",
];

/// `spec` (a `RUST_LOG` value) with the caps: a directive of `spec` for a capped library is
/// dropped, so no setting can lift a cap.
pub fn filter(spec: &str) -> EnvFilter {
    let capped = |d: &str| CAPS.iter().any(|c| c.split('=').next().is_some_and(|target| d.trim().starts_with(target)));
    let mut directives: Vec<&str> = spec.split(',').filter(|d| !d.trim().is_empty() && !capped(d)).collect();
    directives.extend(CAPS.iter().copied());
    EnvFilter::try_new(directives.join(",")).unwrap_or_else(|_| EnvFilter::new(CAPS.join(",") + ",info"))
}

pub fn init() {
    let spec = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into());
    let json = std::env::var("AWS_LAMBDA_FUNCTION_NAME").is_ok()
        || std::env::var("LOG_FORMAT").map(|v| v == "json").unwrap_or(false);
    let builder = tracing_subscriber::fmt().with_env_filter(filter(&spec)).with_target(false);
    let _ = if json {
        builder.json().with_current_span(true).with_span_list(false).without_time().try_init()
    } else {
        builder.try_init()
    };
}
