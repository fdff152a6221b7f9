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
    /// Provisional: Overstock's ship-by time, if its orders carry one.
    expected_ship_date: Option<String>,
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

/// What is wrong with a document, by kind only: quick-xml's own messages quote the text they
/// stopped at (a tag name that was part of a customer's name, an entity), never printed here.
pub(crate) fn describe_xml_error(e: &quick_xml::Error) -> String {
    use quick_xml::errors::{IllFormedError, SyntaxError};
    let kind = match e {
        quick_xml::Error::Syntax(s) => match s {
            SyntaxError::InvalidBangMarkup => "a '<!' that starts no comment, CDATA or DOCTYPE",
            SyntaxError::UnclosedPI => "an unclosed processing instruction",
            SyntaxError::UnclosedXmlDecl => "an unclosed XML declaration",
            SyntaxError::UnclosedComment => "an unclosed comment",
            SyntaxError::UnclosedDoctype => "an unclosed DOCTYPE",
            SyntaxError::UnclosedCData => "an unclosed CDATA section",
            SyntaxError::UnclosedTag => "an unclosed tag",
            _ => "an unclosed attribute value",
        },
        quick_xml::Error::IllFormed(i) => match i {
            IllFormedError::MissingEndTag(_) => "an element that is never closed",
            IllFormedError::UnmatchedEndTag(_) => "an end tag that closes nothing",
            IllFormedError::MismatchedEndTag { .. } => "an end tag that does not match its start tag",
            IllFormedError::DoubleHyphenInComment => "'--' inside a comment",
            IllFormedError::UnclosedReference => "an '&' that starts no entity or character reference",
            _ => "a malformed declaration",
        },
        quick_xml::Error::Escape(_) => "an entity or character reference that is not defined",
        quick_xml::Error::Encoding(_) => "bad encoding",
        quick_xml::Error::InvalidAttr(_) => "a malformed attribute",
        quick_xml::Error::Namespace(_) => "an undeclared or malformed namespace prefix",
        quick_xml::Error::Io(_) => "an I/O error",
    };
    format!("not well-formed XML ({kind})")
}

/// "unexpected root element <x>", the name shown only when it is a plain XML name.
pub(crate) fn unexpected_root(root: &str) -> String {
    let plain = !root.is_empty()
        && root.len() <= 64
        && root.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'));
    if plain { format!("unexpected root element <{root}>") } else { "unexpected root element".to_owned() }
}

fn not_xml(e: quick_xml::Error) -> ParseError {
    ParseError(describe_xml_error(&e))
}

/// A reader that checks what XML requires and quick-xml leaves unchecked by default: no `--`
/// inside a comment (a comment whose end was damaged would otherwise swallow the elements after
/// it, and the text after its next `-->` be read as the element's), end tags that match.
pub(crate) fn strict_reader(text: &str) -> quick_xml::Reader<&[u8]> {
    let mut reader = quick_xml::Reader::from_str(text);
    let config = reader.config_mut();
    config.check_comments = true;
    config.check_end_names = true;
    reader
}

/// The document without a leading byte-order mark. XML allows one before `<?xml` (some servers
/// and proxies add it); every reader of an answer starts here, so that the positions the reader
/// reports and the text they cut are counted from the same first byte.
pub(crate) fn without_bom(body: &str) -> &str {
    body.strip_prefix('\u{FEFF}').unwrap_or(body)
}

/// What a success answer's body is, when it is not a plain success: `None` for one well-formed
/// XML document whose root is not `html` and none of whose elements is named like an error or a
/// fault (`errorResponse`, `ErrorResponse`, `soap:Fault` …: the name holds "error" or "fault");
/// else what it is instead. Comments and attributes checked as XML requires.
pub(crate) fn not_a_success_document(text: &str) -> Option<&'static str> {
    let mut reader = strict_reader(without_bom(text));
    let (mut depth, mut roots) = (0usize, 0usize);
    let look = |e: &quick_xml::events::BytesStart, depth: usize| -> Option<&'static str> {
        if check_attributes(e).is_err() {
            return Some("malformed XML");
        }
        let name = e.local_name().into_inner().to_ascii_lowercase();
        if depth == 0 && name == "html" {
            return Some("an HTML page");
        }
        if name.contains("error") || name.contains("fault") {
            return Some("an error document");
        }
        None
    };
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                if let Some(what) = look(&e, depth) {
                    return Some(what);
                }
                roots += usize::from(depth == 0);
                depth += 1;
            }
            Ok(Event::Empty(e)) => {
                if let Some(what) = look(&e, depth) {
                    return Some(what);
                }
                roots += usize::from(depth == 0);
            }
            Ok(Event::End(_)) => depth = depth.saturating_sub(1),
            Ok(Event::Eof) if depth == 0 && roots == 1 => return None,
            Ok(Event::Eof) => return Some("an XML document cut short"),
            Ok(_) => {}
            Err(_) => return Some("not XML, or malformed"),
        }
    }
}

