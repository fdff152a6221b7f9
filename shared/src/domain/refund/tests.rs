use super::*;
use crate::domain::fixtures;
use crate::domain::requests::RefundLine;
use proptest::prelude::*;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).map(|d| d.with_timezone(&Utc)).unwrap_or_else(|e| panic!("{e}"))
}

const NOW: &str = "2026-11-27T13:00:00Z";

fn id(s: &str) -> RequestId {
    RequestId::parse(s).unwrap_or_else(|e| panic!("{e}"))
}

fn m(s: &str) -> Money {
    Money::parse(s).unwrap_or_else(|e| panic!("{e}"))
}

/// Ship confirmed: line 1 two at 10.00, line 2 one at 5.50.
fn order() -> Order {
    let mut o = fixtures::order("COMPLETE", &[("1", 2), ("2", 1)], t("2026-11-26T10:00:00Z"));
    o.overstock.lines[0].item_price = Some(Decimal::new(1000, 2));
    o.overstock.lines[1].item_price = Some(Decimal::new(550, 2));
    o.local_status = LocalStatus::ShipConfirmed;
    o
}

/// The default company ceiling for shipping refunds.
fn limit() -> Money {
    crate::domain::settings::default_shipping_refund_limit()
}

#[test]
fn shipping_refunds_are_bounded_by_the_company_ceiling_over_every_refund_of_the_order() {
    let mut o = order();
    let with_shipping =
        |lines: &[(&str, &str)], s: &str| RefundRequest { shipping_amount: Some(m(s)), ..refund(lines) };
    let huge = o.refund(&id("r1"), &with_shipping(&[], "9999999.99"), limit(), None, t(NOW));
    let reason = huge.err().map(|r| r.0).unwrap_or_default();
    assert!(reason.contains("shipping refund above the company's limit") && reason.contains("100.00"), "{reason}");
    assert!(o.refunds.is_empty(), "nothing recorded");
    assert!(o.refund(&id("r2"), &with_shipping(&[("1", "1.00")], "60.00"), limit(), None, t(NOW)).is_ok());
    let over = o.refund(&id("r3"), &with_shipping(&[], "40.01"), limit(), None, t(NOW));
    assert!(over.err().is_some_and(|r| r.0.contains("60.00 already refunded")), "counted over the order's refunds");
    assert!(o.refund(&id("r4"), &with_shipping(&[], "40.00"), limit(), None, t(NOW)).is_ok(), "up to the ceiling");
    // A ceiling of 0: shipping is never refunded; lines still are.
    let mut o = order();
    assert!(o.refund(&id("r5"), &with_shipping(&[], "0.01"), Money::ZERO, None, t(NOW)).is_err());
    assert!(o.refund(&id("r6"), &refund(&[("1", "1.00")]), Money::ZERO, None, t(NOW)).is_ok());
}

fn refund(lines: &[(&str, &str)]) -> RefundRequest {
    RefundRequest {
        lines: lines.iter().map(|(l, a)| RefundLine { line: (*l).into(), amount: m(a), quantity: None }).collect(),
        shipping_amount: None,
        reason: "DAMAGED".into(),
        notes: None,
        returning: false,
    }
}

fn lq(line: &str, quantity: u32) -> LineQuantity {
    LineQuantity { line: line.into(), quantity }
}

#[test]
fn refunds_never_exceed_what_was_charged_per_line() {
    let mut o = order();
    assert!(matches!(
        o.refund(&id("r1"), &refund(&[("1", "15.00")]), limit(), Some("helpdesk"), t(NOW)),
        Ok(RefundOutcome::Refund { .. })
    ));
    let before = o.clone();
    assert_eq!(
        o.refund(&id("r2"), &refund(&[("1", "5.01")]), limit(), None, t(NOW)),
        Err(Refusal("line 1: refund above what was charged (20.00; 15.00 already refunded, 5.01 asked)".into()))
    );
    assert_eq!(o, before, "a refusal changes nothing");
    // Two entries for one line in one request count together.
    assert!(o.refund(&id("r3"), &refund(&[("1", "3.00"), ("1", "2.01")]), limit(), None, t(NOW)).is_err());
    assert!(o.refund(&id("r4"), &refund(&[("1", "5.00"), ("2", "5.50")]), limit(), None, t(NOW)).is_ok());
    assert_eq!((o.refunded("1"), o.refunded("2")), (Decimal::new(2000, 2), Decimal::new(550, 2)));
    assert!(o.refund(&id("r5"), &refund(&[("2", "0.01")]), limit(), None, t(NOW)).is_err());
}

