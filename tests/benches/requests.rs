//! Request benchmark (not a timed test): 1,000 cancel and 1,000 refund messages on moto's SQS,
//! fed by the local pump (`sqs_pump::pass`, the code of `sqs-pump`) to `cancel-request` and
//! `refund-request` running under `cargo lambda watch --release`, against moto and the sandbox;
//! once without faults and once with 20 % Overstock faults (10 % 500, 5 % 429, 5 % `null`).
//! Prints messages per second, Overstock and DynamoDB calls per message, deliveries per message,
//! how every request ended, and the function processes' peak RSS; then the tracking-upload run
//! that sends the cancels' short ships. Run with `scripts/bench.sh`.

use serde_json::{Value, json};
use shared::domain::CompanyId;
use shared::store::{RequestState, RequestStore};
use std::io::{BufRead, Seek};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tests::{World, unique, up};

const N: usize = 1_000;
const PRICE: &str = "20.00";
const REFUND: &str = "7.25";

fn fail<T>(what: &str) -> impl FnOnce(T) -> String + '_
where
    T: std::fmt::Display,
{
    move |e| format!("{what}: {e}")
}

fn or_die<T>(r: Result<T, String>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// A queue (visibility 2 s so that retries come back quickly) with a DLQ after 5 receives,
/// as in template.yaml but for the visibility timeout.
async fn queue_with_dlq(sqs: &aws_sdk_sqs::Client, name: &str) -> (String, String) {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let dlq = or_die(sqs.create_queue().queue_name(unique(&format!("{name}-dlq"))).send().await.map_err(fail("dlq")))
        .queue_url
        .unwrap_or_default();
    let arn = format!("arn:aws:sqs:us-east-1:123456789012:{}", dlq.rsplit('/').next().unwrap_or_default());
    let q = or_die(
        sqs.create_queue()
            .queue_name(unique(name))
            .attributes(A::VisibilityTimeout, "2")
            .attributes(A::RedrivePolicy, json!({"deadLetterTargetArn": arn, "maxReceiveCount": "5"}).to_string())
            .send()
            .await
            .map_err(fail("queue")),
    )
    .queue_url
    .unwrap_or_default();
    (q, dlq)
}

async fn depth(sqs: &aws_sdk_sqs::Client, url: &str) -> usize {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let got = or_die(
        sqs.get_queue_attributes()
            .queue_url(url)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(fail("attributes")),
    );
    got.attributes.unwrap_or_default().values().filter_map(|v| v.parse::<usize>().ok()).sum()
}

async fn send_all(sqs: &aws_sdk_sqs::Client, url: &str, bodies: &[String]) {
    for (c, chunk) in bodies.chunks(10).enumerate() {
        let mut batch = sqs.send_message_batch().queue_url(url);
        for (i, b) in chunk.iter().enumerate() {
            let entry = aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                .id(format!("m{c}-{i}"))
                .message_body(b)
                .build()
                .unwrap_or_else(|e| panic!("{e}"));
            batch = batch.entries(entry);
        }
        let out = or_die(batch.send().await.map_err(fail("send")));
        assert!(out.failed.is_empty(), "{:?}", out.failed);
    }
}

/// A company with `N` unshipped orders `C-…` (to cancel) and `N` shipped and ship confirmed
/// orders `R-…` (to refund), one line each (1 × 20.00).
async fn company(w: &mut World) -> CompanyId {
    let id = w.company("current", |s| s.fulfillment_upload = true).await;
    w.standard_mappings(&id).await;
    let line: &[(&str, u32, &str)] = &[("SKU-A", 1, PRICE)];
    let numbers: Vec<String> = (0..N).flat_map(|i| [format!("C-{i:04}"), format!("R-{i:04}")]).collect();
    let seeds: Vec<tests::SeedOrder> = numbers.iter().map(|n| (n.as_str(), line)).collect();
    w.seed_and_download(&id, &seeds).await;
    let shipped: Vec<&str> = numbers.iter().filter(|n| n.starts_with('R')).map(String::as_str).collect();
    w.ship_all(&id, &shipped).await;
    let accepted = up(&w.upload(&unique("ship")).await, &id).accepted;
    assert_eq!(accepted, N, "every R- order ship confirmed");
    id
}

/// `cargo lambda watch --release` serving both functions, in its own process group.
fn start_watch(w: &World, port: u16, outcomes: &str, log: &std::path::Path) -> Child {
    use std::os::unix::process::CommandExt;
    let t = w.store.tables();
    let file = std::fs::File::create(log).unwrap_or_else(|e| panic!("{e}"));
    let err = file.try_clone().unwrap_or_else(|e| panic!("{e}"));
    Command::new("cargo")
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .args(["lambda", "watch", "--release", "--ignore-changes", "--invoke-address", "127.0.0.1", "--timeout", "120"])
        .args(["--invoke-port", &port.to_string()])
        .env("COMPANIES_TABLE", &t.companies)
        .env("MAPPINGS_TABLE", &t.mappings)
        .env("ORDERS_TABLE", &t.orders)
        .env("SYNC_STATE_TABLE", &t.sync_state)
        .env("REQUESTS_TABLE", &t.requests)
        .env("CREDENTIALS_SOURCE", "file")
        .env("CREDENTIALS_FILE", w.credentials_file())
        .env("OUTCOMES_QUEUE_URL", outcomes)
        .env("OVERSTOCK_ALLOW_LOOPBACK", "true")
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cargo lambda watch: {e}"))
}

fn stop_watch(child: &mut Child) {
    let _ = Command::new("kill").args(["-TERM", "--", &format!("-{}", child.id())]).status();
    let _ = child.wait();
}

/// The peak RSS (VmHWM, MiB) of the running process named `name`, if there is one.
fn process_peak_mib(name: &str) -> Option<f64> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|d| {
        let comm = std::fs::read_to_string(d.path().join("comm")).ok()?;
        if comm.trim() != name {
            return None;
        }
        let status = std::fs::read_to_string(d.path().join("status")).ok()?;
        let kib: f64 = status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib / 1024.0)
    })
}

