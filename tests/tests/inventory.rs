//! Inventory with the real adapters: the intake over moto (idempotent, ordered, malformed
//! messages refused with their reason), the push over moto + the sandbox (only what changed,
//! 500 elements a message, per-element refusals retried then failed, drift repaired by the
//! comparison), every row of the backorder table as the sandbox received it, and dry-run.

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use shared::domain::CompanyId;
use shared::domain::SystemClock;
use shared::domain::inventory::{Due, Sku, add_months, today_in};
use shared::services::inventory::{IntakeResult, IntakeService, PushConfig, PushSummary};
use shared::store::{CompanyStore, InventoryStore};
use tests::World;

fn sku(s: &str) -> Sku {
    Sku::parse(s).unwrap_or_else(|e| panic!("{e}"))
}

fn config() -> PushConfig {
    PushConfig { max_attempts: 2, ..PushConfig::default() }
}

async fn world() -> (World, CompanyId) {
    let mut w = World::new().await;
    let id = w
        .company("current", |s| {
            s.order_download = false;
            s.inventory_upload = true;
            s.send_backorder_info = true;
        })
        .await;
    (w, id)
}

async fn deliver(w: &World, body: &Value) -> IntakeResult {
    IntakeService { store: &w.store, clock: &SystemClock }.handle_message(&body.to_string()).await
}

fn count(id: &CompanyId, s: &str, available: i64, at: &str) -> Value {
    json!({"type": "inventory_update", "version": 1, "company_id": id.as_str(), "sku": s, "available": available, "counted_at": at})
}

fn po(id: &CompanyId, number: &str, status: &str, at: &str, lines: Value) -> Value {
    json!({"type": "purchase_order", "version": 1, "company_id": id.as_str(), "po_number": number, "status": status,
           "updated_at": at, "lines": lines})
}

async fn push(w: &World, run: &str) -> PushSummary {
    w.push(run, config()).await.companies.into_iter().next().unwrap_or_else(|| panic!("one company"))
}

/// The elements the sandbox received on `POST /inventory`, message by message (SKU → JSON).
async fn received(w: &World, id: &CompanyId) -> Vec<Vec<Value>> {
    w.sandbox
        .received(id.as_str(), "/inventory")
        .await
        .iter()
        .map(|m| m["elements"].as_array().cloned().unwrap_or_default())
        .collect()
}

/// What the sandbox holds per SKU, as `GET /inventory` returns it through the client.
async fn held(w: &World, id: &CompanyId) -> std::collections::BTreeMap<String, String> {
    let account = w.account(id).await;
    shared::overstock::OverstockApi::fetch_inventory(&w.overstock, &account)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|h| match h {
            shared::overstock::inventory::HeldElement::Read(e) => (e.sku.to_string(), e.value.digest()),
            shared::overstock::inventory::HeldElement::Unreadable { sku, reason } => (sku, reason),
        })
        .collect()
}

