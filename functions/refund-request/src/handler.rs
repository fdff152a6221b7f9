use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent};
use shared::aws::Calls;
use shared::credentials::CredentialsProvider;
use shared::domain::Clock;
use shared::overstock::OverstockApi;
use shared::services::requests::{OutcomeSink, RequestService};
use shared::store::{CompanyStore, OrderStore, RequestStore};

/// One batch from the refund queue: each message on its own (raw bodies, parsed one by one);
/// only the messages to retry are reported, so one bad message never fails or repeats the others.
pub async fn handle<S, O, C, K>(
    service: &RequestService<'_, S, O, C, K>,
    outcomes: &impl OutcomeSink,
    dynamodb_calls: impl Fn() -> Calls,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error>
where
    S: CompanyStore + OrderStore + RequestStore + shared::audit::AuditStore,
    O: OverstockApi,
    C: CredentialsProvider,
    K: Clock,
{
    let invocation = event.context.request_id;
    Ok(service.handle_invocation("refund-request", &invocation, outcomes, dynamodb_calls, event.payload).await)
}
