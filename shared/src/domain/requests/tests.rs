use super::*;
use proptest::prelude::*;

/// (schema, example SQS event) per message type, as published.
const PUBLISHED: &[(&str, &str, &str)] = &[
    (
        "cancel",
        include_str!("../../../../docs/messages/cancel.v1.schema.json"),
        include_str!("../../../../events/cancel-request.json"),
    ),
    (
        "refund",
        include_str!("../../../../docs/messages/refund.v1.schema.json"),
        include_str!("../../../../events/refund-request.json"),
    ),
    (
        "rma_open",
        include_str!("../../../../docs/messages/rma_open.v1.schema.json"),
        include_str!("../../../../events/rma-open-request.json"),
    ),
    (
        "rma_receive",
        include_str!("../../../../docs/messages/rma_receive.v1.schema.json"),
        include_str!("../../../../events/rma-receive-request.json"),
    ),
    (
        "rma_close",
        include_str!("../../../../docs/messages/rma_close.v1.schema.json"),
        include_str!("../../../../events/rma-close-request.json"),
    ),
];

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}"))
}

fn example_body(event: &str) -> Value {
    json(json(event)["Records"][0]["body"].as_str().unwrap_or_else(|| panic!("a body")))
}

fn rejection(body: &Value) -> Rejection {
    match parse_request(&body.to_string()) {
        Err(r) => r,
        Ok(r) => panic!("accepted {r:?}"),
    }
}

