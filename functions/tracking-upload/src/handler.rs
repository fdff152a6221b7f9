use lambda_runtime::{Error, LambdaEvent};
use shared::credentials::CredentialsProvider;
use shared::domain::Clock;
use shared::overstock::OverstockApi;
use shared::services::tracking_upload::{UploadRun, Uploader};
use shared::store::{CompanyStore, MappingStore, OrderStore, SyncStateStore};
use tracing::Instrument;

const JOB: &str = "tracking-upload";

/// One scheduled tick: upload every enabled company's recorded shipments until done or near
/// the deadline. The payload is not needed (a scheduled event, or `{}`); its `time` is logged.
pub async fn handle<S, O, C, K>(
    uploader: &Uploader<'_, S, O, C, K>,
    announcer: &impl shared::queue::Announcer,
    event: LambdaEvent<serde_json::Value>,
) -> Result<UploadRun, Error>
where
    S: CompanyStore + MappingStore + OrderStore + SyncStateStore + shared::audit::AuditStore,
    O: OverstockApi,
    C: CredentialsProvider,
    K: Clock,
{
    let run_id = event.context.request_id.clone();
    let deadline = shared::domain::lambda_deadline(event.context.deadline, uploader.clock.now());
    let span = tracing::info_span!("tracking_upload", run_id = %run_id, scheduled = event.payload.get("time").and_then(|t| t.as_str()).unwrap_or("manual"));
    let (started, calls_before) = (std::time::Instant::now(), uploader.overstock.call_outcomes());
    let summary = uploader.run(&run_id, deadline).instrument(span).await?;
    // Metrics: Embedded Metric Format lines on stdout (CloudWatch extracts them; no API call).
    let calls_after = uploader.overstock.call_outcomes();
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    shared::metrics::emit(shared::metrics::upload(
        &summary,
        (&calls_before, &calls_after),
        elapsed_ms,
        uploader.clock.now(),
    ));
    tracing::info!(summary = %serde_json::to_string(&summary).unwrap_or_default(), "tracking upload finished");
    // Orders Overstock cancelled: told on the outcomes queue (the warehouse must not ship them).
    announcer.announce_cancellations(summary.cancelled_by_overstock()).await;
    shared::job::failed_run(JOB, summary.companies.iter().map(|c| (c.company_id.as_str(), &c.outcome)))?;
    Ok(summary)
}
