//! The tracking hold with the real adapters (moto, the sandbox): shipments recorded before the
//! carrier's pickup are confirmed to Overstock at the pickup, not before; an order Overstock
//! cancels while its shipment is held is withdrawn and never sent; `--send-now` (the shipping
//! service's `Send::Now`) skips the hold; a held package counts as shipped for the watchdog.

use chrono::{DateTime, Duration, NaiveTime, Timelike, Utc};
use serde_json::json;
use shared::domain::FixedClock;
use shared::domain::settings::CompanyTimeZone;
use shared::domain::shipment::{ShipmentRequest, UploadState};
use shared::services::shipping::{Send, pending_uploads, record_shipment_sending};
use tests::{World, of, up};

fn minute(t: DateTime<Utc>) -> DateTime<Utc> {
    t.with_second(0).and_then(|t| t.with_nanosecond(0)).unwrap_or(t)
}

#[tokio::test]
async fn held_tracking_goes_out_at_the_pickup_and_a_cancelled_order_never() {
    let mut w = World::new().await;
    let now = minute(Utc::now());
    let pickup = now + Duration::hours(2);
    let id = w
        .company("current", |s| {
            s.order_acknowledgement = false;
            s.fulfillment_upload = true;
            s.time_zone = CompanyTimeZone::parse("UTC").unwrap_or_else(|e| panic!("{e}"));
            s.ship_by.non_working_weekdays = Vec::new();
            s.tracking_hold.pickup = NaiveTime::from_hms_opt(pickup.hour(), pickup.minute(), 0);
        })
        .await;
    w.standard_mappings(&id).await;
    let created = now - Duration::minutes(30);
    for n in ["H-1", "H-2", "H-3", "N-1"] {
        w.sandbox
            .seed(
                id.as_str(),
                json!({"order_number": n, "created": created, "service_level_code": "GROUND",
                       "lines": [{"partner_sku": "SKU-1", "quantity": 1, "item_price": "9.99"}]}),
            )
            .await;
    }
    assert_eq!(of(&w.download("d0").await, &id).new, 4);
    let ship_date = now - Duration::minutes(5);
    let ship = |n: &'static str, send: Send| {
        let w = &w;
        let id = id.clone();
        async move {
            let o = w.order(&id, n).await;
            let req = ShipmentRequest {
                lines: vec![("1".into(), 1)],
                carrier_code: None,
                shipping_method: None,
                tracking_number: format!("1Z{n}"),
                ship_date,
            };
            record_shipment_sending(&w.store, &id, &o.order_number, &req, send, now)
                .await
                .unwrap_or_else(|e| panic!("{n}: {e}"))
                .0
        }
    };
    for n in ["H-1", "H-2", "H-3"] {
        let o = ship(n, Send::AsTheCompanyHolds).await;
        assert_eq!(o.shipments[0].send_after, Some(pickup), "{n}: held until today's pickup");
        assert!(o.lines_to_ship().is_empty(), "{n}: shipped for the watchdog");
    }
    assert_eq!(ship("N-1", Send::Now).await.shipments[0].send_after, None, "--send-now: no hold");

    // The upload before the pickup: N-1 only; the held lines wait, counted.
    let first = w.upload_with("u0", &FixedClock(now + Duration::minutes(1)), now + Duration::minutes(6)).await;
    let u = up(&first, &id);
    assert_eq!((u.sent, u.accepted, u.held), (1, 1, 3), "{u:?}");
    let sent: Vec<String> = w
        .sandbox
        .received(id.as_str(), "/shipments")
        .await
        .iter()
        .flat_map(|m| m["elements"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e["order_number"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(sent, ["N-1"], "nothing held reached Overstock");
    let pending = pending_uploads(&w.store, &id, now + Duration::minutes(1)).await.unwrap_or_else(|e| panic!("{e}"));
    let held: Vec<(&str, Option<DateTime<Utc>>)> =
        pending.iter().map(|p| (p.order_number.as_str(), p.held_until)).collect();
    assert_eq!(held, [("H-1", Some(pickup)), ("H-2", Some(pickup)), ("H-3", Some(pickup))]);

    // Overstock cancels H-2 while its tracking is held; the status sync sees it.
    let r = reqwest::Client::new()
        .post(format!("{}/admin/accounts/{}/orders/H-2/cancel", w.sandbox.base, id.as_str()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(r.status().is_success());
    let at = now + Duration::minutes(16);
    let sync = w.download_with("d1", &FixedClock(at), at + Duration::minutes(5)).await;
    assert_eq!(of(&sync, &id).cancelled_by_overstock.len(), 1, "{:?}", of(&sync, &id));
    let h2 = w.order(&id, "H-2").await;
    assert!(matches!(h2.shipments[0].lines[0].upload, UploadState::Withdrawn { .. }), "{h2:?}");

    // At the pickup: H-1 and H-3 go, with their own ship date; H-2 never.
    let at = pickup + Duration::minutes(1);
    let second = w.upload_with("u1", &FixedClock(at), at + Duration::minutes(5)).await;
    let u = up(&second, &id);
    assert_eq!((u.sent, u.accepted, u.held), (2, 2, 0), "{u:?}");
    let messages = w.sandbox.received(id.as_str(), "/shipments").await;
    let elements: Vec<serde_json::Value> =
        messages.iter().flat_map(|m| m["elements"].as_array().cloned().unwrap_or_default()).collect();
    let mut numbers: Vec<&str> = elements.iter().filter_map(|e| e["order_number"].as_str()).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, ["H-1", "H-3", "N-1"], "H-2 (cancelled while held) never sent");
    let third = w.upload_with("u2", &FixedClock(at + Duration::minutes(1)), at + Duration::minutes(6)).await;
    assert_eq!(up(&third, &id).sent, 0, "nothing twice");
}

/// In dry-run a held package is not "would send" before its time either: the dry run decides
/// as the real run would, at the same moment.
#[tokio::test]
async fn in_dry_run_a_held_package_is_decided_at_its_time() {
    use shared::audit::{AuditStore, Operation};
    use shared::domain::dry_run::DryRun;
    let mut w = World::new().await;
    let now = minute(Utc::now());
    let id = w
        .company("current", |s| {
            s.order_acknowledgement = false;
            s.fulfillment_upload = true;
            s.tracking_hold.delay_minutes = 60;
            s.dry_run = DryRun::parse("upload").unwrap_or_else(|e| panic!("{e}"));
        })
        .await;
    w.standard_mappings(&id).await;
    w.seed_and_download(&id, &[("DH-1", &[("A", 1, "10.00")])]).await;
    w.ship_all(&id, &["DH-1"]).await; // shipped two minutes ago: held for 58 more
    let would_send = || {
        let (w, id) = (&w, id.clone());
        async move {
            let calls = w.store.list_calls(&id, now - Duration::hours(1), 100).await.unwrap_or_else(|e| panic!("{e}"));
            calls.iter().filter(|c| c.dry_run && c.operation == Operation::PostShipments).count()
        }
    };
    let held = w.upload_with("dh0", &FixedClock(now + Duration::minutes(1)), now + Duration::minutes(6)).await;
    assert_eq!((up(&held, &id).held, would_send().await), (1, 0), "{:?}", up(&held, &id));
    let at = now + Duration::minutes(61);
    let due = w.upload_with("dh1", &FixedClock(at), at + Duration::minutes(5)).await;
    assert_eq!((up(&due, &id).held, up(&due, &id).accepted), (0, 1), "{:?}", up(&due, &id));
    assert_eq!(would_send().await, 1, "recorded as would send at its time");
    assert!(w.sandbox.received(id.as_str(), "/shipments").await.is_empty(), "never POSTed in dry-run");
}
