//! What Lambda's SQS event source mapping does, for local runs (moto has none): receive up to
//! ten messages, hand them to the function as one real `SqsEvent`, delete the ones it did not
//! report in `batchItemFailures`, and leave the others: they come back after the visibility
//! timeout, and after the queue's `maxReceiveCount` moto's redrive policy moves them to the DLQ,
//! as in AWS. A failed invocation deletes nothing.

use serde_json::{Value, json};
use std::future::Future;

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    pub received: usize,
    pub deleted: usize,
    pub left: usize,
}

/// Builds the `SqsEvent` Lambda would send for these messages.
pub fn sqs_event(queue_arn: &str, messages: &[aws_sdk_sqs::types::Message]) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            let attrs: serde_json::Map<String, Value> = m
                .attributes
                .as_ref()
                .map(|a| a.iter().map(|(k, v)| (k.as_str().to_owned(), Value::String(v.clone()))).collect())
                .unwrap_or_default();
            json!({
                "messageId": m.message_id,
                "receiptHandle": m.receipt_handle,
                "body": m.body,
                "attributes": attrs,
                "messageAttributes": {},
                "md5OfBody": m.md5_of_body,
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            })
        })
        .collect();
    json!({ "Records": records })
}

/// One pass over the queue: receive (waiting up to `wait_seconds`), invoke, delete the successes.
pub async fn pass<F, Fut>(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    wait_seconds: i32,
    invoke: F,
) -> anyhow::Result<Pass>
where
    F: FnOnce(Value) -> Fut,
    Fut: Future<Output = anyhow::Result<Value>>,
{
    let got = sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(wait_seconds)
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
        .send()
        .await?;
    let messages = got.messages.unwrap_or_default();
    if messages.is_empty() {
        return Ok(Pass::default());
    }
    let arn = format!("arn:aws:sqs:us-east-1:123456789012:{}", queue_url.rsplit('/').next().unwrap_or("queue"));
    let response = invoke(sqs_event(&arn, &messages)).await?;
    let failed: Vec<String> = response["batchItemFailures"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f["itemIdentifier"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    let mut out = Pass { received: messages.len(), ..Pass::default() };
    for m in &messages {
        if m.message_id.as_ref().is_some_and(|id| failed.contains(id)) {
            out.left += 1;
            continue;
        }
        if let Some(handle) = &m.receipt_handle {
            sqs.delete_message().queue_url(queue_url).receipt_handle(handle).send().await?;
            out.deleted += 1;
        }
    }
    Ok(out)
}

/// Invokes a function through `cargo lambda watch` (or any Lambda invoke endpoint).
pub async fn invoke_http(http: &reqwest::Client, url: &str, event: Value) -> anyhow::Result<Value> {
    let resp = http.post(url).json(&event).send().await?;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    anyhow::ensure!(status.is_success(), "invocation failed ({status}): {body}");
    Ok(body)
}
