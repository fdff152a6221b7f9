//! Wiring only: one SDK configuration, clients built once, the handler borrowed into `service_fn`.

mod handler;

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use shared::domain::SystemClock;
use shared::queue::SqsOutcomes;
use shared::services::inventory::IntakeService;
use shared::store::DynamoStore;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init()?;
    let env = shared::config::ProcessEnv;
    let config = shared::aws::sdk_config().await;
    let store = DynamoStore::from_config(&config)?;
    // Unprocessable messages go to the intake queue's own DLQ at once, with the reason.
    let dead_letters = SqsOutcomes::dead_letters_only(&config, &env, "INVENTORY_INTAKE_DLQ_URL");
    let service = IntakeService { store: &store, clock: &SystemClock };
    run(service_fn(|event: LambdaEvent<_>| handler::handle(&service, &dead_letters, event))).await
}
