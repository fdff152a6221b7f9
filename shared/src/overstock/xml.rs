//! Parsing of `GET /salesorders` responses with quick-xml + serde.
//!
//! quick-xml's deserializer matches elements by local name, so the `ns2:` prefix (or a default
//! namespace, or none) makes no difference; unknown elements are ignored; the
//! `overlapped-lists` feature collects repeated elements wherever they appear.

use super::OrderPage;
use crate::domain::order::{
    Address, OverstockStatus, SalesOrder, SalesOrderLine, ServiceLevel, ShippingSpecifications,
};
use crate::domain::{OrderNumber, ServiceLevelCode};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::America::Denver;
use quick_xml::events::Event;
use rust_decimal::Decimal;
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::str::FromStr;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireOrder {
    sales_channel_order_number: Option<String>,
    sales_channel_name: Option<String>,
    order_date: Option<String>,
    sofs_created_date: Option<String>,
    warehouse_name: Option<WireCode>,
    ship_to_address: Option<WireAddress>,
    return_address: Option<WireAddress>,
    shipping_specifications: Option<WireShippingSpecifications>,
    order_id: Option<String>,
    status: Option<String>,
    action_required: Option<String>,
    #[serde(rename = "processedSalesOrderLine", default)]
    lines: Vec<WireLine>,
}

#[derive(Debug, Deserialize)]
struct WireCode {
    code: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireAddress {
    contact_name: Option<String>,
    address1: Option<String>,
    address2: Option<String>,
    city: Option<String>,
    state_or_province: Option<String>,
    postal_code: Option<String>,
    country_code: Option<String>,
    phone: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireLine {
    sales_channel_line_number: Option<String>,
    sales_channel_line_id: Option<String>,
    #[serde(rename = "partnerSKU")]
    partner_sku: Option<String>,
    #[serde(rename = "salesChannelSKU")]
    sales_channel_sku: Option<String>,
    barcode: Option<String>,
    upc: Option<String>,
    quantity: Option<String>,
    item_price: Option<String>,
    item_name: Option<String>,
    line_status: Option<String>,
    unit_cost: Option<String>,
    unit_cost_currency_code: Option<String>,
}

/// `shippingSpecifications`: the known flags, the small-parcel code, and `ltlServiceLevel/code`
/// found at any depth (its parent element is not known).
#[derive(Debug, Default)]
struct WireShippingSpecifications {
    is_third_party_billing: Option<String>,
    is_signature_required: Option<String>,
    is_declared_value_required: Option<String>,
    is_export: Option<String>,
    small_parcel_code: Option<String>,
    ltl_code: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireSmallParcel {
    shipping_service_level: Option<WireCode>,
}

impl<'de> Deserialize<'de> for WireShippingSpecifications {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = WireShippingSpecifications;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("shippingSpecifications")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = WireShippingSpecifications::default();
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "isThirdPartyBilling" => out.is_third_party_billing = map.next_value()?,
                        "isSignatureRequired" => out.is_signature_required = map.next_value()?,
                        "isDeclaredValueRequired" => out.is_declared_value_required = map.next_value()?,
                        "isExport" => out.is_export = map.next_value()?,
                        "smallParcelShipment" => {
                            let sp: WireSmallParcel = map.next_value()?;
                            out.small_parcel_code = sp.shipping_service_level.and_then(|c| c.code);
                        }
                        "ltlServiceLevel" => {
                            let c: WireCode = map.next_value()?;
                            out.ltl_code = out.ltl_code.or(c.code);
                        }
                        _ => {
                            let found: LtlSearch = map.next_value()?;
                            out.ltl_code = out.ltl_code.or(found.0);
                        }
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

/// Walks an element of unknown shape and keeps the first `ltlServiceLevel/code` inside it.
#[derive(Debug, Default)]
struct LtlSearch(Option<String>);

impl<'de> Deserialize<'de> for LtlSearch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LtlSearch;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any element")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut found = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key == "ltlServiceLevel" {
                        let c: WireCode = map.next_value()?;
                        found = found.or(c.code);
                    } else if key.starts_with('$') || key.starts_with('@') {
                        map.next_value::<IgnoredAny>()?;
                    } else {
                        let inner: LtlSearch = map.next_value()?;
                        found = found.or(inner.0);
                    }
                }
                Ok(LtlSearch(found))
            }
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(LtlSearch(None))
            }
            fn visit_string<E: serde::de::Error>(self, _: String) -> Result<Self::Value, E> {
                Ok(LtlSearch(None))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(LtlSearch(None))
            }
        }
        d.deserialize_map(V)
    }
}

