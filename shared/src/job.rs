//! The frame every scheduled job runs a company in: the company's lease, its credentials, and
//! how the run ended. One place for the rules shared by order-download and tracking-upload.

use crate::audit::{AuditStore, CallTrail};
use crate::credentials::{CredentialsError, CredentialsProvider};
use crate::domain::Clock;
use crate::domain::order::Order;
use crate::domain::order::SalesOrder;
use crate::domain::settings::{Company, CredentialsHealth, SkipReason};
use crate::domain::utc_key;
use crate::domain::window::Window;
use crate::domain::{CompanyId, OrderNumber};
use crate::overstock::{Account, OverstockApi, OverstockError, UnparseableOrder};
use crate::store::{
    CompanyRow, CompanyStore, JobRelease, JobState, OrderStore, StoreError, SyncStateStore, UnreadableCompany,
};
use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;
use serde::Serialize;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tracing::{Instrument, info, warn};

/// The ports a scheduled job runs on, with its configuration.
pub struct Ports<'a, S, O, C, K, Cfg> {
    pub store: &'a S,
    pub overstock: &'a O,
    pub credentials: &'a C,
    pub clock: &'a K,
    pub config: Cfg,
}

/// How a company's run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// All the work there was is done.
    Completed,
    /// A setting is off or the credentials are flagged.
    Skipped { reason: String },
    /// Another run holds this company's lease.
    Busy,
    /// Stopped before the deadline; the next tick resumes.
    StoppedAtDeadline,
    /// Overstock refused the credentials (401): the company is tried again after `next_try`
    /// and flagged only after repeated refusals. A failure: the operator is told at once.
    CredentialsRefused { reason: String, refusals: u32, next_try: String },
    /// Refused repeatedly, or the secret is unusable: the company is now flagged.
    CredentialsFailed { reason: String },
    /// Stopped on an error; nothing is recorded as done that was not. `retryable`: the next run
    /// may succeed by itself; false: someone has to act.
    Failed { error: String, retryable: bool },
}

impl Outcome {
    /// A run that failed for this company: Lambda's error metric must see it.
    pub fn is_failure(&self) -> bool {
        matches!(self, Self::Failed { .. } | Self::CredentialsFailed { .. } | Self::CredentialsRefused { .. })
    }

    /// What the outcome says, as 0/1 metrics (every company's line carries them).
    pub fn metrics(&self) -> [crate::metrics::Metric; 4] {
        let flag = crate::metrics::flag;
        [
            ("CompaniesBusy", flag(matches!(self, Self::Busy)), "Count"),
            ("StoppedAtDeadline", flag(matches!(self, Self::StoppedAtDeadline)), "Count"),
            ("CredentialsFailed", flag(matches!(self, Self::CredentialsRefused { .. })), "Count"),
            ("CompanyFailed", flag(matches!(self, Self::Failed { .. })), "Count"),
        ]
    }
}

/// The error a handler returns after a run in which some company failed (every company has
/// run and the summary is logged first), so that Lambda's `Errors` metric and its alarm see it.
pub fn failed_run<'a>(job: &str, outcomes: impl IntoIterator<Item = (&'a str, &'a Outcome)>) -> Result<(), String> {
    let failed: Vec<&str> = outcomes.into_iter().filter(|(_, o)| o.is_failure()).map(|(id, _)| id).collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{job}: {} compan{} failed: {}",
            failed.len(),
            if failed.len() == 1 { "y" } else { "ies" },
            failed.join(", ")
        ))
    }
}

/// Why a company's run failed, with its kind kept: a caller can tell "retry later" from
/// "will fail the same way again" without reading text.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{context}: {source}")]
    Overstock {
        context: String,
        #[source]
        source: OverstockError,
    },
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    /// Overstock's answer was incomplete in a way a later run may not see (a one-second window
    /// still short of its `totalCount`).
    #[error("{0}")]
    Incomplete(String),
    /// Overstock's answer held orders and none of them could be stored (every one set apart):
    /// the same answer will not read otherwise by itself; someone has to look.
    #[error("{0}")]
    NothingStored(String),
    /// The company's lease could not be renewed: another run holds it now (this run was stalled
    /// past the lease). The work stops; the other run carries on.
    #[error("the company's lease was taken by another run")]
    LeaseLost,
}

impl JobError {
    /// Whether a later run may succeed without anyone acting.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Store(e) => e.is_retryable(),
            Self::Overstock { source, .. } => source.is_retryable(),
            Self::Credentials(e) => e.is_retryable(),
            Self::Incomplete(_) | Self::LeaseLost => true,
            Self::NothingStored(_) => false,
        }
    }

    /// Whether the run went to its end although it failed (what it could do is done and
    /// recorded): its company is free for the next dispatch at once, not held in flight.
    pub fn run_went_to_its_end(&self) -> bool {
        matches!(self, Self::NothingStored(_))
    }
}