/// The local name of the root element.
pub(crate) fn root_name(body: &str) -> Result<String, ParseError> {
    let body = without_bom(body);
    let mut reader = strict_reader(body);
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
                return Ok(e.local_name().into_inner().to_owned());
            }
            Ok(Event::Eof) => return Err(ParseError("empty document".into())),
            Ok(_) => {}
            Err(e) => return Err(not_xml(e)),
        }
    }
}

/// Deepest element nesting accepted inside one order (the documented shape needs 5).
const MAX_ORDER_DEPTH: usize = 24;

/// Parses a `GET /salesorders` body (either shape) into orders. A body that is not XML, or has
/// another root, fails whole; inside it, each order element is parsed on its own, and one that
/// does not parse is returned in `unparseable` with its reason while the others parse.
///
/// An answer that is *almost* readable is read (see docs/decisions.md, "Almost readable
/// answers"): an `&` that starts no reference is read as the character itself, and an order
/// holding one is flagged; text that was not UTF-8 arrives here with U+FFFD in place of the bad
/// bytes (the client decodes lossily), and an order holding one is flagged. Both are refused in
/// the identifiers that go back to Overstock (order and line numbers, SKU).
pub fn parse_sales_orders(body: &str) -> Result<OrderPage, ParseError> {
    let body = without_bom(body);
    let root = root_name(body)?;
    if root != "processedSalesOrderTypeList" && root != "processedSalesOrderMessage" {
        return Err(ParseError(unexpected_root(&root)));
    }
    match split_orders(body) {
        Ok((total, fragments)) => parse_fragments(body, total, fragments, &[]),
        Err(first) => {
            let (repaired, at) = repair_lone_ampersands(body);
            if at.is_empty() {
                return Err(first);
            }
            let (total, fragments) = split_orders(&repaired)?;
            parse_fragments(&repaired, total, fragments, &at)
        }
    }
}

/// The body with each `&` that starts no entity or character reference written as `&amp;`, and
/// where (byte offsets in the new body) it did so.
fn repair_lone_ampersands(body: &str) -> (String, Vec<usize>) {
    let bytes = body.as_bytes();
    let mut out = String::with_capacity(body.len() + 16);
    let mut at = Vec::new();
    let mut last = 0;
    for (i, _) in body.match_indices('&') {
        let rest = &bytes[i + 1..];
        let name_len = rest.iter().take(32).take_while(|b| b.is_ascii_alphanumeric() || **b == b'#').count();
        let is_reference = name_len > 0 && rest.get(name_len) == Some(&b';');
        if !is_reference {
            out.push_str(&body[last..i]);
            at.push(out.len());
            out.push_str("&amp;");
            last = i + 1;
        }
    }
    out.push_str(&body[last..]);
    (out, at)
}

