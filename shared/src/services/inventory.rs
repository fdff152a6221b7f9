//! Inventory: the intake of counts, purchase orders and containers (queue and CSV), the push of
//! what changed to Overstock, and what a value means (`explain`, `pending`).
//!
//! Every product change goes through [`save_products`] (version-checked, the domain command
//! re-applied on the reloaded copy after a lost race), every value through
//! [`crate::domain::inventory::decide`].

use crate::audit::AuditStore;
use crate::credentials::CredentialsProvider;
use crate::domain::inventory::{
    Decision, Due, Intake, IntakeSource, InventoryValue, Product, RuleSettings, Sent, Sku, SupplySource,
    compare_inventory,
};
use crate::domain::settings::Company;
use crate::domain::{Clock, CompanyId, utc_key};
use crate::job::{Outcome, Stop, run_company};
use crate::overstock::inventory::{HeldElement, InventoryElement, MAX_ELEMENTS};
use crate::overstock::{Account, OverstockApi, OverstockError};
use crate::store::{CompanyStore, InventoryStore, StoreError, SyncStateStore};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use tracing::{info, warn};

pub const JOB: &str = "inventory-push";
/// The sync-state cursor of the last full comparison with `GET /inventory`.
pub const COMPARE_CURSOR: &str = "inventory-compare";
/// The sync-state cursor of the last run that decided every product again (after a change of
/// the company's settings: backorder information, containers, lead time, time zone).
pub const FULL_PASS_CURSOR: &str = "inventory-full-pass";

// ------------------------------------------------------------------------------------------
// The product write path

/// What [`save_products`] did.
#[derive(Debug, Default)]
pub struct SavedProducts {
    /// Every product as it now stands (written by us, or reloaded and needing nothing more).
    pub current: Vec<Product>,
    /// Products that kept changing underneath (left for the next run), with the reason.
    pub unsaved: Vec<(Sku, String)>,
}

const SAVE_ROUNDS: usize = 4;

/// The one product write path: each product written conditionally on its version; one that
/// changed underneath is reloaded and `reapply` (the same domain command) runs on the reloaded
/// copy (false: nothing left to write).
pub async fn save_products<S: InventoryStore>(
    store: &S,
    company: &CompanyId,
    products: Vec<Product>,
    reapply: impl Fn(&mut Product) -> bool,
) -> Result<SavedProducts, StoreError> {
    let mut out = SavedProducts::default();
    let mut pending = products;
    for _ in 0..SAVE_ROUNDS {
        if pending.is_empty() {
            return Ok(out);
        }
        let lost = store.put_products(&pending).await?;
        let mut lost_skus = Vec::new();
        for mut p in pending {
            if lost.contains(&p.sku) {
                lost_skus.push(p.sku);
            } else {
                p.version += 1;
                out.current.push(p);
            }
        }
        if lost_skus.is_empty() {
            return Ok(out);
        }
        let mut reloaded = store.get_products(company, &lost_skus).await?;
        pending = Vec::new();
        for sku in lost_skus {
            match reloaded.remove(&sku) {
                Some(mut p) => {
                    if reapply(&mut p) {
                        pending.push(p);
                    } else {
                        out.current.push(p);
                    }
                }
                // Created by us, then gone: nothing to re-apply on.
                None => out.unsaved.push((sku, "the product is no longer stored".into())),
            }
        }
    }
    out.unsaved.extend(
        pending.into_iter().map(|p| (p.sku, "the product kept changing underneath; left for the next run".into())),
    );
    Ok(out)
}

/// Loads `skus` (creating the missing ones), runs `command` on each and writes the changed ones.
async fn update_products<S: InventoryStore>(
    store: &S,
    company: &CompanyId,
    skus: &[Sku],
    now: DateTime<Utc>,
    command: impl Fn(&mut Product) -> bool,
) -> Result<(usize, SavedProducts), StoreError> {
    let mut loaded = store.get_products(company, skus).await?;
    let mut changed = Vec::new();
    for sku in skus {
        let mut p = loaded.remove(sku).unwrap_or_else(|| Product::new(company.clone(), sku.clone(), now));
        if command(&mut p) {
            changed.push(p);
        }
    }
    let n = changed.len();
    Ok((n, save_products(store, company, changed, command).await?))
}

// ------------------------------------------------------------------------------------------
// Intake

/// How an intake message ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntakeResult {
    /// Applied (or already applied / older: nothing to do). The text says which.
    Done(String),
    /// Cannot be processed at all (malformed, unknown company): kept on the DLQ with the reason.
    Unprocessable(String),
    /// May succeed later (DynamoDB unavailable, a product that kept changing).
    Retry(String),
}

