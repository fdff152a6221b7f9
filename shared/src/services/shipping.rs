//! The warehouse side: recording shipments and resetting failed uploads, over the store.

use crate::domain::mapping::MappingTable;
use crate::domain::order::{Order, RepairError};
use crate::domain::shipment::{SenderRecorded, ShipmentError, ShipmentRequest};
use crate::domain::window::creation_second;
use crate::domain::{CompanyId, OrderNumber};
use crate::job::{JobError, Stop, update_order};
use crate::overstock::{Account, OverstockApi, OverstockError};
use crate::store::{CompanyStore, MappingStore, OrderStore, StoreError};
use chrono::{DateTime, Utc};
use std::collections::HashSet;

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Bad input: nothing was changed.
    #[error(transparent)]
    Invalid(#[from] ShipmentError),
    /// A repair the order's state does not allow (requeue, reset): nothing was changed.
    #[error(transparent)]
    Refused(#[from] RepairError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Overstock could not be read (the kind is kept: retryable or not).
    #[error(transparent)]
    Overstock(JobError),
}

impl RecordError {
    /// Whether the same call may succeed later without anyone acting (the store or Overstock
    /// unavailable); bad input never does.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Invalid(_) | Self::Refused(_) => false,
            Self::Store(e) => e.is_retryable(),
            Self::Overstock(e) => e.is_retryable(),
        }
    }
}

async fn load<S: OrderStore>(store: &S, company: &CompanyId, number: &OrderNumber) -> Result<Order, RecordError> {
    store
        .get_orders(company, std::slice::from_ref(number))
        .await?
        .remove(number)
        .ok_or_else(|| RecordError::Invalid(ShipmentError::UnknownOrder(number.to_string())))
}

/// Loads an order, applies `change` (a domain command that validates and changes nothing on
/// error) and writes it through the one order write path, re-running `change` on a reloaded
/// copy when the order changed underneath.
async fn update<S, T>(
    store: &S,
    company: &CompanyId,
    number: &OrderNumber,
    change: impl Fn(&mut Order) -> Result<T, RecordError>,
) -> Result<(Order, T), RecordError>
where
    S: OrderStore,
{
    let order = load(store, company, number).await?;
    // A re-run on a reloaded copy must succeed the same way; its error (say, the line is now
    // fully packed by a concurrent shipment) is what is returned.
    let (answer, saved) = update_order(store, company, order, |o| match change(o) {
        Ok(v) => (Ok(v), true),
        Err(e) => (Err(e), false),
    })
    .await?;
    let out = answer?;
    if let Some((n, reason)) = saved.unsaved.into_iter().next() {
        return Err(RecordError::Store(StoreError::Conflict(format!("order {n}: {reason}; try again"))));
    }
    let stored = saved
        .current
        .into_iter()
        .next()
        .ok_or_else(|| RecordError::Invalid(ShipmentError::UnknownOrder(number.to_string())))?;
    Ok((stored, out))
}

/// Records one package of a shipment (see [`Order::record_shipment`] for the rules). Returns
/// the order as stored and the new package's id.
pub async fn record_shipment<S: OrderStore + MappingStore + CompanyStore>(
    store: &S,
    company: &CompanyId,
    number: &OrderNumber,
    request: &ShipmentRequest,
    now: DateTime<Utc>,
) -> Result<(Order, String), RecordError> {
    record_shipment_sending(store, company, number, request, Send::AsTheCompanyHolds, now).await
}

/// When a recorded package's tracking goes to Overstock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Send {
    /// The company's tracking hold decides (its delay and pickup; none: the next upload run).
    AsTheCompanyHolds,
    /// The next upload run, whatever the hold: the carrier already scanned the parcel.
    Now,
}

