//! The status sync with the real adapters (moto's `orders-open` index and sync-state records, the
//! sandbox's `GET /salesorders`): Overstock-side cancellations of older orders are found by
//! reading their creation windows again, one `GET` per window.

use chrono::{Duration, Utc};
use serde_json::json;
use shared::domain::FixedClock;
use shared::domain::cancellation::CANCELLED_BY_OVERSTOCK;
use shared::domain::order::LocalStatus;
use shared::domain::settings::LookbackHours;
use shared::domain::shipment::UploadState;
use std::collections::BTreeMap;
use tests::status_pass::{cancel_on_overstock, sync_over};
use tests::{World, of, up};

/// Orders downloaded three days ago; the customer then cancels one line of one order and the
/// whole of another on Overstock. The next run's status sync reads the one window that holds
/// them, records both cancellations, withdraws the package recorded for a cancelled line, and
/// the upload never sends it.
#[tokio::test]
async fn a_cancellation_three_days_after_the_download_is_seen_by_the_next_sync() {
    let mut w = World::new().await;
    let id = w
        .company("current", |s| {
            s.fulfillment_upload = true;
            s.initial_lookback_hours = LookbackHours::new(96).unwrap_or_else(|e| panic!("{e}"));
        })
        .await;
    w.standard_mappings(&id).await;
    let created = Utc::now() - Duration::days(3);
    for (n, minutes) in [("D-1", 0), ("D-2", 10), ("D-3", 20)] {
        w.sandbox
            .seed(
                id.as_str(),
                json!({"order_number": n, "created": created + Duration::minutes(minutes), "service_level_code": "GROUND",
                       "lines": [{"partner_sku": "A", "quantity": 1, "item_price": "10.00"},
                                 {"partner_sku": "B", "quantity": 1, "item_price": "5.00"}]}),
            )
            .await;
    }
    let first = w.download("day-0").await;
    assert_eq!(of(&first, &id).new, 3);
    assert!(of(&first, &id).cancelled_by_overstock.is_empty());
    w.ship_all(&id, &["D-2"]).await; // recorded by the warehouse, not yet uploaded

    cancel_on_overstock(&w, id.as_str(), "D-1", Some(2)).await;
    cancel_on_overstock(&w, id.as_str(), "D-2", None).await;
    // A company's first run has no older orders: its first status pass is one period later.
    let at = |minutes: i64| {
        let t = Utc::now() + Duration::minutes(minutes);
        (FixedClock(t), t + Duration::minutes(5))
    };
    let (clock, deadline) = at(1);
    let early = w.download_with("day-0b", &clock, deadline).await;
    assert_eq!(of(&early, &id).status_windows, 0, "{:?}", of(&early, &id));
    let (clock, deadline) = at(16);
    let run = w.download_with("day-3", &clock, deadline).await;
    let s = of(&run, &id);
    assert_eq!((s.status_windows, s.status_checked), (1, 3), "one GET for the three: {s:?}");
    let mut cancelled: Vec<String> = s.cancelled_by_overstock.iter().map(ToString::to_string).collect();
    cancelled.sort();
    assert_eq!(cancelled, ["D-1: 2", "D-2: 1, 2"]);

    let d1 = w.order(&id, "D-1").await;
    assert_eq!(d1.local_status, LocalStatus::PartiallyCancelled);
    assert!(d1.attention.iter().any(|a| a == CANCELLED_BY_OVERSTOCK));
    let d2 = w.order(&id, "D-2").await;
    assert_eq!(d2.local_status, LocalStatus::Cancelled);
    assert!(d2.shipments[0].lines.iter().all(|l| matches!(l.upload, UploadState::Withdrawn { .. })));
    let d3 = w.order(&id, "D-3").await;
    assert!(d3.cancellations.is_empty() && d3.is_open(), "unchanged on Overstock: untouched");
    assert_eq!(up(&w.upload("up").await, &id).sent, 0, "nothing of the cancelled order is sent");

    // Between passes nothing is read again.
    let (clock, deadline) = at(17);
    let between = w.download_with("day-3a", &clock, deadline).await;
    assert_eq!(of(&between, &id).status_windows, 0, "{:?}", of(&between, &id));
    // The next pass: nothing is cancelled twice; D-2 is closed, D-1 (partly cancelled) and D-3
    // are still read.
    let (clock, deadline) = at(32);
    let again = w.download_with("day-3b", &clock, deadline).await;
    assert!(of(&again, &id).cancelled_by_overstock.is_empty(), "{:?}", of(&again, &id));
    assert_eq!(of(&again, &id).status_checked, 2);
}

