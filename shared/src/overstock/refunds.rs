//! `POST /refunds` (section 4.3 of the API doc), **provisional**: the wire format is the
//! project's own until Overstock's XSD is available; this module is the one to replace.
//! The refund id is the sender's; Overstock answers a repeat with the same id as the first, so
//! an interrupted send is resent with the same id, never a new one.

use super::client::{NAMESPACE, XML_DECLARATION, xml_text};
use crate::domain::requests::Money;

pub const REFUNDS_PATH: &str = "/refunds";

/// One line of a refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundLineItem {
    pub line_number: String,
    pub quantity: Option<u32>,
    pub amount: Money,
}

/// One `supplierRefund`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundItem {
    pub refund_id: String,
    pub sales_channel_name: String,
    pub order_number: String,
    pub reason_code: String,
    pub lines: Vec<RefundLineItem>,
    pub shipping_amount: Option<Money>,
    pub notes: Option<String>,
}

impl RefundItem {
    /// The refund as the audit trail records it: lines and amounts; the notes' text never (free
    /// text from another system may hold a name).
    pub fn audited(&self) -> crate::audit::Element {
        let lines: Vec<String> = self
            .lines
            .iter()
            .map(|l| match l.quantity {
                Some(q) => format!("line {} x{q} {} USD", l.line_number, l.amount),
                None => format!("line {} {} USD", l.line_number, l.amount),
            })
            .collect();
        let mut what = format!("refund {} (reason {})", lines.join(", "), self.reason_code);
        if let Some(a) = self.shipping_amount {
            what.push_str(&format!(", shipping {a} USD"));
        }
        if self.notes.as_deref().is_some_and(|n| !n.is_empty()) {
            what.push_str(", with notes");
        }
        crate::audit::Element {
            order: self.order_number.clone(),
            line: None,
            request_id: Some(self.refund_id.clone()),
            sku: None,
            what: crate::audit::clip(&what),
        }
    }
}

/// Builds `supplierRefundMessage`, children in the documented order, amounts in USD.
pub fn refund_message(items: &[RefundItem]) -> String {
    let mut s = format!("{XML_DECLARATION}\n<supplierRefundMessage xmlns=\"{NAMESPACE}\">");
    for r in items {
        s.push_str(&format!(
            "<supplierRefund><refundId>{}</refundId><salesChannelName>{}</salesChannelName>\
<salesChannelOrderNumber>{}</salesChannelOrderNumber><reason><code>{}</code></reason>",
            xml_text(&r.refund_id),
            xml_text(&r.sales_channel_name),
            xml_text(&r.order_number),
            xml_text(&r.reason_code),
        ));
        for l in &r.lines {
            s.push_str(&format!("<line><salesChannelLineNumber>{}</salesChannelLineNumber>", xml_text(&l.line_number)));
            if let Some(q) = l.quantity {
                s.push_str(&format!("<quantity>{q}</quantity>"));
            }
            s.push_str(&format!("<amount currencyCode=\"USD\">{}</amount></line>", l.amount));
        }
        if let Some(a) = r.shipping_amount {
            s.push_str(&format!("<shippingAmount currencyCode=\"USD\">{a}</shippingAmount>"));
        }
        if let Some(n) = r.notes.as_deref().filter(|n| !n.is_empty()) {
            s.push_str(&format!("<notes>{}</notes>", xml_text(n)));
        }
        s.push_str("</supplierRefund>");
    }
    s.push_str("</supplierRefundMessage>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refund_message_shape() {
        let m = refund_message(&[RefundItem {
            refund_id: "r-1".into(),
            sales_channel_name: "OSTK".into(),
            order_number: "OSTK-1".into(),
            reason_code: "DAMAGED".into(),
            lines: vec![RefundLineItem {
                line_number: "1".into(),
                quantity: Some(1),
                amount: Money::parse("44.9").unwrap_or_else(|e| panic!("{e}")),
            }],
            shipping_amount: Some(Money::ZERO),
            notes: Some("a <broken> leg".into()),
        }]);
        assert!(m.starts_with(XML_DECLARATION));
        assert!(m.contains(
            "<refundId>r-1</refundId><salesChannelName>OSTK</salesChannelName><salesChannelOrderNumber>OSTK-1</salesChannelOrderNumber><reason><code>DAMAGED</code></reason>"
        ));
        assert!(m.contains("<quantity>1</quantity><amount currencyCode=\"USD\">44.90</amount></line>"), "{m}");
        assert!(
            m.contains("<shippingAmount currencyCode=\"USD\">0.00</shippingAmount><notes>a &lt;broken&gt; leg</notes>"),
            "{m}"
        );
    }
}
