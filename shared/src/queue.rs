//! The outcomes queue: every finished request (done or rejected, with its reason) is published
//! as one JSON message, so the sender learns what happened without reading the connector's
//! tables. Without a queue configured (`OUTCOMES_QUEUE_URL` unset) outcomes are only logged.
//!
//! Unprocessable messages are kept on the request queue's dead-letter queue (its URL in the
//! function's environment), with the reason as the message attribute `rejected_reason`. Without
//! that URL, keeping fails and the message is an item failure: SQS's redrive policy moves it to
//! the DLQ after `maxReceiveCount` deliveries, so it is still never lost.

use crate::services::SendError;
use crate::services::requests::{OutcomeSink, RequestOutcome};

/// `e`, from an SQS call (`what`: a send, or reading a queue's attributes), as the ports'
/// [`SendError`]: throttling, SQS's own faults, a timeout or no connection may pass; anything else
/// (no such queue, access denied, a message SQS refuses) will be refused again.
pub fn sqs_error<E, R>(what: &str, e: aws_sdk_sqs::error::SdkError<E, R>) -> SendError
where
    E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + 'static,
{
    const PASSING: &[&str] = &[
        "RequestThrottled",
        "ThrottlingException",
        "KmsThrottled",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
    ];
    let text = format!("{what}: {}", crate::aws::error_chain(&e));
    if crate::aws::may_pass(&e, PASSING) { SendError::Unavailable(text) } else { SendError::Refused(text) }
}

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
    /// messages from `dead_letter_var` (each function names its own: its request queue's or its
    /// work queue's).
    pub fn from_config(
        config: &aws_config::SdkConfig,
        env: &impl crate::config::Env,
        dead_letter_var: Option<&str>,
    ) -> Self {
        let url = |k: &str| env.get(k).filter(|u| !u.trim().is_empty());
        Self::new(aws_sdk_sqs::Client::new(config), url("OUTCOMES_QUEUE_URL"))
            .with_dead_letter_queue(dead_letter_var.and_then(url))
    }

    /// Only a DLQ, named by `dead_letter_var`: for the functions that publish no outcome
    /// (inventory-intake, inventory-push, reconcile), which so never read `OUTCOMES_QUEUE_URL`.
    pub fn dead_letters_only(
        config: &aws_config::SdkConfig,
        env: &impl crate::config::Env,
        dead_letter_var: &str,
    ) -> Self {
        let url = env.get(dead_letter_var).filter(|u| !u.trim().is_empty());
        Self::new(aws_sdk_sqs::Client::new(config), None).with_dead_letter_queue(url)
    }
}

impl OutcomeSink for SqsOutcomes {
    async fn publish(&self, outcome: &RequestOutcome) -> Result<(), SendError> {
        let body = serde_json::to_string(outcome).map_err(|e| SendError::Refused(e.to_string()))?;
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
            .map_err(|e| sqs_error("outcomes queue", e))?;
        Ok(())
    }

    async fn keep(&self, body: &str, reason: &str) -> Result<(), SendError> {
        let Some(url) = &self.dead_letter_url else {
            return Err(SendError::NotConfigured("no dead-letter queue configured to keep it".into()));
        };
        // SQS attribute values are bounded (the whole message at 256 KiB): the reason is short.
        let reason: String = reason.chars().take(1000).collect();
        let attribute = aws_sdk_sqs::types::MessageAttributeValue::builder()
            .data_type("String")
            .string_value(if reason.is_empty() { "unprocessable".to_owned() } else { reason })
            .build()
            .map_err(|e| SendError::Refused(e.to_string()))?;
        self.client
            .send_message()
            .queue_url(url)
            .message_body(body)
            .message_attributes(REJECTED_REASON, attribute)
            .send()
            .await
            .map_err(|e| sqs_error("dead-letter queue", e))?;
        Ok(())
    }
}

// The adapter implements the port of the services that keep messages on a DLQ (the workers and
// the inventory intake; the services never name the adapter).
impl crate::services::fanout::KeepFailed for SqsOutcomes {
    async fn keep(&self, body: &str, reason: &str) -> Result<(), SendError> {
        OutcomeSink::keep(self, body, reason).await
    }
}

/// The message the outcomes queue carries for an order Overstock cancelled on its side
/// (`type = overstock_cancellation`; see docs/messages/overstock_cancellation.v1.schema.json).
pub fn overstock_cancellation_message(
    company_id: &str,
    c: &crate::domain::cancellation::CancelledByOverstock,
) -> String {
    serde_json::json!({
        "type": "overstock_cancellation",
        "version": 1,
        "company_id": company_id,
        "order_number": c.order_number,
        "lines": c.lines,
        "status": "cancelled",
        "detail": format!("cancelled by Overstock: do not ship line(s) {}", c.lines.join(", ")),
    })
    .to_string()
}

