//! The warehouse side: recording shipments and resetting failed uploads, over the store.

use crate::domain::mapping::MappingTable;
use crate::domain::order::Order;
use crate::domain::shipment::{ShipmentError, ShipmentRequest, UploadState};
use crate::domain::{CompanyId, OrderNumber};
use crate::job::save_orders;
use crate::store::{MappingStore, OrderStore, StoreError};
use chrono::{DateTime, Utc};

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Bad input: nothing was changed.
    #[error(transparent)]
    Invalid(#[from] ShipmentError),
    #[error(transparent)]
    Store(#[from] StoreError),
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
async fn update<S, T>(store: &S, company: &CompanyId, number: &OrderNumber, change: impl Fn(&mut Order) -> Result<T, RecordError>) -> Result<(Order, T), RecordError>
where
    S: OrderStore,
{
    let mut order = load(store, company, number).await?;
    let out = change(&mut order)?;
    // A re-run on a reloaded copy must succeed the same way; its error (say, the line is now
    // fully packed by a concurrent shipment) is kept and returned.
    let failure = std::sync::Mutex::new(None);
    let last = std::sync::Mutex::new(None);
    let saved = save_orders(store, company, vec![order], |o| match change(o) {
        Ok(v) => {
            if let Ok(mut l) = last.lock() {
                *l = Some(v);
            }
            true
        }
        Err(e) => {
            if let Ok(mut f) = failure.lock() {
                *f = Some(e);
            }
            false
        }
    })
    .await?;
    if let Some(e) = failure.into_inner().ok().flatten() {
        return Err(e);
    }
    if let Some((n, reason)) = saved.unsaved.into_iter().next() {
        return Err(RecordError::Store(StoreError::Conflict(format!("order {n}: {reason}; try again"))));
    }
    let stored = saved.current.into_iter().next().ok_or_else(|| RecordError::Invalid(ShipmentError::UnknownOrder(number.to_string())))?;
    Ok((stored, last.into_inner().ok().flatten().unwrap_or(out)))
}

/// Records one package of a shipment (see [`Order::record_shipment`] for the rules). Returns
/// the order as stored and the new package's id.
pub async fn record_shipment<S: OrderStore + MappingStore>(
    store: &S,
    company: &CompanyId,
    number: &OrderNumber,
    request: &ShipmentRequest,
    now: DateTime<Utc>,
) -> Result<(Order, String), RecordError> {
    let mappings = MappingTable::new(store.list_mappings(company).await?);
    update(store, company, number, |o| Ok(o.record_shipment(request, &mappings, now)?.package_id.clone())).await
}

/// Puts failed uploads of an order back to pending (all, or one package, or one line of it),
/// with their attempt count cleared. Returns how many were reset.
pub async fn reset_failed_uploads<S: OrderStore>(
    store: &S,
    company: &CompanyId,
    number: &OrderNumber,
    package: Option<&str>,
    line: Option<&str>,
) -> Result<usize, RecordError> {
    let (_, n) = update(store, company, number, |o| {
        let mut n = 0;
        for p in o.shipments.iter_mut().filter(|p| package.is_none_or(|id| p.package_id == id)) {
            for l in p.lines.iter_mut().filter(|l| line.is_none_or(|ln| l.line_number == ln)) {
                if matches!(l.upload, UploadState::Failed { .. }) {
                    l.upload = UploadState::Pending;
                    l.attempts = 0;
                    n += 1;
                }
            }
        }
        Ok(n)
    })
    .await?;
    Ok(n)
}