/// Why a company's run stopped early.
#[derive(Debug)]
pub(crate) enum Stop {
    Deadline,
    /// Overstock answered 401: maybe passing; the company backs off, and is flagged only after
    /// repeated refusals.
    Refused(String),
    /// The secret itself is unusable (missing, malformed): flagged at once.
    Credentials(String),
    Error(JobError),
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        Stop::Error(JobError::Store(e))
    }
}

impl Stop {
    /// An Overstock failure: 401 flags the company, anything else stops it with `context`.
    pub(crate) fn overstock(e: OverstockError, context: impl FnOnce() -> String) -> Self {
        match e {
            OverstockError::Unauthorized => Stop::Refused(e.to_string()),
            source => Stop::Error(JobError::Overstock { context: context(), source }),
        }
    }
}

/// One company by its id (a work item's): read, then `run`. A company that is not stored
/// (deleted since the dispatch) or cannot be read ends as `failed` builds it from the outcome.
pub(crate) async fn one_company<S, T, Fut>(
    store: &S,
    id: &CompanyId,
    run: impl FnOnce(Company) -> Fut,
    failed: impl FnOnce(Outcome) -> T,
) -> T
where
    S: CompanyStore,
    Fut: Future<Output = T>,
{
    let span = tracing::info_span!("company", company = %id);
    match store.get_company(id).instrument(span.clone()).await {
        Ok(Some(c)) => run(c).instrument(span).await,
        Ok(None) => failed(Outcome::Failed { error: format!("no company {id}"), retryable: false }),
        Err(e) => failed(Outcome::Failed { error: e.to_string(), retryable: e.is_retryable() }),
    }
}