/// The local name of the root element.
pub(crate) fn root_name(body: &str) -> Result<String, ParseError> {
    let mut reader = quick_xml::Reader::from_str(body);
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
                return Ok(e.local_name().into_inner().to_owned());
            }
            Ok(Event::Eof) => return Err(ParseError("empty document".into())),
            Ok(_) => {}
            Err(e) => return Err(ParseError(format!("not XML: {e}"))),
        }
    }
}

/// Deepest element nesting accepted inside one order (the documented shape needs 5).
const MAX_ORDER_DEPTH: usize = 24;

/// Parses a `GET /salesorders` body (either shape) into orders. A body that is not XML, or has
/// another root, fails whole; inside it, each order element is parsed on its own, and one that
/// does not parse is returned in `unparseable` with its reason while the others parse.
pub fn parse_sales_orders(body: &str) -> Result<OrderPage, ParseError> {
    let root = root_name(body)?;
    if root != "processedSalesOrderTypeList" && root != "processedSalesOrderMessage" {
        return Err(ParseError(format!("unexpected root element <{root}>")));
    }
    let (total, fragments) = split_orders(body)?;
    let mut orders = Vec::with_capacity(fragments.len());
    let mut unparseable = Vec::new();
    for (i, fragment) in fragments.into_iter().enumerate() {
        match parse_order_fragment(fragment) {
            Ok(o) => orders.push(o),
            Err(e) => {
                let (order_number, created) = identify(fragment);
                let who = order_number
                    .as_deref()
                    .map(|n| format!("order {n}"))
                    .unwrap_or_else(|| format!("order element {}", i + 1));
                unparseable.push(super::UnparseableOrder {
                    reason: format!("{who}: {}", e.0),
                    order_number,
                    created,
                    fingerprint: fnv1a(fragment.as_bytes()),
                });
            }
        }
    }
    let received = orders.len() + unparseable.len();
    let total_count = match non_empty(total) {
        Some(t) => t.parse::<usize>().map_err(|_| {
            ParseError(format!("totalCount {:?} is not a count", t.chars().take(40).collect::<String>()))
        })?,
        None => received,
    };
    Ok(OrderPage { total_count, orders, unparseable })
}

/// FNV-1a, 64 bits: stable across builds (unlike the standard library's hasher).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

