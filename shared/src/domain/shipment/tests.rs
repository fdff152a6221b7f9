use super::*;
use crate::domain::fixtures::{self, next_day_mapping};

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).map(|d| d.with_timezone(&Utc)).unwrap_or_else(|e| panic!("{e}"))
}

fn mappings() -> MappingTable {
    next_day_mapping("UPS Next Day Air")
}

fn order() -> Order {
    let mut o = fixtures::order("ACKNOWLEDGED", &[("1", 3), ("2", 1)], t("2026-11-26T10:00:00Z"));
    o.overstock.action_required = Some(false);
    o
}

fn req(lines: &[(&str, u32)], tracking: &str) -> ShipmentRequest {
    ShipmentRequest {
        lines: lines.iter().map(|(l, q)| ((*l).to_owned(), *q)).collect(),
        carrier_code: None,
        shipping_method: None,
        tracking_number: tracking.into(),
        ship_date: t("2026-11-26T12:00:00Z"),
    }
}

const NOW: &str = "2026-11-26T13:00:00Z";

#[test]
fn a_line_ships_in_several_packages_up_to_its_quantity() {
    let mut o = order();
    let p = o.record_shipment(&req(&[("1", 2)], "1Z1"), &mappings(), t(NOW)).map(|p| p.package_id.clone());
    assert_eq!(p, Ok("P1".into()));
    assert_eq!(o.local_status, LocalStatus::Shipped);
    assert_eq!(o.open_quantity("1"), Some(1));
    let err = o.record_shipment(&req(&[("1", 2)], "1Z2"), &mappings(), t(NOW)).err();
    assert_eq!(err, Some(ShipmentError::QuantityAboveOpen { line: "1".into(), quantity: 2, open: 1 }));
    assert!(o.record_shipment(&req(&[("1", 1), ("2", 1)], "1Z2"), &mappings(), t(NOW)).is_ok());
    assert_eq!(o.shipments.len(), 2);
    assert!(o.has_upload_work());
}

#[test]
fn bad_input_is_rejected_and_changes_nothing() {
    let mut o = order();
    let before = o.clone();
    let cases = [
        (req(&[("9", 1)], "1Z"), ShipmentError::UnknownLine("9".into())),
        (req(&[("1", 4)], "1Z"), ShipmentError::QuantityAboveOpen { line: "1".into(), quantity: 4, open: 3 }),
        (req(&[("1", 0)], "1Z"), ShipmentError::ZeroQuantity("1".into())),
        (req(&[], "1Z"), ShipmentError::NoLines),
        (req(&[("1", 1)], "  "), ShipmentError::EmptyTracking),
    ];
    for (r, e) in cases {
        assert_eq!(o.record_shipment(&r, &mappings(), t(NOW)).err(), Some(e));
    }
    let mut future = req(&[("1", 1)], "1Z");
    future.ship_date = t("2026-11-26T13:05:00Z");
    assert!(matches!(o.record_shipment(&future, &mappings(), t(NOW)), Err(ShipmentError::FutureShipDate { .. })));
    let mut unknown_method = req(&[("1", 1)], "1Z");
    unknown_method.shipping_method = Some("Pony Express".into());
    assert_eq!(
        o.record_shipment(&unknown_method, &mappings(), t(NOW)).err(),
        Some(ShipmentError::UnknownShippingMethod("Pony Express".into()))
    );
    assert_eq!(o, before, "nothing changed");
    let mut cancelled = order();
    cancelled.overstock.lines[1].line_status = Some("CANCELLED".into());
    assert_eq!(
        cancelled.record_shipment(&req(&[("2", 1)], "1Z"), &mappings(), t(NOW)).err(),
        Some(ShipmentError::LineCancelled("2".into()))
    );
    cancelled.local_status = LocalStatus::Cancelled;
    assert_eq!(
        cancelled.record_shipment(&req(&[("1", 1)], "1Z"), &mappings(), t(NOW)).err(),
        Some(ShipmentError::OrderCancelled)
    );
}