/// Where runs announce the orders Overstock cancelled (the outcomes queue).
pub trait Announcer: Send + Sync {
    /// Tells the seller's systems about each (company, order) a run found cancelled by Overstock
    /// (none: nothing to do). Best effort: the order's attention flag and the run's summary are the durable record.
    fn announce_cancellations(
        &self,
        found: Vec<(String, crate::domain::cancellation::CancelledByOverstock)>,
    ) -> impl std::future::Future<Output = ()> + Send;
}

impl Announcer for SqsOutcomes {
    /// One message each on the outcomes queue; one that cannot be sent is logged (without a
    /// queue configured the messages are only logged).
    async fn announce_cancellations(&self, found: Vec<(String, crate::domain::cancellation::CancelledByOverstock)>) {
        for (company, c) in &found {
            let body = overstock_cancellation_message(company, c);
            let Some(url) = &self.queue_url else {
                tracing::info!(outcome = %body, "cancelled by Overstock (no outcomes queue configured)");
                continue;
            };
            if let Err(e) = self.client.send_message().queue_url(url).message_body(&body).send().await {
                tracing::warn!(company = %company, order = %c.order_number, error = %crate::aws::error_chain(&e),
                    "cancellation by Overstock not announced on the outcomes queue (the order is flagged)");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cancellation_message_is_the_published_schema_example() {
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../../docs/messages/overstock_cancellation.v1.schema.json"))
                .unwrap_or_else(|e| panic!("{e}"));
        let c = crate::domain::cancellation::CancelledByOverstock {
            order_number: "OSTK-00000005".into(),
            lines: vec!["1".into()],
        };
        let message: serde_json::Value =
            serde_json::from_str(&overstock_cancellation_message("demo", &c)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(message, schema["examples"][0]);
        let mut keys: Vec<&str> =
            message.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
        keys.sort_unstable();
        let mut required: Vec<&str> =
            schema["required"].as_array().map(|a| a.iter().filter_map(|k| k.as_str()).collect()).unwrap_or_default();
        required.sort_unstable();
        assert_eq!(keys, required);
    }
}

/// The flows' work queues (`WORK_QUEUE_DOWNLOAD_URL`, `WORK_QUEUE_UPLOAD_URL`,
/// `WORK_QUEUE_INVENTORY_URL`, `WORK_QUEUE_RECONCILE_URL`): one work item per message, sent ten
/// at a time (`SendMessageBatch`).
#[derive(Debug, Clone)]
pub struct SqsWorkQueue {
    client: aws_sdk_sqs::Client,
    urls: std::collections::BTreeMap<crate::domain::work::Flow, String>,
}

impl SqsWorkQueue {
    pub fn new(
        client: aws_sdk_sqs::Client,
        urls: impl IntoIterator<Item = (crate::domain::work::Flow, String)>,
    ) -> Self {
        Self { client, urls: urls.into_iter().collect() }
    }

    /// The environment variable that names `flow`'s work queue.
    pub fn variable(flow: crate::domain::work::Flow) -> String {
        format!("WORK_QUEUE_{}_URL", flow.as_str().to_ascii_uppercase())
    }

    /// The queues named in the environment (a flow without one cannot be dispatched).
    pub fn from_config(config: &aws_config::SdkConfig, env: &impl crate::config::Env) -> Self {
        let urls = crate::domain::work::Flow::ALL
            .into_iter()
            .filter_map(|f| env.get(&Self::variable(f)).filter(|u| !u.trim().is_empty()).map(|u| (f, u)));
        Self::new(aws_sdk_sqs::Client::new(config), urls)
    }
}

impl crate::services::fanout::WorkQueue for SqsWorkQueue {
    async fn enqueue(
        &self,
        flow: crate::domain::work::Flow,
        items: &[crate::domain::work::WorkItem],
    ) -> Result<Vec<(crate::domain::CompanyId, String)>, SendError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let Some(url) = self.urls.get(&flow) else {
            return Err(SendError::NotConfigured(format!(
                "no work queue for {} ({} is not set)",
                flow.as_str(),
                Self::variable(flow)
            )));
        };
        let mut refused = Vec::new();
        for chunk in items.chunks(10) {
            let mut batch = self.client.send_message_batch().queue_url(url);
            for (i, item) in chunk.iter().enumerate() {
                let entry = aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(item.to_json())
                    .build()
                    .map_err(|e| SendError::Refused(e.to_string()))?;
                batch = batch.entries(entry);
            }
            match batch.send().await {
                Ok(out) => {
                    for f in out.failed {
                        let item = f.id.parse::<usize>().ok().and_then(|i| chunk.get(i));
                        if let Some(item) = item {
                            refused.push((item.company_id.clone(), f.message.unwrap_or(f.code)));
                        }
                    }
                }
                Err(e) => {
                    let why = sqs_error("work queue", e).to_string();
                    refused.extend(chunk.iter().map(|i| (i.company_id.clone(), why.clone())));
                }
            }
        }
        Ok(refused)
    }
}