#[tokio::test]
async fn intake_over_moto_is_idempotent_ordered_and_refuses_malformed_messages_with_their_reason() {
    let (w, id) = world().await;
    let first = count(&id, "A", 5, "2026-11-27T10:00:00Z");
    assert!(matches!(deliver(&w, &first).await, IntakeResult::Done(d) if d.contains("available 5")));
    let again = deliver(&w, &first).await;
    assert!(matches!(&again, IntakeResult::Done(d) if d.contains("nothing changed")), "{again:?}");
    let older = deliver(&w, &count(&id, "A", 99, "2026-11-27T09:00:00Z")).await;
    assert!(matches!(&older, IntakeResult::Done(d) if d.contains("nothing changed")), "{older:?}");
    // A PO's versions apply by their time, whatever order they arrive in.
    let v2 = po(&id, "PO-1", "open", "2026-11-27T12:00:00Z", json!([{"sku": "A", "quantity_on_order": 7}]));
    let v1 = po(
        &id,
        "PO-1",
        "open",
        "2026-11-27T11:00:00Z",
        json!([{"sku": "A", "quantity_on_order": 3}, {"sku": "B", "quantity_on_order": 1}]),
    );
    assert!(matches!(deliver(&w, &v2).await, IntakeResult::Done(_)));
    let late = deliver(&w, &v1).await;
    assert!(matches!(&late, IntakeResult::Done(d) if d.contains("already applied")), "{late:?}");
    let products = w.store.get_products(&id, &[sku("A"), sku("B")]).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(products[&sku("A")].available, Some(5));
    assert_eq!(products[&sku("A")].supply["PO#PO-1"].line.quantity, 7);
    assert!(!products.contains_key(&sku("B")), "the older version never reached B");
    let sources =
        w.store.list_sources(&id, shared::domain::inventory::SupplyKind::PurchaseOrder).await.unwrap_or_default();
    assert_eq!(sources.len(), 1);

    for (body, reason) in [
        (json!({"type": "inventory_update"}).to_string(), "version: missing"),
        ("not json".to_owned(), "message: not JSON"),
        (count(&id, "A", 1, "soon").to_string(), "counted_at: must be an RFC 3339 time"),
        (
            count(&CompanyId::parse("nobody").unwrap_or_else(|e| panic!("{e}")), "A", 1, "2026-11-27T13:00:00Z")
                .to_string(),
            "unknown company nobody",
        ),
    ] {
        let r = IntakeService { store: &w.store, clock: &SystemClock }.handle_message(&body).await;
        assert!(matches!(&r, IntakeResult::Unprocessable(m) if m.starts_with(reason)), "{body}: {r:?}");
    }
}

/// Every row of the domain rules' table, as the sandbox received and now holds it; a second run
/// sends nothing; one PO change sends that SKU only.
#[tokio::test]
async fn each_rule_reaches_overstock_and_only_what_changes_is_sent_again() {
    let (w, id) = world().await;
    let today = today_in(chrono_tz::America::Denver, Utc::now());
    let future = (today + Duration::days(40)).to_string();
    let past = (today - Duration::days(3)).to_string();
    let at = "2026-11-27T10:00:00Z";
    for (s, available) in
        [("IN-STOCK", 12), ("FUTURE", 0), ("NO-DATE", 0), ("LATE", -2), ("NOTHING", 0), ("ZERO-DATED", 0)]
    {
        deliver(&w, &count(&id, s, available, at)).await;
    }
    deliver(
        &w,
        &po(
            &id,
            "PO-1",
            "open",
            at,
            json!([
                {"sku": "IN-STOCK", "quantity_on_order": 5, "expected_delivery_date": future},
                {"sku": "FUTURE", "quantity_on_order": 40, "expected_delivery_date": future},
                {"sku": "NO-DATE", "quantity_on_order": 5},
                {"sku": "LATE", "quantity_on_order": 8, "expected_delivery_date": past},
                {"sku": "ZERO-DATED", "quantity_on_order": 0, "expected_delivery_date": future},
            ]),
        ),
    )
    .await;
    let first = push(&w, "p-1").await;
    assert_eq!((first.sent, first.accepted, first.messages), (6, 6, 1), "{first:?}");
    let lead = add_months(today, 1).to_string();
    let holds = held(&w, &id).await;
    let expect = [
        ("IN-STOCK", "q=12".to_owned()),
        ("FUTURE", format!("q=0;bo=40@{future}")),
        ("NO-DATE", format!("q=0;bo=5@{lead}")),
        ("LATE", format!("q=0;bo=8@{lead}")),
        ("NOTHING", "q=0;bo=0".to_owned()),
        ("ZERO-DATED", "q=0;bo=0".to_owned()),
    ];
    for (s, v) in &expect {
        assert_eq!(holds.get(*s), Some(v), "{s}: {holds:?}");
    }
    let second = push(&w, "p-2").await;
    assert_eq!((second.due, second.sent), (0, 0), "{second:?}");
    assert_eq!(received(&w, &id).await.len(), 1, "a run with no change makes no POST");
    // One PO change: its SKU only, although its own count did not change.
    deliver(
        &w,
        &po(
            &id,
            "PO-1",
            "open",
            "2026-11-27T11:00:00Z",
            json!([
                {"sku": "IN-STOCK", "quantity_on_order": 5, "expected_delivery_date": future},
                {"sku": "FUTURE", "quantity_on_order": 55, "expected_delivery_date": future},
                {"sku": "NO-DATE", "quantity_on_order": 5},
                {"sku": "LATE", "quantity_on_order": 8, "expected_delivery_date": past},
                {"sku": "ZERO-DATED", "quantity_on_order": 0, "expected_delivery_date": future},
            ]),
        ),
    )
    .await;
    let third = push(&w, "p-3").await;
    assert_eq!(third.sent, 1, "{third:?}");
    let messages = received(&w, &id).await;
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[1][0]["partner_sku"], "FUTURE");
    assert_eq!(messages[1][0]["backorder"]["quantity_on_order"], 55);
}

