//! Inventory benchmark (not a timed test): 100,000 products of one company at rest in moto (each
//! already accepted by Overstock), then, in a child process of its own (so that its peak RSS is
//! the push's, not the setup's): a push run with no change, 1,000 count changes through the
//! intake service, a push run sending them. Prints time, DynamoDB operations, product items read,
//! POSTs and the child's peak RSS. Run with `scripts/bench.sh inventory`.

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use chrono::{Duration, Utc};
use serde_json::json;
use shared::domain::SystemClock;
use shared::domain::inventory::{
    Due, Product, RuleSettings, Sent, Sku, Supplied, SupplyKind, SupplyLine, SupplyStatus,
};
use shared::services::inventory::{IntakeResult, IntakeService, PushConfig};
use std::collections::HashMap;
use std::time::Instant;
use tests::{World, peak_rss_mib};

const PRODUCTS: usize = 100_000;
const CHANGES: usize = 1_000;

fn sku(i: usize) -> Sku {
    Sku::parse(&format!("SKU-{i:06}")).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::main]
async fn main() {
    if std::env::var("BENCH_CHILD").is_ok() {
        child().await;
        return;
    }
    let mut w = World::new().await;
    let id = w
        .company("current", |s| {
            s.order_download = false;
            s.inventory_upload = true;
            s.send_backorder_info = true;
        })
        .await;
    let company = shared::store::CompanyStore::get_company(&w.store, &id)
        .await
        .unwrap_or_default()
        .unwrap_or_else(|| panic!("company"));
    let now = Utc::now();
    let rules = RuleSettings::of(&company, now);
    // 60 % in stock, 40 % out of stock with one or two open PO lines.
    let t = Instant::now();
    let table = w.store.tables().inventory.clone();
    let mut batch = Vec::with_capacity(25);
    for i in 0..PRODUCTS {
        let mut p = Product::new(id.clone(), sku(i), now);
        p.available = Some(if i % 5 < 3 { (i % 40) as i64 + 1 } else { 0 });
        p.counted_at = Some(now - Duration::hours(1));
        if i % 5 >= 3 {
            for po in 0..(1 + i % 2) {
                let line = SupplyLine {
                    kind: SupplyKind::PurchaseOrder,
                    source_id: format!("PO-{}", i / 50 + po),
                    quantity: (i % 30) as u32 + 1,
                    expected: (po == 0).then(|| rules.today + Duration::days(20 + (i % 60) as i64)),
                    status: SupplyStatus::Open,
                };
                p.supply.insert(format!("PO#{}", line.source_id), Supplied { line, at: now - Duration::hours(1) });
            }
        }
        let decision = p.decide(rules).unwrap_or_else(|| panic!("a count"));
        p.sent = Some(Sent { value: decision.value, at: now - Duration::minutes(30) });
        p.due = decision.recheck_on.map_or(Due::Never, Due::On);
        p.version = 1;
        let mut item: HashMap<String, AttributeValue> = serde_dynamo::to_item(&p).unwrap_or_else(|e| panic!("{e}"));
        item.insert("item".into(), AttributeValue::S(format!("P#{}", p.sku)));
        if let Due::On(d) = p.due {
            item.insert("due_key".into(), AttributeValue::S(id.to_string()));
            item.insert("due_at".into(), AttributeValue::S(d.to_string()));
        }
        batch.push(
            WriteRequest::builder()
                .put_request(PutRequest::builder().set_item(Some(item)).build().unwrap_or_else(|e| panic!("{e}")))
                .build(),
        );
        if batch.len() == 25 || i + 1 == PRODUCTS {
            let mut req = Some(HashMap::from([(table.clone(), std::mem::take(&mut batch))]));
            while let Some(r) = req.take().filter(|r| r.values().any(|v| !v.is_empty())) {
                let resp = w
                    .store
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
    // The daily comparison and the full pass after a settings change are not part of these runs.
    for cursor in [shared::services::inventory::COMPARE_CURSOR, shared::services::inventory::FULL_PASS_CURSOR] {
        shared::store::SyncStateStore::set_cursor(&w.store, &id, cursor, now).await.unwrap_or_else(|e| panic!("{e}"));
    }
    println!("inventory bench: {PRODUCTS} products at rest written in {:.1} s (setup)", t.elapsed().as_secs_f64());
    let status = std::process::Command::new(std::env::current_exe().unwrap_or_else(|e| panic!("{e}")))
        .env("BENCH_CHILD", "1")
        .env("TABLE_PREFIX", w.store.tables().companies.trim_end_matches("companies"))
        .env("CREDENTIALS_SOURCE", "file")
        .env("CREDENTIALS_FILE", w.credentials_file())
        .env("BENCH_COMPANY", id.as_str())
        .status()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success());
    // What the sandbox received: two messages for the 1,000 changes, nothing for the quiet run.
    let received = w.sandbox.received(id.as_str(), "/inventory").await;
    let sizes: Vec<usize> = received.iter().map(|m| m["elements"].as_array().map_or(0, Vec::len)).collect();
    println!("  the sandbox received {} POST /inventory: {sizes:?} elements", received.len());
    assert_eq!(sizes, [500, 500]);
}

/// The measured part, in its own process.
async fn child() {
    let sdk = shared::aws::sdk_config().await;
    let store = shared::store::DynamoStore::from_config(&sdk).unwrap_or_else(|e| panic!("{e}"));
    let overstock = tests::client();
    let credentials = shared::credentials::ConfiguredProvider::from_env(&sdk).unwrap_or_else(|e| panic!("{e}"));
    let id = std::env::var("BENCH_COMPANY").unwrap_or_default();
    let ports = shared::job::Ports {
        store: &store,
        overstock: &overstock,
        credentials: &credentials,
        clock: &SystemClock,
        config: PushConfig::default(),
    };
    let posts = || shared::overstock::OverstockApi::call_outcomes(&overstock).get("2xx").copied().unwrap_or(0);
    let run = |name: &'static str| {
        let ports = &ports;
        let store = &store;
        async move {
            let (calls, posts_before, t) = (store.calls(), posts(), Instant::now());
            let r = ports.run(name, Utc::now() + Duration::minutes(5)).await.unwrap_or_else(|e| panic!("{e}"));
            let secs = t.elapsed().as_secs_f64();
            let c = &r.companies[0];
            assert!(c.errors.is_empty(), "{c:?}");
            let ops = store.calls().since(calls).operations;
            println!(
                "  {name:<22} {secs:>7.2} s  DynamoDB operations {ops:>5}  product items read {:>5}  sent {:>5}  POSTs {}",
                c.due,
                c.sent,
                posts() - posts_before
            );
            c.clone()
        }
    };
    let quiet = run("run, no change").await;
    assert_eq!((quiet.due, quiet.sent), (0, 0));
    let intake = IntakeService { store: &store, clock: &SystemClock };
    let (calls, t) = (store.calls(), Instant::now());
    for i in 0..CHANGES {
        let body = json!({"type": "inventory_update", "version": 1, "company_id": id, "sku": format!("SKU-{:06}", i * (PRODUCTS / CHANGES)),
                          "available": 1000 + i, "counted_at": Utc::now().to_rfc3339()});
        let r = intake.handle_message(&body.to_string()).await;
        assert!(matches!(r, IntakeResult::Done(_)), "{r:?}");
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "  intake of {CHANGES} counts  {secs:>7.2} s  DynamoDB operations {:>5}  ({:.0} messages/s)",
        store.calls().since(calls).operations,
        CHANGES as f64 / secs
    );
    let busy = run("run, 1,000 changes").await;
    assert_eq!((busy.due, busy.sent, busy.messages), (CHANGES, CHANGES, 2));
    let quiet_again = run("run, no change again").await;
    assert_eq!(quiet_again.sent, 0);
    println!("  peak RSS of this process (the runs and the intake): {:.1} MiB", peak_rss_mib());
}
