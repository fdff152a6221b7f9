//! Operations whose wire format is not public (section 4 of the API doc). The project defines
//! these shapes; when a supplier obtains Overstock's XSD, this module is the one to replace.

use super::client::{NAMESPACE, XML_DECLARATION, xml_text};
use crate::domain::OrderNumber;

pub const ACKNOWLEDGEMENTS_PATH: &str = "/acknowledgements";

/// One element of `supplierAcknowledgementMessage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acknowledgement {
    pub sales_channel_name: String,
    pub order_number: OrderNumber,
    pub accepted: bool,
}

impl Acknowledgement {
    /// The element as the audit trail records it.
    pub fn audited(&self) -> crate::audit::Element {
        crate::audit::Element {
            order: self.order_number.to_string(),
            line: None,
            request_id: None,
            sku: None,
            what: format!("acknowledge {}", if self.accepted { "ACCEPTED" } else { "REJECTED" }),
        }
    }
}

/// Builds `supplierAcknowledgementMessage` (4.1), one element per order.
pub fn acknowledgement_message(acks: &[Acknowledgement]) -> String {
    let mut s = format!("{XML_DECLARATION}\n<supplierAcknowledgementMessage xmlns=\"{NAMESPACE}\">");
    for a in acks {
        s.push_str(&format!(
            "<supplierAcknowledgement><salesChannelName>{}</salesChannelName><salesChannelOrderNumber>{}</salesChannelOrderNumber><status>{}</status></supplierAcknowledgement>",
            xml_text(&a.sales_channel_name),
            xml_text(a.order_number.as_str()),
            if a.accepted { "ACCEPTED" } else { "REJECTED" }
        ));
    }
    s.push_str("</supplierAcknowledgementMessage>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acknowledgement_message_shape() {
        let ack = Acknowledgement {
            sales_channel_name: "OSTK".into(),
            order_number: OrderNumber::parse("OSTK-1&2").unwrap_or_else(|e| panic!("{e}")),
            accepted: true,
        };
        let m = acknowledgement_message(&[ack]);
        assert!(m.starts_with(XML_DECLARATION));
        assert!(m.contains(r#"<supplierAcknowledgementMessage xmlns="api.supplieroasis.com">"#));
        assert!(m.contains("<salesChannelOrderNumber>OSTK-1&amp;2</salesChannelOrderNumber><status>ACCEPTED</status>"));
    }
}
