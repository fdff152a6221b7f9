//! Strict validation and application of what suppliers POST, with roxmltree (not the client's
//! parser). Structural errors reject the whole message; semantic errors name their element.

use crate::model::{Account, Inventory};
use crate::xmlout::ErrorItem;
use chrono::{DateTime, NaiveDate, Utc};
use roxmltree::{Document, Node};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::str::FromStr;

pub const NS: &str = "api.supplieroasis.com";
pub const SHORT_SHIP_REASONS: &[&str] =
    &["OUT_OF_STOCK", "DISCONTINUED", "CUSTOMER_REQUEST", "PRICING_ERROR", "UNDELIVERABLE_ADDRESS", "OTHER"];
pub const REFUND_REASONS: &[&str] =
    &["CUSTOMER_RETURN", "DAMAGED", "NOT_AS_DESCRIBED", "LATE_DELIVERY", "PRICE_ADJUSTMENT", "OTHER"];

/// The outcome of one POST.
pub struct Outcome {
    pub elements: Vec<Value>,
    pub errors: Vec<ErrorItem>,
}

impl Outcome {
    fn whole(message: String) -> Self {
        Self {
            elements: vec![],
            errors: vec![ErrorItem { order: String::new(), line: String::new(), sku: String::new(), message }],
        }
    }
}

fn elements<'a, 'i>(n: Node<'a, 'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    n.children().filter(|c| c.is_element())
}

/// Checks a node's children against `spec` (name, required, repeatable), in that order, all in
/// the API namespace, nothing unknown.
fn fields<'a, 'i>(n: Node<'a, 'i>, spec: &[(&str, bool, bool)]) -> Result<HashMap<String, Vec<Node<'a, 'i>>>, String> {
    let parent = n.tag_name().name();
    let mut out: HashMap<String, Vec<Node>> = HashMap::new();
    let mut pos = 0usize;
    for c in elements(n) {
        let name = c.tag_name().name();
        if c.tag_name().namespace() != Some(NS) {
            return Err(format!("<{name}> in <{parent}> is not in namespace {NS}"));
        }
        let Some(idx) = spec.iter().position(|(s, _, _)| *s == name) else {
            return Err(format!("<{parent}> has an unexpected element <{name}>"));
        };
        if idx < pos || (idx == pos && out.contains_key(name) && !spec[idx].2) {
            return Err(format!("<{parent}>: <{name}> out of order or repeated"));
        }
        pos = idx;
        out.entry(name.to_owned()).or_default().push(c);
    }
    for (name, required, _) in spec {
        if *required && !out.contains_key(*name) {
            return Err(format!("<{parent}> is missing <{name}>"));
        }
    }
    Ok(out)
}

fn text(map: &HashMap<String, Vec<Node>>, name: &str) -> String {
    map.get(name).and_then(|v| v.first()).and_then(|n| n.text()).unwrap_or("").trim().to_owned()
}

/// The text of `<name><code>…</code></name>`.
fn code(map: &HashMap<String, Vec<Node>>, name: &str) -> Result<String, String> {
    let Some(n) = map.get(name).and_then(|v| v.first()) else { return Ok(String::new()) };
    let f = fields(*n, &[("code", true, false)])?;
    let c = text(&f, "code");
    if c.is_empty() { Err(format!("<{name}><code> is empty")) } else { Ok(c) }
}

fn parse_root<'i>(doc: &'i Document<'i>, expected: &str) -> Result<Node<'i, 'i>, String> {
    let root = doc.root_element();
    if root.tag_name().name() != expected {
        return Err(format!("root element must be <{expected}>, got <{}>", root.tag_name().name()));
    }
    if root.tag_name().namespace() != Some(NS) {
        return Err(format!("root element must be in namespace {NS:?} (xmlns=\"{NS}\")"));
    }
    Ok(root)
}

fn with_doc(body: &str, root: &str, f: impl FnOnce(Node) -> Outcome) -> Outcome {
    if !body.trim_start().starts_with("<?xml") {
        return Outcome::whole("body must begin with an XML declaration".into());
    }
    match Document::parse(body) {
        Err(e) => Outcome::whole(format!("not well-formed XML: {e}")),
        Ok(doc) => match parse_root(&doc, root) {
            Err(e) => Outcome::whole(e),
            Ok(r) => f(r),
        },
    }
}

fn named(order: &str, line: &str, message: impl Into<String>) -> ErrorItem {
    ErrorItem { order: order.to_owned(), line: line.to_owned(), sku: String::new(), message: message.into() }
}