/// The raw text of each order element (`list` or `processedSalesOrder` under the root) and the
/// `totalCount` text. Iterative: nesting depth costs no stack.
fn split_orders(body: &str) -> Result<(Option<String>, Vec<&str>), ParseError> {
    let mut reader = quick_xml::Reader::from_str(body);
    let mut depth = 0usize;
    let mut total = None;
    let mut fragments = Vec::new();
    let not_xml = |e: quick_xml::Error| ParseError(format!("not XML: {e}"));
    loop {
        let start = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        match reader.read_event().map_err(not_xml)? {
            Event::Start(e) => {
                depth += 1;
                if depth == 2 {
                    let name = e.name().as_ref().to_owned();
                    let end_name = quick_xml::name::QName(&name);
                    match local(&name) {
                        "list" | "processedSalesOrder" => {
                            reader.read_to_end(end_name).map_err(not_xml)?;
                            let end = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
                            fragments.push(
                                body.get(start..end).ok_or_else(|| ParseError("order element out of range".into()))?,
                            );
                        }
                        "totalCount" => {
                            total = Some(reader.read_text(end_name).map_err(not_xml)?.into_inner().into_owned())
                        }
                        _ => {
                            reader.read_to_end(end_name).map_err(not_xml)?;
                        }
                    }
                    depth -= 1;
                }
            }
            Event::Empty(e) if depth == 1 && matches!(local(e.name().as_ref()), "list" | "processedSalesOrder") => {
                let end = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
                fragments.push(body.get(start..end).ok_or_else(|| ParseError("order element out of range".into()))?);
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Eof => break,
            _ => {}
        }
    }
    if depth != 0 {
        return Err(ParseError("truncated document".into()));
    }
    Ok((total, fragments))
}

/// Depth of the deepest element of a fragment, stopping past `limit`.
fn depth_exceeds(fragment: &str, limit: usize) -> Result<bool, ParseError> {
    let mut reader = quick_xml::Reader::from_str(fragment);
    let mut depth = 0usize;
    loop {
        match reader.read_event().map_err(|e| ParseError(format!("not XML: {e}")))? {
            Event::Start(_) => {
                depth += 1;
                if depth > limit {
                    return Ok(true);
                }
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Eof => return Ok(false),
            _ => {}
        }
    }
}

fn parse_order_fragment(fragment: &str) -> Result<SalesOrder, ParseError> {
    if depth_exceeds(fragment, MAX_ORDER_DEPTH)? {
        return Err(ParseError(format!("elements nested deeper than {MAX_ORDER_DEPTH} levels")));
    }
    let wire: WireOrder = quick_xml::de::from_str(fragment)
        .map_err(|e| ParseError(format!("unreadable element: {}", describe_de_error(&e))))?;
    convert_order(wire)
}

/// A deserializer error without any document text in it (it could be a name or an address).
fn describe_de_error(e: &quick_xml::DeError) -> String {
    use quick_xml::DeError;
    match e {
        DeError::Custom(m) if !m.contains('"') => m.chars().take(200).collect(),
        DeError::InvalidXml(x) => format!(
            "invalid XML ({})",
            match x {
                quick_xml::Error::Syntax(s) => s.to_string(),
                quick_xml::Error::IllFormed(i) => i.to_string().chars().take(120).collect(),
                quick_xml::Error::Escape(_) => "an entity or character reference that is not defined".into(),
                quick_xml::Error::Encoding(_) => "bad encoding".into(),
                _ => "malformed".into(),
            }
        ),
        DeError::UnexpectedEof => "truncated".into(),
        _ => "an element of an unexpected shape".into(),
    }
}

/// The order number and creation time of an order element that does not parse, read as
/// tolerantly as possible (so it can be listed and read again).
fn identify(fragment: &str) -> (Option<String>, Option<DateTime<Utc>>) {
    let mut reader = quick_xml::Reader::from_str(fragment);
    let mut depth = 0usize;
    let (mut number, mut created) = (None, None);
    while let Ok(ev) = reader.read_event() {
        match ev {
            Event::Start(e) => {
                depth += 1;
                if depth == 2 {
                    let name = e.name().as_ref().to_owned();
                    let field = local(&name).to_owned();
                    let Ok(text) = reader.read_text(quick_xml::name::QName(&name)) else { break };
                    let text = text.into_inner().into_owned();
                    depth -= 1;
                    match field.as_str() {
                        "salesChannelOrderNumber" => {
                            number = OrderNumber::parse(text.trim()).ok().map(|n| n.to_string())
                        }
                        "sofsCreatedDate" => created = parse_timestamp("sofsCreatedDate", Some(text)).ok().flatten(),
                        _ => {}
                    }
                }
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Eof => break,
            _ => {}
        }
    }
    (number, created)
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn parse_bool(field: &str, s: Option<String>) -> Result<Option<bool>, ParseError> {
    match non_empty(s) {
        None => Ok(None),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(v) => Err(ParseError(format!("{field}: {v:?} is not a boolean"))),
    }
}

fn parse_decimal(field: &str, s: Option<String>) -> Result<Option<Decimal>, ParseError> {
    non_empty(s)
        .map(|v| {
            Decimal::from_str(&v).map_err(|_| {
                ParseError(format!("{field}: {:?} is not a decimal amount", v.chars().take(40).collect::<String>()))
            })
        })
        .transpose()
}

/// Parses an Overstock timestamp. With an offset (`…-07:00`, `…Z`) it is exact; without one it is
/// Overstock local time (America/Denver), read as the earlier instant when ambiguous.
pub fn parse_timestamp(field: &str, s: Option<String>) -> Result<Option<DateTime<Utc>>, ParseError> {
    let Some(v) = non_empty(s) else { return Ok(None) };
    if let Ok(t) = DateTime::parse_from_rfc3339(&v) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%z"] {
        if let Ok(t) = DateTime::parse_from_str(&v, fmt) {
            return Ok(Some(t.with_timezone(&Utc)));
        }
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(&v, fmt) {
            if let Some(t) = Denver.from_local_datetime(&n).earliest() {
                return Ok(Some(t.with_timezone(&Utc)));
            }
        }
    }
    Err(ParseError(format!("{field}: {v:?} is not a timestamp")))
}

fn convert_address(a: WireAddress) -> Address {
    Address {
        contact_name: non_empty(a.contact_name),
        address1: non_empty(a.address1),
        address2: non_empty(a.address2),
        city: non_empty(a.city),
        state_or_province: non_empty(a.state_or_province),
        postal_code: non_empty(a.postal_code),
        country_code: non_empty(a.country_code),
        phone: non_empty(a.phone),
    }
}

fn convert_order(w: WireOrder) -> Result<SalesOrder, ParseError> {
    let number =
        non_empty(w.sales_channel_order_number).ok_or_else(|| ParseError("salesChannelOrderNumber: missing".into()))?;
    let order_number = OrderNumber::parse(&number).map_err(|e| ParseError(format!("salesChannelOrderNumber: {e}")))?;
    let ctx = |e: ParseError| e;
    let spec = w.shipping_specifications.unwrap_or_default();
    let service_level = match (non_empty(spec.ltl_code), non_empty(spec.small_parcel_code)) {
        (Some(ltl), _) => Some((ltl, true)),
        (None, Some(sp)) => Some((sp, false)),
        (None, None) => None,
    }
    .map(|(code, freight)| {
        ServiceLevelCode::parse(&code).map(|code| ServiceLevel { code, freight }).map_err(|e| ParseError(e.to_string()))
    })
    .transpose()
    .map_err(ctx)?;
    let shipping = ShippingSpecifications {
        is_third_party_billing: parse_bool("isThirdPartyBilling", spec.is_third_party_billing).map_err(ctx)?,
        is_signature_required: parse_bool("isSignatureRequired", spec.is_signature_required).map_err(ctx)?,
        is_declared_value_required: parse_bool("isDeclaredValueRequired", spec.is_declared_value_required)
            .map_err(ctx)?,
        is_export: parse_bool("isExport", spec.is_export).map_err(ctx)?,
        service_level,
    };
    let lines = w.lines.into_iter().map(convert_line).collect::<Result<Vec<_>, _>>().map_err(ctx)?;
    Ok(SalesOrder {
        sales_channel_name: non_empty(w.sales_channel_name),
        order_date: parse_timestamp("orderDate", w.order_date).map_err(ctx)?,
        sofs_created_date: parse_timestamp("sofsCreatedDate", w.sofs_created_date).map_err(ctx)?,
        warehouse_code: w.warehouse_name.and_then(|c| c.code).map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()),
        ship_to: w.ship_to_address.map(convert_address),
        return_address: w.return_address.map(convert_address),
        shipping,
        overstock_order_id: non_empty(w.order_id),
        status: non_empty(w.status).map(|s| OverstockStatus::parse(&s)),
        action_required: parse_bool("actionRequired", w.action_required).map_err(ctx)?,
        lines,
        order_number,
    })
}

fn convert_line(l: WireLine) -> Result<SalesOrderLine, ParseError> {
    let line_number = non_empty(l.sales_channel_line_number)
        .or(non_empty(l.sales_channel_line_id))
        .ok_or_else(|| ParseError("processedSalesOrderLine/salesChannelLineNumber: missing".into()))?;
    let ctx = |e: ParseError| ParseError(format!("processedSalesOrderLine (line {line_number})/{}", e.0));
    let quantity = non_empty(l.quantity)
        .ok_or_else(|| ParseError("quantity: missing".into()))
        .and_then(|q| {
            q.parse::<u32>().map_err(|_| {
                ParseError(format!(
                    "quantity: {:?} is not a count (0 to 4294967295)",
                    q.chars().take(40).collect::<String>()
                ))
            })
        })
        .map_err(ctx)?;
    Ok(SalesOrderLine {
        partner_sku: non_empty(l.partner_sku),
        sales_channel_sku: non_empty(l.sales_channel_sku),
        barcode: non_empty(l.barcode),
        upc: non_empty(l.upc),
        quantity,
        item_price: parse_decimal("itemPrice", l.item_price).map_err(ctx)?,
        item_name: non_empty(l.item_name),
        line_status: non_empty(l.line_status),
        unit_cost: parse_decimal("unitCost", l.unit_cost).map_err(ctx)?,
        unit_cost_currency_code: non_empty(l.unit_cost_currency_code),
        line_number,
    })
}

/// Parses a 400 error body: `<errorResponse><error>…</error>…</errorResponse>`.
pub fn parse_error_response(body: &str) -> Result<Vec<super::RejectedElement>, ParseError> {
    #[derive(Deserialize)]
    struct ErrorResponse {
        #[serde(rename = "error", default)]
        errors: Vec<WireError>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct WireError {
        sales_channel_order_number: Option<String>,
        sales_channel_line_number: Option<String>,
        #[serde(rename = "partnerSKU")]
        partner_sku: Option<String>,
        message: Option<String>,
    }
    let root = root_name(body)?;
    if root != "errorResponse" {
        return Err(ParseError(format!("unexpected root element <{root}>")));
    }
    let r: ErrorResponse = quick_xml::de::from_str(body).map_err(|e| ParseError(format!("errorResponse: {e}")))?;
    Ok(r.errors
        .into_iter()
        .map(|e| super::RejectedElement {
            order_number: non_empty(e.sales_channel_order_number).unwrap_or_default(),
            line_number: non_empty(e.sales_channel_line_number),
            sku: non_empty(e.partner_sku),
            message: non_empty(e.message).unwrap_or_else(|| "no message".into()),
        })
        .collect())
}

#[cfg(test)]
mod tests;