/// Runs `per_company` for every company, `concurrency` at a time, each in a span naming the
/// company; a row that cannot be read becomes `unreadable`'s summary (that company fails, the
/// others run). Returns the summaries sorted by `key`.
pub(crate) async fn for_each_company<T, F, Fut>(
    rows: Vec<CompanyRow>,
    concurrency: usize,
    per_company: F,
    unreadable: impl Fn(&UnreadableCompany) -> T,
    key: impl Fn(&T) -> String,
) -> Vec<T>
where
    F: Fn(Company) -> Fut,
    Fut: Future<Output = T>,
{
    let mut companies = Vec::with_capacity(rows.len());
    let mut bad = Vec::new();
    for row in rows {
        match row {
            Ok(c) => companies.push(c),
            Err(e) => {
                tracing::error!(company = %e.company_id, reason = %e.reason, "company row cannot be read; company skipped until fixed");
                bad.push(unreadable(&e));
            }
        }
    }
    let mut out: Vec<T> = futures::stream::iter(companies)
        .map(|c| {
            let span = tracing::info_span!("company", company = %c.company_id);
            per_company(c).instrument(span)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    out.extend(bad);
    out.sort_by_key(|t| key(t));
    out
}

/// How long a company's lease is held without renewal; renewed every third of it while the run
/// works on the company. A run that crashes blocks its company for at most this long.
pub const LEASE_HOLD: Duration = Duration::seconds(90);
const LEASE_RENEW_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// Renews the lease every `LEASE_RENEW_EVERY` until it is lost (returned) or the caller stops
/// polling. A failed renewal (DynamoDB unavailable) is retried at the next beat: the lease still
/// has two thirds of its time.
async fn keep_lease<S: SyncStateStore + AuditStore, K: Clock>(
    store: &S,
    clock: &K,
    id: &crate::domain::CompanyId,
    job: &str,
    run_id: &str,
    trail: &CallTrail,
) -> JobError {
    loop {
        tokio::time::sleep(LEASE_RENEW_EVERY).await;
        // The audit trail is written as the run goes: a run that crashes loses at most a beat.
        crate::audit::flush(store, id, trail).await;
        let now = clock.now();
        match store.acquire_lease(id, job, run_id, now + LEASE_HOLD, now).await {
            Ok(true) => {}
            Ok(false) => {
                warn!("the company's lease was taken by another run; stopping");
                return JobError::LeaseLost;
            }
            Err(e) => warn!(error = %e, "could not renew the lease; trying again at the next beat"),
        }
    }
}

/// One run's view of its job item: what it held when the lease was taken, and what the run
/// leaves on it with the release ([`SyncStateStore::release_with`]).
#[derive(Debug)]
pub(crate) struct JobTick {
    pub before: JobState,
    release: std::sync::Mutex<JobRelease>,
}

impl JobTick {
    pub(crate) fn new(before: JobState) -> Self {
        Self { before, release: std::sync::Mutex::new(JobRelease::default()) }
    }

    /// What the release writes (the last call wins).
    pub(crate) fn leave(&self, release: JobRelease) {
        *self.release.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = release;
    }

    fn release(&self) -> JobRelease {
        self.release.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

/// Runs `body` for one company under the job's lease (renewed while it runs) with the company's
/// Overstock account, unless `eligible` says the job skips it (logged). `errors` collects what
/// went wrong.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run_company<S, C, K, F, Fut>(
    store: &S,
    credentials: &C,
    clock: &K,
    company: &Company,
    eligible: Result<(), SkipReason>,
    job: &str,
    run_id: &str,
    deadline: DateTime<Utc>,
    errors: &mut Vec<String>,
    body: F,
) -> Outcome
where
    S: CompanyStore + SyncStateStore + AuditStore,
    C: CredentialsProvider,
    K: Clock,
    F: FnOnce(Account, Arc<JobTick>) -> Fut,
    Fut: Future<Output = Result<(), Stop>>,
{
    if let Err(reason) = eligible {
        info!(reason = %reason, "company skipped");
        return Outcome::Skipped { reason: reason.to_string() };
    }
    let id = &company.company_id;
    let now = clock.now();
    // A short lease, renewed while the company is worked on: a run that crashes (out of memory,
    // killed) blocks its company for at most `LEASE_HOLD`.
    let tick = match store.take_lease(id, job, run_id, now + LEASE_HOLD, now).await {
        Ok(Some(state)) => Arc::new(JobTick::new(state)),
        Ok(None) => {
            info!("another run holds this company's lease; skipped");
            return Outcome::Busy;
        }
        Err(e) => {
            errors.push(e.to_string());
            return Outcome::Failed { error: e.to_string(), retryable: e.is_retryable() };
        }
    };
    // Overstock calls end by the run's deadline, whatever their retry budget.
    let left = (deadline - clock.now()).to_std().unwrap_or_default();
    let call_deadline = tokio::time::Instant::now() + left;
    let accepted = Arc::new(AtomicBool::new(false));
    let trail = CallTrail::default();
    let stop = match credentials.credentials(company.settings.credentials_ref.as_str()).await {
        Ok(c) => {
            let account = Account {
                base_url: company.settings.api_base_url.clone(),
                credentials: c,
                deadline: Some(call_deadline),
                accepted: accepted.clone(),
                trail: trail.clone(),
                dry_run: company.settings.dry_run.clone(),
            };
            tokio::select! {
                stop = body(account, tick.clone()) => stop,
                lost = keep_lease(store, clock, id, job, run_id, &trail) => Err(Stop::Error(lost)),
            }
        }
        Err(e @ CredentialsError::Invalid { .. }) => Err(Stop::Credentials(e.to_string())),
        Err(e @ CredentialsError::Unavailable { .. }) => Err(Stop::Error(JobError::Credentials(e))),
    };
    crate::audit::flush(store, id, &trail).await;
    let mut release = tick.release();
    // A run that ended (whatever it found) frees its company for the next dispatch in the same
    // write; a failure leaves it in flight (its item comes back or is kept: no second copy).
    if !matches!(&stop, Err(Stop::Error(e)) if !e.run_went_to_its_end()) {
        release.finished_at = Some(clock.now());
    }
    if stop.is_err() && !release.notes_after_failure {
        // Notes describe a run that went to its end: the next run after any other starts from
        // nothing known (the watermark the body reached is still written).
        release.notes = None;
    }
    if let Err(e) = store.release_with(id, job, run_id, &release).await {
        warn!(error = %e, "could not release the lease; it expires by itself");
    }
    // Overstock accepted the credentials on some call: an earlier refusal was passing.
    if accepted.load(Ordering::Relaxed)
        && matches!(company.credentials_health, CredentialsHealth::Refused { .. })
        && !matches!(stop, Err(Stop::Refused(_)))
    {
        info!("Overstock accepts the credentials again; refusals cleared");
        if let Err(e) = store.set_credentials_health(id, &CredentialsHealth::Ok, clock.now()).await {
            errors.push(format!("could not clear the refusals: {e}"));
        }
    }
    match stop {
        Ok(()) => Outcome::Completed,
        Err(Stop::Deadline) => Outcome::StoppedAtDeadline,
        Err(Stop::Refused(reason)) => {
            let next = company.credentials_health.after_refusal(&reason, clock.now());
            if let Err(e) = store.set_credentials_health(id, &next, clock.now()).await {
                errors.push(format!("could not record the refusal: {e}"));
            }
            match next {
                CredentialsHealth::Refused { refusals, retry_at, .. } => {
                    warn!(reason = %reason, refusals, retry_at = %crate::domain::utc_key(retry_at), "Overstock refused the credentials; trying again after a backoff");
                    Outcome::CredentialsRefused { reason, refusals, next_try: crate::domain::utc_key(retry_at) }
                }
                CredentialsHealth::Failed { reason, .. } => {
                    warn!(reason = %reason, "credentials refused repeatedly; company flagged and skipped until cleared");
                    Outcome::CredentialsFailed { reason }
                }
                CredentialsHealth::Ok => Outcome::Completed,
            }
        }
        Err(Stop::Credentials(reason)) => {
            let flag = CredentialsHealth::Failed { at: clock.now(), reason: reason.clone() };
            if let Err(e) = store.set_credentials_health(id, &flag, clock.now()).await {
                errors.push(format!("could not flag credentials: {e}"));
            }
            warn!(reason = %reason, "credentials unusable; company flagged and skipped until cleared");
            Outcome::CredentialsFailed { reason }
        }
        Err(Stop::Error(e)) => {
            errors.push(e.to_string());
            Outcome::Failed { error: e.to_string(), retryable: e.is_retryable() }
        }
    }
}

/// What [`save_orders`] did with each order it was given.
#[derive(Debug, Default)]
pub(crate) struct Saved {
    /// Every order as it now stands in the store, version included: written by us, or reloaded
    /// and found to need nothing more. A caller keeps these, never its older copies.
    pub current: Vec<Order>,
    /// Orders that could not be written, with the reason (they keep changing underneath, or
    /// they are gone). The caller reports each one; nothing is dropped silently.
    pub unsaved: Vec<(OrderNumber, String)>,
}

/// Runs a domain command on one order and writes it through [`save_orders`] when it changed
/// something; after a lost race the command runs again on the reloaded copy. `command` returns
/// its answer and whether it changed the order; the answer of its last run comes back with what
/// was saved (the order as stored, or why it could not be written).
pub(crate) async fn update_order<S: OrderStore, T>(
    store: &S,
    company: &CompanyId,
    mut order: Order,
    command: impl Fn(&mut Order) -> (T, bool),
) -> Result<(T, Saved), StoreError> {
    let (first, changed) = command(&mut order);
    if !changed {
        return Ok((first, Saved { current: vec![order], unsaved: Vec::new() }));
    }
    let last = std::sync::Mutex::new(None);
    let rerun = |o: &mut Order| {
        let (answer, changed) = command(o);
        if let Ok(mut l) = last.lock() {
            *l = Some(answer);
        }
        changed
    };
    let saved = save_orders(store, company, vec![order], rerun).await?;
    Ok((last.into_inner().ok().flatten().unwrap_or(first), saved))
}

/// How many times an order is reloaded and re-applied before it is reported unsaved.
const SAVE_ROUNDS: usize = 4;

/// The one order write path: each order is written conditionally on its `version`; one that
/// changed underneath is reloaded and `reapply` (the same domain command) runs on the reloaded
/// copy (false: nothing left to do, the stored order already says it). Store failures are
/// returned with their kind; races never are.
pub(crate) async fn save_orders<S: OrderStore>(
    store: &S,
    company: &CompanyId,
    orders: Vec<Order>,
    reapply: impl Fn(&mut Order) -> bool,
) -> Result<Saved, StoreError> {
    let mut out = Saved { current: Vec::with_capacity(orders.len()), unsaved: Vec::new() };
    let mut pending = orders;
    for _ in 0..SAVE_ROUNDS {
        if pending.is_empty() {
            return Ok(out);
        }
        let lost = store.replace_orders(&pending).await?;
        let mut lost_orders = Vec::new();
        for mut o in pending {
            if lost.contains(&o.order_number) {
                lost_orders.push(o.order_number);
            } else {
                o.version += 1;
                out.current.push(o);
            }
        }
        if lost_orders.is_empty() {
            return Ok(out);
        }
        let mut reloaded = store.get_orders(company, &lost_orders).await?;
        pending = Vec::new();
        for number in lost_orders {
            match reloaded.remove(&number) {
                Some(mut o) => {
                    if reapply(&mut o) {
                        pending.push(o);
                    } else {
                        out.current.push(o);
                    }
                }
                None => out.unsaved.push((number, "the order is no longer stored".into())),
            }
        }
    }
    out.unsaved.extend(
        pending
            .into_iter()
            .map(|o| (o.order_number, "the order kept changing underneath; left for the next run".into())),
    );
    Ok(out)
}

/// What reading a window gave: the orders that parse and the elements that do not, read whole,
/// and the one-second windows whose answer could not be read at all.
#[derive(Debug, Default)]
pub(crate) struct Fetched {
    pub orders: Vec<SalesOrder>,
    pub unparseable: Vec<UnparseableOrder>,
    pub unreadable: Vec<UnreadableSecond>,
    pub fetches: usize,
    pub splits: usize,
}

impl Fetched {
    /// Overstock's copy of `number`: `Ok(Some)` parsed, `Ok(None)` not in the window, `Err`
    /// present but unreadable (nothing may be decided from it).
    pub fn find(&self, number: &OrderNumber) -> Result<Option<&SalesOrder>, &UnparseableOrder> {
        if let Some(u) = self.unparseable.iter().find(|u| u.order_number.as_deref() == Some(number.as_str())) {
            return Err(u);
        }
        Ok(self.orders.iter().find(|o| &o.order_number == number))
    }
}

/// A creation second whose `GET /salesorders` answer could not be read whole: not well-formed
/// XML, larger than the response cap, or short of its `totalCount`. The reason names the kind of
/// problem, never the answer's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableSecond {
    pub second: Window,
    pub reason: String,
}

/// One piece of a window as [`WindowReader`] hands it out, in time order.
#[derive(Debug)]
pub(crate) enum Piece {
    /// A sub-window read whole (every order Overstock counted is in `page`).
    Read { window: Window, page: crate::overstock::OrderPage },
    /// A single second that cannot be read.
    Unreadable(UnreadableSecond),
}

/// Unreadable answers one reader tolerates while it narrows a window down (about 12 per
/// unreadable second in an hour's window): past it the window is not read further this run
/// (an answer that is unreadable everywhere is not split into 3,600 reads).
pub const MAX_UNREADABLE_ANSWERS: usize = 100;

/// Reads a window piece by piece, in time order: an answer short of its `totalCount`, too large
/// to read or not readable at all is split in halves and read again, down to one second; a
/// second that still cannot be read is handed out as [`Piece::Unreadable`] and the reading goes
/// on after it. Seconds known to be unreadable are left out before anything is read.
pub(crate) struct WindowReader {
    stack: Vec<Window>,
    unreadable_answers: usize,
    /// A window whose reads have failed run after run: a failure reading inside it is narrowed
    /// down like an unreadable answer (see [`WindowReader::narrowing`]).
    narrow: Option<Window>,
    /// Whether Overstock answered a read outside `narrow` (the failure is that window's, not
    /// Overstock's as a whole).
    probed: bool,
    /// The window whose read failed, when `next` returned an error.
    pub failed: Option<Window>,
    pub fetches: usize,
    pub splits: usize,
}

/// Whether a read's failure may be the window's own (Overstock cannot render something in it)
/// rather than a passing or global one: a server error, a `null` or cut body, a read slower
/// than the timeout, a 4xx on a GET. Not a 401, a 429, a refused connection, a refused
/// endpoint: those say nothing about the window.
fn may_be_the_windows(e: &OverstockError) -> bool {
    matches!(
        e,
        OverstockError::Server { .. }
            | OverstockError::NullBody
            | OverstockError::Timeout
            | OverstockError::Transport(_)
            | OverstockError::Client { .. }
            | OverstockError::BadResponse(_)
            | OverstockError::TooLarge { .. }
    )
}

impl WindowReader {
    pub fn new(window: Window, known_unreadable: &[DateTime<Utc>]) -> Self {
        let mut stack = crate::domain::window::without_seconds(window, known_unreadable);
        stack.reverse();
        Self { stack, unreadable_answers: 0, narrow: None, probed: false, failed: None, fetches: 0, splits: 0 }
    }

    /// Narrows failures inside `failing` down (a window whose reads failed the same way run after
    /// run): a read inside it that fails as in [`may_be_the_windows`] is split in halves and read
    /// again like an unreadable answer, down to one second, set apart; the rest of the window is
    /// read. Before the first such split, one read of the second just before `failing` tells a
    /// window Overstock cannot render from an Overstock that answers nothing: when that read
    /// fails too, the failure stops the run as before. `probed`: that is known already (a
    /// recorded second read again).
    pub fn narrowing(mut self, failing: Window, probed: bool) -> Self {
        self.narrow = Some(failing);
        self.probed = probed;
        self
    }

    /// One read of the second just before the narrowed window: whether Overstock answers there.
    async fn probe<O: OverstockApi>(&mut self, overstock: &O, account: &Account) -> bool {
        let Some(n) = self.narrow else { return true };
        let before = Window { start: n.start - chrono::Duration::seconds(1), end: n.start };
        self.fetches += 1;
        match overstock.fetch_orders(account, &before).await {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(error = %e, "the read beside the failing window fails too: not narrowed down");
                false
            }
        }
    }

    /// The next piece, or `None` when the window is read.
    pub async fn next<O: OverstockApi>(&mut self, overstock: &O, account: &Account) -> Result<Option<Piece>, Stop> {
        while let Some(w) = self.stack.pop() {
            self.fetches += 1;
            let span = || format!("window {}..{}", utc_key(w.start), utc_key(w.end));
            let problem = match overstock.fetch_orders(account, &w).await {
                Ok(page) if page.is_complete() => return Ok(Some(Piece::Read { window: w, page })),
                Ok(page) => format!(
                    "the answer holds {} of the {} orders its totalCount announces",
                    page.orders.len() + page.unparseable.len(),
                    page.total_count
                ),
                Err(e @ (OverstockError::TooLarge { .. } | OverstockError::BadResponse(_))) => {
                    self.unreadable_answers += 1;
                    e.to_string()
                }
                Err(e) if may_be_the_windows(&e) && self.narrow.is_some_and(|n| w.start < n.end && n.start < w.end) => {
                    // The run's own deadline is no failure of the window's.
                    if matches!(e, OverstockError::Timeout)
                        && account.deadline.is_some_and(|d| tokio::time::Instant::now() >= d)
                    {
                        return Err(Stop::Deadline);
                    }
                    // Overstock answers beside the window: before the first split, and again
                    // before a second is set apart (it may have gone down meanwhile).
                    if (!self.probed || w.split().is_none()) && !Box::pin(self.probe(overstock, account)).await {
                        self.failed = Some(w);
                        return Err(Stop::overstock(e, span));
                    }
                    self.probed = true;
                    self.unreadable_answers += 1;
                    format!("this window's read fails run after run ({e})")
                }
                Err(e) => {
                    // Only a failure that may be the window's counts toward narrowing it.
                    if may_be_the_windows(&e) {
                        self.failed = Some(w);
                    }
                    return Err(Stop::overstock(e, span));
                }
            };
            match w.split() {
                Some((a, b)) => {
                    if self.unreadable_answers > MAX_UNREADABLE_ANSWERS {
                        return Err(Stop::Error(JobError::Incomplete(format!(
                            "{}: {MAX_UNREADABLE_ANSWERS} of Overstock's answers could not be read while narrowing it \
                             down; the rest of it is read on the next run (last: {problem})",
                            span()
                        ))));
                    }
                    self.splits += 1;
                    self.stack.push(b);
                    self.stack.push(a);
                }
                None => return Ok(Some(Piece::Unreadable(UnreadableSecond { second: w, reason: problem }))),
            }
        }
        Ok(None)
    }
}

/// Reads a window whole, pieces gathered: unreadable seconds are listed in `unreadable` and the
/// rest of the window is read around them.
pub(crate) fn fetch_around<'a, O: OverstockApi>(
    overstock: &'a O,
    account: &'a Account,
    window: Window,
    known_unreadable: &[DateTime<Utc>],
) -> impl Future<Output = Result<Fetched, Stop>> + Send + 'a {
    // Not an `async fn` of its own: one future less in every caller's nesting.
    fetch_with(overstock, account, WindowReader::new(window, known_unreadable))
}

