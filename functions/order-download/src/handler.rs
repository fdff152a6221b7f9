use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Duration, Utc};
use lambda_runtime::{Error, LambdaEvent};
use shared::credentials::CredentialsProvider;
use shared::domain::Clock;
use shared::download::{Deps, RunSummary};
use shared::overstock::OverstockApi;
use shared::store::{CompanyStore, MappingStore, OrderStore, SyncStateStore};
use tracing::Instrument;

/// One scheduled tick: download every enabled company until done or near the deadline.
pub async fn handle<S, O, C, K>(deps: &Deps<'_, S, O, C, K>, event: LambdaEvent<EventBridgeEvent<serde_json::Value>>) -> Result<RunSummary, Error>
where
    S: CompanyStore + MappingStore + OrderStore + SyncStateStore,
    O: OverstockApi,
    C: CredentialsProvider,
    K: Clock,
{
    let run_id = event.context.request_id.clone();
    let deadline = i64::try_from(event.context.deadline)
        .ok()
        .and_then(DateTime::<Utc>::from_timestamp_millis)
        .unwrap_or_else(|| deps.clock.now() + Duration::minutes(1));
    let span = tracing::info_span!("order_download", run_id = %run_id, scheduled = ?event.payload.time);
    let summary = deps.run(&run_id, deadline).instrument(span).await?;
    tracing::info!(summary = %serde_json::to_string(&summary).unwrap_or_default(), "order download finished");
    Ok(summary)
}
