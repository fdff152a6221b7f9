//! The request service: one cancel, refund or RMA message, handled on its own, exactly once.
//!
//! Parse (a malformed message is rejected with the field and the reason, and never retried);
//! record the request under (company, request id) with a conditional write before anything else
//! (a redelivery is answered from the record; the same id with another body is a conflict);
//! apply the domain rule to the order through the one order write path; for a refund, record
//! the intent, send it with the request's id as Overstock's refund id (a repeat is answered as
//! the first, so an interrupted send is simply sent again), and record Overstock's answer; then
//! record the request's outcome. Business refusals are outcomes; only what may succeed later
//! (Overstock or DynamoDB unavailable, a package of the line being sent) is a retry.
//!
//! A message that cannot be processed at all (malformed, for another queue, for an unknown
//! company, or one whose records do not read back) is rejected the same way and also *kept*: the
//! batch handler puts its body, with the reason, on the queue's dead-letter queue before deleting
//! it, so that nothing is silently dropped and the DLQ alarm tells the operator. It is never
//! retried.

use crate::credentials::CredentialsProvider;
use crate::domain::cancellation::{CancelOutcome, CancelRefusal};
use crate::domain::order::Order;
use crate::domain::refund::{RefundOutcome, RefundState, Refusal};
use crate::domain::requests::{Request, RequestId, RequestKind, parse_request};
use crate::domain::{Clock, OrderNumber};
use crate::job::{save_orders, update_order};
use crate::overstock::refunds::{RefundItem, RefundLineItem};
use crate::overstock::{Account, OverstockApi, OverstockError};
use crate::store::{CompanyStore, OrderStore, Recorded, RequestRecord, RequestState, RequestStore, StoreError};
use chrono::{DateTime, Utc};
use serde::Serialize;
use tracing::{info, warn};

/// What became of one message, as published to the sender.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestOutcome {
    pub request_id: Option<String>,
    pub company_id: Option<String>,
    pub order_number: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// `done`, `rejected`, or `gave_up` (retried until the queue gave up: on its DLQ).
    pub status: &'static str,
    pub detail: String,
}

/// How one message ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageResult {
    /// Finished (done or rejected): the message is deleted and the outcome published.
    Finished(RequestOutcome),
    /// Rejected because it cannot be processed at all (malformed, another queue's type, unknown
    /// company, records that do not read back): finished like a rejection, and the body is kept
    /// on the dead-letter queue with the reason. Never retried.
    Unprocessable(RequestOutcome),
    /// May succeed later: the message comes back after the visibility timeout (an item failure).
    Retry(String),
}

/// Which message types a queue's consumer takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestsConfig {
    pub accepts: &'static [&'static str],
    /// The queue's `maxReceiveCount`: the delivery after which SQS moves a message that keeps
    /// failing to the dead-letter queue. On that delivery a failure is final for this queue: the
    /// request is recorded as given up and the sender told (`gave_up`, with the last reason).
    pub max_receives: u32,
}

/// SQS's redrive `maxReceiveCount` of the request queues (template.yaml's
/// `RequestMaxReceiveCount`, given to the functions as `REQUEST_MAX_RECEIVES`).
pub const DEFAULT_MAX_RECEIVES: u32 = 5;

impl RequestsConfig {
    /// `REQUEST_MAX_RECEIVES` (1-1000) over the default; a bad value names its variable.
    pub fn with_env(self, env: &impl crate::config::Env) -> Result<Self, crate::config::ConfigError> {
        let max_receives = crate::config::number(env, "REQUEST_MAX_RECEIVES", self.max_receives, 1..=1000)?;
        Ok(Self { max_receives, ..self })
    }
}

/// The cancel queue.
pub const CANCEL_QUEUE: RequestsConfig = RequestsConfig { accepts: &["cancel"], max_receives: DEFAULT_MAX_RECEIVES };
/// The refund queue, which also carries the RMA messages.
pub const REFUND_QUEUE: RequestsConfig =
    RequestsConfig { accepts: &["refund", "rma_open", "rma_receive", "rma_close"], max_receives: DEFAULT_MAX_RECEIVES };

impl Default for RequestsConfig {
    fn default() -> Self {
        Self {
            accepts: &["cancel", "refund", "rma_open", "rma_receive", "rma_close"],
            max_receives: DEFAULT_MAX_RECEIVES,
        }
    }
}

/// The ports the request service runs on.
pub type RequestService<'a, S, O, C, K> = crate::job::Ports<'a, S, O, C, K, RequestsConfig>;

/// Where outcomes go: the outcomes queue (or, without one, the log); and where unprocessable
/// messages are kept: the queue's dead-letter queue.
pub trait OutcomeSink: Send + Sync {
    fn publish(
        &self,
        outcome: &RequestOutcome,
    ) -> impl std::future::Future<Output = Result<(), super::SendError>> + Send;
    /// Keeps an unprocessable message's body with the reason it was rejected.
    fn keep(&self, body: &str, reason: &str) -> impl std::future::Future<Output = Result<(), super::SendError>> + Send;
}

/// FNV-1a of a message body, as hex.
fn digest(body: &str) -> String {
    format!("{:016x}", crate::overstock::xml::fnv1a(body.as_bytes()))
}