/// [`fetch_around`] with a reader set up by the caller (narrowing a failing window).
pub(crate) async fn fetch_with<O: OverstockApi>(
    overstock: &O,
    account: &Account,
    mut reader: WindowReader,
) -> Result<Fetched, Stop> {
    let mut out = Fetched::default();
    while let Some(piece) = reader.next(overstock, account).await? {
        match piece {
            Piece::Read { page, .. } => {
                out.orders.extend(page.orders);
                out.unparseable.extend(page.unparseable);
            }
            Piece::Unreadable(u) => out.unreadable.push(u),
        }
    }
    out.fetches = reader.fetches;
    out.splits = reader.splits;
    Ok(out)
}

/// Reads a window whole, for a caller that must see every order of it to decide anything (an
/// interrupted upload, a reconciliation): a second that cannot be read fails the read.
pub(crate) async fn fetch_complete<O: OverstockApi>(
    overstock: &O,
    account: &Account,
    window: Window,
) -> Result<Fetched, Stop> {
    let fetched = fetch_around(overstock, account, window, &[]).await?;
    match fetched.unreadable.first() {
        None => Ok(fetched),
        Some(u) => Err(Stop::Error(JobError::Incomplete(format!(
            "window {}..{}: Overstock's answer for one second cannot be read ({}), and it cannot be split further",
            utc_key(u.second.start),
            utc_key(u.second.end),
            u.reason
        )))),
    }
}

