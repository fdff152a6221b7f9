//! The `shipment` message: a package the seller's warehouse shipped, sent by its systems (the
//! door in for tracking). Parsed strictly, like every message from other systems: each refusal
//! names the field and says why, nothing is guessed. Recorded through the same rule as
//! `overstockctl ship` ([`super::order::Order::record_sender_shipment`]).

use super::requests::{Fields, Rejection, reject};
use super::shipment::ShipmentRequest;
use super::{CompanyId, OrderNumber};
use chrono::{DateTime, Utc};

/// The versions of the message this connector reads.
pub const SHIPMENT_VERSION: u64 = 1;
/// Lines in one package at most.
const MAX_LINES: usize = 500;
/// The longest package id a sender may choose.
pub const MAX_PACKAGE_ID: usize = 64;

/// One package as the warehouse reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipmentMessage {
    pub company_id: CompanyId,
    pub order_number: OrderNumber,
    /// The sender's id for the package: the idempotency key (the same id again is the same
    /// package).
    pub package_id: String,
    pub request: ShipmentRequest,
    /// The carrier has the parcel already: its tracking is sent without the company's tracking
    /// hold.
    pub send_now: bool,
    /// Who sent it (a system's or a person's name), for the audit trail.
    pub sent_by: Option<String>,
}

impl ShipmentMessage {
    /// What the package says, written one way only: two messages with the same package id say
    /// the same thing exactly when these are equal (line order and repeated lines aside).
    pub fn content(&self) -> String {
        let mut lines: Vec<(String, u64)> = Vec::new();
        for (line, quantity) in &self.request.lines {
            match lines.iter_mut().find(|(l, _)| l == line) {
                Some((_, q)) => *q += u64::from(*quantity),
                None => lines.push((line.clone(), u64::from(*quantity))),
            }
        }
        lines.sort();
        let lines: Vec<String> = lines.iter().map(|(l, q)| format!("{l}x{q}")).collect();
        serde_json::json!({
            "lines": lines,
            "tracking": self.request.tracking_number.trim(),
            "carrier": self.request.carrier_code.as_deref().map(str::trim),
            "method": self.request.shipping_method.as_deref().map(str::trim),
            "ship_date": super::utc_key(self.request.ship_date),
        })
        .to_string()
    }
}

/// A package id chosen by the sender: 1 to 64 letters, digits or `-_.:/#` (what order systems
/// and warehouse systems use), nothing else.
fn package_id(s: &str) -> Result<String, String> {
    let t = s.trim();
    if t.is_empty() || t.chars().count() > MAX_PACKAGE_ID {
        return Err(format!("1 to {MAX_PACKAGE_ID} characters"));
    }
    if !t.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '/' | '#')) {
        return Err("only letters, digits and - _ . : / # are allowed".into());
    }
    Ok(t.to_owned())
}

