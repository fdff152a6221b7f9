//! Per-company work over SQS: the dispatcher and its ports.
//!
//! A flow's scheduled tick lists the companies that flow serves and puts one [`WorkItem`] per
//! company on the flow's work queue; a worker (SQS-triggered) runs one company's work in the
//! job frame and lease every flow already uses. Lambda's concurrency is the fan-out. So that a
//! slow company's queue never fills with copies of itself, a company's item is dispatched only
//! when its previous one finished (or is older than `in_flight_for`: a lost message, a worker
//! that died): a conditional write per company and tick ([`DispatchStore`]).
//!
//! The ports are defined here, where their users live; the SQS adapter (`queue::SqsWorkQueue`)
//! and the stores implement them.

use crate::domain::work::{Flow, WorkItem};
use crate::domain::{Clock, CompanyId, utc_key};
use crate::store::{CompanyStore, StoreError, StoreResult};
use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;
use serde::Serialize;
use std::future::Future;
use tracing::{info, warn};

/// Where a flow's work items go.
pub trait WorkQueue: Send + Sync {
    /// Puts `items` on `flow`'s work queue. `Ok` lists the companies whose item was not taken
    /// (each with why); every other item is on the queue.
    fn enqueue(
        &self,
        flow: Flow,
        items: &[WorkItem],
    ) -> impl Future<Output = Result<Vec<(CompanyId, String)>, super::SendError>> + Send;
}

/// Which companies' work is in flight.
pub trait DispatchStore: Send + Sync {
    /// Marks `company`'s `flow` dispatched at `at`, unless an earlier dispatch is still in
    /// flight: dispatched at or after `stale_before` and not finished since. True when marked.
    fn mark_dispatched(
        &self,
        company: &CompanyId,
        flow: Flow,
        at: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// The company's work for the flow is over (whatever its outcome, or it was never sent):
    /// the next tick may dispatch it again.
    fn mark_finished(
        &self,
        company: &CompanyId,
        flow: Flow,
        at: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}

/// A flow's last run for one company, as its job item records it (read-only: the console's
/// health at a glance).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FlowRun {
    pub dispatched_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub lease_until: Option<DateTime<Utc>>,
}

/// What a [`FlowRun`] says, in the operator's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    /// No run recorded.
    Never,
    /// A run holds the lease now.
    Running,
    /// The last run ended (whatever each order's outcome: those are on the order pages).
    Finished,
    /// Dispatched, not finished, no run holds the lease: the worker died or timed out; the next
    /// tick dispatches it again once it counts as stale.
    Unfinished,
}

impl FlowRun {
    pub fn state(&self, now: DateTime<Utc>) -> RunState {
        if self.lease_until.is_some_and(|u| u > now) {
            return RunState::Running;
        }
        match (self.dispatched_at, self.finished_at) {
            (None, None) => RunState::Never,
            (Some(d), Some(f)) if f < d => RunState::Unfinished,
            (Some(_), None) => RunState::Unfinished,
            _ => RunState::Finished,
        }
    }
}

/// Tunables of the dispatcher.
#[derive(Debug, Clone)]
pub struct DispatchConfig {
    /// How long a dispatched item counts as in flight without finishing (then it is dispatched
    /// again): beyond a worker's timeout times the queue's deliveries.
    pub in_flight_for: Duration,
    /// Conditional writes at once.
    pub concurrency: usize,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        Self { in_flight_for: Duration::minutes(15), concurrency: 32 }
    }
}

/// What one tick's dispatch did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DispatchSummary {
    pub flow: &'static str,
    pub tick: String,
    /// Companies listed.
    pub companies: usize,
    /// Items put on the work queue.
    pub dispatched: usize,
    /// Companies whose previous item is still in flight (not given a second copy).
    pub in_flight: Vec<String>,
    /// Companies the flow does not serve now, each with why (a setting off, credentials).
    pub not_served: Vec<String>,
    /// Companies whose item could not be put on the queue or marked (tried again next tick).
    pub errors: Vec<String>,
}

/// Whether `flow` serves `company` now (the same rule as the flow's own run).
pub fn served(flow: Flow, company: &crate::domain::settings::Company, now: DateTime<Utc>) -> Result<(), String> {
    match flow {
        Flow::Download | Flow::Reconcile => company.download_eligibility(now),
        Flow::Upload => company.upload_eligibility(now),
        Flow::Inventory => company.inventory_eligibility(now),
    }
    .map_err(|r| r.to_string())
}

/// The order in which one tick's items go on the queue: rotated by the tick (one place further
/// each minute), so that no company is always first in line behind a queue's concurrency bound.
pub fn rotated<T>(mut items: Vec<T>, tick: DateTime<Utc>) -> Vec<T> {
    if !items.is_empty() {
        let minutes = usize::try_from(tick.timestamp().div_euclid(60)).unwrap_or_default();
        let n = items.len();
        items.rotate_left(minutes % n);
    }
    items
}