#[cfg(test)]
mod lease_tests {
    use super::*;
    use crate::fakes::{FixedCredentials, MemoryStore, company};

    /// A clock that follows tokio's (paused, auto-advancing) time.
    struct TokioClock(DateTime<Utc>, tokio::time::Instant);

    impl Clock for TokioClock {
        fn now(&self) -> DateTime<Utc> {
            self.0 + Duration::from_std(self.1.elapsed()).unwrap_or_default()
        }
    }

    async fn work(store: &MemoryStore, clock: &TokioClock, hold: std::time::Duration) -> Outcome {
        let c = company("acme");
        let mut errors = Vec::new();
        let deadline = clock.now() + Duration::minutes(15);
        run_company(
            store,
            &FixedCredentials,
            clock,
            &c,
            Ok(()),
            "job",
            "run-1",
            deadline,
            &mut errors,
            |_, _| async move {
                tokio::time::sleep(hold).await;
                Ok(())
            },
        )
        .await
    }

    async fn other_takes(store: &MemoryStore, clock: &TokioClock) -> bool {
        let id = company("acme").company_id;
        let now = clock.now();
        store.acquire_lease(&id, "job", "run-2", now + LEASE_HOLD, now).await.unwrap_or(false)
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_run_keeps_its_company_by_renewing_the_lease() {
        let store = MemoryStore::with_company(company("acme"));
        let clock = TokioClock(Utc::now(), tokio::time::Instant::now());
        let (outcome, taken) = tokio::join!(work(&store, &clock, std::time::Duration::from_secs(600)), async {
            tokio::time::sleep(std::time::Duration::from_secs(300)).await;
            other_takes(&store, &clock).await
        });
        assert!(!taken, "five minutes in, past three lease lengths, the company is still held");
        assert_eq!(outcome, Outcome::Completed);
        assert!(other_takes(&store, &clock).await, "released at the end");
    }

    #[tokio::test(start_paused = true)]
    async fn a_crashed_run_blocks_its_company_for_at_most_the_lease() {
        let store = MemoryStore::with_company(company("acme"));
        let clock = TokioClock(Utc::now(), tokio::time::Instant::now());
        // The run dies 40 s in (its future dropped: nothing released, no more renewals).
        let crashed = tokio::time::timeout(
            std::time::Duration::from_secs(40),
            work(&store, &clock, std::time::Duration::from_secs(600)),
        )
        .await;
        assert!(crashed.is_err(), "killed mid-way");
        // Renewed at 30 s: held until 120 s.
        tokio::time::sleep(std::time::Duration::from_secs(70)).await;
        assert!(!other_takes(&store, &clock).await, "110 s: still held");
        tokio::time::sleep(std::time::Duration::from_secs(11)).await;
        assert!(other_takes(&store, &clock).await, "121 s: free, 81 s after the crash");
    }

    #[tokio::test(start_paused = true)]
    async fn a_run_that_lost_its_lease_stops() {
        let store = MemoryStore::with_company(company("acme"));
        let clock = TokioClock(Utc::now(), tokio::time::Instant::now());
        let (outcome, ()) = tokio::join!(work(&store, &clock, std::time::Duration::from_secs(600)), async {
            tokio::time::sleep(std::time::Duration::from_secs(10)).await;
            // Another run steals it (as if this one had stalled past the lease).
            let id = company("acme").company_id;
            let now = clock.now() + Duration::minutes(5);
            assert!(store.acquire_lease(&id, "job", "run-2", now + LEASE_HOLD, now).await.unwrap_or(false));
        });
        assert!(matches!(outcome, Outcome::Failed { retryable: true, .. }), "{outcome:?}");
    }
}

#[cfg(test)]
mod narrowing_tests {
    use super::*;
    use crate::overstock::{OrderPage, inventory, refunds, shipments};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// An Overstock that cannot render anything in `broken` (502), and after `down_after` reads
    /// answers nothing at all.
    struct Failing {
        broken: Window,
        down_after: usize,
        reads: AtomicUsize,
    }

