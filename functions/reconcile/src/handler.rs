use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;
use shared::credentials::CredentialsProvider;
use shared::domain::Clock;
use shared::domain::work::{Flow, WorkItem};
use shared::overstock::OverstockApi;
use shared::services::fanout::{DispatchStore, FlowPorts, Invocation, KeepFailed, Served, WorkQueue, serve};
use shared::services::reconcile::reconcile_one;
use shared::store::{CompanyStore, MappingStore, OrderStore, SyncStateStore};
use tracing::Instrument;

const JOB: &str = "reconcile";

pub struct Ports<'a, S, O, C, K> {
    pub store: &'a S,
    pub overstock: &'a O,
    pub credentials: &'a C,
    pub clock: &'a K,
    pub days: i64,
}

/// The daily check: every company's last `days` days compared with Overstock; the findings are
/// logged and emitted as metrics (nothing is repaired: that is an operator's `--repair`). A work
/// item from the reconcile work queue (the worker), a scheduled tick with `{"dispatch": "queue"}`
/// (the dispatcher), or any other payload (both, inline): see `shared::services::fanout::Invocation`.
pub async fn handle<S, O, C, K>(
    ports: &Ports<'_, S, O, C, K>,
    keep: &impl KeepFailed,
    queue: &impl WorkQueue,
    event: LambdaEvent<Value>,
) -> Result<Value, Error>
where
    S: CompanyStore
        + MappingStore
        + OrderStore
        + SyncStateStore
        + shared::audit::AuditStore
        + shared::store::InventoryStore
        + DispatchStore,
    O: OverstockApi,
    C: CredentialsProvider,
    K: Clock,
{
    let now = ports.clock.now();
    let deadline = shared::domain::lambda_deadline(event.context.deadline, now);
    let invocation = Invocation::of(event.payload, now)?;
    let span = tracing::info_span!("reconcile", run_id = %event.context.request_id, days = ports.days, invocation = invocation.name());
    let flow = FlowPorts {
        function: JOB,
        store: ports.store,
        queue,
        clock: ports.clock,
        keep,
        flow: Flow::Reconcile,
        // A company's check reads every hour of the period (168 GETs for 7 days): none is
        // started with less than 5 minutes left.
        margin: chrono::Duration::minutes(5),
        concurrency: 4,
    };
    let run_one = |item: WorkItem, _deadline| async move {
        reconcile_one(ports.store, ports.overstock, ports.credentials, ports.clock, ports.days, &item.company_id).await
    };
    let (batch, checks) = match serve(&flow, invocation, deadline, run_one).instrument(span).await? {
        Served::Dispatched(summary) => {
            tracing::info!(summary = %serde_json::to_string(&summary).unwrap_or_default(), "dispatch finished");
            return Ok(serde_json::to_value(&summary)?);
        }
        Served::Worked { batch, results } => (batch, results),
    };
    tracing::info!(checks = %serde_json::to_string(&checks).unwrap_or_default(), "reconciliation finished");
    shared::metrics::emit(shared::services::reconcile::metric_lines(&checks, ports.clock.now()));
    match batch {
        // A worker's failed check is kept on the DLQ with its reason (`ReconcileFailed` alarms).
        Some(response) => Ok(serde_json::to_value(&response)?),
        // An inline tick: a company that could not be checked fails the invocation too (after
        // every company ran and the metrics are out), so Lambda's Errors metric sees it.
        None => {
            let failed: Vec<&str> =
                checks.iter().filter(|c| c.error.is_some()).map(|c| c.company_id.as_str()).collect();
            if !failed.is_empty() {
                return Err(format!(
                    "reconcile: {} compan(ies) could not be checked: {}",
                    failed.len(),
                    failed.join(", ")
                )
                .into());
            }
            Ok(serde_json::to_value(&checks)?)
        }
    }
}