#[tokio::test]
async fn five_hundred_elements_a_message_and_refusals_are_retried_then_listed_as_failed() {
    let (w, id) = world().await;
    w.sandbox.faults(id.as_str(), json!({"reject_skus": ["S-0007"]})).await;
    for i in 0..1203 {
        deliver(&w, &count(&id, &format!("S-{i:04}"), 3, "2026-11-27T10:00:00Z")).await;
    }
    let first = push(&w, "p-1").await;
    assert_eq!((first.sent, first.messages, first.accepted, first.rejected), (1203, 3, 1202, 1), "{first:?}");
    let sizes: Vec<usize> = received(&w, &id).await.iter().map(Vec::len).collect();
    assert_eq!(sizes, [500, 500, 203]);
    assert!(first.rejections[0].contains("not in the supplier's catalog"), "{:?}", first.rejections);
    let second = push(&w, "p-2").await;
    assert_eq!((second.sent, second.failed.clone()), (1, vec!["S-0007".to_owned()]), "{second:?}");
    let third = push(&w, "p-3").await;
    assert_eq!(third.sent, 0, "failed: not sent again until an input changes");
    let failed = w.store.list_failed_products(&id).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].rejection.as_ref().map(|r| r.attempts), Some(2));
    // A new count gives it another chance.
    deliver(&w, &count(&id, "S-0007", 4, "2026-11-27T11:00:00Z")).await;
    w.sandbox.faults(id.as_str(), json!({})).await;
    let fourth = push(&w, "p-4").await;
    assert_eq!((fourth.sent, fourth.accepted), (1, 1), "{fourth:?}");
    assert!(w.store.list_failed_products(&id).await.unwrap_or_default().is_empty());
}

