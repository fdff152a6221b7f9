//! The audit trail: every call to Overstock, per company, and what it meant for each order.
//!
//! The client writes one [`CallRecord`] per call (its attempts, what it concerned, Overstock's
//! answer) into the run's [`CallTrail`]; services add [`OrderNote`]s for what a read changed
//! (an order downloaded, lines Overstock cancelled). The job frame flushes the trail to the
//! [`AuditStore`] while it works and when it ends. Dry-run sends are recorded here too, as
//! "would send", with their elements.
//!
//! What is never recorded: credentials, names, addresses, phone numbers, free-text notes.
//! An element is described from its typed fields (order, line, quantities, carrier, tracking
//! number, amounts), never from the XML body.

use crate::domain::CompanyId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::future::Future;
use std::sync::{Arc, Mutex};

/// How long audit items are kept by default (DynamoDB TTL).
pub const DEFAULT_RETENTION_DAYS: u32 = 90;
/// The most order numbers a read records (a larger answer says how many it held).
pub const MAX_ORDERS_READ: usize = 1000;
/// The longest message text kept (Overstock's error messages, transport errors).
pub const MAX_MESSAGE_CHARS: usize = 300;

/// A call to Overstock, by operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    GetSalesOrders,
    PostAcknowledgements,
    PostShipments,
    PostRefunds,
    PostInventory,
    GetInventory,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GetSalesOrders => "GET /salesorders",
            Self::PostAcknowledgements => "POST /acknowledgements",
            Self::PostShipments => "POST /shipments",
            Self::PostRefunds => "POST /refunds",
            Self::PostInventory => "POST /inventory",
            Self::GetInventory => "GET /inventory",
        }
    }
}

/// One HTTP attempt of a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// 1 for the first attempt.
    pub n: u32,
    /// The HTTP status, when one came back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// `2xx`, `4xx`, `429`, `5xx`, `null`, `timeout`, `network`, `redirect`, `too_large`,
    /// `bad_response`, `refused_endpoint`.
    pub outcome: String,
    pub millis: u64,
    /// What went wrong, when something did (never a credential: the client's errors carry
    /// neither the Authorization header nor a body it sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One element of a POST, described from its typed fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Element {
    pub order: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<String>,
    /// A refund id (the request id it was sent under).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    /// What the element says: `ship 2 via UPS 1Z… on 2026-11-26`, `acknowledge ACCEPTED`…
    pub what: String,
}

/// An element Overstock rejected, with its message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    pub order: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    pub message: String,
}

impl Rejection {
    /// Whether this rejection names `e`: the same SKU, or the same order and (when both name one)
    /// the same line, spelled exactly alike.
    pub(crate) fn names(&self, e: &Element) -> bool {
        match (&self.sku, &e.sku) {
            (Some(a), Some(b)) => a == b,
            _ => self.order == e.order && (self.line.is_none() || e.line.is_none() || self.line == e.line),
        }
    }
}

/// One call to Overstock (or one dry-run "would send").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRecord {
    pub at: DateTime<Utc>,
    pub operation: Operation,
    /// A read's creation window, `start..end` (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// Recorded instead of sent: the flow is in dry-run.
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    pub attempts: Vec<Attempt>,
    /// What was sent (or would have been).
    #[serde(default)]
    pub elements: Vec<Element>,
    /// A read: the order numbers of the answer (at most [`MAX_ORDERS_READ`]).
    #[serde(default)]
    pub orders_read: Vec<String>,
    /// A read: how many orders the answer held.
    #[serde(default)]
    pub orders_read_total: usize,
    /// `ok`, `would send`, `n rejected`, or the error.
    pub result: String,
    #[serde(default)]
    pub rejected: Vec<Rejection>,
}

impl CallRecord {
    /// A read answered at its first attempt with no order at all: what a quiet company's every
    /// tick is. Not written to the trail one by one (10,000 companies would write 14 million of
    /// them a day); counted by the trail instead (docs/decisions.md, "Quiet companies").
    pub fn is_quiet_read(&self) -> bool {
        self.operation == Operation::GetSalesOrders
            && self.orders_read_total == 0
            && self.attempts.len() == 1
            && self.attempts.iter().all(|a| a.outcome == "2xx")
            && !self.result.starts_with("error")
    }

