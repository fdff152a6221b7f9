//! A hostile Overstock (the sandbox's hostile mode and poison orders, sharing no code with the
//! client): for each class of bad answer, what was stored, acknowledged, quarantined, how long
//! the run took, and that the watermark never passed a lost order.

use chrono::{Duration, Utc};
use serde_json::json;
use shared::domain::OrderNumber;
use shared::domain::settings::ApiBaseUrl;
use shared::overstock::RetryPolicy;
use shared::services::order_download::Outcome;
use shared::store::{CompanyStore, OrderStore, QuarantineStore, SyncStateStore};
use std::time::Instant;
use tests::{World, client_with, fast_retry, of};

const JOB: &str = "order-download";

fn num(s: &str) -> OrderNumber {
    OrderNumber::parse(s).unwrap_or_else(|e| panic!("{e}"))
}

/// A company (acknowledgement on) with `orders` seeded 30 minutes ago: (number, wire override).
async fn world(orders: &[(&str, Option<(&str, &str)>)]) -> (World, shared::domain::CompanyId) {
    let mut w = World::new().await;
    let id = w.company("current", |_| {}).await;
    w.standard_mappings(&id).await;
    let created = Utc::now() - Duration::minutes(30);
    for (n, poison) in orders {
        let mut order = json!({"order_number": n, "created": created, "service_level_code": "GROUND",
                               "lines": [{"partner_sku": "ACME-CHAIR-BLK", "quantity": 2, "item_price": "89.99"}]});
        if let Some((element, raw)) = poison {
            order["wire_override"] = json!([element, raw]);
        }
        w.sandbox.seed(id.as_str(), order).await;
    }
    (w, id)
}

#[tokio::test]
async fn a_poison_order_is_quarantined_never_acknowledged_and_read_again_until_it_parses() {
    let (w, id) = world(&[("G-1", None), ("P-1", Some(("quantity", "-3"))), ("G-2", None)]).await;
    let run = w.download("run-1").await;
    let s = of(&run, &id);
    assert_eq!(s.outcome, Outcome::Completed, "{s:?}");
    assert_eq!(s.new, 2);
    assert_eq!(s.quarantined.len(), 1, "{s:?}");
    assert!(s.quarantined[0].starts_with("P-1: ") && s.quarantined[0].contains("quantity"), "{s:?}");
    assert!(s.watermark.is_some(), "the watermark moves on past the quarantined order");
    assert_eq!(w.stored_numbers(&id).await, ["G-1", "G-2"]);
    assert_eq!(w.acknowledged(&id).await, ["G-1", "G-2"], "the poison order is never acknowledged");
    let q = w.store.list_quarantined(&id).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].order_number.as_deref(), Some("P-1"));
    assert_eq!(q[0].window_end - q[0].window_start, Duration::seconds(1), "read again at its creation second");

    let again = w.download("run-2").await;
    assert_eq!(of(&again, &id).still_quarantined, 1);
    assert_eq!(of(&again, &id).new, 0);
    let q = w.store.list_quarantined(&id).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(q[0].sightings, 2, "{q:?}");

    // Overstock's copy is fixed: the next run stores and acknowledges it, once.
    w.sandbox.clear_override(id.as_str(), "P-1").await;
    let fixed = w.download("run-3").await;
    assert_eq!(of(&fixed, &id).released, 1, "{:?}", of(&fixed, &id));
    assert_eq!(w.stored_numbers(&id).await, ["G-1", "G-2", "P-1"]);
    assert_eq!(w.acknowledged(&id).await, ["G-1", "G-2", "P-1"]);
    assert!(w.store.list_quarantined(&id).await.unwrap_or_else(|e| panic!("{e}")).is_empty());
    let last = w.download("run-4").await;
    assert_eq!((of(&last, &id).new, of(&last, &id).acknowledged), (0, 0));
}

