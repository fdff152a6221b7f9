use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;
use shared::credentials::CredentialsProvider;
use shared::domain::Clock;
use shared::domain::work::{Flow, WorkItem};
use shared::overstock::OverstockApi;
use shared::services::fanout::{DispatchStore, FlowPorts, Invocation, KeepFailed, Served, WorkQueue, serve};
use shared::services::tracking_upload::{UploadRun, Uploader};
use shared::store::{CompanyStore, MappingStore, OrderStore, SyncStateStore};
use tracing::Instrument;

const JOB: &str = "tracking-upload";

/// A work item from the upload work queue (the worker), a scheduled tick with
/// `{"dispatch": "queue"}` (the dispatcher), or any other payload (both, inline): see
/// `shared::services::fanout::Invocation`.
pub async fn handle<S, O, C, K>(
    uploader: &Uploader<'_, S, O, C, K>,
    out: &(impl shared::queue::Announcer + KeepFailed),
    queue: &impl WorkQueue,
    event: LambdaEvent<Value>,
) -> Result<Value, Error>
where
    S: CompanyStore + MappingStore + OrderStore + SyncStateStore + shared::audit::AuditStore + DispatchStore,
    O: OverstockApi,
    C: CredentialsProvider,
    K: Clock,
{
    let run_id = event.context.request_id.clone();
    let now = uploader.clock.now();
    let deadline = shared::domain::lambda_deadline(event.context.deadline, now);
    let invocation = Invocation::of(event.payload, now)?;
    let span = tracing::info_span!("tracking_upload", run_id = %run_id, invocation = invocation.name());
    let ports = FlowPorts {
        function: JOB,
        store: uploader.store,
        queue,
        clock: uploader.clock,
        keep: out,
        flow: Flow::Upload,
        margin: uploader.config.deadline_margin,
        concurrency: uploader.config.concurrency,
    };
    let (started, calls_before) = (std::time::Instant::now(), uploader.overstock.call_outcomes());
    // The lease owner: the item's tick and company, and this invocation.
    let invocation_id = run_id.as_str();
    let run_one = |item: WorkItem, deadline| async move {
        uploader.run_one(&item.company_id, &format!("{}:{invocation_id}", item.run_id()), deadline).await
    };
    let (batch, companies) = match serve(&ports, invocation, deadline, run_one).instrument(span).await? {
        Served::Dispatched(summary) => {
            tracing::info!(summary = %serde_json::to_string(&summary).unwrap_or_default(), "dispatch finished");
            return Ok(serde_json::to_value(&summary)?);
        }
        Served::Worked { batch, results } => (batch, results),
    };
    let summary = UploadRun { run_id, companies };
    // Metrics: Embedded Metric Format lines on stdout (CloudWatch extracts them; no API call).
    let calls_after = uploader.overstock.call_outcomes();
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    shared::metrics::emit(shared::services::tracking_upload::metric_lines(
        &summary,
        (&calls_before, &calls_after),
        elapsed_ms,
        uploader.clock.now(),
    ));
    tracing::info!(summary = %serde_json::to_string(&summary).unwrap_or_default(), "tracking upload finished");
    // Orders Overstock cancelled: told on the outcomes queue (the warehouse must not ship them).
    out.announce_cancellations(summary.cancelled_by_overstock()).await;
    match batch {
        Some(response) => Ok(serde_json::to_value(&response)?),
        None => {
            shared::job::failed_run(JOB, summary.companies.iter().map(|c| (c.company_id.as_str(), &c.outcome)))?;
            Ok(serde_json::to_value(&summary)?)
        }
    }
}