    pub fn new(at: DateTime<Utc>, operation: Operation) -> Self {
        Self {
            at,
            operation,
            window: None,
            dry_run: false,
            attempts: Vec::new(),
            elements: Vec::new(),
            orders_read: Vec::new(),
            orders_read_total: 0,
            result: String::new(),
            rejected: Vec::new(),
        }
    }

    /// The call failed as a whole (no answer, or the message refused): see `result`.
    pub fn failed(&self) -> bool {
        self.result.starts_with("error")
    }

    /// The order numbers (or SKUs) this call concerned (sent, rejected or read), each once, sorted.
    pub fn orders(&self) -> BTreeSet<&str> {
        self.elements
            .iter()
            .map(|e| e.sku.as_deref().unwrap_or(&e.order))
            .chain(self.rejected.iter().map(|r| r.sku.as_deref().unwrap_or(&r.order)))
            .chain(self.orders_read.iter().map(String::as_str))
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// What this call means for each order it *sent* something about: the lines written to each
    /// order's story. Reads are not: an order's story gets a read through an [`OrderNote`] when
    /// the read changed something (a status re-read of an unchanged order is not news).
    pub fn order_events(&self) -> Vec<OrderEvent> {
        let mut out: Vec<OrderEvent> = Vec::new();
        for e in &self.elements {
            let rejection = self.rejected.iter().find(|r| r.names(e)).map(|r| r.message.clone());
            let outcome = if self.dry_run {
                "would send (dry run)".to_owned()
            } else if let Some(m) = rejection {
                format!("rejected: {m}")
            } else if self.failed() {
                self.result.clone()
            } else {
                "accepted".to_owned()
            };
            let what = match &e.line {
                Some(line) => format!("line {line}: {}", e.what),
                None => e.what.clone(),
            };
            out.push(OrderEvent {
                at: self.at,
                order: e.order.clone(),
                sku: e.sku.clone(),
                operation: Some(self.operation),
                what,
                outcome,
            });
        }
        out
    }
}

/// Something a read told about one order that changed it here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderNote {
    pub at: DateTime<Utc>,
    pub order: String,
    pub event: String,
}

impl OrderNote {
    /// The note as a line of its order's story.
    pub fn event(&self) -> OrderEvent {
        OrderEvent {
            at: self.at,
            order: self.order.clone(),
            sku: None,
            operation: None,
            what: self.event.clone(),
            outcome: String::new(),
        }
    }
}

/// One line of an order's story (or of a SKU's: `sku` set, `order` empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderEvent {
    pub at: DateTime<Utc>,
    pub order: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    /// The call it came with (`None`: a note from what a read changed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<Operation>,
    pub what: String,
    pub outcome: String,
}

/// An entry of the trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditEntry {
    Call(CallRecord),
    Note(OrderNote),
}

/// The entries a run collected and not yet stored. Cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct CallTrail(Arc<Mutex<Vec<AuditEntry>>>, Arc<std::sync::atomic::AtomicUsize>);

