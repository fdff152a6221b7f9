//! `POST /inventory` and `GET /inventory` (section 4.2 of the API doc), **provisional**: the
//! wire format is the project's own until Overstock's XSD is available; this module is the one to
//! replace. A rejected element is named by `<partnerSKU>` in the error body (the project's
//! decision: an inventory element has no order).

use super::client::{NAMESPACE, XML_DECLARATION, xml_text};
use super::xml::{ParseError, root_name, without_bom};
use crate::domain::inventory::{Backorder, InventoryValue, Sku};
use chrono::NaiveDate;
use serde::Deserialize;

pub const INVENTORY_PATH: &str = "/inventory";
/// At most this many `supplierInventory` elements per message.
pub const MAX_ELEMENTS: usize = 500;

/// One `supplierInventory`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryElement {
    pub sku: Sku,
    pub warehouse_code: String,
    pub value: InventoryValue,
}

impl InventoryElement {
    /// The element as the audit trail records it.
    pub fn audited(&self) -> crate::audit::Element {
        crate::audit::Element {
            order: String::new(),
            line: None,
            request_id: None,
            sku: Some(self.sku.to_string()),
            what: format!("{} (warehouse {})", self.value, self.warehouse_code),
        }
    }
}

/// Builds `supplierInventoryMessage`, children in the documented order.
pub fn inventory_message(items: &[InventoryElement]) -> String {
    let mut s = format!("{XML_DECLARATION}\n<supplierInventoryMessage xmlns=\"{NAMESPACE}\">");
    for i in items {
        s.push_str(&format!(
            "<supplierInventory><partnerSKU>{}</partnerSKU><warehouse><code>{}</code></warehouse><quantity>{}</quantity>",
            xml_text(i.sku.as_str()),
            xml_text(&i.warehouse_code),
            i.value.quantity
        ));
        if let Some(b) = &i.value.backorder {
            s.push_str(&format!("<backorder><quantityOnOrder>{}</quantityOnOrder>", b.quantity_on_order));
            if let Some(d) = b.expected {
                s.push_str(&format!("<expectedAvailableDate>{}</expectedAvailableDate>", d.format("%Y-%m-%d")));
            }
            s.push_str("</backorder>");
        }
        s.push_str("</supplierInventory>");
    }
    s.push_str("</supplierInventoryMessage>");
    s
}

/// What `GET /inventory` says Overstock holds for one SKU; an element that does not read is kept
/// with its reason (it differs from anything we sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeldElement {
    Read(InventoryElement),
    Unreadable { sku: String, reason: String },
}

