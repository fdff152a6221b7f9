//! "Does Overstock agree with us?" — the comparison of the orders stored here with Overstock's
//! list for the same creation period, as findings that name the order (and line) and what to do.
//! Pure: the caller reads both sides. Only two findings have a safe repair (`repairable`): an
//! order Overstock has that is not stored (store it), and a line confirmed here that Overstock
//! still shows open (send its confirmation again).

use super::order::{AckState, Order, OverstockStatus, SalesOrder};
use super::shipment::UploadState;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// What differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// Overstock lists the order; it is not stored here (a gap the download missed).
    MissingHere,
    /// Stored here; Overstock no longer lists it in its creation period.
    NotOnOverstock,
    /// Ship confirmed here (Overstock accepted the tracking); Overstock shows the line open.
    ConfirmedHereOpenThere,
    /// Overstock shows the line shipped; not confirmed here.
    ShippedThereNotHere,
    /// Acknowledged here; Overstock shows the order `ENTERED`.
    AcknowledgedHereEnteredThere,
    /// Overstock lists the order, its copy does not parse, and it is not stored here (it is set
    /// apart): an order the warehouse does not have.
    UnreadableThere,
    /// Overstock's answer for a creation second cannot be read at all: whatever orders it holds
    /// are not stored here (the `order_number` of the finding is the second).
    UnreadableSecondThere,
}