#[test]
fn every_published_example_parses_as_its_type() {
    for (name, schema, event) in PUBLISHED {
        let body = example_body(event);
        let schema = json(schema);
        assert_eq!(schema["examples"][0], body, "{name}: the schema's example is the event's body");
        let r = parse_request(&body.to_string()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let matches = matches!(
            (&r.kind, *name),
            (RequestKind::Cancel(_), "cancel")
                | (RequestKind::Refund(_), "refund")
                | (RequestKind::RmaOpen { .. }, "rma_open")
                | (RequestKind::RmaReceive { .. }, "rma_receive")
                | (RequestKind::RmaClose { .. }, "rma_close")
        );
        assert!(matches, "{name}: {r:?}");
    }
}

/// The schema and the parser agree: every field the schema requires is refused when missing,
/// naming that field; every field the schema does not know is refused.
#[test]
fn the_schemas_required_fields_are_the_parsers() {
    for (name, schema, event) in PUBLISHED {
        let schema = json(schema);
        let body = example_body(event);
        for field in schema["required"].as_array().cloned().unwrap_or_default() {
            let field = field.as_str().unwrap_or_default();
            let mut without = body.clone();
            if let Some(m) = without.as_object_mut() {
                m.remove(field);
            }
            assert_eq!(rejection(&without).field, field, "{name} without {field}");
        }
        let properties = schema["properties"].as_object().cloned().unwrap_or_default();
        for key in body.as_object().cloned().unwrap_or_default().keys() {
            assert!(properties.contains_key(key), "{name}: the example uses {key}, which the schema does not list");
        }
        let mut extra = body.clone();
        extra["ammount"] = json("\"1.00\"");
        assert_eq!(rejection(&extra), Rejection { field: "ammount".into(), reason: "unknown field".into() }, "{name}");
    }
}

#[test]
fn money_is_an_exact_decimal_string_with_two_places_at_most() {
    for ok in ["0", "44.99", "12.5", "0.01", "9999999.99", "007.10"] {
        assert!(Money::parse(ok).is_ok(), "{ok}");
    }
    for bad in ["-1", "-0.01", "1.999", "1e3", " 4", "4 ", "", ".5", "5.", "1,50", "NaN", "10000000", "0x10", "+1"] {
        assert!(Money::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(Money::parse("12.5").map(|m| m.to_string()), Ok("12.50".to_owned()));
}

#[test]
fn each_kind_of_bad_message_gets_a_specific_reason() {
    let refund = example_body(PUBLISHED[1].2);
    let with = |path: &[&str], v: &str| {
        let mut b = refund.clone();
        let mut cur = &mut b;
        for p in &path[..path.len() - 1] {
            cur = match p.parse::<usize>() {
                Ok(i) => &mut cur[i],
                Err(_) => &mut cur[*p],
            };
        }
        cur[path[path.len() - 1]] = json(v);
        rejection(&b)
    };
    assert_eq!(
        with(&["lines", "0", "amount"], "44.99").reason,
        "amounts are strings holding an exact decimal, like \"44.99\""
    );
    assert_eq!(with(&["lines", "0", "amount"], "\"-5.00\"").reason, "negative amounts are not allowed");
    assert_eq!(with(&["lines", "0", "amount"], "\"1.005\"").field, "lines[0].amount");
    assert_eq!(with(&["lines", "0", "quantity"], "0").reason, "must be at least 1");
    assert_eq!(with(&["lines", "0", "quantity"], "-1").field, "lines[0].quantity");
    assert_eq!(with(&["version"], "2").reason, "2 is newer than this connector supports (1)");
    assert_eq!(with(&["type"], "\"void\"").field, "type");
    assert_eq!(with(&["reason"], "\"BECAUSE\"").field, "reason");
    assert_eq!(with(&["company_id"], "\"Acme Inc\"").field, "company_id");
    assert_eq!(with(&["request_id"], "\"a b\"").field, "request_id");
    assert_eq!(with(&["lines", "0", "line"], "\"1 OR 1\"").field, "lines[0].line");
    let mut nothing = refund.clone();
    nothing["lines"] = json("[]");
    nothing["shipping_amount"] = json("\"0\"");
    assert_eq!(rejection(&nothing).field, "lines");
    assert_eq!(parse_request("{\"type\": ").err().map(|r| r.field), Some("message".to_owned()));
    assert_eq!(parse_request("[1,2]").err().map(|r| r.reason), Some("must be a JSON object".to_owned()));
    let cancel_all = parse_request(
        &{
            let mut c = example_body(PUBLISHED[0].2);
            if let Some(m) = c.as_object_mut() {
                m.remove("lines");
            }
            c
        }
        .to_string(),
    );
    assert!(
        matches!(cancel_all, Ok(Request { kind: RequestKind::Cancel(CancelRequest { ref lines, local_only: false, .. }), .. }) if lines.is_empty())
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// 1,000 hostile bodies: arbitrary text, and published examples with text spliced in
    /// anywhere. Never a panic; a refusal always names a field and a reason.
    #[test]
    fn hostile_messages_never_panic_and_every_refusal_says_why(noise in ".{0,200}", at in 0usize..600, which in 0usize..5) {
        for body in [noise.clone(), {
            let b = example_body(PUBLISHED[which].2).to_string();
            let at = (0..=at.min(b.len())).rev().find(|i| b.is_char_boundary(*i)).unwrap_or(0);
            format!("{}{noise}{}", &b[..at], &b[at..])
        }] {
            if let Err(r) = parse_request(&body) {
                prop_assert!(!r.field.is_empty() && !r.reason.is_empty(), "{r:?}");
            }
        }
    }
}

/// A key named twice anywhere in a body is refused with its path, in every message type (the
/// intake messages share the same reader).
#[test]
fn a_key_given_twice_is_refused_in_every_message() {
    for (name, _, event) in PUBLISHED {
        let body = example_body(event).to_string();
        let twice = body.replacen("\"company_id\":", "\"company_id\":\"other\",\"company_id\":", 1);
        assert_ne!(twice, body, "{name}");
        let r = parse_request(&twice).err();
        assert!(r.as_ref().is_some_and(|r| r.field == "company_id" && r.reason.contains("twice")), "{name}: {r:?}");
    }
    let refund = example_body(PUBLISHED[1].2).to_string();
    let nested = refund.replacen("\"line\":", "\"line\":\"9\",\"line\":", 1);
    let r = parse_request(&nested).err();
    assert!(r.as_ref().is_some_and(|r| r.field == "lines[0].line"), "{r:?}");
    let intake = r#"{"type":"inventory_update","version":1,"company_id":"acme","sku":"A","sku":"B","available":1,"counted_at":"2026-11-27T10:00:00Z"}"#;
    let now = chrono::Utc::now();
    let r = crate::domain::inventory::parse_intake(intake, now).err();
    assert!(r.as_ref().is_some_and(|r| r.field == "sku"), "{r:?}");
}

/// Control characters are refused where they enter, with the field named: in identifiers and
/// codes always, in refund notes except line breaks and tabs (which XML carries).
#[test]
fn control_characters_are_refused_where_they_enter() {
    let refund = example_body(PUBLISHED[1].2);
    for (field, value) in [
        ("notes", "call me \u{1b}[2J back"),
        ("notes", "bell\u{7}"),
        ("notes", "\u{202e}reversed"),
        ("request_id", "r-\u{1b}1"),
        ("requested_by", "erp\u{0}"),
    ] {
        let mut body = refund.clone();
        body[field] = Value::String(value.into());
        let r = parse_request(&body.to_string()).err();
        assert!(
            r.as_ref().is_some_and(|r| r.field == field && r.reason.contains("control character")),
            "{field}: {r:?}"
        );
        assert!(r.is_some_and(|r| !crate::domain::text::has_control(&r.reason)));
    }
    let mut body = refund.clone();
    body["notes"] = Value::String("line one\r\nline two\tend".into());
    assert!(parse_request(&body.to_string()).is_ok(), "line breaks and tabs are text");
    let mut body = refund;
    body["order_number"] = Value::String("OSTK\u{1b}1".into());
    assert!(parse_request(&body.to_string()).err().is_some_and(|r| r.field == "order_number"));
}
