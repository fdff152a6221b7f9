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

pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts()).load().await
}
