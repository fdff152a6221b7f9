use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;
use shared::audit::AuditStore;
use shared::credentials::CredentialsProvider;
use shared::domain::Clock;
use shared::domain::work::{Flow, WorkItem};
use shared::job::Ports;
use shared::overstock::OverstockApi;
use shared::services::fanout::{DispatchStore, FlowPorts, Invocation, KeepFailed, Served, WorkQueue, serve};
use shared::services::inventory::{JOB, PushConfig, PushRun};
use shared::store::{CompanyStore, InventoryStore, SyncStateStore};
use tracing::Instrument;

/// A work item from the inventory work queue (the worker), a scheduled tick with
/// `{"dispatch": "queue"}` (the dispatcher), or any other payload (both, inline): see
/// `shared::services::fanout::Invocation`. Each company: send what changed (and, once a day,
/// compare with what Overstock holds).
pub async fn handle<S, O, C, K>(
    pusher: &Ports<'_, S, O, C, K, PushConfig>,
    keep: &impl KeepFailed,
    queue: &impl WorkQueue,
    event: LambdaEvent<Value>,
) -> Result<Value, Error>
where
    S: CompanyStore + InventoryStore + SyncStateStore + AuditStore + DispatchStore,
    O: OverstockApi,
    C: CredentialsProvider,
    K: Clock,
{
    let run_id = event.context.request_id.clone();
    let now = pusher.clock.now();
    let deadline = shared::domain::lambda_deadline(event.context.deadline, now);
    let invocation = Invocation::of(event.payload, now)?;
    let span = tracing::info_span!("inventory_push", run_id = %run_id, invocation = invocation.name());
    let ports = FlowPorts {
        function: JOB,
        store: pusher.store,
        queue,
        clock: pusher.clock,
        keep,
        flow: Flow::Inventory,
        margin: pusher.config.deadline_margin,
        concurrency: pusher.config.concurrency,
    };
    let (started, calls_before) = (std::time::Instant::now(), pusher.overstock.call_outcomes());
    // The lease owner: the item's tick and company, and this invocation.
    let invocation_id = run_id.as_str();
    let run_one = |item: WorkItem, deadline| async move {
        pusher.run_one(&item.company_id, &format!("{}:{invocation_id}", item.run_id()), deadline).await
    };
    let (batch, companies) = match serve(&ports, invocation, deadline, run_one).instrument(span).await? {
        Served::Dispatched(summary) => {
            tracing::info!(summary = %serde_json::to_string(&summary).unwrap_or_default(), "dispatch finished");
            return Ok(serde_json::to_value(&summary)?);
        }
        Served::Worked { batch, results } => (batch, results),
    };
    let finished_at = shared::domain::utc_key(pusher.clock.now());
    let summary = PushRun { run_id, started_at: shared::domain::utc_key(now), finished_at, companies };
    let calls_after = pusher.overstock.call_outcomes();
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    shared::metrics::emit(shared::services::inventory::metric_lines(
        &summary,
        (&calls_before, &calls_after),
        elapsed_ms,
        pusher.clock.now(),
    ));
    tracing::info!(summary = %serde_json::to_string(&summary).unwrap_or_default(), "inventory push finished");
    match batch {
        Some(response) => Ok(serde_json::to_value(&response)?),
        None => {
            shared::job::failed_run(JOB, summary.companies.iter().map(|c| (c.company_id.as_str(), &c.outcome)))?;
            Ok(serde_json::to_value(&summary)?)
        }
    }
}
