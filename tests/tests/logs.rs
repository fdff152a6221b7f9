//! Logs at `trace`, the most talkative level, over a download (a poison order included) and an
//! upload: no AWS key, secret or session token, no Overstock password or Authorization header,
//! no customer name or address.

use chrono::{Duration, Utc};
use serde_json::json;
use shared::domain::shipment::ShipmentRequest;
use shared::store::DynamoStore;
use std::io::Write;
use std::sync::{Arc, Mutex};
use tests::{World, of, up};

const ACCESS_KEY: &str = "AKIALEAKCHECK7Q3XZ";
const SECRET_KEY: &str = "leakcheckSECRETkey0123456789abcdefXYZ";
const SESSION_TOKEN: &str = "leakcheckSESSIONtoken9876543210";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn trace_logs_carry_no_secret_and_no_customer_data() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(shared::telemetry::filter("trace"))
        .json()
        .with_current_span(true)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap_or_else(|e| panic!("{e}"));

    let mut w = World::new().await;
    // The store signs with distinctive keys (moto accepts any), so a leak is findable.
    let creds = aws_sdk_dynamodb::config::Credentials::new(
        ACCESS_KEY,
        SECRET_KEY,
        Some(SESSION_TOKEN.into()),
        None,
        "leak-check",
    );
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest()).credentials_provider(creds).load().await;
    w.store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), w.store.tables().clone());
    let id = w.company("current", |s| s.fulfillment_upload = true).await;
    w.standard_mappings(&id).await;
    let now = Utc::now();
    let numbers =
        w.sandbox.generate(id.as_str(), 20, now - Duration::hours(1), now - Duration::minutes(5), json!({})).await;
    w.sandbox
        .seed(id.as_str(), json!({"order_number": "POISON-1", "created": now - Duration::minutes(20), "service_level_code": "GROUND",
            "lines": [{"partner_sku": "A", "quantity": 1, "item_price": "1.00"}], "wire_override": ["quantity", "many"]}))
        .await;
    let run = w.download("logs-1").await;
    assert_eq!(of(&run, &id).new, 20, "{:?}", of(&run, &id));
    assert_eq!(of(&run, &id).quarantined.len(), 1);
    for n in numbers.iter().take(5) {
        let number = shared::domain::OrderNumber::parse(n).unwrap_or_else(|e| panic!("{e}"));
        let req = ShipmentRequest {
            lines: vec![("1".into(), 1)],
            carrier_code: Some("UPS".into()),
            shipping_method: None,
            tracking_number: format!("1Z{}", n.replace(|c: char| !c.is_ascii_alphanumeric(), "")),
            ship_date: Utc::now() - Duration::minutes(1),
        };
        shared::services::shipping::record_shipment(&w.store, &id, &number, &req, Utc::now())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let upload = w.upload("logs-2").await;
    assert_eq!(up(&upload, &id).accepted, 5, "{:?}", up(&upload, &id));

    // A rejection whose text quotes the customer (as one of Overstock's did): only its scrubbed
    // form is in the summary, the order, the audit trail and the log.
    let quoted = "Leakcheck Quoted, 1234 Lakeview Ave, Provo UT 84604, phone 801-555-0147: address is undeliverable";
    let n = &numbers[5];
    let number = shared::domain::OrderNumber::parse(n).unwrap_or_else(|e| panic!("{e}"));
    let req = ShipmentRequest {
        lines: vec![("1".into(), 1)],
        carrier_code: Some("UPS".into()),
        shipping_method: None,
        tracking_number: "1ZQUOTED".into(),
        ship_date: Utc::now() - Duration::minutes(1),
    };
    shared::services::shipping::record_shipment(&w.store, &id, &number, &req, Utc::now())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    w.sandbox
        .hostile(
            id.as_str(),
            json!({"mode": "named400", "times": 1, "endpoint": "POST /shipments", "order": n, "line": "1", "message": quoted}),
        )
        .await;
    let rejected = w.upload("logs-3").await;
    let summary = format!("{:?}", up(&rejected, &id));
    assert_eq!(up(&rejected, &id).rejected, 1, "{summary}");
    let order = format!("{:?}", w.order(&id, n).await);
    let audit = format!(
        "{:?}",
        shared::audit::AuditStore::list_calls(&w.store, &id, Utc::now() - Duration::hours(1), 100)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    );
    assert!(order.contains("address is undeliverable"), "the kind of problem is kept: {order}");
    let text = String::from_utf8_lossy(&captured.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned();
    for (place, kept) in [("summary", &summary), ("order", &order), ("audit trail", &audit), ("log", &text)] {
        for needle in ["Leakcheck", "Lakeview", "84604", "801-555-0147", "Provo"] {
            assert!(!kept.contains(needle), "{needle} in the {place}");
        }
    }

    // The log was captured: the run's own lines are there (the libraries' are capped at info).
    assert!(
        text.contains("order set apart") && text.contains("overstock rejected"),
        "the runs' lines were captured: {} lines",
        text.lines().count()
    );
    // One key per name in every JSON line (the event's text under `message`, once).
    for line in text.lines() {
        assert_eq!(shared::domain::strict_json::check_no_duplicate_keys(line), Ok(()), "{line}");
    }
    let password = w.password(&id);
    let basic = shared_basic(id.as_str(), &password);
    for (what, needle) in [
        ("AWS access key", ACCESS_KEY),
        ("AWS secret key", SECRET_KEY),
        ("AWS session token", SESSION_TOKEN),
        ("Overstock password", password.as_str()),
        ("Basic authorization", basic.as_str()),
        ("customer name", "Customer "),
        ("street address", "Main St"),
    ] {
        let hits: Vec<&str> = text.lines().filter(|l| l.contains(needle)).take(3).collect();
        assert!(hits.is_empty(), "{what} in the logs: {hits:#?}");
    }
}

/// The Basic credentials as they travel (base64 of `user:password`).
fn shared_basic(user: &str, password: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = format!("{user}:{password}").into_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