/// An error naming an inventory element by its SKU.
fn named_sku(sku: &str, message: impl Into<String>) -> ErrorItem {
    ErrorItem { order: String::new(), line: String::new(), sku: sku.to_owned(), message: message.into() }
}

// ---------------------------------------------------------------- acknowledgements (4.1)

pub fn acknowledgements(acc: &mut Account, body: &str) -> Outcome {
    with_doc(body, "supplierAcknowledgementMessage", |root| {
        let mut parsed = Vec::new();
        for el in elements(root) {
            if el.tag_name().name() != "supplierAcknowledgement" {
                return Outcome::whole(format!("unexpected <{}>", el.tag_name().name()));
            }
            let f = match fields(
                el,
                &[("salesChannelName", true, false), ("salesChannelOrderNumber", true, false), ("status", true, false)],
            ) {
                Ok(f) => f,
                Err(e) => return Outcome::whole(e),
            };
            parsed.push((text(&f, "salesChannelName"), text(&f, "salesChannelOrderNumber"), text(&f, "status")));
        }
        if parsed.is_empty() {
            return Outcome::whole("no supplierAcknowledgement".into());
        }
        let mut out = Outcome { elements: vec![], errors: vec![] };
        for (channel, number, status) in parsed {
            out.elements.push(json!({"sales_channel_name": channel, "order_number": number, "status": status}));
            let Some(order) = acc.orders.get_mut(&number) else {
                out.errors.push(named(&number, "", "unknown order"));
                continue;
            };
            match status.as_str() {
                "ACCEPTED" => {
                    order.status = "ACKNOWLEDGED".into();
                    order.action_required = false;
                }
                "REJECTED" => {
                    order.status = "REJECTED".into();
                    order.action_required = false;
                }
                other => out.errors.push(named(&number, "", format!("status {other:?} is not ACCEPTED or REJECTED"))),
            }
        }
        out
    })
}

// ---------------------------------------------------------------- shipments (3)

enum ShipKind {
    Confirm { quantity: u32, carrier: String, tracking: String, ship_date: DateTime<Utc>, service: String },
    Short { reason: String },
}

pub fn shipments(acc: &mut Account, body: &str, now: DateTime<Utc>) -> Outcome {
    with_doc(body, "supplierShipmentMessage", |root| {
        let mut parsed = Vec::new();
        for el in elements(root) {
            if el.tag_name().name() != "supplierShipment" {
                return Outcome::whole(format!("unexpected <{}>", el.tag_name().name()));
            }
            match parse_shipment(el) {
                Ok(p) => parsed.push(p),
                Err(e) => return Outcome::whole(e),
            }
        }
        if parsed.is_empty() {
            return Outcome::whole("no supplierShipment".into());
        }
        let mut out = Outcome { elements: vec![], errors: vec![] };
        for (channel, number, line_no, warehouse, kind) in parsed {
            let mut v = json!({"sales_channel_name": channel, "order_number": number, "line_number": line_no, "warehouse": warehouse});
            match &kind {
                ShipKind::Confirm { quantity, carrier, tracking, ship_date, service } => {
                    v["kind"] = json!("confirmation");
                    v["quantity"] = json!(quantity);
                    v["carrier"] = json!(carrier);
                    v["tracking_number"] = json!(tracking);
                    v["ship_date_utc"] = json!(ship_date.to_rfc3339());
                    v["service_level"] = json!(service);
                }
                ShipKind::Short { reason } => {
                    v["kind"] = json!("short_ship");
                    v["reason"] = json!(reason);
                }
            }
            out.elements.push(v);
            if warehouse != acc.warehouse {
                out.errors.push(named(&number, &line_no, format!("unknown warehouse {warehouse:?}")));
                continue;
            }
            let Some(order) = acc.orders.get_mut(&number) else {
                out.errors.push(named(&number, &line_no, "unknown order"));
                continue;
            };
            if order.status.eq_ignore_ascii_case("CANCELLED") || order.status.eq_ignore_ascii_case("CANCELED") {
                out.errors.push(named(&number, &line_no, "order is cancelled"));
                continue;
            }
            let Some(line) = order.lines.iter_mut().find(|l| l.number.to_string() == line_no) else {
                out.errors.push(named(&number, &line_no, "unknown line"));
                continue;
            };
            let line_cancelled = line.status.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("CANCELLED"));
            match kind {
                ShipKind::Confirm { quantity, ship_date, service, tracking, .. } => {
                    if acc.faults.reject_tracking.contains(&tracking) {
                        out.errors.push(named(&number, &line_no, "tracking number not recognised by the carrier"));
                    } else if line.short_shipped {
                        out.errors.push(named(&number, &line_no, "line is cancelled (short shipped)"));
                    } else if line_cancelled {
                        out.errors.push(named(&number, &line_no, "line is cancelled"));
                    } else if quantity == 0 || quantity > line.open() {
                        out.errors.push(named(
                            &number,
                            &line_no,
                            format!("quantity {quantity} above what is open ({})", line.open()),
                        ));
                    } else if ship_date > now + chrono::Duration::minutes(1) {
                        out.errors.push(named(&number, &line_no, "ship date in the future"));
                    } else if !service.eq_ignore_ascii_case(&order.service_code) {
                        out.errors.push(named(
                            &number,
                            &line_no,
                            format!("unknown service level {service:?} for this order"),
                        ));
                    } else {
                        line.shipped += quantity;
                        if line.open() == 0 {
                            line.status = Some("SHIPPED".into());
                        }
                    }
                }
                ShipKind::Short { .. } => {
                    if line.shipped > 0 {
                        out.errors.push(named(&number, &line_no, "line already shipped: no short ship after shipment"));
                    } else if line.short_shipped || line_cancelled {
                        out.errors.push(named(&number, &line_no, "line already cancelled"));
                    } else {
                        line.short_shipped = true;
                        line.status = Some("CANCELLED".into());
                    }
                }
            }
            if order.lines.iter().all(|l| l.open() == 0) {
                order.status =
                    if order.lines.iter().all(|l| l.short_shipped) { "CANCELLED".into() } else { "COMPLETE".into() };
                order.action_required = false;
            }
        }
        out
    })
}

