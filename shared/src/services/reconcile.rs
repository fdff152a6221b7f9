//! Reconciliation: reads Overstock's orders of a creation period (one `GET` per hour window) and
//! the stored ones, and reports what differs (`domain::reconcile::compare`). With `repair`, and
//! only under the company's order-download lease (so no download runs meanwhile), it performs
//! the two safe repairs: store an order the download missed, and mark a line confirmed here but
//! open on Overstock for the next upload. Nothing else is ever changed.

use crate::domain::mapping::MappingTable;
use crate::domain::order::Order;
use crate::domain::reconcile::{Finding, FindingKind, compare};
use crate::domain::settings::Company;
use crate::domain::window::{floor_second, plan_windows};
use crate::domain::{OrderNumber, utc_key};
use crate::job::{JobError, fetch_around, save_orders};
use crate::overstock::{Account, OverstockApi};
use crate::store::{MappingStore, OrderStore, StoreError, SyncStateStore};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// What a reconciliation found and did.
#[derive(Debug, Clone, Serialize)]
pub struct ReconcileReport {
    pub company_id: String,
    pub from: String,
    pub to: String,
    /// `GET /salesorders` calls (windows, splits included).
    pub overstock_calls: usize,
    pub overstock_orders: usize,
    pub stored_orders: usize,
    /// Order elements Overstock sent that do not parse (not compared; see the quarantine).
    pub unreadable_on_overstock: usize,
    /// Creation seconds whose answer cannot be read at all: their orders (here or there) are not
    /// compared (`overstockctl quarantine list`).
    pub unreadable_seconds: Vec<String>,
    pub findings: Vec<Finding>,
    /// Inventory values: what Overstock holds against what it last accepted here (companies with
    /// Enable Inventory Upload on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inventory: Option<InventoryCheck>,
    /// What `repair` did, one line each.
    pub repaired: Vec<String>,
}

/// The inventory part of a reconciliation.
#[derive(Debug, Clone, Serialize)]
pub struct InventoryCheck {
    pub overstock_skus: usize,
    pub products: usize,
    /// Each SKU whose value differs: `known_here` ones are sent again by `--repair` (and by the
    /// push's own daily comparison); unknown ones are only reported.
    pub drift: Vec<crate::domain::inventory::InventoryDrift>,
}

/// Why a reconciliation could not run.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Job(#[from] JobError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("a download run holds the company's lease; repair again in a minute")]
    Busy,
    #[error("Overstock refused the credentials: {0}")]
    Refused(String),
}

impl From<crate::job::Stop> for ReconcileError {
    fn from(s: crate::job::Stop) -> Self {
        match s {
            crate::job::Stop::Error(e) => Self::Job(e),
            crate::job::Stop::Refused(r) | crate::job::Stop::Credentials(r) => Self::Refused(r),
            crate::job::Stop::Deadline => Self::Job(JobError::Incomplete("stopped at a deadline".into())),
        }
    }
}