    impl OverstockApi for Failing {
        async fn fetch_orders(&self, _: &Account, w: &Window) -> Result<OrderPage, OverstockError> {
            let n = self.reads.fetch_add(1, Ordering::SeqCst);
            if n >= self.down_after || (w.start < self.broken.end && self.broken.start < w.end) {
                return Err(OverstockError::Server { status: 502 });
            }
            Ok(OrderPage::default())
        }
        async fn acknowledge(
            &self,
            _: &Account,
            _: &[crate::overstock::acknowledgements::Acknowledgement],
        ) -> Result<Vec<crate::overstock::RejectedElement>, OverstockError> {
            Ok(Vec::new())
        }
        async fn post_shipments(
            &self,
            _: &Account,
            _: &[shipments::ShipmentElement],
        ) -> Result<Vec<crate::overstock::RejectedElement>, OverstockError> {
            Ok(Vec::new())
        }
        async fn post_refunds(
            &self,
            _: &Account,
            _: &[refunds::RefundItem],
        ) -> Result<Vec<crate::overstock::RejectedElement>, OverstockError> {
            Ok(Vec::new())
        }
        async fn post_inventory(
            &self,
            _: &Account,
            _: &[inventory::InventoryElement],
        ) -> Result<Vec<crate::overstock::RejectedElement>, OverstockError> {
            Ok(Vec::new())
        }
        async fn fetch_inventory(&self, _: &Account) -> Result<Vec<inventory::HeldElement>, OverstockError> {
            Ok(Vec::new())
        }
    }

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|d| d.to_utc()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn account() -> Account {
        let url = crate::domain::endpoint::ApiBaseUrl::parse("http://127.0.0.1:1").unwrap_or_else(|e| panic!("{e}"));
        Account::new(
            url,
            crate::credentials::Credentials { username: "u".into(), password: crate::credentials::Secret::new("p") },
        )
    }

