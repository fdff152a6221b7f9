//! The audit trail and dry-run with the real adapters: every call the functions make to the
//! sandbox is recorded in moto's audit table (no secret, no address in any item), an order's
//! story reads back, and a flow in dry-run sends nothing until it is turned off — then only
//! what is still due.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{Duration, Utc};
use serde_json::json;
use shared::audit::{AuditStore, Operation};
use shared::domain::SystemClock;
use shared::domain::dry_run::DryRun;
use shared::domain::{CompanyId, OrderNumber};
use shared::services::requests::{MessageResult, RequestService};
use shared::store::{CompanyStore, OrderStore};
use tests::{World, of, up};

/// Every item of the audit table, as text (all attribute values joined).
async fn audit_items(w: &World) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let resp = w
            .store
            .client()
            .scan()
            .table_name(&w.store.tables().audit)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        for item in resp.items.unwrap_or_default() {
            let text: Vec<String> = item
                .iter()
                .map(|(k, v)| match v {
                    AttributeValue::S(s) | AttributeValue::N(s) => format!("{k}={s}"),
                    other => format!("{k}={other:?}"),
                })
                .collect();
            out.push(text.join(" "));
        }
        match resp.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => break,
        }
    }
    out
}

/// Names, streets, cities, postcodes and phones of the company's stored orders (the values an
/// audit item must never hold), each at least 5 characters so no short code matches by chance.
async fn personal_values(w: &World, id: &CompanyId) -> Vec<String> {
    let mut out = Vec::new();
    for o in w.store.list_orders(id, 1000).await.unwrap_or_else(|e| panic!("{e}")) {
        for a in [&o.overstock.ship_to, &o.overstock.return_address].into_iter().flatten() {
            for v in
                [&a.contact_name, &a.address1, &a.address2, &a.city, &a.postal_code, &a.phone].into_iter().flatten()
            {
                if v.len() >= 5 {
                    out.push(v.clone());
                }
            }
        }
    }
    out
}

async fn set_dry_run(w: &World, id: &CompanyId, flows: &str) {
    let mut c = w.store.get_company(id).await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("company"));
    c.settings.dry_run = DryRun::parse(flows).unwrap_or_else(|e| panic!("{e}"));
    w.store.update_settings(id, &c.settings, Utc::now()).await.unwrap_or_else(|e| panic!("{e}"));
}

