use super::*;
use crate::domain::fixtures::{self, next_day_mapping};
use crate::domain::shipment::ShipmentRequest;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).map(|d| d.with_timezone(&Utc)).unwrap_or_else(|e| panic!("{e}"))
}

const NOW: &str = "2026-11-26T13:00:00Z";

fn id(s: &str) -> RequestId {
    RequestId::parse(s).unwrap_or_else(|e| panic!("{e}"))
}

fn req(lines: &[&str], local_only: bool) -> CancelRequest {
    CancelRequest { lines: lines.iter().map(|l| (*l).to_owned()).collect(), reason: "OUT_OF_STOCK".into(), local_only }
}

/// Three lines (2, 1, 1), acknowledged, line 1 packed in a package not yet sent.
fn order() -> Order {
    let mut o = fixtures::order("ACKNOWLEDGED", &[("1", 2), ("2", 1), ("3", 1)], t("2026-11-26T10:00:00Z"));
    o.local_status = LocalStatus::Acknowledged;
    let ship = ShipmentRequest {
        lines: vec![("1".into(), 1)],
        carrier_code: None,
        shipping_method: None,
        tracking_number: "1ZA".into(),
        ship_date: t("2026-11-26T12:00:00Z"),
    };
    o.record_shipment(&ship, &next_day_mapping("UPS"), t(NOW)).unwrap_or_else(|e| panic!("{e}"));
    o
}

#[test]
fn a_named_line_is_cancelled_its_pending_packages_withdrawn_and_a_short_ship_queued() {
    let mut o = order();
    let out = o.cancel(&id("c-1"), &req(&["1"], false), Some("erp"), t(NOW));
    assert_eq!(out, Ok(CancelOutcome::Cancelled { lines: vec!["1".into()], short_ship: true }));
    assert_eq!(o.local_status, LocalStatus::PartiallyCancelled);
    assert!(o.line_is_cancelled("1") && !o.line_is_cancelled("2"));
    assert!(matches!(o.shipments[0].lines[0].upload, UploadState::Withdrawn { .. }), "never sent");
    assert!(o.has_upload_work(), "the short ship waits to be sent");
    assert_eq!(o.pending_short_ships().len(), 1);
    let c = &o.cancellations[0];
    assert_eq!(
        (c.reason.as_str(), c.requested_by.as_deref(), &c.lines[0].short_ship),
        ("OUT_OF_STOCK", Some("erp"), &ShortShip::Pending)
    );
    // A shipment can no longer be recorded on the cancelled line.
    let ship = ShipmentRequest {
        lines: vec![("1".into(), 1)],
        carrier_code: None,
        shipping_method: None,
        tracking_number: "1ZB".into(),
        ship_date: t(NOW),
    };
    assert!(o.record_shipment(&ship, &next_day_mapping("UPS"), t(NOW)).is_err());
}

#[test]
fn no_line_named_cancels_every_open_line_and_the_order() {
    let mut o = order();
    assert_eq!(o.cancel(&id("c-1"), &req(&[], false), None, t(NOW)).map(|_| ()), Ok(()));
    assert_eq!(o.local_status, LocalStatus::Cancelled);
    assert_eq!(o.cancellations[0].lines.iter().map(|l| l.line.as_str()).collect::<Vec<_>>(), ["1", "2", "3"]);
    assert_eq!(
        o.cancel(&id("c-2"), &req(&[], false), None, t(NOW)),
        Err(CancelRefusal::Rejected("no open line left to cancel".into()))
    );
}

#[test]
fn the_same_request_twice_cancels_once() {
    let mut o = order();
    assert!(o.cancel(&id("c-1"), &req(&["2"], false), None, t(NOW)).is_ok());
    let after = o.clone();
    assert_eq!(o.cancel(&id("c-1"), &req(&["2"], false), None, t(NOW)), Ok(CancelOutcome::AlreadyApplied));
    assert_eq!(o, after);
}

#[test]
fn a_local_only_cancel_sends_nothing() {
    let mut o = order();
    assert_eq!(
        o.cancel(&id("c-1"), &req(&["3"], true), None, t(NOW)),
        Ok(CancelOutcome::Cancelled { lines: vec!["3".into()], short_ship: false })
    );
    assert_eq!(o.cancellations[0].lines[0].short_ship, ShortShip::NotSent);
    assert!(o.pending_short_ships().is_empty());
}

