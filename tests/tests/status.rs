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
use shared::domain::window::covering_windows;
use std::collections::BTreeMap;
use tests::{World, of, up};

async fn cancel_on_overstock(w: &World, id: &str, order: &str, line: Option<u32>) {
    let query = line.map(|l| format!("?line={l}")).unwrap_or_default();
    let r = reqwest::Client::new()
        .post(format!("{}/admin/accounts/{id}/orders/{order}/cancel{query}", w.sandbox.base))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(r.status().is_success(), "{}", r.status());
}

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

/// 5,000 open orders over 30 days: a status pass costs one `GET` per covering window (about
/// one per hour of orders, not one per order), at most 60 a run: within ⌈windows / 60⌉ runs
/// every window is read once, and three orders Overstock cancelled anywhere in the 30 days are
/// each found once. The passes after it read old orders in longer windows.
#[tokio::test]
async fn a_sync_over_5000_open_orders_across_30_days_costs_one_get_per_window() {
    let mut w = World::new().await;
    let id = w
        .company("current", |s| {
            s.order_acknowledgement = false;
            s.initial_lookback_hours = LookbackHours::new(720).unwrap_or_else(|e| panic!("{e}"));
        })
        .await;
    w.standard_mappings(&id).await;
    let now = Utc::now();
    let generated = w
        .sandbox
        .generate(
            id.as_str(),
            5000,
            now - Duration::days(30) + Duration::hours(2),
            now - Duration::hours(2),
            json!({"unknown_codes": 0}),
        )
        .await;
    assert_eq!(generated.len(), 5000);
    // The first run downloads them all (720 hourly windows) and starts the rotation.
    let first = w.download("all").await;
    assert_eq!(of(&first, &id).new, 5000, "{:?}", of(&first, &id).errors);

    let orders = w.sandbox.orders(id.as_str()).await;
    let created: Vec<chrono::DateTime<Utc>> = orders
        .iter()
        .filter_map(|o| o["created"].as_str())
        .filter_map(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
        .map(|c| c.with_timezone(&Utc))
        .collect();
    let windows = covering_windows(&created, Duration::hours(1)).len();
    assert!((600..=800).contains(&windows), "{windows} covering windows for 5,000 orders over 30 days");

    let mut numbers: Vec<&str> = orders.iter().filter_map(|o| o["number"].as_str()).collect();
    numbers.sort_unstable();
    let victims = [numbers[10], numbers[2500], numbers[4990]];
    for v in victims {
        cancel_on_overstock(&w, id.as_str(), v, None).await;
    }
    let runs = windows.div_ceil(60);
    let mut found: BTreeMap<String, usize> = BTreeMap::new();
    let (mut gets, mut read_windows, mut checked) = (0, 0, 0);
    // The first pass starts one period after the company's first run; one run a minute.
    let tick = |minutes: i64| {
        let t = now + Duration::minutes(minutes);
        (FixedClock(t), t + Duration::minutes(5))
    };
    for r in 0..runs {
        let (clock, deadline) = tick(16 + r as i64);
        let run = w.download_with(&format!("sync-{r}"), &clock, deadline).await;
        let s = of(&run, &id);
        assert_eq!(s.status_windows, 60.min(windows - r * 60), "60 a run, the rest in the last: {s:?}");
        gets += s.fetches - s.windows; // the download's own windows aside
        read_windows += s.status_windows;
        checked += s.status_checked;
        for c in &s.cancelled_by_overstock {
            *found.entry(c.order_number.clone()).or_default() += 1;
        }
    }
    assert_eq!(gets, read_windows, "one GET per window read (no split was needed)");
    assert!(checked >= 5000 - 3, "every open order checked within {runs} runs: {checked}");
    assert!(checked < 5000 + 60 * 8, "and not many twice: {checked}");
    let expected: BTreeMap<String, usize> = victims.iter().map(|v| ((*v).to_owned(), 1)).collect();
    assert_eq!(found, expected, "each cancellation found once, within {runs} runs");
    for v in victims {
        assert_eq!(w.order(&id, v).await.local_status, LocalStatus::Cancelled);
    }
    // Every long window of that pass came whole with a few orders: the next pass reads orders
    // older than a day in windows twice as long (and the one after in longer still), so it
    // costs fewer GETs, none of them split.
    let mut minute = 16 + 15 + runs as i64;
    let mut pass_windows = Vec::new();
    for pass in 0..2 {
        let (mut windows, mut gets) = (0, 0);
        loop {
            let (clock, deadline) = tick(minute);
            minute += 1;
            let run = w.download_with(&format!("pass-{pass}-{minute}"), &clock, deadline).await;
            let s = of(&run, &id);
            (windows, gets) = (windows + s.status_windows, gets + s.fetches - s.windows);
            if s.status_windows < 60 {
                break;
            }
        }
        assert_eq!(gets, windows, "no long window needed a split");
        pass_windows.push(windows);
        minute += 15;
    }
    eprintln!("status pass windows: first {read_windows}, then {pass_windows:?}");
    assert!(
        pass_windows[0] * 10 <= read_windows * 6,
        "2-hour windows for old orders: {pass_windows:?} after {read_windows}"
    );
    assert!(pass_windows[1] < pass_windows[0], "then 4-hour ones: {pass_windows:?}");
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