#[tokio::test]
async fn values_that_parse_but_make_no_sense_are_stored_with_an_attention_flag() {
    let (w, id) = world(&[("Z-1", Some(("quantity", "0"))), ("N-1", Some(("itemPrice", "-5.00")))]).await;
    let run = w.download("run-1").await;
    assert_eq!(of(&run, &id).new, 2);
    let orders = w.store.get_orders(&id, &[num("Z-1"), num("N-1")]).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        orders[&num("Z-1")].attention.iter().any(|a| a.contains("quantity 0")),
        "{:?}",
        orders[&num("Z-1")].attention
    );
    assert!(
        orders[&num("N-1")].attention.iter().any(|a| a.contains("negative price")),
        "{:?}",
        orders[&num("N-1")].attention
    );
    let mut flagged = of(&run, &id).attention_orders.clone();
    flagged.sort();
    assert_eq!(flagged, ["N-1", "Z-1"]);
}

#[tokio::test]
async fn deep_and_entity_laden_orders_are_quarantined_and_the_others_stored() {
    for (mode, extra) in [("deep", json!({"depth": 50_000})), ("entities", json!({}))] {
        let (w, id) = world(&[("A-1", None), ("A-2", None)]).await;
        let mut h = json!({"mode": mode, "times": 1, "endpoint": "GET /salesorders"});
        if let (Some(h), Some(e)) = (h.as_object_mut(), extra.as_object()) {
            h.extend(e.clone());
        }
        w.sandbox.hostile(id.as_str(), h).await;
        let run = w.download("run-1").await;
        let s = of(&run, &id);
        assert_eq!(s.outcome, Outcome::Completed, "{mode}: {s:?}");
        assert_eq!(s.quarantined.len(), 1, "{mode}: {s:?}");
        assert_eq!(w.stored_numbers(&id).await, ["A-2"], "{mode}");
        assert_eq!(w.acknowledged(&id).await, ["A-2"], "{mode}");
        // The next answer is normal: the quarantined order is stored.
        let again = w.download("run-2").await;
        assert_eq!(of(&again, &id).released, 1, "{mode}: {:?}", of(&again, &id));
        assert_eq!(w.stored_numbers(&id).await, ["A-1", "A-2"], "{mode}");
    }
}

#[tokio::test]
async fn an_oversized_answer_is_refused_unread_and_the_window_split() {
    let (mut w, id) = world(&[("O-1", None), ("O-2", None), ("O-3", None)]).await;
    w.overstock = client_with(RetryPolicy { max_response_bytes: 256 * 1024, ..fast_retry() });
    w.sandbox
        .hostile(
            id.as_str(),
            json!({"mode": "oversized", "times": 1, "size_bytes": 2_000_000, "endpoint": "GET /salesorders"}),
        )
        .await;
    let run = w.download("run-1").await;
    let s = of(&run, &id);
    assert_eq!(s.outcome, Outcome::Completed, "{s:?}");
    assert!(s.splits >= 1, "{s:?}");
    assert_eq!(w.stored_numbers(&id).await, ["O-1", "O-2", "O-3"]);
}