#[test]
fn a_refund_overstock_rejected_frees_its_amount_and_payment_status_follows_accepted_ones() {
    let mut o = order();
    assert!(o.refund(&id("r1"), &refund(&[("1", "20.00")]), limit(), None, t(NOW)).is_ok());
    assert!(o.settle_refund(&id("r1"), Some("order on hold"), t(NOW)));
    assert_eq!(o.payment_status, PaymentStatus::Paid);
    assert!(
        o.refund(&id("r2"), &refund(&[("1", "20.00")]), limit(), None, t(NOW)).is_ok(),
        "the rejected one no longer counts"
    );
    assert!(o.settle_refund(&id("r2"), None, t(NOW)));
    assert_eq!(o.payment_status, PaymentStatus::PartiallyRefunded);
    assert!(o.refund(&id("r3"), &refund(&[("2", "5.50")]), limit(), None, t(NOW)).is_ok());
    assert!(o.settle_refund(&id("r3"), None, t(NOW)));
    assert_eq!(o.payment_status, PaymentStatus::Refunded);
    assert!(!o.settle_refund(&id("r3"), None, t(NOW)), "settled once");
}

#[test]
fn refunds_are_for_ship_confirmed_orders_and_not_for_returning_items() {
    let mut o = order();
    o.local_status = LocalStatus::Shipped;
    assert_eq!(
        o.refund(&id("r1"), &refund(&[("1", "1.00")]), limit(), None, t(NOW)),
        Err(Refusal(NOT_SHIP_CONFIRMED_ADVICE.into()))
    );
    let mut o = order();
    let mut returning = refund(&[("1", "1.00")]);
    returning.returning = true;
    assert_eq!(o.refund(&id("r1"), &returning, limit(), None, t(NOW)), Err(Refusal(RETURNING_ADVICE.into())));
    assert_eq!(
        o.refund(&id("r1"), &refund(&[("7", "1.00")]), limit(), None, t(NOW)),
        Err(Refusal("unknown line 7".into()))
    );
    o.overstock.lines[1].item_price = None;
    assert!(
        o.refund(&id("r1"), &refund(&[("2", "1.00")]), limit(), None, t(NOW)).is_err(),
        "no price, no cap: refused"
    );
    assert!(o.refund(&id("r1"), &refund(&[("1", "1.00")]), limit(), None, t(NOW)).is_ok());
    let after = o.clone();
    assert_eq!(
        o.refund(&id("r1"), &refund(&[("1", "1.00")]), limit(), None, t(NOW)),
        Ok(RefundOutcome::AlreadyApplied)
    );
    assert_eq!(o, after, "the same request twice refunds once");
}