/// Reconciles `company` over `[from, to)`; `repair` performs the safe repairs.
#[allow(clippy::too_many_arguments)]
pub async fn reconcile<S, O>(
    store: &S,
    overstock: &O,
    account: &Account,
    company: &Company,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
    repair: bool,
) -> Result<ReconcileReport, ReconcileError>
where
    S: OrderStore + MappingStore + SyncStateStore + crate::store::InventoryStore,
    O: OverstockApi,
{
    let id = &company.company_id;
    let mut views = Vec::new();
    let (mut calls, mut unreadable) = (0, 0);
    let mut seconds = Vec::new();
    let mut elements = Vec::new();
    for window in plan_windows(from, to, Duration::hours(1)) {
        let fetched = fetch_around(overstock, account, window, &[]).await?;
        calls += fetched.fetches;
        unreadable += fetched.unparseable.len();
        // Named by its order number; an element without one by the key it is set apart under.
        elements.extend(
            fetched
                .unparseable
                .iter()
                .map(|u| (u.order_number.clone().unwrap_or_else(|| u.key()), u.order_number.clone())),
        );
        views.extend(fetched.orders);
        seconds.extend(fetched.unreadable.into_iter().map(|u| u.second.start));
    }
    // An order in a second that cannot be read is neither missing there nor here.
    let stored: Vec<Order> = store
        .list_orders(id, usize::MAX)
        .await?
        .into_iter()
        .filter(|o| !o.overstock.sofs_created_date.is_some_and(|t| seconds.contains(&floor_second(t))))
        .collect();
    let mut findings = compare(&stored, &views, from, to);
    // What cannot be read on Overstock's side is a difference too: orders the warehouse lacks.
    let second_keys: Vec<String> = seconds.iter().map(|t| utc_key(*t)).collect();
    findings.extend(crate::domain::reconcile::unreadable_there(&stored, &elements, &second_keys));
    let mut report = ReconcileReport {
        company_id: id.to_string(),
        from: utc_key(from),
        to: utc_key(to),
        overstock_calls: calls,
        overstock_orders: views.len(),
        stored_orders: stored
            .iter()
            .filter(|o| o.overstock.sofs_created_date.is_some_and(|t| from <= t && t < to))
            .count(),
        unreadable_on_overstock: unreadable,
        unreadable_seconds: seconds.iter().map(|t| utc_key(*t)).collect(),
        findings,
        inventory: None,
        repaired: Vec::new(),
    };
    if company.settings.inventory_upload {
        let held = overstock.fetch_inventory(account).await.map_err(|source| {
            ReconcileError::Job(JobError::Overstock { context: "reading GET /inventory".into(), source })
        })?;
        let products = store.list_products(id).await?;
        let (drift, overstock_skus) = crate::services::inventory::inventory_findings(&products, &held);
        let count = products.len();
        if repair {
            // Safe: an inventory value is absolute; the next push sends what the rule gives.
            let saved = crate::services::inventory::resend_drifted(store, id, products, &drift, now).await?;
            for p in &saved.current {
                report.repaired.push(format!("{}: sent again by the next inventory-push run", p.sku));
            }
        }
        report.inventory = Some(InventoryCheck { overstock_skus, products: count, drift });
    }
    if repair && report.findings.iter().any(|f| f.repairable) {
        let owner = format!("reconcile-{}", uuid::Uuid::new_v4().simple());
        let job = crate::services::order_download::JOB;
        if !store.acquire_lease(id, job, &owner, now + crate::job::LEASE_HOLD, now).await? {
            return Err(ReconcileError::Busy);
        }
        let result = repair_safe(store, company, &views, &report.findings, now).await;
        if let Err(e) = store.release_lease(id, job, &owner).await {
            tracing::warn!(error = %e, "could not release the lease; it expires by itself");
        }
        report.repaired.extend(result?);
    }
    Ok(report)
}

async fn repair_safe<S>(
    store: &S,
    company: &Company,
    views: &[crate::domain::order::SalesOrder],
    findings: &[Finding],
    now: DateTime<Utc>,
) -> Result<Vec<String>, ReconcileError>
where
    S: OrderStore + MappingStore + crate::store::SyncStateStore,
{
    let id = &company.company_id;
    let mut done = Vec::new();
    // Orders the download missed: stored as the download stores a new order (mapped; its
    // acknowledgement pending when acknowledgement is on, sent by the next download run).
    let missing: Vec<OrderNumber> = findings
        .iter()
        .filter(|f| f.kind == FindingKind::MissingHere)
        .filter_map(|f| OrderNumber::parse(&f.order_number).ok())
        .collect();
    if !missing.is_empty() {
        // Read again under the lease: stored meanwhile means nothing to do.
        let present = store.get_orders(id, &missing).await?;
        let mappings = MappingTable::new(store.list_mappings(id).await?);
        let fresh: Vec<Order> = views
            .iter()
            .filter(|so| missing.contains(&so.order_number) && !present.contains_key(&so.order_number))
            .map(|so| {
                let mut o = Order::from_download(
                    id.clone(),
                    so.clone(),
                    &mappings,
                    company.settings.order_acknowledgement,
                    now,
                );
                o.assign_ship_by(&company.settings.ship_by, company.settings.time_zone.0);
                o
            })
            .collect();
        store.put_new_orders(&fresh).await?;
        done.extend(fresh.iter().map(|o| format!("{}: stored", o.order_number)));
        // The download's watchdog looks at the orders stored here at its next run.
        if !fresh.is_empty() {
            store.poke(id, crate::services::order_download::JOB).await?;
        }
    }
    // Lines confirmed here that Overstock shows open: pending again for the next upload.
    let mut lines: BTreeMap<OrderNumber, Vec<String>> = BTreeMap::new();
    for f in findings.iter().filter(|f| f.kind == FindingKind::ConfirmedHereOpenThere) {
        if let (Ok(n), Some(l)) = (OrderNumber::parse(&f.order_number), &f.line) {
            lines.entry(n).or_default().push(l.clone());
        }
    }
    if !lines.is_empty() {
        let numbers: Vec<OrderNumber> = lines.keys().cloned().collect();
        let orders: Vec<Order> = store.get_orders(id, &numbers).await?.into_values().collect();
        let remark = |o: &mut Order| {
            let mut changed = false;
            for l in lines.get(&o.order_number).into_iter().flatten() {
                changed |= o.remark_for_upload(l, now);
            }
            changed
        };
        let mut changed = Vec::new();
        for mut o in orders {
            if remark(&mut o) {
                changed.push(o);
            }
        }
        let saved = save_orders(store, id, changed, remark).await.map_err(ReconcileError::Store)?;
        for o in &saved.current {
            for l in lines.get(&o.order_number).into_iter().flatten() {
                done.push(format!("{} line {l}: marked for the next upload", o.order_number));
            }
        }
        for (n, reason) in saved.unsaved {
            done.push(format!("{n}: not repaired ({reason}); run reconcile again"));
        }
    }
    Ok(done)
}

