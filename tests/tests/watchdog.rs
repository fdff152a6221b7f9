//! The ship-by watchdog with the real adapters: orders downloaded from the sandbox into moto,
//! their ship-by instants in moto's `orders-ship-by` index, flagged at risk and late as a fixed
//! clock moves, and cleared by a shipment (the index entry goes with it).

use chrono::{DateTime, Duration, NaiveTime, Timelike, Utc};
use serde_json::json;
use shared::domain::FixedClock;
use shared::domain::order::WatchFlag;
use shared::domain::settings::CompanyTimeZone;
use shared::store::OrderStore;
use tests::{World, of};

fn minute(t: DateTime<Utc>) -> DateTime<Utc> {
    t.with_second(0).and_then(|t| t.with_nanosecond(0)).unwrap_or(t)
}

/// Three orders: one ships by its calendar (same-day handling, the cut-off two hours from now),
/// one by Overstock's own `expectedShipDate` (already past: late on arrival), one with its
/// ship-by a day away (never at risk here). The first is at risk now and late three hours later;
/// shipping it clears it and removes it from the index; the one a day away stays watched.
#[tokio::test]
async fn orders_are_flagged_at_risk_and_late_and_a_shipment_clears_them() {
    let mut w = World::new().await;
    let now = minute(Utc::now());
    let cutoff = (now + Duration::hours(2)).time();
    let id = w
        .company("current", |s| {
            s.order_acknowledgement = false;
            s.time_zone = CompanyTimeZone::parse("UTC").unwrap_or_else(|e| panic!("{e}"));
            s.ship_by.handling_days = 0;
            s.ship_by.non_working_weekdays = Vec::new();
            s.ship_by.cutoff = NaiveTime::from_hms_opt(cutoff.hour(), cutoff.minute(), 0).unwrap_or(cutoff);
        })
        .await;
    w.standard_mappings(&id).await;
    let placed = now - Duration::hours(1);
    let line = json!([{"partner_sku": "SKU-1", "quantity": 1, "item_price": "9.99"}]);
    for (n, extra) in [
        ("W-CAL", json!({})),
        ("W-OSTK", json!({"expected_ship_date": now - Duration::minutes(30)})),
        ("W-LATER", json!({"expected_ship_date": now + Duration::days(1)})),
    ] {
        let mut order = json!({"order_number": n, "created": placed, "order_date": placed,
                               "service_level_code": "GROUND", "lines": line});
        if let (Some(o), Some(e)) = (order.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        w.sandbox.seed(id.as_str(), order).await;
    }
    let run = |at: DateTime<Utc>| {
        let w = &w;
        async move { w.download_with(&format!("r{}", at.timestamp()), &FixedClock(at), at + Duration::minutes(5)).await }
    };

    let first = run(now).await;
    let s = of(&first, &id);
    assert_eq!((s.new, s.at_risk, s.late), (3, 1, 1), "W-CAL at risk, W-OSTK late on arrival: {s:?}");
    assert_eq!(w.order(&id, "W-CAL").await.ship_by, Some(now + Duration::hours(2)), "the calendar's");
    assert_eq!(w.order(&id, "W-OSTK").await.ship_by, Some(now - Duration::minutes(30)), "Overstock's wins");
    assert_eq!(w.order(&id, "W-CAL").await.watch, Some(WatchFlag::AtRisk));
    assert_eq!(w.order(&id, "W-OSTK").await.watch, Some(WatchFlag::Late));
    assert_eq!(w.order(&id, "W-LATER").await.watch, None);

    let later = run(now + Duration::hours(3)).await;
    assert_eq!((of(&later, &id).at_risk, of(&later, &id).late), (0, 2), "{:?}", of(&later, &id));
    assert_eq!(w.order(&id, "W-CAL").await.watch, Some(WatchFlag::Late));

    w.ship_all(&id, &["W-CAL", "W-OSTK"]).await;
    let watched = w.store.list_watched(&id, now + Duration::days(2)).await.unwrap_or_else(|e| panic!("{e}"));
    let numbers: Vec<&str> = watched.due.iter().map(|o| o.order_number.as_str()).collect();
    assert_eq!(numbers, ["W-LATER"], "shipped orders leave the index with their write");
    let cleared = run(now + Duration::hours(3) + Duration::minutes(1)).await;
    assert_eq!((of(&cleared, &id).at_risk, of(&cleared, &id).late), (0, 0), "{:?}", of(&cleared, &id));
    assert!(w.order(&id, "W-CAL").await.watch_attention().is_none(), "no flag shown once shipped");
    let next = w.store.list_watched(&id, now).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(next.due.is_empty());
    assert_eq!(next.next, Some(now + Duration::days(1)), "the next instant to look at: W-LATER's");
}
