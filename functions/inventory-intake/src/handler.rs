use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent};
use shared::domain::Clock;
use shared::services::inventory::{DeadLetters, IntakeService};
use shared::store::{CompanyStore, InventoryStore};
use tracing::Instrument;

/// One batch from the intake queue: each message parsed and applied on its own (raw bodies);
/// only the messages that may succeed later are reported, a malformed one is kept on the DLQ.
pub async fn handle<S, K>(
    service: &IntakeService<'_, S, K>,
    dead_letters: &impl DeadLetters,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error>
where
    S: CompanyStore + InventoryStore,
    K: Clock,
{
    let span = tracing::info_span!(
        "intake-batch",
        invocation = %event.context.request_id,
        messages = event.payload.records.len()
    );
    Ok(service.handle_batch(dead_letters, event.payload).instrument(span).await)
}