/// Applies one parsed intake message.
pub async fn apply_intake<S: CompanyStore + InventoryStore>(
    store: &S,
    intake: Intake,
    now: DateTime<Utc>,
) -> Result<IntakeResult, StoreError> {
    let company = intake.company_id().clone();
    if store.get_company(&company).await?.is_none() {
        return Ok(IntakeResult::Unprocessable(format!("unknown company {company}")));
    }
    match intake {
        Intake::Count { sku, available, counted_at, .. } => {
            let (changed, saved) = update_products(store, &company, std::slice::from_ref(&sku), now, |p| {
                p.apply_count(available, counted_at, now)
            })
            .await?;
            if let Some((_, why)) = saved.unsaved.first() {
                return Ok(IntakeResult::Retry(format!("{sku}: {why}")));
            }
            Ok(IntakeResult::Done(if changed == 0 {
                format!("{sku}: a count as recent is already held; nothing changed")
            } else {
                format!("{sku}: available {available} as of {}", utc_key(counted_at))
            }))
        }
        Intake::Source(src) => apply_source(store, src, now).await,
    }
}

/// A purchase order or container: each of its products gets its line (a SKU that left it a
/// closed one), then the source is recorded. A crash in between is repaired by the redelivery
/// (product lines are ordered by the message time: applying them again changes nothing).
async fn apply_source<S: InventoryStore>(
    store: &S,
    src: IntakeSource,
    now: DateTime<Utc>,
) -> Result<IntakeResult, StoreError> {
    let previous = store.get_source(&src.company_id, src.kind, &src.id).await?;
    let name = format!("{} {}", src.kind.as_str(), src.id);
    if previous.as_ref().is_some_and(|p| p.updated_at >= src.updated_at) {
        return Ok(IntakeResult::Done(format!("{name}: a version as recent is already applied; nothing changed")));
    }
    let source = SupplySource {
        company_id: src.company_id.clone(),
        kind: src.kind,
        id: src.id.clone(),
        status: src.status,
        lines: src.lines,
        updated_at: src.updated_at,
        received_at: now,
    };
    let lines: HashMap<Sku, crate::domain::inventory::SupplyLine> =
        source.product_lines(previous.as_ref()).into_iter().collect();
    let skus: Vec<Sku> = lines.keys().cloned().collect();
    let at = source.updated_at;
    let (changed, saved) = update_products(store, &source.company_id, &skus, now, |p| {
        lines.get(&p.sku).is_some_and(|l| p.apply_supply(l.clone(), at, now))
    })
    .await?;
    if let Some((sku, why)) = saved.unsaved.first() {
        return Ok(IntakeResult::Retry(format!("{name}: {sku}: {why}")));
    }
    store.put_source(&source).await?;
    Ok(IntakeResult::Done(format!("{name}: {changed} product(s) changed")))
}

/// Where an unprocessable intake message is kept (the intake queue's DLQ): the same port as the
/// fan-out's workers use.
pub use crate::services::fanout::KeepFailed as DeadLetters;

/// The intake function's service: one message at a time, each product's writes version-checked.
pub struct IntakeService<'a, S, K> {
    pub store: &'a S,
    pub clock: &'a K,
}

impl<S: CompanyStore + InventoryStore, K: Clock> IntakeService<'_, S, K> {
    /// One message body.
    pub async fn handle_message(&self, body: &str) -> IntakeResult {
        let intake = match crate::domain::inventory::parse_intake(body, self.clock.now()) {
            Ok(i) => i,
            Err(r) => return IntakeResult::Unprocessable(format!("{}: {}", r.field, r.reason)),
        };
        let span = tracing::info_span!(
            "intake",
            company = %intake.company_id(),
            kind = intake.type_name(),
            subject = intake.subject()
        );
        let result = tracing::Instrument::instrument(apply_intake(self.store, intake, self.clock.now()), span).await;
        match result {
            Ok(r) => r,
            Err(e) if e.is_retryable() => IntakeResult::Retry(e.to_string()),
            Err(e) => IntakeResult::Unprocessable(format!("the records do not read back: {e}")),
        }
    }

    /// A batch: each message on its own (an item failure for what may succeed later; an
    /// unprocessable one kept on the DLQ with its reason, then deleted).
    pub async fn handle_batch(
        &self,
        dead_letters: &impl DeadLetters,
        event: aws_lambda_events::event::sqs::SqsEvent,
    ) -> aws_lambda_events::event::sqs::SqsBatchResponse {
        let mut response = aws_lambda_events::event::sqs::SqsBatchResponse::default();
        let (mut done, mut kept, mut retried) = (0usize, 0usize, 0usize);
        for m in event.records {
            let id = m.message_id.clone().unwrap_or_default();
            let body = m.body.as_deref().unwrap_or_default();
            let result = if body.is_empty() {
                IntakeResult::Unprocessable("message: no body".into())
            } else {
                self.handle_message(body).await
            };
            match result {
                IntakeResult::Done(detail) => {
                    done += 1;
                    info!(message_id = %id, detail = %detail, "intake applied");
                }
                IntakeResult::Unprocessable(reason) => {
                    warn!(message_id = %id, reason = %reason, "intake message rejected; kept on the dead-letter queue");
                    if let Err(e) = dead_letters.keep(body, &reason).await {
                        warn!(message_id = %id, error = %e, retryable = e.is_retryable(), "rejected message not kept; it comes back");
                        retried += 1;
                        response.add_failure(id);
                    } else {
                        kept += 1;
                    }
                }
                IntakeResult::Retry(reason) => {
                    warn!(message_id = %id, reason = %reason, "intake message left for a later delivery");
                    retried += 1;
                    response.add_failure(id);
                }
            }
        }
        info!(done, kept, retried, "intake batch finished");
        response
    }
}

