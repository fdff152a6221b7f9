//! Logging setup: JSON lines in Lambda (and whenever `LOG_FORMAT=json`), human-readable otherwise.
//!
//! Whatever `RUST_LOG` asks for, the libraries that print what they carry are capped at `info`
//! (see [`filter`]): every crate of the AWS SDK (below `info` they print request headers — the
//! signature's access key id, the session token — and credential providers' details), the
//! Lambda runtime (at `trace` it prints every raw event: a refund's free-text notes, an order's
//! message), and the HTTP and TLS stack (headers: Overstock's Basic credentials). A cap names a
//! crate prefix, so a crate the SDK adds later is capped too. The connector's own logs never
//! carry message bodies, secrets or customer data at any level.

use tracing_subscriber::EnvFilter;

/// Levels the libraries below are capped at, whatever the requested level. A target here is a
/// prefix: `aws_` is every crate of the SDK (`aws_sdk_*`, `aws_smithy_*`, `aws_sigv4`,
/// `aws_config`, `aws_credential_types` …), `lambda_runtime` also `lambda_runtime_api_client`,
/// `hyper` also `hyper_util`.
const CAPS: &[&str] = &[
    "aws_=info",
    "lambda_runtime=info",
    "lambda_http=info",
    "hyper=info",
    "h2=info",
    "http=info",
    "tower=info",
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

/// How a binary logs, read from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// The `RUST_LOG` value (default `info`), known to parse.
    pub spec: String,
    pub json: bool,
}

/// `RUST_LOG` (every directive must parse: a typo is an error, never a silent fallback to
/// another level) and `LOG_FORMAT` (`json` or `text`; default JSON in Lambda, text elsewhere).
pub fn settings(env: &impl crate::config::Env) -> Result<LogSettings, crate::config::ConfigError> {
    let spec = env.get("RUST_LOG").unwrap_or_else(|| "info".into());
    if spec.trim().is_empty() || EnvFilter::try_new(&spec).is_err() {
        return Err(crate::config::ConfigError {
            key: "RUST_LOG".into(),
            value: spec,
            reason: "not a log filter (e.g. info, or warn,shared=debug)".into(),
        });
    }
    let json = match env.get("LOG_FORMAT").as_deref().map(str::trim) {
        None | Some("") => env.get("AWS_LAMBDA_FUNCTION_NAME").is_some(),
        Some("json") => true,
        Some("text") => false,
        Some(other) => {
            return Err(crate::config::ConfigError {
                key: "LOG_FORMAT".into(),
                value: other.to_owned(),
                reason: "must be json or text".into(),
            });
        }
    };
    Ok(LogSettings { spec, json })
}

