//! The order-download service: for each company with Enable Order Download, read new orders
//! window by window from the watermark, map and store them exactly once, acknowledge new ones
//! exactly once, and advance the watermark only behind durably stored windows.
//!
//! Overlapping runs are excluded per company by a lease in the sync-state table (see
//! docs/decisions.md); every write is conditional besides.
//!
//! A phase of the same run, under the same lease, is the status sync: `GET /salesorders`
//! filters by creation time only, so Overstock-side changes to older orders (a customer's
//! cancellation) are found by reading again the creation windows of the company's open orders
//! (up to 30 days old), one `GET` per covering window, at most `status_sync_windows` a run in
//! rotation.

use crate::credentials::CredentialsProvider;
use crate::domain::calendar;
use crate::domain::cancellation::CancelledByOverstock;
use crate::domain::mapping::MappingTable;
use crate::domain::order::{AckState, Order, SalesOrder, WatchFlag, overstock_fingerprint};
use crate::domain::settings::Company;
use crate::domain::window::{
    Window, covering_windows, covering_windows_by_age, creation_second, download_start, next_wide_width, plan_windows,
    reread_backoff,
};
use crate::domain::{Clock, OrderNumber, utc_key};
pub use crate::job::Outcome;
use crate::job::{Fetched, Piece, Stop, UnreadableSecond, WindowReader};
use crate::overstock::acknowledgements::Acknowledgement;
use crate::overstock::{Account, OverstockApi, OverstockError, UnparseableOrder};
use crate::store::{
    CompanyStore, JobRelease, JobState, MappingStore, OrderStore, QuarantineStore, QuarantinedOrder, StoreError,
    SyncStateStore,
};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use tracing::{info, warn};

/// The job name under which the lease and watermark are kept.
pub const JOB: &str = "order-download";
/// The sync-state record holding the status sync's current pass ([`StatusPass`]).
pub const STATUS_PASS: &str = "status-sync";
/// Orders a long status window may hold for the next pass to double its width.
const WIDE_GROW_BELOW: usize = 200;

/// What a download run leaves for the next one on its job item (with the watermark, in the
/// write that releases the lease): which of the checks before the download have anything to do.
/// A check is skipped only when the last run that went to its end found nothing left for it;
/// no notes (a first run, a run that stopped or failed, one that died holding the lease) or a
/// poke from outside (an operator's requeue) mean every check runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
struct Notes {
    /// Orders stored unmapped may exist.
    unmapped: bool,
    /// Acknowledgements may be pending.
    pending: bool,
    /// Quarantine records (orders, unreadable seconds) may exist.
    quarantine: bool,
    /// Open orders may exist (the status sync has something to read).
    open: bool,
    /// A status pass is under way (its record: [`STATUS_PASS`]).
    status_pass: bool,
    /// When the next status pass starts.
    status_due: Option<DateTime<Utc>>,
    /// The ship-by watchdog need not read its index before this instant (no order is at risk or
    /// late, and none reaches its at-risk time sooner); absent: read it this run.
    #[serde(default)]
    watch_idle_until: Option<DateTime<Utc>>,
    /// The window whose read failed the last run(s), and in how many runs in a row: left by a
    /// failed run too (with every check unknown), so that a failure that repeats is narrowed
    /// down instead of stopping the company there for good.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    failing: Option<FailingWindow>,
}

/// A download window whose read failed, run after run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
struct FailingWindow {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    /// Runs in a row that failed reading a window overlapping this one.
    runs: u32,
}

impl FailingWindow {
    /// The record after a read of `w` failed: one more run in a row when `w` overlaps the last
    /// run's failing window (a first download's window moves with the clock), else the first.
    fn after(last: Option<&FailingWindow>, w: Window) -> Self {
        let runs = last.filter(|f| w.start < f.end && f.start < w.end).map_or(1, |f| f.runs.saturating_add(1));
        Self { start: w.start, end: w.end, runs }
    }
}

/// What the reads of one run know of a window that fails run after run: the window to narrow
/// down (after [`NARROW_AFTER_RUNS`]), and the window whose read failed this run.
#[derive(Debug, Default)]
struct Narrowing {
    narrow: Option<Window>,
    failed: Option<Window>,
}

/// Runs in a row that fail reading the same window before its failures are narrowed down (one
/// bad minute at Overstock fails two runs and narrows nothing).
pub const NARROW_AFTER_RUNS: u32 = 3;

impl Notes {
    /// Nothing known: every check runs.
    fn unknown() -> Self {
        Self {
            unmapped: true,
            pending: true,
            quarantine: true,
            open: true,
            status_pass: true,
            status_due: None,
            watch_idle_until: None,
            failing: None,
        }
    }
}

/// The status sync's pass, kept under [`STATUS_PASS`] between runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
struct StatusPass {
    /// When the pass started (its list of open orders was read) and when the next one starts.
    started: DateTime<Utc>,
    due: DateTime<Utc>,
    /// The pass's windows, `[start, end)` in Unix seconds, and how many are read.
    windows: Vec<(i64, i64)>,
    next: usize,
    /// The old-order window of this pass (seconds), and how the windows of old orders read so
    /// far: whether one had to be split, the most orders one held.
    wide_secs: i64,
    wide_split: bool,
    wide_most: Option<usize>,
}

/// What a run leaves with its release: the last piece's watermark, and its notes (only when it
/// went to its end).
#[derive(Debug, Default)]
struct TickEnd {
    watermark: Option<DateTime<Utc>>,
    notes: Option<Notes>,
    /// The window whose read failed this run (with the runs in a row it has failed).
    failing: Option<FailingWindow>,
}

/// The key prefix of an unreadable second's record among the quarantine records.
pub const UNREADABLE_SECOND: &str = crate::store::QuarantineKey::SECOND;

/// Tunables, with the defaults documented in the README.
#[derive(Debug, Clone)]
pub struct DownloadConfig {
    /// Longest query window (the API doc: one hour or less).
    pub max_window: Duration,
    /// How far before the watermark each run starts again (late-visible orders).
    pub overlap: Duration,
    /// Companies processed at once.
    pub concurrency: usize,
    /// Stop starting new windows when less than this is left before the deadline.
    pub deadline_margin: Duration,
    /// Acknowledgements per message.
    pub ack_batch: usize,
    /// Windows (one `GET` each) read again per company per run for pending acknowledgements and
    /// for quarantined orders.
    pub max_reconcile_windows: usize,
    /// Windows of open orders the status sync reads per company per run (0: off).
    pub status_sync_windows: usize,
    /// How old an open order the status sync still reads.
    pub status_sync_age: Duration,
    /// How often a status pass over the open orders starts (a pass reads every window of the
    /// company's open orders, `status_sync_windows` a run, then waits for the next one; zero:
    /// the next pass starts at the next run, as before passes existed).
    pub status_sync_period: Duration,
    /// Open orders older than this are read in longer windows (adapted per company: see
    /// `window::next_wide_width`), up to `status_sync_wide_max`.
    pub status_sync_wide_after: Duration,
    pub status_sync_wide_max: Duration,
}

impl Default for DownloadConfig {
    fn default() -> Self {
        Self {
            max_window: Duration::hours(1),
            overlap: Duration::minutes(10),
            concurrency: 4,
            deadline_margin: Duration::seconds(20),
            ack_batch: 500,
            max_reconcile_windows: 60,
            status_sync_windows: 60,
            status_sync_age: Duration::days(30),
            status_sync_period: Duration::minutes(15),
            status_sync_wide_after: Duration::days(1),
            status_sync_wide_max: Duration::hours(24),
        }
    }
}

impl DownloadConfig {
    /// `DOWNLOAD_WINDOW_MINUTES` (1-60), `DOWNLOAD_OVERLAP_MINUTES` (0-120),
    /// `DOWNLOAD_CONCURRENCY` (1-32), `DOWNLOAD_DEADLINE_MARGIN_SECONDS` (1-300),
    /// `STATUS_SYNC_MAX_WINDOWS` (0-1000), `STATUS_SYNC_PERIOD_MINUTES` (0-1440; 0: a pass as
    /// soon as the last one ended) over the defaults; a bad value names its variable.
    pub fn from_env(env: &impl crate::config::Env) -> Result<Self, crate::config::ConfigError> {
        use crate::config::number;
        let d = Self::default();
        Ok(Self {
            max_window: Duration::minutes(number(env, "DOWNLOAD_WINDOW_MINUTES", d.max_window.num_minutes(), 1..=60)?),
            overlap: Duration::minutes(number(env, "DOWNLOAD_OVERLAP_MINUTES", d.overlap.num_minutes(), 0..=120)?),
            concurrency: number(env, "DOWNLOAD_CONCURRENCY", d.concurrency, 1..=32)?,
            deadline_margin: Duration::seconds(number(
                env,
                "DOWNLOAD_DEADLINE_MARGIN_SECONDS",
                d.deadline_margin.num_seconds(),
                1..=300,
            )?),
            status_sync_windows: number(env, "STATUS_SYNC_MAX_WINDOWS", d.status_sync_windows, 0..=1000)?,
            status_sync_period: Duration::minutes(number(
                env,
                "STATUS_SYNC_PERIOD_MINUTES",
                d.status_sync_period.num_minutes(),
                0..=1440,
            )?),
            ..d
        })
    }
}

/// The company's shipping method mappings, read once and only when an order needs them (a quiet
/// company's tick reads none).
struct LazyMappings<'a, S> {
    store: &'a S,
    company: &'a crate::domain::CompanyId,
    table: tokio::sync::OnceCell<MappingTable>,
}

impl<'a, S: MappingStore> LazyMappings<'a, S> {
    fn new(store: &'a S, company: &'a crate::domain::CompanyId) -> Self {
        Self { store, company, table: tokio::sync::OnceCell::new() }
    }

