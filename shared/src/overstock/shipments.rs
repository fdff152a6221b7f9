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

/// Overstock local time with its offset: `2026-11-26T15:16:14.000-07:00`.
pub fn denver_timestamp(t: DateTime<Utc>) -> String {
    t.with_timezone(&Denver).format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string()
}

/// Builds `supplierShipmentMessage`, children in the documented order.
pub fn shipment_message(items: &[ShipConfirmation]) -> String {
    let mut s = format!("{XML_DECLARATION}\n<supplierShipmentMessage xmlns=\"{NAMESPACE}\">");
    for i in items {
        s.push_str(&format!(
            "<supplierShipment><salesChannelName>{}</salesChannelName><salesChannelOrderNumber>{}</salesChannelOrderNumber>\
<salesChannelLineNumber>{}</salesChannelLineNumber><warehouse><code>{}</code></warehouse><supplierShipConfirmation>\
<quantity>{}</quantity><carrier><code>{}</code></carrier><trackingNumber>{}</trackingNumber><shipDate>{}</shipDate>\
<serviceLevel><code>{}</code></serviceLevel></supplierShipConfirmation></supplierShipment>",
            xml_text(&i.sales_channel_name),
            xml_text(&i.order_number),
            xml_text(&i.line_number),
            xml_text(&i.warehouse_code),
            i.quantity,
            xml_text(&i.carrier_code),
            xml_text(&i.tracking_number),
            denver_timestamp(i.ship_date),
            xml_text(&i.service_level_code),
        ));
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
        let m = shipment_message(&[ShipConfirmation {
            sales_channel_name: "OSTK".into(),
            order_number: "OSTK-1".into(),
            line_number: "1".into(),
            warehouse_code: "ACME MAIN".into(),
            quantity: 2,
            carrier_code: "UPS".into(),
            tracking_number: "1Z999".into(),
            ship_date: t("2026-11-26T22:16:14Z"),
            service_level_code: "NEXT_DAY".into(),
        }]);
        assert!(m.starts_with(XML_DECLARATION));
        assert!(m.contains(
            "<salesChannelLineNumber>1</salesChannelLineNumber><warehouse><code>ACME MAIN</code></warehouse>"
        ));
        assert!(m.contains(
            "<shipDate>2026-11-26T15:16:14.000-07:00</shipDate><serviceLevel><code>NEXT_DAY</code></serviceLevel>"
        ));
    }
}
