//! The ship-by watchdog with the real adapters: orders downloaded from the sandbox into moto,
//! their ship-by instants in moto's `orders-ship-by` index, flagged at risk and late as a fixed
//! clock moves, and cleared by a shipment (the index entry goes with it).

use chrono::{DateTime, Duration, NaiveTime, Timelike, Utc};
use serde_json::json;
use shared::domain::CompanyId;
use shared::domain::FixedClock;
use shared::domain::order::WatchFlag;
use shared::domain::settings::CompanyTimeZone;
use shared::store::OrderStore;
use tests::{World, of};

fn minute(t: DateTime<Utc>) -> DateTime<Utc> {
    t.with_second(0).and_then(|t| t.with_nanosecond(0)).unwrap_or(t)
}

/// A company on UTC with same-day handling, every day a working day, and its cut-off two hours
/// after `now`; its orders seeded as `(number, extra fields)`, placed an hour before `now`.
async fn same_day_company(w: &mut World, now: DateTime<Utc>, orders: &[(&str, serde_json::Value)]) -> CompanyId {
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
    for (n, extra) in orders {
        let mut order = json!({"order_number": n, "created": placed, "order_date": placed, "service_level_code": "GROUND",
                               "lines": [{"partner_sku": "SKU-1", "quantity": 1, "item_price": "9.99"}]});
        if let (Some(o), Some(e)) = (order.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        w.sandbox.seed(id.as_str(), order).await;
    }
    id
}

/// Three orders: one ships by its calendar (same-day handling, the cut-off two hours from now),
/// one by Overstock's own `expectedShipDate` (already past: late on arrival), one with its
/// ship-by a day away (never at risk here). The first is at risk now and late three hours later;
/// shipping it clears it and removes it from the index; the one a day away stays watched.
#[tokio::test]
async fn orders_are_flagged_at_risk_and_late_and_a_shipment_clears_them() {
    let mut w = World::new().await;
    let now = minute(Utc::now());
    let orders = [
        ("W-CAL", json!({})),
        ("W-OSTK", json!({"expected_ship_date": now - Duration::minutes(30)})),
        ("W-LATER", json!({"expected_ship_date": now + Duration::days(1)})),
    ];
    let id = same_day_company(&mut w, now, &orders).await;
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

/// A holiday added after the download moves the ship-by time of the orders still open (the
/// calendar's, not Overstock's own), clears the flag of the old time, and pokes the download so
/// its next run's watchdog looks at once.
#[tokio::test]
async fn a_holiday_listed_after_the_download_moves_the_ship_by_time() {
    use shared::services::watchdog::{at_risk, recompute_ship_by};
    use shared::store::{CompanyStore, SyncStateStore};
    let mut w = World::new().await;
    let now = minute(Utc::now());
    let orders = [("HD-1", json!({})), ("HD-2", json!({"expected_ship_date": now + Duration::hours(1)}))];
    let id = same_day_company(&mut w, now, &orders).await;
    let first = w.download_with("hd0", &FixedClock(now), now + Duration::minutes(5)).await;
    assert_eq!(of(&first, &id).at_risk, 2, "{:?}", of(&first, &id));
    let before = w.order(&id, "HD-1").await.ship_by.unwrap_or(now);

    // The warehouse closes on the ship-by day: listed as a holiday after the download.
    let mut company = w.store.get_company(&id).await.ok().flatten().unwrap_or_else(|| panic!("company"));
    company.settings.ship_by.holidays = [before.date_naive()].into();
    w.store.update_settings(&id, &company.settings, now).await.unwrap_or_else(|e| panic!("{e}"));
    let job = shared::services::order_download::JOB;
    let probe = |owner: &'static str, at: DateTime<Utc>| {
        let store = &w.store;
        let id = id.clone();
        async move {
            let state = store.take_lease(&id, job, owner, at + Duration::seconds(1), at).await;
            state.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("lease free")).pokes
        }
    };
    let pokes = probe("probe-1", now + Duration::minutes(10)).await;
    let (moved, lost) = recompute_ship_by(&w.store, &company, now).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((moved, lost.len()), (1, 0), "HD-1 moves; HD-2 keeps Overstock's time");
    let hd1 = w.order(&id, "HD-1").await;
    assert_eq!(hd1.ship_by, Some(before + Duration::days(1)), "the next working day's cut-off");
    assert_eq!(hd1.watch, None, "the old time's flag is cleared");
    assert_eq!(w.order(&id, "HD-2").await.ship_by, Some(now + Duration::hours(1)));
    let after = probe("probe-2", now + Duration::minutes(11)).await;
    assert_eq!(after, pokes + 1, "the download job is poked");
    let listed: Vec<String> =
        at_risk(&w.store, &company, now).await.unwrap_or_default().iter().map(|r| r.order_number.to_string()).collect();
    assert_eq!(listed, ["HD-2"], "HD-1 is a day away now");
}

/// An `expectedShipDate` that does not read (the element is provisional) fails only itself: the
/// order is stored (never quarantined), noted, and ships by the company's calendar; the order
/// beside it in the same answer keeps Overstock's own time.
#[tokio::test]
async fn an_unreadable_expected_ship_date_is_noted_and_the_calendar_decides() {
    let mut w = World::new().await;
    let now = minute(Utc::now());
    let orders = [
        ("BAD-ESD", json!({"expected_ship_date": now, "wire_override": ["expectedShipDate", "tomorrow-ish"]})),
        ("GOOD-ESD", json!({"expected_ship_date": now + Duration::hours(1)})),
    ];
    let id = same_day_company(&mut w, now, &orders).await;
    let run = w.download_with("esd", &FixedClock(now), now + Duration::minutes(5)).await;
    let s = of(&run, &id);
    assert_eq!((s.new, s.quarantined.len()), (2, 0), "{s:?}");
    let bad = w.order(&id, "BAD-ESD").await;
    assert_eq!(bad.ship_by, Some(now + Duration::hours(2)), "the calendar's (cut-off two hours ahead)");
    assert!(
        bad.overstock.wire_notes.iter().any(|n| n.starts_with("expectedShipDate")),
        "{:?}",
        bad.overstock.wire_notes
    );
    assert_eq!(w.order(&id, "GOOD-ESD").await.ship_by, Some(now + Duration::hours(1)));
}