#[test]
fn refusals_change_nothing() {
    let before = order();
    let cases: Vec<(Order, CancelRequest, CancelRefusal)> = vec![
        (before.clone(), req(&["9"], false), CancelRefusal::Rejected("unknown line 9".into())),
        (
            {
                let mut o = before.clone();
                o.overstock.lines[1].line_status = Some("CANCELLED".into());
                o
            },
            req(&["2"], false),
            CancelRefusal::Rejected("line 2 is already cancelled".into()),
        ),
        (
            {
                let mut o = before.clone();
                o.local_status = LocalStatus::ShipConfirmed;
                o
            },
            req(&["2"], false),
            CancelRefusal::Rejected(SHIP_CONFIRMED_ADVICE.into()),
        ),
        (
            {
                let mut o = before.clone();
                o.shipments[0].lines[0].upload = UploadState::Sending { at: t(NOW) };
                o
            },
            req(&["1"], false),
            CancelRefusal::Wait(
                "line 1 has a package being sent to Overstock; the cancel waits for its outcome".into(),
            ),
        ),
    ];
    for (mut o, r, refusal) in cases {
        let snapshot = o.clone();
        assert_eq!(o.cancel(&id("c-x"), &r, None, t(NOW)), Err(refusal));
        assert_eq!(o, snapshot, "nothing changed");
    }
}

#[test]
fn a_ship_confirmed_line_is_refused_with_the_advice_and_the_others_can_go() {
    let mut o = order();
    // Line 3 shipped and accepted on its own.
    let ship = ShipmentRequest {
        lines: vec![("3".into(), 1)],
        carrier_code: None,
        shipping_method: None,
        tracking_number: "1ZC".into(),
        ship_date: t(NOW),
    };
    o.record_shipment(&ship, &next_day_mapping("UPS"), t(NOW)).unwrap_or_else(|e| panic!("{e}"));
    o.shipments[1].lines[0].upload = UploadState::Accepted { at: t(NOW) };
    assert_eq!(
        o.cancel(&id("c-1"), &req(&["3"], false), None, t(NOW)),
        Err(CancelRefusal::Rejected(format!("line 3: {SHIP_CONFIRMED_ADVICE}")))
    );
    // "All open lines" leaves the confirmed one alone.
    assert!(o.cancel(&id("c-2"), &req(&[], false), None, t(NOW)).is_ok());
    assert_eq!(o.cancellations[0].lines.iter().map(|l| l.line.as_str()).collect::<Vec<_>>(), ["1", "2"]);
    assert_eq!(o.local_status, LocalStatus::ShipConfirmed, "what is left was confirmed");
}

#[test]
fn a_line_with_a_shipped_package_is_not_short_shipped() {
    let mut o = order();
    o.shipments[0].lines[0].upload = UploadState::Accepted { at: t(NOW) };
    let refusal = o.cancel(&id("c-1"), &req(&["1"], false), None, t(NOW));
    assert!(
        matches!(refusal, Err(CancelRefusal::Rejected(ref m)) if m.contains("no short ship after a shipment")),
        "{refusal:?}"
    );
    assert!(o.cancel(&id("c-2"), &req(&[], false), None, t(NOW)).is_ok());
    assert_eq!(
        o.cancellations[0].lines.iter().map(|l| l.line.as_str()).collect::<Vec<_>>(),
        ["2", "3"],
        "open lines only"
    );
}

#[test]
fn a_short_ship_goes_pending_sending_then_settles() {
    let mut o = order();
    assert!(o.cancel(&id("c-1"), &req(&["2", "3"], false), None, t(NOW)).is_ok());
    let refs = o.pending_short_ships();
    assert_eq!(refs.len(), 2);
    assert!(o.has_short_ship_work());
    assert!(o.begin_short_ship(refs[0], t(NOW)) && o.begin_short_ship(refs[1], t(NOW)));
    assert!(!o.begin_short_ship(refs[0], t(NOW)), "already sending");
    assert!(o.settle_short_ship(refs[0], Some(None), t(NOW)));
    assert!(o.settle_short_ship(refs[1], None, t(NOW)), "not applied: pending again");
    assert_eq!(o.pending_short_ships(), vec![refs[1]]);
    assert!(o.begin_short_ship(refs[1], t(NOW)));
    assert!(o.settle_short_ship(refs[1], Some(Some("line already shipped")), t(NOW)));
    assert!(matches!(o.short_ship(refs[1]).map(|l| &l.short_ship), Some(ShortShip::Failed { .. })));
    assert!(!o.has_short_ship_work());
}