/// A status pass costs one `GET` per covering window (about one per hour of orders), not one
/// per order: the same 10 days with 240 and with 960 open orders cost at most one GET per hour
/// of orders (120 and 192 windows: a window opens at an order and spans an hour), at most
/// `per_run` a run, every open order checked, each of three orders cancelled on Overstock (near
/// the start, the middle, the end) found once. The passes after it read the orders older than
/// a day in longer windows (fewer GETs, none split). The `status` bench runs the same scenario
/// at 5,000 orders over 30 days.
#[tokio::test]
async fn a_status_pass_costs_one_get_per_window_whatever_the_orders_in_it() {
    let (few, many) = tokio::join!(sync_over(240, 10, 40), sync_over(960, 10, 40));
    for f in [&few, &many] {
        let hours = 10 * 24 - 4;
        assert!(f.covering_windows <= hours + 1, "at most one window per hour of orders: {f:?}");
        let runs = f.covering_windows.div_ceil(f.per_run);
        assert_eq!(f.run_windows.len(), runs);
        for (r, n) in f.run_windows.iter().enumerate() {
            assert_eq!(*n, f.per_run.min(f.covering_windows - r * f.per_run), "per_run a run, the rest last: {f:?}");
        }
        assert_eq!(f.gets, f.covering_windows, "one GET per window read, none split: {f:?}");
        assert!(f.checked >= f.orders - 3 && f.checked < f.orders + f.per_run * 8, "every open order checked: {f:?}");
        let expected: BTreeMap<String, usize> = f.victims.iter().map(|v| (v.clone(), 1)).collect();
        assert_eq!(f.found, expected, "each cancellation found once in the pass");
        assert!(f.victims_cancelled_here);
        assert_eq!(f.later_gets, f.later_windows, "no long window needed a split: {f:?}");
        assert!(f.later_windows[0] < f.covering_windows, "2-hour windows for old orders: {f:?}");
        assert!(f.later_windows[1] < f.later_windows[0], "then 4-hour ones: {f:?}");
    }
    // Four times the orders: the GETs are bounded by the hours, not the orders.
    assert!(many.gets < 2 * few.gets && many.gets * 4 < many.orders, "{} and {} GETs", few.gets, many.gets);
}

/// The upload meets Overstock's cancellation first (no download ran since): the rejection is
/// not retried — the order is read again, the line recorded cancelled by Overstock, its package
/// withdrawn — and the next upload sends nothing.
#[tokio::test]
async fn a_shipment_rejected_because_overstock_cancelled_is_read_again_and_never_retried() {
    let (w, id) =
        World::with_orders(&[("U-1", &[("A", 1, "10.00"), ("B", 1, "5.00")]), ("U-2", &[("C", 1, "7.00")])]).await;
    w.ship_all(&id, &["U-1", "U-2"]).await;
    cancel_on_overstock(&w, id.as_str(), "U-1", Some(2)).await;
    let run = w.upload("up-1").await;
    let s = up(&run, &id);
    assert_eq!((s.sent, s.accepted, s.rejected), (3, 2, 1), "{s:?}");
    assert_eq!(s.cancelled_by_overstock.iter().map(ToString::to_string).collect::<Vec<_>>(), ["U-1: 2"], "{s:?}");
    let u1 = w.order(&id, "U-1").await;
    assert_eq!(u1.local_status, LocalStatus::ShipConfirmed, "line 1 confirmed; line 2 cancelled: nothing left open");
    assert_eq!(u1.cancellations[0].lines[0].line, "2");
    let line2 = u1.shipments[0].lines.iter().find(|l| l.line_number == "2").unwrap_or_else(|| panic!("{u1:?}"));
    assert!(matches!(line2.upload, UploadState::Withdrawn { .. }), "{:?}", line2.upload);
    let again = w.upload("up-2").await;
    assert_eq!(up(&again, &id).sent, 0, "the rejected line is not retried");
    let posted: usize = w
        .sandbox
        .received(id.as_str(), "/shipments")
        .await
        .iter()
        .map(|m| m["elements"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(posted, 3);
}

/// After an upgrade that added the `orders-open` index, orders written by the old version carry
/// no index keys: the status sync does not see them until `orders reindex` rewrites them.
#[tokio::test]
async fn reindex_brings_orders_written_before_the_index_into_the_status_sync() {
    use shared::store::OrderStore;
    let one: &[(&str, u32, &str)] = &[("A", 1, "10.00")];
    let (w, id) = World::with_orders(&[("V-1", one), ("V-2", one)]).await;
    let since = Utc::now() - Duration::days(30);
    assert_eq!(w.store.list_open_orders(&id, since, None).await.unwrap_or_else(|e| panic!("{e}")).len(), 2);
    // As the old version stored them: without the index keys.
    for n in ["V-1", "V-2"] {
        w.store
            .client()
            .update_item()
            .table_name(&w.store.tables().orders)
            .key("company_id", aws_sdk_dynamodb::types::AttributeValue::S(id.to_string()))
            .key("order_number", aws_sdk_dynamodb::types::AttributeValue::S(n.into()))
            .update_expression("REMOVE open_key, open_created")
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    assert!(w.store.list_open_orders(&id, since, None).await.unwrap_or_else(|e| panic!("{e}")).is_empty());
    let (rewritten, skipped) =
        shared::services::reconcile::reindex_open_orders(&w.store, &id).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((rewritten, skipped.len()), (2, 0));
    let open = w.store.list_open_orders(&id, since, None).await.unwrap_or_else(|e| panic!("{e}"));
    let mut numbers: Vec<String> = open.iter().map(|o| o.order_number.to_string()).collect();
    numbers.sort();
    assert_eq!(numbers, ["V-1", "V-2"]);
}