// ------------------------------------------------------------------------------------------
// The push

#[derive(Debug, Clone)]
pub struct PushConfig {
    /// Refusals of one product's value before it is listed as failed.
    pub max_attempts: u32,
    /// How often each company's values are compared with `GET /inventory`.
    pub compare_every: Duration,
    /// No message is started when less than this is left before the deadline.
    pub deadline_margin: Duration,
    /// Companies worked on at once.
    pub concurrency: usize,
}

impl Default for PushConfig {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            compare_every: Duration::hours(24),
            deadline_margin: Duration::seconds(20),
            concurrency: 4,
        }
    }
}

impl PushConfig {
    /// `INVENTORY_MAX_ATTEMPTS` (1-20), `INVENTORY_COMPARE_HOURS` (1-168).
    pub fn from_env(env: &impl crate::config::Env) -> Result<Self, crate::config::ConfigError> {
        let d = Self::default();
        let hours = crate::config::number(env, "INVENTORY_COMPARE_HOURS", 24i64, 1..=168)?;
        Ok(Self {
            max_attempts: crate::config::number(env, "INVENTORY_MAX_ATTEMPTS", d.max_attempts, 1..=20)?,
            compare_every: Duration::hours(hours),
            ..d
        })
    }
}

/// The comparison with `GET /inventory` of one run.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Comparison {
    pub overstock_skus: usize,
    /// SKUs sent here that Overstock holds differently (or not at all): sent again.
    pub drift_repaired: Vec<String>,
    /// SKUs Overstock holds that are not products here (reported, nothing sent).
    pub unknown_here: Vec<String>,
}

