use lambda_runtime::{Error, LambdaEvent};
use shared::credentials::CredentialsProvider;
use shared::domain::Clock;
use shared::overstock::OverstockApi;
use shared::services::order_download::{Deps, RunSummary};
use shared::store::{CompanyStore, MappingStore, OrderStore, QuarantineStore, SyncStateStore};
use tracing::Instrument;

const JOB: &str = "order-download";

/// One scheduled tick: download every enabled company until done or near the deadline.
/// The payload is not needed (a scheduled event, or `{}` from a manual invoke); its `time` is logged.
pub async fn handle<S, O, C, K>(
    deps: &Deps<'_, S, O, C, K>,
    announcer: &impl shared::queue::Announcer,
    event: LambdaEvent<serde_json::Value>,
) -> Result<RunSummary, Error>
where
    S: CompanyStore + MappingStore + OrderStore + SyncStateStore + QuarantineStore + shared::audit::AuditStore,
    O: OverstockApi,
    C: CredentialsProvider,
    K: Clock,
{
    let run_id = event.context.request_id.clone();
    let deadline = shared::domain::lambda_deadline(event.context.deadline, deps.clock.now());
    let span = tracing::info_span!("order_download", run_id = %run_id, scheduled = event.payload.get("time").and_then(|t| t.as_str()).unwrap_or("manual"));
    tracing::info!(parent: &span, deadline = %shared::domain::utc_key(deadline), "order download starting");
    let (started, calls_before) = (std::time::Instant::now(), deps.overstock.call_outcomes());
    let summary = deps.run(&run_id, deadline).instrument(span).await?;
    // Metrics: Embedded Metric Format lines on stdout (CloudWatch extracts them; no API call).
    let calls_after = deps.overstock.call_outcomes();
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    shared::metrics::emit(shared::metrics::download(
        &summary,
        (&calls_before, &calls_after),
        elapsed_ms,
        deps.clock.now(),
    ));
    tracing::info!(summary = %serde_json::to_string(&summary).unwrap_or_default(), "order download finished");
    // Orders Overstock cancelled: told on the outcomes queue (the warehouse must not ship them).
    announcer.announce_cancellations(summary.cancelled_by_overstock()).await;
    shared::job::failed_run(JOB, summary.companies.iter().map(|c| (c.company_id.as_str(), &c.outcome)))?;
    Ok(summary)
}
