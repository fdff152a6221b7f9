//! The outcomes queue: every finished request (done or rejected, with its reason) is published
//! as one JSON message, so the sender learns what happened without reading the connector's
//! tables. Without a queue configured (`OUTCOMES_QUEUE_URL` unset) outcomes are only logged.

use crate::services::requests::{OutcomeSink, RequestOutcome};

/// Publishes outcomes with SQS `SendMessage`.
#[derive(Debug, Clone)]
pub struct SqsOutcomes {
    client: aws_sdk_sqs::Client,
    queue_url: Option<String>,
}

impl SqsOutcomes {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: Option<String>) -> Self {
        Self { client, queue_url }
    }

    /// `OUTCOMES_QUEUE_URL` from the environment (empty: log only).
    pub fn from_config(config: &aws_config::SdkConfig, env: &impl crate::config::Env) -> Self {
        Self::new(aws_sdk_sqs::Client::new(config), env.get("OUTCOMES_QUEUE_URL").filter(|u| !u.trim().is_empty()))
    }
}

impl OutcomeSink for SqsOutcomes {
    async fn publish(&self, outcome: &RequestOutcome) -> Result<(), String> {
        let body = serde_json::to_string(outcome).map_err(|e| e.to_string())?;
        let Some(url) = &self.queue_url else {
            tracing::info!(outcome = %body, "request outcome (no outcomes queue configured)");
            return Ok(());
        };
        self.client
            .send_message()
            .queue_url(url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| format!("outcomes queue: {}", aws_sdk_sqs::error::DisplayErrorContext(&e)))?;
        Ok(())
    }
}
