//! Companies benchmark (not a timed test): one download tick for many companies, each with its
//! own sandbox account answering after 150 ms (an HTTPS call across the internet), 0-3 new
//! orders each, through the production path: the dispatcher puts one item per company on an
//! SQS work queue (moto), a pump receives them and runs the worker (`work_batch` + `run_one`)
//! for each, `WORKERS` at once (the event source mapping's `MaximumConcurrency`).
//!
//! Prints the time from the tick to the last company done, the companies done within 60 s and
//! left, Overstock and DynamoDB calls per company, peak RSS, and the floor: the same number of
//! DynamoDB calls (same actions, same tables) issued directly with the same concurrency, plus
//! the Overstock calls' latency spread over the workers, plus the work queue's SQS calls on the
//! same moto (sends, receives, deletes) — so that moto's own speed shows as a ratio. `COMPANIES=1000,10000` (default `1000`) and `WORKERS` (default one per 40 companies,
//! at least 10: what a tick at 150 ms a call needs, see docs/decisions.md) choose the scenarios.

use aws_lambda_events::event::sqs::SqsEvent;
use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;
use serde_json::json;
use shared::credentials::{Credentials, CredentialsError, CredentialsProvider, Secret};
use shared::domain::mapping::ShippingMethodMapping;
use shared::domain::settings::{Company, CompanySettings, CredentialsHealth, CredentialsRef, LookbackHours};
use shared::domain::work::Flow;
use shared::domain::{CompanyId, SystemClock};
use shared::overstock::OverstockApi;
use shared::queue::SqsWorkQueue;
use shared::services::fanout::{DispatchConfig, Dispatcher, work_batch};
use shared::services::order_download::{CompanySummary, Deps};
use shared::store::{CompanyStore, MappingStore};
use std::time::Instant;
use tests::iam::{Recorder, recorded_store};
use tests::{Goals, World, peak_rss_mib, unique};

const LATENCY_MS: u64 = 150;
const PASSWORD: &str = "bench-password";

/// Every company's account has the same password; the username is the reference (a file of
/// 10,000 entries read per call would measure JSON parsing, not the fan-out).
struct BenchCredentials;

impl CredentialsProvider for BenchCredentials {
    async fn credentials(&self, reference: &str) -> Result<Credentials, CredentialsError> {
        Ok(Credentials { username: reference.to_owned(), password: Secret::new(PASSWORD) })
    }
}

async fn sqs() -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await)
}

/// Creates `n` companies (sandbox account with 150 ms latency, company row, one mapping).
async fn companies(w: &World, n: usize) -> Vec<CompanyId> {
    let prefix = unique("c");
    let ids: Vec<CompanyId> =
        (0..n).map(|i| CompanyId::parse(&format!("{prefix}-{i:05}")).unwrap_or_else(|e| panic!("{e}"))).collect();
    futures::stream::iter(&ids)
        .for_each_concurrent(32, |id| async move {
            w.sandbox.create_account(id.as_str(), PASSWORD, tests::WAREHOUSE, "current").await;
            w.sandbox.faults(id.as_str(), json!({"latency_ms": LATENCY_MS})).await;
            let mut settings = CompanySettings::new(
                tests::WAREHOUSE.into(),
                tests::base_url(&w.sandbox.base),
                CredentialsRef::parse(id.as_str()).unwrap_or_else(|e| panic!("{e}")),
            );
            settings.order_download = true;
            settings.order_acknowledgement = true;
            settings.initial_lookback_hours = LookbackHours::new(1).unwrap_or_else(|e| panic!("{e}"));
            let now = Utc::now();
            let company = Company {
                company_id: id.clone(),
                name: id.to_string(),
                settings,
                credentials_health: CredentialsHealth::Ok,
                created_at: now,
                updated_at: now,
            };
            w.store.create_company(&company).await.unwrap_or_else(|e| panic!("{e}"));
            let mapping =
                ShippingMethodMapping::new("GROUND", "Ground", "FEDEX", false).unwrap_or_else(|e| panic!("{e}"));
            w.store.put_mapping(id, &mapping).await.unwrap_or_else(|e| panic!("{e}"));
        })
        .await;
    ids
}

