use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;
use shared::credentials::CredentialsProvider;
use shared::domain::Clock;
use shared::domain::work::Flow;
use shared::overstock::OverstockApi;
use shared::services::fanout::{DispatchStore, Dispatcher, KeepFailed, WorkQueue, run_inline, work_batch};
use shared::services::order_download::{Deps, RunSummary};
use shared::store::{CompanyStore, MappingStore, OrderStore, QuarantineStore, SyncStateStore};
use tracing::Instrument;

const JOB: &str = "order-download";

/// The function's three ways in (docs/decisions.md, "Per-company work over SQS"):
/// - an SQS batch from the download work queue: the worker, one company per item;
/// - a scheduled tick with `{"dispatch": "queue"}` (the template's): the dispatcher, one work
///   item per company on the queue;
/// - any other payload (a tick without a queue, a manual `{}`): the same dispatcher and worker in
///   this invocation, the companies `DOWNLOAD_CONCURRENCY` at a time.
pub async fn handle<S, O, C, K>(
    deps: &Deps<'_, S, O, C, K>,
    out: &(impl shared::queue::Announcer + KeepFailed),
    queue: &impl WorkQueue,
    event: LambdaEvent<Value>,
) -> Result<Value, Error>
where
    S: CompanyStore
        + MappingStore
        + OrderStore
        + SyncStateStore
        + QuarantineStore
        + shared::audit::AuditStore
        + DispatchStore,
    O: OverstockApi,
    C: CredentialsProvider,
    K: Clock,
{
    let run_id = event.context.request_id.clone();
    let now = deps.clock.now();
    let deadline = shared::domain::lambda_deadline(event.context.deadline, now);
    let tick = event
        .payload
        .get("time")
        .and_then(|t| t.as_str())
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map_or(now, |t| t.with_timezone(&chrono::Utc));
    let (started, calls_before) = (std::time::Instant::now(), deps.overstock.call_outcomes());
    // The lease owner: the item's tick and company, and this invocation (a tick delivered twice,
    // or an item redelivered while its first delivery still runs, is another owner).
    let invocation = run_id.as_str();
    let run_one = |item: shared::domain::work::WorkItem, deadline| async move {
        deps.run_one(&item.company_id, &format!("{}:{invocation}", item.run_id()), deadline).await
    };
    let margin = deps.config.deadline_margin;
    let (reply, summary) = if event.payload.get("Records").is_some() {
        let batch: aws_lambda_events::event::sqs::SqsEvent = serde_json::from_value(event.payload)?;
        let span = tracing::info_span!("order_download_worker", run_id = %run_id, items = batch.records.len());
        let (response, companies) =
            work_batch(deps.store, deps.clock, out, Flow::Download, batch, deadline, margin, run_one)
                .instrument(span)
                .await;
        (serde_json::to_value(&response)?, RunSummary { run_id: run_id.clone(), companies })
    } else if event.payload.get("dispatch").and_then(|d| d.as_str()) == Some("queue") {
        let dispatcher = Dispatcher { store: deps.store, queue, clock: deps.clock, config: Default::default() };
        let span =
            tracing::info_span!("order_download_dispatch", run_id = %run_id, tick = %shared::domain::utc_key(tick));
        let summary = dispatcher.dispatch(Flow::Download, tick).instrument(span).await?;
        shared::metrics::emit(vec![shared::metrics::dispatch_line(
            JOB,
            summary.companies,
            summary.dispatched,
            summary.in_flight.len(),
            summary.errors.len(),
            deps.clock.now(),
        )]);
        tracing::info!(summary = %serde_json::to_string(&summary).unwrap_or_default(), "dispatch finished");
        return Ok(serde_json::to_value(&summary)?);
    } else {
        let span = tracing::info_span!("order_download", run_id = %run_id, tick = %shared::domain::utc_key(tick));
        tracing::info!(parent: &span, deadline = %shared::domain::utc_key(deadline), "order download starting (inline)");
        let concurrency = deps.config.concurrency;
        let (_, companies) =
            run_inline(deps.store, deps.clock, Flow::Download, tick, deadline, margin, concurrency, run_one)
                .instrument(span)
                .await?;
        let summary = RunSummary { run_id: run_id.clone(), companies };
        (serde_json::to_value(&summary)?, summary)
    };
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
    out.announce_cancellations(summary.cancelled_by_overstock()).await;
    if event_is_tick(&reply) {
        shared::job::failed_run(JOB, summary.companies.iter().map(|c| (c.company_id.as_str(), &c.outcome)))?;
    }
    Ok(reply)
}

/// A tick's reply (a run summary) fails the invocation when a company failed, so Lambda's Errors
/// metric sees it; a worker's reply never does (that would redeliver the whole batch): its
/// failures are its item failures and the `CompanyFailed` metric.
fn event_is_tick(reply: &Value) -> bool {
    reply.get("batchItemFailures").is_none()
}
