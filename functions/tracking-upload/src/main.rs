//! Wiring only: one SDK configuration, clients built once, the handler borrowed into `service_fn`.

mod handler;

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use shared::credentials::ConfiguredProvider;
use shared::domain::SystemClock;
use shared::overstock::{OverstockClient, RetryPolicy};
use shared::store::DynamoStore;
use shared::upload::{UploadConfig, Uploader};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let store = DynamoStore::from_config(&config);
    let credentials = ConfiguredProvider::from_env(&config)?;
    let overstock = OverstockClient::new(RetryPolicy::from_env())?;
    let uploader = Uploader { store: &store, overstock: &overstock, credentials: &credentials, clock: &SystemClock, config: UploadConfig::from_env() };
    run(service_fn(|event: LambdaEvent<_>| handler::handle(&uploader, event))).await
}