/// Standard base64 (what a Basic Authorization header carries).
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ABC[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn num(s: &str) -> OrderNumber {
    OrderNumber::parse(s).unwrap_or_else(|e| panic!("{e}"))
}

/// Download (with acknowledgements), an upload with one line Overstock cancelled, a refund: every
/// call is in the trail with its attempts; each order's story reads back in order; no item
/// holds the password, the Basic credentials or any name, street, city, postcode or phone.
#[tokio::test]
async fn every_call_is_recorded_without_secrets_or_addresses_and_an_order_story_reads_back() {
    let (w, id) =
        World::with_orders(&[("AU-1", &[("A", 1, "10.00"), ("B", 1, "5.00")]), ("AU-2", &[("C", 2, "7.00")])]).await;
    w.ship_all(&id, &["AU-1", "AU-2"]).await;
    let r = reqwest::Client::new()
        .post(format!("{}/admin/accounts/{}/orders/AU-1/cancel?line=2", w.sandbox.base, id.as_str()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(r.status().is_success());
    let run = w.upload("up-1").await;
    assert_eq!((up(&run, &id).accepted, up(&run, &id).rejected), (2, 1), "{:?}", up(&run, &id));
    let refund = json!({"type": "refund", "version": 1, "request_id": "au-r-1", "company_id": id.as_str(),
                        "order_number": "AU-2", "lines": [{"line": "1", "amount": "7.00", "quantity": 1}],
                        "reason": "DAMAGED", "requested_by": "helpdesk", "notes": "call Customer back at home"})
    .to_string();
    let svc = RequestService {
        store: &w.store,
        overstock: &w.overstock,
        credentials: &w.credentials,
        clock: &SystemClock,
        config: Default::default(),
    };
    assert!(matches!(svc.handle_message(&refund).await, MessageResult::Finished(o) if o.status == "done"));

    // The company's calls: each has its attempts, and what the sandbox saw matches.
    let since = Utc::now() - Duration::hours(1);
    let calls = w.store.list_calls(&id, since, 1000).await.unwrap_or_else(|e| panic!("{e}"));
    let count = |op: Operation| calls.iter().filter(|c| c.operation == op).count();
    let stats = w.sandbox.stats(id.as_str()).await;
    assert!(count(Operation::GetSalesOrders) >= 2, "{calls:#?}");
    assert_eq!(
        count(Operation::PostAcknowledgements),
        w.sandbox.received(id.as_str(), "/acknowledgements").await.len()
    );
    assert_eq!(count(Operation::PostShipments), w.sandbox.received(id.as_str(), "/shipments").await.len());
    assert_eq!(count(Operation::PostRefunds), 1, "{stats}");
    for c in &calls {
        assert!(!c.attempts.is_empty(), "{c:?}");
        assert!(c.attempts.iter().enumerate().all(|(i, a)| a.n as usize == i + 1), "{c:?}");
        assert_eq!(
            c.attempts.last().and_then(|a| a.status),
            Some(if c.rejected.is_empty() { 200 } else { 400 }),
            "{c:?}"
        );
    }
    let shipments =
        calls.iter().find(|c| c.operation == Operation::PostShipments).unwrap_or_else(|| panic!("{calls:#?}"));
    assert_eq!(shipments.elements.len(), 3);
    assert_eq!(shipments.rejected.len(), 1);
    assert_eq!((shipments.rejected[0].order.as_str(), shipments.rejected[0].line.as_deref()), ("AU-1", Some("2")));

    // One order's story: downloaded, acknowledged, shipped (line 1 accepted, line 2 rejected
    // and why), cancelled by Overstock.
    let story = w.store.order_story(&id, "AU-1", since).await.unwrap_or_else(|e| panic!("{e}"));
    let lines: Vec<String> = story.iter().map(|e| format!("{} | {}", e.what, e.outcome)).collect();
    assert!(story.windows(2).all(|p| p[0].at <= p[1].at), "{lines:#?}");
    assert!(lines[0].starts_with("downloaded (window "), "{lines:#?}");
    assert!(lines.iter().any(|l| l == "acknowledge ACCEPTED | accepted"), "{lines:#?}");
    assert!(lines.iter().any(|l| l.starts_with("line 1: ship 1 via") && l.ends_with("| accepted")), "{lines:#?}");
    assert!(
        lines.iter().any(|l| l.starts_with("line 2: ship 1 via") && l.contains("| rejected: ") && l.contains("cancel")),
        "{lines:#?}"
    );
    assert!(lines.iter().any(|l| l.starts_with("cancelled by Overstock: line(s) 2")), "{lines:#?}");
    let refund_story = w.store.order_story(&id, "AU-2", since).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        refund_story.iter().any(|e| e.what.starts_with("refund line 1 x1 7.00 USD") && e.outcome == "accepted"),
        "{refund_story:#?}"
    );

    // Nothing secret or personal, in any item.
    let items = audit_items(&w).await;
    assert!(items.len() >= calls.len());
    let password = w.password(&id);
    let basic = base64(format!("{}:{password}", id.as_str()).as_bytes());
    let personal = personal_values(&w, &id).await;
    assert!(!personal.is_empty(), "the sandbox's orders carry names and addresses");
    for item in &items {
        assert!(!item.contains(&password), "password in {item}");
        assert!(!item.contains(&basic), "Basic credentials in {item}");
        assert!(!item.to_ascii_lowercase().contains("authorization"), "{item}");
        assert!(!item.contains("call Customer back"), "refund notes in {item}");
        for v in &personal {
            assert!(!item.contains(v.as_str()), "{v:?} in {item}");
        }
        assert!(item.contains("expires="), "every item expires: {item}");
    }
}

/// Acknowledgement and upload in dry-run: the download and the upload decide everything and
/// record "would send" with the elements; the sandbox receives no POST. Turned off, the next
/// upload sends only what was shipped since — never what the dry run already "sent".
#[tokio::test]
async fn dry_run_sends_nothing_and_turning_it_off_sends_only_what_is_still_due() {
    let mut w = World::new().await;
    let id = w.company("current", |s| s.fulfillment_upload = true).await;
    w.standard_mappings(&id).await;
    set_dry_run(&w, &id, "ack,upload").await;
    w.seed_and_download(&id, &[("DR-1", &[("A", 1, "10.00")]), ("DR-2", &[("B", 1, "5.00")])]).await;
    assert!(w.sandbox.received(id.as_str(), "/acknowledgements").await.is_empty());
    w.ship_all(&id, &["DR-1"]).await;
    let run = w.upload("dry-1").await;
    assert_eq!(up(&run, &id).accepted, 1, "decided as if accepted: {:?}", up(&run, &id));
    assert!(w.sandbox.received(id.as_str(), "/shipments").await.is_empty(), "nothing POSTed in dry-run");

    let since = Utc::now() - Duration::hours(1);
    let calls = w.store.list_calls(&id, since, 1000).await.unwrap_or_else(|e| panic!("{e}"));
    let dry: Vec<_> = calls.iter().filter(|c| c.dry_run).collect();
    assert_eq!(dry.len(), 2, "{calls:#?}");
    assert!(dry.iter().all(|c| c.attempts.is_empty() && c.result == "would send"), "{dry:#?}");
    let acks =
        dry.iter().find(|c| c.operation == Operation::PostAcknowledgements).unwrap_or_else(|| panic!("{dry:#?}"));
    let mut acked: Vec<&str> = acks.elements.iter().map(|e| e.order.as_str()).collect();
    acked.sort();
    assert_eq!(acked, ["DR-1", "DR-2"]);
    let ship = dry.iter().find(|c| c.operation == Operation::PostShipments).unwrap_or_else(|| panic!("{dry:#?}"));
    assert_eq!(ship.elements.len(), 1);
    assert!(ship.elements[0].what.starts_with("ship 1 via FEDEX tracking 1ZDR1"), "{:?}", ship.elements[0]);
    let story = w.store.order_story(&id, "DR-1", since).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        story.iter().any(|e| e.what.starts_with("line 1: ship 1") && e.outcome == "would send (dry run)"),
        "{story:#?}"
    );

    // Off again: DR-2 ships now; only its package goes out.
    set_dry_run(&w, &id, "none").await;
    w.ship_all(&id, &["DR-2"]).await;
    let run = w.upload("live-1").await;
    assert_eq!(up(&run, &id).sent, 1, "{:?}", up(&run, &id));
    let received = w.sandbox.received(id.as_str(), "/shipments").await;
    let orders: Vec<&str> = received
        .iter()
        .flat_map(|m| m["elements"].as_array().into_iter().flatten())
        .filter_map(|e| e["order_number"].as_str())
        .collect();
    assert_eq!(orders, ["DR-2"], "what the dry run 'sent' is not sent again");
    let again = w.download("dl-after").await;
    assert_eq!(of(&again, &id).new, 0);
    assert!(
        w.sandbox.received(id.as_str(), "/acknowledgements").await.is_empty(),
        "acknowledgements the dry run recorded are not sent again"
    );
    let stored = w.store.get_orders(&id, &[num("DR-1")]).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stored.len(), 1);
}