/// The dispatcher of one flow.
pub struct Dispatcher<'a, S, Q, K> {
    pub store: &'a S,
    pub queue: &'a Q,
    pub clock: &'a K,
    pub config: DispatchConfig,
}

impl<S, Q, K> Dispatcher<'_, S, Q, K>
where
    S: CompanyStore + DispatchStore,
    Q: WorkQueue,
    K: Clock,
{
    /// One tick: every company the flow serves and whose previous item finished gets one item.
    /// Fails only when the company list cannot be read.
    pub async fn dispatch(&self, flow: Flow, tick: DateTime<Utc>) -> Result<DispatchSummary, StoreError> {
        let rows = self.store.list_companies().await?;
        let now = self.clock.now();
        let mut sum = DispatchSummary {
            flow: flow.as_str(),
            tick: utc_key(tick),
            companies: rows.len(),
            dispatched: 0,
            in_flight: Vec::new(),
            not_served: Vec::new(),
            errors: Vec::new(),
        };
        let mut wanted = Vec::new();
        for row in rows {
            match row {
                Ok(c) => match served(flow, &c, now) {
                    Ok(()) => wanted.push(c.company_id),
                    Err(why) => sum.not_served.push(format!("{}: {why}", c.company_id)),
                },
                Err(bad) => sum.errors.push(format!("{}: {}", bad.company_id, bad.reason)),
            }
        }
        let stale_before = now - self.config.in_flight_for;
        let marked: Vec<(CompanyId, StoreResult<bool>)> = futures::stream::iter(wanted)
            .map(|id| async move {
                // Marked with the dispatcher's own time (a tick's `time` may be an old example's).
                let r = self.store.mark_dispatched(&id, flow, now, stale_before).await;
                (id, r)
            })
            .buffer_unordered(self.config.concurrency.max(1))
            .collect()
            .await;
        let mut items = Vec::new();
        for (id, r) in marked {
            match r {
                Ok(true) => items.push(WorkItem { flow, company_id: id, tick }),
                Ok(false) => sum.in_flight.push(id.to_string()),
                Err(e) => sum.errors.push(format!("{id}: {e}")),
            }
        }
        items.sort_by(|a, b| a.company_id.cmp(&b.company_id));
        let items = rotated(items, tick);
        let refused = match self.queue.enqueue(flow, &items).await {
            Ok(refused) => refused,
            Err(e) => items.iter().map(|i| (i.company_id.clone(), e.to_string())).collect(),
        };
        for (id, why) in &refused {
            // Not on the queue: free for the next tick.
            if let Err(e) = self.store.mark_finished(id, flow, now).await {
                warn!(company = %id, error = %e, "work item neither sent nor freed; dispatched again once stale");
            }
            sum.errors.push(format!("{id}: not queued: {why}"));
        }
        sum.dispatched = items.len() - refused.len();
        sum.in_flight.sort();
        info!(
            flow = flow.as_str(),
            companies = sum.companies,
            dispatched = sum.dispatched,
            in_flight = sum.in_flight.len(),
            not_served = sum.not_served.len(),
            errors = sum.errors.len(),
            "dispatch finished"
        );
        Ok(sum)
    }
}

/// A worker's result for one item: the company and how its run ended.
pub trait Worked {
    fn outcome(&self) -> &crate::job::Outcome;

    /// The run's release already marked the dispatch finished (`JobRelease::finished_at`, the
    /// job frame's: a run that took the lease and ended without a failure), so the worker
    /// writes nothing more. Flows whose runs do not go through the job frame say false.
    fn finish_recorded(&self) -> bool {
        use crate::job::Outcome;
        matches!(
            self.outcome(),
            Outcome::Completed
                | Outcome::StoppedAtDeadline
                | Outcome::CredentialsRefused { .. }
                | Outcome::CredentialsFailed { .. }
        )
    }
}

/// What a worker does with an item once its run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterRun {
    /// Done (completed, stopped at its deadline, skipped, busy, credentials refused): deleted,
    /// and the company is free for the next tick.
    Finished,
    /// A failure that may pass: the message comes back after the visibility timeout (the company
    /// stays in flight, so the dispatcher adds no copy); after the queue's `maxReceiveCount` SQS
    /// moves it to the DLQ.
    Retry,
    /// A failure that will repeat until someone acts: kept on the DLQ with the reason at once;
    /// the company stays in flight until stale (then dispatched again, in case it was fixed).
    Keep,
}

