//! CPU benchmark (not a timed test): the work the functions do per order outside the network,
//! on a real sandbox answer of 2,000 orders — parse the XML, build the stored order, serialise
//! it as a DynamoDB item, build the shipment message of its lines. Used to compare release
//! profiles (opt-level, LTO): moto dominates the other benches, this one is the client's own
//! CPU. Run with `scripts/bench.sh parse`. Prints throughput per step.

use chrono::{Duration, Utc};
use shared::domain::mapping::MappingTable;
use shared::domain::order::Order;
use shared::domain::window::{Window, denver_query_bounds};
use shared::domain::{CompanyId, utc_key};
use shared::overstock::shipments::{ShipConfirmation, ShipmentElement, shipment_message};
use shared::overstock::xml::parse_sales_orders;
use std::hint::black_box;
use std::time::Instant;
use tests::{Sandbox, WAREHOUSE, unique};

const ORDERS: usize = 2_000;
const ROUNDS: usize = 15;

/// The best of `ROUNDS` runs of `f`, in seconds (the least disturbed by the machine).
fn best(mut f: impl FnMut()) -> f64 {
    (0..ROUNDS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

#[tokio::main]
async fn main() {
    let sandbox = Sandbox::from_env();
    let user = unique("parse");
    sandbox.create_account(&user, "pw", WAREHOUSE, "current").await;
    let to = Utc::now() - Duration::minutes(5);
    let from = to - Duration::hours(1);
    sandbox.generate(&user, ORDERS, from, to, serde_json::json!({})).await;
    let (start, end) = denver_query_bounds(&Window { start: from, end: to });
    let body = reqwest::Client::new()
        .get(format!("{}/salesorders", sandbox.base))
        .basic_auth(&user, Some("pw"))
        .query(&[("startTime", start), ("endTime", end)])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let page = parse_sales_orders(&body).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(page.orders.len(), ORDERS, "every generated order parses");
    let mib = body.len() as f64 / (1024.0 * 1024.0);

    let parse = best(|| {
        black_box(parse_sales_orders(black_box(&body)).map(|p| p.orders.len()).unwrap_or(0));
    });
    let company = CompanyId::parse("bench").unwrap_or_else(|e| panic!("{e}"));
    let mappings = MappingTable::new(Vec::new());
    let now = Utc::now();
    let build = best(|| {
        for so in &page.orders {
            black_box(Order::from_download(company.clone(), so.clone(), &mappings, true, now));
        }
    });
    let orders: Vec<Order> =
        page.orders.iter().map(|so| Order::from_download(company.clone(), so.clone(), &mappings, true, now)).collect();
    let items = best(|| {
        for o in &orders {
            black_box(
                serde_dynamo::to_item::<_, std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>>(
                    o,
                )
                .map(|i| i.len())
                .unwrap_or(0),
            );
        }
    });
    let elements: Vec<ShipmentElement> = orders
        .iter()
        .flat_map(|o| {
            o.overstock.lines.iter().map(|l| {
                ShipmentElement::Confirmation(ShipConfirmation {
                    sales_channel_name: "OSTK".into(),
                    order_number: o.order_number.to_string(),
                    line_number: l.line_number.clone(),
                    warehouse_code: WAREHOUSE.into(),
                    quantity: l.quantity,
                    carrier_code: "UPS".into(),
                    tracking_number: format!("1Z{}", o.order_number),
                    ship_date: now,
                    service_level_code: "GROUND".into(),
                })
            })
        })
        .collect();
    let messages = best(|| {
        for chunk in elements.chunks(200) {
            black_box(shipment_message(black_box(chunk)).len());
        }
    });
    let per_s = |secs: f64, n: usize| n as f64 / secs;
    println!("parse bench: {ORDERS} orders, {mib:.2} MiB of XML, best of {ROUNDS} rounds ({})", utc_key(Utc::now()));
    println!("  parse XML:            {:>10.0} orders/s  ({:.1} MiB/s)", per_s(parse, ORDERS), mib / parse);
    println!("  build stored order:   {:>10.0} orders/s", per_s(build, ORDERS));
    println!("  DynamoDB item:        {:>10.0} orders/s", per_s(items, ORDERS));
    println!("  shipment messages:    {:>10.0} elements/s", per_s(messages, elements.len()));
    println!("  all four, per order:  {:>10.1} µs", (parse + build + items + messages) / ORDERS as f64 * 1e6);
}
