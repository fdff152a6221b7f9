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
    assert!(
        none.is_err_and(
            |e| matches!(&e, shared::services::SendError::NotConfigured(m) if m.contains("WORK_QUEUE_UPLOAD_URL"))
        ),
        "a flow without a queue says which variable, and that it is not configured"
    );
}

#[tokio::test]
async fn dynamodb_keeps_the_dispatch_contract() {
    let w = World::new().await;
    let id = shared::domain::CompanyId::parse("acme").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(dispatch_store_contract(&w.store, &id).await, Ok(()));
    let other = shared::domain::CompanyId::parse("acme-2").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(shared::services::fanout::release_frees_dispatch_contract(&w.store, &other).await, Ok(()));
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

/// One tick through the queue with the real adapters: the dispatcher puts the company's item on
/// moto's queue, the local event source mapping (sqs-pump) hands it to the worker frame, which
/// downloads and acknowledges the company's orders from the sandbox and frees the company for
/// the next tick; a second tick's item finds nothing new.
#[tokio::test]
async fn a_tick_through_the_work_queue_downloads_each_company_once() {
    use shared::services::fanout::work_batch;
    use shared::services::order_download::Deps;
    let mut w = World::new().await;
    let id = w.company("current", |_| {}).await;
    w.standard_mappings(&id).await;
    let now = Utc::now();
    w.sandbox
        .generate(id.as_str(), 12, now - Duration::hours(2), now - Duration::minutes(5), serde_json::json!({}))
        .await;
    let sqs = sqs().await;
    let url = tests::queue(&sqs, "work-download").await;
    let dlq = tests::queue(&sqs, "work-download-dlq").await;
    let q = SqsWorkQueue::new(sqs.clone(), [(Flow::Download, url.clone())]);
    let keep = shared::queue::SqsOutcomes::new(sqs.clone(), None).with_dead_letter_queue(Some(dlq));
    let deps = Deps {
        store: &w.store,
        overstock: &w.overstock,
        credentials: &w.credentials,
        clock: &SystemClock,
        config: w.config.clone(),
    };
    let d = Dispatcher { store: &w.store, queue: &q, clock: &SystemClock, config: DispatchConfig::default() };
    let mut summaries = Vec::new();
    for tick in [now, now + Duration::minutes(1)] {
        let s = d.dispatch(Flow::Download, tick).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.dispatched, 1, "each tick, once the previous item finished: {s:?}");
        let pass = sqs_pump::pass(&sqs, &url, 1, |event| async {
            let event: aws_lambda_events::event::sqs::SqsEvent = serde_json::from_value(event)?;
            let (response, worked) = work_batch(
                &w.store,
                &SystemClock,
                &keep,
                Flow::Download,
                event,
                Utc::now() + Duration::minutes(5),
                Duration::seconds(20),
                |i: shared::domain::work::WorkItem, deadline| {
                    let deps = &deps;
                    async move { deps.run_one(&i.company_id, &i.run_id(), deadline).await }
                },
            )
            .await;
            summaries.extend(worked);
            Ok(serde_json::to_value(response)?)
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((pass.received, pass.deleted), (1, 1), "{pass:?}");
    }
    assert_eq!(
        summaries.iter().map(|s| (s.new, s.acknowledged)).collect::<Vec<_>>(),
        [(12, 12), (0, 0)],
        "{summaries:?}"
    );
    assert_eq!(w.stored_numbers(&id).await.len(), 12);
    assert_eq!(w.acknowledged(&id).await.len(), 12, "each order acknowledged once");
}

/// What a quiet company (no new orders, no open orders, nothing pending) costs a download tick
/// through the queue, counted on the wire: every DynamoDB call of the dispatcher and the worker,
/// and Overstock's GETs. The figures and what each call is for are in docs/decisions.md
/// ("Per-company work over SQS"); the bounds here fail when a change adds a call.
#[tokio::test]
async fn a_quiet_company_costs_a_known_number_of_calls_a_tick() {
    use shared::services::fanout::work_batch;
    use shared::services::order_download::Deps;
    use tests::iam::{Recorder, recorded_store};
    let mut w = World::new().await;
    let id = w.company("current", |_| {}).await;
    w.standard_mappings(&id).await;
    // A first tick sets the watermark (nothing to download).
    let first = w.download("quiet-0").await;
    assert_eq!(tests::of(&first, &id).new, 0);
    let rec = Recorder::default();
    let store = recorded_store(&w.store, &rec).await;
    let sqs = sqs().await;
    let url = tests::queue(&sqs, "work-download").await;
    let q = SqsWorkQueue::new(sqs.clone(), [(Flow::Download, url.clone())]);
    let d = Dispatcher { store: &store, queue: &q, clock: &SystemClock, config: DispatchConfig::default() };
    let gets_before = w.sandbox.stats(id.as_str()).await["requests"]["GET /salesorders"].as_u64().unwrap_or_default();
    let s = d.dispatch(Flow::Download, Utc::now()).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.dispatched, 1);
    let dispatch_calls = rec.log();
    rec.clear();
    let deps = Deps {
        store: &store,
        overstock: &w.overstock,
        credentials: &w.credentials,
        clock: &SystemClock,
        config: w.config.clone(),
    };
    let keep = shared::queue::SqsOutcomes::new(sqs.clone(), None);
    let bodies = drain(&sqs, &url).await;
    let event: aws_lambda_events::event::sqs::SqsEvent = serde_json::from_value(serde_json::json!({
        "Records": bodies.iter().map(|b| serde_json::json!({"messageId": "m-1", "body": b})).collect::<Vec<_>>()
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    let (response, worked) = work_batch(
        &store,
        &SystemClock,
        &keep,
        Flow::Download,
        event,
        Utc::now() + Duration::minutes(5),
        Duration::seconds(20),
        |i: shared::domain::work::WorkItem, deadline| {
            let deps = &deps;
            async move { deps.run_one(&i.company_id, &i.run_id(), deadline).await }
        },
    )
    .await;
    assert!(response.batch_item_failures.is_empty() && worked.len() == 1 && worked[0].new == 0, "{worked:?}");
    let worker_calls = rec.log();
    let gets =
        w.sandbox.stats(id.as_str()).await["requests"]["GET /salesorders"].as_u64().unwrap_or_default() - gets_before;
    let show = |calls: &[tests::iam::Call]| {
        calls
            .iter()
            .map(|c| {
                format!(
                    "{} {}",
                    c.action,
                    c.resource.rsplit_once("t").map_or(c.resource.as_str(), |_| c.resource.as_str())
                )
            })
            .collect::<Vec<_>>()
    };
    eprintln!("dispatcher, per company: {:#?}", show(&dispatch_calls));
    eprintln!("worker: {:#?}", show(&worker_calls));
    eprintln!("Overstock GETs: {gets}");
    // The dispatcher: the company list (shared by every company) and one conditional mark.
    assert!(dispatch_calls.len() <= 2, "{dispatch_calls:#?}");
    assert!(worker_calls.len() <= WORKER_DYNAMODB_CALLS, "{} calls: {worker_calls:#?}", worker_calls.len());
    assert!(gets <= 1, "{gets} GETs");
}

/// DynamoDB calls of a quiet company's download work item (measured; see docs/decisions.md).
const WORKER_DYNAMODB_CALLS: usize = 3;

/// The checks before a download (unmapped orders, pending acknowledgements, quarantine) and the
/// ship-by watchdog after it cost a Query only while the last run left them something to do (the
/// watchdog: a new order, or one reaching its at-risk time), or when a writer outside the lease
/// poked the job: counted on the wire against moto and the sandbox.
#[tokio::test]
async fn the_checks_before_a_download_query_only_while_they_have_work() {
    use shared::services::order_download::{Deps, JOB};
    use shared::store::SyncStateStore;
    use tests::iam::{Recorder, recorded_store};
    let mut w = World::new().await;
    let id = w.company("current", |_| {}).await;
    let rec = Recorder::default();
    let store = recorded_store(&w.store, &rec).await;
    let deps = Deps {
        store: &store,
        overstock: &w.overstock,
        credentials: &w.credentials,
        clock: &SystemClock,
        config: w.config.clone(),
    };
    let tick = |name: &'static str| {
        let (deps, rec) = (&deps, &rec);
        async move {
            rec.clear();
            let run = deps.run(name, Utc::now() + Duration::minutes(5)).await.unwrap_or_else(|e| panic!("{e}"));
            let queried: Vec<String> = rec
                .log()
                .iter()
                .filter(|c| c.action == "dynamodb:Query" && !c.resource.ends_with("companies-by-kind"))
                .filter_map(|c| c.resource.rsplit('/').next().map(str::to_owned))
                .filter(|r| !r.ends_with("mappings")) // read when an order needs them
                .collect();
            (run.companies.into_iter().next().unwrap_or_else(|| panic!("one company")), queried)
        }
    };
    let (first, q) = tick("t0").await;
    assert_eq!(first.new, 0);
    assert_eq!(q.len(), 4, "a first run checks everything (and the ship-by watchdog): {q:?}");
    let (quiet, q) = tick("t1").await;
    assert!(q.is_empty() && quiet.new == 0, "nothing left: nothing queried: {q:?}");
    // An order whose service level has no mapping yet.
    let created = Utc::now() - Duration::minutes(5);
    w.sandbox
        .seed(
            id.as_str(),
            serde_json::json!({"order_number": "U-1", "created": created, "service_level_code": "GROUND",
                "lines": [{"partner_sku": "SKU-1", "quantity": 1, "item_price": "9.99"}]}),
        )
        .await;
    let (stored, q) = tick("t2").await;
    assert_eq!((stored.new, stored.unmapped), (1, 1), "{stored:?}");
    assert_eq!(q, ["orders-ship-by"], "a new order: the watchdog looks (its ship-by is a working day away)");
    let (_, q) = tick("t3").await;
    assert_eq!(q, ["orders-unmapped"], "an unmapped order is looked at every tick");
    w.standard_mappings(&id).await;
    let (mapped, q) = tick("t4").await;
    assert_eq!(mapped.remapped, 1, "{mapped:?}");
    assert_eq!(q, ["orders-unmapped"]);
    let (_, q) = tick("t5").await;
    assert!(q.is_empty(), "none left after the mapping: {q:?}");
    // A writer outside the lease (an operator's requeue) pokes the job: everything is looked at.
    w.store.poke(&id, JOB).await.unwrap_or_else(|e| panic!("{e}"));
    let (_, q) = tick("t6").await;
    assert_eq!(q.len(), 4, "poked: every check runs: {q:?}");
    let (_, q) = tick("t7").await;
    assert!(q.is_empty(), "{q:?}");
}

/// More companies than one wave of workers can hold at once, one of them slow (2 s per
/// Overstock call) and one failing (every call a 500): through moto's work queue and three
/// workers, every other company is done before the slow one, the failing one's item comes back
/// as a batch item failure (redelivered, then the DLQ), and none of the others is affected.
#[tokio::test]
async fn a_slow_or_failing_company_delays_no_other_in_a_tick() {
    use futures::StreamExt;
    use shared::services::fanout::work_batch;
    use shared::services::order_download::{Deps, Outcome};
    let mut w = World::new().await;
    w.config.deadline_margin = Duration::seconds(5);
    let mut ids = Vec::new();
    for _ in 0..12 {
        ids.push(w.company("current", |_| {}).await);
    }
    let (slow, failing) = (ids[0].clone(), ids[1].clone());
    w.sandbox.faults(slow.as_str(), serde_json::json!({"latency_ms": 2000})).await;
    w.sandbox.faults(failing.as_str(), serde_json::json!({"share_500": 1.0})).await;
    let sqs = sqs().await;
    let url = tests::queue(&sqs, "work-download").await;
    let q = SqsWorkQueue::new(sqs.clone(), [(Flow::Download, url.clone())]);
    let d = Dispatcher { store: &w.store, queue: &q, clock: &SystemClock, config: DispatchConfig::default() };
    let started = std::time::Instant::now();
    assert_eq!(d.dispatch(Flow::Download, Utc::now()).await.unwrap_or_else(|e| panic!("{e}")).dispatched, 12);
    let bodies = drain(&sqs, &url).await;
    assert_eq!(bodies.len(), 12);
    let deps = Deps {
        store: &w.store,
        overstock: &tests::client_with(tests::fast_retry()),
        credentials: &w.credentials,
        clock: &SystemClock,
        config: w.config.clone(),
    };
    let keep = shared::queue::SqsOutcomes::new(sqs.clone(), None);
    let done = std::sync::Mutex::new(Vec::new());
    futures::stream::iter(bodies)
        .for_each_concurrent(3, |body| {
            let (deps, keep, done, w) = (&deps, &keep, &done, &w);
            async move {
                let event: aws_lambda_events::event::sqs::SqsEvent =
                    serde_json::from_value(serde_json::json!({"Records": [{"messageId": "m", "body": body}]}))
                        .unwrap_or_else(|e| panic!("{e}"));
                let (response, worked) = work_batch(
                    &w.store,
                    &SystemClock,
                    keep,
                    Flow::Download,
                    event,
                    Utc::now() + Duration::minutes(1),
                    Duration::seconds(10),
                    |i: shared::domain::work::WorkItem, deadline| async move {
                        deps.run_one(&i.company_id, &i.run_id(), deadline).await
                    },
                )
                .await;
                let at = started.elapsed();
                let mut d = done.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                for s in worked {
                    d.push((s.company_id.clone(), s.outcome.clone(), !response.batch_item_failures.is_empty(), at));
                }
            }
        })
        .await;
    let done = done.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    assert_eq!(done.len(), 12, "every company reached: {done:?}");
    let of = |id: &shared::domain::CompanyId| {
        done.iter().find(|d| d.0 == id.as_str()).unwrap_or_else(|| panic!("{id} worked"))
    };
    let slow_done = of(&slow).3;
    assert_eq!(of(&slow).1, Outcome::Completed, "slow, not failed");
    assert!(matches!(of(&failing).1, Outcome::Failed { retryable: true, .. }), "{:?}", of(&failing));
    assert!(of(&failing).2, "the failing company's item comes back (redelivered, then the DLQ)");
    for id in &ids[2..] {
        let (_, outcome, failed, at) = of(id);
        assert_eq!((outcome, failed), (&Outcome::Completed, &false), "{id}");
        assert!(*at < slow_done, "{id} done at {at:?}, before the slow company ({slow_done:?})");
    }
}