#[tokio::test]
async fn a_redirect_is_never_followed() {
    let (w, id) = world(&[("R-1", None)]).await;
    w.sandbox.hostile(id.as_str(), json!({"mode": "redirect"})).await;
    let run = w.download("run-1").await;
    match &of(&run, &id).outcome {
        Outcome::Failed { error, retryable } => {
            assert!(error.contains("redirect"), "{error}");
            assert!(!retryable, "someone has to look");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(w.sandbox.stats(id.as_str()).await["requests"]["GET /salesorders"], 1, "not retried, not followed");
    assert!(w.stored_numbers(&id).await.is_empty());
    assert_eq!(w.store.get_watermark(&id, JOB).await.unwrap_or_else(|e| panic!("{e}")), None);
}

#[tokio::test]
async fn an_html_400_to_an_acknowledgement_is_an_unknown_outcome_not_a_rejection() {
    let (w, id) = world(&[("H-1", None), ("H-2", None)]).await;
    w.sandbox.hostile(id.as_str(), json!({"mode": "html400", "times": 1, "endpoint": "POST /acknowledgements"})).await;
    let run = w.download("run-1").await;
    assert_eq!(of(&run, &id).new, 2);
    assert_eq!(of(&run, &id).ack_rejected, 0, "{:?}", of(&run, &id));
    let orders = w.store.list_ack_pending(&id).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(orders.len(), 2, "still pending, to be reconciled");
    let again = w.download("run-2").await;
    assert_eq!(of(&again, &id).acknowledged, 2, "{:?}", of(&again, &id));
    assert_eq!(w.acknowledged(&id).await, ["H-1", "H-2"], "each once");
}

#[tokio::test]
async fn one_401_backs_off_and_clears_when_overstock_accepts_again() {
    let (w, id) = world(&[("U-1", None)]).await;
    w.sandbox.hostile(id.as_str(), json!({"mode": "unauthorized", "times": 1})).await;
    let now = Utc::now();
    let run = w.download_with("run-1", &shared::domain::FixedClock(now), now + Duration::minutes(5)).await;
    assert!(matches!(of(&run, &id).outcome, Outcome::CredentialsRefused { refusals: 1, .. }), "{:?}", of(&run, &id));
    let later = now + Duration::minutes(3);
    let again = w.download_with("run-2", &shared::domain::FixedClock(later), later + Duration::minutes(5)).await;
    assert_eq!(of(&again, &id).outcome, Outcome::Completed, "{:?}", of(&again, &id));
    assert_eq!(w.stored_numbers(&id).await, ["U-1"]);
    let c = w.store.get_company(&id).await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("company"));
    assert_eq!(c.credentials_health, shared::domain::settings::CredentialsHealth::Ok, "the refusal is cleared");
}

#[tokio::test]
async fn a_connection_that_never_answers_ends_the_run_in_bounded_time() {
    let (mut w, id) = world(&[("X-1", None)]).await;
    w.overstock = client_with(RetryPolicy {
        request_timeout: std::time::Duration::from_millis(300),
        max_retries: 2,
        call_budget: std::time::Duration::from_secs(3),
        ..fast_retry()
    });
    w.sandbox.hostile(id.as_str(), json!({"mode": "hang"})).await;
    let t = Instant::now();
    let run = w.download("run-1").await;
    let took = t.elapsed();
    assert!(took < std::time::Duration::from_secs(10), "took {took:?}");
    assert!(matches!(of(&run, &id).outcome, Outcome::Failed { retryable: true, .. }), "{:?}", of(&run, &id));
    assert_eq!(w.store.get_watermark(&id, JOB).await.unwrap_or_else(|e| panic!("{e}")), None);
}

/// A company row edited to a host that only looks local (or any host the deployment does not
/// allow): the credentials are never sent; the sandbox, which `localhost` does reach, sees no
/// request at all.
#[tokio::test]
async fn credentials_never_go_to_a_host_the_deployment_does_not_allow() {
    let (w, id) = world(&[("C-1", None)]).await;
    let port = w.sandbox.base.rsplit(':').next().unwrap_or_default().to_owned();
    for url in [
        format!("http://localhost:{port}"),
        format!("http://127.0.0.1.nip.example:{port}"),
        "https://evil.example".to_owned(),
    ] {
        let mut c =
            w.store.get_company(&id).await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("company"));
        c.settings.api_base_url = ApiBaseUrl::parse(&url).unwrap_or_else(|e| panic!("{e}"));
        w.store.update_settings(&id, &c.settings, Utc::now()).await.unwrap_or_else(|e| panic!("{e}"));
        let run = w.download("run").await;
        match &of(&run, &id).outcome {
            Outcome::Failed { error, retryable: false } => {
                assert!(error.contains("refused to send credentials"), "{url}: {error}")
            }
            other => panic!("{url}: {other:?}"),
        }
        assert!(
            w.sandbox.stats(id.as_str()).await["requests"].as_object().is_none_or(|m| m.is_empty()),
            "{url}: the sandbox saw a request"
        );
    }
}

/// An order too large to store even compressed is set apart before anything is sent about it:
/// never acknowledged, listed with the reason; the other orders of the window go on.
#[tokio::test]
async fn an_order_too_large_to_store_is_never_acknowledged() {
    let (w, id) = world(&[("S-1", None)]).await;
    let mut seed = 0x9E3779B97F4A7C15u64;
    let mut noise = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        format!("{seed:016x}")
    };
    let lines: Vec<serde_json::Value> =
        (0..6000).map(|_| json!({"partner_sku": (0..8).map(|_| noise()).collect::<String>(), "quantity": 1, "item_price": "1.00"})).collect();
    w.sandbox
        .seed(id.as_str(), json!({"order_number": "HUGE-1", "created": Utc::now() - Duration::minutes(30), "service_level_code": "GROUND", "lines": lines}))
        .await;
    let run = w.download("run-1").await;
    let s = of(&run, &id);
    assert_eq!(s.outcome, Outcome::Completed, "{s:?}");
    assert_eq!(s.new, 1);
    assert_eq!(s.quarantined.len(), 1, "{s:?}");
    assert!(s.quarantined[0].starts_with("HUGE-1: ") && s.quarantined[0].contains("too large"), "{s:?}");
    assert_eq!(w.stored_numbers(&id).await, ["S-1"]);
    assert_eq!(w.acknowledged(&id).await, ["S-1"], "never acknowledged while it cannot be stored");
    let again = w.download("run-2").await;
    assert_eq!(of(&again, &id).still_quarantined, 1, "{:?}", of(&again, &id));
    assert_eq!(w.acknowledged(&id).await, ["S-1"]);
}