    async fn get(&self) -> Result<&MappingTable, StoreError> {
        self.table
            .get_or_try_init(|| async { Ok(MappingTable::new(self.store.list_mappings(self.company).await?)) })
            .await
    }
}

/// The ports the download runs on.
pub type Deps<'a, S, O, C, K> = crate::job::Ports<'a, S, O, C, K, DownloadConfig>;

/// Per-company counts, returned by the Lambda and logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CompanySummary {
    pub company_id: String,
    #[serde(flatten)]
    pub outcome: Outcome,
    pub windows: usize,
    pub fetches: usize,
    pub splits: usize,
    pub orders_seen: usize,
    pub new: usize,
    pub already_known: usize,
    pub updated: usize,
    /// New orders stored with `unmapped shipping method`.
    pub unmapped: usize,
    pub unmapped_orders: Vec<String>,
    /// Earlier unmapped orders mapped on this run.
    pub remapped: usize,
    /// Orders still unmapped more than an hour after their download (an alarm: a mapping is
    /// missing and the warehouse cannot ship them).
    pub unmapped_older_than_hour: usize,
    pub acknowledged: usize,
    pub ack_rejected: usize,
    /// `order: reason` for each order element set apart on this run (it does not parse).
    pub quarantined: Vec<String>,
    /// Quarantined orders that parse now and were stored.
    pub released: usize,
    /// Quarantined orders read again that still do not parse.
    pub still_quarantined: usize,
    /// `second: reason` for each creation second newly set apart on this run: Overstock's answer
    /// for it cannot be read (not XML, over the size cap, short of its count). Its orders are not
    /// downloaded until it can be read; the watermark moves past it once it is recorded.
    pub unreadable_seconds: Vec<String>,
    /// Unreadable seconds recorded at the end of the run (new or older): an alarm.
    pub unreadable_open: usize,
    /// Runs in a row (this one included) that failed reading the same window; from
    /// [`NARROW_AFTER_RUNS`] on, that window's failures are narrowed down and set apart.
    pub failing_window_runs: u32,
    /// Order elements set apart (quarantined) at the end of the run, new or older: an alarm,
    /// like unreadable seconds. Counted only when the run knows some may exist.
    pub set_apart_open: usize,
    /// Each answer of the download that held orders of which none could be stored (every one
    /// newly set apart): the run fails for the company, for a person to look.
    pub nothing_stored: Vec<String>,
    /// Recorded unreadable seconds that could be read again on this run (their orders stored).
    pub unreadable_released: usize,
    /// New orders stored with values that make no sense (attention flags besides unmapped).
    pub attention_orders: Vec<String>,
    /// Windows of open orders read again by the status sync, and the open orders they held.
    pub status_windows: usize,
    pub status_checked: usize,
    /// Orders still to ship within their at-risk time, and past their ship-by instant (the
    /// watchdog; 0 when it had nothing to read).
    pub at_risk: usize,
    pub late: usize,
    /// Reads answered with no order at their first attempt (not in the audit trail one by one).
    pub quiet_reads: usize,
    /// Lines newly cancelled by Overstock (seen by the download or the status sync): the
    /// warehouse must not ship them.
    pub cancelled_by_overstock: Vec<CancelledByOverstock>,
    pub errors: Vec<String>,
    pub watermark: Option<String>,
}

impl CompanySummary {
    fn unreadable(bad: &crate::store::UnreadableCompany) -> Self {
        let mut s = Self::new(&bad.company_id);
        s.outcome = Outcome::Failed { error: bad.to_string(), retryable: false };
        s.errors.push(bad.to_string());
        s
    }

