//! Pure domain rules. Nothing here does I/O; time is passed in.

pub mod calendar;
pub mod cancellation;
pub mod dry_run;
pub mod endpoint;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod ids;
pub mod inventory;
pub mod mapping;
pub mod order;
pub mod reconcile;
pub mod refund;
pub mod requests;
pub mod settings;
pub mod settings_change;
pub mod shipment;
pub mod shipment_message;
pub mod strict_json;
pub mod text;
pub mod warehouse;
pub mod window;
pub mod work;

pub use ids::{CompanyId, OrderNumber, ServiceLevelCode};

use chrono::{DateTime, Utc};

/// The source of "now". Injected so that rules and services are testable.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A fixed instant, for tests.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// The run's deadline from the Lambda context's `deadline` (milliseconds since the epoch).
/// `cargo lambda watch` sends the function timeout in milliseconds instead of an epoch time; a
/// value that cannot be a deadline (before 2001) is read that way, as a duration from `now`.
pub fn lambda_deadline(raw_ms: u64, now: DateTime<Utc>) -> DateTime<Utc> {
    const YEAR_2001_MS: u64 = 978_307_200_000;
    let ms = i64::try_from(raw_ms).unwrap_or(i64::MAX);
    if raw_ms < YEAR_2001_MS {
        now + chrono::Duration::milliseconds(ms)
    } else {
        DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or(now)
    }
}

/// Formats an instant the way every table stores it: RFC 3339, UTC, milliseconds, `Z`.
/// Fixed width, so that string order is time order (used in conditional expressions).
pub fn utc_key(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_deadline_epoch_or_relative() {
        let now = DateTime::<Utc>::from_timestamp_millis(1_795_000_000_000).unwrap_or_default();
        assert_eq!(lambda_deadline(1_795_000_060_000, now), now + chrono::Duration::seconds(60));
        assert_eq!(
            lambda_deadline(600_000, now),
            now + chrono::Duration::minutes(10),
            "cargo lambda's relative timeout"
        );
    }

    #[test]
    fn utc_key_is_fixed_width() {
        let t = DateTime::<Utc>::from_timestamp_millis(1_795_000_000_000).unwrap_or_default();
        assert_eq!(utc_key(t), "2026-11-18T11:06:40.000Z");
    }
}