/// A rejected acknowledgement is not retried by itself; the operator requeues it, and the next
/// run reads Overstock's status first and sends it once.
#[tokio::test]
async fn a_rejected_acknowledgement_is_requeued_by_the_operator_and_sent_once() {
    let (w, id) = world(&[("Q-1", None)]).await;
    w.sandbox.hostile(id.as_str(), json!({"mode": "html400", "endpoint": "POST /acknowledgements"})).await;
    let run = w.download("run-1").await;
    assert_eq!(of(&run, &id).new, 1);
    // As if Overstock had named it in a 400: rejected, kept with the reason.
    let mut o = w
        .store
        .get_orders(&id, &[num("Q-1")])
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .remove(&num("Q-1"))
        .unwrap_or_else(|| panic!("Q-1"));
    o.ack = shared::domain::order::AckState::Rejected { at: Utc::now(), reason: "order on hold".into() };
    assert!(w.store.replace_orders(&[o]).await.unwrap_or_else(|e| panic!("{e}")).is_empty());
    w.sandbox.hostile(id.as_str(), json!({"mode": "html400", "times": 0})).await;
    let quiet = w.download("run-2").await;
    assert_eq!(of(&quiet, &id).acknowledged, 0, "a rejection is final until someone acts");

    shared::services::shipping::requeue_acknowledgement(&w.store, &id, &num("Q-1"), Utc::now())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let again = shared::services::shipping::requeue_acknowledgement(&w.store, &id, &num("Q-1"), Utc::now()).await;
    match again {
        Err(
            e @ shared::services::shipping::RecordError::Refused(shared::domain::order::RepairError::AckNotRejected(
                "pending",
            )),
        ) => assert!(!e.is_retryable(), "refused again until the order changes"),
        other => panic!("only a rejected one is requeued: {other:?}"),
    }
    let run = w.download("run-3").await;
    assert_eq!(of(&run, &id).acknowledged, 1, "{:?}", of(&run, &id));
    assert_eq!(w.acknowledged(&id).await, ["Q-1"]);
    let again = w.download("run-4").await;
    assert_eq!(of(&again, &id).acknowledged, 0);
}

/// The same for a shipment message: an HTML 400 leaves its lines `Sending` (maybe applied);
/// the next run reads Overstock, finds them not shipped, and sends them once.
#[tokio::test]
async fn an_html_400_to_a_shipment_is_reconciled_not_counted_as_a_rejection() {
    let mut w = World::new().await;
    let id = w.company("current", |s| s.fulfillment_upload = true).await;
    w.standard_mappings(&id).await;
    w.sandbox
        .seed(id.as_str(), json!({"order_number": "SH-1", "created": Utc::now() - Duration::minutes(30), "service_level_code": "GROUND",
            "lines": [{"partner_sku": "A", "quantity": 1, "item_price": "5.00"}]}))
        .await;
    assert_eq!(of(&w.download("dl").await, &id).new, 1);
    let req = shared::domain::shipment::ShipmentRequest {
        lines: vec![("1".into(), 1)],
        carrier_code: None,
        shipping_method: None,
        tracking_number: "1ZHTML400".into(),
        ship_date: Utc::now() - Duration::minutes(1),
    };
    shared::services::shipping::record_shipment(&w.store, &id, &num("SH-1"), &req, Utc::now())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    w.sandbox.hostile(id.as_str(), json!({"mode": "html400", "times": 1, "endpoint": "POST /shipments"})).await;
    let run = w.upload("up-1").await;
    let s = tests::up(&run, &id);
    assert!(matches!(s.outcome, Outcome::Failed { retryable: true, .. }), "{s:?}");
    assert_eq!(s.rejected, 0, "not a rejection: {s:?}");
    let o = w
        .store
        .get_orders(&id, &[num("SH-1")])
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .remove(&num("SH-1"))
        .unwrap_or_else(|| panic!("SH-1"));
    assert!(
        matches!(o.shipments[0].lines[0].upload, shared::domain::shipment::UploadState::Sending { .. }),
        "{:?}",
        o.shipments[0].lines[0]
    );
    let again = w.upload("up-2").await;
    let s = tests::up(&again, &id);
    assert_eq!((s.reconciled, s.sent, s.accepted), (1, 1, 1), "{s:?}");
    let applied = applied_shipment_elements(&w, &id).await;
    assert_eq!(applied, 1, "confirmed exactly once");
}

