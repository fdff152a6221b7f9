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
/// dropped, so no setting can lift a cap; and a cap never raises a library above the level
/// `spec` gives everything else (a cap is a ceiling: with `RUST_LOG=info` the SDK logs at
/// `info`, not at its `debug` cap).
pub fn filter(spec: &str) -> EnvFilter {
    use tracing_subscriber::filter::LevelFilter;
    let capped = |d: &str| CAPS.iter().any(|c| c.split('=').next().is_some_and(|target| d.trim().starts_with(target)));
    let mut directives: Vec<String> =
        spec.split(',').filter(|d| !d.trim().is_empty() && !capped(d)).map(str::to_owned).collect();
    // The level `spec` gives targets it does not name (EnvFilter's own default: error).
    let default =
        spec.split(',').filter_map(|d| d.trim().parse::<LevelFilter>().ok()).next_back().unwrap_or(LevelFilter::ERROR);
    for cap in CAPS {
        let (target, level) = cap.split_once('=').unwrap_or((cap, "off"));
        let ceiling = level.parse::<LevelFilter>().unwrap_or(LevelFilter::OFF);
        directives.push(format!("{target}={}", ceiling.min(default)));
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::filter::LevelFilter;

    #[test]
    fn a_cap_is_a_ceiling_never_a_raise() {
        // RUST_LOG=info: nothing logs below info, the SDK included (its cap is debug).
        assert_eq!(filter("info").max_level_hint(), Some(LevelFilter::INFO));
        assert!(filter("warn").to_string().contains("aws_smithy_runtime=warn"), "{}", filter("warn"));
        // RUST_LOG=trace: the connector traces; the SDK's signing and HTTP layers stay capped.
        let trace = filter("trace,aws_sigv4=trace").to_string();
        assert!(trace.contains("aws_sigv4=info") && !trace.contains("aws_sigv4=trace"), "{trace}");
        assert!(trace.contains("aws_smithy_runtime=debug"), "{trace}");
    }
}