/// Sums of the functions' "batch finished" log lines (for `function`) written after `offset`.
#[derive(Debug, Default)]
struct Logged {
    batches: u64,
    dynamodb_operations: u64,
    dynamodb_attempts: u64,
}

fn logged_since(log: &std::path::Path, offset: u64, function: &str) -> Logged {
    let mut f = std::fs::File::open(log).unwrap_or_else(|e| panic!("{e}"));
    f.seek(std::io::SeekFrom::Start(offset)).unwrap_or_else(|e| panic!("{e}"));
    let mut out = Logged::default();
    for line in std::io::BufReader::new(f).lines().map_while(Result::ok) {
        let Some(start) = line.find('{') else { continue };
        let Ok(v) = serde_json::from_str::<Value>(&line[start..]) else { continue };
        if v["fields"]["message"] != "batch finished" || v["span"]["function"] != function {
            continue;
        }
        out.batches += 1;
        out.dynamodb_operations += v["fields"]["dynamodb_operations"].as_u64().unwrap_or(0);
        out.dynamodb_attempts += v["fields"]["dynamodb_attempts"].as_u64().unwrap_or(0);
    }
    out
}

fn total_requests(stats: &Value) -> u64 {
    stats["requests"].as_object().map(|m| m.values().filter_map(Value::as_u64).sum()).unwrap_or(0)
}

struct Phase<'a> {
    label: &'a str,
    function: &'a str,
    queue: &'a str,
    dlq: &'a str,
    company: &'a CompanyId,
    bodies: Vec<String>,
    faults: bool,
}