/// Overstock loses one value and holds another differently: the daily comparison sends both
/// again; a SKU Overstock holds that is unknown here is reported, not touched.
#[tokio::test]
async fn the_comparison_with_get_inventory_repairs_drift() {
    let (w, id) = world().await;
    for s in ["A", "B", "C"] {
        deliver(&w, &count(&id, s, 2, "2026-11-27T10:00:00Z")).await;
    }
    let first = push(&w, "p-1").await;
    assert_eq!(first.compared.as_ref().map(|c| c.overstock_skus), Some(0), "the first run compares an empty account");
    let admin = reqwest::Client::new();
    let base = format!("{}/admin/accounts/{}/inventory", w.sandbox.base, id.as_str());
    let r = admin.delete(format!("{base}/A")).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(r.status().is_success());
    for (s, q) in [("B", 9), ("STRANGER", 1)] {
        let r = admin
            .put(format!("{base}/{s}"))
            .json(&json!({"partner_sku": s, "warehouse": tests::WAREHOUSE, "quantity": q, "backorder": null}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(r.status().is_success());
    }
    let quiet = push(&w, "p-2").await;
    assert_eq!((quiet.sent, quiet.compared.is_none()), (0, true), "not compared again within the day");
    let day_later = w.push("p-3", PushConfig { compare_every: Duration::zero(), ..config() }).await;
    let s = &day_later.companies[0];
    let compared = s.compared.clone().unwrap_or_default();
    assert_eq!(compared.drift_repaired, ["A", "B"], "{s:?}");
    assert_eq!(compared.unknown_here, ["STRANGER"]);
    assert_eq!(s.sent, 2);
    let holds = held(&w, &id).await;
    assert_eq!((holds.get("A"), holds.get("B")), (Some(&"q=2".to_owned()), Some(&"q=2".to_owned())));
}

/// Inventory in dry-run: decided and recorded as "would send" with the values; nothing POSTed.
#[tokio::test]
async fn inventory_in_dry_run_posts_nothing_and_records_what_it_would_send() {
    use shared::audit::AuditStore;
    let (w, id) = world().await;
    let mut c = w.store.get_company(&id).await.unwrap_or_default().unwrap_or_else(|| panic!("company"));
    c.settings.dry_run = shared::domain::dry_run::DryRun::parse("inventory").unwrap_or_default();
    w.store.update_settings(&id, &c.settings, Utc::now()).await.unwrap_or_else(|e| panic!("{e}"));
    deliver(&w, &count(&id, "A", 0, "2026-11-27T10:00:00Z")).await;
    deliver(&w, &po(&id, "PO-9", "open", "2026-11-27T10:00:00Z", json!([{"sku": "A", "quantity_on_order": 4}]))).await;
    let run = push(&w, "dry").await;
    assert_eq!(run.accepted, 1);
    assert!(received(&w, &id).await.is_empty(), "nothing POSTed in dry-run");
    let story = w.store.sku_story(&id, "A", Utc::now() - Duration::hours(1)).await.unwrap_or_default();
    assert_eq!(story.len(), 1, "{story:?}");
    assert!(story[0].what.starts_with("quantity 0, backorder 4 on order, expected "), "{story:?}");
    assert_eq!(story[0].outcome, "would send (dry run)");
    let p = w.store.get_products(&id, &[sku("A")]).await.unwrap_or_default();
    assert!(matches!(p[&sku("A")].due, Due::On(_)), "recorded as sent: the next run sends nothing");
}

/// The reconciliation lists inventory drift next to the orders' findings; `--repair` marks the
/// SKUs known here to be sent again, and the next push sends exactly those.
#[tokio::test]
async fn reconcile_lists_inventory_drift_and_repair_sends_it_again() {
    let (w, id) = world().await;
    for s in ["A", "B"] {
        deliver(&w, &count(&id, s, 4, "2026-11-27T10:00:00Z")).await;
    }
    push(&w, "p-1").await;
    let r = reqwest::Client::new()
        .put(format!("{}/admin/accounts/{}/inventory/B", w.sandbox.base, id.as_str()))
        .json(&json!({"warehouse": tests::WAREHOUSE, "quantity": 0, "backorder": [3, null]}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(r.status().is_success());
    let c = w.store.get_company(&id).await.unwrap_or_default().unwrap_or_else(|| panic!("company"));
    let account = w.account(&id).await;
    let now = Utc::now();
    let reconcile = |repair| {
        shared::services::reconcile::reconcile(
            &w.store,
            &w.overstock,
            &account,
            &c,
            now - Duration::hours(1),
            now,
            now,
            repair,
        )
    };
    let report = reconcile(false).await.unwrap_or_else(|e| panic!("{e}"));
    let inv = report.inventory.clone().unwrap_or_else(|| panic!("inventory checked: {report:?}"));
    assert_eq!((inv.overstock_skus, inv.products), (2, 2));
    assert_eq!(inv.drift.len(), 1);
    assert_eq!((inv.drift[0].sku.as_str(), inv.drift[0].there.as_deref()), ("B", Some("q=0;bo=3")));
    assert_eq!(push(&w, "p-2").await.sent, 0, "a report changes nothing");
    let repaired = reconcile(true).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(repaired.repaired, ["B: sent again by the next inventory-push run"]);
    let after = push(&w, "p-3").await;
    assert_eq!(after.sent, 1, "{after:?}");
    assert_eq!(held(&w, &id).await.get("B"), Some(&"q=4".to_owned()));
}