fn overstock_cancels(o: &mut Order, lines: &[&str]) {
    for l in o.overstock.lines.iter_mut() {
        if lines.contains(&l.line_number.as_str()) {
            l.line_status = Some("CANCELLED".into());
        }
    }
}

#[test]
fn a_line_overstock_cancelled_is_recorded_its_package_withdrawn_and_the_order_flagged() {
    let mut o = order();
    overstock_cancels(&mut o, &["1"]);
    let out = o.apply_overstock_cancellations(t(NOW));
    assert_eq!(out, OverstockCancellation { cancelled: vec!["1".into()], conflicting: vec![] });
    assert_eq!(o.local_status, LocalStatus::PartiallyCancelled);
    assert!(matches!(o.shipments[0].lines[0].upload, UploadState::Withdrawn { .. }), "never sent");
    assert!(o.pending_short_ships().is_empty(), "nothing to tell Overstock: it cancelled");
    let c = &o.cancellations[0];
    assert_eq!(
        (c.reason.as_str(), c.requested_by.as_deref(), c.local_only),
        (CANCELLED_BY_OVERSTOCK, Some("Overstock"), true)
    );
    assert!(o.attention.iter().any(|a| a == CANCELLED_BY_OVERSTOCK));
    // Idempotent: the same view again changes nothing.
    let before = o.clone();
    assert!(o.apply_overstock_cancellations(t("2026-11-26T14:00:00Z")).is_empty());
    assert_eq!(o, before);
    // A cancel request for that line is refused as already cancelled.
    assert!(matches!(o.cancel(&id("c-9"), &req(&["1"], false), None, t(NOW)), Err(CancelRefusal::Rejected(_))));
}

#[test]
fn a_whole_order_overstock_cancelled_is_cancelled_here() {
    let mut o = order();
    o.overstock.status = Some(crate::domain::order::OverstockStatus::Cancelled);
    let out = o.apply_overstock_cancellations(t(NOW));
    assert_eq!(out.cancelled, ["1", "2", "3"]);
    assert_eq!(o.local_status, LocalStatus::Cancelled);
}

#[test]
fn overstock_cancelling_a_shipped_line_changes_nothing_but_is_flagged() {
    let mut o = order();
    let r = crate::domain::shipment::PackageLineRef { package: 0, line: 0 };
    assert!(o.begin_sending(&[r], t(NOW)));
    o.apply_upload_answer(r, crate::domain::shipment::SendOutcome::Accepted, 5, t(NOW));
    assert!(o.line_has_shipped_packages("1"));
    let status = o.local_status;
    overstock_cancels(&mut o, &["1", "2"]);
    let out = o.apply_overstock_cancellations(t(NOW));
    assert_eq!(out, OverstockCancellation { cancelled: vec!["2".into()], conflicting: vec!["1".into()] });
    assert!(o.attention.iter().any(|a| a.contains("line 1 cancelled after accepting")), "{:?}", o.attention);
    assert!(matches!(o.shipments[0].lines[0].upload, UploadState::Accepted { .. }), "progress never goes back");
    assert_eq!(o.local_status, LocalStatus::PartiallyCancelled, "from {status:?}");
}

#[test]
fn a_confirmed_order_stays_confirmed_and_a_pending_short_ship_is_not_sent() {
    let mut o = order();
    assert!(o.cancel(&id("c-1"), &req(&["2"], false), None, t(NOW)).is_ok());
    assert_eq!(o.pending_short_ships().len(), 1);
    overstock_cancels(&mut o, &["2"]);
    let out = o.apply_overstock_cancellations(t(NOW));
    assert!(out.is_empty(), "line 2 is already recorded cancelled: {out:?}");
    assert!(o.pending_short_ships().is_empty(), "Overstock shows it cancelled: nothing to send");
    let mut c = order();
    c.local_status = LocalStatus::ShipConfirmed;
    overstock_cancels(&mut c, &["3"]);
    assert_eq!(c.apply_overstock_cancellations(t(NOW)).cancelled, ["3"]);
    assert_eq!(c.local_status, LocalStatus::ShipConfirmed, "local progress never goes back");
}