    async fn read_all(o: &Failing, reader: WindowReader) -> (Vec<Piece>, Result<(), String>) {
        let mut reader = reader;
        let account = account();
        let mut pieces = Vec::new();
        loop {
            match reader.next(o, &account).await {
                Ok(Some(p)) => pieces.push(p),
                Ok(None) => return (pieces, Ok(())),
                Err(e) => return (pieces, Err(format!("{e:?}"))),
            }
        }
    }

    #[tokio::test]
    async fn a_window_that_fails_run_after_run_is_narrowed_to_its_second() {
        let hour = Window { start: t("2026-12-01T10:00:00Z"), end: t("2026-12-01T11:00:00Z") };
        let broken = Window { start: t("2026-12-01T10:17:05Z"), end: t("2026-12-01T10:17:06Z") };
        let o = Failing { broken, down_after: usize::MAX, reads: AtomicUsize::new(0) };
        let (pieces, end) = read_all(&o, WindowReader::new(hour, &[]).narrowing(hour, false)).await;
        assert_eq!(end, Ok(()));
        let apart: Vec<Window> =
            pieces.iter().filter_map(|p| if let Piece::Unreadable(u) = p { Some(u.second) } else { None }).collect();
        assert_eq!(apart, [broken], "only the failing second");
        let read: i64 = pieces
            .iter()
            .filter_map(|p| if let Piece::Read { window, .. } = p { Some(window.len().num_seconds()) } else { None })
            .sum();
        assert_eq!(read, 3599, "every other second read");
        // Without narrowing, the same failure stops the reading, naming the window.
        let o = Failing { broken, down_after: usize::MAX, reads: AtomicUsize::new(0) };
        let mut plain = WindowReader::new(hour, &[]);
        assert!(plain.next(&o, &account()).await.is_err());
        assert_eq!(plain.failed, Some(hour));
    }

    #[tokio::test]
    async fn an_overstock_that_goes_down_while_narrowing_sets_nothing_apart() {
        let hour = Window { start: t("2026-12-01T10:00:00Z"), end: t("2026-12-01T11:00:00Z") };
        let broken = Window { start: t("2026-12-01T10:17:05Z"), end: t("2026-12-01T10:17:06Z") };
        // Up for the first probe and a few reads, then down: no second may be set apart.
        for down_after in [1, 2, 3, 5, 8] {
            let o = Failing { broken, down_after, reads: AtomicUsize::new(0) };
            let (pieces, end) = read_all(&o, WindowReader::new(hour, &[]).narrowing(hour, false)).await;
            assert!(end.is_err(), "down after {down_after}: the run fails");
            assert!(
                !pieces.iter().any(|p| matches!(p, Piece::Unreadable(_))),
                "down after {down_after}: nothing set apart: {pieces:?}"
            );
        }
    }
}