/// Parses one `shipment` message (version 1). The domain rule checks the rest when the package
/// is recorded (the order's lines and what is open, the tracking number, the carrier code, the
/// ship date against the order and now).
pub fn parse_shipment(body: &str) -> Result<ShipmentMessage, Rejection> {
    let mut f = Fields::of_body(body)?;
    let (kind, _version) = f.kind_and_version(SHIPMENT_VERSION)?;
    if kind != "shipment" {
        return reject("type", format!("{:?} is not a shipment", super::text::escape(&kind)));
    }
    let company = f.required_string("company_id", 64)?;
    let company_id = CompanyId::parse(&company).or_else(|e| reject("company_id", e.reason))?;
    let number = f.required_string("order_number", 128)?;
    let order_number = OrderNumber::parse(&number).or_else(|e| reject("order_number", e.reason))?;
    let raw_id = f.required_string("package_id", MAX_PACKAGE_ID)?;
    let package_id = package_id(&raw_id).or_else(|r| reject("package_id", r))?;
    let mut lines = Vec::new();
    let objects = f.required_objects("lines", MAX_LINES)?;
    if objects.is_empty() {
        return reject("lines", "a package holds at least one line");
    }
    for mut l in objects {
        let line = l.line()?;
        let quantity =
            l.quantity("quantity")?.ok_or_else(|| Rejection { field: l.path("quantity"), reason: "missing".into() })?;
        l.done()?;
        lines.push((line, quantity));
    }
    let tracking_number = f.required_string("tracking_number", 40)?;
    let carrier_code = f.string("carrier_code", 20)?;
    let shipping_method = f.string("shipping_method", 200)?;
    if carrier_code.is_some() && shipping_method.is_some() {
        return reject("carrier_code", "give a carrier code or a shipping method, not both");
    }
    let ship_date: DateTime<Utc> =
        f.timestamp("ship_date")?.ok_or_else(|| Rejection { field: "ship_date".into(), reason: "missing".into() })?;
    let send_now = f.flag("send_now")?;
    let sent_by = f.string("sent_by", 128)?;
    f.done()?;
    Ok(ShipmentMessage {
        company_id,
        order_number,
        package_id,
        request: ShipmentRequest { lines, carrier_code, shipping_method, tracking_number, ship_date },
        send_now,
        sent_by,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    fn example() -> Value {
        json!({"type": "shipment", "version": 1, "company_id": "acme", "order_number": "OSTK-1",
               "package_id": "WMS-88-1", "lines": [{"line": "1", "quantity": 2}, {"line": "2", "quantity": 1}],
               "tracking_number": "1Z999AA10123456784", "carrier_code": "UPS",
               "ship_date": "2026-11-27T15:04:05Z", "send_now": true, "sent_by": "wms"})
    }

    #[test]
    fn the_schemas_example_reads() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/messages/shipment.v1.schema.json"))
                .unwrap_or_default();
        let schema: Value = serde_json::from_str(&text).unwrap_or_default();
        let examples = schema["examples"].as_array().cloned().unwrap_or_default();
        assert!(!examples.is_empty(), "the schema holds an example");
        for e in examples {
            let m = parse_shipment(&e.to_string()).unwrap_or_else(|r| panic!("{}: {}", r.field, r.reason));
            assert_eq!(m.request.lines.len(), 2);
        }
        let m = parse_shipment(&example().to_string()).unwrap_or_else(|r| panic!("{}: {}", r.field, r.reason));
        assert_eq!((m.package_id.as_str(), m.send_now, m.sent_by.as_deref()), ("WMS-88-1", true, Some("wms")));
        assert_eq!(m.request.lines, [("1".to_owned(), 2), ("2".to_owned(), 1)]);
    }

    #[test]
    fn each_bad_field_is_refused_by_name() {
        let with = |key: &str, v: Value| {
            let mut e = example();
            e[key] = v;
            parse_shipment(&e.to_string()).err().map(|r| r.field).unwrap_or_default()
        };
        let without = |key: &str| {
            let mut e = example();
            e.as_object_mut().map(|o| o.remove(key));
            parse_shipment(&e.to_string()).err().map(|r| r.field).unwrap_or_default()
        };
        assert_eq!(with("type", json!("refund")), "type");
        assert_eq!(with("version", json!(2)), "version");
        assert_eq!(with("company_id", json!("Acme Co")), "company_id");
        assert_eq!(with("package_id", json!("a b")), "package_id");
        assert_eq!(with("package_id", json!("x".repeat(65))), "package_id");
        assert_eq!(with("package_id", json!("P\u{202e}1")), "package_id");
        assert_eq!(with("lines", json!([])), "lines");
        assert_eq!(with("lines", json!([{"line": "1", "quantity": 0}])), "lines[0].quantity");
        assert_eq!(with("lines", json!([{"line": "1"}])), "lines[0].quantity");
        assert_eq!(with("lines", json!([{"line": "1", "quantity": 1, "qty": 2}])), "lines[0].qty");
        assert_eq!(with("lines", json!([{"line": "1 ", "quantity": 1}])), "lines[0].line");
        assert_eq!(with("shipping_method", json!("Ground")), "carrier_code");
        assert_eq!(with("ship_date", json!("2026-11-27 15:04")), "ship_date");
        assert_eq!(with("send_now", json!("yes")), "send_now");
        assert_eq!(with("extra", json!(1)), "extra");
        for key in ["company_id", "order_number", "package_id", "lines", "tracking_number", "ship_date"] {
            assert_eq!(without(key), key, "{key} is required");
        }
        let twice = example().to_string().replacen("\"package_id\"", "\"package_id\":\"A\",\"package_id\"", 1);
        assert_eq!(parse_shipment(&twice).err().map(|r| r.field).unwrap_or_default(), "package_id");
    }

    #[test]
    fn the_same_package_says_the_same_thing_however_its_lines_are_written() {
        let m = |lines: Value| {
            let mut e = example();
            e["lines"] = lines;
            parse_shipment(&e.to_string()).unwrap_or_else(|r| panic!("{}: {}", r.field, r.reason)).content()
        };
        let a = m(json!([{"line": "1", "quantity": 2}, {"line": "2", "quantity": 1}]));
        assert_eq!(
            a,
            m(json!([{"line": "2", "quantity": 1}, {"line": "1", "quantity": 1}, {"line": "1", "quantity": 1}]))
        );
        assert_ne!(a, m(json!([{"line": "1", "quantity": 1}, {"line": "2", "quantity": 1}])));
    }

    proptest! {
        /// Any message built from valid parts reads back to what was written; any one field
        /// replaced by a value of the wrong kind is refused naming that field.
        #[test]
        fn valid_messages_read_back_and_a_wrong_field_is_named(
            id in "[A-Za-z0-9][A-Za-z0-9_.:/#-]{0,30}",
            lines in proptest::collection::vec(("[0-9]{1,3}", 1u32..1000), 1..6),
            tracking in "[A-Z0-9]{1,30}",
            secs in 0i64..4_000_000_000,
            send_now in any::<bool>(),
            broken in 0usize..7,
        ) {
            let ship_date = DateTime::from_timestamp(secs, 0).unwrap_or_default();
            let mut e = json!({"type": "shipment", "version": 1, "company_id": "acme", "order_number": "O-1",
                "package_id": id, "lines": lines.iter().map(|(l, q)| json!({"line": l, "quantity": q})).collect::<Vec<_>>(),
                "tracking_number": tracking, "ship_date": super::super::utc_key(ship_date), "send_now": send_now});
            let m = parse_shipment(&e.to_string());
            prop_assert!(m.is_ok(), "{:?}", m.err());
            let m = m.unwrap_or_else(|_| unreachable!());
            prop_assert_eq!(&m.package_id, &id);
            prop_assert_eq!(&m.request.lines, &lines);
            prop_assert_eq!(m.request.ship_date, ship_date);
            prop_assert_eq!(m.send_now, send_now);
            let (key, bad) = [
                ("package_id", json!(7)),
                ("lines", json!("1")),
                ("tracking_number", json!(["x"])),
                ("ship_date", json!(secs)),
                ("send_now", json!(1)),
                ("company_id", json!(null)),
                ("order_number", json!({})),
            ][broken].clone();
            e[key] = bad;
            let refused = parse_shipment(&e.to_string());
            prop_assert_eq!(refused.err().map(|r| r.field), Some(key.to_owned()));
        }
    }
}