fn parse_fragments(
    body: &str,
    total: Option<String>,
    fragments: Vec<&str>,
    repaired_at: &[usize],
) -> Result<OrderPage, ParseError> {
    let mut orders = Vec::with_capacity(fragments.len());
    let mut unparseable = Vec::new();
    for (i, fragment) in fragments.into_iter().enumerate() {
        match parse_order_fragment(fragment) {
            Ok(mut o) => {
                let start = (fragment.as_ptr() as usize).saturating_sub(body.as_ptr() as usize);
                if repaired_at.iter().any(|p| (start..start + fragment.len()).contains(p)) {
                    o.wire_notes
                        .push("Overstock's text held an '&' that starts no reference: read as the character".into());
                }
                orders.push(o)
            }
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
        Some(t) => t.parse::<usize>().map_err(|_| ParseError("totalCount: not a count".into()))?,
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
    let mut reader = strict_reader(body);
    let mut depth = 0usize;
    let mut total = None;
    let mut fragments = Vec::new();
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
                            fragments.push(cut(body, start, end)?);
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
                fragments.push(cut(body, start, end)?);
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

/// The text of one order element, `body[start..end]` at the reader's positions. The cut is
/// checked, never trusted: it must be one element, from its `<` to its `>`. A cut that is not
/// (the reader counted from another first byte) fails the whole answer, which is then read in
/// smaller windows, instead of setting apart every order as "not well-formed".
fn cut(body: &str, start: usize, end: usize) -> Result<&str, ParseError> {
    let out_of_place = || ParseError("an order element the reader could not cut out whole".into());
    let text = body.get(start..end).ok_or_else(out_of_place)?;
    if text.starts_with('<') && text.ends_with('>') { Ok(text) } else { Err(out_of_place()) }
}

/// Every attribute of a start tag well-formed (`name="value"`, no name twice). quick-xml reads an
/// attribute only when asked: unchecked, a start tag with a stray `</x` in it would pass and the
/// text after it be read as the element's value.
fn check_attributes(e: &quick_xml::events::BytesStart) -> Result<(), ParseError> {
    for a in e.attributes().with_checks(true) {
        a.map_err(|e| not_xml(quick_xml::Error::InvalidAttr(e)))?;
    }
    Ok(())
}

/// Depth of the deepest element of a fragment, stopping past `limit`; every start tag's
/// attributes checked on the way.
fn depth_exceeds(fragment: &str, limit: usize) -> Result<bool, ParseError> {
    let mut reader = strict_reader(fragment);
    let mut depth = 0usize;
    loop {
        match reader.read_event().map_err(not_xml)? {
            Event::Empty(e) => check_attributes(&e)?,
            Event::Start(e) => {
                check_attributes(&e)?;
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
    let mut order = convert_order(wire)?;
    if fragment.contains(char::REPLACEMENT_CHARACTER) {
        order.wire_notes.push("Overstock's text held bytes that are not UTF-8: stored as U+FFFD".into());
    }
    Ok(order)
}

/// An identifier that goes back to Overstock: no control character, no U+FFFD (a byte that was
/// not UTF-8: what Overstock holds is not known).
fn identifier(field: &str, v: &str) -> Result<(), ParseError> {
    if crate::domain::text::has_control(v) {
        return Err(ParseError(format!("{field}: holds a control character")));
    }
    if v.contains(char::REPLACEMENT_CHARACTER) {
        return Err(ParseError(format!("{field}: holds bytes that are not UTF-8")));
    }
    Ok(())
}

/// A deserializer error without any document text in it (it could be a name or an address).
fn describe_de_error(e: &quick_xml::DeError) -> String {
    use quick_xml::DeError;
    match e {
        DeError::Custom(m) if !m.contains('"') => m.chars().take(200).collect(),
        DeError::InvalidXml(x) => describe_xml_error(x),
        DeError::UnexpectedEof => "truncated".into(),
        _ => "an element of an unexpected shape".into(),
    }
}

/// The order number and creation time of an order element that does not parse, read as
/// tolerantly as possible (so it can be listed and read again).
fn identify(fragment: &str) -> (Option<String>, Option<DateTime<Utc>>) {
    let mut reader = strict_reader(fragment);
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
        Some(_) => Err(ParseError(format!("{field}: not a boolean"))),
    }
}

/// The largest amount per unit read without a flag.
pub const MAX_PLAIN_AMOUNT: Decimal = Decimal::from_parts(99_999_999, 0, 0, false, 2);

/// A money amount: exact decimal. Read as written whenever it is a number, and flagged (a note
/// naming the line and the element, never the value) when it is doubtful: exponent notation,
/// more than two decimals (kept exact up to 28; more are rounded, and flagged), or above
/// [`MAX_PLAIN_AMOUNT`]. Not a number at all: the order does not parse.
fn parse_money(
    field: &str,
    s: Option<String>,
    line: &str,
    notes: &mut Vec<String>,
) -> Result<Option<Decimal>, ParseError> {
    let Some(v) = non_empty(s) else { return Ok(None) };
    let plain = {
        let digits = v.strip_prefix(['-', '+']).unwrap_or(&v);
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        !int.is_empty() && int.bytes().all(|b| b.is_ascii_digit()) && frac.bytes().all(|b| b.is_ascii_digit())
    };
    let mut doubt = |what: &str| notes.push(format!("line {line} {field}: {what}"));
    let amount = if plain {
        if v.split_once('.').is_some_and(|(_, f)| f.len() > 2) {
            doubt("more than two decimals");
        }
        Decimal::from_str(&v).map_err(|_| ParseError(format!("{field}: not a decimal amount")))?
    } else {
        let d = Decimal::from_scientific(&v).map_err(|_| ParseError(format!("{field}: not a decimal amount")))?;
        doubt("written in exponent notation");
        d
    };
    if amount.abs() > MAX_PLAIN_AMOUNT {
        doubt("larger than 999999.99");
    }
    Ok(Some(amount))
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
    Err(ParseError(format!("{field}: not a timestamp")))
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
    identifier("salesChannelOrderNumber", &number)?;
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
    let mut wire_notes = Vec::new();
    let lines =
        w.lines.into_iter().map(|l| convert_line(l, &mut wire_notes)).collect::<Result<Vec<_>, _>>().map_err(ctx)?;
    // The line number is the key of every shipment, cancel and refund of the order: two lines
    // under one number cannot be told apart, so the order is set apart for a person.
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = lines.iter().find(|l| !seen.insert(l.line_number.as_str())) {
        return Err(ParseError(format!(
            "processedSalesOrderLine: two lines share the line number {}",
            crate::domain::text::escape(&dup.line_number)
        )));
    }
    // A provisional element: a value that does not read is noted and left out (the company's
    // calendar decides), never a reason to set the order apart.
    let expected_ship_date = match parse_timestamp("expectedShipDate", w.expected_ship_date) {
        Ok(t) => t,
        Err(_) => {
            wire_notes.push("expectedShipDate: not a timestamp (ignored)".to_owned());
            None
        }
    };
    // Echoed back in every shipment of the order: an identifier like the order number.
    let warehouse_code = non_empty(w.warehouse_name.and_then(|c| c.code));
    if let Some(code) = &warehouse_code {
        identifier("warehouseName/code", code)?;
    }
    Ok(SalesOrder {
        sales_channel_name: non_empty(w.sales_channel_name),
        order_date: parse_timestamp("orderDate", w.order_date).map_err(ctx)?,
        sofs_created_date: parse_timestamp("sofsCreatedDate", w.sofs_created_date).map_err(ctx)?,
        warehouse_code,
        ship_to: w.ship_to_address.map(convert_address),
        return_address: w.return_address.map(convert_address),
        shipping,
        overstock_order_id: non_empty(w.order_id),
        status: non_empty(w.status).map(|s| OverstockStatus::parse(&s)),
        action_required: parse_bool("actionRequired", w.action_required).map_err(ctx)?,
        lines,
        order_number,
        expected_ship_date,
        wire_notes,
    })
}

fn convert_line(l: WireLine, notes: &mut Vec<String>) -> Result<SalesOrderLine, ParseError> {
    let line_number = non_empty(l.sales_channel_line_number)
        .or(non_empty(l.sales_channel_line_id))
        .ok_or_else(|| ParseError("processedSalesOrderLine/salesChannelLineNumber: missing".into()))?;
    identifier("processedSalesOrderLine/salesChannelLineNumber", &line_number)?;
    let ctx = |e: ParseError| ParseError(format!("processedSalesOrderLine (line {line_number})/{}", e.0));
    let partner_sku = non_empty(l.partner_sku);
    if let Some(sku) = &partner_sku {
        identifier("partnerSKU", sku).map_err(ctx)?;
    }
    let quantity = non_empty(l.quantity)
        .ok_or_else(|| ParseError("quantity: missing".into()))
        .and_then(|q| q.parse::<u32>().map_err(|_| ParseError("quantity: not a count (0 to 4294967295)".into())))
        .map_err(ctx)?;
    Ok(SalesOrderLine {
        partner_sku,
        sales_channel_sku: non_empty(l.sales_channel_sku),
        barcode: non_empty(l.barcode),
        upc: non_empty(l.upc),
        quantity,
        item_price: parse_money("itemPrice", l.item_price, &line_number, notes).map_err(ctx)?,
        item_name: non_empty(l.item_name),
        line_status: non_empty(l.line_status),
        unit_cost: parse_money("unitCost", l.unit_cost, &line_number, notes).map_err(ctx)?,
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
    let body = without_bom(body);
    let root = root_name(body)?;
    if root != "errorResponse" {
        return Err(ParseError(unexpected_root(&root)));
    }
    let r: ErrorResponse = quick_xml::de::from_str(body).map_err(|e| ParseError(format!("errorResponse: {e}")))?;
    Ok(r.errors
        .into_iter()
        .map(|e| {
            let order_number = non_empty(e.sales_channel_order_number).unwrap_or_default();
            let line_number = non_empty(e.sales_channel_line_number);
            let sku = non_empty(e.partner_sku);
            // Overstock's text may quote the customer (name, street, phone): only its scrubbed
            // form is kept, here where it enters, so no log, summary, record or screen has more.
            let named = [order_number.as_str(), line_number.as_deref().unwrap_or(""), sku.as_deref().unwrap_or("")];
            let message = non_empty(e.message)
                .map(|m| crate::domain::text::scrub(&m, &named))
                .unwrap_or_else(|| "no message".into());
            super::RejectedElement { order_number, line_number, sku, message }
        })
        .collect())
}

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;