/// [`record_shipment`], choosing when its tracking is sent: the package is held until the
/// company's hold releases it (`TrackingHold::release_at`), unless `send` says now.
pub async fn record_shipment_sending<S: OrderStore + MappingStore + CompanyStore>(
    store: &S,
    company: &CompanyId,
    number: &OrderNumber,
    request: &ShipmentRequest,
    send: Send,
    now: DateTime<Utc>,
) -> Result<(Order, String), RecordError> {
    let (until, mappings) = hold_and_mappings(store, company, request, send, now).await?;
    update(store, company, number, |o| {
        let id = o.record_shipment(request, &mappings, now)?.package_id.clone();
        hold(o, &id, until);
        Ok(id)
    })
    .await
}

/// Until when a package recorded now is held (the company's tracking hold, unless `send` says
/// now), and the company's mappings (a shipping method is looked up in them).
async fn hold_and_mappings<S: MappingStore + CompanyStore>(
    store: &S,
    company: &CompanyId,
    request: &ShipmentRequest,
    send: Send,
    now: DateTime<Utc>,
) -> Result<(Option<DateTime<Utc>>, MappingTable), RecordError> {
    let settings = store
        .get_company(company)
        .await?
        .ok_or_else(|| RecordError::Invalid(ShipmentError::UnknownCompany(company.to_string())))?
        .settings;
    let until = match send {
        Send::Now => None,
        Send::AsTheCompanyHolds => {
            settings.tracking_hold.release_at(&settings.ship_by, settings.time_zone.0, request.ship_date, now)
        }
    };
    Ok((until, MappingTable::new(store.list_mappings(company).await?)))
}

fn hold(o: &mut Order, package_id: &str, until: Option<DateTime<Utc>>) {
    if let Some(p) = o.shipments.iter_mut().find(|p| p.package_id == package_id) {
        p.send_after = until;
    }
}

/// Records a package a sender's system reported in a `shipment` message, through the same rule
/// as [`record_shipment`]: the same package id with the same content again changes nothing
/// ([`SenderRecorded::Already`], no write), the same id with other content is refused, a new one
/// is recorded and held as the company holds tracking unless the message says `send_now`.
pub async fn record_shipment_message<S: OrderStore + MappingStore + CompanyStore>(
    store: &S,
    message: &crate::domain::shipment_message::ShipmentMessage,
    now: DateTime<Utc>,
) -> Result<SenderRecorded, RecordError> {
    let (company, number) = (&message.company_id, &message.order_number);
    let order = load(store, company, number).await?;
    let content = message.content();
    // A repeat is answered from the stored order, before the company or its mappings are read.
    if let Some(seen) = order.sender_package_seen(&message.package_id, &content) {
        return seen.map_err(RecordError::Invalid);
    }
    let send = if message.send_now { Send::Now } else { Send::AsTheCompanyHolds };
    let (until, mappings) = hold_and_mappings(store, company, &message.request, send, now).await?;
    let (_, recorded) = update(store, company, number, |o| {
        let recorded = o.record_sender_shipment(&message.package_id, &content, &message.request, &mappings, now)?;
        if let SenderRecorded::New(id) = &recorded {
            hold(o, id, until);
        }
        Ok(recorded)
    })
    .await?;
    Ok(recorded)
}

/// A package whose tracking is still to go to Overstock, as listed for the operator.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PendingUpload {
    pub order_number: OrderNumber,
    pub package_id: String,
    pub tracking_number: String,
    pub ship_date: DateTime<Utc>,
    /// Its lines still to send (`LINE:QUANTITY`).
    pub lines: Vec<String>,
    /// Held by the company's tracking hold until then; `None`: sent by the next upload run.
    pub held_until: Option<DateTime<Utc>>,
}