/// Only cancellations in dry-run: one shipment message is split — the confirmations go to
/// Overstock, the short ship is recorded as "would send" and counted as sent.
#[tokio::test]
async fn a_dry_run_flow_splits_a_shipment_message_by_element() {
    let (w, id) =
        World::with_orders(&[("SP-1", &[("A", 1, "10.00"), ("B", 1, "5.00")]), ("SP-2", &[("C", 1, "7.00")])]).await;
    set_dry_run(&w, &id, "cancel").await;
    let cancel = json!({"type": "cancel", "version": 1, "request_id": "sp-c-1", "company_id": id.as_str(),
                        "order_number": "SP-1", "lines": ["2"], "reason": "OUT_OF_STOCK", "requested_by": "erp"})
    .to_string();
    let svc = RequestService {
        store: &w.store,
        overstock: &w.overstock,
        credentials: &w.credentials,
        clock: &SystemClock,
        config: Default::default(),
    };
    assert!(matches!(svc.handle_message(&cancel).await, MessageResult::Finished(o) if o.status == "done"));
    let req = shared::domain::shipment::ShipmentRequest {
        lines: vec![("1".into(), 1)],
        carrier_code: None,
        shipping_method: None,
        tracking_number: "1ZSP1".into(),
        ship_date: Utc::now() - Duration::minutes(3),
    };
    shared::services::shipping::record_shipment(&w.store, &id, &num("SP-1"), &req, Utc::now())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    w.ship_all(&id, &["SP-2"]).await;
    let run = w.upload("split").await;
    assert_eq!((up(&run, &id).short_ships, up(&run, &id).accepted), (1, 2), "{:?}", up(&run, &id));
    let kinds: Vec<String> = w
        .sandbox
        .received(id.as_str(), "/shipments")
        .await
        .iter()
        .flat_map(|m| m["elements"].as_array().cloned().unwrap_or_default())
        .map(|e| format!("{} {} {}", e["kind"].as_str().unwrap_or("?"), e["order_number"], e["line_number"]))
        .collect();
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    assert!(kinds.iter().all(|k| !k.starts_with("short_ship")), "no short ship reached Overstock: {kinds:?}");
    let calls = w.store.list_calls(&id, Utc::now() - Duration::hours(1), 100).await.unwrap_or_default();
    let shipments: Vec<_> = calls.iter().filter(|c| c.operation == Operation::PostShipments).collect();
    assert_eq!(shipments.len(), 2, "{shipments:#?}");
    let dry = shipments.iter().find(|c| c.dry_run).unwrap_or_else(|| panic!("{shipments:#?}"));
    assert_eq!(dry.elements.len(), 1);
    assert_eq!((dry.elements[0].order.as_str(), dry.elements[0].line.as_deref()), ("SP-1", Some("2")));
    assert!(dry.elements[0].what.starts_with("short ship (reason OUT_OF_STOCK"), "{:?}", dry.elements[0]);
    let live = shipments.iter().find(|c| !c.dry_run).unwrap_or_else(|| panic!("{shipments:#?}"));
    assert_eq!(live.elements.len(), 2);
    let sp1 = w.order(&id, "SP-1").await;
    assert!(
        matches!(sp1.cancellations[0].lines[0].short_ship, shared::domain::cancellation::ShortShip::Accepted { .. }),
        "recorded as sent: {:?}",
        sp1.cancellations[0].lines[0].short_ship
    );
}