#[allow(clippy::too_many_lines)]
async fn run_phase(w: &World, sqs: &aws_sdk_sqs::Client, port: u16, log: &std::path::Path, p: Phase<'_>) {
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/2015-03-31/functions/{}/invocations", p.function);
    send_all(sqs, p.queue, &p.bodies).await;
    if p.faults {
        w.sandbox.faults(p.company.as_str(), json!({"share_500": 0.1, "share_429": 0.05, "share_null": 0.05})).await;
    }
    let before = w.sandbox.stats(p.company.as_str()).await;
    let offset = std::fs::metadata(log).map(|m| m.len()).unwrap_or(0);
    let (mut received, mut deleted, mut invoke_errors) = (0, 0, 0);
    let started = Instant::now();
    loop {
        match sqs_pump::pass(sqs, p.queue, 1, |event| sqs_pump::invoke_http(&http, &url, event)).await {
            Ok(pass) => {
                received += pass.received;
                deleted += pass.deleted;
                if pass.received == 0 && depth(sqs, p.queue).await == 0 {
                    break;
                }
            }
            Err(e) => {
                invoke_errors += 1;
                eprintln!("  pump: {e}");
            }
        }
        assert!(started.elapsed() < Duration::from_secs(900), "{}: still not drained after 15 minutes", p.label);
    }
    let elapsed = started.elapsed().as_secs_f64();
    w.sandbox.faults(p.company.as_str(), json!({})).await;
    let after = w.sandbox.stats(p.company.as_str()).await;
    let logged = logged_since(log, offset, p.function);
    let dead = depth(sqs, p.dlq).await;
    let records = w.store.list_requests(p.company, 100_000).await.unwrap_or_else(|e| panic!("{e}"));
    let prefix = format!("{}-", p.label);
    let mine: Vec<_> = records.iter().filter(|r| r.request_id.starts_with(&prefix)).collect();
    let done = mine.iter().filter(|r| matches!(r.state, RequestState::Done { .. })).count();
    let rejected = mine.iter().filter(|r| matches!(r.state, RequestState::Rejected { .. })).count();
    let n = p.bodies.len() as f64;
    let overstock = total_requests(&after).saturating_sub(total_requests(&before));
    let by_endpoint: Vec<String> = after["requests"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| {
                    let d = v.as_u64()?.saturating_sub(before["requests"][k].as_u64().unwrap_or(0));
                    (d > 0).then(|| format!("{k} {d}"))
                })
                .collect()
        })
        .unwrap_or_default();
    println!(
        "{:<16} {:>5} msgs in {:>6.1} s = {:>6.1} msgs/s | deliveries/msg {:.2} | Overstock calls/msg {:.2} [{}] | \
         DynamoDB ops/msg {:.2} (attempts {:.2}) in {} batches | done {done}, rejected {rejected}, unfinished {}, \
         DLQ {dead}, deleted {deleted}, invoke errors {invoke_errors} | peak RSS {} {:.1} MiB",
        p.label,
        p.bodies.len(),
        elapsed,
        n / elapsed,
        received as f64 / n,
        overstock as f64 / n,
        by_endpoint.join(", "),
        logged.dynamodb_operations as f64 / n,
        logged.dynamodb_attempts as f64 / n,
        logged.batches,
        mine.len() - done - rejected,
        p.function,
        process_peak_mib(p.function).unwrap_or(f64::NAN),
    );
    assert_eq!(done, p.bodies.len(), "{}: every request done", p.label);
    assert_eq!(dead, 0, "{}: nothing in the DLQ", p.label);
}

fn bodies(label: &str, kind: &str, company: &CompanyId) -> Vec<String> {
    (0..N)
        .map(|i| {
            let rid = format!("{label}-{i:04}");
            let v = if kind == "cancel" {
                json!({"type": "cancel", "version": 1, "request_id": rid, "company_id": company.as_str(),
                       "order_number": format!("C-{i:04}"), "reason": "OUT_OF_STOCK", "requested_by": "bench"})
            } else {
                json!({"type": "refund", "version": 1, "request_id": rid, "company_id": company.as_str(),
                       "order_number": format!("R-{i:04}"), "lines": [{"line": "1", "amount": REFUND}],
                       "reason": "PRICE_ADJUSTMENT", "requested_by": "bench"})
            };
            v.to_string()
        })
        .collect()
}

