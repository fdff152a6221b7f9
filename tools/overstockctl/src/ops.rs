//! The operations an operator performs, one function each, shared by the CLI's commands and the
//! console's forms: a setting changed, a mapping set or removed, a failed upload reset (Overstock
//! read first), an acknowledgement queued again, a request queued (checked by the consumer's
//! parser first), a dead-letter queue read or moved back. Neither front end writes a table or a
//! queue any other way.

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use shared::config::ProcessEnv;
use shared::credentials::{ConfiguredProvider, CredentialsProvider};
use shared::domain::mapping::ShippingMethodMapping;
use shared::domain::settings::Company;
use shared::domain::settings_change::SettingsChange;
use shared::domain::{CompanyId, OrderNumber, ServiceLevelCode};
use shared::overstock::{Account, ClientConfig, OverstockClient};
use shared::services::shipping::ResetReport;
use shared::store::{CompanyStore, DynamoStore, MappingStore};

/// A company that must exist: an unknown one is an error everywhere (never "nothing recorded").
pub async fn company(store: &DynamoStore, id: &str) -> Result<Company> {
    let id = CompanyId::parse(id)?;
    match store.get_company(&id).await? {
        Some(c) => Ok(c),
        None => bail!("no company {id}"),
    }
}

/// What a settings change did.
pub struct SettingsChanged {
    pub company: Company,
    /// When the calendar (or the time zone) changed: open orders given a new ship-by time, and
    /// those changed meanwhile (to be done again).
    pub recomputed: Option<(usize, Vec<OrderNumber>)>,
}

/// Applies `change` to the company's settings by the domain's rule (every value checked; a
/// refused change writes nothing), stores them, and when the calendar changed computes the open
/// orders' ship-by again.
pub async fn change_settings(
    store: &DynamoStore,
    company: Company,
    change: SettingsChange,
    now: DateTime<Utc>,
) -> Result<SettingsChanged> {
    let mut s = company.settings.clone();
    change.apply(&mut s, &ClientConfig::from_env(&ProcessEnv)?.endpoints)?;
    store.update_settings(&company.company_id, &s, now).await?;
    let calendar_changed = s.ship_by != company.settings.ship_by || s.time_zone != company.settings.time_zone;
    let company = Company { settings: s, updated_at: now, ..company };
    let recomputed = if calendar_changed {
        Some(shared::services::watchdog::recompute_ship_by(store, &company, now).await?)
    } else {
        None
    };
    Ok(SettingsChanged { company, recomputed })
}

/// Sets (creates or replaces) the mapping of one code to receive.
pub async fn set_mapping(
    store: &DynamoStore,
    company: &CompanyId,
    code: &str,
    shipping_method: &str,
    code_to_send: &str,
    rush: bool,
) -> Result<ShippingMethodMapping> {
    let m = ShippingMethodMapping::new(code, shipping_method, code_to_send, rush)?;
    store.put_mapping(company, &m).await?;
    Ok(m)
}

/// Removes the mapping of one code (orders already mapped keep their method; new orders with the
/// code are stored unmapped). Whether there was one.
pub async fn remove_mapping(store: &DynamoStore, company: &CompanyId, code: &str) -> Result<bool> {
    let code = ServiceLevelCode::parse(code)?;
    Ok(store.remove_mapping(company, &code).await?)
}

/// The Overstock client and the company's account (its credentials from the configured source),
/// for the operations that read Overstock.
pub async fn overstock_for(sdk: &aws_config::SdkConfig, c: &Company) -> Result<(OverstockClient, Account)> {
    let client = OverstockClient::new(ClientConfig::from_env(&ProcessEnv)?)?;
    let credentials = ConfiguredProvider::from_env(sdk)?.credentials(c.settings.credentials_ref.as_str()).await?;
    let account = Account {
        base_url: c.settings.api_base_url.clone(),
        credentials,
        deadline: None,
        accepted: Default::default(),
        trail: Default::default(),
        dry_run: Default::default(),
    };
    Ok((client, account))
}

/// Puts an order's failed uploads back in the queue (all, or one package / line) after reading
/// the order on Overstock: a line Overstock shows shipped is recorded accepted, never re-sent.
/// The call to Overstock goes to the audit trail.
pub async fn reset_uploads(
    store: &DynamoStore,
    sdk: &aws_config::SdkConfig,
    company: &Company,
    number: &OrderNumber,
    (package, line): (Option<&str>, Option<&str>),
) -> Result<ResetReport> {
    let (client, account) = overstock_for(sdk, company).await?;
    let id = &company.company_id;
    let r = shared::services::shipping::reset_failed_uploads(
        store,
        (&client, &account),
        id,
        number,
        (package, line),
        Utc::now(),
    )
    .await;
    shared::audit::flush(store, id, &account.trail).await;
    Ok(r?)
}

/// Queues an acknowledgement Overstock rejected to be sent again (the next download run reads the
/// order's status first).
pub async fn requeue_ack(store: &DynamoStore, company: &CompanyId, number: &OrderNumber) -> Result<()> {
    shared::services::shipping::requeue_acknowledgement(store, company, number, Utc::now()).await?;
    Ok(())
}

