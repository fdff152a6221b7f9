//! The tracking-upload service: recorded shipments become ship confirmations on Overstock, each
//! (package, line) exactly once. Intent (`Sending`) is written before each message and the
//! answer after it; a run that finds `Sending` left behind reconciles with Overstock first.

use crate::credentials::CredentialsProvider;
use crate::domain::cancellation::{ShortShip, ShortShipRef};
use crate::domain::mapping::MappingTable;
use crate::domain::order::SalesOrder;
use crate::domain::order::{LocalStatus, Order, OverstockStatus};
use crate::domain::settings::Company;
use crate::domain::shipment::{PackageLine, PackageLineRef, SendOutcome, UploadState, reconcile_sending};
use crate::domain::window::{covering_windows, creation_second};
use crate::domain::{Clock, OrderNumber};
use crate::job::{JobError, Outcome, Saved, Stop, run_company, save_orders};
use crate::overstock::shipments::{ShipConfirmation, ShipmentElement, ShortShipItem};
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
    /// `UPLOAD_MAX_ATTEMPTS` (1-100), `UPLOAD_BATCH` (1-1000), `UPLOAD_CONCURRENCY` (1-32)
    /// over the defaults; a bad value names its variable.
    pub fn from_env(env: &impl crate::config::Env) -> Result<Self, crate::config::ConfigError> {
        use crate::config::number;
        let d = Self::default();
        Ok(Self {
            max_attempts: number(env, "UPLOAD_MAX_ATTEMPTS", d.max_attempts, 1..=100)?,
            batch: number(env, "UPLOAD_BATCH", d.batch, 1..=1000)?,
            concurrency: number(env, "UPLOAD_CONCURRENCY", d.concurrency, 1..=32)?,
            ..d
        })
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
    /// Short ships Overstock accepted (cancelled lines).
    pub short_ships: usize,
    /// Package lines held by the company's tracking hold (sent at their time, not in this run).
    pub held: usize,
    /// `order line: Overstock's message` for each rejection.
    pub rejections: Vec<String>,
    /// `order: reason` for each order this run left for the next one (its intent or answer
    /// could not be recorded). Empty in a run with no concurrent writer.
    pub deferred: Vec<String>,
    /// Lines Overstock shows cancelled, found by reading a rejected order again: their packages
    /// are withdrawn, never retried.
    pub cancelled_by_overstock: Vec<crate::domain::cancellation::CancelledByOverstock>,
    pub errors: Vec<String>,
}

impl UploadSummary {
    fn unreadable(bad: &crate::store::UnreadableCompany) -> Self {
        let mut s = Self::new(&bad.company_id);
        s.outcome = Outcome::Failed { error: bad.to_string(), retryable: false };
        s.errors.push(bad.to_string());
        s
    }

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
            short_ships: 0,
            held: 0,
            rejections: Vec::new(),
            deferred: Vec::new(),
            cancelled_by_overstock: Vec::new(),
            errors: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct UploadRun {
    pub run_id: String,
    pub companies: Vec<UploadSummary>,
}

impl UploadRun {
    /// (company, order) for every order this run found cancelled by Overstock.
    pub fn cancelled_by_overstock(&self) -> Vec<(String, crate::domain::cancellation::CancelledByOverstock)> {
        self.companies
            .iter()
            .flat_map(|c| c.cancelled_by_overstock.iter().map(|x| (c.company_id.clone(), x.clone())))
            .collect()
    }
}

const OUTCOME_UNKNOWN_NO_DATE: &str = "outcome unknown after an interrupted upload, and the order has no creation date to read Overstock's copy by: check the line on Supplier Oasis, then reset if it was not received";

const NOT_XML_SAFE: &str = "the carrier code or tracking number holds a character the XML wire format cannot carry";

/// Why a package line cannot be sent at all.
const NO_CARRIER: &str = "no carrier code: the shipment has none and the order's service level has no mapping";

/// What one element of a shipment message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Target {
    /// A package line's ship confirmation.
    Package(PackageLineRef),
    /// A cancelled line's short ship.
    ShortShip(ShortShipRef),
}

/// What became of one element sent to Overstock.
#[derive(Debug, Clone)]
enum ItemVerdict {
    /// Overstock answered for it: accepted, or rejected with a message.
    Answered(SendOutcome),
    /// Certainly not applied (throttled, never sent, or not sent at all): pending again.
    NotApplied,
    /// Maybe applied (5xx, timeout, an unreadable answer): stays `Sending` for reconciliation.
    Unknown,
}

