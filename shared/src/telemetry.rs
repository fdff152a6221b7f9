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
        // RUST_LOG=info: nothing logs below info, the SDK included (its cap is debug).
        assert_eq!(filter("info").max_level_hint(), Some(LevelFilter::INFO));
        assert!(filter("warn").to_string().contains("aws_smithy_runtime=warn"), "{}", filter("warn"));
        // RUST_LOG=trace: the connector traces; the SDK's signing and HTTP layers stay capped.
        let trace = filter("trace,aws_sigv4=trace").to_string();
        assert!(trace.contains("aws_sigv4=info") && !trace.contains("aws_sigv4=trace"), "{trace}");
        assert!(trace.contains("aws_smithy_runtime=debug"), "{trace}");
    }
}