type ParsedShipment = (String, String, String, String, ShipKind);

fn parse_shipment(el: Node) -> Result<ParsedShipment, String> {
    let f = fields(
        el,
        &[
            ("salesChannelName", true, false),
            ("salesChannelOrderNumber", true, false),
            ("salesChannelLineNumber", true, false),
            ("warehouse", true, false),
            ("supplierShipConfirmation", false, false),
            ("shortShip", false, false),
        ],
    )?;
    let number = text(&f, "salesChannelOrderNumber");
    let line = text(&f, "salesChannelLineNumber");
    if number.is_empty() || line.is_empty() {
        return Err("supplierShipment needs salesChannelOrderNumber and salesChannelLineNumber".into());
    }
    let warehouse = code(&f, "warehouse")?;
    let kind =
        match (f.get("supplierShipConfirmation").and_then(|v| v.first()), f.get("shortShip").and_then(|v| v.first())) {
            (Some(c), None) => {
                let cf = fields(
                    *c,
                    &[
                        ("quantity", true, false),
                        ("carrier", true, false),
                        ("trackingNumber", true, false),
                        ("shipDate", true, false),
                        ("serviceLevel", true, false),
                    ],
                )?;
                let q = text(&cf, "quantity");
                let quantity = q.parse::<u32>().map_err(|_| format!("quantity {q:?} is not a whole number"))?;
                let tracking = text(&cf, "trackingNumber");
                if tracking.is_empty() {
                    return Err("trackingNumber is empty".into());
                }
                let d = text(&cf, "shipDate");
                let ship_date = DateTime::parse_from_str(&d, "%Y-%m-%dT%H:%M:%S%.3f%:z")
                    .map_err(|_| format!("shipDate {d:?} must look like 2026-11-26T15:16:14.000-07:00"))?
                    .with_timezone(&Utc);
                ShipKind::Confirm {
                    quantity,
                    carrier: code(&cf, "carrier")?,
                    tracking,
                    ship_date,
                    service: code(&cf, "serviceLevel")?,
                }
            }
            (None, Some(s)) => {
                let sf = fields(*s, &[("reasonCode", true, false)])?;
                let reason = code(&sf, "reasonCode")?;
                if !SHORT_SHIP_REASONS.contains(&reason.as_str()) {
                    return Err(format!("short ship reason {reason:?} is not known"));
                }
                ShipKind::Short { reason }
            }
            _ => return Err("supplierShipment needs exactly one of supplierShipConfirmation or shortShip".into()),
        };
    Ok((text(&f, "salesChannelName"), number, line, warehouse, kind))
}

// ---------------------------------------------------------------- inventory (4.2)