fn kind_name(k: &RequestKind) -> &'static str {
    match k {
        RequestKind::Cancel(_) => "cancel",
        RequestKind::Refund(_) => "refund",
        RequestKind::RmaOpen { .. } => "rma_open",
        RequestKind::RmaReceive { .. } => "rma_receive",
        RequestKind::RmaClose { .. } => "rma_close",
    }
}

/// What applying the rule to the order gave.
enum Applied {
    Done(String),
    Rejected(String),
    Wait(String),
    /// A refund to send (its id), then done with this summary.
    Refund(RequestId, String),
}

impl<'a, S, O, C, K> crate::job::Ports<'a, S, O, C, K, RequestsConfig>
where
    S: CompanyStore + OrderStore + RequestStore + crate::audit::AuditStore,
    O: OverstockApi,
    C: CredentialsProvider,
    K: Clock,
{
    /// Handles one message body. Never panics; never loses the message: a result is either a
    /// finished outcome or a retry.
    pub async fn handle_message(&self, body: &str) -> MessageResult {
        self.handle_delivery(body, false).await
    }

    /// One message body; `last`: this is the queue's last delivery of it (a failure now is
    /// final: the request is recorded as given up, with the reason).
    pub async fn handle_delivery(&self, body: &str, last: bool) -> MessageResult {
        let req = match parse_request(body) {
            Ok(r) => r,
            Err(rejection) => {
                warn!(reason = %rejection, "malformed request rejected");
                return MessageResult::Unprocessable(RequestOutcome {
                    request_id: None,
                    company_id: None,
                    order_number: None,
                    kind: None,
                    status: "rejected",
                    detail: rejection.to_string(),
                });
            }
        };
        if !self.config.accepts.contains(&kind_name(&req.kind)) {
            return MessageResult::Unprocessable(self.outcome(
                &req,
                "rejected",
                format!("this queue takes {} messages, not {}", self.config.accepts.join(", "), kind_name(&req.kind)),
            ));
        }
        let span = tracing::info_span!("request", company = %req.envelope.company_id, order = %req.envelope.order_number, request = %req.envelope.request_id.as_str());
        let _entered = span.enter();
        match self.handle(&req, &digest(body), last).await {
            Ok(r) => r,
            Err(e) if e.is_retryable() => MessageResult::Retry(e.to_string()),
            // A store error that will repeat (an item that does not read back): rejected with the
            // reason and kept on the DLQ rather than retried forever.
            Err(e) => MessageResult::Unprocessable(self.outcome(&req, "rejected", format!("cannot be processed: {e}"))),
        }
    }

    /// One SQS batch: each message on its own. Messages for different orders are handled
    /// concurrently; one order's messages one after the other, in the batch's order (they would
    /// only contend for the order's item). A finished message's outcome is published (its
    /// failure to publish makes it an item failure: the redelivery is answered from the record
    /// and published again); an unprocessable message is first kept on the dead-letter queue
    /// (failing that, an item failure); a retry is an item failure. One bad message never fails
    /// or repeats the others.
    pub async fn handle_batch(
        &self,
        sink: &impl OutcomeSink,
        event: aws_lambda_events::event::sqs::SqsEvent,
    ) -> aws_lambda_events::event::sqs::SqsBatchResponse {
        type OrderKey = Option<(String, String)>;
        let mut groups: Vec<(OrderKey, Vec<aws_lambda_events::event::sqs::SqsMessage>)> = Vec::new();
        for m in event.records {
            let key = m
                .body
                .as_deref()
                .and_then(|b| parse_request(b).ok())
                .map(|r| (r.envelope.company_id.to_string(), r.envelope.order_number.to_string()));
            match groups.iter_mut().find(|(k, _)| key.is_some() && *k == key) {
                Some((_, messages)) => messages.push(m),
                None => groups.push((key, vec![m])),
            }
        }
        let handled = futures::future::join_all(groups.into_iter().map(|(_, messages)| async move {
            let mut failed = Vec::new();
            for m in messages {
                if !self.finish_one(sink, &m).await {
                    failed.push(m.message_id.unwrap_or_default());
                }
            }
            failed
        }))
        .await;
        let mut response = aws_lambda_events::event::sqs::SqsBatchResponse::default();
        for id in handled.into_iter().flatten() {
            response.add_failure(id);
        }
        response
    }

    /// One Lambda invocation of a request function (`function` names it in the span, the log
    /// and the metrics): the batch, then a closing log line and an EMF line with the messages,
    /// those left for a redelivery and the batch's DynamoDB calls (the request benchmark reads
    /// the log line).
    pub async fn handle_invocation(
        &self,
        function: &'static str,
        invocation: &str,
        sink: &impl OutcomeSink,
        dynamodb_calls: impl Fn() -> crate::aws::Calls,
        event: aws_lambda_events::event::sqs::SqsEvent,
    ) -> aws_lambda_events::event::sqs::SqsBatchResponse {
        let messages = event.records.len();
        let span = tracing::info_span!("request-batch", function, invocation, messages);
        let before = dynamodb_calls();
        let response = tracing::Instrument::instrument(self.handle_batch(sink, event), span.clone()).await;
        let calls = dynamodb_calls().since(before);
        let retried = response.batch_item_failures.len();
        span.in_scope(|| {
            info!(retried, dynamodb_operations = calls.operations, dynamodb_attempts = calls.attempts, "batch finished")
        });
        let line = crate::metrics::request_batch(function, messages, retried, calls.operations, self.clock.now());
        crate::metrics::emit(vec![line]);
        response
    }

    /// Handles one message of a batch; false when it must come back (an item failure).
    async fn finish_one(&self, sink: &impl OutcomeSink, m: &aws_lambda_events::event::sqs::SqsMessage) -> bool {
        let id = m.message_id.as_deref().unwrap_or_default();
        let receives: u32 = m.attributes.get("ApproximateReceiveCount").and_then(|n| n.parse().ok()).unwrap_or(1);
        let last = receives >= self.config.max_receives;
        let result = match m.body.as_deref() {
            Some(body) => self.handle_delivery(body, last).await,
            None => MessageResult::Unprocessable(RequestOutcome {
                request_id: None,
                company_id: None,
                order_number: None,
                kind: None,
                status: "rejected",
                detail: "message: no body".into(),
            }),
        };
        if let (MessageResult::Unprocessable(outcome), Some(body)) = (&result, m.body.as_deref())
            && !body.is_empty()
            && let Err(e) = sink.keep(body, &outcome.detail).await
        {
            warn!(message_id = %id, error = %e, retryable = e.is_retryable(), "unprocessable message not kept; it comes back");
            return false;
        }
        match result {
            MessageResult::Finished(outcome) | MessageResult::Unprocessable(outcome) => {
                if let Err(e) = sink.publish(&outcome).await {
                    warn!(message_id = %id, error = %e, retryable = e.is_retryable(), "outcome not published; the message comes back");
                    return false;
                }
                true
            }
            MessageResult::Retry(reason) if last => {
                // SQS moves the message to the dead-letter queue after this delivery (kept for a
                // replay): the sender is told now, with the last reason.
                let envelope = m.body.as_deref().and_then(|b| parse_request(b).ok());
                let outcome = RequestOutcome {
                    request_id: envelope.as_ref().map(|r| r.envelope.request_id.as_str().to_owned()),
                    company_id: envelope.as_ref().map(|r| r.envelope.company_id.to_string()),
                    order_number: envelope.as_ref().map(|r| r.envelope.order_number.to_string()),
                    kind: envelope.as_ref().map(|r| kind_name(&r.kind).to_owned()),
                    status: "gave_up",
                    detail: format!(
                        "gave up after {receives} deliveries; the message is on the dead-letter queue: {reason}"
                    ),
                };
                warn!(message_id = %id, receives, reason = %reason, "last delivery failed: gave up; the message goes to the dead-letter queue");
                if let Err(e) = sink.publish(&outcome).await {
                    warn!(message_id = %id, error = %e, retryable = e.is_retryable(), "gave-up outcome not published");
                }
                false
            }
            MessageResult::Retry(reason) => {
                warn!(message_id = %id, reason = %reason, "message left for a later delivery");
                false
            }
        }
    }

    fn outcome(&self, req: &Request, status: &'static str, detail: String) -> RequestOutcome {
        RequestOutcome {
            request_id: Some(req.envelope.request_id.as_str().to_owned()),
            company_id: Some(req.envelope.company_id.to_string()),
            order_number: Some(req.envelope.order_number.to_string()),
            kind: Some(kind_name(&req.kind).to_owned()),
            status,
            detail,
        }
    }

    async fn handle(&self, req: &Request, body_digest: &str, last: bool) -> Result<MessageResult, StoreError> {
        let env = &req.envelope;
        let Some(company) = self.store.get_company(&env.company_id).await? else {
            return Ok(MessageResult::Unprocessable(self.outcome(
                req,
                "rejected",
                format!("unknown company {}", env.company_id),
            )));
        };
        let now = self.clock.now();
        let mut record = RequestRecord {
            company_id: env.company_id.clone(),
            request_id: env.request_id.as_str().to_owned(),
            kind: kind_name(&req.kind).to_owned(),
            order_number: env.order_number.to_string(),
            body_digest: body_digest.to_owned(),
            received_at: now,
            state: RequestState::Received,
            failures: 0,
            last_failure: None,
        };
        if let Recorded::Existing(existing) = self.store.record_request(&record).await? {
            if existing.body_digest != body_digest {
                return Ok(MessageResult::Finished(self.outcome(
                    req,
                    "rejected",
                    "request_id already used with a different message (a conflict: nothing done)".into(),
                )));
            }
            match &existing.state {
                RequestState::Done { summary, .. } => {
                    info!("redelivered request answered from its record");
                    return Ok(MessageResult::Finished(self.outcome(req, "done", summary.clone())));
                }
                RequestState::Rejected { reason, .. } => {
                    return Ok(MessageResult::Finished(self.outcome(req, "rejected", reason.clone())));
                }
                // Interrupted, retried, or moved back from the DLQ after its queue gave up: go
                // on; every step below is idempotent by request id.
                RequestState::Received | RequestState::GaveUp { .. } => record = existing,
            }
        }
        let applied = self.apply(req, &env.order_number, company.settings.shipping_refund_limit, now).await?;
        let (status, detail) = match applied {
            Applied::Done(summary) => ("done", summary),
            Applied::Rejected(reason) => ("rejected", reason),
            Applied::Wait(reason) => return self.retry(record, reason, last).await,
            Applied::Refund(refund_id, summary) => {
                match self.send_refund(&company, &env.order_number, &refund_id).await? {
                    Ok(None) => ("done", summary),
                    Ok(Some(refused)) => ("rejected", format!("Overstock refused the refund: {refused}")),
                    Err(reason) => return self.retry(record, reason, last).await,
                }
            }
        };
        let at = self.clock.now();
        record.state = if status == "done" {
            RequestState::Done { at, summary: detail.clone() }
        } else {
            RequestState::Rejected { at, reason: detail.clone() }
        };
        self.store.update_request(&record).await?;
        info!(status, detail = %detail, "request finished");
        Ok(MessageResult::Finished(self.outcome(req, status, detail)))
    }

    async fn retry(&self, mut record: RequestRecord, reason: String, last: bool) -> Result<MessageResult, StoreError> {
        record.failures += 1;
        record.last_failure = Some(reason.clone());
        if last {
            record.state = RequestState::GaveUp { at: self.clock.now(), reason: reason.clone() };
        }
        self.store.update_request(&record).await?;
        warn!(reason = %reason, failures = record.failures, "request will be retried");
        Ok(MessageResult::Retry(reason))
    }

    /// Applies the request's rule to the order through the one order write path.
    async fn apply(
        &self,
        req: &Request,
        number: &OrderNumber,
        shipping_limit: crate::domain::requests::Money,
        now: DateTime<Utc>,
    ) -> Result<Applied, StoreError> {
        let env = &req.envelope;
        let Some(order) = self.store.get_orders(&env.company_id, std::slice::from_ref(number)).await?.remove(number)
        else {
            return Ok(Applied::Rejected(format!("unknown order {number}")));
        };
        let by = env.requested_by.as_deref();
        let id = &env.request_id;
        // The same command on a reloaded copy; its last answer is the one that counts.
        let command = |o: &mut Order| -> (Applied, bool) {
            let (applied, changed) = match &req.kind {
                RequestKind::Cancel(c) => match o.cancel(id, c, by, now) {
                    Ok(CancelOutcome::Cancelled { lines, short_ship }) => (
                        Applied::Done(format!(
                            "cancelled line(s) {}{}",
                            lines.join(", "),
                            if short_ship { "; short ship queued to Overstock" } else { " locally only" }
                        )),
                        true,
                    ),
                    Ok(CancelOutcome::AlreadyApplied) => (Applied::Done("cancelled (applied before)".into()), false),
                    Err(CancelRefusal::Rejected(m)) => (Applied::Rejected(m), false),
                    Err(CancelRefusal::Wait(m)) => (Applied::Wait(m), false),
                },
                RequestKind::Refund(r) => refund_result(o.refund(id, r, shipping_limit, by, now), id, "refund", true),
                RequestKind::RmaOpen { rma_id, lines, reason } => {
                    refund_result(o.open_rma(id, rma_id, lines, reason, now), id, "RMA opened", false)
                }
                RequestKind::RmaReceive { rma_id, lines } => {
                    let outcome = o.receive_rma(id, rma_id, lines, by, now);
                    // A redelivered receipt: its refund id is known from the order.
                    let known = o
                        .refunds
                        .iter()
                        .find(|r| {
                            r.rma_id.as_ref() == Some(rma_id)
                                && r.refund_id.as_str().ends_with(&format!(":{}", id.as_str()))
                        })
                        .map(|r| r.refund_id.clone());
                    match (outcome, known) {
                        (Ok(RefundOutcome::AlreadyApplied), Some(rid)) => {
                            (Applied::Refund(rid, "RMA receipt refunded".into()), false)
                        }
                        (other, _) => refund_result(other, id, "RMA receipt recorded", false),
                    }
                }
                RequestKind::RmaClose { rma_id } => refund_result(o.close_rma(rma_id, now), id, "RMA closed", false),
            };
            (applied, changed)
        };
        let (applied, saved) = update_order(self.store, &env.company_id, order, command).await?;
        if let Some((n, reason)) = saved.unsaved.into_iter().next() {
            return Err(StoreError::Unavailable(format!("order {n}: {reason}")));
        }
        Ok(applied)
    }

    /// Sends one refund recorded on the order unless Overstock already answered it: the intent
    /// (`Sending`) is written first; a refund found `Sending` (an interrupted delivery) is sent
    /// again with the same refund id, which Overstock answers as the first. Returns
    /// `Ok(None)` accepted, `Ok(Some(reason))` refused by Overstock (final), `Err` retry later.
    async fn send_refund(
        &self,
        company: &crate::domain::settings::Company,
        number: &OrderNumber,
        refund_id: &RequestId,
    ) -> Result<Result<Option<String>, String>, StoreError> {
        let id = &company.company_id;
        let Some(mut order) = self.store.get_orders(id, std::slice::from_ref(number)).await?.remove(number) else {
            return Ok(Ok(Some(format!("order {number} is no longer stored"))));
        };
        let state = order.refunds.iter().find(|r| &r.refund_id == refund_id).map(|r| r.state.clone());
        match state {
            // Recorded a moment ago, yet not on the order as read: a write lost to a concurrent
            // one (seen on moto with eight concurrent refunds of one order under load).
            // Not Overstock's refusal: retried, and the redelivery records the refund again.
            None => {
                warn!(refund = refund_id.as_str(), "the refund just recorded is not on the order; retried");
                return Ok(Err(format!("refund {} not found on the order as read; retried", refund_id.as_str())));
            }
            Some(RefundState::Done { .. }) => return Ok(Ok(None)),
            Some(RefundState::Rejected { reason, .. }) => return Ok(Ok(Some(reason))),
            Some(RefundState::Pending) => {
                let now = self.clock.now();
                order.begin_refund(refund_id, now);
                let saved = save_orders(self.store, id, vec![order], |o| o.begin_refund(refund_id, now)).await?;
                // Go on with the order as stored (its version included).
                match saved.current.into_iter().next() {
                    Some(current) if saved.unsaved.is_empty() => order = current,
                    _ => return Ok(Err("the refund's intent could not be recorded; retried".into())),
                }
            }
            Some(RefundState::Sending { .. }) => {
                info!(refund = refund_id.as_str(), "resending an interrupted refund with the same id")
            }
        }
        let Some(item) = refund_item(&order, refund_id) else { return Ok(Ok(None)) };
        let credentials = match self.credentials.credentials(company.settings.credentials_ref.as_str()).await {
            Ok(c) => c,
            Err(e) => return Ok(Err(format!("credentials: {e}"))),
        };
        let mut account = Account::new(company.settings.api_base_url.clone(), credentials);
        account.dry_run = company.settings.dry_run.clone();
        let answer = self.overstock.post_refunds(&account, std::slice::from_ref(&item)).await;
        crate::audit::flush(self.store, id, &account.trail).await;
        let refused = match answer {
            Ok(rejected) => rejected.into_iter().find(|e| e.order_number == number.as_str()).map(|e| e.message),
            Err(OverstockError::MessageRejected(m)) => Some(m),
            // Maybe applied, or certainly not: either way the same id is sent again later.
            Err(e) => return Ok(Err(format!("refund not confirmed by Overstock: {e}"))),
        };
        let now = self.clock.now();
        let settle = |o: &mut Order| o.settle_refund(refund_id, refused.as_deref(), now);
        // The answer is applied to the stored copy, then written (re-applied if it changed).
        if !settle(&mut order) {
            return Ok(Ok(refused));
        }
        let saved = save_orders(self.store, id, vec![order], settle).await?;
        if !saved.unsaved.is_empty() {
            return Ok(Err("Overstock's answer to the refund could not be recorded; resent with the same id".into()));
        }
        Ok(Ok(refused))
    }
}