/// The rule for an item whose run ended with `outcome`.
pub fn after_run(outcome: &crate::job::Outcome) -> AfterRun {
    use crate::job::Outcome;
    match outcome {
        Outcome::Failed { retryable: true, .. } => AfterRun::Retry,
        Outcome::Failed { retryable: false, .. } => AfterRun::Keep,
        _ => AfterRun::Finished,
    }
}

/// Where a worker keeps what it cannot process (its work queue's DLQ, with the reason).
pub trait KeepFailed: Send + Sync {
    fn keep(&self, body: &str, reason: &str) -> impl Future<Output = Result<(), super::SendError>> + Send;
}

/// The worker frame of a flow: each message of an SQS batch parsed (a bad one kept on the DLQ
/// with its reason), never started closer than `margin` to the deadline (it comes back), run by
/// `run`, then finished, retried or kept by [`after_run`]. Returns the batch response and each
/// run's result, in the batch's order.
#[allow(clippy::too_many_arguments)]
pub async fn work_batch<S, K, F, Fut, T>(
    store: &S,
    clock: &K,
    keep: &impl KeepFailed,
    flow: Flow,
    event: aws_lambda_events::event::sqs::SqsEvent,
    deadline: DateTime<Utc>,
    margin: Duration,
    run: F,
) -> (aws_lambda_events::event::sqs::SqsBatchResponse, Vec<T>)
where
    S: DispatchStore,
    K: Clock,
    F: Fn(WorkItem, DateTime<Utc>) -> Fut,
    Fut: Future<Output = T>,
    T: Worked,
{
    let mut response = aws_lambda_events::event::sqs::SqsBatchResponse::default();
    let mut results = Vec::new();
    for m in event.records {
        let id = m.message_id.clone().unwrap_or_default();
        let body = m.body.as_deref().unwrap_or_default();
        let item = match crate::domain::work::parse_work(body) {
            Ok(i) if i.flow == flow => i,
            Ok(i) => {
                let why = format!("a {} work item on the {} work queue", i.flow.as_str(), flow.as_str());
                if keep.keep(body, &why).await.is_err() {
                    response.add_failure(id);
                }
                continue;
            }
            Err(r) => {
                warn!(message_id = %id, reason = %r, "work message rejected; kept on the dead-letter queue");
                if let Err(e) = keep.keep(body, &r.to_string()).await {
                    warn!(message_id = %id, error = %e, retryable = e.is_retryable(), "rejected work message not kept; it comes back");
                    response.add_failure(id);
                }
                continue;
            }
        };
        if clock.now() + margin > deadline {
            info!(company = %item.company_id, "too close to the deadline to start; the item comes back");
            response.add_failure(id);
            continue;
        }
        let company = item.company_id.clone();
        let result = run(item, deadline).await;
        match after_run(result.outcome()) {
            AfterRun::Finished if result.finish_recorded() => {}
            AfterRun::Finished => {
                if let Err(e) = store.mark_finished(&company, flow, clock.now()).await {
                    warn!(company = %company, error = %e, "work not marked finished; dispatched again once stale");
                }
            }
            AfterRun::Retry => response.add_failure(id),
            AfterRun::Keep => {
                let why = serde_json::to_string(result.outcome()).unwrap_or_default();
                if let Err(e) = keep.keep(body, &why).await {
                    warn!(company = %company, error = %e, retryable = e.is_retryable(), "failed work not kept; it comes back");
                    response.add_failure(id);
                }
            }
        }
        results.push(result);
    }
    (response, results)
}