/// A request's sender fields: its id (the idempotency key; a new one when none) and who asks.
pub struct Sender {
    pub request_id: Option<String>,
    pub requested_by: String,
}

impl Sender {
    fn id(&self, front: &str) -> String {
        self.request_id
            .clone()
            .filter(|r| !r.trim().is_empty())
            .unwrap_or_else(|| format!("{front}-{}", uuid::Uuid::new_v4().simple()))
    }
}

/// A request as an operator gives it, before it is a message.
pub enum Request {
    Cancel {
        lines: Vec<String>,
        reason: String,
        local_only: bool,
    },
    /// `LINE:AMOUNT[:QUANTITY]` each.
    Refund {
        lines: Vec<String>,
        shipping: Option<String>,
        reason: String,
        notes: Option<String>,
    },
    /// `LINE:QUANTITY` each.
    RmaOpen {
        rma_id: String,
        lines: Vec<String>,
        reason: String,
    },
    RmaReceive {
        rma_id: String,
        lines: Vec<String>,
    },
    RmaClose {
        rma_id: String,
    },
}

impl Request {
    /// Cancels go on the cancel queue; refunds and RMA steps on the refund queue.
    pub fn on_cancel_queue(&self) -> bool {
        matches!(self, Request::Cancel { .. })
    }
}

/// The JSON message the request queues carry (as every other sender writes it); `front` names
/// the sender in a generated request id (`cli-…`, `console-…`).
pub fn message(company: &str, order: &str, request: Request, sender: &Sender, front: &str) -> Result<Value> {
    let id = sender.id(front);
    let by = &sender.requested_by;
    Ok(match request {
        Request::Cancel { lines, reason, local_only } => {
            json!({"type": "cancel", "version": 1, "request_id": id, "company_id": company, "order_number": order,
                   "lines": lines, "reason": reason, "local_only": local_only, "requested_by": by})
        }
        Request::Refund { lines, shipping, reason, notes } => {
            let mut m = json!({"type": "refund", "version": 1, "request_id": id, "company_id": company, "order_number": order,
                               "lines": refund_lines(&lines)?, "reason": reason, "requested_by": by});
            if let Some(s) = shipping.filter(|s| !s.trim().is_empty()) {
                m["shipping_amount"] = json!(s.trim());
            }
            if let Some(n) = notes.filter(|n| !n.trim().is_empty()) {
                m["notes"] = json!(n);
            }
            m
        }
        Request::RmaOpen { rma_id, lines, reason } => {
            json!({"type": "rma_open", "version": 1, "request_id": id, "company_id": company, "order_number": order,
                   "rma_id": rma_id, "lines": line_quantities(&lines)?, "reason": reason, "requested_by": by})
        }
        Request::RmaReceive { rma_id, lines } => {
            json!({"type": "rma_receive", "version": 1, "request_id": id, "company_id": company, "order_number": order,
                   "rma_id": rma_id, "lines": line_quantities(&lines)?, "requested_by": by})
        }
        Request::RmaClose { rma_id } => {
            json!({"type": "rma_close", "version": 1, "request_id": id, "company_id": company, "order_number": order,
                   "rma_id": rma_id, "requested_by": by})
        }
    })
}

/// Checks a message with the consumer's parser, then puts it on the queue; the body sent.
pub async fn queue(sqs: &aws_sdk_sqs::Client, queue_url: &str, message: &Value) -> Result<String> {
    let body = message.to_string();
    shared::domain::requests::parse_request(&body).map_err(|r| anyhow::anyhow!("not sent: {r}"))?;
    sqs.send_message()
        .queue_url(queue_url)
        .message_body(&body)
        .send()
        .await
        .map_err(|e| shared::queue::sqs_error("send to the queue", e))?;
    Ok(body)
}

/// `LINE:QUANTITY` arguments as message lines.
pub fn line_quantities(lines: &[String]) -> Result<Vec<Value>> {
    lines
        .iter()
        .map(|l| {
            let (line, q) = l.split_once(':').with_context(|| format!("line {l:?}: expected LINE:QUANTITY"))?;
            let q: u32 = q.trim().parse().with_context(|| format!("line {l}: quantity"))?;
            Ok(json!({"line": line.trim(), "quantity": q}))
        })
        .collect()
}

/// `LINE:AMOUNT[:QUANTITY]` arguments as refund message lines (the amount is checked, with
/// everything else, by the consumer's parser before the message is sent).
pub fn refund_lines(lines: &[String]) -> Result<Vec<Value>> {
    lines
        .iter()
        .map(|l| {
            let parts: Vec<&str> = l.split(':').map(str::trim).collect();
            Ok(match parts.as_slice() {
                [line, amount] => json!({"line": line, "amount": amount}),
                [line, amount, quantity] => {
                    let q: u32 = quantity.parse().with_context(|| format!("line {l}: quantity"))?;
                    json!({"line": line, "amount": amount, "quantity": q})
                }
                _ => bail!("line {l:?}: expected LINE:AMOUNT or LINE:AMOUNT:QUANTITY"),
            })
        })
        .collect()
}

