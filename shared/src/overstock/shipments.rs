//! `POST /shipments` (confirmed format, section 3 of the API doc): ship confirmations.

use super::client::{NAMESPACE, XML_DECLARATION, xml_text};
use chrono::{DateTime, Utc};
use chrono_tz::America::Denver;

pub const SHIPMENTS_PATH: &str = "/shipments";

/// One `supplierShipment` with a ship confirmation: one line of one package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipConfirmation {
    pub sales_channel_name: String,
    pub order_number: String,
    pub line_number: String,
    pub warehouse_code: String,
    pub quantity: u32,
    pub carrier_code: String,
    pub tracking_number: String,
    pub ship_date: DateTime<Utc>,
    pub service_level_code: String,
}

/// One `supplierShipment` with a short ship: the open quantity of a line is cancelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShortShipItem {
    pub sales_channel_name: String,
    pub order_number: String,
    pub line_number: String,
    pub warehouse_code: String,
    /// A short-ship reason code.
    pub reason_code: String,
}

/// One element of a shipment message: a ship confirmation or a short ship, never both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShipmentElement {
    Confirmation(ShipConfirmation),
    ShortShip(ShortShipItem),
}

impl ShipmentElement {
    pub fn order_number(&self) -> &str {
        match self {
            Self::Confirmation(c) => &c.order_number,
            Self::ShortShip(s) => &s.order_number,
        }
    }

    pub fn line_number(&self) -> &str {
        match self {
            Self::Confirmation(c) => &c.line_number,
            Self::ShortShip(s) => &s.line_number,
        }
    }
}

impl ShipmentElement {
    /// The dry-run flow it belongs to: a confirmation is the upload, a short ship a cancellation.
    pub fn flow(&self) -> crate::domain::dry_run::Flow {
        match self {
            Self::Confirmation(_) => crate::domain::dry_run::Flow::Upload,
            Self::ShortShip(_) => crate::domain::dry_run::Flow::Cancel,
        }
    }

    /// The element as the audit trail records it.
    pub fn audited(&self) -> crate::audit::Element {
        let what = match self {
            Self::Confirmation(c) => format!(
                "ship {} via {} tracking {} on {} (service {}, warehouse {})",
                c.quantity,
                c.carrier_code,
                c.tracking_number,
                denver_timestamp(c.ship_date),
                c.service_level_code,
                c.warehouse_code
            ),
            Self::ShortShip(s) => format!("short ship (reason {}, warehouse {})", s.reason_code, s.warehouse_code),
        };
        crate::audit::Element {
            order: self.order_number().to_owned(),
            line: Some(self.line_number().to_owned()),
            request_id: None,
            sku: None,
            what: crate::audit::clip(&what),
        }
    }
}

impl From<ShipConfirmation> for ShipmentElement {
    fn from(c: ShipConfirmation) -> Self {
        Self::Confirmation(c)
    }
}

/// Overstock local time with its offset: `2026-11-26T15:16:14.000-07:00`.
pub fn denver_timestamp(t: DateTime<Utc>) -> String {
    t.with_timezone(&Denver).format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string()
}

/// Builds `supplierShipmentMessage`, children in the documented order.
pub fn shipment_message(items: &[ShipmentElement]) -> String {
    let mut s = format!("{XML_DECLARATION}\n<supplierShipmentMessage xmlns=\"{NAMESPACE}\">");
    for item in items {
        let (name, order, line, warehouse) = match item {
            ShipmentElement::Confirmation(i) => {
                (&i.sales_channel_name, &i.order_number, &i.line_number, &i.warehouse_code)
            }
            ShipmentElement::ShortShip(i) => {
                (&i.sales_channel_name, &i.order_number, &i.line_number, &i.warehouse_code)
            }
        };
        s.push_str(&format!(
            "<supplierShipment><salesChannelName>{}</salesChannelName><salesChannelOrderNumber>{}</salesChannelOrderNumber>\
<salesChannelLineNumber>{}</salesChannelLineNumber><warehouse><code>{}</code></warehouse>",
            xml_text(name),
            xml_text(order),
            xml_text(line),
            xml_text(warehouse),
        ));
        match item {
            ShipmentElement::Confirmation(i) => s.push_str(&format!(
                "<supplierShipConfirmation><quantity>{}</quantity><carrier><code>{}</code></carrier><trackingNumber>{}</trackingNumber>\
<shipDate>{}</shipDate><serviceLevel><code>{}</code></serviceLevel></supplierShipConfirmation>",
                i.quantity,
                xml_text(&i.carrier_code),
                xml_text(&i.tracking_number),
                denver_timestamp(i.ship_date),
                xml_text(&i.service_level_code),
            )),
            ShipmentElement::ShortShip(i) => {
                s.push_str(&format!("<shortShip><reasonCode><code>{}</code></reasonCode></shortShip>", xml_text(&i.reason_code)))
            }
        }
        s.push_str("</supplierShipment>");
    }
    s.push_str("</supplierShipmentMessage>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|d| d.with_timezone(&Utc)).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn ship_dates_carry_the_denver_offset_on_both_sides_of_dst() {
        // DST ends 2026-11-01 at 02:00 MDT (08:00Z).
        assert_eq!(denver_timestamp(t("2026-11-01T07:59:59Z")), "2026-11-01T01:59:59.000-06:00");
        assert_eq!(denver_timestamp(t("2026-11-01T08:00:00Z")), "2026-11-01T01:00:00.000-07:00");
        // DST starts 2026-03-08 at 02:00 MST (09:00Z).
        assert_eq!(denver_timestamp(t("2026-03-08T08:59:59Z")), "2026-03-08T01:59:59.000-07:00");
        assert_eq!(denver_timestamp(t("2026-03-08T09:00:00Z")), "2026-03-08T03:00:00.000-06:00");
    }

    #[test]
    fn message_shape() {
        let m = shipment_message(&[ShipmentElement::Confirmation(ShipConfirmation {
            sales_channel_name: "OSTK".into(),
            order_number: "OSTK-1".into(),
            line_number: "1".into(),
            warehouse_code: "ACME MAIN".into(),
            quantity: 2,
            carrier_code: "UPS".into(),
            tracking_number: "1Z999".into(),
            ship_date: t("2026-11-26T22:16:14Z"),
            service_level_code: "NEXT_DAY".into(),
        })]);
        assert!(m.starts_with(XML_DECLARATION));
        assert!(m.contains(
            "<salesChannelLineNumber>1</salesChannelLineNumber><warehouse><code>ACME MAIN</code></warehouse>"
        ));
        assert!(m.contains(
            "<shipDate>2026-11-26T15:16:14.000-07:00</shipDate><serviceLevel><code>NEXT_DAY</code></serviceLevel>"
        ));
        let short = shipment_message(&[ShipmentElement::ShortShip(ShortShipItem {
            sales_channel_name: "OSTK".into(),
            order_number: "OSTK-1".into(),
            line_number: "2".into(),
            warehouse_code: "ACME MAIN".into(),
            reason_code: "OUT_OF_STOCK".into(),
        })]);
        assert!(short.contains(
            "<salesChannelLineNumber>2</salesChannelLineNumber><warehouse><code>ACME MAIN</code></warehouse><shortShip><reasonCode><code>OUT_OF_STOCK</code></reasonCode></shortShip></supplierShipment>"
        ), "{short}");
    }
}