/// An order element without an order number is quarantined under a fingerprint of its text, so
/// the overlap reading it again makes no second record; once Overstock's copy is whole, the
/// order is stored and the record released.
#[tokio::test]
async fn an_unnamed_element_is_one_record_however_often_it_is_read() {
    let (w, id) = world(&[("N-1", Some(("salesChannelOrderNumber", ""))), ("N-2", None)]).await;
    for run in ["run-1", "run-2", "run-3"] {
        let s = w.download(run).await;
        assert_eq!(of(&s, &id).outcome, Outcome::Completed, "{:?}", of(&s, &id));
        let q = w.store.list_quarantined(&id).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(q.len(), 1, "{run}: {q:?}");
        assert!(q[0].key.starts_with("unnamed#") && q[0].order_number.is_none(), "{q:?}");
    }
    assert_eq!(w.stored_numbers(&id).await, ["N-2"]);
    w.sandbox.clear_override(id.as_str(), "N-1").await;
    let fixed = w.download("run-4").await;
    assert_eq!(of(&fixed, &id).released, 1, "{:?}", of(&fixed, &id));
    assert_eq!(w.stored_numbers(&id).await, ["N-1", "N-2"]);
    assert!(w.store.list_quarantined(&id).await.unwrap_or_else(|e| panic!("{e}")).is_empty());
    assert_eq!(w.acknowledged(&id).await, ["N-1", "N-2"]);
}

/// A byte-order mark before `<?xml` (legal XML, added by some servers and proxies): every order
/// of the answer is stored and acknowledged, none set apart.
#[tokio::test]
async fn a_byte_order_mark_before_the_declaration_loses_no_order() {
    let numbers = ["B-1", "B-2", "B-3", "B-4", "B-5", "B-6", "B-7", "B-8"];
    let (w, id) = world(&numbers.iter().map(|n| (*n, None)).collect::<Vec<_>>()).await;
    w.sandbox.hostile(id.as_str(), json!({"mode": "bom"})).await;
    let run = w.download("run-1").await;
    let s = of(&run, &id);
    assert_eq!(s.outcome, Outcome::Completed, "{s:?}");
    assert_eq!((s.new, s.acknowledged, s.quarantined.len()), (8, 8, 0), "{s:?}");
    assert_eq!(w.stored_numbers(&id).await, numbers);
    assert!(w.store.list_quarantined(&id).await.unwrap_or_else(|e| panic!("{e}")).is_empty());
    assert!(
        w.sandbox.stats(id.as_str()).await["faults_injected"]["hostile Bom"].as_u64() >= Some(1),
        "the mark was sent"
    );
}

/// Shipment elements the sandbox applied (in messages it answered 200).
async fn applied_shipment_elements(w: &World, id: &shared::domain::CompanyId) -> usize {
    w.sandbox
        .received(id.as_str(), "/shipments")
        .await
        .iter()
        .filter(|m| m["http_status"] == 200)
        .map(|m| m["elements"].as_array().map(|a| a.len()).unwrap_or(0))
        .sum()
}

