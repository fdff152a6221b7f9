//! Typed configuration from the environment, loaded once in each binary's `main.rs`. A bad
//! value stops the program at start with the variable's name; nothing falls back silently.

use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}={value:?}: {reason}")]
pub struct ConfigError {
    pub key: String,
    pub value: String,
    pub reason: String,
}

/// The environment as the loaders read it; a map in tests.
pub trait Env {
    fn get(&self, key: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, key: &str) -> Option<String> {
        std::env::var(key).ok()
    }
}

impl Env for std::collections::HashMap<&str, &str> {
    fn get(&self, key: &str) -> Option<String> {
        std::collections::HashMap::get(self, key).map(|v| (*v).to_owned())
    }
}

/// `key` parsed as `T` and within `range`, or `default` when unset or empty.
pub fn number<T>(env: &impl Env, key: &str, default: T, range: std::ops::RangeInclusive<T>) -> Result<T, ConfigError>
where
    T: FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let Some(raw) = env.get(key).filter(|v| !v.trim().is_empty()) else { return Ok(default) };
    let err = |reason: String| ConfigError { key: key.to_owned(), value: raw.clone(), reason };
    let v: T = raw.trim().parse().map_err(|_| err("not a whole number".into()))?;
    if !range.contains(&v) {
        return Err(err(format!("must be within {}..={}", range.start(), range.end())));
    }
    Ok(v)
}

/// Milliseconds within `range` (in ms), as a duration.
pub fn millis(
    env: &impl Env,
    key: &str,
    default: Duration,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Duration, ConfigError> {
    number(env, key, u64::try_from(default.as_millis()).unwrap_or(u64::MAX), range).map(Duration::from_millis)
}

/// `true`/`false` (also `1`/`0`, `yes`/`no`), or `default`.
pub fn flag(env: &impl Env, key: &str, default: bool) -> Result<bool, ConfigError> {
    match env.get(key).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if v.is_empty() => Ok(default),
        Some(v) if ["true", "1", "yes"].contains(&v.as_str()) => Ok(true),
        Some(v) if ["false", "0", "no"].contains(&v.as_str()) => Ok(false),
        Some(v) => Err(ConfigError { key: key.to_owned(), value: v, reason: "expected true or false".into() }),
    }
}

/// A comma-separated list (empty entries dropped).
pub fn list(env: &impl Env, key: &str) -> Vec<String> {
    env.get(key)
        .map(|v| v.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn bad_values_name_the_variable() {
        let env = HashMap::from([("A", "0"), ("B", "abc"), ("C", "7"), ("D", "maybe")]);
        let e = number(&env, "A", 5u64, 1..=10).err();
        assert_eq!(e.map(|e| e.to_string()), Some(r#"A="0": must be within 1..=10"#.to_owned()));
        assert!(number(&env, "B", 5u64, 1..=10).is_err());
        assert_eq!(number(&env, "C", 5u64, 1..=10), Ok(7));
        assert_eq!(number(&env, "UNSET", 5u64, 1..=10), Ok(5));
        assert!(flag(&env, "D", false).is_err());
        assert_eq!(millis(&env, "C", Duration::from_secs(1), 1..=100), Ok(Duration::from_millis(7)));
    }
}