#[tokio::main]
async fn main() {
    let mut w = World::new().await;
    let config = shared::aws::sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let (cancel, cancel_dlq) = queue_with_dlq(&sqs, "bench-cancel").await;
    let (refund, refund_dlq) = queue_with_dlq(&sqs, "bench-refund").await;
    let outcomes =
        or_die(sqs.create_queue().queue_name(unique("bench-outcomes")).send().await.map_err(fail("outcomes")))
            .queue_url
            .unwrap_or_default();

    let setup = Instant::now();
    let clean = company(&mut w).await;
    let faulty = company(&mut w).await;
    println!(
        "setup: 2 companies × ({N} unshipped + {N} ship confirmed orders) in {:.1} s",
        setup.elapsed().as_secs_f64()
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    let log = std::env::temp_dir().join(unique("bench-watch")).with_extension("log");
    let mut watch = start_watch(&w, port, &outcomes, &log);
    let http = reqwest::Client::new();
    // Warm both functions with an empty batch (cargo lambda watch starts a function on its first
    // invocation), so that start-up is not in the figures.
    for f in ["cancel-request", "refund-request"] {
        let url = format!("http://127.0.0.1:{port}/2015-03-31/functions/{f}/invocations");
        let started = Instant::now();
        while sqs_pump::invoke_http(&http, &url, json!({"Records": []})).await.is_err() {
            assert!(started.elapsed() < Duration::from_secs(300), "{f} did not start; see {}", log.display());
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    for (label, company, faults) in [("clean", &clean, false), ("faults", &faulty, true)] {
        for (kind, function, queue, dlq) in
            [("cancel", "cancel-request", &cancel, &cancel_dlq), ("refund", "refund-request", &refund, &refund_dlq)]
        {
            let label = format!("{kind}-{label}");
            let phase =
                Phase { bodies: bodies(&label, kind, company), label: &label, function, queue, dlq, company, faults };
            run_phase(&w, &sqs, port, &log, phase).await;
        }
    }
    stop_watch(&mut watch);

    // Overstock applied each refund once, however often it was delivered or sent.
    for id in [&clean, &faulty] {
        let orders = w.sandbox.orders(id.as_str()).await;
        let refunded = orders.iter().filter(|o| o["lines"][0]["refunded"] == REFUND).count();
        let other: Vec<&Value> = orders
            .iter()
            .filter(|o| o["number"].as_str().is_some_and(|n| n.starts_with('R')) && o["lines"][0]["refunded"] != REFUND)
            .collect();
        assert!(other.is_empty(), "refunded other than once: {:?}", other.first());
        assert_eq!(refunded, N, "{id}");
    }

    // The cancels' short ships go out with the next tracking-upload run (one sender per line).
    let before: u64 = futures::future::join_all([&clean, &faulty].map(|id| w.sandbox.stats(id.as_str())))
        .await
        .iter()
        .map(total_requests)
        .sum();
    let started = Instant::now();
    let run = w.upload(&unique("short-ships")).await;
    let elapsed = started.elapsed().as_secs_f64();
    let after: u64 = futures::future::join_all([&clean, &faulty].map(|id| w.sandbox.stats(id.as_str())))
        .await
        .iter()
        .map(total_requests)
        .sum();
    let short_ships: usize = [&clean, &faulty].iter().map(|id| up(&run, id).short_ships).sum();
    println!(
        "short ships: {short_ships} sent by one tracking-upload run in {elapsed:.1} s with {} Overstock calls",
        after - before
    );
    assert_eq!(short_ships, 2 * N);
    let _ = std::fs::remove_file(&log);
}