/// `POST /inventory`: the shape is checked for the whole message (a malformed element refuses
/// it all); values element by element, each refusal naming its SKU: a negative quantity, a
/// backorder date without quantity on order, a date before `today` (Denver), another warehouse,
/// a SKU the `reject_skus` fault names. Accepted elements replace what the account holds.
pub fn inventory(acc: &mut Account, body: &str, today: NaiveDate) -> Outcome {
    with_doc(body, "supplierInventoryMessage", |root| {
        let els: Vec<Node> = elements(root).collect();
        if els.is_empty() || els.len() > 500 {
            return Outcome::whole(format!("a message holds 1 to 500 supplierInventory, not {}", els.len()));
        }
        let mut parsed = Vec::new();
        for el in els {
            if el.tag_name().name() != "supplierInventory" {
                return Outcome::whole(format!("unexpected <{}>", el.tag_name().name()));
            }
            let f = match fields(
                el,
                &[
                    ("partnerSKU", true, false),
                    ("warehouse", true, false),
                    ("quantity", true, false),
                    ("backorder", false, false),
                ],
            ) {
                Ok(f) => f,
                Err(e) => return Outcome::whole(e),
            };
            let q = text(&f, "quantity");
            let Ok(quantity) = q.parse::<i64>() else {
                return Outcome::whole(format!("quantity {q:?} is not a number"));
            };
            let warehouse = match code(&f, "warehouse") {
                Ok(w) => w,
                Err(e) => return Outcome::whole(e),
            };
            let backorder = match f.get("backorder").and_then(|v| v.first()) {
                None => None,
                Some(b) => {
                    let bf = match fields(
                        *b,
                        &[("quantityOnOrder", true, false), ("expectedAvailableDate", false, false)],
                    ) {
                        Ok(bf) => bf,
                        Err(e) => return Outcome::whole(e),
                    };
                    let qo = text(&bf, "quantityOnOrder");
                    let Ok(qo) = qo.parse::<i64>() else {
                        return Outcome::whole(format!("quantityOnOrder {qo:?} is not a number"));
                    };
                    let date = match bf.get("expectedAvailableDate") {
                        None => None,
                        Some(_) => {
                            let d = text(&bf, "expectedAvailableDate");
                            match NaiveDate::parse_from_str(&d, "%Y-%m-%d") {
                                Ok(date) => Some(date),
                                Err(_) => {
                                    return Outcome::whole(format!("expectedAvailableDate {d:?} is not YYYY-MM-DD"));
                                }
                            }
                        }
                    };
                    Some((qo, date))
                }
            };
            parsed.push((text(&f, "partnerSKU"), warehouse, quantity, backorder));
        }
        let mut out = Outcome { elements: vec![], errors: vec![] };
        for (sku, warehouse, quantity, backorder) in parsed {
            out.elements.push(json!({"partner_sku": sku, "warehouse": warehouse, "quantity": quantity,
                "backorder": backorder.as_ref().map(|(q, d)| json!({"quantity_on_order": q, "expected_available_date": d.map(|d| d.to_string())}))}));
            let refusal = if sku.is_empty() {
                Some("partnerSKU is empty".to_owned())
            } else if warehouse != acc.warehouse {
                Some(format!("unknown warehouse {warehouse:?}"))
            } else if acc.faults.reject_skus.contains(&sku) {
                Some("partnerSKU is not in the supplier's catalog".to_owned())
            } else if quantity < 0 {
                Some(format!("quantity {quantity} is negative"))
            } else {
                match backorder {
                    Some((qo, _)) if qo < 0 => Some(format!("quantityOnOrder {qo} is negative")),
                    Some((0, Some(d))) => Some(format!("expectedAvailableDate {d} without quantity on order")),
                    Some((_, Some(d))) if d < today => Some(format!("expectedAvailableDate {d} is in the past")),
                    _ => None,
                }
            };
            if let Some(r) = refusal {
                out.errors.push(named_sku(&sku, r));
                continue;
            }
            let backorder = backorder.map(|(q, d)| (q, d.map(|d| d.to_string())));
            acc.inventory.insert(sku.clone(), Inventory { partner_sku: sku, warehouse, quantity, backorder });
        }
        out
    })
}

// ---------------------------------------------------------------- refunds (4.3)