/// An order with two lines, each shipped in its own package, downloaded and recorded.
async fn two_packages(tracking: [&str; 2]) -> (World, shared::domain::CompanyId) {
    let mut w = World::new().await;
    let id = w.company("current", |s| s.fulfillment_upload = true).await;
    w.standard_mappings(&id).await;
    w.sandbox
        .seed(id.as_str(), json!({"order_number": "SH-2", "created": Utc::now() - Duration::minutes(30), "service_level_code": "GROUND",
            "lines": [{"partner_sku": "A", "quantity": 1, "item_price": "5.00"}, {"partner_sku": "B", "quantity": 1, "item_price": "6.00"}]}))
        .await;
    assert_eq!(of(&w.download("dl").await, &id).new, 1);
    for (line, t) in [("1", tracking[0]), ("2", tracking[1])] {
        let req = shared::domain::shipment::ShipmentRequest {
            lines: vec![(line.into(), 1)],
            carrier_code: None,
            shipping_method: None,
            tracking_number: t.into(),
            ship_date: Utc::now() - Duration::minutes(1),
        };
        shared::services::shipping::record_shipment(&w.store, &id, &num("SH-2"), &req, Utc::now())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    (w, id)
}

/// Each answer to a shipment message that does not clearly say what was accepted — a 400
/// naming an order or a line that was not sent (or the sent line `1` spelled `01`), a 200 whose
/// body is a maintenance page — is an unknown outcome: no package is recorded ship-confirmed, the
/// next run reads Overstock, finds the lines not shipped, and sends each once.
#[tokio::test]
async fn an_answer_that_names_nothing_sent_is_settled_by_reading_overstock() {
    for (n, hostile) in [
        json!({"mode": "named400", "order": "SH-2", "line": "01"}),
        json!({"mode": "named400", "order": "OSTK-NOT-SENT", "line": "1"}),
        json!({"mode": "html200"}),
    ]
    .into_iter()
    .enumerate()
    {
        let (w, id) = two_packages([&format!("1ZA{n}"), &format!("1ZB{n}")]).await;
        let mut h = hostile.clone();
        h["times"] = json!(1);
        h["endpoint"] = json!("POST /shipments");
        w.sandbox.hostile(id.as_str(), h).await;
        let s = tests::up(&w.upload("up-1").await, &id).clone();
        assert!(matches!(s.outcome, Outcome::Failed { retryable: true, .. }), "{hostile}: {s:?}");
        assert_eq!((s.accepted, s.rejected, s.ship_confirmed_orders), (0, 0, 0), "{hostile}: {s:?}");
        let o = w
            .store
            .get_orders(&id, &[num("SH-2")])
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .remove(&num("SH-2"))
            .unwrap_or_else(|| panic!("SH-2"));
        assert_ne!(o.local_status, shared::domain::order::LocalStatus::ShipConfirmed, "{hostile}");
        for p in &o.shipments {
            assert!(
                matches!(p.lines[0].upload, shared::domain::shipment::UploadState::Sending { .. }),
                "{hostile}: {:?}",
                p.lines[0]
            );
        }
        let s = tests::up(&w.upload("up-2").await, &id).clone();
        assert_eq!((s.reconciled, s.accepted), (2, 2), "{hostile}: {s:?}");
        let applied = applied_shipment_elements(&w, &id).await;
        assert_eq!(applied, 2, "{hostile}: each package confirmed exactly once");
    }
}

/// The same for acknowledgements: a 400 naming an order that was not in the message leaves
/// every order of it pending (not acknowledged, not rejected); the next run reads Overstock and
/// acknowledges each once.
#[tokio::test]
async fn an_acknowledgement_answer_naming_another_order_leaves_them_pending() {
    let (w, id) = world(&[("K-1", None), ("K-2", None)]).await;
    w.sandbox
        .hostile(
            id.as_str(),
            json!({"mode": "named400", "times": 1, "endpoint": "POST /acknowledgements", "order": "K-9", "line": ""}),
        )
        .await;
    let s = of(&w.download("run-1").await, &id).clone();
    assert_eq!((s.new, s.acknowledged, s.ack_rejected), (2, 0, 0), "{s:?}");
    assert_eq!(w.store.list_ack_pending(&id).await.unwrap_or_else(|e| panic!("{e}")).len(), 2);
    let again = of(&w.download("run-2").await, &id).clone();
    assert_eq!(again.acknowledged, 2, "{again:?}");
    assert_eq!(w.acknowledged(&id).await, ["K-1", "K-2"], "each once");
}

/// An answer that held orders of which none could be stored (every one set apart) is a failed
/// run for the company, not "completed": the outcome says so (someone has to look), the
/// set-apart gauge that the alarm watches counts them, and the run after it, which reads only
/// what is already set apart, does not fail again.
#[tokio::test]
async fn an_answer_of_which_nothing_could_be_stored_fails_the_run_and_is_counted() {
    let (w, id) = world(&[("Z-1", Some(("quantity", "-1"))), ("Z-2", Some(("quantity", "x")))]).await;
    let run = w.download("run-1").await;
    let s = of(&run, &id);
    match &s.outcome {
        Outcome::Failed { error, retryable } => {
            assert!(!retryable, "someone has to look: {s:?}");
            assert!(error.contains("2 order(s), every one set apart") && error.contains("quarantine list"), "{error}");
        }
        other => panic!("not a failure: {other:?}"),
    }
    assert!(s.outcome.is_failure());
    assert_eq!((s.new, s.quarantined.len(), s.set_apart_open), (0, 2, 2), "{s:?}");
    let none = std::collections::BTreeMap::new();
    let lines = shared::services::order_download::metric_lines(&run, (&none, &none), 1.0, Utc::now());
    let set_apart: Vec<&String> = lines.iter().filter(|l| l.contains("OrdersSetApart")).collect();
    assert_eq!(set_apart.len(), 1, "one series for all companies: {lines:?}");
    assert!(set_apart[0].contains("\"OrdersSetApart\":2") && !set_apart[0].contains("\"Company\""), "{set_apart:?}");
    assert!(lines.iter().any(|l| l.contains("\"CompanyFailed\":1")), "{lines:?}");
    assert!(w.store.get_watermark(&id, JOB).await.unwrap_or_else(|e| panic!("{e}")).is_some(), "moved on past them");
    let flow = w.store.flow_run(&id, shared::domain::work::Flow::Download).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(flow.finished_at.is_some(), "the run went to its end: the company is not held in flight: {flow:?}");

    let again = w.download("run-2").await;
    let s = of(&again, &id);
    assert_eq!(s.outcome, Outcome::Completed, "nothing new set apart: {s:?}");
    assert_eq!((s.still_quarantined, s.set_apart_open), (2, 2), "still counted: {s:?}");
}

/// Through the sandbox: an order whose two lines share a line number is set apart (one of them
/// could never be shipped); a line with an empty price is stored with an attention flag; an
/// order number holding a direction-changing character no list names (U+061C) is set apart.
/// The good order beside them is stored and acknowledged.
#[tokio::test]
async fn line_numbers_twice_empty_prices_and_invisible_characters_are_never_silent() {
    let two = |n: &str, over: (&str, &str)| {
        json!({"order_number": n, "created": Utc::now() - Duration::minutes(30), "service_level_code": "GROUND",
               "lines": [{"partner_sku": "A", "quantity": 1, "item_price": "5.00"}, {"partner_sku": "B", "quantity": 1, "item_price": "6.00"}],
               "wire_override": [over.0, over.1]})
    };
    let (w, id) = world(&[("G-1", None)]).await;
    w.sandbox.seed(id.as_str(), two("DUP-1", ("salesChannelLineNumber", "2"))).await;
    w.sandbox.seed(id.as_str(), two("NOPRICE-1", ("itemPrice", ""))).await;
    w.sandbox.seed(id.as_str(), two("BIDI-1", ("salesChannelOrderNumber", "BIDI\u{061c}-1"))).await;
    let run = w.download("run-1").await;
    let s = of(&run, &id);
    assert_eq!(s.outcome, Outcome::Completed, "{s:?}");
    assert_eq!(w.stored_numbers(&id).await, ["G-1", "NOPRICE-1"], "{s:?}");
    assert_eq!(w.acknowledged(&id).await, ["G-1", "NOPRICE-1"]);
    assert_eq!(s.quarantined.len(), 2, "{s:?}");
    assert!(
        s.quarantined.iter().any(|q| q.starts_with("DUP-1: ") && q.contains("two lines share the line number 2")),
        "{s:?}"
    );
    assert!(s.quarantined.iter().any(|q| q.contains("control character") && !q.contains('\u{061c}')), "{s:?}");
    let flags = w.order(&id, "NOPRICE-1").await.attention;
    assert!(flags.iter().any(|f| f.contains("line 1 has no itemPrice")), "{flags:?}");
    assert_eq!(s.attention_orders, ["NOPRICE-1"], "{s:?}");
}