impl<'a, S, O, C, K> crate::job::Ports<'a, S, O, C, K, UploadConfig>
where
    S: CompanyStore + MappingStore + OrderStore + SyncStateStore + crate::audit::AuditStore,
    O: OverstockApi,
    C: CredentialsProvider,
    K: Clock,
{
    pub async fn run(&self, run_id: &str, deadline: DateTime<Utc>) -> Result<UploadRun, crate::store::StoreError> {
        let companies = crate::job::for_each_company(
            self.store.list_companies().await?,
            self.config.concurrency,
            |c| self.company(c, run_id, deadline),
            UploadSummary::unreadable,
            |s| s.company_id.clone(),
        )
        .await;
        Ok(UploadRun { run_id: run_id.to_owned(), companies })
    }

    /// One company's work item (a worker's unit): the same run a tick gives each company.
    pub async fn run_one(&self, id: &crate::domain::CompanyId, run_id: &str, deadline: DateTime<Utc>) -> UploadSummary {
        crate::job::one_company(
            self.store,
            id,
            |c| self.company(c, run_id, deadline),
            |outcome| {
                let mut s = UploadSummary::new(id.as_str());
                if let Outcome::Failed { error, .. } = &outcome {
                    s.errors.push(error.clone());
                }
                s.outcome = outcome;
                s
            },
        )
        .await
    }

    async fn company(&self, company: Company, run_id: &str, deadline: DateTime<Utc>) -> UploadSummary {
        let mut sum = UploadSummary::new(company.company_id.as_str());
        let mut errors = Vec::new();
        sum.outcome = run_company(
            self.store,
            self.credentials,
            self.clock,
            &company,
            company.upload_eligibility(self.clock.now()),
            JOB,
            run_id,
            deadline,
            &mut errors,
            |account, _| self.locked(&company, account, deadline, &mut sum),
        )
        .await;
        sum.errors.extend(errors);
        info!(
            outcome = ?sum.outcome, sent = sum.sent, accepted = sum.accepted, rejected = sum.rejected,
            gave_up = sum.gave_up, reconciled = sum.reconciled, errors = sum.errors.len(),
            "company tracking upload finished"
        );
        sum
    }

    async fn locked(
        &self,
        company: &Company,
        account: Account,
        deadline: DateTime<Utc>,
        sum: &mut UploadSummary,
    ) -> Result<(), Stop> {
        let result = self.work(company, &account, deadline, sum).await;
        crate::audit::note_overstock_cancellations(&account.trail, self.clock.now(), &sum.cancelled_by_overstock);
        result
    }

    async fn work(
        &self,
        company: &Company,
        account: &Account,
        deadline: DateTime<Utc>,
        sum: &mut UploadSummary,
    ) -> Result<(), Stop> {
        let id = &company.company_id;
        let mappings = MappingTable::new(self.store.list_mappings(id).await?);
        let mut orders: BTreeMap<OrderNumber, Order> =
            self.store.list_upload_pending(id).await?.into_iter().map(|o| (o.order_number.clone(), o)).collect();
        self.reconcile(company, account, &mut orders, sum).await?;
        let now = self.clock.now();
        sum.held = orders
            .values()
            .flat_map(|o| &o.shipments)
            .filter(|p| p.is_held(now))
            .map(|p| p.lines.iter().filter(|l| l.upload == UploadState::Pending).count())
            .sum();
        // Each (package, line) is sent at most once per run: a rejection waits for a later run.
        let mut attempted: HashSet<(OrderNumber, Target)> = HashSet::new();
        loop {
            if self.clock.now() + self.config.deadline_margin > deadline {
                return Err(Stop::Deadline);
            }
            let round = self.pick_round(&orders, &attempted, now);
            if round.is_empty() {
                return Ok(());
            }
            attempted.extend(round.iter().cloned());
            self.send_round(company, account, &mappings, &mut orders, round, sum).await?;
        }
    }

    /// Up to `batch` pending short ships and (package, line)s, never two of the same order line
    /// in one message (Overstock's errors name an order and line, not a package).
    fn pick_round(
        &self,
        orders: &BTreeMap<OrderNumber, Order>,
        attempted: &HashSet<(OrderNumber, Target)>,
        now: DateTime<Utc>,
    ) -> Vec<(OrderNumber, Target)> {
        let mut round = Vec::new();
        let mut lines_taken: HashSet<(&OrderNumber, &str)> = HashSet::new();
        let full = |round: &Vec<(OrderNumber, Target)>| round.len() >= self.config.batch.max(1);
        for (number, o) in orders {
            for r in o.pending_short_ships() {
                if full(&round) {
                    return round;
                }
                let t = Target::ShortShip(r);
                if let Some(l) = o.short_ship(r) {
                    if !attempted.contains(&(number.clone(), t)) && lines_taken.insert((number, l.line.as_str())) {
                        round.push((number.clone(), t));
                    }
                }
            }
            for (pi, p) in o.shipments.iter().enumerate() {
                // A held package waits for its time (the company's tracking hold); the order's
                // other packages and every other order go on.
                if p.is_held(now) {
                    continue;
                }
                for (li, l) in p.lines.iter().enumerate() {
                    if full(&round) {
                        return round;
                    }
                    let t = Target::Package(PackageLineRef { package: pi, line: li });
                    if l.upload == UploadState::Pending
                        && !attempted.contains(&(number.clone(), t))
                        && lines_taken.insert((number, l.line_number.as_str()))
                    {
                        round.push((number.clone(), t));
                    }
                }
            }
        }
        round
    }

    /// Keeps the orders as now stored; an order that could not be written is taken out of this
    /// run, counted and named with the reason (`what` it was for).
    fn absorb(&self, orders: &mut BTreeMap<OrderNumber, Order>, saved: Saved, what: &str, sum: &mut UploadSummary) {
        for o in saved.current {
            orders.insert(o.order_number.clone(), o);
        }
        for (number, reason) in saved.unsaved {
            warn!(order = %number, reason = %reason, "{what} not recorded; order left for the next run");
            sum.deferred.push(format!("{number}: {what} not recorded: {reason}"));
            orders.remove(&number);
        }
    }

    async fn send_round(
        &self,
        company: &Company,
        account: &Account,
        mappings: &MappingTable,
        orders: &mut BTreeMap<OrderNumber, Order>,
        round: Vec<(OrderNumber, Target)>,
        sum: &mut UploadSummary,
    ) -> Result<(), Stop> {
        let id = &company.company_id;
        let now = self.clock.now();
        // Build the elements; a package line with no carrier cannot be sent and fails at once.
        let mut items: Vec<(OrderNumber, Target, ShipmentElement)> = Vec::new();
        let mut to_short: BTreeMap<OrderNumber, Vec<ShortShipRef>> = BTreeMap::new();
        // Package lines that cannot be sent at all, with the reason.
        let mut no_carrier: BTreeMap<OrderNumber, Vec<(PackageLineRef, &str)>> = BTreeMap::new();
        let mut to_send: BTreeMap<OrderNumber, Vec<PackageLineRef>> = BTreeMap::new();
        for (number, target) in round {
            let Some(o) = orders.get(&number) else { continue };
            let warehouse_code =
                o.overstock.warehouse_code.clone().unwrap_or_else(|| company.settings.warehouse_code.clone());
            let r = match target {
                Target::Package(r) => r,
                Target::ShortShip(s) => {
                    let (Some(c), Some(l)) = (o.cancellations.get(s.cancellation), o.short_ship(s)) else { continue };
                    items.push((
                        number.clone(),
                        target,
                        ShipmentElement::ShortShip(ShortShipItem {
                            sales_channel_name: o.overstock.sales_channel_name.clone().unwrap_or_else(|| "OSTK".into()),
                            order_number: number.to_string(),
                            line_number: l.line.clone(),
                            warehouse_code,
                            reason_code: c.reason.clone(),
                        }),
                    ));
                    to_short.entry(number).or_default().push(s);
                    continue;
                }
            };
            let (Some(package), Some(line)) = (o.shipments.get(r.package), o.package_line(r)) else { continue };
            match (o.carrier_for(package, mappings), o.overstock.service_level_code()) {
                (Some(carrier), Some(_))
                    if !crate::overstock::client::xml_safe(&carrier)
                        || !crate::overstock::client::xml_safe(&package.tracking_number) =>
                {
                    warn!(order = %number, line = %line.line_number, "{NOT_XML_SAFE}");
                    no_carrier.entry(number).or_default().push((r, NOT_XML_SAFE));
                }
                (Some(carrier), Some(service)) => {
                    items.push((
                        number.clone(),
                        target,
                        ShipmentElement::Confirmation(ShipConfirmation {
                            sales_channel_name: o.overstock.sales_channel_name.clone().unwrap_or_else(|| "OSTK".into()),
                            order_number: number.to_string(),
                            line_number: line.line_number.clone(),
                            warehouse_code,
                            quantity: line.quantity,
                            carrier_code: carrier,
                            tracking_number: package.tracking_number.clone(),
                            ship_date: package.ship_date,
                            service_level_code: service.to_string(),
                        }),
                    ));
                    to_send.entry(number).or_default().push(r);
                }
                _ => {
                    warn!(order = %number, line = %line.line_number, "{NO_CARRIER}");
                    no_carrier.entry(number).or_default().push((r, NO_CARRIER));
                }
            }
        }
        // The intent, durably, before anything is sent: re-applied to an order that changed
        // meanwhile, never dropped.
        let intent = |o: &mut Order| {
            let mut failed = false;
            for (r, reason) in no_carrier.get(&o.order_number).into_iter().flatten() {
                failed |= o.fail_upload(*r, reason, now);
            }
            let sending = to_send.get(&o.order_number).is_some_and(|refs| o.begin_sending(refs, now));
            let mut shorts = false;
            for r in to_short.get(&o.order_number).into_iter().flatten() {
                shorts |= o.begin_short_ship(*r, now);
            }
            failed || sending || shorts
        };
        let mut touched = Vec::new();
        let mut numbers: Vec<&OrderNumber> = no_carrier.keys().chain(to_send.keys()).chain(to_short.keys()).collect();
        numbers.sort();
        numbers.dedup();
        for number in numbers {
            if let Some(mut o) = orders.remove(number) {
                if intent(&mut o) {
                    touched.push(o);
                } else {
                    orders.insert(number.clone(), o);
                }
            }
        }
        let saved = save_orders(self.store, id, touched, intent).await.map_err(Stop::from)?;
        self.absorb(orders, saved, "upload intent", sum);
        // What is sent is exactly what is stored as `Sending` by this round.
        let is_ours = |n: &OrderNumber, t: Target| {
            orders.get(n).is_some_and(|o| match t {
                Target::Package(r) => o.package_line(r).is_some_and(|pl| pl.upload == UploadState::Sending { at: now }),
                Target::ShortShip(r) => o.short_ship(r).is_some_and(|l| l.short_ship == ShortShip::Sending { at: now }),
            })
        };
        for (n, refs) in &no_carrier {
            let failed = refs
                .iter()
                .filter(|(r, _)| {
                    orders
                        .get(n)
                        .and_then(|o| o.package_line(*r))
                        .is_some_and(|pl| matches!(pl.upload, UploadState::Failed { .. }))
                })
                .count();
            sum.gave_up += failed;
        }
        let (sending, items): (Vec<(OrderNumber, Target)>, Vec<ShipmentElement>) =
            items.into_iter().filter(|(n, t, _)| is_ours(n, *t)).map(|(n, t, item)| ((n, t), item)).unzip();
        if items.is_empty() {
            return Ok(());
        }
        sum.sent += items.len();
        let (verdicts, stopped) = self.post_isolating(account, &items, sum).await;
        let now = self.clock.now();
        let max = self.config.max_attempts;
        let mut answers: BTreeMap<OrderNumber, Vec<(Target, Option<SendOutcome>)>> = BTreeMap::new();
        for (((number, target), verdict), item) in sending.iter().zip(verdicts).zip(&items) {
            let line_number = item.line_number();
            let outcome = match verdict {
                // Maybe applied: stays `Sending`, reconciled from Overstock by the next run.
                ItemVerdict::Unknown => continue,
                ItemVerdict::NotApplied => None,
                ItemVerdict::Answered(o) => Some(o),
            };
            let what = if matches!(target, Target::ShortShip(_)) { "short ship" } else { "shipment" };
            match &outcome {
                None => {}
                Some(SendOutcome::Accepted) if matches!(target, Target::ShortShip(_)) => sum.short_ships += 1,
                Some(SendOutcome::Accepted) => sum.accepted += 1,
                Some(SendOutcome::Rejected(m)) => {
                    warn!(order = %number, line = %line_number, reason = %m, "overstock rejected the {what}");
                    let prefix = if matches!(target, Target::ShortShip(_)) { "short ship: " } else { "" };
                    sum.rejections.push(format!("{number} line {line_number}: {prefix}{m}"));
                    sum.rejected += 1;
                }
            }
            answers.entry(number.clone()).or_default().push((*target, outcome));
        }
        // The answer, re-applied to an order that changed meanwhile (only to lines still sending).
        let apply = |o: &mut Order| {
            let mut changed = false;
            for (target, outcome) in answers.get(&o.order_number).into_iter().flatten() {
                match (target, outcome) {
                    (Target::Package(r), Some(out)) => {
                        changed |= o.apply_upload_answer(*r, out.clone(), max, now).is_some()
                    }
                    (Target::Package(r), None) => {
                        let before = o.package_line(*r).map(|pl| pl.upload.clone());
                        o.abandon_sending(*r, now);
                        changed |= before != o.package_line(*r).map(|pl| pl.upload.clone());
                    }
                    // A rejected short ship is final: Overstock will refuse it again.
                    (Target::ShortShip(r), Some(SendOutcome::Accepted)) => {
                        changed |= o.settle_short_ship(*r, Some(None), now)
                    }
                    (Target::ShortShip(r), Some(SendOutcome::Rejected(m))) => {
                        changed |= o.settle_short_ship(*r, Some(Some(m.as_str())), now)
                    }
                    (Target::ShortShip(r), None) => changed |= o.settle_short_ship(*r, None, now),
                }
            }
            changed
        };
        let mut to_save = Vec::new();
        for number in answers.keys() {
            if let Some(mut o) = orders.remove(number) {
                let before = o.local_status;
                apply(&mut o);
                if before != o.local_status && o.local_status == LocalStatus::ShipConfirmed {
                    sum.ship_confirmed_orders += 1;
                }
                to_save.push(o);
            }
        }
        let saved = save_orders(self.store, id, to_save, apply).await.map_err(Stop::from)?;
        for o in &saved.current {
            for (t, _) in answers.get(&o.order_number).into_iter().flatten() {
                let failed = match t {
                    Target::Package(r) => {
                        matches!(o.package_line(*r).map(|pl| &pl.upload), Some(UploadState::Failed { .. }))
                    }
                    Target::ShortShip(r) => {
                        matches!(o.short_ship(*r).map(|l| &l.short_ship), Some(ShortShip::Failed { .. }))
                    }
                };
                sum.gave_up += usize::from(failed);
            }
        }
        self.absorb(orders, saved, "Overstock's answer (reconciled from Overstock next run)", sum);
        let rejected: Vec<OrderNumber> = answers
            .iter()
            .filter(|(_, a)| {
                a.iter().any(|(t, o)| matches!((t, o), (Target::Package(_), Some(SendOutcome::Rejected(_)))))
            })
            .map(|(n, _)| n.clone())
            .collect();
        if stopped.is_none() && !rejected.is_empty() {
            self.read_after_rejection(company, account, orders, &rejected, sum).await?;
        }
        match stopped {
            None => Ok(()),
            Some(OverstockError::Unauthorized) => Err(Stop::Refused(OverstockError::Unauthorized.to_string())),
            Some(e) => {
                if !e.certainly_not_applied() {
                    warn!(error = %e, "shipment message outcome unknown; its lines are left for reconciliation");
                }
                Err(Stop::overstock(e, || "shipments".into()))
            }
        }
    }

    /// A rejected ship confirmation is read again before anything else is decided: Overstock
    /// may refuse it because the customer cancelled the line, which only Overstock's view of the
    /// order tells. The rejected orders are read (one `GET` per covering window) and Overstock's
    /// side applied (`Order::refresh_from_overstock`): a cancelled line's package is withdrawn,
    /// never retried, and the order is cancelled and flagged like the status sync does.
    async fn read_after_rejection(
        &self,
        company: &Company,
        account: &Account,
        orders: &mut BTreeMap<OrderNumber, Order>,
        rejected: &[OrderNumber],
        sum: &mut UploadSummary,
    ) -> Result<(), Stop> {
        let created: Vec<DateTime<Utc>> =
            rejected.iter().filter_map(|n| orders.get(n)?.overstock.sofs_created_date).collect();
        let mut views: BTreeMap<OrderNumber, SalesOrder> = BTreeMap::new();
        for window in covering_windows(&created, Duration::hours(1)) {
            let fetched = crate::job::fetch_complete(self.overstock, account, window).await?;
            views.extend(
                fetched
                    .orders
                    .into_iter()
                    .filter(|so| rejected.contains(&so.order_number))
                    .map(|so| (so.order_number.clone(), so)),
            );
        }
        let now = self.clock.now();
        let mut to_save = Vec::new();
        for (number, so) in &views {
            let Some(mut o) = orders.remove(number) else { continue };
            let (changed, cancelled) = o.refresh_from_overstock(so, now);
            if !cancelled.cancelled.is_empty() {
                warn!(order = %number, lines = ?cancelled.cancelled, "rejected because Overstock cancelled: not retried");
                sum.cancelled_by_overstock.push(crate::domain::cancellation::CancelledByOverstock {
                    order_number: number.to_string(),
                    lines: cancelled.cancelled.clone(),
                });
            }
            if changed {
                to_save.push(o);
            } else {
                orders.insert(number.clone(), o);
            }
        }
        if to_save.is_empty() {
            return Ok(());
        }
        let saved = save_orders(self.store, &company.company_id, to_save, |o| {
            views.get(&o.order_number).is_some_and(|so| o.refresh_from_overstock(so, now).0)
        })
        .await
        .map_err(Stop::from)?;
        self.absorb(orders, saved, "Overstock's view after a rejection", sum);
        Ok(())
    }

    /// Sends `items` and returns a verdict for each, and the error that stopped the sending.
    /// A message Overstock rejects whole (a 400 naming no element, which by the API doc applied
    /// nothing) is split in halves, and each half sent again, until the element that causes it
    /// stands alone: one bad element never fails the valid ones sent with it.
    async fn post_isolating(
        &self,
        account: &Account,
        items: &[ShipmentElement],
        sum: &mut UploadSummary,
    ) -> (Vec<ItemVerdict>, Option<OverstockError>) {
        let mut verdicts = vec![ItemVerdict::NotApplied; items.len()];
        let mut stack: Vec<std::ops::Range<usize>> = Vec::new();
        stack.push(0..items.len());
        let mut stopped = None;
        while let Some(range) = stack.pop() {
            if stopped.is_some() || range.is_empty() {
                continue;
            }
            sum.messages += 1;
            match self.overstock.post_shipments(account, &items[range.clone()]).await {
                Ok(rejected) => {
                    let named: HashMap<(&str, &str), &str> = rejected
                        .iter()
                        .map(|r| {
                            ((r.order_number.as_str(), r.line_number.as_deref().unwrap_or("")), r.message.as_str())
                        })
                        .collect();
                    for i in range {
                        let it = &items[i];
                        let m = named
                            .get(&(it.order_number(), it.line_number()))
                            .or_else(|| named.get(&(it.order_number(), "")));
                        verdicts[i] = ItemVerdict::Answered(match m {
                            Some(m) => SendOutcome::Rejected((*m).to_owned()),
                            None => SendOutcome::Accepted,
                        });
                    }
                }
                Err(OverstockError::MessageRejected(m)) if range.len() > 1 => {
                    info!(elements = range.len(), reason = %m, "overstock rejected a whole message; sending its halves to isolate the cause");
                    let mid = range.start + range.len() / 2;
                    stack.push(mid..range.end);
                    stack.push(range.start..mid);
                }
                Err(OverstockError::MessageRejected(m)) => {
                    verdicts[range.start] = ItemVerdict::Answered(SendOutcome::Rejected(m))
                }
                Err(e) => {
                    if !(e.certainly_not_applied() || matches!(e, OverstockError::Unauthorized)) {
                        for v in &mut verdicts[range] {
                            *v = ItemVerdict::Unknown;
                        }
                    }
                    stopped = Some(e);
                }
            }
        }
        (verdicts, stopped)
    }

    /// Settles package lines left `Sending` by an interrupted run, from Overstock's view of the
    /// order (a one-second window at its creation time), before anything is sent again.
    async fn reconcile(
        &self,
        company: &Company,
        account: &Account,
        orders: &mut BTreeMap<OrderNumber, Order>,
        sum: &mut UploadSummary,
    ) -> Result<(), Stop> {
        let interrupted: Vec<OrderNumber> = orders
            .values()
            .filter(|o| {
                o.shipments.iter().flat_map(|p| &p.lines).any(|l| matches!(l.upload, UploadState::Sending { .. }))
                    || o.cancellations
                        .iter()
                        .flat_map(|c| &c.lines)
                        .any(|l| matches!(l.short_ship, ShortShip::Sending { .. }))
            })
            .map(|o| o.order_number.clone())
            .collect();
        // One read per creation second (every page of it), not per order.
        let mut by_second: BTreeMap<DateTime<Utc>, Vec<OrderNumber>> = BTreeMap::new();
        for number in &interrupted {
            if let Some(t) = orders.get(number).and_then(|o| o.overstock.sofs_created_date) {
                by_second.entry(creation_second(t).start).or_default().push(number.clone());
            }
        }
        let mut views: HashMap<OrderNumber, Option<SalesOrder>> = HashMap::new();
        for (second, numbers) in by_second {
            let fetched = crate::job::fetch_complete(self.overstock, account, creation_second(second)).await.map_err(
                |e| match e {
                    Stop::Error(JobError::Overstock { source, .. }) => Stop::overstock(source, || {
                        format!("reconcile orders created at {}", crate::domain::utc_key(second))
                    }),
                    other => other,
                },
            )?;
            for n in numbers {
                match fetched.find(&n) {
                    Ok(view) => {
                        views.insert(n, view.cloned());
                    }
                    Err(u) => {
                        // Nothing can be decided from an unreadable copy: the lines stay
                        // `Sending` (never re-sent) and the next run reads it again.
                        warn!(order = %n, reason = %u.reason, "interrupted upload not reconciled: Overstock's copy does not parse");
                        sum.deferred
                            .push(format!("{n}: reconciliation waits, Overstock's copy does not parse: {}", u.reason));
                        orders.remove(&n);
                    }
                }
            }
        }
        let mut to_save = Vec::new();
        let mut settled_shorts: HashMap<OrderNumber, Vec<(ShortShipRef, ShortShip)>> = HashMap::new();
        for number in interrupted {
            let Some(mut o) = orders.remove(&number) else { continue };
            let now = self.clock.now();
            let Some(view) = views.remove(&number) else {
                // No creation date to read Overstock's copy by: the outcome cannot be known.
                let n = o.give_up_sending(OUTCOME_UNKNOWN_NO_DATE, now);
                warn!(order = %number, lines = n, "{OUTCOME_UNKNOWN_NO_DATE}");
                sum.gave_up += n;
                sum.reconciled += n;
                to_save.push(o);
                continue;
            };
            let shorts = o.reconcile_short_ships(view.as_ref(), now);
            for (_, state) in &shorts {
                info!(order = %number, state = ?state, "reconciled an interrupted short ship");
                sum.reconciled += 1;
                sum.short_ships += usize::from(matches!(state, ShortShip::Accepted { .. }));
            }
            settled_shorts.insert(number.clone(), shorts);
            let shipped_lines: HashSet<String> = view
                .iter()
                .flat_map(|so| &so.lines)
                .filter(|l| l.shipped_on_overstock())
                .map(|l| l.line_number.clone())
                .collect();
            let order_cancelled = view.as_ref().and_then(|so| so.status.clone()) == Some(OverstockStatus::Cancelled);
            let line_numbers: Vec<(String, u32)> =
                o.overstock.lines.iter().map(|l| (l.line_number.clone(), l.quantity)).collect();
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
        let saved = save_orders(self.store, &company.company_id, to_save, |o| {
            let shorts = settled_shorts.get(&o.order_number).is_some_and(|s| o.reapply_short_ships(s));
            reapply_settled(o, &settled) || shorts
        })
        .await?;
        self.absorb(orders, saved, "reconciliation", sum);
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

impl crate::services::fanout::Worked for UploadSummary {
    fn outcome(&self) -> &Outcome {
        &self.outcome
    }
}

/// The lines of one tracking-upload run.
pub fn metric_lines(
    run: &UploadRun,
    calls: crate::metrics::Calls<'_>,
    duration_ms: f64,
    at: DateTime<Utc>,
) -> Vec<String> {
    let companies = run.companies.iter().map(|c| {
        let m = vec![
            ("PackageLinesSent", crate::metrics::n(c.sent), "Count"),
            ("PackageLinesAccepted", crate::metrics::n(c.accepted), "Count"),
            ("PackageLinesRejected", crate::metrics::n(c.rejected), "Count"),
            ("UploadsFailed", crate::metrics::n(c.gave_up), "Count"),
            ("ShortShips", crate::metrics::n(c.short_ships), "Count"),
            ("PackageLinesHeld", crate::metrics::n(c.held), "Count"),
            ("CancelledByOverstock", crate::metrics::n(c.cancelled_by_overstock.len()), "Count"),
        ];
        (c.company_id.as_str(), m, c.outcome.metrics())
    });
    crate::metrics::run_lines("tracking-upload", companies, calls, duration_ms, at)
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
        Package {
            package_id: id.into(),
            tracking_number: "T".into(),
            carrier_code: None,
            ship_date: t,
            recorded_at: t,
            lines,
            send_after: None,
            sender_package_id: None,
            sender_content: None,
        }
    }

    #[test]
    fn an_answer_survives_a_concurrent_change_of_the_order() {
        let now = Utc::now();
        // What this run settled: P1 line 1 accepted.
        let ours = order(vec![package("P1", vec![pl("1", UploadState::Accepted { at: now })])]);
        let settled = settled_lines(std::slice::from_ref(&ours));
        // What is stored now: P1 still sending (our intent) and a package the warehouse added.
        let mut reloaded =
            order(vec![package("P1", vec![pl("1", UploadState::Sending { at: now })]), package("P2", vec![])]);
        assert!(reapply_settled(&mut reloaded, &settled));
        assert_eq!(reloaded.shipments[0].lines[0].upload, UploadState::Accepted { at: now });
        assert_eq!(reloaded.shipments.len(), 2, "the concurrent change is kept");
        assert_eq!(reloaded.local_status, crate::domain::order::LocalStatus::ShipConfirmed);
        assert!(!reapply_settled(&mut reloaded, &settled), "nothing left to apply");
    }

    mod straddling {
        use super::*;
        use crate::domain::SystemClock;
        use crate::domain::fixtures::{next_day_mapping, sales_order};
        use crate::domain::shipment::ShipmentRequest;
        use crate::fakes::{FakeOverstock, FixedCredentials, MemoryStore, WriteFault, company};

        /// 13 orders of 3 lines, the first line of every other order in two packages: 46
        /// package lines, sent 7 per message, so orders straddle message boundaries.
        fn shipped_orders(store: &MemoryStore, id: &crate::domain::CompanyId) -> usize {
            let now = Utc::now();
            let mut lines = 0;
            for i in 0..13 {
                let mut so = sales_order("ACKNOWLEDGED", "NEXT_DAY", &[("1", 2), ("2", 1), ("3", 1)]);
                so.order_number = OrderNumber::parse(&format!("S-{i:02}")).unwrap_or_else(|e| panic!("{e}"));
                let mut o = Order::from_download(id.clone(), so, &next_day_mapping("UPS Next Day Air"), false, now);
                let packages: Vec<Vec<(String, u32)>> = if i % 2 == 0 {
                    vec![vec![("1".into(), 1)], vec![("1".into(), 1), ("2".into(), 1), ("3".into(), 1)]]
                } else {
                    vec![vec![("1".into(), 2), ("2".into(), 1), ("3".into(), 1)]]
                };
                for (p, pl) in packages.into_iter().enumerate() {
                    lines += pl.len();
                    let req = ShipmentRequest {
                        lines: pl,
                        carrier_code: None,
                        shipping_method: None,
                        tracking_number: format!("1Z{i}P{p}"),
                        ship_date: now - Duration::minutes(5),
                    };
                    o.record_shipment(&req, &next_day_mapping("UPS Next Day Air"), now)
                        .unwrap_or_else(|e| panic!("{e}"));
                }
                store.insert_order(o);
            }
            lines
        }

        async fn run(faults: &[(usize, WriteFault)]) -> (MemoryStore, FakeOverstock, UploadSummary, usize) {
            run_with(faults, FakeOverstock::default()).await
        }

        async fn run_with(
            faults: &[(usize, WriteFault)],
            overstock: FakeOverstock,
        ) -> (MemoryStore, FakeOverstock, UploadSummary, usize) {
            let c = company("acme");
            let id = c.company_id.clone();
            let store = MemoryStore::with_company(c);
            let mapping = crate::domain::mapping::ShippingMethodMapping {
                code_to_receive: crate::domain::ServiceLevelCode::parse("NEXT_DAY").unwrap_or_else(|e| panic!("{e}")),
                shipping_method: "UPS Next Day Air".into(),
                code_to_send: "UPS".into(),
                rush: true,
            };
            store.put_mapping(&id, &mapping).await.unwrap_or_else(|e| panic!("{e}"));
            let lines = shipped_orders(&store, &id);
            store.faults.lock().unwrap_or_else(|p| p.into_inner()).extend(faults.iter().copied());
            let config = UploadConfig { batch: 7, ..UploadConfig::default() };
            let up = Uploader {
                store: &store,
                overstock: &overstock,
                credentials: &FixedCredentials,
                clock: &SystemClock,
                config,
            };
            let run = up.run("r1", Utc::now() + Duration::minutes(5)).await.unwrap_or_else(|e| panic!("{e}"));
            let sum = run.companies.into_iter().next().unwrap_or_else(|| panic!("one company"));
            (store, overstock, sum, lines)
        }

        fn assert_all_sent_once(store: &MemoryStore, overstock: &FakeOverstock, sum: &UploadSummary, lines: usize) {
            assert_eq!(sum.outcome, Outcome::Completed, "{sum:?}");
            assert_eq!((sum.sent, sum.accepted), (lines, lines), "{sum:?}");
            assert!(sum.deferred.is_empty(), "{sum:?}");
            let confirmed = overstock.confirmed();
            assert_eq!(confirmed.len(), lines, "every package line reached Overstock");
            assert!(confirmed.values().all(|n| *n == 1), "none twice: {confirmed:?}");
            for o in store.all_orders() {
                assert_eq!(o.local_status, LocalStatus::ShipConfirmed, "{}", o.order_number);
                assert!(
                    o.shipments.iter().flat_map(|p| &p.lines).all(|l| matches!(l.upload, UploadState::Accepted { .. }))
                );
            }
        }

        #[tokio::test]
        async fn every_line_is_sent_in_one_run_when_orders_straddle_messages() {
            let (store, overstock, sum, lines) = run(&[]).await;
            assert_eq!(lines, 46);
            assert!(overstock.shipments.lock().unwrap_or_else(|p| p.into_inner()).iter().all(|m| m.len() <= 7));
            assert_all_sent_once(&store, &overstock, &sum, lines);
        }

        /// A write applied but reported lost (a retried request whose first attempt
        /// went through) used to drop the order from the run, or leave a stale version that
        /// dropped it at the next message. Hit intent writes and answer writes alike.
        #[tokio::test]
        async fn a_write_reported_lost_after_it_was_applied_loses_nothing() {
            let faults: Vec<(usize, WriteFault)> =
                (1..60).step_by(3).map(|n| (n, WriteFault::AppliedButReportedLost)).collect();
            let (store, overstock, sum, lines) = run(&faults).await;
            assert_all_sent_once(&store, &overstock, &sum, lines);
        }

        #[tokio::test]
        async fn a_concurrent_writer_gets_the_intent_and_the_answer_reapplied() {
            let faults: Vec<(usize, WriteFault)> =
                (2..60).step_by(4).map(|n| (n, WriteFault::ConcurrentWriter)).collect();
            let (store, overstock, sum, lines) = run(&faults).await;
            assert_all_sent_once(&store, &overstock, &sum, lines);
        }

        #[tokio::test]
        async fn an_order_that_keeps_changing_is_named_and_left_for_the_next_run() {
            // Write 1 is S-00's intent (2 and 3 are S-01's and S-02's); 4, 5 and 6 are its
            // re-applications: every one loses to another writer.
            let faults: Vec<(usize, WriteFault)> = [1, 4, 5, 6].map(|n| (n, WriteFault::ConcurrentWriter)).to_vec();
            let (_, overstock, sum, lines) = run(&faults).await;
            assert_eq!(sum.deferred.len(), 1, "{sum:?}");
            assert!(sum.deferred[0].starts_with("S-00: upload intent not recorded"), "{sum:?}");
            let sent_for_s00 = overstock.confirmed().keys().filter(|(o, _, _)| o == "S-00").count();
            assert_eq!(sent_for_s00, 0, "nothing is sent without its intent recorded");
            assert_eq!(sum.sent, lines - 4, "{sum:?}");
        }

        /// One element Overstock cannot read makes it reject the whole message; the message is
        /// split until that element stands alone, and every other element is accepted.
        #[tokio::test]
        async fn a_whole_message_rejection_is_isolated_to_the_element_that_caused_it() {
            let overstock = FakeOverstock { poison_tracking: Some("1Z4P0".into()), ..FakeOverstock::default() };
            let (store, overstock, sum, lines) = run_with(&[], overstock).await;
            assert_eq!(sum.rejected, 1, "{sum:?}");
            assert_eq!(sum.accepted, lines - 1, "{sum:?}");
            assert_eq!(sum.rejections.len(), 1);
            assert!(sum.rejections[0].starts_with("S-04 line 1"), "{sum:?}");
            let confirmed = overstock.confirmed();
            assert_eq!(confirmed.len(), lines - 1);
            assert!(confirmed.values().all(|n| *n == 1));
            let rejected = overstock.rejected_messages.lock().unwrap_or_else(|p| p.into_inner()).clone();
            assert_eq!(rejected.last(), Some(&1), "down to the one element: {rejected:?}");
            let s04 = store
                .all_orders()
                .into_iter()
                .find(|o| o.order_number.as_str() == "S-04")
                .unwrap_or_else(|| panic!("S-04"));
            let pl = &s04.shipments[0].lines[0];
            assert_eq!(
                (pl.upload.clone(), pl.attempts),
                (UploadState::Pending, 1),
                "one attempt counted, for that element only"
            );
        }
    }
}
