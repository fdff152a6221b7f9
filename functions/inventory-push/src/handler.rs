use lambda_runtime::{Error, LambdaEvent};
use shared::audit::AuditStore;
use shared::credentials::CredentialsProvider;
use shared::domain::Clock;
use shared::job::Ports;
use shared::overstock::OverstockApi;
use shared::services::inventory::{JOB, PushConfig, PushRun};
use shared::store::{CompanyStore, InventoryStore, SyncStateStore};
use tracing::Instrument;

/// One scheduled tick: for every company with inventory upload on, send what changed (and, once
/// a day, compare with what Overstock holds). The payload is not needed; its `time` is logged.
pub async fn handle<S, O, C, K>(
    pusher: &Ports<'_, S, O, C, K, PushConfig>,
    event: LambdaEvent<serde_json::Value>,
) -> Result<PushRun, Error>
where
    S: CompanyStore + InventoryStore + SyncStateStore + AuditStore,
    O: OverstockApi,
    C: CredentialsProvider,
    K: Clock,
{
    let run_id = event.context.request_id.clone();
    let deadline = shared::domain::lambda_deadline(event.context.deadline, pusher.clock.now());
    let span = tracing::info_span!("inventory_push", run_id = %run_id, scheduled = event.payload.get("time").and_then(|t| t.as_str()).unwrap_or("manual"));
    let (started, calls_before) = (std::time::Instant::now(), pusher.overstock.call_outcomes());
    let summary = pusher.run(&run_id, deadline).instrument(span).await?;
    let calls_after = pusher.overstock.call_outcomes();
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    shared::metrics::emit(shared::metrics::inventory(
        &summary,
        (&calls_before, &calls_after),
        elapsed_ms,
        pusher.clock.now(),
    ));
    tracing::info!(summary = %serde_json::to_string(&summary).unwrap_or_default(), "inventory push finished");
    shared::job::failed_run(JOB, summary.companies.iter().map(|c| (c.company_id.as_str(), &c.outcome)))?;
    Ok(summary)
}