fn refund_result(r: Result<RefundOutcome, Refusal>, id: &RequestId, what: &str, may_refund: bool) -> (Applied, bool) {
    match r {
        Ok(RefundOutcome::Refund { refund_id, total }) => {
            (Applied::Refund(refund_id, format!("{what}: {total}")), true)
        }
        Ok(RefundOutcome::Recorded) => (Applied::Done(what.to_owned()), true),
        // Applied before: its refund may still be unsent (an interrupted delivery); send it.
        Ok(RefundOutcome::AlreadyApplied) if may_refund => {
            (Applied::Refund(id.clone(), format!("{what} (applied before)")), false)
        }
        Ok(RefundOutcome::AlreadyApplied) => (Applied::Done(format!("{what} (applied before)")), false),
        Err(Refusal(m)) => (Applied::Rejected(m), false),
    }
}

fn refund_item(o: &Order, refund_id: &RequestId) -> Option<RefundItem> {
    let r = o.refunds.iter().find(|r| &r.refund_id == refund_id)?;
    if !matches!(r.state, RefundState::Pending | RefundState::Sending { .. }) {
        return None;
    }
    Some(RefundItem {
        refund_id: r.refund_id.as_str().to_owned(),
        sales_channel_name: o.overstock.sales_channel_name.clone().unwrap_or_else(|| "OSTK".into()),
        order_number: o.order_number.to_string(),
        reason_code: r.reason.clone(),
        lines: r
            .lines
            .iter()
            .map(|l| RefundLineItem { line_number: l.line.clone(), quantity: l.quantity, amount: l.amount })
            .collect(),
        shipping_amount: (!r.shipping.value().is_zero()).then_some(r.shipping),
        notes: r.notes.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::{next_day_mapping, sales_order};
    use crate::domain::order::{LocalStatus, PaymentStatus};
    use crate::domain::shipment::{ShipmentRequest, UploadState};
    use crate::domain::{CompanyId, FixedClock};
    use crate::fakes::{FakeOverstock, FixedCredentials, MemoryStore, company};
    use std::sync::Mutex;

    const NOW: &str = "2026-11-27T13:00:00Z";

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|d| d.with_timezone(&Utc)).unwrap_or_else(|e| panic!("{e}"))
    }

    /// O-1: two lines (2 × 10.00, 1 × 5.50), acknowledged; `confirmed`: ship confirmed.
    fn world(confirmed: bool) -> (MemoryStore, CompanyId) {
        let c = company("acme");
        let id = c.company_id.clone();
        let store = MemoryStore::with_company(c);
        let mut so = sales_order("ACKNOWLEDGED", "NEXT_DAY", &[("1", 2), ("2", 1)]);
        so.lines[0].item_price = Some(rust_decimal::Decimal::new(1000, 2));
        so.lines[1].item_price = Some(rust_decimal::Decimal::new(550, 2));
        let mut o = Order::from_download(id.clone(), so, &next_day_mapping("UPS"), false, t("2026-11-26T10:00:00Z"));
        if confirmed {
            o.local_status = LocalStatus::ShipConfirmed;
        }
        store.insert_order(o);
        (store, id)
    }

    fn body(kind: &str, request_id: &str, extra: serde_json::Value) -> String {
        let mut v = serde_json::json!({"type": kind, "version": 1, "request_id": request_id, "company_id": "acme", "order_number": "O-1"});
        if let (Some(m), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            m.extend(e.clone());
        }
        v.to_string()
    }

    async fn handle(store: &MemoryStore, overstock: &FakeOverstock, body: &str) -> MessageResult {
        let svc = RequestService {
            store,
            overstock,
            credentials: &FixedCredentials,
            clock: &FixedClock(t(NOW)),
            config: RequestsConfig::default(),
        };
        svc.handle_message(body).await
    }

    fn order(store: &MemoryStore, id: &CompanyId) -> Order {
        store.all_orders().into_iter().find(|o| &o.company_id == id).unwrap_or_else(|| panic!("O-1"))
    }

    fn status(r: &MessageResult) -> &str {
        match r {
            MessageResult::Finished(o) | MessageResult::Unprocessable(o) => o.status,
            MessageResult::Retry(_) => "retry",
        }
    }

    #[tokio::test]
    async fn a_cancel_delivered_three_times_cancels_once() {
        let (store, id) = world(false);
        let overstock = FakeOverstock::default();
        let b = body("cancel", "c-1", serde_json::json!({"lines": ["2"], "reason": "OUT_OF_STOCK"}));
        let results = [
            handle(&store, &overstock, &b).await,
            handle(&store, &overstock, &b).await,
            handle(&store, &overstock, &b).await,
        ];
        for r in &results {
            assert_eq!(status(r), "done", "{r:?}");
        }
        assert_eq!(results[1], results[2], "a redelivery is answered from the record");
        let o = order(&store, &id);
        assert_eq!(o.cancellations.len(), 1);
        assert_eq!(o.local_status, LocalStatus::PartiallyCancelled);
        let rec = store
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .next()
            .cloned()
            .unwrap_or_else(|| panic!("record"));
        assert!(matches!(rec.state, RequestState::Done { .. }), "{rec:?}");
    }

    #[tokio::test]
    async fn a_refund_delivered_three_times_refunds_once_on_overstock() {
        let (store, id) = world(true);
        let overstock = FakeOverstock::default();
        let b = body(
            "refund",
            "r-1",
            serde_json::json!({"lines": [{"line": "1", "amount": "15.00"}], "reason": "DAMAGED"}),
        );
        for _ in 0..3 {
            let r = handle(&store, &overstock, &b).await;
            assert_eq!(status(&r), "done", "{r:?}");
        }
        assert_eq!(overstock.refunds.lock().unwrap_or_else(|p| p.into_inner()).len(), 1, "one POST /refunds");
        let o = order(&store, &id);
        assert!(matches!(o.refunds[0].state, RefundState::Done { .. }));
        assert_eq!(o.payment_status, PaymentStatus::PartiallyRefunded);
    }

    #[tokio::test]
    async fn an_interrupted_refund_is_resent_with_the_same_id_and_applied_once() {
        let (store, id) = world(true);
        let overstock = FakeOverstock::default();
        *overstock.refund_500_after_apply.lock().unwrap_or_else(|p| p.into_inner()) = 1;
        let b =
            body("refund", "r-1", serde_json::json!({"lines": [{"line": "2", "amount": "5.50"}], "reason": "DAMAGED"}));
        let first = handle(&store, &overstock, &b).await;
        assert_eq!(status(&first), "retry", "{first:?}");
        assert!(matches!(order(&store, &id).refunds[0].state, RefundState::Sending { .. }));
        let rec = store
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .next()
            .cloned()
            .unwrap_or_else(|| panic!("record"));
        assert_eq!((rec.state.clone(), rec.failures), (RequestState::Received, 1));
        let second = handle(&store, &overstock, &b).await;
        assert_eq!(status(&second), "done", "{second:?}");
        let posts = overstock.refunds.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert_eq!(posts.len(), 2);
        assert!(posts.iter().all(|m| m[0].refund_id == "r-1"), "resent with the same refund id");
        assert_eq!(overstock.refunds_applied.lock().unwrap_or_else(|p| p.into_inner()).len(), 1, "applied once");
        let o = order(&store, &id);
        assert!(
            matches!(o.refunds[0].state, RefundState::Done { .. }),
            "the answer is recorded: {:?}",
            o.refunds[0].state
        );
        assert_eq!(o.payment_status, PaymentStatus::PartiallyRefunded);
    }

    #[tokio::test]
    async fn business_refusals_are_outcomes_and_redeliveries_are_answered_from_the_record() {
        let (store, _) = world(false);
        let overstock = FakeOverstock::default();
        let b =
            body("refund", "r-1", serde_json::json!({"lines": [{"line": "1", "amount": "1.00"}], "reason": "DAMAGED"}));
        let r = handle(&store, &overstock, &b).await;
        assert!(
            matches!(&r, MessageResult::Finished(o) if o.status == "rejected" && o.detail == crate::domain::refund::NOT_SHIP_CONFIRMED_ADVICE),
            "{r:?}"
        );
        assert_eq!(handle(&store, &overstock, &b).await, r);
        assert!(overstock.refunds.lock().unwrap_or_else(|p| p.into_inner()).is_empty());
        // The same id with another body: a conflict, nothing done.
        let other =
            body("refund", "r-1", serde_json::json!({"lines": [{"line": "1", "amount": "2.00"}], "reason": "DAMAGED"}));
        assert!(
            matches!(handle(&store, &overstock, &other).await, MessageResult::Finished(o) if o.detail.contains("different message"))
        );
    }

    #[tokio::test]
    async fn malformed_unknown_and_waiting_requests() {
        let (store, id) = world(false);
        let overstock = FakeOverstock::default();
        let r = handle(&store, &overstock, "{\"type\": \"cancel\"").await;
        assert!(
            matches!(&r, MessageResult::Unprocessable(o) if o.status == "rejected" && o.request_id.is_none()),
            "malformed: rejected and kept: {r:?}"
        );
        assert!(store.requests.lock().unwrap_or_else(|p| p.into_inner()).is_empty(), "nothing recorded");
        let unknown = body("cancel", "c-1", serde_json::json!({"reason": "OTHER"})).replace("\"acme\"", "\"nobody\"");
        assert!(
            matches!(handle(&store, &overstock, &unknown).await, MessageResult::Unprocessable(o) if o.detail == "unknown company nobody")
        );
        let no_order = body("cancel", "c-2", serde_json::json!({"reason": "OTHER"})).replace("O-1", "O-404");
        assert!(
            matches!(handle(&store, &overstock, &no_order).await, MessageResult::Finished(o) if o.detail == "unknown order O-404")
        );
        // A package of line 1 being sent: the cancel waits.
        let mut o = order(&store, &id);
        let req = ShipmentRequest {
            lines: vec![("1".into(), 1)],
            carrier_code: None,
            shipping_method: None,
            tracking_number: "1Z".into(),
            ship_date: t(NOW),
        };
        o.record_shipment(&req, &next_day_mapping("UPS"), t(NOW)).unwrap_or_else(|e| panic!("{e}"));
        o.shipments[0].lines[0].upload = UploadState::Sending { at: t(NOW) };
        store.insert_order(o);
        let wait =
            handle(&store, &overstock, &body("cancel", "c-3", serde_json::json!({"lines": ["1"], "reason": "OTHER"})))
                .await;
        assert_eq!(status(&wait), "retry", "{wait:?}");
        assert!(order(&store, &id).cancellations.is_empty());
    }

    /// Published outcomes, kept (body, reason) pairs, and whether the queues are down.
    #[derive(Default)]
    struct Collected(Mutex<Vec<RequestOutcome>>, bool, Mutex<Vec<(String, String)>>);

    impl OutcomeSink for Collected {
        async fn publish(&self, outcome: &RequestOutcome) -> Result<(), crate::services::SendError> {
            if self.1 {
                return Err(crate::services::SendError::Unavailable("queue unavailable".into()));
            }
            self.0.lock().unwrap_or_else(|p| p.into_inner()).push(outcome.clone());
            Ok(())
        }
        async fn keep(&self, body: &str, reason: &str) -> Result<(), crate::services::SendError> {
            if self.1 {
                return Err(crate::services::SendError::Unavailable("queue unavailable".into()));
            }
            self.2.lock().unwrap_or_else(|p| p.into_inner()).push((body.to_owned(), reason.to_owned()));
            Ok(())
        }
    }

    fn event(bodies: &[&str]) -> aws_lambda_events::event::sqs::SqsEvent {
        let records: Vec<serde_json::Value> = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| serde_json::json!({"messageId": format!("m{i}"), "body": b, "eventSource": "aws:sqs"}))
            .collect();
        serde_json::from_value(serde_json::json!({"Records": records})).unwrap_or_else(|e| panic!("{e}"))
    }

    #[tokio::test]
    async fn a_batch_reports_only_the_messages_to_retry_and_publishes_every_outcome() {
        let (store, id) = world(false);
        let mut o = order(&store, &id);
        let req = ShipmentRequest {
            lines: vec![("1".into(), 1)],
            carrier_code: None,
            shipping_method: None,
            tracking_number: "1Z".into(),
            ship_date: t(NOW),
        };
        o.record_shipment(&req, &next_day_mapping("UPS"), t(NOW)).unwrap_or_else(|e| panic!("{e}"));
        o.shipments[0].lines[0].upload = UploadState::Sending { at: t(NOW) };
        store.insert_order(o);
        let overstock = FakeOverstock::default();
        let svc = RequestService {
            store: &store,
            overstock: &overstock,
            credentials: &FixedCredentials,
            clock: &FixedClock(t(NOW)),
            config: CANCEL_QUEUE,
        };
        let sink = Collected::default();
        let good = body("cancel", "c-1", serde_json::json!({"lines": ["2"], "reason": "OUT_OF_STOCK"}));
        let waits = body("cancel", "c-2", serde_json::json!({"lines": ["1"], "reason": "OUT_OF_STOCK"}));
        let refund =
            body("refund", "r-1", serde_json::json!({"lines": [{"line": "1", "amount": "1.00"}], "reason": "OTHER"}));
        let response = svc.handle_batch(&sink, event(&[&good, "not json", &waits, &refund])).await;
        let failed: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
        assert_eq!(failed, ["m2"], "only the cancel that waits on a package being sent");
        // Different orders finish in any order; one order's messages in the batch's order.
        let mut published = sink.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        published.sort_by_key(|o| o.request_id.clone());
        let statuses: Vec<(Option<&str>, &str)> =
            published.iter().map(|o| (o.request_id.as_deref(), o.status)).collect();
        assert_eq!(statuses, [(None, "rejected"), (Some("c-1"), "done"), (Some("r-1"), "rejected")]);
        assert!(published[2].detail.contains("this queue takes cancel messages"), "{:?}", published[2]);
        // The malformed message and the refund on the cancel queue are kept, with their reasons.
        let mut kept = sink.2.lock().unwrap_or_else(|p| p.into_inner()).clone();
        kept.sort();
        let mut expected = vec!["not json", refund.as_str()];
        expected.sort_unstable();
        assert_eq!(kept.iter().map(|(b, _)| b.as_str()).collect::<Vec<_>>(), expected);
        let malformed = kept.iter().find(|(b, _)| b == "not json").map(|(_, r)| r.as_str());
        assert_eq!(malformed, Some(published[0].detail.as_str()));
        // Keeping fails (the DLQ is unavailable): an item failure, so SQS keeps it.
        let down = Collected(Mutex::default(), true, Mutex::default());
        let again = svc.handle_batch(&down, event(&["not json"])).await;
        assert_eq!(again.batch_item_failures.len(), 1, "an unprocessable message that was not kept comes back");
        // An outcome that cannot be published: the message comes back, answered from its record.
        let down = Collected(Mutex::default(), true, Mutex::default());
        let again = svc.handle_batch(&down, event(&[&good])).await;
        assert_eq!(again.batch_item_failures.len(), 1);
        assert_eq!(order(&store, &id).cancellations.len(), 1, "still one effect");
    }

    #[tokio::test]
    async fn one_orders_messages_in_a_batch_are_handled_in_the_batch_order() {
        let (store, _) = world(true);
        let overstock = FakeOverstock::default();
        let svc = RequestService {
            store: &store,
            overstock: &overstock,
            credentials: &FixedCredentials,
            clock: &FixedClock(t(NOW)),
            config: REFUND_QUEUE,
        };
        let open = body(
            "rma_open",
            "o-1",
            serde_json::json!({"rma_id": "R1", "lines": [{"line": "1", "quantity": 1}], "reason": "CUSTOMER_RETURN"}),
        );
        let receive =
            body("rma_receive", "v-1", serde_json::json!({"rma_id": "R1", "lines": [{"line": "1", "quantity": 1}]}));
        let close = body("rma_close", "x-1", serde_json::json!({"rma_id": "R1"}));
        let sink = Collected::default();
        let response = svc.handle_batch(&sink, event(&["junk", &open, &receive, &close])).await;
        assert!(response.batch_item_failures.is_empty(), "{response:?}");
        let published = sink.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let ours: Vec<(Option<&str>, &str)> =
            published.iter().filter(|o| o.request_id.is_some()).map(|o| (o.request_id.as_deref(), o.status)).collect();
        assert_eq!(ours, [(Some("o-1"), "done"), (Some("v-1"), "done"), (Some("x-1"), "done")], "{published:?}");
        assert_eq!(overstock.refunds.lock().unwrap_or_else(|p| p.into_inner()).len(), 1, "the receipt's refund");
    }

    use proptest::prelude::*;

    fn hostile() -> impl Strategy<Value = String> {
        let published = [
            body("cancel", "h-c", serde_json::json!({"lines": ["2"], "reason": "OUT_OF_STOCK"})),
            body("refund", "h-r", serde_json::json!({"lines": [{"line": "1", "amount": "1.00"}], "reason": "OTHER"})),
            body(
                "rma_open",
                "h-o",
                serde_json::json!({"rma_id": "R1", "lines": [{"line": "1", "quantity": 1}], "reason": "OTHER"}),
            ),
        ];
        prop_oneof![
            ".{0,300}".prop_map(|s| s),
            (0usize..3, 0usize..400, "[{}\\[\\]\",:0-9a-z.-]{1,12}").prop_map(move |(i, at, junk)| {
                let b = &published[i];
                let at = (0..=at.min(b.len())).rev().find(|k| b.is_char_boundary(*k)).unwrap_or(0);
                format!("{}{junk}{}", &b[..at], &b[at..])
            }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

        /// 1,000 hostile messages through the batch handler: never a panic, never a retry for a
        /// malformed body (it finishes, rejected with a reason), and a refused message changes
        /// nothing on the order.
        #[test]
        fn hostile_messages_are_rejected_with_a_reason_and_change_nothing(bodies in proptest::collection::vec(hostile(), 1..4)) {
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap_or_else(|e| panic!("{e}"));
            rt.block_on(async {
                let (store, id) = world(false);
                let before = order(&store, &id);
                let overstock = FakeOverstock::default();
                let svc = RequestService { store: &store, overstock: &overstock, credentials: &FixedCredentials, clock: &FixedClock(t(NOW)), config: RequestsConfig::default() };
                for b in &bodies {
                    match svc.handle_message(b).await {
                        MessageResult::Finished(o) | MessageResult::Unprocessable(o) => prop_assert!(!o.detail.is_empty(), "{o:?}"),
                        MessageResult::Retry(r) => prop_assert!(false, "a retry for {b:?}: {r}"),
                    }
                }
                let after = order(&store, &id);
                let changed = after != before;
                let any_done = store.requests.lock().unwrap_or_else(|p| p.into_inner()).values().any(|r| matches!(r.state, RequestState::Done { .. }));
                prop_assert!(!changed || any_done, "the order changed with no request done");
                Ok(())
            })?;
        }
    }
}