#[test]
fn carrier_from_shipment_from_method_or_from_mapping() {
    let mut o = order();
    let mut given = req(&[("1", 1)], "A");
    given.carrier_code = Some("FEDEX".into());
    let mut by_method = req(&[("1", 1)], "B");
    by_method.shipping_method = Some("ups next day air".into());
    for r in [given, by_method, req(&[("1", 1)], "C")] {
        assert!(o.record_shipment(&r, &mappings(), t(NOW)).is_ok());
    }
    let carriers: Vec<Option<String>> = o.shipments.iter().map(|p| o.carrier_for(p, &mappings())).collect();
    assert_eq!(carriers, vec![Some("FEDEX".into()), Some("UPS".into()), Some("UPS".into())]);
    assert_eq!(o.shipments[2].carrier_code, None, "resolved at upload from the mapping");
}

/// A carrier or shipping method given but empty is a mistake, never "use the mapping".
#[test]
fn an_empty_carrier_or_shipping_method_is_refused() {
    let mut o = order();
    for (carrier, method) in [(Some(""), None), (Some("   "), None), (None, Some("")), (None, Some(" "))] {
        let mut r = req(&[("1", 1)], "E");
        r.carrier_code = carrier.map(str::to_owned);
        r.shipping_method = method.map(str::to_owned);
        assert!(o.record_shipment(&r, &mappings(), t(NOW)).is_err(), "{carrier:?} {method:?}");
    }
    assert!(o.shipments.is_empty(), "nothing recorded");
}

#[test]
fn rejections_retry_up_to_the_limit_then_fail() {
    let mut pl = PackageLine {
        line_number: "1".into(),
        quantity: 1,
        upload: UploadState::Pending,
        attempts: 0,
        last_error: None,
    };
    pl.apply(SendOutcome::Rejected("order is cancelled".into()), 3, t(NOW));
    assert_eq!((pl.upload.clone(), pl.attempts), (UploadState::Pending, 1));
    pl.apply(SendOutcome::Rejected("order is cancelled".into()), 3, t(NOW));
    pl.apply(SendOutcome::Rejected("order is cancelled".into()), 3, t(NOW));
    assert!(
        matches!(pl.upload, UploadState::Failed { ref reason, .. } if reason.contains("3 times") && reason.contains("cancelled"))
    );
}

#[test]
fn order_is_ship_confirmed_when_every_line_is_accepted() {
    let mut o = order();
    assert!(o.record_shipment(&req(&[("1", 3)], "A"), &mappings(), t(NOW)).is_ok());
    assert!(o.record_shipment(&req(&[("2", 1)], "B"), &mappings(), t(NOW)).is_ok());
    o.shipments[0].lines[0].apply(SendOutcome::Accepted, 5, t(NOW));
    o.refresh_ship_confirmation();
    assert_eq!(o.local_status, LocalStatus::Shipped);
    o.shipments[1].lines[0].apply(SendOutcome::Accepted, 5, t(NOW));
    o.refresh_ship_confirmation();
    assert_eq!(o.local_status, LocalStatus::ShipConfirmed);
    assert!(!o.has_upload_work());
}

#[test]
fn reconciliation_never_resends_what_may_have_been_applied() {
    let now = t(NOW);
    let pl = |q, upload| PackageLine { line_number: "1".into(), quantity: q, upload, attempts: 0, last_error: None };
    let sending = || UploadState::Sending { at: now };
    let accepted = || UploadState::Accepted { at: now };
    // One package for the whole line, Overstock shows it shipped: it was applied.
    assert_eq!(reconcile_sending(2, &[&pl(2, sending())], true, now), vec![UploadState::Accepted { at: now }]);
    // Not shipped on Overstock and it was the only one: not applied, safe to send.
    assert_eq!(reconcile_sending(2, &[&pl(2, sending())], false, now), vec![UploadState::Pending]);
    // The last of two packages, the other accepted: same reasoning.
    assert_eq!(reconcile_sending(2, &[&pl(1, accepted()), &pl(1, sending())], false, now), vec![UploadState::Pending]);
    assert_eq!(
        reconcile_sending(2, &[&pl(1, accepted()), &pl(1, sending())], true, now),
        vec![UploadState::Accepted { at: now }]
    );
    // A partial package while more is open: Overstock's line status cannot tell.
    let v = reconcile_sending(3, &[&pl(1, sending())], false, now);
    assert!(matches!(v[0], UploadState::Failed { .. }));
}

