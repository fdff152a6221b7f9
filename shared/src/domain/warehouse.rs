//! An order as the seller's warehouse needs it: what to ship, to whom, how and by when. One
//! view, whatever carries it (`overstockctl orders export` now; the order feed next). The ship-to
//! address is customer data: it is in this view because the warehouse ships to it, and goes
//! nowhere else (no log, no metric, no audit record).
//!
//! An order stored without a mapping for its shipping code is in the view (the warehouse must
//! know it exists) with `unmapped: true` and no shipping method: it must not be shipped by a
//! guessed method; once a mapping exists the order carries it.

use super::order::{Address, LocalStatus, Order};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

/// One order for the warehouse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WarehouseOrder {
    pub company_id: String,
    pub order_number: String,
    /// Overstock's creation time of the order (`sofsCreatedDate`) and when the customer placed it.
    pub created: Option<DateTime<Utc>>,
    pub order_date: Option<DateTime<Utc>>,
    /// When it must have left the warehouse.
    pub ship_by: Option<DateTime<Utc>>,
    /// `in_process`, `acknowledged`, `shipped`, `ship_confirmed`, `completed`,
    /// `partially_cancelled`, `cancelled`.
    pub status: &'static str,
    /// Overstock's shipping code, the seller's shipping method mapped from it and the carrier
    /// code sent back; `None` (and `unmapped`) while no mapping exists.
    pub service_level_code: Option<String>,
    pub shipping_method: Option<String>,
    pub code_to_send: Option<String>,
    pub unmapped: bool,
    pub rush: bool,
    /// Overstock's warehouse name on the order.
    pub warehouse: Option<String>,
    pub ship_to: Option<Address>,
    pub lines: Vec<WarehouseLine>,
}

/// One line of the order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WarehouseLine {
    pub line: String,
    pub partner_sku: Option<String>,
    pub item_name: Option<String>,
    pub quantity: u32,
    /// Units not yet in any recorded package (0 for a cancelled line).
    pub open_quantity: u32,
    pub cancelled: bool,
    /// Price per unit, exact decimal (as a string).
    #[serde(with = "rust_decimal::serde::str_option")]
    pub item_price: Option<Decimal>,
}

fn status(s: LocalStatus) -> &'static str {
    match s {
        LocalStatus::InProcess => "in_process",
        LocalStatus::Acknowledged => "acknowledged",
        LocalStatus::Shipped => "shipped",
        LocalStatus::ShipConfirmed => "ship_confirmed",
        LocalStatus::Completed => "completed",
        LocalStatus::PartiallyCancelled => "partially_cancelled",
        LocalStatus::Cancelled => "cancelled",
    }
}

impl WarehouseOrder {
    pub fn of(o: &Order) -> Self {
        let lines = o
            .overstock
            .lines
            .iter()
            .map(|l| {
                let cancelled = o.line_is_cancelled(&l.line_number);
                WarehouseLine {
                    line: l.line_number.clone(),
                    partner_sku: l.partner_sku.clone(),
                    item_name: l.item_name.clone(),
                    quantity: l.quantity,
                    open_quantity: if cancelled { 0 } else { o.open_quantity(&l.line_number).unwrap_or(0) },
                    cancelled,
                    item_price: l.item_price,
                }
            })
            .collect();
        Self {
            company_id: o.company_id.to_string(),
            order_number: o.order_number.to_string(),
            created: o.overstock.sofs_created_date,
            order_date: o.overstock.order_date,
            ship_by: o.ship_by,
            status: status(o.local_status),
            service_level_code: o.overstock.service_level_code().map(|c| c.as_str().to_owned()),
            // An unmapped order carries no method at all, not even one it had before.
            shipping_method: o.shipping.as_ref().filter(|_| !o.is_unmapped()).map(|s| s.shipping_method.clone()),
            code_to_send: o.shipping.as_ref().filter(|_| !o.is_unmapped()).map(|s| s.code_to_send.clone()),
            unmapped: o.is_unmapped(),
            rush: o.rush,
            warehouse: o.overstock.warehouse_code.clone(),
            ship_to: o.overstock.ship_to.clone(),
            lines,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|d| d.to_utc()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_view_says_what_to_ship_how_and_whether_it_may_be_shipped_yet() {
        let mut o = fixtures::order("ACKNOWLEDGED", &[("1", 3), ("2", 1)], t("2026-11-26T10:00:00Z"));
        let mappings = fixtures::next_day_mapping("UPS Next Day Air");
        assert!(!o.is_unmapped(), "mapped by the fixture's code");
        let req = crate::domain::shipment::ShipmentRequest {
            lines: vec![("1".into(), 2)],
            carrier_code: None,
            shipping_method: None,
            tracking_number: "1Z1".into(),
            ship_date: t("2026-11-26T12:00:00Z"),
        };
        o.record_shipment(&req, &mappings, t("2026-11-26T13:00:00Z")).map(|_| ()).unwrap_or_else(|e| panic!("{e}"));
        let v = WarehouseOrder::of(&o);
        assert_eq!(
            (v.unmapped, v.shipping_method.as_deref(), v.code_to_send.as_deref()),
            (false, Some("UPS Next Day Air"), Some("UPS"))
        );
        assert_eq!(
            v.lines.iter().map(|l| (l.line.as_str(), l.quantity, l.open_quantity)).collect::<Vec<_>>(),
            [("1", 3, 1), ("2", 1, 1)]
        );
        assert_eq!(v.status, "shipped");
        let json = serde_json::to_value(&v).unwrap_or_default();
        assert_eq!(json["lines"][0]["item_price"], "10.00", "exact decimal as a string");
        // Without a mapping: in the view, flagged, no method to ship by.
        let mut u = fixtures::order("ACKNOWLEDGED", &[("1", 1)], t("2026-11-26T10:00:00Z"));
        assert!(u.apply_mapping(&crate::domain::mapping::MappingTable::new(Vec::new())), "the mapping is gone");
        let v = WarehouseOrder::of(&u);
        assert!(v.unmapped && v.shipping_method.is_none() && v.code_to_send.is_none(), "{v:?}");
    }
}
