//! Rendering of responses as text (format strings, not the client's serializer).

use crate::model::{Address, Inventory, Order, Shape};
use chrono::{DateTime, Utc};
use chrono_tz::America::Denver;

pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c => o.push(c),
        }
    }
    o
}

/// `2026-11-26T09:01:02.000-07:00`: Denver local time with its offset.
pub fn denver(t: DateTime<Utc>) -> String {
    t.with_timezone(&Denver).format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string()
}

struct W {
    out: String,
    p: &'static str,
    /// (element, raw text) written once in place of the element's text.
    raw: Option<(String, String)>,
}

impl W {
    fn el(&mut self, name: &str, text: &str) {
        if self.raw.as_ref().is_some_and(|(n, _)| n == name) {
            if let Some((_, raw)) = self.raw.take() {
                self.out.push_str(&format!("<{p}{name}>{raw}</{p}{name}>", p = self.p));
                return;
            }
        }
        if text.is_empty() {
            self.out.push_str(&format!("<{p}{name}/>", p = self.p));
        } else {
            self.out.push_str(&format!("<{p}{name}>{t}</{p}{name}>", p = self.p, t = esc(text)));
        }
    }
    fn open(&mut self, name: &str) {
        self.out.push_str(&format!("<{}{name}>", self.p));
    }
    fn close(&mut self, name: &str) {
        self.out.push_str(&format!("</{}{name}>", self.p));
    }
    fn address(&mut self, name: &str, a: &Address) {
        self.open(name);
        self.el("contactName", &a.contact_name);
        self.el("address1", &a.address1);
        self.el("address2", &a.address2);
        self.el("city", &a.city);
        self.el("stateOrProvince", &a.state);
        self.el("postalCode", &a.postal_code);
        self.el("countryCode", &a.country);
        self.el("phone", &a.phone);
        self.close(name);
    }
}

fn order_body(w: &mut W, o: &Order, warehouse: &str, shape: Shape) {
    w.raw = o.wire_override.clone();
    w.el("salesChannelOrderNumber", &o.number);
    w.el("salesChannelName", "OSTK");
    w.el("orderDate", &denver(o.order_date));
    w.el("sofsCreatedDate", &denver(o.created));
    if let Some(d) = o.expected_ship_date {
        w.el("expectedShipDate", &denver(d));
    }
    // An element the client does not know, as the API adds fields over time.
    w.el("retailChannelCode", "OSTK-US");
    w.open("warehouseName");
    w.el("code", warehouse);
    w.close("warehouseName");
    w.address("shipToAddress", &o.ship_to);
    w.address(
        "returnAddress",
        &Address {
            contact_name: "Returns Dept".into(),
            address1: "100 Warehouse Way".into(),
            city: "Ogden".into(),
            state: "UT".into(),
            postal_code: "84401".into(),
            country: "US".into(),
            ..Default::default()
        },
    );
    w.open("shippingSpecifications");
    w.el("isThirdPartyBilling", "false");
    w.el("isSignatureRequired", if o.signature_required { "true" } else { "false" });
    w.el("isDeclaredValueRequired", "false");
    if o.ltl {
        w.open("ltlShipment");
        w.open("ltlServiceLevel");
        w.el("code", &o.service_code);
        w.close("ltlServiceLevel");
        w.close("ltlShipment");
    } else {
        w.open("smallParcelShipment");
        w.open("shippingServiceLevel");
        w.el("code", &o.service_code);
        w.close("shippingServiceLevel");
        w.close("smallParcelShipment");
    }
    w.el("isExport", "false");
    w.close("shippingSpecifications");
    w.el("orderId", &o.order_id.to_string());
    w.el("status", &o.status);
    w.el("actionRequired", if o.action_required { "true" } else { "false" });
    for l in &o.lines {
        w.open("processedSalesOrderLine");
        let key = if shape == Shape::Old { "salesChannelLineId" } else { "salesChannelLineNumber" };
        w.el(key, &l.number.to_string());
        w.el("partnerSKU", &l.partner_sku);
        w.el("salesChannelSKU", &l.channel_sku);
        w.el("quantity", &l.quantity.to_string());
        w.el("itemPrice", &l.item_price.to_string());
        w.el("itemName", &l.item_name);
        if let Some(s) = &l.status {
            w.el("lineStatus", s);
        }
        w.el("unitCost", &l.unit_cost.to_string());
        w.el("unitCostCurrencyCode", "USD");
        w.close("processedSalesOrderLine");
    }
}

pub fn orders(orders: &[&Order], total: usize, warehouse: &str, shape: Shape) -> String {
    // (root, namespace declaration, element per order, prefix)
    let (root, ns, each, p) = match shape {
        Shape::Current => ("processedSalesOrderTypeList", r#"xmlns:ns2="api.supplieroasis.com""#, "list", "ns2:"),
        Shape::Old => ("processedSalesOrderMessage", r#"xmlns="api.supplieroasis.com""#, "processedSalesOrder", ""),
    };
    let mut w = W { out: String::new(), p, raw: None };
    w.out.push_str(&format!(r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><{root} {ns}>"#));
    w.out.push_str(&format!("<totalCount>{total}</totalCount>"));
    for o in orders {
        w.out.push_str(&format!("<{each}>"));
        order_body(&mut w, o, warehouse, shape);
        w.out.push_str(&format!("</{each}>"));
    }
    w.out.push_str(&format!("</{root}>"));
    w.out
}

/// An error naming an element (order, line) or, with both empty, the whole message.
pub struct ErrorItem {
    pub order: String,
    pub line: String,
    /// An inventory element is named by its SKU (`<partnerSKU>`), not by an order.
    pub sku: String,
    pub message: String,
}

pub fn errors(items: &[ErrorItem]) -> String {
    let mut s = String::from(r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><errorResponse>"#);
    for e in items {
        s.push_str("<error>");
        if !e.order.is_empty() {
            s.push_str(&format!("<salesChannelOrderNumber>{}</salesChannelOrderNumber>", esc(&e.order)));
        }
        if !e.line.is_empty() {
            s.push_str(&format!("<salesChannelLineNumber>{}</salesChannelLineNumber>", esc(&e.line)));
        }
        if !e.sku.is_empty() {
            s.push_str(&format!("<partnerSKU>{}</partnerSKU>", esc(&e.sku)));
        }
        s.push_str(&format!("<message>{}</message></error>", esc(&e.message)));
    }
    s.push_str("</errorResponse>");
    s
}

pub fn inventory(items: &[&Inventory]) -> String {
    let mut s = String::from(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><supplierInventoryList xmlns="api.supplieroasis.com">"#,
    );
    for i in items {
        s.push_str(&format!(
            "<supplierInventory><partnerSKU>{}</partnerSKU><warehouse><code>{}</code></warehouse><quantity>{}</quantity>",
            esc(&i.partner_sku),
            esc(&i.warehouse),
            i.quantity
        ));
        if let Some((q, d)) = &i.backorder {
            s.push_str(&format!("<backorder><quantityOnOrder>{q}</quantityOnOrder>"));
            if let Some(d) = d {
                s.push_str(&format!("<expectedAvailableDate>{}</expectedAvailableDate>", esc(d)));
            }
            s.push_str("</backorder>");
        }
        s.push_str("</supplierInventory>");
    }
    s.push_str("</supplierInventoryList>");
    s
}