/// Rewrites a company's open orders so they carry this version's index keys (after an upgrade
/// that added an index: `orders-open`). Version-checked; returns how many were rewritten and the
/// orders that changed meanwhile (written by another writer of this version, so indexed anyway).
pub async fn reindex_open_orders<S: OrderStore>(
    store: &S,
    company: &crate::domain::CompanyId,
) -> Result<(usize, Vec<OrderNumber>), StoreError> {
    let open: Vec<Order> = store.list_orders(company, usize::MAX).await?.into_iter().filter(Order::is_open).collect();
    let skipped = store.replace_orders(&open).await?;
    Ok((open.len() - skipped.len(), skipped))
}

/// One company's daily check: its report, or why it could not be made.
#[derive(Debug, Clone, Serialize)]
pub struct CompanyCheck {
    pub company_id: String,
    pub report: Option<ReconcileReport>,
    pub error: Option<String>,
    /// How the check ended, for the worker frame (a failed check is kept on the work queue's
    /// DLQ with its reason: the next day's check is the retry).
    #[serde(skip)]
    pub outcome: crate::job::Outcome,
}

impl CompanyCheck {
    fn failed(company_id: String, error: String) -> Self {
        let outcome = crate::job::Outcome::Failed { error: error.clone(), retryable: false };
        Self { company_id, report: None, error: Some(error), outcome }
    }
}

/// The daily reconciliation: every company with order download on, the last `days` days, nothing
/// repaired (repairs are an operator's `--repair`). One company's failure never stops the others.
pub async fn reconcile_all<S, O, C, K>(
    store: &S,
    overstock: &O,
    credentials: &C,
    clock: &K,
    days: i64,
) -> Result<Vec<CompanyCheck>, StoreError>
where
    S: crate::store::CompanyStore
        + OrderStore
        + MappingStore
        + SyncStateStore
        + crate::audit::AuditStore
        + crate::store::InventoryStore,
    O: OverstockApi,
    C: crate::credentials::CredentialsProvider,
    K: crate::domain::Clock,
{
    let mut out = Vec::new();
    for row in store.list_companies().await? {
        match row {
            Ok(c) if c.settings.order_download => {
                out.push(reconcile_company(store, overstock, credentials, clock, days, &c).await)
            }
            Ok(_) => {}
            Err(bad) => out.push(CompanyCheck::failed(bad.company_id.clone(), bad.to_string())),
        }
    }
    Ok(out)
}

/// One company's daily check by its id (a work item's).
pub async fn reconcile_one<S, O, C, K>(
    store: &S,
    overstock: &O,
    credentials: &C,
    clock: &K,
    days: i64,
    id: &crate::domain::CompanyId,
) -> CompanyCheck
where
    S: crate::store::CompanyStore
        + OrderStore
        + MappingStore
        + SyncStateStore
        + crate::audit::AuditStore
        + crate::store::InventoryStore,
    O: OverstockApi,
    C: crate::credentials::CredentialsProvider,
    K: crate::domain::Clock,
{
    crate::job::one_company(
        store,
        id,
        |c| async move { reconcile_company(store, overstock, credentials, clock, days, &c).await },
        |outcome| {
            let error = match &outcome {
                crate::job::Outcome::Failed { error, .. } => error.clone(),
                other => format!("{other:?}"),
            };
            CompanyCheck { company_id: id.to_string(), report: None, error: Some(error), outcome }
        },
    )
    .await
}