impl CallTrail {
    /// Quiet reads ([`CallRecord::is_quiet_read`]) seen, not kept.
    pub fn quiet_reads(&self) -> usize {
        self.1.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn push(&self, entry: AuditEntry) {
        if let Ok(mut v) = self.0.lock() {
            v.push(entry);
        }
    }

    pub fn record(&self, call: CallRecord) {
        if call.is_quiet_read() {
            self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return;
        }
        self.push(AuditEntry::Call(call));
    }

    /// Records what a read changed for `order`.
    pub fn note(&self, at: DateTime<Utc>, order: impl Into<String>, event: impl Into<String>) {
        self.push(AuditEntry::Note(OrderNote { at, order: order.into(), event: clip(&event.into()) }));
    }

    /// Takes what was collected.
    pub fn take(&self) -> Vec<AuditEntry> {
        self.0.lock().map(|mut v| std::mem::take(&mut *v)).unwrap_or_default()
    }

    /// Puts entries back at the front (a flush that failed is tried again later).
    pub fn restore(&self, mut entries: Vec<AuditEntry>) {
        if let Ok(mut v) = self.0.lock() {
            entries.append(&mut v);
            *v = entries;
        }
    }
}

/// Notes in each order's story the lines Overstock cancelled, as a run found them.
pub fn note_overstock_cancellations(
    trail: &CallTrail,
    at: DateTime<Utc>,
    found: &[crate::domain::cancellation::CancelledByOverstock],
) {
    for c in found {
        trail.note(at, c.order_number.clone(), format!("cancelled by Overstock: line(s) {}", c.lines.join(", ")));
    }
}

/// Cuts a message to [`MAX_MESSAGE_CHARS`].
pub fn clip(s: &str) -> String {
    if s.chars().count() <= MAX_MESSAGE_CHARS { s.to_owned() } else { s.chars().take(MAX_MESSAGE_CHARS).collect() }
}

/// The port the job frame flushes the trail to, and the operator reads from.
pub trait AuditStore: Send + Sync {
    /// Stores the entries under `company`: each call once, and each order event under its order.
    fn record_audit(
        &self,
        company: &CompanyId,
        entries: &[AuditEntry],
    ) -> impl Future<Output = crate::store::StoreResult<()>> + Send;

    /// The company's latest `limit` calls from `since`, oldest first.
    fn list_calls(
        &self,
        company: &CompanyId,
        since: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = crate::store::StoreResult<Vec<CallRecord>>> + Send;

    /// A SKU's inventory story from `since`, oldest first.
    fn sku_story(
        &self,
        company: &CompanyId,
        sku: &str,
        since: DateTime<Utc>,
    ) -> impl Future<Output = crate::store::StoreResult<Vec<OrderEvent>>> + Send;

    /// An order's story from `since`, oldest first.
    fn order_story(
        &self,
        company: &CompanyId,
        order: &str,
        since: DateTime<Utc>,
    ) -> impl Future<Output = crate::store::StoreResult<Vec<OrderEvent>>> + Send;
}

/// Writes the trail's entries; a failure keeps them for the next flush (and is logged: the
/// trail is a record for people, a run never fails for it).
pub async fn flush<S: AuditStore>(store: &S, company: &CompanyId, trail: &CallTrail) {
    let entries = trail.take();
    if entries.is_empty() {
        return;
    }
    if let Err(e) = store.record_audit(company, &entries).await {
        tracing::warn!(error = %e, entries = entries.len(), "could not write the audit trail; kept for the next flush");
        trail.restore(entries);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_event_says_what_was_sent_and_the_answer_for_that_order() {
        let at = chrono::DateTime::UNIX_EPOCH;
        let mut call = CallRecord::new(at, Operation::PostShipments);
        call.result = "1 rejected".into();
        call.elements = vec![
            Element { order: "A".into(), line: Some("1".into()), request_id: None, sku: None, what: "ship 1".into() },
            Element { order: "B".into(), line: Some("1".into()), request_id: None, sku: None, what: "ship 2".into() },
        ];
        call.rejected =
            vec![Rejection { order: "B".into(), line: Some("1".into()), sku: None, message: "cancelled".into() }];
        let events = call.order_events();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].outcome, "accepted");
        assert_eq!(events[1].outcome, "rejected: cancelled");
        call.dry_run = true;
        assert!(call.order_events().iter().all(|e| e.outcome == "would send (dry run)"));
        assert_eq!(call.orders().into_iter().collect::<Vec<_>>(), vec!["A", "B"]);
    }

    #[test]
    fn a_failed_flush_keeps_the_entries_in_order() {
        let trail = CallTrail::default();
        trail.note(chrono::DateTime::UNIX_EPOCH, "A", "one");
        let taken = trail.take();
        trail.note(chrono::DateTime::UNIX_EPOCH, "B", "two");
        trail.restore(taken);
        let all = trail.take();
        let orders: Vec<&str> = all
            .iter()
            .filter_map(|e| match e {
                AuditEntry::Note(n) => Some(n.order.as_str()),
                AuditEntry::Call(_) => None,
            })
            .collect();
        assert_eq!(orders, vec!["A", "B"]);
    }
}