/// The company's packages with lines still to send: held ones with their time, the others due
/// at the next upload run (read from the upload's own work list, `orders-upload-pending`).
pub async fn pending_uploads<S: OrderStore>(
    store: &S,
    company: &CompanyId,
    now: DateTime<Utc>,
) -> Result<Vec<PendingUpload>, StoreError> {
    let mut out = Vec::new();
    for o in store.list_upload_pending(company).await? {
        for p in &o.shipments {
            let lines: Vec<String> = p
                .lines
                .iter()
                .filter(|l| l.upload == crate::domain::shipment::UploadState::Pending)
                .map(|l| format!("{}:{}", l.line_number, l.quantity))
                .collect();
            if lines.is_empty() {
                continue;
            }
            out.push(PendingUpload {
                order_number: o.order_number.clone(),
                package_id: p.package_id.clone(),
                tracking_number: p.tracking_number.clone(),
                ship_date: p.ship_date,
                lines,
                held_until: p.send_after.filter(|_| p.is_held(now)),
            });
        }
    }
    out.sort_by(|a, b| {
        (a.held_until, &a.order_number, &a.package_id).cmp(&(b.held_until, &b.order_number, &b.package_id))
    });
    Ok(out)
}

/// What `reset_failed_uploads` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ResetReport {
    /// Failed package lines put back to pending (Overstock does not show the line shipped).
    pub reset: usize,
    /// Failed package lines Overstock shows shipped: recorded as accepted, never sent again.
    pub confirmed_on_overstock: usize,
}

/// Puts failed uploads of an order back to pending (all, or one package, or one line of it),
/// with their attempt count cleared, after reading the order from Overstock: a line Overstock
/// already shows shipped is recorded as accepted instead, so a reset never causes a second
/// confirmation of a line Overstock applied. An order whose copy cannot be read or does not
/// parse is left as it is (an error).
pub async fn reset_failed_uploads<S: OrderStore, O: OverstockApi>(
    store: &S,
    (overstock, account): (&O, &Account),
    company: &CompanyId,
    number: &OrderNumber,
    (package, line): (Option<&str>, Option<&str>),
    now: DateTime<Utc>,
) -> Result<ResetReport, RecordError> {
    let order = load(store, company, number).await?;
    let created = order.overstock.sofs_created_date.ok_or(RecordError::Refused(RepairError::NoCreationDate))?;
    let fetched =
        crate::job::fetch_complete(overstock, account, creation_second(created)).await.map_err(|stop| match stop {
            Stop::Error(e) => RecordError::Overstock(e),
            Stop::Refused(_) | Stop::Credentials(_) => RecordError::Overstock(JobError::Overstock {
                context: format!("read {number}"),
                source: OverstockError::Unauthorized,
            }),
            Stop::Deadline => RecordError::Overstock(JobError::Overstock {
                context: format!("read {number}"),
                source: OverstockError::Timeout,
            }),
        })?;
    let view = match fetched.find(number) {
        Ok(Some(v)) => v.clone(),
        Ok(None) => return Err(RecordError::Refused(RepairError::NotOnOverstock(number.to_string()))),
        Err(u) => return Err(RecordError::Refused(RepairError::UnreadableOnOverstock(u.reason.clone()))),
    };
    let shipped: HashSet<String> =
        view.lines.iter().filter(|l| l.shipped_on_overstock()).map(|l| l.line_number.clone()).collect();
    let (_, (reset, confirmed_on_overstock)) =
        update(store, company, number, |o| Ok(o.reset_failed_uploads(package, line, &shipped, now))).await?;
    Ok(ResetReport { reset, confirmed_on_overstock })
}

/// Queues an acknowledgement Overstock rejected to be sent again: the order's acknowledgement is
/// pending once more, and order-download reconciles it with Overstock's status before sending.
/// The download is poked (written outside its lease: its next run looks at everything again).
pub async fn requeue_acknowledgement<S: OrderStore + crate::store::SyncStateStore>(
    store: &S,
    company: &CompanyId,
    number: &OrderNumber,
    now: DateTime<Utc>,
) -> Result<(), RecordError> {
    update(store, company, number, |o| o.requeue_acknowledgement(now).map_err(RecordError::Refused)).await?;
    store.poke(company, crate::services::order_download::JOB).await.map_err(RecordError::Store)
}
