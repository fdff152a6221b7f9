//! Ingest benchmark (not a timed test): 10,000 sandbox orders through order-download into moto,
//! against the floor of writing the same items (the orders and the audit items the runs wrote:
//! each order's story, the calls) raw with BatchWriteItem to the same moto.
//! Run with `scripts/bench.sh` (starts moto and the sandbox). Prints figures and ratios.

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use chrono::{Duration, Utc};
use serde_json::json;
use shared::store::DynamoStore;
use std::collections::HashMap;
use std::time::Instant;
use tests::{World, of, peak_rss_mib};

const ORDERS: usize = 10_000;

type Item = HashMap<String, aws_sdk_dynamodb::types::AttributeValue>;

async fn scan_all(store: &DynamoStore, table: &str) -> Vec<Item> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let r = store
            .client()
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap_or_else(|e| panic!("scan: {e}"));
        out.extend(r.items.unwrap_or_default());
        match r.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => break,
        }
    }
    out
}

/// Seconds to write the orders and the audit items (the orders' stories, the calls) with
/// BatchWriteItem (25 per call, sequential, unprocessed retried) into fresh tables.
async fn raw_floor(orders: Vec<Item>, audit: Vec<Item>) -> f64 {
    let target = tests::fresh_store().await;
    let t = Instant::now();
    for (table, items) in [(target.tables().orders.clone(), orders), (target.tables().audit.clone(), audit)] {
        write_raw(&target, &table, &items).await;
    }
    t.elapsed().as_secs_f64()
}

async fn write_raw(target: &DynamoStore, table: &str, items: &[Item]) {
    for chunk in items.chunks(25) {
        let writes: Vec<WriteRequest> = chunk
            .iter()
            .map(|i| {
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder().set_item(Some(i.clone())).build().unwrap_or_else(|e| panic!("{e}")),
                    )
                    .build()
            })
            .collect();
        let mut req = Some(HashMap::from([(table.to_owned(), writes)]));
        while let Some(r) = req.take().filter(|r| r.values().any(|v| !v.is_empty())) {
            let resp = target
                .client()
                .batch_write_item()
                .set_request_items(Some(r))
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            req = resp.unprocessed_items;
        }
    }
}

async fn scenario(acknowledgement: bool, goals: &tests::Goals) {
    let mut w = World::new().await;
    let id = w
        .company("current", |s| {
            s.order_acknowledgement = acknowledgement;
            s.initial_lookback_hours =
                shared::domain::settings::LookbackHours::new(11).unwrap_or_else(|e| panic!("{e}"));
        })
        .await;
    w.standard_mappings(&id).await;
    let now = Utc::now();
    w.sandbox.generate(id.as_str(), ORDERS, now - Duration::hours(10), now - Duration::minutes(1), json!({})).await;

    // The first run's DynamoDB calls are recorded (by action and table) for the printout.
    let recorder = tests::iam::Recorder::default();
    let recorded = tests::iam::recorded_store(&w.store, &recorder).await;
    let deps = shared::services::order_download::Deps {
        store: &recorded,
        overstock: &w.overstock,
        credentials: &w.credentials,
        clock: &shared::domain::SystemClock,
        config: w.config.clone(),
    };
    let t = Instant::now();
    let first = deps.run("bench-1", Utc::now() + Duration::minutes(5)).await.unwrap_or_else(|e| panic!("{e}"));
    let ingest = t.elapsed().as_secs_f64();
    let mut dynamodb: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for c in recorder.log() {
        let table = c.resource.split_once('/').map_or(c.resource.as_str(), |(_, rest)| rest);
        *dynamodb.entry(format!("{} {table}", c.action.trim_start_matches("dynamodb:"))).or_default() += 1;
    }
    let s1 = of(&first, &id).clone();
    assert_eq!(s1.new, ORDERS, "{s1:?}");
    let calls_first = w.sandbox.stats(id.as_str()).await["requests"].clone();
    let rss_after_ingest = peak_rss_mib();

    let t = Instant::now();
    let second = w.download("bench-2").await;
    let rerun = t.elapsed().as_secs_f64();
    let s2 = of(&second, &id).clone();
    assert_eq!(s2.new, 0);

    // The first status pass over these 10,000 open orders, one period after the first run: the
    // list of open orders (moto answers an index Query by walking its whole table) and the
    // pass's first 60 windows. Once per pass (15 min), in neither run above.
    let later = Utc::now() + Duration::minutes(16);
    let t = Instant::now();
    let pass = w.download_with("bench-pass", &shared::domain::FixedClock(later), later + Duration::minutes(5)).await;
    let pass_run = t.elapsed().as_secs_f64();
    let s3 = of(&pass, &id).clone();
    let t = Instant::now();
    let open = shared::store::OrderStore::list_open_orders(&w.store, &id, Utc::now() - Duration::days(30), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let open_query = t.elapsed().as_secs_f64();
    assert_eq!(open.len(), ORDERS);

    let orders = scan_all(&w.store, &w.store.tables().orders).await;
    assert_eq!(orders.len(), ORDERS);
    // Everything the runs wrote to the audit table (the first run's share is nearly all: one
    // story item per new order, the calls, and with acknowledgement one event per order).
    let audit = scan_all(&w.store, &w.store.tables().audit).await;
    let audit_items = audit.len();
    let floor = raw_floor(orders, audit).await;

    println!("--- {ORDERS} orders, acknowledgement {} ---", if acknowledgement { "on" } else { "off" });
    println!(
        "ingest (first run)          {ingest:8.2} s   ({} windows, {} fetches, {} acknowledged)",
        s1.windows, s1.fetches, s1.acknowledged
    );
    println!(
        "raw BatchWriteItem floor    {floor:8.2} s   ({ORDERS} orders + {audit_items} audit items, the same items)"
    );
    goals
        .check(&format!("ratio ingest / floor        {:8.2}     (goal <= 1.3)", ingest / floor), ingest / floor <= 1.3);
    println!("rerun                       {rerun:8.2} s   ({} orders re-read in the overlap)", s2.orders_seen);
    goals.check(
        &format!("rerun / first run           {:8.1} %   (goal <= 10 %)", 100.0 * rerun / ingest),
        rerun <= ingest / 10.0,
    );
    println!(
        "first status pass run       {pass_run:8.2} s   ({} windows, {} open orders checked; once per 15-min pass)",
        s3.status_windows, s3.status_checked
    );
    println!("  of which the open-orders index Query on moto ~{open_query:.2} s (moto walks its table)");
    println!("overstock calls, first run  {calls_first}");
    println!("DynamoDB calls, first run   {dynamodb:?}");
    println!(
        "peak RSS after ingest       {rss_after_ingest:8.1} MiB (whole bench process; the Overstock XML of a window is held while it is stored)"
    );
}

#[tokio::main]
async fn main() {
    let goals = tests::Goals::default();
    scenario(false, &goals).await;
    scenario(true, &goals).await;
    goals.finish();
}
