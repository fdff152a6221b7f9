//! The tracking-upload service: recorded shipments become ship confirmations on Overstock, each
//! (package, line) exactly once. Intent (`Sending`) is written before each message and the
//! answer after it; a run that finds `Sending` left behind reconciles with Overstock first.

use crate::credentials::CredentialsProvider;
use crate::domain::mapping::MappingTable;
use crate::domain::order::{Order, OverstockStatus};
use crate::domain::settings::Company;
use crate::domain::shipment::{reconcile_sending, PackageLine, SendOutcome, UploadState};
use crate::domain::window::creation_second;
use crate::domain::{Clock, OrderNumber};
use crate::job::{run_company, save_orders, Outcome, Stop};
use crate::overstock::shipments::ShipConfirmation;
use crate::overstock::{Account, OverstockApi, OverstockError};
use crate::store::{CompanyStore, MappingStore, OrderStore, SyncStateStore};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use tracing::{info, warn};

pub const JOB: &str = "tracking-upload";

#[derive(Debug, Clone)]
pub struct UploadConfig {
    /// Rejections of one (package, line) before it is reported as a failed upload.
    pub max_attempts: u32,
    /// `supplierShipment` elements per message.
    pub batch: usize,
    pub concurrency: usize,
    pub deadline_margin: Duration,
}

impl Default for UploadConfig {
    fn default() -> Self {
        Self { max_attempts: 5, batch: 200, concurrency: 4, deadline_margin: Duration::seconds(20) }
    }
}

impl UploadConfig {
    /// `UPLOAD_MAX_ATTEMPTS`, `UPLOAD_BATCH`, `UPLOAD_CONCURRENCY` over the defaults.
    pub fn from_env() -> Self {
        let num = crate::job::env_positive::<u32>;
        let d = Self::default();
        Self {
            max_attempts: num("UPLOAD_MAX_ATTEMPTS").unwrap_or(d.max_attempts),
            batch: num("UPLOAD_BATCH").map(|v| v as usize).unwrap_or(d.batch).min(1000),
            concurrency: num("UPLOAD_CONCURRENCY").map(|v| v as usize).unwrap_or(d.concurrency),
            ..d
        }
    }
}

/// The ports the upload runs on.
pub type Uploader<'a, S, O, C, K> = crate::job::Ports<'a, S, O, C, K, UploadConfig>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UploadSummary {
    pub company_id: String,
    #[serde(flatten)]
    pub outcome: Outcome,
    /// `supplierShipment` elements sent.
    pub sent: usize,
    pub accepted: usize,
    pub rejected: usize,
    /// Reached the retry limit (or had no carrier) on this run: reported as failed uploads.
    pub gave_up: usize,
    /// Left in `Sending` by an interrupted run and settled from Overstock's answer.
    pub reconciled: usize,
    pub messages: usize,
    pub ship_confirmed_orders: usize,
    /// `order line: Overstock's message` for each rejection.
    pub rejections: Vec<String>,
    pub errors: Vec<String>,
}