    fn new(company_id: &str) -> Self {
        Self {
            company_id: company_id.to_owned(),
            outcome: Outcome::Completed,
            windows: 0,
            fetches: 0,
            splits: 0,
            orders_seen: 0,
            new: 0,
            already_known: 0,
            updated: 0,
            unmapped: 0,
            unmapped_orders: Vec::new(),
            remapped: 0,
            unmapped_older_than_hour: 0,
            acknowledged: 0,
            ack_rejected: 0,
            quarantined: Vec::new(),
            released: 0,
            still_quarantined: 0,
            unreadable_seconds: Vec::new(),
            unreadable_open: 0,
            failing_window_runs: 0,
            set_apart_open: 0,
            nothing_stored: Vec::new(),
            unreadable_released: 0,
            attention_orders: Vec::new(),
            status_windows: 0,
            status_checked: 0,
            at_risk: 0,
            late: 0,
            quiet_reads: 0,
            cancelled_by_overstock: Vec::new(),
            errors: Vec::new(),
            watermark: None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub run_id: String,
    pub companies: Vec<CompanySummary>,
}

impl RunSummary {
    /// (company, order) for every order this run found cancelled by Overstock.
    pub fn cancelled_by_overstock(&self) -> Vec<(String, CancelledByOverstock)> {
        self.companies
            .iter()
            .flat_map(|c| c.cancelled_by_overstock.iter().map(|x| (c.company_id.clone(), x.clone())))
            .collect()
    }
}

impl<'a, S, O, C, K> crate::job::Ports<'a, S, O, C, K, DownloadConfig>
where
    S: CompanyStore + MappingStore + OrderStore + SyncStateStore + QuarantineStore + crate::audit::AuditStore,
    O: OverstockApi,
    C: CredentialsProvider,
    K: Clock,
{
    /// Runs the download for every company. Fails only when the company list cannot be read.
    pub async fn run(&self, run_id: &str, deadline: DateTime<Utc>) -> Result<RunSummary, StoreError> {
        let companies = crate::job::for_each_company(
            self.store.list_companies().await?,
            self.config.concurrency,
            |c| self.company(c, run_id, deadline),
            CompanySummary::unreadable,
            |s| s.company_id.clone(),
        )
        .await;
        Ok(RunSummary { run_id: run_id.to_owned(), companies })
    }

    /// One company's work item (a worker's unit): the company read by its id, then the
    /// same run a tick gives each company. A company that is not stored (deleted since the
    /// dispatch) fails, not retryable.
    pub async fn run_one(
        &self,
        id: &crate::domain::CompanyId,
        run_id: &str,
        deadline: DateTime<Utc>,
    ) -> CompanySummary {
        crate::job::one_company(
            self.store,
            id,
            |c| self.company(c, run_id, deadline),
            |outcome| {
                let mut s = CompanySummary::new(id.as_str());
                if let Outcome::Failed { error, .. } = &outcome {
                    s.errors.push(error.clone());
                }
                s.outcome = outcome;
                s
            },
        )
        .await
    }

    async fn company(&self, company: Company, run_id: &str, deadline: DateTime<Utc>) -> CompanySummary {
        let mut sum = CompanySummary::new(company.company_id.as_str());
        let mut errors = Vec::new();
        sum.outcome = crate::job::run_company(
            self.store,
            self.credentials,
            self.clock,
            &company,
            company.download_eligibility(self.clock.now()),
            JOB,
            run_id,
            deadline,
            &mut errors,
            |account, tick| self.locked(&company, account, tick, run_id, deadline, &mut sum),
        )
        .await;
        sum.errors.extend(errors);
        info!(
            outcome = ?sum.outcome, windows = sum.windows, orders_seen = sum.orders_seen, new = sum.new,
            already_known = sum.already_known, unmapped = sum.unmapped, remapped = sum.remapped,
            acknowledged = sum.acknowledged, set_apart = sum.set_apart_open, errors = sum.errors.len(),
            watermark = ?sum.watermark, "company download finished"
        );
        sum
    }

    async fn locked(
        &self,
        company: &Company,
        account: Account,
        tick: std::sync::Arc<crate::job::JobTick>,
        run_id: &str,
        deadline: DateTime<Utc>,
        sum: &mut CompanySummary,
    ) -> Result<(), Stop> {
        let mut end = TickEnd::default();
        let result = self.work(company, &account, &tick.before, run_id, deadline, &mut end, sum).await;
        // An answer that held orders of which none could be stored is a failed run: the company
        // may have stopped, and "completed" would hide it. The watermark still moves (what was
        // set apart is recorded and read again); someone has to look.
        let result = result.and_then(|()| match sum.nothing_stored.first() {
            None => Ok(()),
            Some(first) => Err(Stop::Error(crate::job::JobError::NothingStored(format!(
                "{first}{}: nothing of Overstock's answer could be stored (overstockctl quarantine list {})",
                match sum.nothing_stored.len() {
                    1 => String::new(),
                    n => format!(" (and {} more answer(s))", n - 1),
                },
                company.company_id
            )))),
        });
        // Notes only from a run that went to its end without an error (the frame drops them too
        // when the run stopped): any doubt, and the next run looks at everything.
        let notes = end.notes.filter(|_| result.is_ok() && sum.errors.is_empty());
        // A run that failed reading a window says which, for the next run to count the failures
        // in a row; every check is unknown after it.
        let after_failure = result.is_err() && end.failing.is_some();
        let notes =
            if after_failure { Some(Notes { failing: end.failing.clone(), ..Notes::unknown() }) } else { notes };
        if let Some(f) = &end.failing {
            sum.failing_window_runs = f.runs;
        }
        tick.leave(JobRelease {
            watermark: end.watermark.filter(|w| tick.before.watermark.is_none_or(|b| *w > b)),
            notes: notes.and_then(|n| serde_json::to_string(&n).ok()),
            notes_after_failure: after_failure,
            pokes_seen: Some(tick.before.pokes),
            finished_at: None, // the frame's
        });
        crate::audit::note_overstock_cancellations(&account.trail, self.clock.now(), &sum.cancelled_by_overstock);
        sum.quiet_reads = account.trail.quiet_reads();
        result
    }

    #[allow(clippy::too_many_arguments)]
    async fn work(
        &self,
        company: &Company,
        account: &Account,
        before: &JobState,
        run_id: &str,
        deadline: DateTime<Utc>,
        end: &mut TickEnd,
        sum: &mut CompanySummary,
    ) -> Result<(), Stop> {
        let id = &company.company_id;
        let settings = &company.settings;
        let mappings = LazyMappings::new(self.store, id);
        let was = if before.poked() { None } else { before.notes.as_deref() }
            .and_then(|n| serde_json::from_str::<Notes>(n).ok())
            .unwrap_or_else(Notes::unknown);
        // The failing window is remembered through a poke too (a poke says "look again", not
        // "the failures stopped").
        let failing =
            before.notes.as_deref().and_then(|n| serde_json::from_str::<Notes>(n).ok()).and_then(|n| n.failing);
        let narrow =
            failing.as_ref().filter(|f| f.runs >= NARROW_AFTER_RUNS).map(|f| Window { start: f.start, end: f.end });
        let mut notes = Notes { unmapped: false, pending: false, quarantine: false, failing: None, ..was.clone() };

        notes.unmapped = was.unmapped && self.remap_unmapped(company, &mappings, sum).await?;
        // The seconds known to be unreadable: left out of every read below, read again (on a
        // back-off) by the quarantine check alone.
        let mut unreadable = Vec::new();
        // The keys set apart before this run: an answer that holds only those is not a new stop.
        let mut known_apart = HashSet::new();
        if was.quarantine {
            let (seconds, left, known) = self.recheck_quarantine(company, &mappings, account, sum).await?;
            (unreadable, notes.quarantine, known_apart) = (seconds, left, known);
        }
        notes.pending = was.pending && self.reconcile_pending_acks(company, account, &mut unreadable, sum).await?;

        let now = self.clock.now();
        let start = download_start(
            before.watermark,
            self.config.overlap,
            now,
            Duration::hours(i64::from(settings.initial_lookback_hours.get())),
        );
        for window in plan_windows(start, now, self.config.max_window) {
            let mut reader = WindowReader::new(window, &unreadable);
            if let Some(n) = narrow {
                reader = reader.narrowing(n, false);
            }
            let (fetches, splits) = (sum.fetches, sum.splits);
            loop {
                if self.clock.now() + self.config.deadline_margin > deadline {
                    info!(at = %utc_key(window.start), "deadline near; stopping before this window");
                    return Err(Stop::Deadline);
                }
                let piece = reader.next(self.overstock, account).await;
                (sum.fetches, sum.splits) = (fetches + reader.fetches, splits + reader.splits);
                match (&piece, reader.failed) {
                    (Err(_), Some(w)) => end.failing = Some(FailingWindow::after(failing.as_ref(), w)),
                    // A narrowing cut short (the deadline, too many failed answers) goes on next
                    // run: the count is kept.
                    (Err(_), None) if narrow.is_some() => end.failing = failing.clone(),
                    _ => {}
                }
                // Each piece is stored (or its second recorded) before the watermark passes it, so
                // a run stopped inside a window keeps what it read.
                let piece_end = match piece? {
                    None => break,
                    Some(Piece::Read { window: w, page }) => {
                        // Set apart before anything else of the piece is stored: the watermark
                        // never passes an order that is neither stored nor quarantined.
                        self.quarantine(company, w, &page.unparseable, sum).await?;
                        let new_apart = page.unparseable.iter().filter(|u| !known_apart.contains(&u.key())).count();
                        if page.orders.is_empty() && new_apart > 0 {
                            sum.nothing_stored.push(format!(
                                "window {}..{}: {new_apart} order(s), every one set apart",
                                utc_key(w.start),
                                utc_key(w.end)
                            ));
                        }
                        self.store_window(company, &mappings, account, w, page.orders, sum).await?;
                        w.end
                    }
                    Some(Piece::Unreadable(u)) => {
                        let end = u.second.end;
                        self.record_unreadable(company, vec![u], &mut unreadable, sum).await?;
                        end
                    }
                };
                // The last piece's end is written with the lease's release (one write fewer a
                // tick); each earlier one as soon as the next piece is stored.
                if let Some(earlier) = end.watermark.replace(piece_end) {
                    self.store.advance_watermark(id, JOB, run_id, earlier).await?;
                }
                sum.watermark = Some(utc_key(piece_end));
            }
            sum.windows += 1;
        }
        notes.open |= sum.new > 0;
        // Orders created since `start` were read by this very run: their Overstock side is fresh.
        let first_run = before.watermark.is_none();
        let mut narrowing = Narrowing { narrow, failed: None };
        let synced = self
            .sync_open_orders(
                company,
                &mappings,
                account,
                (deadline, start, first_run),
                &mut unreadable,
                &mut notes,
                &mut narrowing,
                sum,
            )
            .await;
        if let Err(e) = synced {
            // A status window that fails run after run is narrowed down like a download's.
            end.failing = match narrowing.failed {
                Some(w) => Some(FailingWindow::after(failing.as_ref(), w)),
                None if narrow.is_some() => failing.clone(),
                None => None,
            };
            return Err(e);
        }
        self.watch_ship_by(company, &was, &mut notes, sum).await?;
        // What this run set apart, wherever it read (the status sync records unreadable seconds too).
        notes.unmapped |= sum.unmapped > 0;
        notes.quarantine |= !sum.quarantined.is_empty() || !sum.unreadable_seconds.is_empty();
        if notes.quarantine {
            // Counted (one read) only when something may be set apart: quiet companies pay nothing.
            let records = self.store.list_quarantined(id).await?;
            sum.set_apart_open = records.iter().filter(|q| !q.key.starts_with(UNREADABLE_SECOND)).count();
        }
        end.notes = Some(notes);
        Ok(())
    }

    /// The ship-by watchdog: the orders still to ship whose ship-by instant is within the
    /// company's at-risk time (or past) are counted at risk or late, and each whose state
    /// changed is flagged (one write per change, none per tick). Reads one index page, only when
    /// the last run left something to watch or an order reaches its at-risk time now; no
    /// Overstock call.
    async fn watch_ship_by(
        &self,
        company: &Company,
        was: &Notes,
        notes: &mut Notes,
        sum: &mut CompanySummary,
    ) -> Result<(), Stop> {
        let now = self.clock.now();
        if sum.new == 0 && was.watch_idle_until.is_some_and(|t| now < t) {
            notes.watch_idle_until = was.watch_idle_until;
            return Ok(());
        }
        let risk = company.settings.ship_by.at_risk_before();
        let watched = self.store.list_watched(&company.company_id, now + risk).await?;
        let mut changed = Vec::new();
        for w in &watched.due {
            let flag = WatchFlag::of(calendar::watch(w.ship_by, risk, now));
            match flag {
                Some(WatchFlag::AtRisk) => sum.at_risk += 1,
                Some(WatchFlag::Late) => sum.late += 1,
                None => {}
            }
            if flag != w.flag {
                changed.push(w.order_number.clone());
            }
        }
        if !changed.is_empty() {
            let orders = self.store.get_orders(&company.company_id, &changed).await?;
            let flag_now = move |o: &mut Order| {
                let flag = o.watched_ship_by().and_then(|b| WatchFlag::of(calendar::watch(b, risk, now)));
                let differs = o.watch != flag;
                o.watch = flag;
                differs
            };
            let mut writes = Vec::new();
            for mut o in orders.into_values() {
                if flag_now(&mut o) {
                    o.updated_at = now;
                    info!(order = %o.order_number, flag = ?o.watch, ship_by = ?o.ship_by, "ship-by watchdog");
                    writes.push(o);
                }
            }
            self.save_with_retry(company, writes, flag_now, sum).await?;
        }
        notes.watch_idle_until = if sum.at_risk + sum.late > 0 {
            None
        } else {
            // Nothing at risk: idle until the next order reaches its at-risk time (new orders and
            // pokes wake it sooner).
            Some(watched.next.map_or(DateTime::<Utc>::MAX_UTC, |n| n - risk))
        };
        Ok(())
    }

    /// Records seconds whose answer cannot be read (durably, before the watermark passes them),
    /// so that every later read leaves them out and the quarantine check reads them again.
    async fn record_unreadable(
        &self,
        company: &Company,
        seconds: Vec<UnreadableSecond>,
        known: &mut Vec<DateTime<Utc>>,
        sum: &mut CompanySummary,
    ) -> Result<(), Stop> {
        let seconds: Vec<UnreadableSecond> = seconds.into_iter().filter(|u| !known.contains(&u.second.start)).collect();
        if seconds.is_empty() {
            return Ok(());
        }
        let now = self.clock.now();
        let records: Vec<QuarantinedOrder> = seconds
            .iter()
            .map(|u| {
                let key = crate::store::QuarantineKey::Second(u.second.start).as_key();
                QuarantinedOrder::first_sighting(key, None, u.second, u.reason.clone(), now)
            })
            .collect();
        self.store.quarantine(&company.company_id, &records).await?;
        for (u, q) in seconds.iter().zip(&records) {
            warn!(second = %utc_key(u.second.start), reason = %q.reason, "Overstock's answer for this creation second cannot be read; set apart, read again later");
            sum.unreadable_seconds.push(format!("{}: {}", utc_key(u.second.start), q.reason));
            known.push(u.second.start);
        }
        sum.unreadable_open = known.len();
        Ok(())
    }

    /// The status sync: reads again the creation windows of the company's open orders and
    /// applies what Overstock changed on its side — a cancelled line or order above all —
    /// through the same rule as a download that sees a known order again. It goes in passes: a
    /// pass starts every `status_sync_period` (or when the last one ends, if later), lists the
    /// open orders once (created before `read_from`: this run's download has just read the
    /// rest; none on a company's first run, which has no older orders) and covers them with
    /// windows (longer ones for old orders, their width adapted by how they read); each run
    /// reads the pass's next `status_sync_windows` windows. Between passes it costs nothing.
    /// Only orders whose Overstock side changed are loaded and written.
    #[allow(clippy::too_many_arguments)]
    async fn sync_open_orders(
        &self,
        company: &Company,
        mappings: &LazyMappings<'_, S>,
        account: &Account,
        (deadline, read_from, first_run): (DateTime<Utc>, DateTime<Utc>, bool),
        unreadable: &mut Vec<DateTime<Utc>>,
        notes: &mut Notes,
        narrowing: &mut Narrowing,
        sum: &mut CompanySummary,
    ) -> Result<(), Stop> {
        let now = self.clock.now();
        if self.config.status_sync_windows == 0
            || !notes.open
            || (!notes.status_pass && notes.status_due.is_some_and(|due| now < due))
        {
            return Ok(());
        }
        let id = &company.company_id;
        let young = self.config.max_window;
        let stored = match self.store.get_record(id, STATUS_PASS).await? {
            Some(body) => serde_json::from_str::<StatusPass>(&body)
                .inspect_err(|e| warn!(error = %e, "the status pass record does not read; a new pass starts"))
                .ok(),
            None => None,
        };
        let (mut pass, mut open) = match stored {
            Some(p) if p.next < p.windows.len() => (p, None),
            Some(p) if now < p.due => {
                (notes.status_pass, notes.status_due) = (false, Some(p.due));
                return Ok(());
            }
            last => {
                let wide = last.as_ref().map_or(young, |p| {
                    let read = p.wide_most.map(|most| (p.wide_split, most));
                    next_wide_width(
                        Duration::seconds(p.wide_secs),
                        read,
                        WIDE_GROW_BELOW,
                        young,
                        self.config.status_sync_wide_max,
                    )
                });
                let mut pass = StatusPass {
                    started: now,
                    due: now + self.config.status_sync_period,
                    windows: Vec::new(),
                    next: 0,
                    wide_secs: wide.num_seconds(),
                    wide_split: false,
                    wide_most: None,
                };
                let mut open = Vec::new();
                if !first_run {
                    open = self.store.list_open_orders(id, now - self.config.status_sync_age, None).await?;
                    notes.open = !open.is_empty() || sum.new > 0;
                    open.retain(|o| o.created < read_from);
                    let times: Vec<DateTime<Utc>> = open.iter().map(|o| o.created).collect();
                    let old_before = now - self.config.status_sync_wide_after;
                    pass.windows = covering_windows_by_age(&times, old_before, wide, young)
                        .iter()
                        .map(|w| (w.start.timestamp(), w.end.timestamp()))
                        .collect();
                }
                (pass, Some(open))
            }
        };
        let window_of = |(start, end): (i64, i64)| {
            let at = |t: i64| DateTime::from_timestamp(t, 0).unwrap_or(now);
            Window { start: at(start), end: at(end) }
        };
        let chunk: Vec<Window> =
            pass.windows.iter().skip(pass.next).take(self.config.status_sync_windows).map(|w| window_of(*w)).collect();
        if let (None, Some(first), Some(last)) = (&open, chunk.first(), chunk.last()) {
            // A pass under way: the open orders of this run's windows only (a range of the index).
            open = Some(self.store.list_open_orders(id, first.start, Some(last.end)).await?);
        }
        let open = open.unwrap_or_default();
        for window in chunk {
            if self.clock.now() + self.config.deadline_margin > deadline {
                info!(at = %utc_key(window.start), "deadline near; the status sync goes on next run");
                break;
            }
            let mut fetched = self.read_status_window(account, window, unreadable, narrowing, sum).await?;
            // An old order's window (long, or as long as a young one in a company's first pass):
            // how it read decides the next pass's width.
            if window.start < pass.started - self.config.status_sync_wide_after {
                pass.wide_split |= fetched.splits > 0;
                pass.wide_most = Some(pass.wide_most.unwrap_or(0).max(fetched.orders.len()));
            }
            self.record_unreadable(company, std::mem::take(&mut fetched.unreadable), unreadable, sum).await?;
            let held: Vec<&crate::store::OpenOrder> =
                open.iter().filter(|o| window.start <= o.created && o.created < window.end).collect();
            sum.status_windows += 1;
            sum.status_checked += held.len();
            let changed: BTreeMap<OrderNumber, SalesOrder> = fetched
                .orders
                .into_iter()
                .filter(|so| {
                    held.iter().any(|o| o.order_number == so.order_number && o.fingerprint != overstock_fingerprint(so))
                })
                .map(|so| (so.order_number.clone(), so))
                .collect();
            if !changed.is_empty() {
                let mappings = mappings.get().await?;
                let numbers: Vec<OrderNumber> = changed.keys().cloned().collect();
                let now = self.clock.now();
                let mut orders = Vec::new();
                for (number, mut order) in self.store.get_orders(id, &numbers).await? {
                    let Some(so) = changed.get(&number) else { continue };
                    let refreshed = refresh_known(&mut order, so, mappings, now);
                    note_cancellations(&number, &refreshed, sum);
                    if refreshed.dirty {
                        orders.push(order);
                    }
                }
                sum.updated += orders.len();
                let table = mappings.clone();
                self.save_with_retry(company, orders, move |o| refresh_known_again(o, &changed, &table, now), sum)
                    .await?;
            }
            pass.next += 1;
        }
        let body =
            serde_json::to_string(&pass).map_err(|e| Stop::Error(StoreError::Permanent(e.to_string()).into()))?;
        self.store.put_record(id, STATUS_PASS, &body).await?;
        (notes.status_pass, notes.status_due) = (pass.next < pass.windows.len(), Some(pass.due));
        Ok(())
    }

    async fn fetch_around(
        &self,
        account: &Account,
        window: Window,
        unreadable: &[DateTime<Utc>],
        sum: &mut CompanySummary,
    ) -> Result<Fetched, Stop> {
        let fetched = crate::job::fetch_around(self.overstock, account, window, unreadable).await?;
        sum.fetches += fetched.fetches;
        sum.splits += fetched.splits;
        Ok(fetched)
    }

    /// One status window read whole like [`Self::fetch_around`], narrowing a window that fails run
    /// after run; the window whose read failed is left in `narrowing.failed`.
    async fn read_status_window(
        &self,
        account: &Account,
        window: Window,
        unreadable: &[DateTime<Utc>],
        narrowing: &mut Narrowing,
        sum: &mut CompanySummary,
    ) -> Result<Fetched, Stop> {
        let mut reader = WindowReader::new(window, unreadable);
        if let Some(n) = narrowing.narrow {
            reader = reader.narrowing(n, false);
        }
        let mut out = Fetched::default();
        let result = loop {
            match reader.next(self.overstock, account).await {
                Ok(Some(Piece::Read { page, .. })) => {
                    out.orders.extend(page.orders);
                    out.unparseable.extend(page.unparseable);
                }
                Ok(Some(Piece::Unreadable(u))) => out.unreadable.push(u),
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        sum.fetches += reader.fetches;
        sum.splits += reader.splits;
        out.fetches = reader.fetches;
        out.splits = reader.splits;
        narrowing.failed = reader.failed;
        result.map(|()| out)
    }

    /// Sets apart the order elements of `window` that did not parse: recorded with their reason
    /// (never acknowledged), read again by later runs. Nothing is acknowledged for them.
    async fn quarantine(
        &self,
        company: &Company,
        window: Window,
        unparseable: &[UnparseableOrder],
        sum: &mut CompanySummary,
    ) -> Result<(), Stop> {
        if unparseable.is_empty() {
            return Ok(());
        }
        let now = self.clock.now();
        let records: Vec<QuarantinedOrder> = unparseable
            .iter()
            .map(|u| {
                let again = u.created.map(creation_second).unwrap_or(window);
                QuarantinedOrder::first_sighting(u.key(), u.order_number.clone(), again, u.reason.clone(), now)
            })
            .collect();
        self.store.quarantine(&company.company_id, &records).await?;
        for q in &records {
            let shown = q.order_number.as_deref().unwrap_or(&q.key);
            warn!(order = %shown, reason = %q.reason, "order set apart: it does not parse; not acknowledged, read again each run");
            sum.quarantined.push(format!("{shown}: {}", q.reason));
        }
        Ok(())
    }

    /// Reads quarantined orders and unreadable seconds again (grouped by window, at most
    /// `max_reconcile_windows` windows a run; an unreadable second on its back-off): an order
    /// that parses now is stored (and acknowledged) like any new order and leaves the quarantine,
    /// and so do the orders of a second that can be read now; what still cannot be read stays,
    /// its sighting counted. Returns the seconds still recorded as unreadable (read again here
    /// only: every other read leaves them out).
    async fn recheck_quarantine(
        &self,
        company: &Company,
        mappings: &LazyMappings<'_, S>,
        account: &Account,
        sum: &mut CompanySummary,
    ) -> Result<(Vec<DateTime<Utc>>, bool, HashSet<String>), Stop> {
        let id = &company.company_id;
        let now = self.clock.now();
        let is_second = |q: &QuarantinedOrder| q.key.starts_with(UNREADABLE_SECOND);
        let records = self.store.list_quarantined(id).await?;
        let known_keys: HashSet<String> = records.iter().map(|q| q.key.clone()).collect();
        let listed = records.len();
        let released_before = sum.released + sum.unreadable_released;
        // Seconds not due again yet: left out of every read of this run.
        let mut unreadable: Vec<DateTime<Utc>> = records
            .iter()
            .filter(|q| is_second(q) && now < q.last_seen + reread_backoff(q.sightings))
            .map(|q| q.window_start)
            .collect();
        let mut by_window: BTreeMap<(DateTime<Utc>, DateTime<Utc>), Vec<QuarantinedOrder>> = BTreeMap::new();
        for q in records {
            by_window.entry((q.window_start, q.window_end)).or_default().push(q);
        }
        let due: Vec<_> = by_window
            .into_iter()
            .filter(|((start, _), records)| !(records.iter().any(is_second) && unreadable.contains(start)))
            .collect();
        for (i, ((start, end), records)) in due.into_iter().enumerate() {
            let window = Window { start, end };
            if i >= self.config.max_reconcile_windows {
                // Windows beyond this run's share wait for the next run (seconds among them stay
                // left out of the other reads).
                unreadable.extend(records.iter().filter(|q| is_second(q)).map(|q| q.window_start));
                continue;
            }
            // A recorded second is read on its own; any other window around the seconds not due.
            let skip: Vec<DateTime<Utc>> = if records.iter().any(is_second) { Vec::new() } else { unreadable.clone() };
            let mut fetched = if records.iter().any(is_second) {
                // A second set apart because its reads kept failing fails the same way until
                // Overstock can render it: it stays set apart, it does not stop the run.
                let reader = WindowReader::new(window, &skip).narrowing(window, true);
                let fetched = crate::job::fetch_with(self.overstock, account, reader).await?;
                sum.fetches += fetched.fetches;
                sum.splits += fetched.splits;
                fetched
            } else {
                self.fetch_around(account, window, &skip, sum).await?
            };
            // Whether every order of the window was seen: only then may an unnamed element that
            // is no longer there be released.
            let whole = fetched.unreadable.is_empty() && !skip.iter().any(|t| start <= *t && *t < end);
            let found = std::mem::take(&mut fetched.unreadable);
            let still: HashSet<String> = fetched.unparseable.iter().map(UnparseableOrder::key).collect();
            let parsed: HashSet<String> = fetched.orders.iter().map(|o| o.order_number.to_string()).collect();
            // An element of this window that does not parse and is not quarantined yet is.
            let known: HashSet<&str> = records.iter().map(|q| q.key.as_str()).collect();
            let new: Vec<UnparseableOrder> =
                fetched.unparseable.iter().filter(|u| !known.contains(u.key().as_str())).cloned().collect();
            self.quarantine(company, window, &new, sum).await?;
            let too_large = self.store_window(company, mappings, account, window, fetched.orders, sum).await?;
            let now = self.clock.now();
            let mut again = Vec::new();
            for mut q in records {
                if is_second(&q) {
                    match found.iter().find(|u| u.second.start == q.window_start) {
                        None => {
                            info!(second = %utc_key(q.window_start), "an unreadable second can be read now; its orders are stored");
                            self.store.release_quarantined(id, &q.key).await?;
                            sum.unreadable_released += 1;
                        }
                        Some(u) => {
                            q.reason = u.reason.clone();
                            q.last_seen = now;
                            unreadable.push(q.window_start);
                            again.push(q);
                        }
                    }
                    continue;
                }
                let released = match &q.order_number {
                    Some(n) => parsed.contains(n) && !still.contains(&q.key) && !too_large.contains(n),
                    // An unnamed element that is no longer there (fixed, so now named and parsed).
                    None => whole && !still.contains(&q.key),
                };
                if released {
                    info!(order = %q.order_number.as_deref().unwrap_or(&q.key), "a quarantined order parses now; stored");
                    self.store.release_quarantined(id, &q.key).await?;
                    sum.released += 1;
                } else if q.order_number.as_ref().is_some_and(|n| too_large.contains(n)) {
                    // Recorded again by `store_window` (still too large).
                    sum.still_quarantined += 1;
                } else {
                    if let Some(u) = fetched.unparseable.iter().find(|u| u.key() == q.key) {
                        q.reason = u.reason.clone();
                    }
                    q.last_seen = now;
                    again.push(q);
                    sum.still_quarantined += 1;
                }
            }
            // Seconds re-read and still unreadable are refreshed here; new ones (in a wider
            // window) recorded.
            let fresh: Vec<UnreadableSecond> =
                found.into_iter().filter(|u| !again.iter().any(|q| q.window_start == u.second.start)).collect();
            self.store.quarantine(id, &again).await?;
            self.record_unreadable(company, fresh, &mut unreadable, sum).await?;
        }
        sum.unreadable_open = unreadable.len();
        let left = listed > sum.released + sum.unreadable_released - released_before;
        Ok((unreadable, left, known_keys))
    }

    /// Stores one window's orders: new ones acknowledged (when on) and written, known ones
    /// updated on Overstock's side only.
    ///
    /// New orders are acknowledged *before* they are written. Overstock records the
    /// acknowledgement in the order's status, so if the write is lost the window is read again
    /// (the watermark did not move) and the order comes back `ACKNOWLEDGED`: it is stored as
    /// acknowledged and never acknowledged twice. This saves a second write per order.
    async fn store_window(
        &self,
        company: &Company,
        mappings: &LazyMappings<'_, S>,
        account: &Account,
        window: Window,
        orders: Vec<SalesOrder>,
        sum: &mut CompanySummary,
    ) -> Result<HashSet<String>, Stop> {
        let id = &company.company_id;
        if orders.is_empty() {
            return Ok(HashSet::new());
        }
        let mappings = mappings.get().await?;
        // The same order can come back in two windows or twice in one: keep the last, and flag
        // a new order that one answer held more than once (which copy is right is not known).
        let mut copies: HashMap<OrderNumber, usize> = HashMap::new();
        for o in &orders {
            *copies.entry(o.order_number.clone()).or_default() += 1;
        }
        let mut incoming: BTreeMap<OrderNumber, SalesOrder> =
            orders.into_iter().map(|o| (o.order_number.clone(), o)).collect();
        for (number, n) in copies.into_iter().filter(|(_, n)| *n > 1) {
            warn!(order = %number, copies = n, "Overstock's answer held this order more than once; the last copy is kept");
            if let Some(so) = incoming.get_mut(&number) {
                so.wire_notes.push(format!("Overstock's answer held this order {n} times: the last copy was kept"));
            }
        }
        sum.orders_seen += incoming.len();
        let numbers: Vec<OrderNumber> = incoming.keys().cloned().collect();
        let digests = self.store.order_digests(id, &numbers).await?;
        let now = self.clock.now();

        let mut fresh: Vec<Order> = incoming
            .values()
            .filter(|so| !digests.contains_key(&so.order_number))
            .map(|so| {
                let mut o =
                    Order::from_download(id.clone(), so.clone(), mappings, company.settings.order_acknowledgement, now);
                o.flag_anomalies(&window);
                o.assign_ship_by(&company.settings.ship_by, company.settings.time_zone.0);
                o
            })
            .collect();
        // An order Overstock cancelled before the first download is stored cancelled, flagged.
        for o in &mut fresh {
            let overstock = o.apply_overstock_cancellations(now);
            let number = o.order_number.clone();
            note_cancellations(&number, &Refreshed { overstock, ..Refreshed::default() }, sum);
        }
        // Never acknowledged while it could not be stored: an order too large even compressed
        // is set apart instead (and read again each run, in case Overstock's copy shrinks).
        let mut too_large = Vec::new();
        fresh.retain(|o| match self.store.check_storable(o) {
            Ok(()) => true,
            Err(e) => {
                too_large.push(UnparseableOrder {
                    order_number: Some(o.order_number.to_string()),
                    created: o.overstock.sofs_created_date,
                    reason: format!("order {}: {e}", o.order_number),
                    fingerprint: 0,
                });
                false
            }
        });
        self.quarantine(company, window, &too_large, sum).await?;
        let too_large: HashSet<String> = too_large.into_iter().filter_map(|u| u.order_number).collect();
        for o in fresh.iter().filter(|o| o.attention.iter().any(|a| a != crate::domain::mapping::UNMAPPED_REASON)) {
            warn!(order = %o.order_number, attention = ?o.attention, "order stored with values that need attention");
            sum.attention_orders.push(o.order_number.to_string());
        }
        self.send_acks(account, &mut fresh, sum).await?;
        self.store.put_new_orders(&fresh).await?;
        sum.new += fresh.len();
        // Noted at the time of the read (before the acknowledgement that preceded the write).
        for o in &fresh {
            account.trail.note(
                now,
                o.order_number.to_string(),
                format!(
                    "downloaded (window {}..{}): {} line(s)",
                    utc_key(window.start),
                    utc_key(window.end),
                    o.overstock.lines.len()
                ),
            );
        }
        for o in fresh.iter().filter(|o| o.is_unmapped()) {
            sum.unmapped += 1;
            sum.unmapped_orders.push(o.order_number.to_string());
            warn!(
                order = %o.order_number,
                code = o.overstock.service_level_code().map(|c| c.as_str()).unwrap_or("(none)"),
                "order stored with unmapped shipping method"
            );
        }

        // Known orders are read whole only when something may change.
        sum.already_known += digests.len();
        let to_load: Vec<OrderNumber> = digests
            .values()
            .filter(|d| {
                incoming.get(&d.order_number).is_some_and(|so| d.ostk_fingerprint != overstock_fingerprint(so))
                    || d.ack_pending_key.is_some()
                    || d.unmapped_key.is_some()
            })
            .map(|d| d.order_number.clone())
            .collect();
        if to_load.is_empty() {
            return Ok(too_large);
        }
        let mut changed = Vec::new();
        let mut pending = Vec::new();
        for (number, mut order) in self.store.get_orders(id, &to_load).await? {
            let Some(so) = incoming.get(&number) else { continue };
            let refreshed = refresh_known(&mut order, so, mappings, now);
            sum.remapped += usize::from(refreshed.remapped);
            note_cancellations(&number, &refreshed, sum);
            if order.ack == AckState::Pending {
                pending.push(order);
            } else if refreshed.dirty {
                changed.push(order);
            }
        }
        self.send_acks(account, &mut pending, sum).await?;
        let acks: HashMap<OrderNumber, AckState> =
            pending.iter().map(|o| (o.order_number.clone(), o.ack.clone())).collect();
        changed.extend(pending);
        sum.updated += changed.len();
        let table = mappings.clone();
        self.save_with_retry(
            company,
            changed,
            move |o| {
                let Some(so) = incoming.get(&o.order_number) else { return false };
                let dirty = refresh_known(o, so, &table, now).dirty;
                reapply_ack(o, &acks) || dirty
            },
            sum,
        )
        .await?;
        Ok(too_large)
    }

    /// Writes changed orders through the one order write path. An order that could not be
    /// written is named in the summary and the log; the next run sees the same difference
    /// (Overstock's copy against the stored one) and applies it again.
    async fn save_with_retry(
        &self,
        company: &Company,
        orders: Vec<Order>,
        reapply: impl Fn(&mut Order) -> bool,
        sum: &mut CompanySummary,
    ) -> Result<(), Stop> {
        let saved = crate::job::save_orders(self.store, &company.company_id, orders, reapply).await?;
        for (number, reason) in saved.unsaved {
            warn!(order = %number, reason = %reason, "order change not recorded; left for the next run");
            sum.errors.push(format!("{number}: {reason}"));
        }
        Ok(())
    }

    /// Acknowledges the orders among `orders` whose acknowledgement is pending and records the
    /// answer on them (in memory; the caller writes them). A retryable failure leaves them
    /// pending for the next run's reconciliation.
    async fn send_acks(&self, account: &Account, orders: &mut [Order], sum: &mut CompanySummary) -> Result<(), Stop> {
        let mut idx: Vec<usize> = (0..orders.len()).filter(|i| orders[*i].ack == AckState::Pending).collect();
        while !idx.is_empty() {
            let rest = idx.split_off(idx.len().min(self.config.ack_batch.max(1)));
            let chunk = std::mem::replace(&mut idx, rest);
            let acks: Vec<Acknowledgement> = chunk
                .iter()
                .map(|i| Acknowledgement {
                    sales_channel_name: orders[*i]
                        .overstock
                        .sales_channel_name
                        .clone()
                        .unwrap_or_else(|| "OSTK".into()),
                    order_number: orders[*i].order_number.clone(),
                    accepted: true,
                })
                .collect();
            let rejected: HashMap<String, String> = match self.overstock.acknowledge(account, &acks).await {
                Ok(r) => r.into_iter().map(|e| (e.order_number, e.message)).collect(),
                Err(OverstockError::Unauthorized) => {
                    return Err(Stop::Refused(OverstockError::Unauthorized.to_string()));
                }
                Err(OverstockError::MessageRejected(m)) => {
                    acks.iter().map(|a| (a.order_number.to_string(), m.clone())).collect()
                }
                Err(e) => {
                    sum.errors.push(format!("acknowledgement: {e}"));
                    warn!(error = %e, count = chunk.len(), "acknowledgement failed; orders stay pending");
                    continue;
                }
            };
            let now = self.clock.now();
            for i in chunk {
                let o = &mut orders[i];
                match rejected.get(o.order_number.as_str()) {
                    Some(reason) => {
                        warn!(order = %o.order_number, reason = %reason, "overstock rejected the acknowledgement");
                        o.ack = AckState::Rejected { at: now, reason: reason.clone() };
                        o.updated_at = now;
                        sum.ack_rejected += 1;
                    }
                    None => {
                        o.mark_acknowledged(now, true);
                        sum.acknowledged += 1;
                    }
                }
            }
        }
        Ok(())
    }

    /// Orders stored unmapped earlier get the mapping as soon as it exists.
    async fn remap_unmapped(
        &self,
        company: &Company,
        mappings: &LazyMappings<'_, S>,
        sum: &mut CompanySummary,
    ) -> Result<bool, Stop> {
        let mut changed = Vec::new();
        let hour_ago = self.clock.now() - Duration::hours(1);
        let unmapped = self.store.list_unmapped(&company.company_id).await?;
        if unmapped.is_empty() {
            return Ok(false);
        }
        let listed = unmapped.len();
        let mappings = mappings.get().await?;
        for mut o in unmapped {
            if o.apply_mapping(mappings) {
                o.updated_at = self.clock.now();
                info!(order = %o.order_number, "unmapped order now mapped");
                changed.push(o);
            } else if o.downloaded_at < hour_ago {
                sum.unmapped_older_than_hour += 1;
            }
        }
        sum.remapped += changed.len();
        let left = listed > changed.len();
        let table = mappings.clone();
        self.save_with_retry(company, changed, move |o| o.is_unmapped() && o.apply_mapping(&table), sum).await?;
        Ok(left)
    }

    /// Acknowledgements left pending by an earlier run (a crash or a failed send): read the
    /// order's current status from Overstock (a one-second window at its creation time) and
    /// acknowledge only if Overstock still waits for it.
    async fn reconcile_pending_acks(
        &self,
        company: &Company,
        account: &Account,
        unreadable: &mut Vec<DateTime<Utc>>,
        sum: &mut CompanySummary,
    ) -> Result<bool, Stop> {
        if !company.settings.order_acknowledgement {
            // Pending ones (if any) wait for the setting to come back on.
            return Ok(true);
        }
        let pending = self.store.list_ack_pending(&company.company_id).await?;
        if pending.is_empty() {
            return Ok(false);
        }
        let listed = pending.len();
        info!(count = pending.len(), "reconciling pending acknowledgements");
        // Orders are read again with one request per covering window (up to an hour), not one
        // per order: Overstock's rate limit is the scarce resource.
        let mut to_ack = Vec::new();
        let mut dated = Vec::new();
        for o in pending {
            match o.overstock.sofs_created_date {
                Some(_) => dated.push(o),
                None => to_ack.push(o),
            }
        }
        let times: Vec<DateTime<Utc>> = dated.iter().filter_map(|o| o.overstock.sofs_created_date).collect();
        let mut done = Vec::new();
        // At most `max_reconcile_windows` GETs a run; orders of the windows left wait (pending)
        // for the next run.
        let windows = covering_windows(&times, self.config.max_window);
        let read: Vec<Window> = windows.into_iter().take(self.config.max_reconcile_windows).collect();
        dated.retain(|o| o.overstock.sofs_created_date.is_some_and(|t| read.iter().any(|w| w.start <= t && t < w.end)));
        for window in read {
            let mut current = self.fetch_around(account, window, unreadable, sum).await?;
            self.record_unreadable(company, std::mem::take(&mut current.unreadable), unreadable, sum).await?;
            let now = self.clock.now();
            let (inside, rest): (Vec<Order>, Vec<Order>) = dated
                .into_iter()
                .partition(|o| o.overstock.sofs_created_date.is_some_and(|t| window.start <= t && t < window.end));
            dated = rest;
            for mut o in inside {
                if o.overstock.sofs_created_date.is_some_and(|t| unreadable.contains(&creation_second(t).start)) {
                    // Overstock's answer for its second cannot be read: its status is unknown.
                    warn!(order = %o.order_number, "pending acknowledgement left pending: Overstock's answer for its second cannot be read");
                    continue;
                }
                if current.unparseable.iter().any(|u| u.order_number.as_deref() == Some(o.order_number.as_str())) {
                    // Overstock's copy does not parse now: its status is unknown, so nothing is sent.
                    warn!(order = %o.order_number, "pending acknowledgement left pending: Overstock's copy does not parse now");
                    continue;
                }
                let status =
                    current.orders.iter().find(|c| c.order_number == o.order_number).and_then(|c| c.status.clone());
                if status.as_ref().is_some_and(|s| s.is_past_acknowledgement()) {
                    o.overstock.status = status;
                    o.mark_acknowledged(now, false);
                    done.push(o);
                } else {
                    to_ack.push(o);
                }
            }
        }
        self.send_acks(account, &mut to_ack, sum).await?;
        done.extend(to_ack.into_iter().filter(|o| o.ack != AckState::Pending));
        let acks: HashMap<OrderNumber, AckState> =
            done.iter().map(|o| (o.order_number.clone(), o.ack.clone())).collect();
        let left = listed > done.len();
        self.save_with_retry(company, done, move |o| reapply_ack(o, &acks), sum).await?;
        Ok(left)
    }
}

/// What seeing a known order again changed.
#[derive(Debug, Default)]
struct Refreshed {
    dirty: bool,
    remapped: bool,
    overstock: crate::domain::cancellation::OverstockCancellation,
}

/// The rule for a known order seen again: Overstock-side changes (and the lines Overstock
/// cancelled: see `Order::apply_overstock_cancellations`), a mapping that now exists, an
/// acknowledgement Overstock already shows.
fn refresh_known(order: &mut Order, so: &SalesOrder, mappings: &MappingTable, now: DateTime<Utc>) -> Refreshed {
    let (mut dirty, overstock) = order.refresh_from_overstock(so, now);
    let remapped = order.is_unmapped() && order.apply_mapping(mappings);
    if order.ack == AckState::Pending && order.overstock.status.as_ref().is_some_and(|s| s.is_past_acknowledgement()) {
        order.mark_acknowledged(now, false);
        dirty = true;
    }
    if dirty || remapped {
        order.updated_at = now;
    }
    Refreshed { dirty: dirty || remapped, remapped, overstock }
}

/// Re-applies Overstock's view to an order reloaded after a concurrent change.
fn refresh_known_again(
    o: &mut Order,
    views: &BTreeMap<OrderNumber, SalesOrder>,
    mappings: &MappingTable,
    now: DateTime<Utc>,
) -> bool {
    views.get(&o.order_number).is_some_and(|so| refresh_known(o, so, mappings, now).dirty)
}

/// Names the lines Overstock cancelled (the warehouse must not ship them) in the summary and log.
fn note_cancellations(number: &OrderNumber, r: &Refreshed, sum: &mut CompanySummary) {
    if !r.overstock.cancelled.is_empty() {
        warn!(order = %number, lines = ?r.overstock.cancelled, "cancelled by Overstock: do not ship");
        sum.cancelled_by_overstock
            .push(CancelledByOverstock { order_number: number.to_string(), lines: r.overstock.cancelled.clone() });
    }
    if !r.overstock.conflicting.is_empty() {
        warn!(order = %number, lines = ?r.overstock.conflicting, "Overstock shows shipped lines cancelled");
        sum.errors.push(format!(
            "{number}: Overstock shows shipped line(s) {} cancelled",
            r.overstock.conflicting.join(", ")
        ));
    }
}

/// Re-applies an acknowledgement result to an order reloaded after a concurrent change.
fn reapply_ack(o: &mut Order, results: &HashMap<OrderNumber, AckState>) -> bool {
    match results.get(&o.order_number) {
        Some(AckState::Acknowledged { at, sent }) if o.ack == AckState::Pending => {
            o.mark_acknowledged(*at, *sent);
            true
        }
        Some(state @ AckState::Rejected { .. }) if o.ack == AckState::Pending => {
            o.ack = state.clone();
            true
        }
        _ => false,
    }
}

impl crate::services::fanout::Worked for CompanySummary {
    fn outcome(&self) -> &Outcome {
        &self.outcome
    }
}

/// The lines of one order-download run.
pub fn metric_lines(
    run: &RunSummary,
    calls: crate::metrics::Calls<'_>,
    duration_ms: f64,
    at: DateTime<Utc>,
) -> Vec<String> {
    let companies = run.companies.iter().map(|c| {
        let m = vec![
            ("OrdersDownloaded", crate::metrics::n(c.orders_seen), "Count"),
            ("OrdersNew", crate::metrics::n(c.new), "Count"),
            ("OrdersUnmapped", crate::metrics::n(c.unmapped), "Count"),
            ("UnmappedOlderThanHour", crate::metrics::n(c.unmapped_older_than_hour), "Count"),
            ("Acknowledged", crate::metrics::n(c.acknowledged), "Count"),
            ("AcknowledgementsRejected", crate::metrics::n(c.ack_rejected), "Count"),
            ("OrdersQuarantined", crate::metrics::n(c.quarantined.len()), "Count"),
            ("UnreadableSeconds", crate::metrics::n(c.unreadable_open), "Count"),
            ("CancelledByOverstock", crate::metrics::n(c.cancelled_by_overstock.len()), "Count"),
            ("StatusWindowsRead", crate::metrics::n(c.status_windows), "Count"),
            ("OrdersAtRisk", crate::metrics::n(c.at_risk), "Count"),
            ("OrdersLate", crate::metrics::n(c.late), "Count"),
        ];
        (c.company_id.as_str(), m, c.outcome.metrics())
    });
    let mut lines = crate::metrics::run_lines("order-download", companies, calls, duration_ms, at);
    // Orders set apart, all companies together: one series (not one a company) is what the alarm
    // watches; which company holds them is in its summary's log line and `quarantine list`.
    let set_apart: usize = run.companies.iter().map(|c| c.set_apart_open).sum();
    lines.push(crate::metrics::line(
        &[("Function", "order-download")],
        &[("OrdersSetApart", crate::metrics::n(set_apart), "Count")],
        at,
    ));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CompanyId;
    use crate::domain::FixedClock;
    use crate::domain::fixtures::sales_order;
    use crate::domain::order::LocalStatus;
    use crate::fakes::{FakeOverstock, FixedCredentials, MemoryStore, company, lock};

    fn so(n: &str, created: DateTime<Utc>) -> SalesOrder {
        let mut so = sales_order("ENTERED", "NEXT_DAY", &[("1", 1)]);
        so.order_number = OrderNumber::parse(n).unwrap_or_else(|e| panic!("{e}"));
        so.sofs_created_date = Some(created);
        so
    }

    async fn run(
        store: &MemoryStore,
        overstock: &FakeOverstock,
        now: DateTime<Utc>,
        deadline: DateTime<Utc>,
    ) -> CompanySummary {
        let deps = Deps {
            store,
            overstock,
            credentials: &FixedCredentials,
            clock: &FixedClock(now),
            config: DownloadConfig::default(),
        };
        let run = deps.run("r", deadline).await.unwrap_or_else(|e| panic!("{e}"));
        run.companies.into_iter().next().unwrap_or_else(|| panic!("one company"))
    }

    /// The watchdog on the memory store: an order placed at 08:00 Denver with same-day
    /// handling ships by 14:00; at risk from 10:00 (4 hours), late after 14:00; a shipment of
    /// every line clears it (no count, no flag shown). Between, a quiet run reads nothing.
    #[tokio::test]
    async fn an_order_is_at_risk_then_late_then_cleared_by_its_shipment() {
        let mut c = company("acme");
        c.settings.ship_by.handling_days = 0;
        let id = c.company_id.clone();
        let store = MemoryStore::with_company(c);
        let t = |s: &str| DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).unwrap_or_default();
        let overstock = FakeOverstock::default();
        let mut order = so("W-1", t("2026-12-01T08:00:00-07:00"));
        order.lines.push(crate::domain::order::SalesOrderLine { line_number: "2".into(), ..order.lines[0].clone() });
        overstock.orders.lock().unwrap_or_else(|p| p.into_inner()).push(order);
        let stored = |store: &MemoryStore| store.all_orders().into_iter().next().unwrap_or_else(|| panic!("W-1"));

        let s = run(&store, &overstock, t("2026-12-01T09:00:00-07:00"), t("2026-12-01T09:05:00-07:00")).await;
        assert_eq!((s.new, s.at_risk, s.late), (1, 0, 0), "{s:?}");
        assert_eq!(stored(&store).ship_by, Some(t("2026-12-01T14:00:00-07:00")));
        let notes = |store: &MemoryStore| {
            let state = lock(&store.job_notes).get(&(id.clone(), JOB.to_owned())).cloned().unwrap_or_default();
            state.notes.and_then(|n| serde_json::from_str::<Notes>(&n).ok())
        };
        assert_eq!(
            notes(&store).and_then(|n| n.watch_idle_until),
            Some(t("2026-12-01T10:00:00-07:00")),
            "idle until 10:00"
        );

        let s = run(&store, &overstock, t("2026-12-01T10:30:00-07:00"), t("2026-12-01T10:35:00-07:00")).await;
        assert_eq!((s.at_risk, s.late), (1, 0), "{s:?}");
        assert_eq!(stored(&store).watch, Some(WatchFlag::AtRisk));
        assert!(stored(&store).attention_flags().iter().any(|a| a.starts_with(crate::domain::order::AT_RISK_REASON)));
        assert_eq!(notes(&store).and_then(|n| n.watch_idle_until), None, "read every run while one is at risk");

        let s = run(&store, &overstock, t("2026-12-01T14:01:00-07:00"), t("2026-12-01T14:06:00-07:00")).await;
        assert_eq!((s.at_risk, s.late), (0, 1), "{s:?}");
        assert_eq!(stored(&store).watch, Some(WatchFlag::Late));

        // One line shipped: still late (line 2 is still to ship); both: cleared.
        let mut o = stored(&store);
        let mappings = crate::domain::fixtures::next_day_mapping("UPS");
        let req = |line: &str| crate::domain::shipment::ShipmentRequest {
            lines: vec![(line.into(), 1)],
            carrier_code: None,
            shipping_method: None,
            tracking_number: format!("1Z{line}"),
            ship_date: t("2026-12-01T14:02:00-07:00"),
        };
        assert!(o.record_shipment(&req("1"), &mappings, t("2026-12-01T14:02:00-07:00")).is_ok());
        assert_eq!(o.lines_to_ship(), ["2"]);
        assert!(o.watch_attention().is_some(), "partly shipped: still late");
        assert!(o.record_shipment(&req("2"), &mappings, t("2026-12-01T14:02:00-07:00")).is_ok());
        assert_eq!(o.watch_attention(), None, "every line in a package: nothing shown, without the watchdog");
        store.insert_order(o);
        let s = run(&store, &overstock, t("2026-12-01T14:10:00-07:00"), t("2026-12-01T14:15:00-07:00")).await;
        assert_eq!((s.at_risk, s.late), (0, 0), "{s:?}");
        assert_eq!(
            notes(&store).and_then(|n| n.watch_idle_until),
            Some(DateTime::<Utc>::MAX_UTC),
            "nothing left to watch"
        );
    }

    #[tokio::test]
    async fn good_orders_are_stored_and_acknowledged_and_a_poison_one_is_set_apart() {
        let mut c = company("acme");
        c.settings.order_acknowledgement = true;
        let id = c.company_id.clone();
        let store = MemoryStore::with_company(c);
        let now = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap_or_default();
        let overstock = FakeOverstock::default();
        overstock
            .orders
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend([so("A-1", now - Duration::hours(2)), so("A-2", now - Duration::hours(1))]);
        overstock.unparseable.lock().unwrap_or_else(|p| p.into_inner()).push(UnparseableOrder {
            order_number: Some("BAD-1".into()),
            created: Some(now - Duration::minutes(90)),
            reason: "order BAD-1: processedSalesOrderLine (line 1)/quantity: \"-1\" is not a count".into(),
            fingerprint: 1,
        });
        let s = run(&store, &overstock, now, now + Duration::minutes(5)).await;
        assert_eq!(s.outcome, Outcome::Completed, "{s:?}");
        assert_eq!((s.new, s.acknowledged, s.quarantined.len()), (2, 2, 1), "{s:?}");
        let acked: Vec<String> = overstock
            .acks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .flatten()
            .map(|a| a.order_number.to_string())
            .collect();
        assert!(!acked.contains(&"BAD-1".to_owned()), "never acknowledged");
        assert_eq!(store.get_watermark(&id, JOB).await.ok().flatten(), Some(now), "the watermark moves on");
        assert_eq!(store.list_quarantined(&id).await.unwrap_or_default().len(), 1);
    }

    /// One answer holding the same order twice (different copies): the last copy is stored,
    /// once, and the order flagged — never a silent choice.
    #[tokio::test]
    async fn an_order_twice_in_one_answer_is_stored_once_and_flagged() {
        let c = company("acme");
        let id = c.company_id.clone();
        let store = MemoryStore::with_company(c);
        let now = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap_or_default();
        let overstock = FakeOverstock::default();
        let first = so("D-1", now - Duration::minutes(30));
        let mut second = first.clone();
        second.lines[0].quantity = 7;
        overstock.orders.lock().unwrap_or_else(|p| p.into_inner()).extend([
            first,
            second,
            so("D-2", now - Duration::minutes(20)),
        ]);
        let s = run(&store, &overstock, now, now + Duration::minutes(5)).await;
        assert_eq!((s.outcome.clone(), s.new), (Outcome::Completed, 2), "{s:?}");
        assert_eq!(s.attention_orders, ["D-1"], "{s:?}");
        let stored = store
            .get_orders(&id, &[OrderNumber::parse("D-1").unwrap_or_else(|e| panic!("{e}"))])
            .await
            .unwrap_or_default();
        let d1 = stored.values().next().unwrap_or_else(|| panic!("D-1 stored"));
        assert_eq!(d1.overstock.lines[0].quantity, 7, "the last copy");
        assert!(d1.attention.iter().any(|a| a.contains("2 times")), "{:?}", d1.attention);
    }

    #[tokio::test]
    async fn a_run_near_its_deadline_starts_no_window_and_says_so() {
        let c = company("acme");
        let id = c.company_id.clone();
        let store = MemoryStore::with_company(c);
        let overstock = FakeOverstock::default();
        let now = Utc::now();
        let s = run(&store, &overstock, now, now + Duration::seconds(5)).await;
        assert_eq!(s.outcome, Outcome::StoppedAtDeadline, "{s:?}");
        assert_eq!(s.windows, 0);
        assert_eq!(store.get_watermark(&id, JOB).await.ok().flatten(), None);
    }

    /// Three orders downloaded three days ago (two created in the same hour); Overstock then
    /// cancels one line of one of them and the whole of another.
    fn synced_world(now: DateTime<Utc>) -> (MemoryStore, FakeOverstock, CompanyId) {
        let c = company("acme");
        let id = c.company_id.clone();
        let store = MemoryStore::with_company(c);
        let overstock = FakeOverstock::default();
        let created = now - Duration::days(3);
        let mut views = Vec::new();
        for (n, at, lines) in [
            ("S-1", created, &[("1", 1), ("2", 1)][..]),
            ("S-2", created + Duration::minutes(20), &[("1", 1)][..]),
            ("S-3", created + Duration::hours(5), &[("1", 1)][..]),
        ] {
            let mut so = sales_order("ACKNOWLEDGED", "NEXT_DAY", lines);
            so.order_number = OrderNumber::parse(n).unwrap_or_else(|e| panic!("{e}"));
            so.sofs_created_date = Some(at);
            let o = Order::from_download(
                id.clone(),
                so.clone(),
                &crate::domain::fixtures::next_day_mapping("UPS"),
                false,
                at,
            );
            store.insert_order(o);
            views.push(so);
        }
        // Downloaded up to a minute ago (the download's own read sees none of them again).
        lock(&store.watermarks).insert((id.clone(), JOB.to_owned()), now - Duration::minutes(1));
        views[0].lines[0].line_status = Some("CANCELLED".into());
        views[1].status = Some(crate::domain::order::OverstockStatus::Cancelled);
        overstock.orders.lock().unwrap_or_else(|p| p.into_inner()).extend(views);
        (store, overstock, id)
    }

    async fn run_with(
        store: &MemoryStore,
        overstock: &FakeOverstock,
        now: DateTime<Utc>,
        config: DownloadConfig,
    ) -> CompanySummary {
        let deps = Deps { store, overstock, credentials: &FixedCredentials, clock: &FixedClock(now), config };
        let run = deps.run("r", now + Duration::minutes(5)).await.unwrap_or_else(|e| panic!("{e}"));
        run.companies.into_iter().next().unwrap_or_else(|| panic!("one company"))
    }

    #[tokio::test]
    async fn the_status_sync_finds_overstock_cancellations_of_older_orders_with_one_get_per_window() {
        let now = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap_or_default();
        let (store, overstock, id) = synced_world(now);
        let s = run_with(&store, &overstock, now, DownloadConfig::default()).await;
        assert_eq!(s.outcome, Outcome::Completed, "{s:?}");
        assert_eq!((s.status_windows, s.status_checked), (2, 3), "S-1 and S-2 share a window: {s:?}");
        assert_eq!(s.fetches, s.windows + 2, "one GET per status window besides the download's: {s:?}");
        let mut cancelled: Vec<String> = s.cancelled_by_overstock.iter().map(ToString::to_string).collect();
        cancelled.sort();
        assert_eq!(cancelled, ["S-1: 1", "S-2: 1"]);
        let by_number = |n: &str| {
            store.all_orders().into_iter().find(|o| o.order_number.as_str() == n).unwrap_or_else(|| panic!("{n}"))
        };
        assert_eq!(by_number("S-1").local_status, LocalStatus::PartiallyCancelled);
        assert_eq!(by_number("S-2").local_status, LocalStatus::Cancelled);
        assert!(by_number("S-2").attention.iter().any(|a| a == crate::domain::cancellation::CANCELLED_BY_OVERSTOCK));
        assert_eq!(by_number("S-3").local_status, LocalStatus::InProcess, "unchanged on Overstock: untouched");
        assert!(store.get_record(&id, STATUS_PASS).await.ok().flatten().is_some(), "the pass is kept");
        // The next tick: the pass is over and the next one is not due; no status read at all.
        let quiet = run_with(&store, &overstock, now + Duration::minutes(1), DownloadConfig::default()).await;
        assert_eq!((quiet.status_windows, quiet.fetches), (0, quiet.windows), "{quiet:?}");
        // The next pass (one period on): S-2 is no longer open; nothing is cancelled twice.
        let again = run_with(&store, &overstock, now + Duration::minutes(16), DownloadConfig::default()).await;
        assert!(again.cancelled_by_overstock.is_empty(), "{again:?}");
        assert_eq!(again.status_checked, 2, "S-1 (partly cancelled, still open) and S-3");
    }

    #[tokio::test]
    async fn a_bounded_status_sync_reads_every_window_in_rotation() {
        let now = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap_or_default();
        let (store, overstock, _) = synced_world(now);
        let config = DownloadConfig { status_sync_windows: 1, ..DownloadConfig::default() };
        let mut checked = Vec::new();
        for minute in [0, 1, 2, 16] {
            let s = run_with(&store, &overstock, now + Duration::minutes(minute), config.clone()).await;
            checked.push((s.status_windows, s.status_checked, s.cancelled_by_overstock.len()));
        }
        // Run 1 starts a pass: its first window (S-1, S-2; both cancelled by Overstock). Run 2:
        // the pass's next one (S-3). Run 3: the pass is over, the next not due. Run 4, one
        // period on: a new pass (S-1 only: S-2 is closed).
        assert_eq!(checked, [(1, 2, 2), (1, 1, 0), (0, 0, 0), (1, 1, 0)]);
    }

    #[tokio::test]
    async fn a_zero_period_starts_a_pass_at_every_run() {
        let now = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap_or_default();
        let (store, overstock, _) = synced_world(now);
        let config = DownloadConfig { status_sync_period: Duration::zero(), ..DownloadConfig::default() };
        let mut read = Vec::new();
        for minute in [0, 1, 1] {
            let s = run_with(&store, &overstock, now + Duration::minutes(minute), config.clone()).await;
            read.push(s.status_windows);
        }
        assert_eq!(read, [2, 2, 2], "every run reads the open orders' windows again");
    }

    /// 600 acknowledgements left pending over three hours (a crash, say): one run reconciles them
    /// all with one GET per covering window (3 here), not one per order or per second.
    #[tokio::test]
    async fn six_hundred_pending_acknowledgements_cost_one_get_per_window() {
        let now = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap_or_default();
        let mut c = company("acme");
        c.settings.order_acknowledgement = true;
        let id = c.company_id.clone();
        let store = MemoryStore::with_company(c);
        let overstock = FakeOverstock::default();
        let start = now - Duration::days(2);
        for i in 0..600i64 {
            let status = if i % 2 == 0 { "ACKNOWLEDGED" } else { "ENTERED" };
            let mut so = sales_order(status, "NEXT_DAY", &[("1", 1)]);
            so.order_number = OrderNumber::parse(&format!("P-{i:03}")).unwrap_or_else(|e| panic!("{e}"));
            so.sofs_created_date = Some(start + Duration::seconds(i * 18));
            let mut o = Order::from_download(
                id.clone(),
                so.clone(),
                &crate::domain::fixtures::next_day_mapping("UPS"),
                true,
                start,
            );
            o.ack = AckState::Pending;
            store.insert_order(o);
            overstock.orders.lock().unwrap_or_else(|p| p.into_inner()).push(so);
        }
        let config = DownloadConfig { status_sync_windows: 0, ..DownloadConfig::default() };
        let s = run_with(&store, &overstock, now, config).await;
        assert_eq!(s.outcome, Outcome::Completed, "{s:?}");
        assert_eq!(s.fetches - s.windows, 3, "three hours of orders: three covering windows: {s:?}");
        assert!(store.list_ack_pending(&id).await.unwrap_or_default().is_empty(), "none left pending");
        let sent: usize = overstock.acks.lock().unwrap_or_else(|p| p.into_inner()).iter().map(Vec::len).sum();
        assert_eq!(sent, 300, "only the ones Overstock still shows ENTERED are acknowledged");
    }
}