/// A tick without a queue (a small deployment, a local run): the same dispatcher, with an
/// in-memory queue, and the same worker frame over its items, `concurrency` at a time.
#[allow(clippy::too_many_arguments)]
pub async fn run_inline<S, K, F, Fut, T>(
    store: &S,
    clock: &K,
    flow: Flow,
    tick: DateTime<Utc>,
    deadline: DateTime<Utc>,
    margin: Duration,
    concurrency: usize,
    run: F,
) -> Result<(DispatchSummary, Vec<T>), StoreError>
where
    S: CompanyStore + DispatchStore,
    K: Clock,
    F: Fn(WorkItem, DateTime<Utc>) -> Fut,
    Fut: Future<Output = T>,
    T: Worked,
{
    let queue = MemoryWorkQueue::default();
    // In flight for 2 minutes at most: there is no redelivery inline, so a run that died frees
    // its companies soon (the per-company lease, 90 s, still keeps runs from overlapping).
    let config = DispatchConfig { in_flight_for: Duration::minutes(2), ..DispatchConfig::default() };
    let dispatcher = Dispatcher { store, queue: &queue, clock, config };
    let summary = dispatcher.dispatch(flow, tick).await?;
    let bodies = queue.drain(flow);
    let keep = NoDeadLetters;
    let run = &run;
    let batches: Vec<Vec<T>> = futures::stream::iter(bodies)
        .map(|body| {
            let keep = &keep;
            async move {
                let mut message = aws_lambda_events::event::sqs::SqsMessage::default();
                message.body = Some(body);
                let mut event = aws_lambda_events::event::sqs::SqsEvent::default();
                event.records.push(message);
                work_batch(store, clock, keep, flow, event, deadline, margin, run).await.1
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    Ok((summary, batches.into_iter().flatten().collect()))
}

/// How a flow's function was invoked (docs/decisions.md, "Per-company work over SQS").
#[derive(Debug)]
pub enum Invocation {
    /// An SQS batch from the flow's work queue: the worker.
    Work(aws_lambda_events::event::sqs::SqsEvent),
    /// A scheduled tick with `{"dispatch": "queue"}` (the template's): the dispatcher.
    Dispatch { tick: DateTime<Utc> },
    /// Any other payload (a tick without a queue, a manual `{}`): dispatcher and worker inline.
    Inline { tick: DateTime<Utc> },
}

impl Invocation {
    /// `work`, `dispatch` or `inline` (for logs).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Work(_) => "work",
            Self::Dispatch { .. } => "dispatch",
            Self::Inline { .. } => "inline",
        }
    }

    /// Reads a function's payload; a tick's time is its `time` (EventBridge's), else `now`.
    pub fn of(payload: serde_json::Value, now: DateTime<Utc>) -> Result<Self, serde_json::Error> {
        if payload.get("Records").is_some() {
            return serde_json::from_value(payload).map(Invocation::Work);
        }
        let tick = payload
            .get("time")
            .and_then(|t| t.as_str())
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map_or(now, |t| t.with_timezone(&Utc));
        Ok(if payload.get("dispatch").and_then(|d| d.as_str()) == Some("queue") {
            Invocation::Dispatch { tick }
        } else {
            Invocation::Inline { tick }
        })
    }
}

/// What serving one invocation of a flow's function gave.
#[derive(Debug)]
pub enum Served<T> {
    /// A dispatch: its summary (the reply).
    Dispatched(DispatchSummary),
    /// Companies worked: the reply (a worker's batch response, or `None` for an inline tick,
    /// whose reply is the flow's run summary) and each company's result.
    Worked { batch: Option<aws_lambda_events::event::sqs::SqsBatchResponse>, results: Vec<T> },
}

/// The ports a flow's function serves an invocation with.
pub struct FlowPorts<'a, S, Q, K, D> {
    /// The function's name (the metrics' `Function`).
    pub function: &'static str,
    pub store: &'a S,
    pub queue: &'a Q,
    pub clock: &'a K,
    pub keep: &'a D,
    pub flow: Flow,
    /// No company is started closer than this to the deadline.
    pub margin: Duration,
    /// Companies at once in an inline tick.
    pub concurrency: usize,
}

/// Serves one invocation of a flow's function: the worker, the dispatcher, or both inline, with
/// `run` doing one company's work. The function's handler turns the results into its run summary,
/// metrics and announcements.
pub async fn serve<S, Q, K, D, F, Fut, T>(
    ports: &FlowPorts<'_, S, Q, K, D>,
    invocation: Invocation,
    deadline: DateTime<Utc>,
    run: F,
) -> Result<Served<T>, StoreError>
where
    S: CompanyStore + DispatchStore,
    Q: WorkQueue,
    K: Clock,
    D: KeepFailed,
    F: Fn(WorkItem, DateTime<Utc>) -> Fut,
    Fut: Future<Output = T>,
    T: Worked,
{
    let p = ports;
    match invocation {
        Invocation::Work(batch) => {
            let (response, results) =
                work_batch(p.store, p.clock, p.keep, p.flow, batch, deadline, p.margin, run).await;
            Ok(Served::Worked { batch: Some(response), results })
        }
        Invocation::Dispatch { tick } => {
            let d = Dispatcher { store: p.store, queue: p.queue, clock: p.clock, config: DispatchConfig::default() };
            let summary = d.dispatch(p.flow, tick).await?;
            crate::metrics::emit(vec![crate::metrics::dispatch_line(
                p.function,
                summary.companies,
                summary.dispatched,
                summary.in_flight.len(),
                summary.errors.len(),
                p.clock.now(),
            )]);
            Ok(Served::Dispatched(summary))
        }
        Invocation::Inline { tick } => {
            let (_, results) =
                run_inline(p.store, p.clock, p.flow, tick, deadline, p.margin, p.concurrency, run).await?;
            Ok(Served::Worked { batch: None, results })
        }
    }
}

/// Inline runs keep nothing: a failed company is in its summary, and in flight until stale.
struct NoDeadLetters;