#[test]
fn an_rma_refunds_what_was_received_through_the_same_cap() {
    let mut o = order();
    assert_eq!(
        o.open_rma(&id("o1"), &id("RMA-1"), &[lq("1", 2)], "CUSTOMER_RETURN", t(NOW)),
        Ok(RefundOutcome::Recorded)
    );
    assert_eq!(
        o.open_rma(&id("o1"), &id("RMA-1"), &[lq("1", 2)], "CUSTOMER_RETURN", t(NOW)),
        Ok(RefundOutcome::AlreadyApplied)
    );
    assert!(
        o.open_rma(&id("o2"), &id("RMA-2"), &[lq("1", 1)], "DAMAGED", t(NOW)).is_err(),
        "both units already expected back"
    );
    // One of two received: 10.00 refunded.
    assert_eq!(
        o.receive_rma(&id("g1"), &id("RMA-1"), &[lq("1", 1)], Some("warehouse"), t(NOW)),
        Ok(RefundOutcome::Refund { refund_id: id("RMA-1:g1"), total: m("10.00") })
    );
    assert_eq!(o.receive_rma(&id("g1"), &id("RMA-1"), &[lq("1", 1)], None, t(NOW)), Ok(RefundOutcome::AlreadyApplied));
    assert!(o.receive_rma(&id("g2"), &id("RMA-1"), &[lq("1", 2)], None, t(NOW)).is_err(), "more than expected back");
    // A plain refund meanwhile leaves 5.00 on the line: the second unit refunds only that.
    assert!(o.refund(&id("r1"), &refund(&[("1", "5.00")]), limit(), None, t(NOW)).is_ok());
    assert_eq!(
        o.receive_rma(&id("g3"), &id("RMA-1"), &[lq("1", 1)], None, t(NOW)),
        Ok(RefundOutcome::Refund { refund_id: id("RMA-1:g3"), total: m("5.00") })
    );
    assert_eq!(o.refunded("1"), Decimal::new(2000, 2));
    assert_eq!(o.close_rma(&id("RMA-1"), t(NOW)), Ok(RefundOutcome::Recorded));
    assert!(o.receive_rma(&id("g4"), &id("RMA-1"), &[lq("1", 1)], None, t(NOW)).is_err(), "closed");
    assert!(o.receive_rma(&id("g5"), &id("RMA-9"), &[lq("1", 1)], None, t(NOW)).is_err(), "unknown RMA");
}

#[derive(Debug, Clone)]
enum Step {
    Refund(u8, u32),
    Receive(u8, u32),
    Settle(usize, bool),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0u8..2, 0u32..2500).prop_map(|(l, c)| Step::Refund(l, c)),
        (0u8..2, 1u32..3).prop_map(|(l, q)| Step::Receive(l, q)),
        (0usize..20, any::<bool>()).prop_map(|(i, ok)| Step::Settle(i, ok)),
    ]
}

proptest! {
    /// Any sequence of refunds, RMA receipts and Overstock answers: per line, what is refunded
    /// or being refunded never exceeds what was charged, and what Overstock accepted neither.
    #[test]
    fn the_cap_holds_over_any_sequence(steps in proptest::collection::vec(step(), 1..40)) {
        let mut o = order();
        let lines = ["1", "2"];
        let _ = o.open_rma(&id("open"), &id("RMA-P"), &[lq("1", 2), lq("2", 1)], "CUSTOMER_RETURN", t(NOW));
        for (n, s) in steps.into_iter().enumerate() {
            let rid = id(&format!("s{n}"));
            match s {
                Step::Refund(l, cents) => {
                    let amount = Money::from_amount(Decimal::new(i64::from(cents), 2)).unwrap_or(Money::ZERO);
                    let req = RefundRequest { lines: vec![RefundLine { line: lines[l as usize].into(), amount, quantity: None }], shipping_amount: None, reason: "OTHER".into(), notes: None, returning: false };
                    let _ = o.refund(&rid, &req, limit(), None, t(NOW));
                }
                Step::Receive(l, q) => {
                    let _ = o.receive_rma(&rid, &id("RMA-P"), &[lq(lines[l as usize], q)], None, t(NOW));
                }
                Step::Settle(i, ok) => {
                    if let Some(r) = o.refunds.get(i).map(|r| r.refund_id.clone()) {
                        o.settle_refund(&r, (!ok).then_some("no"), t(NOW));
                    }
                }
            }
            for l in lines {
                let charged = o.charged(l).unwrap_or_default();
                prop_assert!(o.refunded(l) <= charged, "line {l}: {} > {charged}", o.refunded(l));
            }
        }
    }
}