/// Parses `<supplierInventoryList>`.
pub fn parse_inventory_list(body: &str) -> Result<Vec<HeldElement>, ParseError> {
    #[derive(Deserialize)]
    struct List {
        #[serde(rename = "supplierInventory", default)]
        items: Vec<WireItem>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct WireItem {
        #[serde(rename = "partnerSKU")]
        partner_sku: Option<String>,
        warehouse: Option<WireCode>,
        quantity: Option<String>,
        backorder: Option<WireBackorder>,
    }
    #[derive(Deserialize)]
    struct WireCode {
        code: Option<String>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct WireBackorder {
        quantity_on_order: Option<String>,
        expected_available_date: Option<String>,
    }
    let body = without_bom(body);
    let root = root_name(body)?;
    if root != "supplierInventoryList" {
        return Err(ParseError(format!("unexpected root element <{root}>")));
    }
    let list: List = quick_xml::de::from_str(body).map_err(|e| ParseError(format!("supplierInventoryList: {e}")))?;
    let read = |w: WireItem| -> HeldElement {
        let raw_sku = w.partner_sku.clone().unwrap_or_default();
        let element = || -> Result<InventoryElement, String> {
            let sku = Sku::parse(&raw_sku).map_err(|e| e.to_string())?;
            let q = w.quantity.as_deref().unwrap_or("").trim();
            let quantity: u32 = q.parse().map_err(|_| format!("quantity {q:?} is not a count"))?;
            let backorder = match w.backorder {
                None => None,
                Some(b) => {
                    let qo = b.quantity_on_order.as_deref().unwrap_or("").trim().to_owned();
                    let quantity_on_order: u32 =
                        qo.parse().map_err(|_| format!("quantityOnOrder {qo:?} is not a count"))?;
                    let expected = match b.expected_available_date.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
                        None => None,
                        Some(d) => Some(
                            NaiveDate::parse_from_str(d, "%Y-%m-%d")
                                .map_err(|_| format!("expectedAvailableDate {d:?} is not YYYY-MM-DD"))?,
                        ),
                    };
                    Some(Backorder { quantity_on_order, expected })
                }
            };
            let warehouse_code = w.warehouse.and_then(|c| c.code).unwrap_or_default().trim().to_owned();
            Ok(InventoryElement { sku, warehouse_code, value: InventoryValue { quantity, backorder } })
        };
        match element() {
            Ok(e) => HeldElement::Read(e),
            Err(reason) => HeldElement::Unreadable { sku: raw_sku.chars().take(100).collect(), reason },
        }
    };
    Ok(list.items.into_iter().map(read).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_else(|e| panic!("{e}"))
    }

    fn sku(s: &str) -> Sku {
        Sku::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn message_shape_with_and_without_backorder() {
        let m = inventory_message(&[
            InventoryElement {
                sku: sku("ACME-CHAIR-BLK"),
                warehouse_code: "ACME MAIN".into(),
                value: InventoryValue {
                    quantity: 0,
                    backorder: Some(Backorder { quantity_on_order: 40, expected: Some(d("2027-01-15")) }),
                },
            },
            InventoryElement {
                sku: sku("A&B"),
                warehouse_code: "ACME MAIN".into(),
                value: InventoryValue { quantity: 3, backorder: None },
            },
            InventoryElement {
                sku: sku("C"),
                warehouse_code: "ACME MAIN".into(),
                value: InventoryValue {
                    quantity: 0,
                    backorder: Some(Backorder { quantity_on_order: 0, expected: None }),
                },
            },
        ]);
        assert!(m.starts_with(XML_DECLARATION));
        assert!(m.contains("<supplierInventory><partnerSKU>ACME-CHAIR-BLK</partnerSKU><warehouse><code>ACME MAIN</code></warehouse><quantity>0</quantity><backorder><quantityOnOrder>40</quantityOnOrder><expectedAvailableDate>2027-01-15</expectedAvailableDate></backorder></supplierInventory>"), "{m}");
        assert!(m.contains("<partnerSKU>A&amp;B</partnerSKU><warehouse><code>ACME MAIN</code></warehouse><quantity>3</quantity></supplierInventory>"), "{m}");
        assert!(m.contains("<backorder><quantityOnOrder>0</quantityOnOrder></backorder>"), "{m}");
    }

    #[test]
    fn the_list_reads_back_and_a_bad_element_is_kept_with_its_reason() {
        let body = r#"<?xml version="1.0"?><supplierInventoryList xmlns="api.supplieroasis.com">
<supplierInventory><partnerSKU>A</partnerSKU><warehouse><code>W</code></warehouse><quantity>2</quantity></supplierInventory>
<supplierInventory><partnerSKU>B</partnerSKU><warehouse><code>W</code></warehouse><quantity>0</quantity><backorder><quantityOnOrder>5</quantityOnOrder><expectedAvailableDate>2027-01-01</expectedAvailableDate></backorder></supplierInventory>
<supplierInventory><partnerSKU>C</partnerSKU><warehouse><code>W</code></warehouse><quantity>-1</quantity></supplierInventory>
</supplierInventoryList>"#;
        let held = parse_inventory_list(body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(held.len(), 3);
        assert!(matches!(&held[0], HeldElement::Read(e) if e.value.digest() == "q=2"));
        assert!(matches!(&held[1], HeldElement::Read(e) if e.value.digest() == "q=0;bo=5@2027-01-01"));
        assert!(matches!(&held[2], HeldElement::Unreadable { sku, reason } if sku == "C" && reason.contains("-1")));
        assert!(parse_inventory_list("<?xml version=\"1.0\"?><errorResponse/>").is_err());
    }
}
