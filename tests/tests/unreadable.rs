//! Answers that cannot be read, against moto and the sandbox: the smallest unreadable unit (a
//! creation second) is set apart and recorded, everything around it is stored and acknowledged,
//! the watermark moves past it, and it is read again on a back-off until it can be read (then
//! stored once, acknowledged once). Almost readable answers are read and flagged.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use shared::domain::window::floor_second;
use shared::domain::{CompanyId, FixedClock, OrderNumber, utc_key};
use shared::overstock::RetryPolicy;
use shared::services::order_download::{Outcome, UNREADABLE_SECOND};
use shared::store::{OrderStore, QuarantineStore, SyncStateStore};
use tests::{World, client_with, fast_retry, of};

const JOB: &str = "order-download";

fn num(s: &str) -> OrderNumber {
    OrderNumber::parse(s).unwrap_or_else(|e| panic!("{e}"))
}

/// A seeded order: number, creation time, and (element, raw text) written in place of that
/// element's text.
type Seed<'a> = (&'a str, DateTime<Utc>, Option<(&'a str, &'a str)>);

/// A company (acknowledgement on) and its orders.
async fn world(orders: &[Seed<'_>]) -> (World, CompanyId) {
    let mut w = World::new().await;
    let id = w.company("current", |_| {}).await;
    w.standard_mappings(&id).await;
    for (n, created, poison) in orders {
        let mut order = json!({"order_number": n, "created": created, "service_level_code": "GROUND",
                               "lines": [{"partner_sku": "ACME-CHAIR-BLK", "quantity": 2, "item_price": "89.99"}]});
        if let Some((element, raw)) = poison {
            order["wire_override"] = json!([element, raw]);
        }
        w.sandbox.seed(id.as_str(), order).await;
    }
    (w, id)
}

async fn seconds(w: &World, id: &CompanyId) -> Vec<shared::store::QuarantinedOrder> {
    w.store
        .list_quarantined(id)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .filter(|q| q.key.starts_with(UNREADABLE_SECOND))
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// One second whose answer is not well-formed XML (a raw `<` in a name) in the middle of a busy
/// window: the 20 orders around it are stored and acknowledged on the first run, the second is
/// recorded (why, when first and last seen) and the watermark passes it; it is read again on
/// its back-off, and once Overstock's copy is fixed its order is stored and acknowledged once.
#[tokio::test]
async fn an_unreadable_second_in_a_busy_window_is_set_apart_and_the_rest_flows() {
    let base = floor_second(Utc::now() - Duration::minutes(50));
    let mut orders: Vec<(String, DateTime<Utc>)> =
        (0..20).map(|i| (format!("B-{i:02}"), base + Duration::seconds(i * 120 + 7))).collect();
    let bad_at = base + Duration::seconds(10 * 120 + 30);
    orders.push(("BAD-1".into(), bad_at));
    let seeded: Vec<Seed<'_>> = orders
        .iter()
        .map(|(n, t)| (n.as_str(), *t, (n == "BAD-1").then_some(("contactName", "Jo<hn Secret"))))
        .collect();
    let (w, id) = world(&seeded).await;
    let good: Vec<String> = (0..20).map(|i| format!("B-{i:02}")).collect();

    let run = w.download("run-1").await;
    let s = of(&run, &id);
    assert_eq!(s.outcome, Outcome::Completed, "{s:?}");
    assert_eq!(w.stored_numbers(&id).await, good, "every order around the unreadable second is stored");
    assert_eq!(w.acknowledged(&id).await, good, "and acknowledged, once");
    assert_eq!(s.unreadable_seconds.len(), 1, "{s:?}");
    assert!(s.unreadable_seconds[0].starts_with(&utc_key(bad_at)), "{s:?}");
    assert_eq!(s.unreadable_open, 1);
    assert!(s.fetches < 45, "narrowed down by halves, not second by second: {} reads", s.fetches);
    let recorded = seconds(&w, &id).await;
    assert_eq!(recorded.len(), 1);
    assert_eq!((recorded[0].window_start, recorded[0].window_end), (bad_at, bad_at + Duration::seconds(1)));
    assert!(recorded[0].reason.contains("not well-formed XML"), "{:?}", recorded[0].reason);
    for secret in ["Jo<hn", "Secret"] {
        assert!(!recorded[0].reason.contains(secret) && !s.unreadable_seconds[0].contains(secret), "{recorded:?}");
    }
    let watermark = w.store.get_watermark(&id, JOB).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(watermark.is_some_and(|t| t > base + Duration::minutes(40)), "the watermark moved past it: {watermark:?}");

    // The next run reads it again (first back-off: none) and leaves it out of every other read.
    let again = w.download("run-2").await;
    let a = of(&again, &id);
    assert_eq!(a.outcome, Outcome::Completed, "{a:?}");
    assert!(a.unreadable_seconds.is_empty(), "not recorded twice: {a:?}");
    assert_eq!(a.unreadable_open, 1);
    assert_eq!(seconds(&w, &id).await[0].sightings, 2);
    assert_eq!((a.new, w.acknowledged(&id).await.len()), (0, 20));
    // Within its back-off (one minute after the second sighting) it is not read again.
    let quiet = w.download("run-3").await;
    assert_eq!(seconds(&w, &id).await[0].sightings, 2, "{:?}", of(&quiet, &id));
    assert_eq!(of(&quiet, &id).unreadable_open, 1);

    // Overstock's copy becomes readable: past the back-off it is stored and acknowledged, once.
    w.sandbox.clear_override(id.as_str(), "BAD-1").await;
    let later = FixedClock(Utc::now() + Duration::minutes(2));
    let fixed = w.download_with("run-4", &later, later.0 + Duration::minutes(5)).await;
    let f = of(&fixed, &id);
    assert_eq!(f.unreadable_released, 1, "{f:?}");
    assert_eq!(f.unreadable_open, 0);
    assert!(seconds(&w, &id).await.is_empty());
    let mut all = good.clone();
    all.push("BAD-1".into());
    let all = sorted(all);
    assert_eq!(w.stored_numbers(&id).await, all);
    assert_eq!(w.acknowledged(&id).await, all, "each order acknowledged exactly once");
    let last = w.download_with("run-5", &later, later.0 + Duration::minutes(5)).await;
    assert_eq!((of(&last, &id).new, of(&last, &id).acknowledged), (0, 0));
    assert_eq!(w.acknowledged(&id).await, all);
}

/// Every kind of unreadable second: a mismatched tag, one order larger than the response cap,
/// and more orders in one second than Overstock puts in one answer. Each is recorded, the
/// orders of the other seconds are stored.
#[tokio::test]
async fn seconds_too_large_or_short_of_their_count_are_set_apart_too() {
    let t0 = floor_second(Utc::now() - Duration::minutes(40));
    let big = "x".repeat(200 * 1024);
    let (mut w, id) = world(&[
        ("OK-1", t0, None),
        ("TAG-1", t0 + Duration::seconds(60), Some(("address1", "<b>1 Main St</i>"))),
        ("BIG-1", t0 + Duration::seconds(120), Some(("itemName", big.as_str()))),
        ("MANY-1", t0 + Duration::seconds(180), None),
        ("MANY-2", t0 + Duration::seconds(180), None),
        ("MANY-3", t0 + Duration::seconds(180), None),
        ("OK-2", t0 + Duration::seconds(240), None),
    ])
    .await;
    w.overstock = client_with(RetryPolicy { max_response_bytes: 128 * 1024, ..fast_retry() });
    w.sandbox.faults(id.as_str(), json!({"max_orders_per_response": 2})).await;
    let run = w.download("run-1").await;
    let s = of(&run, &id);
    assert_eq!(s.outcome, Outcome::Completed, "{s:?}");
    assert_eq!(w.stored_numbers(&id).await, ["OK-1", "OK-2"]);
    assert_eq!(w.acknowledged(&id).await, ["OK-1", "OK-2"]);
    let mut recorded: Vec<(DateTime<Utc>, String)> =
        seconds(&w, &id).await.into_iter().map(|q| (q.window_start, q.reason)).collect();
    recorded.sort();
    assert_eq!(
        recorded.iter().map(|r| r.0).collect::<Vec<_>>(),
        [t0 + Duration::seconds(60), t0 + Duration::seconds(120), t0 + Duration::seconds(180)],
        "{recorded:?}"
    );
    assert!(recorded[0].1.contains("not well-formed"), "{recorded:?}");
    assert!(recorded[1].1.contains("exceeds"), "{recorded:?}");
    assert!(recorded[2].1.contains("3 orders its totalCount announces"), "{recorded:?}");
    assert!(recorded.iter().all(|r| !r.1.contains("Main St")), "{recorded:?}");
}

/// Almost readable answers: a byte that is not UTF-8 in a name and a raw `&` in a name are read,
/// the orders stored, acknowledged and flagged for attention, the others untouched.
#[tokio::test]
async fn almost_readable_orders_are_stored_acknowledged_and_flagged() {
    let t0 = floor_second(Utc::now() - Duration::minutes(30));
    let (w, id) = world(&[
        ("OK-1", t0, None),
        ("UTF-1", t0 + Duration::seconds(5), Some(("contactName", "Jos\u{FFFF} Secret"))),
        ("AMP-1", t0 + Duration::seconds(9), Some(("contactName", "Smith & Secret"))),
        ("OK-2", t0 + Duration::seconds(12), None),
    ])
    .await;
    let run = w.download("run-1").await;
    let s = of(&run, &id);
    assert_eq!(s.outcome, Outcome::Completed, "{s:?}");
    assert!(s.unreadable_seconds.is_empty() && s.quarantined.is_empty(), "{s:?}");
    assert_eq!(w.stored_numbers(&id).await, ["AMP-1", "OK-1", "OK-2", "UTF-1"]);
    assert_eq!(w.acknowledged(&id).await, ["AMP-1", "OK-1", "OK-2", "UTF-1"]);
    let orders =
        w.store.get_orders(&id, &[num("UTF-1"), num("AMP-1"), num("OK-1")]).await.unwrap_or_else(|e| panic!("{e}"));
    let utf = &orders[&num("UTF-1")];
    assert!(utf.attention.iter().any(|a| a.contains("not UTF-8")), "{:?}", utf.attention);
    let name = utf.overstock.ship_to.as_ref().and_then(|a| a.contact_name.clone()).unwrap_or_default();
    assert_eq!(name, "Jos\u{FFFD} Secret", "the bad byte is kept visible, the rest of the name as sent");
    let amp = &orders[&num("AMP-1")];
    assert!(amp.attention.iter().any(|a| a.contains("'&'")), "{:?}", amp.attention);
    assert_eq!(amp.overstock.ship_to.as_ref().and_then(|a| a.contact_name.as_deref()), Some("Smith & Secret"));
    assert!(orders[&num("OK-1")].attention.is_empty());
    for a in utf.attention.iter().chain(&amp.attention) {
        assert!(!a.contains("Secret"), "flags never quote the text: {a}");
    }
    let flagged = sorted(s.attention_orders.clone());
    assert_eq!(flagged, ["AMP-1", "UTF-1"]);
}

/// A whole answer that is unreadable once (truncated) is read again in halves in the same run:
/// nothing waits for a later run, nothing is lost.
#[tokio::test]
async fn an_answer_unreadable_once_is_read_again_in_halves() {
    let t0 = floor_second(Utc::now() - Duration::minutes(30));
    for mode in ["truncated", "non_utf8"] {
        let (w, id) = world(&[("T-1", t0, None), ("T-2", t0 + Duration::seconds(90), None)]).await;
        w.sandbox.hostile(id.as_str(), json!({"mode": mode, "times": 1, "endpoint": "GET /salesorders"})).await;
        let run = w.download("run-1").await;
        let s = of(&run, &id);
        assert_eq!(s.outcome, Outcome::Completed, "{mode}: {s:?}");
        let q: Vec<String> =
            w.store.list_quarantined(&id).await.unwrap_or_else(|e| panic!("{e}")).into_iter().map(|q| q.key).collect();
        let mut held = w.stored_numbers(&id).await;
        held.extend(q.iter().cloned());
        assert_eq!(held.len(), 2, "{mode}: every order stored or set apart, none lost: {held:?}");
        if !q.is_empty() {
            // The non-UTF-8 bytes landed between elements of one order: that order is quarantined
            // and stored by the next run, once the answer is whole again.
            let again = w.download("run-2").await;
            assert_eq!(of(&again, &id).outcome, Outcome::Completed, "{mode}");
        }
        assert_eq!(w.stored_numbers(&id).await, ["T-1", "T-2"], "{mode}");
        assert_eq!(w.acknowledged(&id).await, ["T-1", "T-2"], "{mode}: once each");
    }
}

/// A company whose first download reaches 96 hours back (so three-day-old orders are its own,
/// read again by the status sync).
async fn old_orders_world() -> (World, CompanyId) {
    let mut w = World::new().await;
    let id = w
        .company("current", |s| {
            s.initial_lookback_hours =
                shared::domain::settings::LookbackHours::new(96).unwrap_or_else(|e| panic!("{e}"))
        })
        .await;
    w.standard_mappings(&id).await;
    (w, id)
}

fn old_order(n: &str, at: DateTime<Utc>) -> serde_json::Value {
    json!({"order_number": n, "created": at, "service_level_code": "GROUND",
           "lines": [{"partner_sku": "ACME-CHAIR-BLK", "quantity": 1, "item_price": "89.99"}]})
}

/// A run's clock `minutes` from now and its deadline.
fn at(minutes: i64) -> (FixedClock, DateTime<Utc>) {
    let t = Utc::now() + Duration::minutes(minutes);
    (FixedClock(t), t + Duration::minutes(5))
}

/// The status sync meets an unreadable second (an older order Overstock now answers with a raw
/// `<`): it is recorded, and the next run's quarantine check knows of it (the run's notes say the
/// quarantine has work, whichever read found it).
#[tokio::test]
async fn a_second_the_status_sync_finds_unreadable_is_checked_by_the_next_run() {
    let (w, id) = old_orders_world().await;
    let created = floor_second(Utc::now() - Duration::days(3));
    w.sandbox.seed(id.as_str(), old_order("OLD-1", created)).await;
    assert_eq!(of(&w.download("first").await, &id).new, 1);
    // Later, an answer for a second of that window no longer parses.
    let mut bad = old_order("OLD-2", created + Duration::minutes(5));
    bad["wire_override"] = json!(["contactName", "Jo<hn Secret"]);
    w.sandbox.seed(id.as_str(), bad).await;
    let (clock, deadline) = at(16);
    let pass = w.download_with("pass", &clock, deadline).await;
    let s = of(&pass, &id);
    assert_eq!((s.outcome.clone(), s.unreadable_seconds.len()), (Outcome::Completed, 1), "{s:?}");
    assert_eq!(seconds(&w, &id).await.len(), 1);
    let (clock, deadline) = at(17);
    let next = w.download_with("next", &clock, deadline).await;
    assert_eq!(of(&next, &id).unreadable_open, 1, "the quarantine check ran: {:?}", of(&next, &id));
}

/// An order Overstock cannot render: every read of a window that holds it fails the same way
/// (a 502 page here; a 500, a 404 likewise). The first three runs fail (loud, retried: one bad
/// minute narrows nothing); the run after three in a row failed on the same window narrows the
/// failure down like an unreadable answer: the orders around it are stored, only its second is
/// set apart and the watermark moves on. Once Overstock renders it again, it is stored once.
#[tokio::test]
async fn a_window_that_fails_the_same_way_on_every_read_is_narrowed_down_after_three_runs() {
    let base = floor_second(Utc::now() - Duration::minutes(40));
    let (bad_at, after) = (base + Duration::seconds(600), base + Duration::seconds(1200));
    let (w, id) = world(&[("BEFORE-1", base, None), ("BROKEN-1", bad_at, None), ("AFTER-1", after, None)]).await;
    w.sandbox.faults(id.as_str(), json!({"unrenderable": ["BROKEN-1"], "unrenderable_status": 502})).await;
    for run in 1..=2u32 {
        let s = of(&w.download(&format!("fail-{run}")).await, &id).clone();
        assert!(matches!(s.outcome, Outcome::Failed { retryable: true, .. }), "run {run}: {s:?}");
        assert_eq!(s.failing_window_runs, run, "{s:?}");
        assert!(w.stored_numbers(&id).await.is_empty(), "run {run}: nothing stored yet");
    }
    let third = of(&w.download("narrow").await, &id).clone();
    assert!(matches!(third.outcome, Outcome::Failed { .. }), "the third failure is counted first: {third:?}");
    assert_eq!(third.failing_window_runs, 3);
    let s = of(&w.download("narrowed").await, &id).clone();
    assert_eq!(s.outcome, Outcome::Completed, "{s:?}");
    assert_eq!(w.stored_numbers(&id).await, ["AFTER-1", "BEFORE-1"], "every order around it stored");
    assert_eq!(s.unreadable_seconds.len(), 1, "{s:?}");
    assert!(s.unreadable_seconds[0].starts_with(&utc_key(bad_at)), "only its second: {s:?}");
    assert!(s.unreadable_seconds[0].contains("fails run after run"), "{s:?}");
    assert_eq!(s.unreadable_open, 1, "the alarm's gauge counts it");
    let watermark = w.store.get_watermark(&id, JOB).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(watermark.is_some_and(|t| t > after), "the watermark moved on: {watermark:?}");
    // While it still fails, the re-read keeps it set apart and the run completes.
    let later = FixedClock(Utc::now() + Duration::minutes(2));
    let still = of(&w.download_with("still", &later, later.0 + Duration::minutes(5)).await, &id).clone();
    assert_eq!((still.outcome.clone(), still.unreadable_open), (Outcome::Completed, 1), "{still:?}");
    // Overstock renders it again: stored and acknowledged once.
    w.sandbox.faults(id.as_str(), json!({})).await;
    let later = FixedClock(Utc::now() + Duration::minutes(10));
    let fixed = of(&w.download_with("fixed", &later, later.0 + Duration::minutes(5)).await, &id).clone();
    assert_eq!((fixed.unreadable_released, fixed.unreadable_open), (1, 0), "{fixed:?}");
    assert_eq!(w.stored_numbers(&id).await, ["AFTER-1", "BEFORE-1", "BROKEN-1"]);
    assert_eq!(w.acknowledged(&id).await, ["AFTER-1", "BEFORE-1", "BROKEN-1"], "each once");
}

/// An Overstock that answers nothing (every read fails): the narrowing's first read, beside the
/// failing window, fails too, so nothing is set apart and the run fails as before.
#[tokio::test]
async fn an_overstock_that_answers_nothing_is_not_narrowed_into_set_apart_seconds() {
    let base = floor_second(Utc::now() - Duration::minutes(40));
    let (w, id) = world(&[("ANY-1", base, None)]).await;
    w.sandbox.faults(id.as_str(), json!({"share_500": 1.0})).await;
    for run in 1..=4u32 {
        let s = of(&w.download(&format!("down-{run}")).await, &id).clone();
        assert!(matches!(s.outcome, Outcome::Failed { retryable: true, .. }), "run {run}: {s:?}");
        assert!(s.unreadable_seconds.is_empty(), "run {run}: nothing set apart: {s:?}");
    }
    assert!(seconds(&w, &id).await.is_empty());
}

/// The same for the status sync: an old open order Overstock can no longer render fails the
/// status window that holds it on every read (so each run failed before the ship-by watchdog);
/// after three runs in a row, that window's failure is narrowed down to the order's second, set
/// apart, and the run completes.
#[tokio::test]
async fn a_status_window_that_fails_on_every_read_is_narrowed_down_too() {
    let (w, id) = old_orders_world().await;
    let created = floor_second(Utc::now() - Duration::days(3));
    w.sandbox.seed(id.as_str(), old_order("OLD-1", created)).await;
    w.sandbox.seed(id.as_str(), old_order("OLD-2", created + Duration::minutes(5))).await;
    assert_eq!(of(&w.download("first").await, &id).new, 2);
    w.sandbox.faults(id.as_str(), json!({"unrenderable": ["OLD-2"]})).await;
    for (run, minutes) in [(1u32, 16), (2, 17), (3, 18)] {
        let (clock, deadline) = at(minutes);
        let s = of(&w.download_with(&format!("fail-{run}"), &clock, deadline).await, &id).clone();
        assert!(matches!(s.outcome, Outcome::Failed { retryable: true, .. }), "run {run}: {s:?}");
        assert_eq!(s.failing_window_runs, run, "run {run}: {s:?}");
    }
    let (clock, deadline) = at(19);
    let s = of(&w.download_with("narrowed", &clock, deadline).await, &id).clone();
    assert_eq!(s.outcome, Outcome::Completed, "{s:?}");
    assert_eq!(s.unreadable_seconds.len(), 1, "{s:?}");
    assert!(s.unreadable_seconds[0].starts_with(&utc_key(created + Duration::minutes(5))), "its second: {s:?}");
    assert!(s.status_windows > 0, "the status sync read its windows: {s:?}");
}
