//! The frame every scheduled job runs a company in: the company's lease, its credentials, and
//! how the run ended. One place for the rules shared by order-download and tracking-upload.

use crate::credentials::{CredentialsError, CredentialsProvider};
use crate::domain::settings::{Company, SkipReason};
use crate::domain::Clock;
use crate::overstock::{Account, OverstockError};
use crate::domain::order::Order;
use crate::domain::CompanyId;
use crate::store::{CompanyStore, OrderStore, StoreError, SyncStateStore};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use futures::StreamExt;
use std::future::Future;
use tracing::{info, warn, Instrument};

/// The ports a scheduled job runs on, with its configuration.
pub struct Ports<'a, S, O, C, K, Cfg> {
    pub store: &'a S,
    pub overstock: &'a O,
    pub credentials: &'a C,
    pub clock: &'a K,
    pub config: Cfg,
}

/// A positive number from the environment, or `None` (unset, unreadable, zero or negative).
pub fn env_positive<T: std::str::FromStr + PartialOrd + Default>(key: &str) -> Option<T> {
    std::env::var(key).ok().and_then(|v| v.trim().parse::<T>().ok()).filter(|v| *v > T::default())
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
    /// Overstock answered 401 (or the secret is unusable): the company is now flagged.
    CredentialsFailed { reason: String },
    /// Stopped on an error; nothing is recorded as done that was not.
    Failed { error: String },
}

/// Why a company's run stopped early.
#[derive(Debug)]
pub(crate) enum Stop {
    Deadline,
    Credentials(String),
    Error(String),
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        Stop::Error(e.to_string())
    }
}

impl Stop {
    /// An Overstock failure: 401 flags the company, anything else stops it with `context`.
    pub(crate) fn overstock(e: OverstockError, context: impl FnOnce() -> String) -> Self {
        match e {
            OverstockError::Unauthorized => Stop::Credentials(e.to_string()),
            other => Stop::Error(format!("{}: {other}", context())),
        }
    }
}

/// Runs `per_company` for every company, `concurrency` at a time, each in a span naming the
/// company; returns the summaries sorted by `key`.
pub(crate) async fn for_each_company<T, F, Fut>(companies: Vec<Company>, concurrency: usize, per_company: F, key: impl Fn(&T) -> String) -> Vec<T>
where
    F: Fn(Company) -> Fut,
    Fut: Future<Output = T>,
{
    let mut out: Vec<T> = futures::stream::iter(companies)
        .map(|c| {
            let span = tracing::info_span!("company", company = %c.company_id);
            per_company(c).instrument(span)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    out.sort_by_key(|t| key(t));
    out
}

/// Runs `body` for one company under the job's lease with the company's Overstock account,
/// unless `eligible` says the job skips it (logged). `errors` collects what went wrong.
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
    S: CompanyStore + SyncStateStore,
    C: CredentialsProvider,
    K: Clock,
    F: FnOnce(Account) -> Fut,
    Fut: Future<Output = Result<(), Stop>>,
{
    if let Err(reason) = eligible {
        info!(reason = %reason, "company skipped");
        return Outcome::Skipped { reason: reason.to_string() };
    }
    let id = &company.company_id;
    let now = clock.now();
    // The lease outlives our deadline a little: a run killed at its deadline frees the company
    // one minute later.
    let until = deadline.max(now) + Duration::minutes(1);
    match store.acquire_lease(id, job, run_id, until, now).await {
        Ok(true) => {}
        Ok(false) => {
            info!("another run holds this company's lease; skipped");
            return Outcome::Busy;
        }
        Err(e) => {
            errors.push(e.to_string());
            return Outcome::Failed { error: e.to_string() };
        }
    }
    let stop = match credentials.credentials(&company.settings.credentials_ref).await {
        Ok(c) => body(Account { base_url: company.settings.api_base_url.clone(), credentials: c }).await,
        Err(e @ CredentialsError::Invalid { .. }) => Err(Stop::Credentials(e.to_string())),
        Err(e @ CredentialsError::Unavailable { .. }) => Err(Stop::Error(e.to_string())),
    };
    if let Err(e) = store.release_lease(id, job, run_id).await {
        warn!(error = %e, "could not release the lease; it expires by itself");
    }
    match stop {
        Ok(()) => Outcome::Completed,
        Err(Stop::Deadline) => Outcome::StoppedAtDeadline,
        Err(Stop::Credentials(reason)) => {
            if let Err(e) = store.set_credentials_failure(id, Some(reason.clone()), clock.now()).await {
                errors.push(format!("could not flag credentials: {e}"));
            }
            warn!(reason = %reason, "credentials failed; company flagged and skipped until cleared");
            Outcome::CredentialsFailed { reason }
        }
        Err(Stop::Error(error)) => {
            errors.push(error.clone());
            Outcome::Failed { error }
        }
    }
}

/// Replaces orders (conditional on their version). An order that changed underneath is
/// reloaded and `reapply` runs on it again (false: nothing left to do). Returns the orders as
/// now stored, versions included.
pub(crate) async fn save_orders<S: OrderStore>(
    store: &S,
    company: &CompanyId,
    orders: Vec<Order>,
    reapply: impl Fn(&mut Order) -> bool,
) -> Result<Vec<Order>, Stop> {
    let mut saved = Vec::with_capacity(orders.len());
    let mut pending = orders;
    for _ in 0..3 {
        if pending.is_empty() {
            return Ok(saved);
        }
        let lost = store.replace_orders(&pending).await?;
        let (won, _): (Vec<Order>, Vec<Order>) = pending.into_iter().partition(|o| !lost.contains(&o.order_number));
        saved.extend(won.into_iter().map(|mut o| {
            o.version += 1;
            o
        }));
        if lost.is_empty() {
            return Ok(saved);
        }
        let reloaded = store.get_orders(company, &lost).await?;
        pending = reloaded.into_values().filter_map(|mut o| reapply(&mut o).then_some(o)).collect();
    }
    Err(Stop::Error("orders kept changing underneath; will retry next run".into()))
}