/// One company's push.
#[derive(Debug, Clone, Serialize)]
pub struct PushSummary {
    pub company_id: String,
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Products due this run (changed inputs, a date reached, a refusal to retry; every product
    /// in a full pass).
    pub due: usize,
    /// Every product was decided again (the company's settings changed).
    pub full_pass: bool,
    /// Due products whose value is what Overstock already holds: nothing sent.
    pub unchanged: usize,
    pub sent: usize,
    pub accepted: usize,
    pub rejected: usize,
    /// Products refused too many times this run: listed, not sent again until an input changes.
    pub failed: Vec<String>,
    pub messages: usize,
    pub rejections: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compared: Option<Comparison>,
    pub errors: Vec<String>,
}

impl PushSummary {
    fn new(company_id: &str) -> Self {
        Self {
            company_id: company_id.to_owned(),
            outcome: Outcome::Completed,
            due: 0,
            full_pass: false,
            unchanged: 0,
            sent: 0,
            accepted: 0,
            rejected: 0,
            failed: Vec::new(),
            messages: 0,
            rejections: Vec::new(),
            compared: None,
            errors: Vec::new(),
        }
    }
}

/// The run over every company.
#[derive(Debug, Clone, Serialize)]
pub struct PushRun {
    pub run_id: String,
    pub started_at: String,
    pub finished_at: String,
    pub companies: Vec<PushSummary>,
}

impl<'a, S, O, C, K> crate::job::Ports<'a, S, O, C, K, PushConfig>
where
    S: CompanyStore + InventoryStore + SyncStateStore + AuditStore,
    O: OverstockApi,
    C: CredentialsProvider,
    K: Clock,
{
    pub async fn run(&self, run_id: &str, deadline: DateTime<Utc>) -> Result<PushRun, StoreError> {
        let started = self.clock.now();
        let rows = self.store.list_companies().await?;
        let companies = crate::job::for_each_company(
            rows,
            self.config.concurrency,
            |c| self.company(c, run_id, deadline),
            |bad| {
                let mut s = PushSummary::new(&bad.company_id);
                s.outcome = Outcome::Failed { error: bad.reason.clone(), retryable: false };
                s
            },
            |s| s.company_id.clone(),
        )
        .await;
        Ok(PushRun {
            run_id: run_id.to_owned(),
            started_at: utc_key(started),
            finished_at: utc_key(self.clock.now()),
            companies,
        })
    }

    /// One company's work item (a worker's unit): the same run a tick gives each company.
    pub async fn run_one(&self, id: &crate::domain::CompanyId, run_id: &str, deadline: DateTime<Utc>) -> PushSummary {
        crate::job::one_company(
            self.store,
            id,
            |c| self.company(c, run_id, deadline),
            |outcome| {
                let mut s = PushSummary::new(id.as_str());
                if let Outcome::Failed { error, .. } = &outcome {
                    s.errors.push(error.clone());
                }
                s.outcome = outcome;
                s
            },
        )
        .await
    }

    async fn company(&self, company: Company, run_id: &str, deadline: DateTime<Utc>) -> PushSummary {
        let mut sum = PushSummary::new(company.company_id.as_str());
        let mut errors = Vec::new();
        sum.outcome = run_company(
            self.store,
            self.credentials,
            self.clock,
            &company,
            company.inventory_eligibility(self.clock.now()),
            JOB,
            run_id,
            deadline,
            &mut errors,
            |account, _| self.locked(&company, account, deadline, &mut sum),
        )
        .await;
        sum.errors.extend(errors);
        sum
    }

    async fn locked(
        &self,
        company: &Company,
        account: Account,
        deadline: DateTime<Utc>,
        sum: &mut PushSummary,
    ) -> Result<(), Stop> {
        let id = &company.company_id;
        let now = self.clock.now();
        let last = self.store.get_cursor(id, COMPARE_CURSOR).await?;
        if last.is_none_or(|t| now - t >= self.config.compare_every) {
            sum.compared = Some(self.compare(company, &account).await?);
            self.store.set_cursor(id, COMPARE_CURSOR, now).await?;
        }
        let rules = RuleSettings::of(company, self.clock.now());
        // The company's settings changed since every product was last decided: a value may
        // change although none of its inputs did, so every product is decided again, once.
        let full_pass = self.store.get_cursor(id, FULL_PASS_CURSOR).await?.is_none_or(|t| company.updated_at > t);
        let due = if full_pass {
            info!("settings changed since the last full pass: every product is decided again");
            self.store.list_products(id).await?
        } else {
            self.store.list_due_products(id, rules.today).await?
        };
        sum.due = due.len();
        sum.full_pass = full_pass;
        let mut resting = Vec::new();
        let mut to_send: Vec<(Product, InventoryValue)> = Vec::new();
        for mut p in due {
            match p.to_send(rules) {
                Some(v) => to_send.push((p, v)),
                None => {
                    if p.rejection.as_ref().is_some_and(|r| r.message == crate::domain::inventory::ON_ORDER_TOO_LARGE) {
                        warn!(sku = %p.sku, "inventory value not sent: {}", crate::domain::inventory::ON_ORDER_TOO_LARGE);
                        sum.rejections.push(format!("{}: {}", p.sku, crate::domain::inventory::ON_ORDER_TOO_LARGE));
                    }
                    resting.push(p)
                }
            }
        }
        sum.unchanged = resting.len();
        let rest = |p: &mut Product| {
            let before = p.due;
            p.to_send(rules).is_none() && p.due != before
        };
        let saved = save_products(self.store, id, resting, rest).await?;
        note_unsaved(&saved, sum);
        for chunk in to_send.chunks(MAX_ELEMENTS) {
            if self.clock.now() + self.config.deadline_margin > deadline {
                info!(left = to_send.len() - sum.sent, "deadline near; the rest goes next run");
                return Err(Stop::Deadline);
            }
            self.send(company, &account, chunk, rules, sum).await?;
        }
        if full_pass {
            self.store.set_cursor(id, FULL_PASS_CURSOR, now).await?;
        }
        Ok(())
    }

    /// One message of at most 500 elements, and what Overstock answered, recorded per product.
    async fn send(
        &self,
        company: &Company,
        account: &Account,
        chunk: &[(Product, InventoryValue)],
        rules: RuleSettings,
        sum: &mut PushSummary,
    ) -> Result<(), Stop> {
        let id = &company.company_id;
        let elements: Vec<InventoryElement> = chunk
            .iter()
            .map(|(p, v)| InventoryElement {
                sku: p.sku.clone(),
                warehouse_code: company.settings.warehouse_code.clone(),
                value: v.clone(),
            })
            .collect();
        sum.messages += 1;
        sum.sent += elements.len();
        let refused: HashMap<String, String> = match self.overstock.post_inventory(account, &elements).await {
            Ok(rejected) => rejected.into_iter().filter_map(|r| r.sku.map(|s| (s, r.message))).collect(),
            // The whole message refused: every element counts a refusal (it will not pass as is).
            Err(OverstockError::MessageRejected(m)) => {
                elements.iter().map(|e| (e.sku.to_string(), format!("message refused: {m}"))).collect()
            }
            Err(e) => {
                // Maybe applied: the products stay due and the same values go again next run
                // (an inventory value is absolute: sending it twice changes nothing).
                return Err(Stop::overstock(e, || "inventory not confirmed by Overstock".into()));
            }
        };
        let now = self.clock.now();
        let max = self.config.max_attempts;
        let values: HashMap<Sku, InventoryValue> = chunk.iter().map(|(p, v)| (p.sku.clone(), v.clone())).collect();
        let answer = |p: &mut Product| match (values.get(&p.sku), refused.get(p.sku.as_str())) {
            (Some(_), Some(m)) => p.record_rejected(m, now, max),
            (Some(v), None) => p.record_accepted(v, now, rules),
            (None, _) => false,
        };
        let mut products: Vec<Product> = chunk.iter().map(|(p, _)| p.clone()).collect();
        for p in &mut products {
            answer(p);
        }
        for p in &products {
            match refused.get(p.sku.as_str()) {
                Some(m) => {
                    sum.rejected += 1;
                    sum.rejections.push(format!("{}: {m}", p.sku));
                    if p.is_failed() {
                        warn!(sku = %p.sku, overstock_message = %m, "inventory value refused too many times: listed as failed");
                        sum.failed.push(p.sku.to_string());
                    }
                }
                None => sum.accepted += 1,
            }
        }
        let saved = save_products(self.store, id, products, answer).await?;
        note_unsaved(&saved, sum);
        Ok(())
    }

    /// Compares what Overstock holds with what was last accepted here; a SKU that differs (or
    /// that Overstock lost) is sent again this run.
    async fn compare(&self, company: &Company, account: &Account) -> Result<Comparison, Stop> {
        let id = &company.company_id;
        let held = self
            .overstock
            .fetch_inventory(account)
            .await
            .map_err(|e| Stop::overstock(e, || "reading GET /inventory".into()))?;
        let products = self.store.list_products(id).await?;
        let (findings, overstock_skus) = inventory_findings(&products, &held);
        let mut out = Comparison { overstock_skus, ..Comparison::default() };
        for f in &findings {
            if f.known_here {
                warn!(sku = %f.sku, here = ?f.here, there = ?f.there, "Overstock holds another value: sent again");
                out.drift_repaired.push(f.sku.clone());
            } else {
                out.unknown_here.push(f.sku.clone());
            }
        }
        resend_drifted(self.store, id, products, &findings, self.clock.now()).await?;
        Ok(out)
    }
}

/// Marks the products of `findings` known here to be sent again (`Product::record_drift`): the
/// one repair of inventory drift, used by the push's comparison and by `reconcile --repair`.
pub async fn resend_drifted<S: InventoryStore>(
    store: &S,
    company: &CompanyId,
    products: Vec<Product>,
    findings: &[crate::domain::inventory::InventoryDrift],
    now: DateTime<Utc>,
) -> Result<SavedProducts, StoreError> {
    let skus: Vec<Sku> = findings.iter().filter(|f| f.known_here).filter_map(|f| Sku::parse(&f.sku).ok()).collect();
    let marked: Vec<Product> = products
        .into_iter()
        .filter(|p| skus.contains(&p.sku))
        .map(|mut p| {
            p.record_drift(now);
            p
        })
        .collect();
    save_products(store, company, marked, |p| skus.contains(&p.sku) && p.sent.is_some() && p.record_drift(now)).await
}

/// What differs between the products here and what `GET /inventory` returned, and how many SKUs
/// Overstock holds (one rule for the push's comparison and the reconciliation).
pub fn inventory_findings(
    products: &[Product],
    held: &[HeldElement],
) -> (Vec<crate::domain::inventory::InventoryDrift>, usize) {
    let here: BTreeMap<String, Option<String>> =
        products.iter().map(|p| (p.sku.to_string(), p.sent.as_ref().map(|s| s.value.digest()))).collect();
    let there: BTreeMap<String, String> = held
        .iter()
        .map(|h| match h {
            HeldElement::Read(e) => (e.sku.to_string(), e.value.digest()),
            HeldElement::Unreadable { sku, reason } => (sku.clone(), format!("unreadable: {reason}")),
        })
        .collect();
    let n = there.len();
    (compare_inventory(&here, &there), n)
}

fn note_unsaved(saved: &SavedProducts, sum: &mut PushSummary) {
    for (sku, why) in &saved.unsaved {
        sum.errors.push(format!("{sku}: {why}"));
    }
}

// ------------------------------------------------------------------------------------------
// Explaining

/// Everything behind one product's value.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub company_id: String,
    pub sku: String,
    pub today: String,
    pub time_zone: String,
    pub lead_time_months: u32,
    pub send_backorder_info: bool,
    pub shipping_containers_for_po: bool,
    pub inventory_upload: bool,
    pub available: Option<i64>,
    pub counted_at: Option<String>,
    /// `None` while no count has arrived (nothing is sent).
    pub decision: Option<Decision>,
    pub last_accepted: Option<Sent>,
    /// The next run sends the decision's value.
    pub would_send: bool,
    pub due: Due,
    pub rejection: Option<crate::domain::inventory::InventoryRejection>,
}

