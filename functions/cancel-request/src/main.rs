//! Wiring only: typed configuration, one SDK configuration, clients built once, the handler
//! borrowed into `service_fn`.

mod handler;

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use shared::credentials::ConfiguredProvider;
use shared::domain::SystemClock;
use shared::overstock::{ClientConfig, OverstockClient};
use shared::queue::SqsOutcomes;
use shared::services::requests::{CANCEL_QUEUE, RequestService};
use shared::store::DynamoStore;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init()?;
    let env = shared::config::ProcessEnv;
    // Typed configuration first: a bad value stops the function at start, naming the variable.
    let client_config = ClientConfig::from_env(&env)?;
    let config = shared::aws::sdk_config().await;
    let store = DynamoStore::from_config(&config)?;
    let credentials = ConfiguredProvider::from_env(&config)?;
    let overstock = OverstockClient::new(client_config)?;
    let outcomes = SqsOutcomes::from_config(&config, &env, Some("CANCEL_REQUESTS_DLQ_URL"));
    let service = RequestService {
        store: &store,
        overstock: &overstock,
        credentials: &credentials,
        clock: &SystemClock,
        config: CANCEL_QUEUE.with_env(&env)?,
    };
    run(service_fn(|event: LambdaEvent<_>| handler::handle(&service, &outcomes, || store.calls(), event))).await
}
