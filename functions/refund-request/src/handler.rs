use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent};
use shared::aws::Calls;
use shared::credentials::CredentialsProvider;
use shared::domain::Clock;
use shared::overstock::OverstockApi;
use shared::services::requests::{OutcomeSink, RequestService};
use shared::store::{CompanyStore, OrderStore, RequestStore};
use tracing::Instrument;

/// One batch from the refund queue: each message on its own (raw bodies, parsed one by one);
/// only the messages to retry are reported, so one bad message never fails or repeats the others.
/// The closing log line carries the batch's DynamoDB calls (the request benchmark reads them).
pub async fn handle<S, O, C, K>(
    service: &RequestService<'_, S, O, C, K>,
    outcomes: &impl OutcomeSink,
    dynamodb_calls: impl Fn() -> Calls,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error>
where
    S: CompanyStore + OrderStore + RequestStore,
    O: OverstockApi,
    C: CredentialsProvider,
    K: Clock,
{
    let span = tracing::info_span!("refund-request", invocation = %event.context.request_id, messages = event.payload.records.len());
    let before = dynamodb_calls();
    let messages = event.payload.records.len();
    let response = service.handle_batch(outcomes, event.payload).instrument(span.clone()).await;
    let calls = dynamodb_calls().since(before);
    span.in_scope(|| {
        tracing::info!(
            retried = response.batch_item_failures.len(),
            dynamodb_operations = calls.operations,
            dynamodb_attempts = calls.attempts,
            "batch finished"
        )
    });
    let line = shared::metrics::request_batch(
        "refund-request",
        messages,
        response.batch_item_failures.len(),
        calls.operations,
        service.clock.now(),
    );
    shared::metrics::emit(vec![line]);
    Ok(response)
}
