//! The AWS SDK configuration every binary loads once: the SDK's own chain (region, credentials,
//! `AWS_ENDPOINT_URL`) plus timeouts, so that an endpoint that accepts and never answers fails
//! the call in bounded time instead of hanging the run until Lambda kills it.

use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use std::time::Duration;

/// Connect within 3 s, each attempt within 10 s, the whole operation (the SDK's retries
/// included) within 30 s.
pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(10))
        .operation_timeout(Duration::from_secs(30))
        .build()
}

/// An SDK error as one line: its own message and each cause's, joined by ": " (never the
/// SDK's `Debug` dump of the raw response, which the SDK's `DisplayErrorContext` appends).
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut next = e.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if parts.last().is_none_or(|l| !l.ends_with(&text)) {
            parts.push(text);
        }
        next = cause.source();
    }
    parts.join(": ")
}

pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts()).load().await
}

/// Counts the operations an SDK client starts and the attempts it makes (an attempt beyond an
/// operation's first is the SDK retrying it). Attached to a client as an interceptor; cheap
/// (two relaxed atomic increments a call). The request functions log the counts per batch.
#[derive(Debug, Clone, Default)]
pub struct CallCounter {
    operations: std::sync::Arc<std::sync::atomic::AtomicU64>,
    attempts: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// A reading of a [`CallCounter`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Calls {
    pub operations: u64,
    pub attempts: u64,
}

impl Calls {
    /// The calls made since `earlier`.
    pub fn since(self, earlier: Calls) -> Calls {
        Calls {
            operations: self.operations.saturating_sub(earlier.operations),
            attempts: self.attempts.saturating_sub(earlier.attempts),
        }
    }
}

impl CallCounter {
    pub fn read(&self) -> Calls {
        use std::sync::atomic::Ordering::Relaxed;
        Calls { operations: self.operations.load(Relaxed), attempts: self.attempts.load(Relaxed) }
    }
}

impl aws_sdk_dynamodb::config::Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_execution(
        &self,
        _: &aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef<'_>,
        _: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        self.operations.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _: &aws_sdk_dynamodb::config::RuntimeComponents,
        _: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        self.attempts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_error_chain_is_one_line_of_messages() {
        let outer = Wrapper(std::io::Error::other("connection refused"));
        assert_eq!(super::error_chain(&outer), "dispatch failure: connection refused");
    }

    #[derive(Debug)]
    struct Wrapper(std::io::Error);
    impl std::fmt::Display for Wrapper {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("dispatch failure")
        }
    }
    impl std::error::Error for Wrapper {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }
}
