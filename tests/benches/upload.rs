//! Upload benchmark (not a timed test): 10,000 shipped orders through tracking-upload against
//! moto and the sandbox. Prints time, Overstock calls, DynamoDB calls per order, peak RSS.
//! Run with `scripts/bench.sh`.

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept};
use chrono::{Duration, Utc};
use serde_json::json;
use shared::domain::SystemClock;
use shared::domain::mapping::MappingTable;
use shared::domain::order::{LocalStatus, Order};
use shared::domain::shipment::ShipmentRequest;
use shared::services::tracking_upload::{UploadConfig, Uploader};
use shared::store::{DynamoStore, MappingStore, OrderStore};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use tests::{World, of, peak_rss_mib, up};

const ORDERS: usize = 10_000;

/// Counts every DynamoDB operation the client starts, and every attempt (an attempt beyond the
/// first of an operation is the SDK retrying it).
#[derive(Debug, Clone, Default)]
struct CallCounter(Arc<AtomicUsize>, Arc<AtomicUsize>);

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }
    fn read_before_execution(
        &self,
        _: &BeforeSerializationInterceptorContextRef<'_>,
        _: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
    fn read_before_attempt(
        &self,
        _: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _: &aws_sdk_dynamodb::config::RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.1.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

async fn all_orders(store: &DynamoStore, id: &shared::domain::CompanyId) -> Vec<Order> {
    store.list_orders(id, usize::MAX).await.unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::main]
async fn main() {
    let mut w = World::new().await;
    let id = w
        .company("current", |s| {
            s.order_acknowledgement = false;
            s.fulfillment_upload = true;
            s.initial_lookback_hours =
                shared::domain::settings::LookbackHours::new(11).unwrap_or_else(|e| panic!("{e}"));
        })
        .await;
    w.standard_mappings(&id).await;
    w.map(&id, "WHITE_GLOVE", "White Glove", "FXFE", false).await;
    let now = Utc::now();
    w.sandbox.generate(id.as_str(), ORDERS, now - Duration::hours(10), now - Duration::minutes(1), json!({})).await;
    assert_eq!(of(&w.download("setup").await, &id).new, ORDERS);

    // Setup (not timed): every order shipped in one package, through the domain rule, written in bulk.
    let mappings = MappingTable::new(w.store.list_mappings(&id).await.unwrap_or_default());
    let mut orders = all_orders(&w.store, &id).await;
    for o in &mut orders {
        let req = ShipmentRequest {
            lines: o.overstock.lines.iter().map(|l| (l.line_number.clone(), l.quantity)).collect(),
            carrier_code: None,
            shipping_method: None,
            tracking_number: format!("1Z{}", o.order_number),
            ship_date: now - Duration::minutes(1),
        };
        o.record_shipment(&req, &mappings, now).unwrap_or_else(|e| panic!("{e}"));
    }
    let lines: usize = orders.iter().map(|o| o.overstock.lines.len()).sum();
    w.store.put_new_orders(&orders).await.unwrap_or_else(|e| panic!("{e}"));
    drop(orders);

    let counter = CallCounter::default();
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&config).interceptor(counter.clone()).build(),
    );
    let store = DynamoStore::new(client, w.store.tables().clone());
    let before = w.sandbox.stats(id.as_str()).await["requests"].clone();
    let uploader = Uploader {
        store: &store,
        overstock: &w.overstock,
        credentials: &w.credentials,
        clock: &SystemClock,
        config: UploadConfig::default(),
    };
    let t = Instant::now();
    let run = uploader.run("bench-upload", Utc::now() + Duration::minutes(30)).await.unwrap_or_else(|e| panic!("{e}"));
    let secs = t.elapsed().as_secs_f64();
    let s = up(&run, &id).clone();
    let calls = counter.0.load(Ordering::Relaxed);
    let after = w.sandbox.stats(id.as_str()).await["requests"].clone();
    let attempts = counter.1.load(Ordering::Relaxed);
    println!("dynamodb requests resent by the SDK: {}", attempts.saturating_sub(calls));
    assert!(s.deferred.is_empty(), "no order is left for the next run without a concurrent writer: {:?}", s.deferred);
    assert_eq!(s.sent, lines, "{s:?}");
    assert_eq!(s.accepted, lines, "{s:?}");
    let confirmed =
        all_orders(&w.store, &id).await.iter().filter(|o| o.local_status == LocalStatus::ShipConfirmed).count();
    assert_eq!(confirmed, ORDERS);

    let posts = after["POST /shipments"].as_u64().unwrap_or(0) - before["POST /shipments"].as_u64().unwrap_or(0);
    println!("--- {ORDERS} shipped orders ({lines} order lines), tracking-upload ---");
    println!("upload time                 {secs:8.2} s   ({:.0} lines/s)", lines as f64 / secs);
    println!(
        "overstock calls             {posts} POST /shipments ({} elements each at most)",
        UploadConfig::default().batch
    );
    println!("dynamodb calls              {calls} ({:.2} per order)", calls as f64 / ORDERS as f64);
    println!("peak RSS                    {:8.1} MiB (whole bench process)", peak_rss_mib());
}