impl FindingKind {
    /// Orders Overstock has that are not stored here, readable or not: what the download missed
    /// (the reconciliation's alarm counts these).
    pub fn missing_here(self) -> bool {
        matches!(self, Self::MissingHere | Self::UnreadableThere | Self::UnreadableSecondThere)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub order_number: String,
    pub line: Option<String>,
    /// What to do about it.
    pub action: &'static str,
    /// `--repair` fixes it.
    pub repairable: bool,
}

const STORE_IT: &str = "store it (--repair), then it is acknowledged and shipped like any other";
const CHECK_OVERSTOCK: &str =
    "check the order on Supplier Oasis; nothing is changed here (it may have been removed or re-numbered)";
const RESEND: &str = "send the line's confirmation again (--repair marks it for the next upload)";
const RECORD_SHIPMENT: &str =
    "record the shipment here (overstockctl ship) if the warehouse shipped it; otherwise check Supplier Oasis";
const CHECK_ACK: &str = "check the order on Supplier Oasis; if it still waits, requeue its acknowledgement \
     (overstockctl orders requeue-ack) once someone has looked";

const UNREADABLE: &str = "it is set apart and read again every run (overstockctl quarantine list); if it stays, \
     ask Overstock to correct the order, or enter it in the warehouse by hand";
const UNREADABLE_SECOND: &str = "Overstock's answer for this second cannot be read: its orders are not stored here; \
     it is read again every run (overstockctl quarantine list); check Supplier Oasis for orders created then";

/// What Overstock lists that cannot be compared because it cannot be read: each order element
/// that does not parse and is not stored here, as (how it is shown: its order number, or the key
/// it is set apart under; its order number), and each creation second whose answer cannot be
/// read at all. Sorted.
pub fn unreadable_there(stored: &[Order], elements: &[(String, Option<String>)], seconds: &[String]) -> Vec<Finding> {
    let mut out: Vec<Finding> = elements
        .iter()
        .filter(|(_, number)| !number.as_ref().is_some_and(|n| stored.iter().any(|o| o.order_number.as_str() == n)))
        .map(|(key, _)| Finding {
            kind: FindingKind::UnreadableThere,
            order_number: key.clone(),
            line: None,
            action: UNREADABLE,
            repairable: false,
        })
        .chain(seconds.iter().map(|second| Finding {
            kind: FindingKind::UnreadableSecondThere,
            order_number: second.clone(),
            line: None,
            action: UNREADABLE_SECOND,
            repairable: false,
        }))
        .collect();
    out.sort_by(|a, b| (&a.order_number, a.kind).cmp(&(&b.order_number, b.kind)));
    out.dedup();
    out
}

/// Compares the stored orders created in `[from, to)` with Overstock's orders of the same period.
/// Orders created outside the period are ignored on both sides. Findings are sorted by order.
pub fn compare(stored: &[Order], overstock: &[SalesOrder], from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Finding> {
    let in_period = |t: Option<DateTime<Utc>>| t.is_some_and(|t| from <= t && t < to);
    let finding = |kind, order: &str, line: Option<&str>, action, repairable| Finding {
        kind,
        order_number: order.to_owned(),
        line: line.map(str::to_owned),
        action,
        repairable,
    };
    let mut out = Vec::new();
    for so in overstock.iter().filter(|so| in_period(so.sofs_created_date)) {
        let Some(o) = stored.iter().find(|o| o.order_number == so.order_number) else {
            out.push(finding(FindingKind::MissingHere, so.order_number.as_str(), None, STORE_IT, true));
            continue;
        };
        let cancelled_there = so.cancelled_lines();
        for line in &so.lines {
            let number = line.line_number.as_str();
            let confirmed_here = o.line_is_ship_confirmed(number);
            let shipped_there = line.shipped_on_overstock();
            if confirmed_here && !shipped_there && !cancelled_there.iter().any(|l| l == number) {
                out.push(finding(
                    FindingKind::ConfirmedHereOpenThere,
                    o.order_number.as_str(),
                    Some(number),
                    RESEND,
                    true,
                ));
            }
            if shipped_there && !confirmed_here {
                out.push(finding(
                    FindingKind::ShippedThereNotHere,
                    o.order_number.as_str(),
                    Some(number),
                    RECORD_SHIPMENT,
                    false,
                ));
            }
        }
        if matches!(o.ack, AckState::Acknowledged { .. }) && so.status == Some(OverstockStatus::Entered) {
            out.push(finding(
                FindingKind::AcknowledgedHereEnteredThere,
                o.order_number.as_str(),
                None,
                CHECK_ACK,
                false,
            ));
        }
    }
    for o in stored.iter().filter(|o| in_period(o.overstock.sofs_created_date)) {
        if !overstock.iter().any(|so| so.order_number == o.order_number) {
            out.push(finding(FindingKind::NotOnOverstock, o.order_number.as_str(), None, CHECK_OVERSTOCK, false));
        }
    }
    out.sort_by(|a, b| (&a.order_number, &a.line, a.kind).cmp(&(&b.order_number, &b.line, b.kind)));
    out
}

impl Order {
    /// The repair of a `ConfirmedHereOpenThere` finding: the line's accepted package lines are
    /// pending again, so the next upload sends their confirmations (exactly once, as any other).
    /// True when it changed.
    pub fn remark_for_upload(&mut self, line: &str, now: DateTime<Utc>) -> bool {
        let mut changed = false;
        for pl in self.shipments.iter_mut().flat_map(|p| p.lines.iter_mut()) {
            if pl.line_number == line && matches!(pl.upload, UploadState::Accepted { .. }) {
                pl.upload = UploadState::Pending;
                pl.attempts = 0;
                changed = true;
            }
        }
        if changed {
            self.refresh_ship_confirmation();
            self.updated_at = now;
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::{next_day_mapping, order, sales_order};
    use crate::domain::shipment::{PackageLineRef, SendOutcome, ShipmentRequest};
    use crate::domain::{OrderNumber, order::LocalStatus};

    fn t(h: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_795_000_000 + h * 3600, 0).unwrap_or_default()
    }

    fn so(n: &str, status: &str, created: DateTime<Utc>) -> SalesOrder {
        let mut so = sales_order(status, "NEXT_DAY", &[("1", 1)]);
        so.order_number = OrderNumber::parse(n).unwrap_or_else(|e| panic!("{e}"));
        so.sofs_created_date = Some(created);
        so
    }

    fn stored(view: &SalesOrder) -> Order {
        let mut o = order("ACKNOWLEDGED", &[("1", 1)], t(0));
        o.order_number = view.order_number.clone();
        o.overstock = view.clone();
        o
    }

    /// Line 1 recorded shipped in one package at t(1).
    fn recorded(o: &mut Order) {
        let req = ShipmentRequest {
            lines: vec![("1".into(), 1)],
            carrier_code: None,
            shipping_method: None,
            tracking_number: "1Z".into(),
            ship_date: t(1),
        };
        o.record_shipment(&req, &next_day_mapping("UPS"), t(1)).unwrap_or_else(|e| panic!("{e}"));
    }

    fn confirmed(mut o: Order) -> Order {
        recorded(&mut o);
        let r = PackageLineRef { package: 0, line: 0 };
        assert!(o.begin_sending(&[r], t(1)));
        o.apply_upload_answer(r, SendOutcome::Accepted, 5, t(1));
        o
    }

    /// A shipment held by the tracking hold is recorded here, not confirmed, and open on
    /// Overstock: no difference (it is waiting for its time, not drifting).
    #[test]
    fn a_held_shipment_is_not_drift() {
        let view = so("H-1", "ACKNOWLEDGED", t(1));
        let mut o = stored(&view);
        recorded(&mut o);
        o.shipments[0].send_after = Some(t(3));
        assert!(o.shipments[0].is_held(t(2)));
        assert_eq!(compare(&[o], &[view], t(0), t(4)), []);
    }

    #[test]
    fn each_kind_of_drift_is_found_and_only_the_safe_ones_are_repairable() {
        let agree = so("A-1", "ACKNOWLEDGED", t(1));
        let missing = so("A-2", "ENTERED", t(1));
        let mut open_there = so("A-3", "ACKNOWLEDGED", t(2));
        open_there.lines[0].line_status = None;
        let mut shipped_there = so("A-4", "COMPLETE", t(2));
        shipped_there.lines[0].line_status = Some("SHIPPED".into());
        let entered = so("A-5", "ENTERED", t(3));
        let gone = so("A-6", "ACKNOWLEDGED", t(3));
        let outside = so("A-7", "ACKNOWLEDGED", t(30));

        let mut acked = stored(&entered);
        acked.ack = AckState::Acknowledged { at: t(3), sent: true };
        let here = vec![
            stored(&agree),
            confirmed(stored(&open_there)),
            stored(&shipped_there),
            acked,
            stored(&gone),
            stored(&outside),
        ];
        let there = vec![agree, missing, open_there, shipped_there, entered];
        let found = compare(&here, &there, t(0), t(24));
        let kinds: Vec<(&str, FindingKind, bool)> =
            found.iter().map(|f| (f.order_number.as_str(), f.kind, f.repairable)).collect();
        assert_eq!(
            kinds,
            [
                ("A-2", FindingKind::MissingHere, true),
                ("A-3", FindingKind::ConfirmedHereOpenThere, true),
                ("A-4", FindingKind::ShippedThereNotHere, false),
                ("A-5", FindingKind::AcknowledgedHereEnteredThere, false),
                ("A-6", FindingKind::NotOnOverstock, false),
            ]
        );
        assert!(found.iter().all(|f| !f.action.is_empty()));
    }

    #[test]
    fn a_line_remarked_for_upload_is_pending_again() {
        let view = so("A-3", "ACKNOWLEDGED", t(2));
        let mut o = confirmed(stored(&view));
        assert_eq!(o.local_status, LocalStatus::ShipConfirmed);
        assert!(o.remark_for_upload("1", t(5)));
        assert_eq!(o.shipments[0].lines[0].upload, UploadState::Pending);
        assert!(o.has_upload_work());
        assert!(!o.remark_for_upload("1", t(6)), "nothing accepted left to re-mark");
    }
}