/// Explains `sku` of `company` at `now`; `None` when no such product.
pub async fn explain<S: InventoryStore>(
    store: &S,
    company: &Company,
    sku: &Sku,
    now: DateTime<Utc>,
) -> Result<Option<Explanation>, StoreError> {
    let Some(p) = store.get_products(&company.company_id, std::slice::from_ref(sku)).await?.remove(sku) else {
        return Ok(None);
    };
    let rules = RuleSettings::of(company, now);
    let decision = p.decide(rules);
    let would_send = decision.as_ref().is_some_and(|d| p.sent.as_ref().is_none_or(|s| s.value != d.value))
        && !p.is_failed()
        && company.settings.inventory_upload;
    Ok(Some(Explanation {
        company_id: company.company_id.to_string(),
        sku: sku.to_string(),
        today: rules.today.to_string(),
        time_zone: company.settings.time_zone.to_string(),
        lead_time_months: rules.lead_time_months,
        send_backorder_info: rules.send_backorder,
        shipping_containers_for_po: rules.use_containers,
        inventory_upload: company.settings.inventory_upload,
        available: p.available,
        counted_at: p.counted_at.map(utc_key),
        decision,
        last_accepted: p.sent.clone(),
        would_send,
        due: p.due,
        rejection: p.rejection.clone(),
    }))
}