/// One company's daily check: the last `days` days, nothing repaired.
async fn reconcile_company<S, O, C, K>(
    store: &S,
    overstock: &O,
    credentials: &C,
    clock: &K,
    days: i64,
    company: &Company,
) -> CompanyCheck
where
    S: OrderStore + MappingStore + SyncStateStore + crate::audit::AuditStore + crate::store::InventoryStore,
    O: OverstockApi,
    C: crate::credentials::CredentialsProvider,
    K: crate::domain::Clock,
{
    let id = company.company_id.to_string();
    let span = tracing::info_span!("reconcile", company = %id);
    let check = async {
        let creds =
            credentials.credentials(company.settings.credentials_ref.as_str()).await.map_err(|e| e.to_string())?;
        let mut account = Account::new(company.settings.api_base_url.clone(), creds);
        account.dry_run = company.settings.dry_run.clone();
        let now = clock.now();
        let report = reconcile(store, overstock, &account, company, now - Duration::days(days), now, now, false)
            .await
            .map_err(|e| e.to_string());
        crate::audit::flush(store, &company.company_id, &account.trail).await;
        report
    };
    match tracing::Instrument::instrument(check, span).await {
        Ok(report) => {
            CompanyCheck { company_id: id, report: Some(report), error: None, outcome: crate::job::Outcome::Completed }
        }
        Err(e) => {
            tracing::warn!(company = %id, error = %e, "reconciliation failed");
            CompanyCheck::failed(id, e)
        }
    }
}

impl crate::services::fanout::Worked for CompanyCheck {
    fn outcome(&self) -> &crate::job::Outcome {
        &self.outcome
    }

    /// A check takes no job lease of its own: its dispatch is marked finished apart.
    fn finish_recorded(&self) -> bool {
        false
    }
}

/// The lines of the daily reconciliation: per company, the findings by kind (and whether it
/// could be checked at all).
pub fn metric_lines(checks: &[CompanyCheck], at: DateTime<Utc>) -> Vec<String> {
    use crate::domain::reconcile::FindingKind as K;
    checks
        .iter()
        .map(|c| {
            let count = |k: K| c.report.as_ref().map_or(0, |r| r.findings.iter().filter(|f| f.kind == k).count());
            let m = [
                (
                    "ReconcileMissingHere",
                    crate::metrics::n(
                        c.report.as_ref().map_or(0, |r| r.findings.iter().filter(|f| f.kind.missing_here()).count()),
                    ),
                    "Count",
                ),
                ("ReconcileNotOnOverstock", crate::metrics::n(count(K::NotOnOverstock)), "Count"),
                ("ReconcileConfirmedHereOpenThere", crate::metrics::n(count(K::ConfirmedHereOpenThere)), "Count"),
                ("ReconcileShippedThereNotHere", crate::metrics::n(count(K::ShippedThereNotHere)), "Count"),
                (
                    "ReconcileAcknowledgedHereEnteredThere",
                    crate::metrics::n(count(K::AcknowledgedHereEnteredThere)),
                    "Count",
                ),
                (
                    "ReconcileInventoryDrift",
                    crate::metrics::n(
                        c.report.as_ref().and_then(|r| r.inventory.as_ref()).map_or(0, |i| i.drift.len()),
                    ),
                    "Count",
                ),
                ("ReconcileFailed", crate::metrics::flag(c.error.is_some()), "Count"),
            ];
            crate::metrics::line(&[("Function", "reconcile"), ("Company", &c.company_id)], &m, at)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::FixedClock;
    use crate::domain::fixtures::sales_order;
    use crate::fakes::{FakeOverstock, FixedCredentials, MemoryStore, company};

    #[tokio::test]
    async fn the_daily_check_covers_every_downloading_company_and_repairs_nothing() {
        let store = MemoryStore::with_company(company("acme"));
        let mut off = company("dormant");
        off.settings.order_download = false;
        crate::store::CompanyStore::create_company(&store, &off).await.unwrap_or_else(|e| panic!("{e}"));
        let now = DateTime::from_timestamp(1_795_000_000, 0).unwrap_or_default();
        let overstock = FakeOverstock::default();
        let mut so = sales_order("ENTERED", "NEXT_DAY", &[("1", 1)]);
        so.sofs_created_date = Some(now - Duration::hours(5));
        overstock.orders.lock().unwrap_or_else(|p| p.into_inner()).push(so);

        let checks = reconcile_all(&store, &overstock, &FixedCredentials, &FixedClock(now), 7).await;
        let checks = checks.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(checks.len(), 1, "the company with download off is not checked: {checks:?}");
        let report = checks[0].report.clone().unwrap_or_else(|| panic!("{checks:?}"));
        assert_eq!(report.findings.iter().map(|f| f.kind).collect::<Vec<_>>(), [FindingKind::MissingHere]);
        assert_eq!(report.overstock_calls, 7 * 24);
        assert!(report.repaired.is_empty() && store.all_orders().is_empty(), "nothing repaired");
        let lines = metric_lines(&checks, now);
        let v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((v["Company"].as_str(), v["ReconcileMissingHere"].as_f64()), (Some("acme"), Some(1.0)));
    }
}
