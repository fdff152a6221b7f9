//! tracking-upload end to end: shipments recorded through the shared crate, uploaded by the
//! service with the real adapters, checked on what the sandbox received.

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::{Value, json};
use shared::domain::order::LocalStatus;
use shared::domain::shipment::{ShipmentError, ShipmentRequest, UploadState};
use shared::domain::{CompanyId, OrderNumber};
use shared::services::order_download::Outcome;
use shared::services::shipping::{RecordError, record_shipment, reset_failed_uploads};
use shared::store::OrderStore;
use std::collections::HashMap;
use tests::{WAREHOUSE, World, of, up};

fn num(s: &str) -> OrderNumber {
    OrderNumber::parse(s).unwrap_or_else(|e| panic!("{e}"))
}

fn ms(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::milliseconds(1)).unwrap_or(t)
}

/// (order number, service level code, [(sku, quantity)]).
type Seed<'a> = (&'a str, &'a str, &'a [(&'a str, u32)]);

/// A company with download, acknowledgement and upload on, standard mappings, and `orders`
/// seeded (number, code, [(sku, qty)]) and downloaded.
async fn world(orders: &[Seed<'_>]) -> (World, CompanyId) {
    let mut w = World::new().await;
    let id = w.company("current", |s| s.fulfillment_upload = true).await;
    w.standard_mappings(&id).await;
    let created = Utc::now() - Duration::minutes(30);
    for (n, code, lines) in orders {
        let lines: Vec<Value> =
            lines.iter().map(|(sku, q)| json!({"partner_sku": sku, "quantity": q, "item_price": "10.00"})).collect();
        w.sandbox
            .seed(
                id.as_str(),
                json!({"order_number": n, "created": created, "service_level_code": code, "lines": lines}),
            )
            .await;
    }
    let run = w.download("dl").await;
    assert_eq!(of(&run, &id).new, orders.len());
    (w, id)
}

fn request(lines: &[(&str, u32)], tracking: &str, carrier: Option<&str>, ship_date: DateTime<Utc>) -> ShipmentRequest {
    ShipmentRequest {
        lines: lines.iter().map(|(l, q)| ((*l).to_owned(), *q)).collect(),
        carrier_code: carrier.map(str::to_owned),
        shipping_method: None,
        tracking_number: tracking.into(),
        ship_date,
    }
}

async fn ship(
    w: &World,
    id: &CompanyId,
    order: &str,
    lines: &[(&str, u32)],
    tracking: &str,
    carrier: Option<&str>,
    at: DateTime<Utc>,
) {
    record_shipment(&w.store, id, &num(order), &request(lines, tracking, carrier, at), Utc::now())
        .await
        .unwrap_or_else(|e| panic!("ship {order}: {e}"));
}

/// Confirmation elements the sandbox received and applied, by (order, line, tracking).
async fn applied(w: &World, id: &CompanyId) -> HashMap<(String, String, String), usize> {
    let mut out = HashMap::new();
    for m in w.sandbox.received(id.as_str(), "/shipments").await {
        let errors: Vec<String> = m["errors"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|e| e.as_str().map(str::to_owned))
            .collect();
        for e in m["elements"].as_array().cloned().unwrap_or_default() {
            let (o, l) =
                (e["order_number"].as_str().unwrap_or_default(), e["line_number"].as_str().unwrap_or_default());
            if errors.iter().any(|x| x.starts_with(&format!("{o} {l} "))) {
                continue;
            }
            *out.entry((o.to_owned(), l.to_owned(), e["tracking_number"].as_str().unwrap_or_default().to_owned()))
                .or_default() += 1;
        }
    }
    out
}

async fn stored(w: &World, id: &CompanyId, n: &str) -> shared::domain::order::Order {
    w.store
        .get_orders(id, &[num(n)])
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .remove(&num(n))
        .unwrap_or_else(|| panic!("{n} stored"))
}

#[tokio::test]
async fn happy_path_element_by_element() {
    let (w, id) = world(&[("H-1", "NEXT_DAY", &[("ACME-CHAIR-BLK", 2), ("ACME-LAMP-BRS", 1)])]).await;
    let shipped_at = ms(Utc::now() - Duration::minutes(5));
    ship(&w, &id, "H-1", &[("1", 2), ("2", 1)], "1Z999AA10123456784", None, shipped_at).await;
    assert_eq!(stored(&w, &id, "H-1").await.local_status, LocalStatus::Shipped);

    let run = w.upload("up-1").await;
    let s = up(&run, &id);
    assert_eq!(s.outcome, Outcome::Completed, "{s:?}");
    assert_eq!((s.sent, s.accepted, s.rejected, s.messages, s.ship_confirmed_orders), (2, 2, 0, 1, 1));

    let received = w.sandbox.received(id.as_str(), "/shipments").await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0]["http_status"], 200);
    let body = received[0]["body"].as_str().unwrap_or_default();
    assert!(body.starts_with(r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"#));
    assert!(body.contains(r#"<supplierShipmentMessage xmlns="api.supplieroasis.com">"#));
    let denver = shipped_at.with_timezone(&chrono_tz::America::Denver).format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string();
    assert!(body.contains(&format!("<shipDate>{denver}</shipDate>")), "{body}");
    let elements = received[0]["elements"].as_array().cloned().unwrap_or_default();
    assert_eq!(elements.len(), 2);
    for (e, (line, qty)) in elements.iter().zip([("1", 2), ("2", 1)]) {
        assert_eq!(e["sales_channel_name"], "OSTK");
        assert_eq!(e["order_number"], "H-1");
        assert_eq!(e["line_number"], line);
        assert_eq!(e["warehouse"], WAREHOUSE);
        assert_eq!(e["kind"], "confirmation");
        assert_eq!(e["quantity"], qty);
        assert_eq!(e["carrier"], "UPS", "the mapping's code to send for NEXT_DAY");
        assert_eq!(e["tracking_number"], "1Z999AA10123456784");
        assert_eq!(e["ship_date_utc"], shipped_at.to_rfc3339());
        assert_eq!(e["service_level"], "NEXT_DAY");
    }
    let o = stored(&w, &id, "H-1").await;
    assert_eq!(o.local_status, LocalStatus::ShipConfirmed);
    assert!(o.shipments[0].lines.iter().all(|l| matches!(l.upload, UploadState::Accepted { .. })));
    let sandbox_order = &w.sandbox.orders(id.as_str()).await[0];
    assert_eq!(sandbox_order["lines"][0]["shipped"], 2);
    assert_eq!(sandbox_order["status"], "COMPLETE");

    let again = w.upload("up-2").await;
    assert_eq!(up(&again, &id).sent, 0, "nothing new to send");
    assert_eq!(w.sandbox.received(id.as_str(), "/shipments").await.len(), 1);
}

#[tokio::test]
async fn multi_package_line_and_carrier_from_shipment_or_mapping() {
    let (w, id) = world(&[("M-1", "GROUND", &[("ACME-RUG-5X8", 3)])]).await;
    let at = ms(Utc::now() - Duration::minutes(10));
    ship(&w, &id, "M-1", &[("1", 2)], "PKG-A", None, at).await;
    ship(&w, &id, "M-1", &[("1", 1)], "PKG-B", Some("USPS"), at).await;
    let run = w.upload("up-1").await;
    let s = up(&run, &id);
    assert_eq!((s.sent, s.accepted, s.messages), (2, 2, 2), "two packages of one line never share a message");
    let elements: Vec<Value> = w
        .sandbox
        .received(id.as_str(), "/shipments")
        .await
        .iter()
        .flat_map(|m| m["elements"].as_array().cloned().unwrap_or_default())
        .collect();
    let by_tracking: HashMap<&str, &Value> =
        elements.iter().map(|e| (e["tracking_number"].as_str().unwrap_or_default(), e)).collect();
    assert_eq!(by_tracking["PKG-A"]["carrier"], "FEDEX", "from the mapping (GROUND → FEDEX)");
    assert_eq!(by_tracking["PKG-A"]["quantity"], 2);
    assert_eq!(by_tracking["PKG-B"]["carrier"], "USPS", "from the shipment");
    assert_eq!(by_tracking["PKG-B"]["quantity"], 1);
    assert_eq!(w.sandbox.orders(id.as_str()).await[0]["lines"][0]["shipped"], 3);
    assert_eq!(stored(&w, &id, "M-1").await.local_status, LocalStatus::ShipConfirmed);
}

#[tokio::test]
async fn one_rejected_line_in_a_batch_is_retried_to_the_limit_then_reported_and_can_be_reset() {
    let (mut w, id) = world(&[("R-1", "GROUND", &[("A", 1)]), ("R-2", "GROUND", &[("B", 1)])]).await;
    w.upload_config.max_attempts = 3;
    let at = Utc::now() - Duration::minutes(10);
    ship(&w, &id, "R-1", &[("1", 1)], "T1", None, at).await;
    ship(&w, &id, "R-2", &[("1", 1)], "T2", None, at).await;
    // Overstock refuses R-2's tracking by name (not a cancellation: reading the order again shows
    // nothing new, so the line is retried up to the limit).
    const REFUSED: &str = "tracking number not recognised by the carrier";
    w.sandbox.faults(id.as_str(), json!({"reject_tracking": ["T2"]})).await;

    let run = w.upload("up-1").await;
    let s = up(&run, &id);
    assert_eq!((s.sent, s.accepted, s.rejected, s.messages), (2, 1, 1, 1), "{s:?}");
    assert_eq!(s.rejections, vec![format!("R-2 line 1: {REFUSED}")]);
    assert!(s.cancelled_by_overstock.is_empty());
    assert_eq!(stored(&w, &id, "R-1").await.local_status, LocalStatus::ShipConfirmed);
    let r2 = stored(&w, &id, "R-2").await;
    let pl = &r2.shipments[0].lines[0];
    assert_eq!((pl.upload.clone(), pl.attempts, pl.last_error.as_deref()), (UploadState::Pending, 1, Some(REFUSED)));
    assert_eq!(r2.local_status, LocalStatus::Shipped, "the shipment is kept");

    for i in 2..=3 {
        let s = w.upload(&format!("up-{i}")).await;
        assert_eq!(up(&s, &id).rejected, 1);
    }
    let failed = w.store.list_upload_failed(&id).await.unwrap_or_default();
    assert_eq!(failed.iter().map(|o| o.order_number.as_str()).collect::<Vec<_>>(), vec!["R-2"]);
    assert!(
        matches!(&failed[0].shipments[0].lines[0].upload, UploadState::Failed { reason, .. } if reason.contains("3 times") && reason.contains(REFUSED))
    );
    let quiet = w.upload("up-4").await;
    assert_eq!(up(&quiet, &id).sent, 0, "given up: not sent again");

    let account = w.account(&id).await;
    let report = reset_failed_uploads(&w.store, (&w.overstock, &account), &id, &num("R-2"), (None, None), Utc::now())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((report.reset, report.confirmed_on_overstock), (1, 0), "Overstock does not show it shipped");
    assert!(w.store.list_upload_failed(&id).await.unwrap_or_default().is_empty());
    w.sandbox.faults(id.as_str(), json!({})).await; // the carrier knows the tracking now
    let retried = w.upload("up-5").await;
    assert_eq!((up(&retried, &id).sent, up(&retried, &id).accepted), (1, 1), "sent again after the reset");
}

#[tokio::test]
async fn throttling_server_errors_and_null_bodies_end_in_exactly_one_confirmation_each() {
    let numbers: Vec<String> = (0..12).map(|i| format!("F-{i}")).collect();
    let one: &[(&str, u32)] = &[("A", 1)];
    let refs: Vec<Seed> = numbers.iter().map(|n| (n.as_str(), "TWO_DAY", one)).collect();
    let (mut w, id) = world(&refs).await;
    w.upload_config.batch = 2;
    for n in &numbers {
        ship(&w, &id, n, &[("1", 1)], &format!("TR-{n}"), None, Utc::now() - Duration::minutes(3)).await;
    }
    w.sandbox
        .faults(id.as_str(), json!({"share_429": 0.5, "share_500": 0.4, "share_null": 0.4, "retry_after_secs": 1}))
        .await;
    for i in 0..20 {
        w.upload(&format!("up-{i}")).await;
        if w.store.list_upload_pending(&id).await.unwrap_or_default().is_empty() {
            break;
        }
    }
    w.sandbox.faults(id.as_str(), json!({})).await;
    w.upload("up-final").await;
    let stats = w.sandbox.stats(id.as_str()).await;
    for kind in ["429", "500", "null"] {
        assert!(stats["faults_injected"][kind].as_u64().unwrap_or(0) > 0, "{kind}: {stats}");
    }
    let applied = applied(&w, &id).await;
    assert_eq!(applied.len(), 12, "{applied:?}");
    assert!(applied.values().all(|c| *c == 1), "each package confirmed once: {applied:?}");
    for n in &numbers {
        assert_eq!(stored(&w, &id, n).await.local_status, LocalStatus::ShipConfirmed, "{n}");
    }
}

#[tokio::test]
async fn crash_between_send_and_store_is_reconciled_without_resending() {
    let (w, id) = world(&[("C-1", "GROUND", &[("A", 2)]), ("C-2", "GROUND", &[("B", 1)])]).await;
    let at = ms(Utc::now() - Duration::minutes(3));
    ship(&w, &id, "C-1", &[("1", 2)], "TC1", None, at).await;
    ship(&w, &id, "C-2", &[("1", 1)], "TC2", None, at).await;
    // The killed run: intent written for both, the message sent, the answer never stored.
    let mut intent = Vec::new();
    for n in ["C-1", "C-2"] {
        let mut o = stored(&w, &id, n).await;
        o.shipments[0].lines[0].upload = UploadState::Sending { at: Utc::now() };
        intent.push(o);
    }
    assert!(w.store.replace_orders(&intent).await.unwrap_or_else(|e| panic!("{e}")).is_empty());
    let c1 = &intent[0];
    let item = shared::overstock::shipments::ShipConfirmation {
        sales_channel_name: "OSTK".into(),
        order_number: "C-1".into(),
        line_number: "1".into(),
        warehouse_code: WAREHOUSE.into(),
        quantity: 2,
        carrier_code: "FEDEX".into(),
        tracking_number: c1.shipments[0].tracking_number.clone(),
        ship_date: at,
        service_level_code: "GROUND".into(),
    };
    let rejected = shared::overstock::OverstockApi::post_shipments(&w.overstock, &w.account(&id).await, &[item.into()])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(rejected.is_empty());
    // (C-2's message never left: its line is not shipped on Overstock.)

    let run = w.upload("after-crash").await;
    let s = up(&run, &id);
    assert_eq!(s.reconciled, 2, "{s:?}");
    assert_eq!(s.sent, 1, "only C-2, which Overstock never received");
    let applied = applied(&w, &id).await;
    assert_eq!(applied.get(&("C-1".into(), "1".into(), "TC1".into())), Some(&1), "C-1 confirmed once: {applied:?}");
    assert_eq!(applied.get(&("C-2".into(), "1".into(), "TC2".into())), Some(&1));
    assert_eq!(stored(&w, &id, "C-1").await.local_status, LocalStatus::ShipConfirmed);
    assert_eq!(stored(&w, &id, "C-2").await.local_status, LocalStatus::ShipConfirmed);
}

/// A failed upload whose line Overstock already shows shipped (the message went through before
/// a crash): the reset reads Overstock first and records it accepted, never sends it again.
#[tokio::test]
async fn a_reset_never_confirms_a_line_twice() {
    let (w, id) = world(&[("S-1", "GROUND", &[("A", 1)])]).await;
    ship(&w, &id, "S-1", &[("1", 1)], "TS1", None, Utc::now() - Duration::minutes(3)).await;
    let run = w.upload("up-1").await;
    assert_eq!(up(&run, &id).accepted, 1);
    // As if the answer had been lost and the line marked "outcome unknown".
    let mut o = stored(&w, &id, "S-1").await;
    o.shipments[0].lines[0].upload = UploadState::Failed { at: Utc::now(), reason: "outcome unknown".into() };
    o.local_status = LocalStatus::Shipped;
    assert!(w.store.replace_orders(&[o]).await.unwrap_or_else(|e| panic!("{e}")).is_empty());

    let account = w.account(&id).await;
    let report = reset_failed_uploads(&w.store, (&w.overstock, &account), &id, &num("S-1"), (None, None), Utc::now())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((report.reset, report.confirmed_on_overstock), (0, 1));
    let after = stored(&w, &id, "S-1").await;
    assert!(matches!(after.shipments[0].lines[0].upload, UploadState::Accepted { .. }));
    assert_eq!(after.local_status, LocalStatus::ShipConfirmed);
    let again = w.upload("up-2").await;
    assert_eq!(up(&again, &id).sent, 0);
    assert_eq!(applied(&w, &id).await.get(&("S-1".into(), "1".into(), "TS1".into())), Some(&1), "confirmed once");
}

#[tokio::test]
async fn disabled_company_is_untouched() {
    let mut w = World::new().await;
    let id = w.company("current", |s| s.fulfillment_upload = false).await;
    w.standard_mappings(&id).await;
    w.sandbox
        .seed(
            id.as_str(),
            json!({"order_number": "D-1", "created": Utc::now() - Duration::minutes(5), "service_level_code": "GROUND",
            "lines": [{"partner_sku": "A", "quantity": 1, "item_price": "1.00"}]}),
        )
        .await;
    w.download("dl").await;
    ship(&w, &id, "D-1", &[("1", 1)], "TD", None, Utc::now()).await;
    let run = w.upload("up").await;
    assert_eq!(
        up(&run, &id).outcome,
        Outcome::Skipped { reason: "Enable Order Fulfillment Upload is disabled".into() }
    );
    assert!(w.sandbox.received(id.as_str(), "/shipments").await.is_empty());
    assert!(stored(&w, &id, "D-1").await.has_upload_work(), "still waiting");
}

#[tokio::test]
async fn bad_shipment_input_is_rejected_and_changes_nothing() {
    let (w, id) = world(&[("B-1", "GROUND", &[("A", 2)])]).await;
    let before = stored(&w, &id, "B-1").await;
    let now = Utc::now();
    let cases: Vec<(&str, ShipmentRequest, ShipmentError)> = vec![
        ("NOPE", request(&[("1", 1)], "T", None, now), ShipmentError::UnknownOrder("NOPE".into())),
        ("B-1", request(&[("7", 1)], "T", None, now), ShipmentError::UnknownLine("7".into())),
        (
            "B-1",
            request(&[("1", 3)], "T", None, now),
            ShipmentError::QuantityAboveOpen { line: "1".into(), quantity: 3, open: 2 },
        ),
        ("B-1", request(&[("1", 1)], " ", None, now), ShipmentError::EmptyTracking),
    ];
    for (order, req, expected) in cases {
        match record_shipment(&w.store, &id, &num(order), &req, now).await {
            Err(RecordError::Invalid(e)) => assert_eq!(e, expected),
            other => panic!("{order}: expected {expected:?}, got {other:?}"),
        }
    }
    let future = request(&[("1", 1)], "T", None, now + Duration::hours(1));
    assert!(matches!(
        record_shipment(&w.store, &id, &num("B-1"), &future, now).await,
        Err(RecordError::Invalid(ShipmentError::FutureShipDate { .. }))
    ));
    assert_eq!(stored(&w, &id, "B-1").await, before, "nothing changed");
}

#[tokio::test]
async fn ship_dates_on_both_sides_of_a_dst_change_reach_overstock_as_the_same_instants() {
    let (w, id) = world(&[("DST-1", "GROUND", &[("A", 2)])]).await;
    // 2026-11-01 08:00Z: Denver falls back from MDT (-06:00) to MST (-07:00).
    let before =
        DateTime::parse_from_rfc3339("2026-11-01T07:30:00Z").map(|t| t.with_timezone(&Utc)).unwrap_or_default();
    let after = DateTime::parse_from_rfc3339("2026-11-01T08:30:00Z").map(|t| t.with_timezone(&Utc)).unwrap_or_default();
    // The order as if placed the day before (a ship date before the order is refused).
    let mut o = stored(&w, &id, "DST-1").await;
    o.overstock.order_date = Some(before - Duration::days(1));
    assert!(w.store.replace_orders(&[o]).await.unwrap_or_else(|e| panic!("{e}")).is_empty());
    ship(&w, &id, "DST-1", &[("1", 1)], "BEFORE", None, before).await;
    ship(&w, &id, "DST-1", &[("1", 1)], "AFTER", None, after).await;
    w.upload("up").await;
    let msgs = w.sandbox.received(id.as_str(), "/shipments").await;
    let bodies: String = msgs.iter().filter_map(|m| m["body"].as_str()).collect();
    assert!(bodies.contains("<shipDate>2026-11-01T01:30:00.000-06:00</shipDate>"), "{bodies}");
    assert!(bodies.contains("<shipDate>2026-11-01T01:30:00.000-07:00</shipDate>"), "{bodies}");
    let dates: Vec<String> = msgs
        .iter()
        .flat_map(|m| m["elements"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e["ship_date_utc"].as_str().map(str::to_owned))
        .collect();
    assert!(dates.contains(&before.to_rfc3339()) && dates.contains(&after.to_rfc3339()), "{dates:?}");
}

#[tokio::test]
async fn overlapping_upload_runs_confirm_each_package_once() {
    let numbers: Vec<String> = (0..30).map(|i| format!("O-{i}")).collect();
    let two: &[(&str, u32)] = &[("A", 1), ("B", 2)];
    let refs: Vec<Seed> = numbers.iter().map(|n| (n.as_str(), "GROUND", two)).collect();
    let (mut w, id) = world(&refs).await;
    w.upload_config.batch = 10;
    for n in &numbers {
        ship(&w, &id, n, &[("1", 1), ("2", 2)], &format!("T-{n}"), None, Utc::now() - Duration::minutes(2)).await;
    }
    w.sandbox.faults(id.as_str(), json!({"latency_ms": 20})).await;
    let (a, b) = tokio::join!(w.upload("run-a"), w.upload("run-b"));
    let (sa, sb) = (up(&a, &id), up(&b, &id));
    // Whether the second run found the lease held depends on timing; the property does not:
    // neither fails, at least one does the work, and everything below happens exactly once.
    for s in [&sa.outcome, &sb.outcome] {
        assert!(matches!(s, Outcome::Completed | Outcome::Busy), "{sa:?} {sb:?}");
    }
    assert!(sa.outcome == Outcome::Completed || sb.outcome == Outcome::Completed, "{sa:?} {sb:?}");
    assert_eq!(sa.accepted + sb.accepted, 60);
    let applied = applied(&w, &id).await;
    assert_eq!(applied.len(), 60);
    assert!(applied.values().all(|c| *c == 1), "{applied:?}");
}

/// A cancelled line's short ship goes out with the job that owns `POST /shipments`, once: its
/// pending package is withdrawn, never sent; an interrupted short ship is settled from
/// Overstock's line status, never sent twice.
#[tokio::test]
async fn a_cancelled_line_is_short_shipped_once_and_its_package_never_sent() {
    use shared::domain::cancellation::ShortShip;
    use shared::domain::requests::{CancelRequest, RequestId};
    let (w, id) = world(&[("K-1", "GROUND", &[("A", 1), ("B", 1)]), ("K-2", "GROUND", &[("C", 1)])]).await;
    ship(&w, &id, "K-1", &[("2", 1)], "TK1", None, Utc::now() - Duration::minutes(2)).await;
    let cancel = |o: &mut shared::domain::order::Order, rid: &str, lines: &[&str]| {
        let req = CancelRequest {
            lines: lines.iter().map(|l| (*l).to_owned()).collect(),
            reason: "OUT_OF_STOCK".into(),
            local_only: false,
        };
        o.cancel(&RequestId::parse(rid).unwrap_or_else(|e| panic!("{e}")), &req, Some("test"), Utc::now())
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let mut k1 = stored(&w, &id, "K-1").await;
    cancel(&mut k1, "c-1", &["2"]);
    assert!(w.store.replace_orders(&[k1]).await.unwrap_or_else(|e| panic!("{e}")).is_empty());

    let run = w.upload("up-1").await;
    let s = up(&run, &id);
    assert_eq!((s.short_ships, s.sent, s.accepted, s.rejected), (1, 1, 0, 0), "{s:?}");
    let msgs = w.sandbox.received(id.as_str(), "/shipments").await;
    let kinds: Vec<(String, String)> = msgs
        .iter()
        .flat_map(|m| m["elements"].as_array().cloned().unwrap_or_default())
        .map(|e| {
            (
                e["line_number"].as_str().unwrap_or_default().to_owned(),
                e["kind"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(kinds, [("2".to_owned(), "short_ship".to_owned())], "the withdrawn package never went out");
    let sandbox_k1 = w.sandbox.orders(id.as_str()).await.into_iter().find(|o| o["number"] == "K-1").unwrap_or_default();
    assert_eq!(sandbox_k1["lines"][1]["status"], "CANCELLED");
    let k1 = stored(&w, &id, "K-1").await;
    assert!(matches!(k1.cancellations[0].lines[0].short_ship, ShortShip::Accepted { .. }));
    assert_eq!(up(&w.upload("up-2").await, &id).sent, 0, "nothing twice");

    // Interrupted: the short ship reached Overstock, the answer was never stored.
    let mut k2 = stored(&w, &id, "K-2").await;
    cancel(&mut k2, "c-2", &[]);
    let r = k2.pending_short_ships()[0];
    assert!(k2.begin_short_ship(r, Utc::now()));
    assert!(w.store.replace_orders(&[k2]).await.unwrap_or_else(|e| panic!("{e}")).is_empty());
    let item = shared::overstock::shipments::ShipmentElement::ShortShip(shared::overstock::shipments::ShortShipItem {
        sales_channel_name: "OSTK".into(),
        order_number: "K-2".into(),
        line_number: "1".into(),
        warehouse_code: WAREHOUSE.into(),
        reason_code: "OUT_OF_STOCK".into(),
    });
    assert!(
        shared::overstock::OverstockApi::post_shipments(&w.overstock, &w.account(&id).await, &[item])
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty()
    );
    let run = w.upload("up-3").await;
    let s = up(&run, &id);
    assert_eq!((s.reconciled, s.short_ships, s.sent), (1, 1, 0), "{s:?}");
    let k2 = stored(&w, &id, "K-2").await;
    assert!(matches!(k2.cancellations[0].lines[0].short_ship, ShortShip::Accepted { .. }));
    assert_eq!(k2.local_status, LocalStatus::Cancelled);
}

/// A `shipment` message from the seller's systems, through the parser and the same rule as the
/// operator's: delivered three times it is one package; the same package id with other content
/// is refused with the reason; the package is uploaded and confirmed once.
#[tokio::test]
async fn a_shipment_message_delivered_three_times_is_one_package_confirmed_once() {
    use shared::domain::shipment::SenderRecorded;
    use shared::domain::shipment_message::parse_shipment;
    use shared::services::shipping::record_shipment_message;
    let (w, id) = world(&[("M-1", "GROUND", &[("A", 2)])]).await;
    let body = |tracking: &str| {
        json!({"type": "shipment", "version": 1, "company_id": id.as_str(), "order_number": "M-1",
               "package_id": "WMS-9-1", "lines": [{"line": "1", "quantity": 2}], "tracking_number": tracking,
               "carrier_code": "UPS", "ship_date": (Utc::now() - Duration::minutes(2)).to_rfc3339(), "send_now": true})
        .to_string()
    };
    let message = parse_shipment(&body("1ZMSG1")).unwrap_or_else(|r| panic!("{}: {}", r.field, r.reason));
    let mut answers = Vec::new();
    for _ in 0..3 {
        answers.push(record_shipment_message(&w.store, &message, Utc::now()).await.unwrap_or_else(|e| panic!("{e}")));
    }
    assert_eq!(answers[0], SenderRecorded::New("P1".into()));
    assert_eq!(answers[1..], [SenderRecorded::Already("P1".into()), SenderRecorded::Already("P1".into())]);
    let other = parse_shipment(&body("1ZOTHER")).unwrap_or_else(|r| panic!("{}: {}", r.field, r.reason));
    let refused = record_shipment_message(&w.store, &other, Utc::now()).await;
    assert!(
        matches!(&refused, Err(RecordError::Invalid(ShipmentError::PackageIdReused(p))) if p == "WMS-9-1"),
        "{refused:?}"
    );
    let o = w.order(&id, "M-1").await;
    assert_eq!(o.shipments.len(), 1);
    assert_eq!(o.shipments[0].sender_package_id.as_deref(), Some("WMS-9-1"));
    let run = w.upload("msg-up").await;
    assert_eq!(up(&run, &id).accepted, 1, "{:?}", up(&run, &id));
    let confirmed: Vec<Value> = w
        .sandbox
        .received(id.as_str(), "/shipments")
        .await
        .into_iter()
        .flat_map(|m| m["elements"].as_array().cloned().unwrap_or_default())
        .collect();
    assert_eq!(confirmed.len(), 1, "{confirmed:?}");
    assert_eq!(confirmed[0]["tracking_number"], "1ZMSG1", "{confirmed:?}");
}