impl KeepFailed for NoDeadLetters {
    async fn keep(&self, _: &str, reason: &str) -> Result<(), super::SendError> {
        warn!(reason = %reason, "inline run: nothing to keep it on");
        Ok(())
    }
}

/// The contract every [`WorkQueue`] keeps, run against the in-memory queue (unit tests) and the
/// SQS adapter on moto (integration tests): `drain` returns the bodies now on `flow`'s queue.
pub async fn work_queue_contract<Q, D, Fut>(queue: &Q, flow: Flow, drain: D) -> Result<(), String>
where
    Q: WorkQueue,
    D: Fn() -> Fut,
    Fut: Future<Output = Vec<String>>,
{
    let tick = DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z").map_err(|e| e.to_string())?.with_timezone(&Utc);
    let items: Vec<WorkItem> = (0..25)
        .map(|i| {
            CompanyId::parse(&format!("c-{i:02}"))
                .map(|company_id| WorkItem { flow, company_id, tick })
                .map_err(|e| e.to_string())
        })
        .collect::<Result<_, _>>()?;
    if !queue.enqueue(flow, &[]).await.map_err(|e| e.to_string())?.is_empty() || !drain().await.is_empty() {
        return Err("nothing enqueued: nothing on the queue".into());
    }
    let refused = queue.enqueue(flow, &items).await.map_err(|e| e.to_string())?;
    if !refused.is_empty() {
        return Err(format!("refused: {refused:?}"));
    }
    let mut got: Vec<WorkItem> = drain()
        .await
        .iter()
        .map(|b| crate::domain::work::parse_work(b).map_err(|r| format!("{b}: {r}")))
        .collect::<Result<_, _>>()?;
    got.sort_by(|a, b| a.company_id.cmp(&b.company_id));
    if got != items {
        return Err(format!("25 items in (more than one SendMessageBatch), {} out: {got:?}", got.len()));
    }
    if !drain().await.is_empty() {
        return Err("each item once".into());
    }
    Ok(())
}

/// The contract every [`DispatchStore`] keeps, run against the in-memory store (unit tests) and
/// DynamoDB on moto (integration tests), on a company with no dispatch yet.
pub async fn dispatch_store_contract<S: DispatchStore>(store: &S, company: &CompanyId) -> Result<(), String> {
    let t = DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z").map_err(|e| e.to_string())?.with_timezone(&Utc);
    let m = |n: i64| t + Duration::minutes(n);
    let stale = |now: DateTime<Utc>| now - Duration::minutes(15);
    let mark = |tick: DateTime<Utc>| async move {
        store.mark_dispatched(company, Flow::Download, tick, stale(tick)).await.map_err(|e| e.to_string())
    };
    let expect = |what: &str, got: bool, want: bool| {
        if got == want { Ok(()) } else { Err(format!("{what}: marked {got}, expected {want}")) }
    };
    expect("a first dispatch", mark(t).await?, true)?;
    expect("the next tick while in flight", mark(m(1)).await?, false)?;
    let other = store.mark_dispatched(company, Flow::Upload, m(1), stale(m(1))).await.map_err(|e| e.to_string())?;
    expect("another flow of the same company", other, true)?;
    store.mark_finished(company, Flow::Download, t + Duration::seconds(30)).await.map_err(|e| e.to_string())?;
    expect("the tick after it finished", mark(m(1)).await?, true)?;
    expect("again while that one is in flight", mark(m(2)).await?, false)?;
    expect("once it is stale (a lost message, a dead worker)", mark(m(17)).await?, true)?;
    expect("and in flight again", mark(m(18)).await?, false)?;
    Ok(())
}

/// The contract between a job's release and its flow's dispatch: a release with
/// `finished_at` (the run ended) frees the company for the next dispatch, one without it (a
/// failed run) leaves it in flight. Run on the in-memory store and on DynamoDB (moto).
pub async fn release_frees_dispatch_contract<S>(store: &S, company: &CompanyId) -> Result<(), String>
where
    S: DispatchStore + crate::store::SyncStateStore,
{
    let t = DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z").map_err(|e| e.to_string())?.with_timezone(&Utc);
    let m = |n: i64| t + Duration::minutes(n);
    let stale = |now: DateTime<Utc>| now - Duration::minutes(15);
    let e = |e: StoreError| e.to_string();
    let flow = Flow::Upload;
    let check = |what: &str, ok: bool| if ok { Ok(()) } else { Err(format!("contract broken: {what}")) };
    check("dispatched", store.mark_dispatched(company, flow, t, stale(t)).await.map_err(e)?)?;
    let lease = store.take_lease(company, flow.job(), "run-1", m(2), t).await.map_err(e)?;
    check("the worker's lease", lease.is_some())?;
    let failed = crate::store::JobRelease { finished_at: None, ..Default::default() };
    store.release_with(company, flow.job(), "run-1", &failed).await.map_err(e)?;
    check(
        "a failed run leaves it in flight",
        !store.mark_dispatched(company, flow, m(1), stale(m(1))).await.map_err(e)?,
    )?;
    let lease = store.take_lease(company, flow.job(), "run-2", m(3), m(1)).await.map_err(e)?;
    check("the redelivery's lease", lease.is_some())?;
    let ended = crate::store::JobRelease { finished_at: Some(m(1) + Duration::seconds(20)), ..Default::default() };
    store.release_with(company, flow.job(), "run-2", &ended).await.map_err(e)?;
    check("a run that ended frees it", store.mark_dispatched(company, flow, m(2), stale(m(2))).await.map_err(e)?)?;
    check("once", !store.mark_dispatched(company, flow, m(3), stale(m(3))).await.map_err(e)?)?;
    Ok(())
}

