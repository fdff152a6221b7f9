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

/// Whether an AWS call's failure may pass by itself: no connection, a timeout, an answer that
/// could not be read, or a service error whose code is one of `passing` (each service names its
/// throttling and its own faults). Anything else will fail the same way again. `SdkError` and
/// `ProvideErrorMetadata` are the same smithy types in every SDK crate (named here through SQS's).
pub fn may_pass<E, R>(e: &aws_sdk_sqs::error::SdkError<E, R>, passing: &[&str]) -> bool
where
    E: aws_sdk_sqs::error::ProvideErrorMetadata,
{
    use aws_sdk_sqs::error::SdkError;
    match e {
        SdkError::ServiceError(se) => se.err().code().is_some_and(|c| passing.contains(&c)),
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
        _ => false,
    }
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

    #[test]
    fn a_failure_may_pass_when_the_service_says_so_or_nothing_answered() {
        use aws_sdk_sqs::config::http::HttpResponse;
        use aws_sdk_sqs::error::{ErrorMetadata, SdkError};
        use aws_sdk_sqs::operation::send_message::SendMessageError;
        let service = |code: &str| {
            let status = 400u16.try_into().unwrap_or_else(|e| panic!("{e}"));
            let error = SendMessageError::generic(ErrorMetadata::builder().code(code).build());
            SdkError::service_error(error, HttpResponse::new(status, "".into()))
        };
        let passing = ["RequestThrottled", "InternalError"];
        assert!(super::may_pass(&service("RequestThrottled"), &passing));
        assert!(super::may_pass(&service("InternalError"), &passing));
        assert!(!super::may_pass(&service("AWS.SimpleQueueService.NonExistentQueue"), &passing));
        assert!(!super::may_pass(&service("RequestThrottled"), &[]), "each service names its own codes");
        let timeout: SdkError<SendMessageError, HttpResponse> = SdkError::timeout_error("attempt timed out");
        assert!(super::may_pass(&timeout, &[]));
        let unbuilt: SdkError<SendMessageError, HttpResponse> = SdkError::construction_failure("no queue url");
        assert!(!super::may_pass(&unbuilt, &passing), "a request that could not be built fails again");
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