impl UploadSummary {
    fn new(id: &str) -> Self {
        Self {
            company_id: id.to_owned(),
            outcome: Outcome::Completed,
            sent: 0,
            accepted: 0,
            rejected: 0,
            gave_up: 0,
            reconciled: 0,
            messages: 0,
            ship_confirmed_orders: 0,
            rejections: Vec::new(),
            errors: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct UploadRun {
    pub run_id: String,
    pub companies: Vec<UploadSummary>,
}

/// One (package, line) to send: indexes into the order's shipments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Entry {
    package: usize,
    line: usize,
}

/// Overstock's answer to one shipment message, per the API doc: success accepts every element;
/// a 400 naming an order and line rejects that element only; a 400 naming none rejects all.
enum Verdicts {
    PerLine(HashMap<(String, String), String>),
    AllRejected(String),
    /// Throttled or never sent: nothing happened.
    NotApplied,
}

impl Verdicts {
    fn outcome(&self, order: &str, line: &str) -> Option<SendOutcome> {
        match self {
            Self::PerLine(rejected) => Some(
                match rejected.get(&(order.to_owned(), line.to_owned())).or_else(|| rejected.get(&(order.to_owned(), String::new()))) {
                    Some(m) => SendOutcome::Rejected(m.clone()),
                    None => SendOutcome::Accepted,
                },
            ),
            Self::AllRejected(m) => Some(SendOutcome::Rejected(m.clone())),
            Self::NotApplied => None,
        }
    }
}

impl<'a, S, O, C, K> crate::job::Ports<'a, S, O, C, K, UploadConfig>
where
    S: CompanyStore + MappingStore + OrderStore + SyncStateStore,
    O: OverstockApi,
    C: CredentialsProvider,
    K: Clock,
{
    pub async fn run(&self, run_id: &str, deadline: DateTime<Utc>) -> Result<UploadRun, crate::store::StoreError> {
        let companies = crate::job::for_each_company(
            self.store.list_companies().await?,
            self.config.concurrency,
            |c| self.company(c, run_id, deadline),
            |s| s.company_id.clone(),
        )
        .await;
        Ok(UploadRun { run_id: run_id.to_owned(), companies })
    }

    async fn company(&self, company: Company, run_id: &str, deadline: DateTime<Utc>) -> UploadSummary {
        let mut sum = UploadSummary::new(company.company_id.as_str());
        let mut errors = Vec::new();
        sum.outcome = run_company(self.store, self.credentials, self.clock, &company, company.upload_eligibility(), JOB, run_id, deadline, &mut errors, |account| {
            self.locked(&company, account, deadline, &mut sum)
        })
        .await;
        sum.errors.extend(errors);
        info!(
            outcome = ?sum.outcome, sent = sum.sent, accepted = sum.accepted, rejected = sum.rejected,
            gave_up = sum.gave_up, reconciled = sum.reconciled, errors = sum.errors.len(),
            "company tracking upload finished"
        );
        sum
    }

    async fn locked(&self, company: &Company, account: Account, deadline: DateTime<Utc>, sum: &mut UploadSummary) -> Result<(), Stop> {
        let id = &company.company_id;
        let mappings = MappingTable::new(self.store.list_mappings(id).await?);
        let mut orders: BTreeMap<OrderNumber, Order> =
            self.store.list_upload_pending(id).await?.into_iter().map(|o| (o.order_number.clone(), o)).collect();
        self.reconcile(company, &account, &mut orders, sum).await?;
        // Each (package, line) is sent at most once per run: a rejection waits for a later run.
        let mut attempted: HashSet<(OrderNumber, usize, usize)> = HashSet::new();
        loop {
            if self.clock.now() + self.config.deadline_margin > deadline {
                return Err(Stop::Deadline);
            }
            let round = self.pick_round(&orders, &attempted);
            if round.is_empty() {
                return Ok(());
            }
            attempted.extend(round.iter().map(|(n, e)| (n.clone(), e.package, e.line)));
            self.send_round(company, &account, &mappings, &mut orders, round, sum).await?;
        }
    }

    /// Up to `batch` pending (package, line)s, never two of the same order line in one message
    /// (Overstock's errors name an order and line, not a package).
    fn pick_round(&self, orders: &BTreeMap<OrderNumber, Order>, attempted: &HashSet<(OrderNumber, usize, usize)>) -> Vec<(OrderNumber, Entry)> {
        let mut round = Vec::new();
        let mut lines_taken: HashSet<(&OrderNumber, &str)> = HashSet::new();
        for (number, o) in orders {
            for (pi, p) in o.shipments.iter().enumerate() {
                for (li, l) in p.lines.iter().enumerate() {
                    if round.len() >= self.config.batch.max(1) {
                        return round;
                    }
                    if l.upload == UploadState::Pending
                        && !attempted.contains(&(number.clone(), pi, li))
                        && lines_taken.insert((number, l.line_number.as_str()))
                    {
                        round.push((number.clone(), Entry { package: pi, line: li }));
                    }
                }
            }
        }
        round
    }

    async fn send_round(
        &self,
        company: &Company,
        account: &Account,
        mappings: &MappingTable,
        orders: &mut BTreeMap<OrderNumber, Order>,
        round: Vec<(OrderNumber, Entry)>,
        sum: &mut UploadSummary,
    ) -> Result<(), Stop> {
        let id = &company.company_id;
        let now = self.clock.now();
        // Build the elements; a package line with no carrier cannot be sent and fails at once.
        let mut items = Vec::new();
        let mut sending: Vec<(OrderNumber, Entry)> = Vec::new();
        let mut touched: HashSet<OrderNumber> = HashSet::new();
        for (number, e) in round {
            let Some(o) = orders.get_mut(&number) else { continue };
            let package = &o.shipments[e.package];
            let line = &package.lines[e.line];
            let carrier = o.carrier_for(package, mappings);
            let (Some(carrier), Some(service)) = (carrier, o.overstock.service_level_code().map(|c| c.to_string())) else {
                let reason = "no carrier code: the shipment has none and the order's service level has no mapping".to_owned();
                warn!(order = %number, line = %line.line_number, "{reason}");
                o.shipments[e.package].lines[e.line].upload = UploadState::Failed { at: now, reason };
                sum.gave_up += 1;
                touched.insert(number);
                continue;
            };
            items.push(ShipConfirmation {
                sales_channel_name: o.overstock.sales_channel_name.clone().unwrap_or_else(|| "OSTK".into()),
                order_number: number.to_string(),
                line_number: line.line_number.clone(),
                warehouse_code: o.overstock.warehouse_code.clone().unwrap_or_else(|| company.settings.warehouse_code.clone()),
                quantity: line.quantity,
                carrier_code: carrier,
                tracking_number: package.tracking_number.clone(),
                ship_date: package.ship_date,
                service_level_code: service,
            });
            o.shipments[e.package].lines[e.line].upload = UploadState::Sending { at: now };
            touched.insert(number.clone());
            sending.push((number, e));
        }
        // The intent, durably, before anything is sent.
        let intent: Vec<Order> = touched.iter().filter_map(|n| orders.get(n).cloned()).collect();
        let saved = save_orders(self.store, id, intent, |_| false).await?;
        let saved_numbers: HashSet<OrderNumber> = saved.iter().map(|o| o.order_number.clone()).collect();
        for o in saved {
            orders.insert(o.order_number.clone(), o);
        }
        // Orders that changed underneath are left for the next run, unsent.
        for n in touched.iter().filter(|n| !saved_numbers.contains(*n)) {
            orders.remove(n);
        }
        let (items, sending): (Vec<ShipConfirmation>, Vec<(OrderNumber, Entry)>) = items
            .into_iter()
            .zip(sending)
            .filter(|(_, (n, _))| saved_numbers.contains(n))
            .unzip();
        if items.is_empty() {
            return Ok(());
        }
        sum.messages += 1;
        sum.sent += items.len();
        let answer = self.overstock.post_shipments(account, &items).await;
        let now = self.clock.now();
        let verdicts = match &answer {
            Ok(rejected) => Verdicts::PerLine(
                rejected.iter().map(|r| ((r.order_number.clone(), r.line_number.clone().unwrap_or_default()), r.message.clone())).collect(),
            ),
            Err(OverstockError::MessageRejected(m)) => Verdicts::AllRejected(m.clone()),
            // Certainly not applied (throttled, or never sent): back to pending.
            Err(e) if e.certainly_not_applied() || matches!(e, OverstockError::Unauthorized) => Verdicts::NotApplied,
            // Maybe applied: stays `Sending`, reconciled by the next run.
            Err(e) => {
                warn!(error = %e, "shipment message outcome unknown; left for reconciliation");
                return Err(Stop::Error(format!("shipments: {e}")));
            }
        };
        let mut changed: HashSet<OrderNumber> = HashSet::new();
        let max = self.config.max_attempts;
        for (number, e) in &sending {
            let Some(o) = orders.get_mut(number) else { continue };
            let line_number = o.shipments[e.package].lines[e.line].line_number.clone();
            let pl = &mut o.shipments[e.package].lines[e.line];
            match verdicts.outcome(number.as_str(), &line_number) {
                None => pl.upload = UploadState::Pending,
                Some(SendOutcome::Accepted) => {
                    pl.apply(SendOutcome::Accepted, max, now);
                    sum.accepted += 1;
                }
                Some(SendOutcome::Rejected(m)) => {
                    warn!(order = %number, line = %line_number, reason = %m, "overstock rejected the shipment");
                    sum.rejections.push(format!("{number} line {line_number}: {m}"));
                    pl.apply(SendOutcome::Rejected(m), max, now);
                    sum.rejected += 1;
                    if matches!(pl.upload, UploadState::Failed { .. }) {
                        sum.gave_up += 1;
                    }
                }
            }
            changed.insert(number.clone());
        }
        let mut to_save = Vec::new();
        for n in &changed {
            if let Some(o) = orders.get_mut(n) {
                let before = o.local_status;
                o.refresh_ship_confirmation();
                o.updated_at = now;
                if before != o.local_status {
                    sum.ship_confirmed_orders += 1;
                }
                to_save.push(o.clone());
            }
        }
        let settled = settled_lines(&to_save);
        for o in save_orders(self.store, id, to_save, |o| reapply_settled(o, &settled)).await? {
            orders.insert(o.order_number.clone(), o);
        }
        match answer {
            Err(OverstockError::Unauthorized) => Err(Stop::Credentials(OverstockError::Unauthorized.to_string())),
            Err(e) if e.certainly_not_applied() => Err(Stop::Error(format!("shipments: {e}"))),
            _ => Ok(()),
        }
    }

    /// Settles package lines left `Sending` by an interrupted run, from Overstock's view of the
    /// order (a one-second window at its creation time), before anything is sent again.
    async fn reconcile(&self, company: &Company, account: &Account, orders: &mut BTreeMap<OrderNumber, Order>, sum: &mut UploadSummary) -> Result<(), Stop> {
        let interrupted: Vec<OrderNumber> = orders
            .values()
            .filter(|o| o.shipments.iter().flat_map(|p| &p.lines).any(|l| matches!(l.upload, UploadState::Sending { .. })))
            .map(|o| o.order_number.clone())
            .collect();
        let mut to_save = Vec::new();
        for number in interrupted {
            let Some(mut o) = orders.remove(&number) else { continue };
            let now = self.clock.now();
            let view = match o.overstock.sofs_created_date {
                Some(t) => {
                    let page = self
                        .overstock
                        .fetch_orders(account, &creation_second(t))
                        .await
                        .map_err(|e| Stop::overstock(e, || format!("reconcile {number}")))?;
                    page.orders.into_iter().find(|so| so.order_number == number)
                }
                None => None,
            };
            let shipped_lines: HashSet<String> = view
                .iter()
                .flat_map(|so| &so.lines)
                .filter(|l| l.line_status.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("SHIPPED")))
                .map(|l| l.line_number.clone())
                .collect();
            let order_cancelled = view.as_ref().and_then(|so| so.status.clone()) == Some(OverstockStatus::Cancelled);
            let line_numbers: Vec<(String, u32)> = o.overstock.lines.iter().map(|l| (l.line_number.clone(), l.quantity)).collect();
            for (line, quantity) in line_numbers {
                let refs: Vec<&PackageLine> =
                    o.shipments.iter().flat_map(|p| &p.lines).filter(|pl| pl.line_number == line).collect();
                if !refs.iter().any(|pl| matches!(pl.upload, UploadState::Sending { .. })) {
                    continue;
                }
                let shipped = shipped_lines.contains(&line) && !order_cancelled;
                let verdicts = reconcile_sending(quantity, &refs, shipped, now);
                let mut verdicts = verdicts.into_iter();
                for pl in o.shipments.iter_mut().flat_map(|p| p.lines.iter_mut()).filter(|pl| pl.line_number == line) {
                    if matches!(pl.upload, UploadState::Sending { .. }) {
                        if let Some(v) = verdicts.next() {
                            info!(order = %number, line = %line, verdict = ?v, "reconciled an interrupted upload");
                            if matches!(v, UploadState::Accepted { .. }) {
                                sum.accepted += 1;
                            }
                            pl.upload = v;
                            sum.reconciled += 1;
                        }
                    }
                }
            }
            let before = o.local_status;
            o.refresh_ship_confirmation();
            if before != o.local_status {
                sum.ship_confirmed_orders += 1;
            }
            o.updated_at = now;
            to_save.push(o);
        }
        let settled = settled_lines(&to_save);
        for o in save_orders(self.store, &company.company_id, to_save, |o| reapply_settled(o, &settled)).await? {
            orders.insert(o.order_number.clone(), o);
        }
        Ok(())
    }
}

/// (order, package, line) → the package line as settled (not `Sending` any more).
type Settled = HashMap<(OrderNumber, String, String), PackageLine>;

fn settled_lines(orders: &[Order]) -> Settled {
    let mut out = HashMap::new();
    for o in orders {
        for p in &o.shipments {
            for l in p.lines.iter().filter(|l| !matches!(l.upload, UploadState::Sending { .. })) {
                out.insert((o.order_number.clone(), p.package_id.clone(), l.line_number.clone()), l.clone());
            }
        }
    }
    out
}

/// Re-applies Overstock's answer to an order reloaded after a concurrent change (say, the
/// warehouse recorded another package meanwhile): every package line still `Sending` here that
/// was settled gets its settled state. An answer is never dropped.
fn reapply_settled(o: &mut Order, settled: &Settled) -> bool {
    let mut changed = false;
    for p in &mut o.shipments {
        for l in p.lines.iter_mut().filter(|l| matches!(l.upload, UploadState::Sending { .. })) {
            if let Some(s) = settled.get(&(o.order_number.clone(), p.package_id.clone(), l.line_number.clone())) {
                *l = s.clone();
                changed = true;
            }
        }
    }
    if changed {
        o.refresh_ship_confirmation();
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::shipment::Package;

    fn pl(line: &str, upload: UploadState) -> PackageLine {
        PackageLine { line_number: line.into(), quantity: 1, upload, attempts: 0, last_error: None }
    }

    fn order(packages: Vec<Package>) -> Order {
        let mut o = crate::domain::fixtures::order("ACKNOWLEDGED", &[("1", 1)], Utc::now());
        o.local_status = crate::domain::order::LocalStatus::Shipped;
        o.shipments = packages;
        o
    }

    fn package(id: &str, lines: Vec<PackageLine>) -> Package {
        let t = Utc::now();
        Package { package_id: id.into(), tracking_number: "T".into(), carrier_code: None, ship_date: t, recorded_at: t, lines }
    }

    #[test]
    fn an_answer_survives_a_concurrent_change_of_the_order() {
        let now = Utc::now();
        // What this run settled: P1 line 1 accepted.
        let ours = order(vec![package("P1", vec![pl("1", UploadState::Accepted { at: now })])]);
        let settled = settled_lines(std::slice::from_ref(&ours));
        // What is stored now: P1 still sending (our intent) and a package the warehouse added.
        let mut reloaded = order(vec![package("P1", vec![pl("1", UploadState::Sending { at: now })]), package("P2", vec![])]);
        assert!(reapply_settled(&mut reloaded, &settled));
        assert_eq!(reloaded.shipments[0].lines[0].upload, UploadState::Accepted { at: now });
        assert_eq!(reloaded.shipments.len(), 2, "the concurrent change is kept");
        assert_eq!(reloaded.local_status, crate::domain::order::LocalStatus::ShipConfirmed);
        assert!(!reapply_settled(&mut reloaded, &settled), "nothing left to apply");
    }
}
