//! Wiring only: one SDK configuration, clients built once, the handler borrowed into `service_fn`.

mod handler;

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use shared::credentials::ConfiguredProvider;
use shared::domain::SystemClock;
use shared::overstock::{ClientConfig, OverstockClient};
use shared::services::tracking_upload::{UploadConfig, Uploader};
use shared::store::DynamoStore;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init()?;
    let env = shared::config::ProcessEnv;
    // Typed configuration first: a bad value stops the function at start, naming the variable.
    let client_config = ClientConfig::from_env(&env)?;
    let job_config = UploadConfig::from_env(&env)?;
    let config = shared::aws::sdk_config().await;
    let store = DynamoStore::from_config(&config)?;
    let credentials = ConfiguredProvider::from_env(&config)?;
    let overstock = OverstockClient::new(client_config)?;
    // The outcomes queue (announcements) and the work queue's DLQ (work it cannot process).
    let outcomes = shared::queue::SqsOutcomes::from_config(&config, &env, Some("WORK_QUEUE_UPLOAD_DLQ_URL"));
    let work = shared::queue::SqsWorkQueue::from_config(&config, &env);
    let uploader = Uploader {
        store: &store,
        overstock: &overstock,
        credentials: &credentials,
        clock: &SystemClock,
        config: job_config,
    };
    run(service_fn(|event: LambdaEvent<_>| handler::handle(&uploader, &outcomes, &work, event))).await
}