/// Lines typed in one text field (`1:2 2:1`, or one per line, or comma-separated).
pub fn split_lines(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == ',').filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// A message kept on a dead-letter queue, as the operator reads it.
pub struct DeadLetter {
    pub id: String,
    pub receives: String,
    /// Kept at once by the function (unprocessable): the reason travels with the message.
    /// `None`: it was retried out by SQS's redrive policy.
    pub reason: Option<String>,
    pub body: String,
}

/// The dead-letter queue `queue_url` sends to after its last delivery (its redrive policy): its
/// name and URL.
pub async fn dead_letter_queue(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Result<(String, String)> {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(A::RedrivePolicy)
        .send()
        .await
        .map_err(|e| shared::queue::sqs_error("read the queue's redrive policy", e))?;
    let policy = attrs.attributes.and_then(|a| a.get(&A::RedrivePolicy).cloned()).unwrap_or_default();
    let arn = serde_json::from_str::<Value>(&policy)
        .ok()
        .and_then(|p| p["deadLetterTargetArn"].as_str().map(str::to_owned))
        .context("the queue has no dead-letter queue")?;
    let name = arn.rsplit(':').next().unwrap_or_default().to_owned();
    let url = sqs
        .get_queue_url()
        .queue_name(&name)
        .send()
        .await
        .map_err(|e| shared::queue::sqs_error("find the dead-letter queue", e))?
        .queue_url
        .unwrap_or_default();
    Ok((name, url))
}

/// How many messages `queue_url` holds (SQS's approximate count).
pub async fn depth(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Result<i64> {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    Ok(sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(A::ApproximateNumberOfMessages)
        .send()
        .await
        .map_err(|e| shared::queue::sqs_error("read the queue's depth", e))?
        .attributes
        .and_then(|a| a.get(&A::ApproximateNumberOfMessages).and_then(|n| n.parse().ok()))
        .unwrap_or(0))
}

/// Up to ten of the messages a dead-letter queue holds, left in it (received with no visibility
/// timeout).
pub async fn peek(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Result<Vec<DeadLetter>> {
    use aws_sdk_sqs::types::MessageSystemAttributeName as M;
    let got = sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .visibility_timeout(0)
        .message_system_attribute_names(M::All)
        .message_attribute_names(shared::queue::REJECTED_REASON)
        .send()
        .await
        .map_err(|e| shared::queue::sqs_error("read the dead-letter queue", e))?;
    Ok(got
        .messages
        .unwrap_or_default()
        .into_iter()
        .map(|m| DeadLetter {
            receives: m
                .attributes
                .as_ref()
                .and_then(|a| a.get(&M::ApproximateReceiveCount).cloned())
                .unwrap_or_default(),
            reason: m
                .message_attributes
                .as_ref()
                .and_then(|a| a.get(shared::queue::REJECTED_REASON))
                .and_then(|v| v.string_value.clone()),
            id: m.message_id.unwrap_or_default(),
            body: m.body.unwrap_or_default(),
        })
        .collect())
}

/// Moves up to `limit` messages of the dead-letter queue `from` back to `to`, once the cause is
/// fixed: each is sent, then deleted (a failure in between leaves it in both, and the consumers
/// record each request once). How many moved.
pub async fn redrive(sqs: &aws_sdk_sqs::Client, from: &str, to: &str, limit: usize) -> Result<usize> {
    let mut moved = 0;
    while moved < limit {
        let got = sqs
            .receive_message()
            .queue_url(from)
            .max_number_of_messages(i32::try_from((limit - moved).min(10)).unwrap_or(10))
            .wait_time_seconds(1)
            .send()
            .await
            .map_err(|e| shared::queue::sqs_error("read the dead-letter queue", e))?;
        let messages = got.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        for m in messages {
            sqs.send_message()
                .queue_url(to)
                .message_body(m.body.unwrap_or_default())
                .send()
                .await
                .map_err(|e| shared::queue::sqs_error("send back to the queue", e))?;
            if let Some(h) = m.receipt_handle {
                sqs.delete_message()
                    .queue_url(from)
                    .receipt_handle(h)
                    .send()
                    .await
                    .map_err(|e| shared::queue::sqs_error("delete from the dead-letter queue", e))?;
            }
            moved += 1;
        }
    }
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_lines_split_on_spaces_commas_and_newlines() {
        assert_eq!(split_lines(" 1:2, 2:1\n3:4 "), vec!["1:2", "2:1", "3:4"]);
        assert!(split_lines("  ,\n").is_empty());
    }

    #[test]
    fn a_generated_request_id_names_its_front_end_and_a_given_one_is_kept() {
        let s = Sender { request_id: None, requested_by: "x".into() };
        assert!(s.id("console").starts_with("console-"));
        let s = Sender { request_id: Some("  ".into()), requested_by: "x".into() };
        assert!(s.id("cli").starts_with("cli-"), "blank is none");
        let s = Sender { request_id: Some("erp-1".into()), requested_by: "x".into() };
        assert_eq!(s.id("cli"), "erp-1");
    }
}