/// An in-memory work queue: the unit tests' and a local inline run's.
#[derive(Debug, Default)]
pub struct MemoryWorkQueue {
    items: std::sync::Mutex<Vec<(Flow, String)>>,
    /// Companies whose item is refused (a full queue, for tests).
    pub refuse: std::sync::Mutex<Vec<CompanyId>>,
}

impl MemoryWorkQueue {
    /// Takes the bodies on `flow`'s queue.
    pub fn drain(&self, flow: Flow) -> Vec<String> {
        let mut all = self.items.lock().unwrap_or_else(|p| p.into_inner());
        let (mine, rest): (Vec<_>, Vec<_>) = all.drain(..).partition(|(f, _)| *f == flow);
        *all = rest;
        mine.into_iter().map(|(_, b)| b).collect()
    }
}

impl WorkQueue for MemoryWorkQueue {
    async fn enqueue(&self, flow: Flow, items: &[WorkItem]) -> Result<Vec<(CompanyId, String)>, super::SendError> {
        let refuse = self.refuse.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut refused = Vec::new();
        let mut q = self.items.lock().unwrap_or_else(|p| p.into_inner());
        for i in items {
            if refuse.contains(&i.company_id) {
                refused.push((i.company_id.clone(), "refused by the test".to_owned()));
            } else {
                q.push((flow, i.to_json()));
            }
        }
        Ok(refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::FixedClock;
    use crate::fakes::{MemoryStore, company};

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).unwrap_or_default()
    }

    #[tokio::test]
    async fn the_memory_queue_keeps_the_contract() {
        let q = MemoryWorkQueue::default();
        assert_eq!(work_queue_contract(&q, Flow::Upload, || async { q.drain(Flow::Upload) }).await, Ok(()));
    }

    #[tokio::test]
    async fn the_memory_store_keeps_the_dispatch_contract() {
        let store = MemoryStore::default();
        let id = CompanyId::parse("acme").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(dispatch_store_contract(&store, &id).await, Ok(()));
        let other = CompanyId::parse("acme-2").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(release_frees_dispatch_contract(&store, &other).await, Ok(()));
    }

    #[test]
    fn each_flow_names_its_service_job() {
        assert_eq!(Flow::Download.job(), crate::services::order_download::JOB);
        assert_eq!(Flow::Upload.job(), crate::services::tracking_upload::JOB);
        assert_eq!(Flow::Inventory.job(), crate::services::inventory::JOB);
        for f in Flow::ALL {
            assert_eq!(Flow::of_job(f.job()), Some(f));
        }
    }

    fn store(n: usize) -> MemoryStore {
        let store = MemoryStore::default();
        for i in 0..n {
            let mut c = company(&format!("c-{i:02}"));
            c.settings.order_download = i % 5 != 4;
            store.companies.lock().unwrap_or_else(|p| p.into_inner()).insert(c.company_id.clone(), c);
        }
        store
    }

    /// Every company the flow serves gets one item a tick; one whose item is still in flight gets
    /// none (no second copy of a slow company); finished, or stale, it gets the next tick's.
    #[tokio::test]
    async fn each_served_company_gets_one_item_a_tick_and_never_a_second_copy() {
        let store = store(10);
        let queue = MemoryWorkQueue::default();
        let tick = t("2026-12-01T10:00:00Z");
        let d =
            Dispatcher { store: &store, queue: &queue, clock: &FixedClock(tick), config: DispatchConfig::default() };
        let s = d.dispatch(Flow::Download, tick).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((s.companies, s.dispatched, s.not_served.len()), (10, 8, 2), "{s:?}");
        let first: Vec<WorkItem> =
            queue.drain(Flow::Download).iter().filter_map(|b| crate::domain::work::parse_work(b).ok()).collect();
        assert_eq!(first.len(), 8);
        assert!(first.iter().all(|i| i.tick == tick && i.flow == Flow::Download));

        // c-00 finishes; the others are still running at the next tick.
        let done = CompanyId::parse("c-00").unwrap_or_else(|e| panic!("{e}"));
        store
            .mark_finished(&done, Flow::Download, tick + Duration::seconds(30))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let next = tick + Duration::minutes(1);
        let d = Dispatcher { clock: &FixedClock(next), ..d };
        let s = d.dispatch(Flow::Download, next).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((s.dispatched, s.in_flight.len()), (1, 7), "{s:?}");
        assert_eq!(queue.drain(Flow::Download).len(), 1);
        // Another flow is independent.
        let s = d.dispatch(Flow::Reconcile, next).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.dispatched, 8);