pub fn refunds(acc: &mut Account, body: &str) -> Outcome {
    with_doc(body, "supplierRefundMessage", |root| {
        let mut parsed = Vec::new();
        for el in elements(root) {
            if el.tag_name().name() != "supplierRefund" {
                return Outcome::whole(format!("unexpected <{}>", el.tag_name().name()));
            }
            match parse_refund(el) {
                Ok(r) => parsed.push(r),
                Err(e) => return Outcome::whole(e),
            }
        }
        if parsed.is_empty() {
            return Outcome::whole("no supplierRefund".into());
        }
        let mut out = Outcome { elements: vec![], errors: vec![] };
        for r in parsed {
            out.elements.push(json!({"refund_id": r.id, "order_number": r.order, "reason": r.reason,
                "lines": r.lines.iter().map(|(n, q, a)| json!({"line_number": n, "quantity": q, "amount": a.to_string()})).collect::<Vec<_>>(),
                "shipping_amount": r.shipping.map(|s| s.to_string()), "notes": r.notes}));
            if acc.refunds.contains_key(&r.id) {
                continue; // a repeat is answered as the first, and applied once
            }
            let Some(order) = acc.orders.get_mut(&r.order) else {
                out.errors.push(named(&r.order, "", "unknown order"));
                continue;
            };
            let mut err = None;
            for (n, _, amount) in &r.lines {
                match order.lines.iter().find(|l| &l.number.to_string() == n) {
                    None => err = Some(named(&r.order, n, "unknown line")),
                    Some(l) if l.shipped == 0 => {
                        err = Some(named(&r.order, n, "line is not ship-confirmed: cancel instead"))
                    }
                    Some(l) if l.refunded + amount > l.item_price * Decimal::from(l.quantity) => {
                        err = Some(named(
                            &r.order,
                            n,
                            format!(
                                "refund would exceed what was charged ({})",
                                l.item_price * Decimal::from(l.quantity)
                            ),
                        ))
                    }
                    Some(_) => {}
                }
                if err.is_some() {
                    break;
                }
            }
            if let Some(e) = err {
                out.errors.push(e);
                continue;
            }
            for (n, _, amount) in &r.lines {
                if let Some(l) = order.lines.iter_mut().find(|l| &l.number.to_string() == n) {
                    l.refunded += amount;
                }
            }
            order.shipping_refunded += r.shipping.unwrap_or_default();
            acc.refunds.insert(r.id.clone(), r.order.clone());
        }
        out
    })
}

struct Refund {
    id: String,
    order: String,
    reason: String,
    lines: Vec<(String, Option<u32>, Decimal)>,
    shipping: Option<Decimal>,
    notes: String,
}

fn amount(n: Node) -> Result<Decimal, String> {
    if n.attribute("currencyCode").is_none() {
        return Err(format!("<{}> needs a currencyCode attribute", n.tag_name().name()));
    }
    let t = n.text().unwrap_or("").trim();
    let d = Decimal::from_str(t).map_err(|_| format!("amount {t:?} is not a decimal"))?;
    if d.is_sign_negative() {
        return Err(format!("amount {t} is negative"));
    }
    Ok(d)
}

fn parse_refund(el: Node) -> Result<Refund, String> {
    let f = fields(
        el,
        &[
            ("refundId", true, false),
            ("salesChannelName", true, false),
            ("salesChannelOrderNumber", true, false),
            ("reason", true, false),
            ("line", true, true),
            ("shippingAmount", false, false),
            ("notes", false, false),
        ],
    )?;
    let reason = code(&f, "reason")?;
    if !REFUND_REASONS.contains(&reason.as_str()) {
        return Err(format!("refund reason {reason:?} is not known"));
    }
    let mut lines = Vec::new();
    for l in f.get("line").cloned().unwrap_or_default() {
        let lf =
            fields(l, &[("salesChannelLineNumber", true, false), ("quantity", false, false), ("amount", true, false)])?;
        let q = text(&lf, "quantity");
        let quantity = if q.is_empty() { None } else { Some(q.parse::<u32>().map_err(|_| format!("quantity {q:?}"))?) };
        let a = lf.get("amount").and_then(|v| v.first()).ok_or("line needs amount")?;
        lines.push((text(&lf, "salesChannelLineNumber"), quantity, amount(*a)?));
    }
    let shipping = f.get("shippingAmount").and_then(|v| v.first()).map(|n| amount(*n)).transpose()?;
    Ok(Refund {
        id: text(&f, "refundId"),
        order: text(&f, "salesChannelOrderNumber"),
        reason,
        lines,
        shipping,
        notes: text(&f, "notes"),
    })
}