/// Installs the subscriber. A bad `RUST_LOG` or `LOG_FORMAT` stops the binary at start, naming
/// the variable, like every other setting.
pub fn init() -> Result<(), crate::config::ConfigError> {
    let s = settings(&crate::config::ProcessEnv)?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter(&s.spec)).with_target(false);
    let _ = if s.json {
        builder.json().with_current_span(true).with_span_list(false).without_time().try_init()
    } else {
        builder.try_init()
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use tracing_subscriber::filter::LevelFilter;

    struct Vars(HashMap<&'static str, &'static str>);
    impl crate::config::Env for Vars {
        fn get(&self, key: &str) -> Option<String> {
            self.0.get(key).map(|v| (*v).to_owned())
        }
    }

    #[test]
    fn a_bad_log_setting_is_an_error_naming_the_variable() {
        let of = |pairs: &[(&'static str, &'static str)]| settings(&Vars(pairs.iter().copied().collect()));
        assert_eq!(of(&[]), Ok(LogSettings { spec: "info".into(), json: false }));
        assert_eq!(of(&[("AWS_LAMBDA_FUNCTION_NAME", "f")]).map(|s| s.json), Ok(true));
        assert_eq!(of(&[("AWS_LAMBDA_FUNCTION_NAME", "f"), ("LOG_FORMAT", "text")]).map(|s| s.json), Ok(false));
        assert_eq!(of(&[("LOG_FORMAT", "json"), ("RUST_LOG", "warn,shared=debug")]).map(|s| s.json), Ok(true));
        for (key, value) in
            [("RUST_LOG", "inf0=="), ("RUST_LOG", "shared=loud"), ("RUST_LOG", " "), ("LOG_FORMAT", "JSONL")]
        {
            let e = of(&[(key, value)]).err();
            assert!(e.as_ref().is_some_and(|e| e.key == key), "{key}={value}: {e:?}");
        }
    }

    /// Every field a log event or span carries has a name of its own: `message` is the event's
    /// text, so a field named `message` would make a JSON line with the key twice (and most
    /// parsers keep the last). Scans the sources of every crate.
    #[test]
    fn no_log_event_names_a_field_message() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut stack = vec![root.join("shared/src"), root.join("functions"), root.join("tools")];
        let mut found = Vec::new();
        let mut files = 0;
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    files += 1;
                    let text = std::fs::read_to_string(&path).unwrap_or_default();
                    for (i, line) in text.lines().enumerate() {
                        let t = line.trim_start();
                        let in_macro = ["info!(", "warn!(", "error!(", "debug!(", "trace!(", "_span!("]
                            .iter()
                            .any(|m| t.contains(m));
                        if in_macro && (t.contains("(message =") || t.contains(" message =") || t.contains("(message:"))
                        {
                            found.push(format!("{}:{}", path.display(), i + 1));
                        }
                    }
                }
            }
        }
        assert!(files > 50, "the sources were found ({files} files)");
        assert!(found.is_empty(), "fields named message: {found:?}");
    }

    #[test]
    fn a_cap_is_a_ceiling_never_a_raise() {
        // RUST_LOG=info: nothing logs below info, the SDK included.
        assert_eq!(filter("info").max_level_hint(), Some(LevelFilter::INFO));
        assert!(filter("warn").to_string().contains("aws_=warn"), "{}", filter("warn"));
        // RUST_LOG=trace: the connector traces; the SDK stays capped, even when named.
        let trace = filter("trace,aws_sigv4=trace,lambda_runtime=trace").to_string();
        assert!(trace.contains("aws_=info") && !trace.contains("aws_sigv4=trace"), "{trace}");
        assert!(trace.contains("lambda_runtime=info") && !trace.contains("lambda_runtime=trace"), "{trace}");
    }

    /// What reaches the log at `RUST_LOG=trace` (and with every capped crate asked for by name),
    /// from events with the targets the libraries use: nothing of the SDK, the runtime or the
    /// HTTP stack below `info`; the connector's own `trace` events pass.
    #[test]
    fn at_every_level_the_libraries_that_print_bodies_and_keys_stay_capped() {
        #[derive(Clone, Default)]
        struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Captured {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let out = Captured::default();
        let writer = out.clone();
        let spec = "trace,aws_sdk_dynamodb=trace,aws_sigv4=trace,lambda_runtime=trace,reqwest=trace";
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(filter(spec))
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!(target: "lambda_runtime::layers::api_response", "RAW-EVENT refund notes");
            tracing::debug!(target: "lambda_runtime_api_client", "RAW-EVENT body");
            tracing::debug!(target: "aws_sigv4::http_request::sign", "ACCESS-KEY AKIA");
            tracing::debug!(target: "aws_smithy_runtime::client::orchestrator", "ACCESS-KEY headers");
            tracing::debug!(target: "aws_credential_types::provider", "ACCESS-KEY id");
            tracing::trace!(target: "aws_sdk_secretsmanager::operation", "ACCESS-KEY secret string");
            tracing::trace!(target: "hyper_util::client", "AUTHORIZATION Basic");
            tracing::trace!(target: "reqwest::connect", "AUTHORIZATION Basic");
            tracing::trace!(target: "shared::services", "connector trace passes");
            tracing::info!(target: "aws_config", "the SDK's info passes");
        });
        let text = String::from_utf8(out.0.lock().map(|b| b.clone()).unwrap_or_default()).unwrap_or_default();
        for secret in ["RAW-EVENT", "ACCESS-KEY", "AUTHORIZATION"] {
            assert!(!text.contains(secret), "{secret} reached the log: {text}");
        }
        assert!(text.contains("connector trace passes") && text.contains("the SDK's info passes"), "{text}");
    }
}