/// What one tick did.
struct Tick {
    summaries: Vec<(f64, CompanySummary)>,
    seconds: f64,
    /// The dispatch's own time, and the workers' busy time summed (over workers: their use).
    dispatch: f64,
    busy: f64,
    overstock_calls: u64,
    dynamodb: Vec<tests::iam::Call>,
}

/// One tick: dispatch, then the pump feeding `workers` workers until `n` items are worked (or
/// 180 s pass).
async fn tick(w: &World, n: usize, workers: usize, recorder: &Recorder) -> Tick {
    let store = recorded_store(&w.store, recorder).await;
    let sqs = sqs().await;
    let url = tests::queue(&sqs, "work-download").await;
    let queue = SqsWorkQueue::new(sqs.clone(), [(Flow::Download, url.clone())]);
    let keep = shared::queue::SqsOutcomes::new(sqs.clone(), None);
    let deps = Deps {
        store: &store,
        overstock: &w.overstock,
        credentials: &BenchCredentials,
        clock: &SystemClock,
        config: w.config.clone(),
    };
    let overstock_before: u64 = w.overstock.call_outcomes().values().sum();
    recorder.clear();
    let start = Instant::now();
    let dispatcher =
        Dispatcher { store: &store, queue: &queue, clock: &SystemClock, config: DispatchConfig::default() };
    // The pump polls from the start, as Lambda's event source mapping does: workers begin while
    // the dispatcher is still sending.
    let dispatch_done = std::sync::Mutex::new(0.0f64);
    let dispatching = async {
        let d = dispatcher.dispatch(Flow::Download, Utc::now()).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(d.dispatched, n, "every company dispatched: {:?}", d.in_flight);
        *dispatch_done.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = start.elapsed().as_secs_f64();
    };
    let busy = std::sync::Mutex::new(0.0f64);
    let (tx, rx) = tokio::sync::mpsc::channel::<(String, String)>(workers * 2);
    let pump = async {
        let mut received = 0;
        while received < n && start.elapsed() < std::time::Duration::from_secs(180) {
            let got = sqs
                .receive_message()
                .queue_url(&url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            for m in got.messages.unwrap_or_default() {
                received += 1;
                let pair = (m.body.unwrap_or_default(), m.receipt_handle.unwrap_or_default());
                if tx.send(pair).await.is_err() {
                    return;
                }
            }
        }
        drop(tx);
    };
    let done = std::sync::Mutex::new(Vec::new());
    let work = tokio_stream_of(rx).for_each_concurrent(workers, |(body, handle)| {
        let (deps, store, keep, sqs, url, done, busy) = (&deps, &store, &keep, &sqs, &url, &done, &busy);
        async move {
            let began = Instant::now();
            let event: SqsEvent = serde_json::from_value(json!({"Records": [{"messageId": "m", "body": body}]}))
                .unwrap_or_else(|e| panic!("{e}"));
            let deadline: DateTime<Utc> = Utc::now() + Duration::seconds(60);
            let (response, worked) = work_batch(
                store,
                &SystemClock,
                keep,
                Flow::Download,
                event,
                deadline,
                Duration::seconds(10),
                |item: shared::domain::work::WorkItem, deadline| async move {
                    deps.run_one(&item.company_id, &item.run_id(), deadline).await
                },
            )
            .await;
            if response.batch_item_failures.is_empty() {
                sqs.delete_message()
                    .queue_url(url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            let at = start.elapsed().as_secs_f64();
            *busy.lock().unwrap_or_else(std::sync::PoisonError::into_inner) += began.elapsed().as_secs_f64();
            let mut d = done.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            d.extend(worked.into_iter().map(|s| (at, s)));
        }
    });
    tokio::join!(dispatching, pump, work);
    let dispatch = dispatch_done.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    let seconds = start.elapsed().as_secs_f64();
    let overstock_calls = w.overstock.call_outcomes().values().sum::<u64>() - overstock_before;
    Tick {
        summaries: done.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner),
        seconds,
        dispatch,
        busy: busy.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner),
        overstock_calls,
        dynamodb: recorder.log(),
    }
}

fn tokio_stream_of<T: Send + 'static>(mut rx: tokio::sync::mpsc::Receiver<T>) -> impl futures::Stream<Item = T> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// The floor: the tick's DynamoDB calls (same action, same table) issued directly, `workers`
/// at once, each the cheapest call of its kind; then the Overstock calls' latency over the
/// workers. Seconds.
async fn floor(w: &World, calls: &[tests::iam::Call], ids: &[CompanyId], overstock_calls: u64, workers: usize) -> f64 {
    use aws_sdk_dynamodb::types::AttributeValue as V;
    let client = w.store.client();
    let tables = w.store.tables();
    let start = Instant::now();
    futures::stream::iter(calls.iter().enumerate())
        .for_each_concurrent(workers, |(i, call)| async move {
            let id = ids[i % ids.len()].as_str();
            let table = |name: &str| call.resource.contains(name);
            let r = match call.action.as_str() {
                "dynamodb:GetItem" if table("companies") => client
                    .get_item()
                    .table_name(&tables.companies)
                    .key("company_id", V::S(id.into()))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                "dynamodb:Query" => client
                    .query()
                    .table_name(&tables.mappings)
                    .key_condition_expression("company_id = :c")
                    .expression_attribute_values(":c", V::S(id.into()))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                "dynamodb:GetItem" => client
                    .get_item()
                    .table_name(&tables.sync_state)
                    .key("company_id", V::S(id.into()))
                    .key("job", V::S("floor".into()))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                _ => client
                    .update_item()
                    .table_name(&tables.sync_state)
                    .key("company_id", V::S(id.into()))
                    .key("job", V::S("floor".into()))
                    .update_expression("SET n = :n")
                    .expression_attribute_values(":n", V::N(i.to_string()))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
            };
            r.unwrap_or_else(|e| panic!("floor call {}: {e}", call.action));
        })
        .await;
    let dynamodb = start.elapsed().as_secs_f64();
    dynamodb + overstock_calls as f64 * LATENCY_MS as f64 / 1000.0 / workers as f64
}

/// The work queue's share of the floor: the same SQS calls a tick makes on moto (the items sent
/// ten a call, received ten a call, each deleted, `workers` at once), directly. Seconds.
async fn sqs_floor(n: usize, workers: usize) -> f64 {
    use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
    let sqs = sqs().await;
    let url = tests::queue(&sqs, "floor").await;
    let start = Instant::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(10) {
        let entries: Vec<SendMessageBatchRequestEntry> = chunk
            .iter()
            .map(|i| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(format!("{{\"n\":{i}}}"))
                    .build()
                    .unwrap_or_else(|e| panic!("{e}"))
            })
            .collect();
        sqs.send_message_batch()
            .queue_url(&url)
            .set_entries(Some(entries))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let mut handles = Vec::new();
    while handles.len() < n {
        let got = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        handles.extend(got.messages.unwrap_or_default().into_iter().filter_map(|m| m.receipt_handle));
    }
    futures::stream::iter(handles)
        .for_each_concurrent(workers, |h| {
            let (sqs, url) = (&sqs, &url);
            async move {
                sqs.delete_message().queue_url(url).receipt_handle(h).send().await.unwrap_or_else(|e| panic!("{e}"));
            }
        })
        .await;
    start.elapsed().as_secs_f64()
}

async fn scenario(n: usize, workers: usize, goals: &Goals) {
    let w = World::new().await;
    let t = Instant::now();
    let ids = companies(&w, n).await;
    println!("--- {n} companies, {workers} workers, {LATENCY_MS} ms per Overstock call ---");
    println!("setup                        {:8.1} s", t.elapsed().as_secs_f64());
    let recorder = Recorder::default();
    // A first tick sets every watermark (a deployment's steady state is what is measured).
    let first = tick(&w, n, workers, &recorder).await;
    println!("first tick (no orders)       {:8.1} s", first.seconds);
    // 0-3 new orders per company.
    let created = Utc::now() - Duration::seconds(30);
    futures::stream::iter(ids.iter().enumerate())
        .for_each_concurrent(32, |(i, id)| {
            let w = &w;
            async move {
                for k in 0..i % 4 {
                    let order = json!({"order_number": format!("{id}-{k}"), "created": created, "service_level_code": "GROUND",
                        "lines": [{"partner_sku": "SKU-1", "quantity": 1, "item_price": "9.99"}]});
                    w.sandbox.seed(id.as_str(), order).await;
                }
            }
        })
        .await;
    let rss_before = peak_rss_mib();
    let measured = tick(&w, n, workers, &recorder).await;
    let rss = peak_rss_mib();
    let within = measured.summaries.iter().filter(|(at, _)| *at <= 60.0).count();
    let completed = measured
        .summaries
        .iter()
        .filter(|(_, s)| s.outcome == shared::services::order_download::Outcome::Completed)
        .count();
    let new: usize = measured.summaries.iter().map(|(_, s)| s.new).sum();
    let expected: usize = (0..n).map(|i| i % 4).sum();
    let last = measured.summaries.iter().map(|(at, _)| *at).fold(0.0, f64::max);
    let quiet = measured.summaries.iter().filter(|(_, s)| s.new == 0).count();
    let busy = n - quiet;
    let busy_ost = measured.overstock_calls.saturating_sub(quiet as u64);
    let floor_dynamodb = floor(&w, &measured.dynamodb, &ids, measured.overstock_calls, workers).await;
    let floor_sqs = sqs_floor(n, workers).await;
    let floor = floor_dynamodb + floor_sqs;
    println!(
        "dispatch                     {:8.1} s   (workers meanwhile; busy {:.0} % of {workers} x the tick, {:.3} s a company)",
        measured.dispatch,
        100.0 * measured.busy / (workers as f64 * measured.seconds),
        measured.busy / n as f64
    );
    println!(
        "tick to last company done    {last:8.1} s   ({} worked, {completed} completed)",
        measured.summaries.len()
    );
    goals.check(
        &format!("companies done within 60 s   {within:8} of {n}, {} left", n - within),
        n > 1000 || within == n,
    );
    goals.check(&format!("new orders stored            {new:8} of {expected}"), new == expected);
    println!(
        "Overstock calls / company    {:8.2}   (quiet: 1 GET; with orders: {:.2} = GET + acknowledgement)",
        measured.overstock_calls as f64 / n as f64,
        busy_ost as f64 / busy.max(1) as f64
    );
    let mut by_action: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for c in &measured.dynamodb {
        *by_action.entry(c.action.as_str()).or_default() += 1;
    }
    println!(
        "DynamoDB calls / company     {:8.2}   ({by_action:?}, dispatcher included)",
        measured.dynamodb.len() as f64 / n as f64
    );
    println!(
        "floor (same calls, direct)   {floor:8.1} s   (DynamoDB + Overstock latency {floor_dynamodb:.1} s, the work queue's SQS calls {floor_sqs:.1} s)"
    );
    goals.check(&format!("ratio tick / floor           {:8.2}     (goal <= 1.3)", last / floor), last / floor <= 1.3);
    println!(
        "peak RSS (bench process)     {rss:8.1} MiB (before the tick {rss_before:.1}; every worker in one process)"
    );
}

#[tokio::main]
async fn main() {
    let sizes: Vec<usize> = std::env::var("COMPANIES")
        .unwrap_or_else(|_| "1000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let goals = Goals::default();
    for n in sizes {
        let workers = std::env::var("WORKERS").ok().and_then(|s| s.parse().ok()).unwrap_or((n / 40).max(10));
        scenario(n, workers, &goals).await;
    }
    goals.finish();
}