#[test]
fn tracking_carriers_lines_and_quantities_are_checked_at_recording() {
    let mut o = order();
    let before = o.clone();
    let long = "1".repeat(41);
    for (tracking, why) in [("1Z 999", "space"), ("1Z<b>", "markup"), ("1Z\u{1}9", "control"), (long.as_str(), "long")]
    {
        assert!(
            matches!(
                o.record_shipment(&req(&[("1", 1)], tracking), &mappings(), t(NOW)),
                Err(ShipmentError::BadTracking(_))
            ),
            "{why}"
        );
    }
    let mut bad_carrier = req(&[("1", 1)], "1Z1");
    bad_carrier.carrier_code = Some("UPS<x>".into());
    assert!(matches!(o.record_shipment(&bad_carrier, &mappings(), t(NOW)), Err(ShipmentError::BadCarrier(_))));
    assert!(matches!(
        o.record_shipment(&req(&[("1 OR 1", 1)], "1Z1"), &mappings(), t(NOW)),
        Err(ShipmentError::BadLineNumber(_))
    ));
    // Two quantities of the same line that overflow u32 are refused, never wrapped.
    let overflow = req(&[("1", u32::MAX), ("1", 2)], "1Z1");
    assert_eq!(
        o.record_shipment(&overflow, &mappings(), t(NOW)).err(),
        Some(ShipmentError::QuantityOverflow { line: "1".into(), max: u32::MAX })
    );
    let mut early = req(&[("1", 1)], "1Z1");
    o.overstock.order_date = Some(t("2026-11-26T10:00:00Z"));
    early.ship_date = t("2026-11-20T10:00:00Z");
    assert!(matches!(o.record_shipment(&early, &mappings(), t(NOW)), Err(ShipmentError::ShipDateBeforeOrder { .. })));
    o.overstock.order_date = before.overstock.order_date;
    assert_eq!(o, before, "nothing changed");
}

#[test]
fn a_senders_package_id_names_one_package_however_often_it_comes() {
    let mut o = order();
    let r = req(&[("1", 2)], "1Z1");
    let first = o.record_sender_shipment("WMS-1", "content-a", &r, &mappings(), t(NOW));
    assert_eq!(first, Ok(SenderRecorded::New("P1".into())));
    assert_eq!(o.shipments[0].sender_package_id.as_deref(), Some("WMS-1"));
    let before = o.clone();
    // Delivered again: nothing changes, not even a check of what is open (it is packed now).
    let again = o.record_sender_shipment("WMS-1", "content-a", &r, &mappings(), t(NOW));
    assert_eq!(again, Ok(SenderRecorded::Already("P1".into())));
    assert_eq!(o, before);
    // The same id saying something else is refused; nothing changes.
    let other = o.record_sender_shipment("WMS-1", "content-b", &req(&[("1", 1)], "1Z9"), &mappings(), t(NOW));
    assert_eq!(other, Err(ShipmentError::PackageIdReused("WMS-1".into())));
    assert_eq!(o, before);
    // Another id is another package, under the same rule as the operator's (open quantity).
    let over = o.record_sender_shipment("WMS-2", "content-c", &req(&[("1", 2)], "1Z2"), &mappings(), t(NOW));
    assert_eq!(over, Err(ShipmentError::QuantityAboveOpen { line: "1".into(), quantity: 2, open: 1 }));
    assert_eq!(o, before, "a refusal changes nothing");
    let next = o.record_sender_shipment("WMS-2", "content-c", &req(&[("1", 1), ("2", 1)], "1Z2"), &mappings(), t(NOW));
    assert_eq!(next, Ok(SenderRecorded::New("P2".into())));
}
