//! The outcomes queue: every finished request (done or rejected, with its reason) is published
//! as one JSON message, so the sender learns what happened without reading the connector's
//! tables. Without a queue configured (`OUTCOMES_QUEUE_URL` unset) outcomes are only logged.
//!
//! Unprocessable messages are kept on the request queue's dead-letter queue (its URL in the
//! function's environment), with the reason as the message attribute `rejected_reason`. Without
//! that URL, keeping fails and the message is an item failure: SQS's redrive policy moves it to
//! the DLQ after `maxReceiveCount` deliveries, so it is still never lost.

use crate::services::requests::{OutcomeSink, RequestOutcome};

/// Publishes outcomes with SQS `SendMessage`.
#[derive(Debug, Clone)]
pub struct SqsOutcomes {
    client: aws_sdk_sqs::Client,
    queue_url: Option<String>,
    dead_letter_url: Option<String>,
}

/// The attribute that carries an unprocessable message's reason on the dead-letter queue.
pub const REJECTED_REASON: &str = "rejected_reason";

impl SqsOutcomes {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: Option<String>) -> Self {
        Self { client, queue_url, dead_letter_url: None }
    }

    /// Unprocessable messages go to `url` (the request queue's DLQ).
    pub fn with_dead_letter_queue(mut self, url: Option<String>) -> Self {
        self.dead_letter_url = url;
        self
    }

    /// `OUTCOMES_QUEUE_URL` from the environment (empty: log only), and the DLQ for unprocessable
    /// messages from `dead_letter_var` (each request function names its own).
    pub fn from_config(config: &aws_config::SdkConfig, env: &impl crate::config::Env, dead_letter_var: &str) -> Self {
        let url = |k: &str| env.get(k).filter(|u| !u.trim().is_empty());
        Self::new(aws_sdk_sqs::Client::new(config), url("OUTCOMES_QUEUE_URL"))
            .with_dead_letter_queue(url(dead_letter_var))
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

    async fn keep(&self, body: &str, reason: &str) -> Result<(), String> {
        let Some(url) = &self.dead_letter_url else {
            return Err("no dead-letter queue configured to keep it".into());
        };
        // SQS attribute values are bounded (the whole message at 256 KiB): the reason is short.
        let reason: String = reason.chars().take(1000).collect();
        let attribute = aws_sdk_sqs::types::MessageAttributeValue::builder()
            .data_type("String")
            .string_value(if reason.is_empty() { "unprocessable".to_owned() } else { reason })
            .build()
            .map_err(|e| e.to_string())?;
        self.client
            .send_message()
            .queue_url(url)
            .message_body(body)
            .message_attributes(REJECTED_REASON, attribute)
            .send()
            .await
            .map_err(|e| format!("dead-letter queue: {}", aws_sdk_sqs::error::DisplayErrorContext(&e)))?;
        Ok(())
    }
}
