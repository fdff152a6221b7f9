//! Pure domain rules. Nothing here does I/O; time is passed in.

pub mod ids;
pub mod mapping;
pub mod order;
pub mod settings;
pub mod window;

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

/// Formats an instant the way every table stores it: RFC 3339, UTC, milliseconds, `Z`.
/// Fixed width, so that string order is time order (used in conditional expressions).
pub fn utc_key(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}