/// What the next run will send for `company` (due products whose value differs from what
/// Overstock last accepted), by SKU, with the rule that decided each.
pub async fn pending<S: InventoryStore + SyncStateStore>(
    store: &S,
    company: &Company,
    now: DateTime<Utc>,
) -> Result<Vec<(Sku, InventoryValue, crate::domain::inventory::Rule)>, StoreError> {
    let id = &company.company_id;
    let rules = RuleSettings::of(company, now);
    let full_pass = store.get_cursor(id, FULL_PASS_CURSOR).await?.is_none_or(|t| company.updated_at > t);
    let candidates =
        if full_pass { store.list_products(id).await? } else { store.list_due_products(id, rules.today).await? };
    let mut out = Vec::new();
    for p in candidates.into_iter().filter(|p| full_pass || !p.is_failed()) {
        let Some(d) = p.decide(rules) else { continue };
        if p.sent.as_ref().is_none_or(|s| s.value != d.value) {
            out.push((p.sku.clone(), d.value, d.rule));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

impl crate::services::fanout::Worked for PushSummary {
    fn outcome(&self) -> &Outcome {
        &self.outcome
    }
}

/// The lines of one inventory-push run: per company, the products due, sent, accepted, refused,
/// failed and the drift the comparison repaired.
pub fn metric_lines(
    run: &PushRun,
    calls: crate::metrics::Calls<'_>,
    duration_ms: f64,
    at: DateTime<Utc>,
) -> Vec<String> {
    let companies = run.companies.iter().map(|c| {
        let m = vec![
            ("InventoryDue", crate::metrics::n(c.due), "Count"),
            ("InventoryUnchanged", crate::metrics::n(c.unchanged), "Count"),
            ("InventorySent", crate::metrics::n(c.sent), "Count"),
            ("InventoryAccepted", crate::metrics::n(c.accepted), "Count"),
            ("InventoryRejected", crate::metrics::n(c.rejected), "Count"),
            ("InventoryFailed", crate::metrics::n(c.failed.len()), "Count"),
            (
                "InventoryDriftRepaired",
                crate::metrics::n(c.compared.as_ref().map_or(0, |x| x.drift_repaired.len())),
                "Count",
            ),
        ];
        (c.company_id.as_str(), m, c.outcome.metrics())
    });
    crate::metrics::run_lines("inventory-push", companies, calls, duration_ms, at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::inventory::{SourceLine, SupplyKind, SupplyStatus};
    use crate::fakes::{FakeOverstock, FixedCredentials, MemoryStore, lock};

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).unwrap_or_else(|e| panic!("{e}"))
    }

    fn sku(s: &str) -> Sku {
        Sku::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    struct At(DateTime<Utc>);
    impl Clock for At {
        fn now(&self) -> DateTime<Utc> {
            self.0
        }
    }

    fn world() -> (MemoryStore, Company) {
        let mut c = crate::fakes::company("acme");
        c.settings.inventory_upload = true;
        c.settings.send_backorder_info = true;
        c.updated_at = t("2026-11-27T00:00:00Z");
        (MemoryStore::with_company(c.clone()), c)
    }

    async fn count(store: &MemoryStore, c: &Company, s: &str, available: i64, at: &str) {
        let r = apply_intake(
            store,
            Intake::Count { company_id: c.company_id.clone(), sku: sku(s), available, counted_at: t(at) },
            t(at),
        )
        .await;
        assert!(matches!(r, Ok(IntakeResult::Done(_))), "{r:?}");
    }

    async fn po(
        store: &MemoryStore,
        c: &Company,
        id: &str,
        lines: &[(&str, u32, Option<&str>)],
        at: &str,
    ) -> IntakeResult {
        let src = IntakeSource {
            company_id: c.company_id.clone(),
            kind: SupplyKind::PurchaseOrder,
            id: id.into(),
            status: SupplyStatus::Open,
            lines: lines
                .iter()
                .map(|(s, q, d)| SourceLine {
                    sku: sku(s),
                    quantity: *q,
                    expected: d
                        .map(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap_or_else(|e| panic!("{e}"))),
                })
                .collect(),
            updated_at: t(at),
        };
        apply_intake(store, Intake::Source(src), t(at)).await.unwrap_or_else(|e| panic!("{e}"))
    }

    async fn push(store: &MemoryStore, api: &FakeOverstock, at: &str) -> PushSummary {
        let ports = crate::job::Ports {
            store,
            overstock: api,
            credentials: &FixedCredentials,
            clock: &At(t(at)),
            config: PushConfig { max_attempts: 2, ..PushConfig::default() },
        };
        let run = ports.run("r", t(at) + Duration::minutes(5)).await.unwrap_or_else(|e| panic!("{e}"));
        run.companies.into_iter().next().unwrap_or_else(|| panic!("one company"))
    }

    #[tokio::test]
    async fn only_what_changed_is_sent_and_a_po_change_resends_its_product() {
        let (store, c) = world();
        let api = FakeOverstock::default();
        count(&store, &c, "A", 5, "2026-11-27T10:00:00Z").await;
        count(&store, &c, "B", 0, "2026-11-27T10:00:00Z").await;
        po(&store, &c, "PO-1", &[("B", 40, Some("2027-01-15"))], "2026-11-27T10:00:00Z").await;
        let first = push(&store, &api, "2026-11-27T11:00:00Z").await;
        assert_eq!((first.sent, first.accepted, first.messages), (2, 2, 1), "{first:?}");
        let second = push(&store, &api, "2026-11-27T11:05:00Z").await;
        assert_eq!((second.due, second.sent, second.messages), (0, 0, 0), "nothing changed: {second:?}");
        // The PO changes; B's own count does not.
        po(&store, &c, "PO-1", &[("B", 50, Some("2027-01-15"))], "2026-11-27T11:06:00Z").await;
        let third = push(&store, &api, "2026-11-27T11:10:00Z").await;
        assert_eq!(third.sent, 1);
        let posts = lock(&api.inventory_posts);
        assert_eq!(posts.len(), 2);
        assert_eq!(posts[1][0].sku.as_str(), "B");
        assert_eq!(posts[1][0].value.digest(), "q=0;bo=50@2027-01-15");
    }

    #[tokio::test]
    async fn an_older_po_message_changes_nothing_and_a_sku_leaving_a_po_is_closed() {
        let (store, c) = world();
        count(&store, &c, "B", 0, "2026-11-27T10:00:00Z").await;
        po(&store, &c, "PO-1", &[("B", 40, None), ("C", 3, None)], "2026-11-27T10:00:00Z").await;
        let older = po(&store, &c, "PO-1", &[("B", 1, None)], "2026-11-27T09:00:00Z").await;
        assert!(matches!(&older, IntakeResult::Done(d) if d.contains("already applied")), "{older:?}");
        let again = po(&store, &c, "PO-1", &[("B", 40, None), ("C", 3, None)], "2026-11-27T10:00:00Z").await;
        assert!(matches!(&again, IntakeResult::Done(d) if d.contains("nothing changed")), "{again:?}");
        po(&store, &c, "PO-1", &[("B", 40, None)], "2026-11-27T12:00:00Z").await;
        let products = lock(&store.products);
        let c_line = &products[&(c.company_id.clone(), sku("C"))].supply["PO#PO-1"].line;
        assert_eq!((c_line.quantity, c_line.status), (0, SupplyStatus::Cancelled));
    }

    #[tokio::test]
    async fn refusals_are_retried_then_failed_and_no_change_costs_no_post() {
        let (store, c) = world();
        let api = FakeOverstock::default();
        lock(&api.reject_skus).push("BAD".into());
        count(&store, &c, "BAD", 1, "2026-11-27T10:00:00Z").await;
        count(&store, &c, "OK", 1, "2026-11-27T10:00:00Z").await;
        let first = push(&store, &api, "2026-11-27T11:00:00Z").await;
        assert_eq!((first.accepted, first.rejected, first.failed.len()), (1, 1, 0), "{first:?}");
        let second = push(&store, &api, "2026-11-27T11:05:00Z").await;
        assert_eq!((second.sent, second.rejected, second.failed.clone()), (1, 1, vec!["BAD".to_owned()]));
        let third = push(&store, &api, "2026-11-27T11:10:00Z").await;
        assert_eq!((third.due, third.sent), (0, 0), "failed: not sent again");
        assert_eq!(lock(&api.inventory_posts).len(), 2);
    }

    #[tokio::test]
    async fn the_comparison_resends_what_overstock_lost_or_changed() {
        let (store, c) = world();
        let api = FakeOverstock::default();
        count(&store, &c, "A", 5, "2026-11-27T10:00:00Z").await;
        count(&store, &c, "B", 6, "2026-11-27T10:00:00Z").await;
        push(&store, &api, "2026-11-27T11:00:00Z").await;
        lock(&api.inventory_held).remove("A");
        if let Some(b) = lock(&api.inventory_held).get_mut("B") {
            b.value.quantity = 99;
        }
        let next_day = push(&store, &api, "2026-11-28T11:01:00Z").await;
        let compared = next_day.compared.clone().unwrap_or_default();
        assert_eq!(compared.drift_repaired, ["A", "B"], "{next_day:?}");
        assert_eq!(next_day.sent, 2);
        assert_eq!(lock(&api.inventory_held)["B"].value.quantity, 6);
    }

    #[tokio::test]
    async fn a_settings_change_decides_every_product_again_once() {
        let (store, c) = world();
        let api = FakeOverstock::default();
        count(&store, &c, "A", 0, "2026-11-27T10:00:00Z").await;
        po(&store, &c, "PO-1", &[("A", 4, None)], "2026-11-27T10:00:00Z").await;
        count(&store, &c, "B", 3, "2026-11-27T10:00:00Z").await;
        let first = push(&store, &api, "2026-11-27T11:00:00Z").await;
        assert_eq!((first.full_pass, first.sent), (true, 2));
        let quiet = push(&store, &api, "2026-11-27T11:05:00Z").await;
        assert_eq!((quiet.full_pass, quiet.due), (false, 0));
        // Backorder information off: A's value changes although none of its inputs did.
        {
            let mut companies = lock(&store.companies);
            let stored = companies.get_mut(&c.company_id).unwrap_or_else(|| panic!("company"));
            stored.settings.send_backorder_info = false;
            stored.updated_at = t("2026-11-27T11:06:00Z");
        }
        let after = push(&store, &api, "2026-11-27T11:10:00Z").await;
        assert_eq!((after.full_pass, after.due, after.sent, after.unchanged), (true, 2, 1, 1), "{after:?}");
        assert_eq!(lock(&api.inventory_held)["A"].value.digest(), "q=0");
        let settled = push(&store, &api, "2026-11-27T11:15:00Z").await;
        assert_eq!((settled.full_pass, settled.due), (false, 0));
    }

    #[tokio::test]
    async fn five_hundred_elements_per_message_at_most() {
        let (store, c) = world();
        let api = FakeOverstock::default();
        for i in 0..1203 {
            count(&store, &c, &format!("S-{i:04}"), 1, "2026-11-27T10:00:00Z").await;
        }
        let run = push(&store, &api, "2026-11-27T11:00:00Z").await;
        assert_eq!((run.sent, run.messages), (1203, 3));
        let sizes: Vec<usize> = lock(&api.inventory_posts).iter().map(Vec::len).collect();
        assert_eq!(sizes, [500, 500, 203]);
    }
}