        // 16 minutes later the unfinished ones are stale: dispatched again.
        let later = tick + Duration::minutes(16);
        let d = Dispatcher { clock: &FixedClock(later), ..d };
        let s = d.dispatch(Flow::Download, later).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((s.dispatched, s.in_flight.len()), (7, 1), "c-00's second item is not stale yet: {s:?}");
    }

    /// An item the queue did not take leaves its company free for the next tick.
    #[tokio::test]
    async fn an_item_not_queued_is_dispatched_again_next_tick() {
        let store = store(3);
        let queue = MemoryWorkQueue::default();
        let refused = CompanyId::parse("c-01").unwrap_or_else(|e| panic!("{e}"));
        queue.refuse.lock().unwrap_or_else(|p| p.into_inner()).push(refused.clone());
        let tick = t("2026-12-01T10:00:00Z");
        let d =
            Dispatcher { store: &store, queue: &queue, clock: &FixedClock(tick), config: DispatchConfig::default() };
        let s = d.dispatch(Flow::Download, tick).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((s.dispatched, s.errors.len()), (2, 1), "{s:?}");
        queue.refuse.lock().unwrap_or_else(|p| p.into_inner()).clear();
        let next = tick + Duration::minutes(1);
        let d = Dispatcher { clock: &FixedClock(next), ..d };
        let s = d.dispatch(Flow::Download, next).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((s.dispatched, s.in_flight.len()), (1, 2), "{s:?}");
        assert!(queue.drain(Flow::Download).iter().any(|b| b.contains("c-01")));
    }

    #[derive(Default)]
    struct Kept(std::sync::Mutex<Vec<String>>);
    impl KeepFailed for Kept {
        async fn keep(&self, _: &str, reason: &str) -> Result<(), crate::services::SendError> {
            self.0.lock().unwrap_or_else(|p| p.into_inner()).push(reason.to_owned());
            Ok(())
        }
    }

    fn event(bodies: &[String]) -> aws_lambda_events::event::sqs::SqsEvent {
        let records: Vec<serde_json::Value> = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| serde_json::json!({"messageId": format!("m-{i}"), "body": b}))
            .collect();
        serde_json::from_value(serde_json::json!({ "Records": records })).unwrap_or_else(|e| panic!("{e}"))
    }

    fn item(company: &str, flow: Flow, tick: DateTime<Utc>) -> String {
        WorkItem { flow, company_id: CompanyId::parse(company).unwrap_or_else(|e| panic!("{e}")), tick }.to_json()
    }

    /// The worker frame around the download's run of one company: a good item runs and frees its
    /// company; a malformed one and another flow's are kept with the reason; an item too close to
    /// the deadline is not started; a company that no longer exists is kept (will repeat).
    #[tokio::test]
    async fn the_worker_runs_good_items_keeps_bad_ones_and_starts_nothing_near_its_deadline() {
        use crate::fakes::{FakeOverstock, FixedCredentials};
        use crate::services::order_download::{Deps, DownloadConfig};
        let now = Utc::now();
        let store = store(2);
        let overstock = FakeOverstock::default();
        let clock = FixedClock(now);
        let deps = Deps {
            store: &store,
            overstock: &overstock,
            credentials: &FixedCredentials,
            clock: &clock,
            config: DownloadConfig::default(),
        };
        let kept = Kept::default();
        let bodies = [
            item("c-00", Flow::Download, now),
            "{not json".to_owned(),
            item("c-01", Flow::Upload, now),
            item("gone", Flow::Download, now),
        ];
        let run = |i: WorkItem, d: DateTime<Utc>| {
            let deps = &deps;
            async move { deps.run_one(&i.company_id, &i.run_id(), d).await }
        };
        let d = Dispatcher {
            store: &store,
            queue: &MemoryWorkQueue::default(),
            clock: &clock,
            config: DispatchConfig::default(),
        };
        assert_eq!(d.dispatch(Flow::Download, now).await.map(|s| s.dispatched).ok(), Some(2));
        let (response, results) = work_batch(
            &store,
            &clock,
            &kept,
            Flow::Download,
            event(&bodies),
            now + Duration::minutes(5),
            Duration::seconds(20),
            run,
        )
        .await;
        assert!(response.batch_item_failures.is_empty(), "{response:?}");
        assert_eq!(results.len(), 2);
        assert_eq!(results[0].outcome, crate::job::Outcome::Completed, "{:?}", results[0]);
        assert!(matches!(&results[1].outcome, crate::job::Outcome::Failed { retryable: false, .. }));
        let kept = kept.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert_eq!(kept.len(), 3, "{kept:?}");
        assert!(
            kept[0].starts_with("message:")
                && kept[1].contains("upload work item")
                && kept[2].contains("no company gone"),
            "{kept:?}"
        );
        // c-00 finished: the next tick gives it an item; c-01 (never worked) is still in flight.
        let s = d.dispatch(Flow::Download, now + Duration::minutes(1)).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((s.dispatched, s.in_flight.clone()), (1, vec!["c-01".to_owned()]), "{s:?}");

        let near = work_batch(
            &store,
            &clock,
            &Kept::default(),
            Flow::Download,
            event(&bodies[..1]),
            now + Duration::seconds(10),
            Duration::seconds(20),
            run,
        )
        .await;
        assert_eq!((near.0.batch_item_failures.len(), near.1.len()), (1, 0), "not started: it comes back");
    }

    #[test]
    fn a_retryable_failure_comes_back_one_that_repeats_is_kept_the_rest_finish() {
        use crate::job::Outcome;
        assert_eq!(after_run(&Outcome::Failed { error: "5xx".into(), retryable: true }), AfterRun::Retry);
        assert_eq!(after_run(&Outcome::Failed { error: "no company".into(), retryable: false }), AfterRun::Keep);
        for o in
            [Outcome::Completed, Outcome::StoppedAtDeadline, Outcome::Busy, Outcome::Skipped { reason: "off".into() }]
        {
            assert_eq!(after_run(&o), AfterRun::Finished, "{o:?}");
        }
    }

    /// Without a queue: the same dispatcher and worker frame, every served company once.
    #[tokio::test]
    async fn an_inline_tick_runs_every_served_company_once() {
        use crate::fakes::{FakeOverstock, FixedCredentials};
        use crate::services::order_download::{Deps, DownloadConfig};
        let now = Utc::now();
        let store = store(6);
        let overstock = FakeOverstock::default();
        let clock = FixedClock(now);
        let deps = Deps {
            store: &store,
            overstock: &overstock,
            credentials: &FixedCredentials,
            clock: &clock,
            config: DownloadConfig::default(),
        };
        let run = |i: WorkItem, d: DateTime<Utc>| {
            let deps = &deps;
            async move { deps.run_one(&i.company_id, &i.run_id(), d).await }
        };
        let (summary, results) =
            run_inline(&store, &clock, Flow::Download, now, now + Duration::minutes(5), Duration::seconds(20), 4, run)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((summary.dispatched, results.len()), (5, 5), "{summary:?}");
        let mut ids: Vec<&str> = results.iter().map(|r| r.company_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 5);
        assert!(results.iter().all(|r| r.outcome == crate::job::Outcome::Completed));
    }

    #[test]
    fn the_queue_order_moves_one_place_a_minute() {
        let tick = t("2026-12-01T10:00:00Z");
        let firsts: Vec<u32> = (0..4).map(|m| rotated(vec![1, 2, 3], tick + Duration::minutes(m))[0]).collect();
        assert_eq!(firsts.len(), 4);
        assert!(firsts.windows(2).all(|w| w[0] != w[1]), "{firsts:?}");
        assert!(rotated(Vec::<u32>::new(), tick).is_empty());
    }

    #[test]
    fn a_flow_runs_state_reads_from_its_marks() {
        let at = |m: i64| DateTime::<Utc>::UNIX_EPOCH + Duration::minutes(m);
        let run = |d: Option<i64>, f: Option<i64>, l: Option<i64>| FlowRun {
            dispatched_at: d.map(at),
            finished_at: f.map(at),
            lease_until: l.map(at),
        };
        let now = at(100);
        assert_eq!(run(None, None, None).state(now), RunState::Never);
        assert_eq!(run(Some(90), None, Some(101)).state(now), RunState::Running);
        assert_eq!(run(Some(90), Some(91), Some(95)).state(now), RunState::Finished);
        assert_eq!(run(Some(92), Some(91), Some(95)).state(now), RunState::Unfinished, "dispatched again, died");
        assert_eq!(run(Some(90), None, None).state(now), RunState::Unfinished);
        assert_eq!(run(None, Some(91), None).state(now), RunState::Finished, "a run without the dispatcher");
    }
}
