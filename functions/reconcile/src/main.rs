//! Wiring only: typed configuration, one SDK configuration, clients built once, the handler
//! borrowed into `service_fn`.

mod handler;

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use shared::credentials::ConfiguredProvider;
use shared::domain::SystemClock;
use shared::overstock::{ClientConfig, OverstockClient};
use shared::store::DynamoStore;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init()?;
    let env = shared::config::ProcessEnv;
    // Typed configuration first: a bad value stops the function at start, naming the variable.
    let client_config = ClientConfig::from_env(&env)?;
    let days = shared::config::number(&env, "RECONCILE_DAYS", 7i64, 1..=30)?;
    let config = shared::aws::sdk_config().await;
    let store = DynamoStore::from_config(&config)?;
    let credentials = ConfiguredProvider::from_env(&config)?;
    let overstock = OverstockClient::new(client_config)?;
    // The work queue's DLQ (work it cannot process) and the work queue itself.
    let keep = shared::queue::SqsOutcomes::dead_letters_only(&config, &env, "WORK_QUEUE_RECONCILE_DLQ_URL");
    let work = shared::queue::SqsWorkQueue::from_config(&config, &env);
    let ports =
        handler::Ports { store: &store, overstock: &overstock, credentials: &credentials, clock: &SystemClock, days };
    run(service_fn(|event: LambdaEvent<_>| handler::handle(&ports, &keep, &work, event))).await
}
