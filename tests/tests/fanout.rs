//! The fan-out's ports with the real adapters: the SQS work queue on moto and the dispatch
//! markers in moto's DynamoDB keep the same contracts as the in-memory ones the unit tests use;
//! a dispatch over real companies puts one item per served company on the queue.

use chrono::{Duration, Utc};
use shared::domain::SystemClock;
use shared::domain::work::{Flow, parse_work};
use shared::queue::SqsWorkQueue;
use shared::services::fanout::{DispatchConfig, Dispatcher, dispatch_store_contract, work_queue_contract};
use tests::World;

async fn sqs() -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await)
}

/// Every body on the queue now, each deleted once read.
async fn drain(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let got = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let messages = got.messages.unwrap_or_default();
        if messages.is_empty() {
            return out;
        }
        for m in messages {
            out.extend(m.body.clone());
            if let Some(h) = m.receipt_handle {
                sqs.delete_message().queue_url(url).receipt_handle(h).send().await.unwrap_or_else(|e| panic!("{e}"));
            }
        }
    }
}

#[tokio::test]
async fn the_sqs_work_queue_keeps_the_contract() {
    let sqs = sqs().await;
    let url = tests::queue(&sqs, "work-download").await;
    let q = SqsWorkQueue::new(sqs.clone(), [(Flow::Download, url.clone())]);
    let r = work_queue_contract(&q, Flow::Download, || drain(&sqs, &url)).await;
    assert_eq!(r, Ok(()));
    let none = shared::services::fanout::WorkQueue::enqueue(
        &q,
        Flow::Upload,
        &[shared::domain::work::WorkItem {
            flow: Flow::Upload,
            company_id: shared::domain::CompanyId::parse("acme").unwrap_or_else(|e| panic!("{e}")),
            tick: Utc::now(),
        }],
    )
    .await;
    assert!(none.is_err_and(|e| e.contains("WORK_QUEUE_UPLOAD_URL")), "a flow without a queue says which variable");
}

#[tokio::test]
async fn dynamodb_keeps_the_dispatch_contract() {
    let w = World::new().await;
    let id = shared::domain::CompanyId::parse("acme").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(dispatch_store_contract(&w.store, &id).await, Ok(()));
}

/// Three companies (one with download off): two items on the download queue, none a tick later
/// while they are in flight.
#[tokio::test]
async fn a_dispatch_puts_one_item_per_served_company_on_the_queue() {
    let mut w = World::new().await;
    let a = w.company("current", |_| {}).await;
    let b = w.company("current", |_| {}).await;
    let _off = w.company("current", |s| s.order_download = false).await;
    let sqs = sqs().await;
    let url = tests::queue(&sqs, "work-download").await;
    let q = SqsWorkQueue::new(sqs.clone(), [(Flow::Download, url.clone())]);
    let d = Dispatcher { store: &w.store, queue: &q, clock: &SystemClock, config: DispatchConfig::default() };
    let tick = Utc::now();
    let s = d.dispatch(Flow::Download, tick).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((s.companies, s.dispatched, s.not_served.len()), (3, 2, 1), "{s:?}");
    let mut got: Vec<String> =
        drain(&sqs, &url).await.iter().filter_map(|b| parse_work(b).ok()).map(|i| i.company_id.to_string()).collect();
    got.sort();
    let mut want = vec![a.to_string(), b.to_string()];
    want.sort();
    assert_eq!(got, want);
    let again = d.dispatch(Flow::Download, tick + Duration::minutes(1)).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((again.dispatched, again.in_flight.len()), (0, 2), "{again:?}");
    assert!(drain(&sqs, &url).await.is_empty());
}
