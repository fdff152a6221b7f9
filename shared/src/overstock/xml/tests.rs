//! Parser tests: every field listed in the API doc, both shapes, LTL, unknown elements, order.

use super::*;
use rust_decimal::Decimal;

const CURRENT: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<processedSalesOrderTypeList xmlns:ns2="api.supplieroasis.com">
  <totalCount>2</totalCount>
  <list>
    <ns2:salesChannelOrderNumber>OSTK-77310562</ns2:salesChannelOrderNumber>
    <ns2:salesChannelName>OSTK</ns2:salesChannelName>
    <ns2:orderDate>2026-11-26T08:58:41.000-07:00</ns2:orderDate>
    <ns2:sofsCreatedDate>2026-11-26T09:01:02.000-07:00</ns2:sofsCreatedDate>
    <ns2:retailChannelCode>OSTK-US</ns2:retailChannelCode>
    <ns2:warehouseName><ns2:code>ACME MAIN</ns2:code></ns2:warehouseName>
    <ns2:shipToAddress>
      <ns2:contactName>Jane Doe</ns2:contactName><ns2:address1>1 Main St</ns2:address1><ns2:address2/>
      <ns2:city>Salt Lake City</ns2:city><ns2:stateOrProvince>UT</ns2:stateOrProvince>
      <ns2:postalCode>84101</ns2:postalCode><ns2:countryCode>US</ns2:countryCode><ns2:phone>801-555-0100</ns2:phone>
    </ns2:shipToAddress>
    <ns2:returnAddress>
      <ns2:contactName>Acme Returns</ns2:contactName><ns2:address1>9 Dock Rd</ns2:address1><ns2:address2>Bay 4</ns2:address2>
      <ns2:city>Ogden</ns2:city><ns2:stateOrProvince>UT</ns2:stateOrProvince>
      <ns2:postalCode>84401</ns2:postalCode><ns2:countryCode>US</ns2:countryCode><ns2:phone>801-555-0199</ns2:phone>
    </ns2:returnAddress>
    <ns2:shippingSpecifications>
      <ns2:isThirdPartyBilling>false</ns2:isThirdPartyBilling>
      <ns2:isSignatureRequired>true</ns2:isSignatureRequired>
      <ns2:isDeclaredValueRequired>false</ns2:isDeclaredValueRequired>
      <ns2:smallParcelShipment>
        <ns2:shippingServiceLevel><ns2:code>next_day</ns2:code></ns2:shippingServiceLevel>
      </ns2:smallParcelShipment>
      <ns2:isExport>false</ns2:isExport>
    </ns2:shippingSpecifications>
    <ns2:orderId>90412231</ns2:orderId>
    <ns2:status>ENTERED</ns2:status>
    <ns2:actionRequired>true</ns2:actionRequired>
    <ns2:processedSalesOrderLine>
      <ns2:salesChannelLineNumber>1</ns2:salesChannelLineNumber>
      <ns2:partnerSKU>ACME-CHAIR-BLK</ns2:partnerSKU>
      <ns2:salesChannelSKU>28841920-000-000</ns2:salesChannelSKU>
      <ns2:barcode>0123456789012</ns2:barcode><ns2:upc>012345678905</ns2:upc>
      <ns2:quantity>2</ns2:quantity>
      <ns2:itemPrice>89.99</ns2:itemPrice>
      <ns2:itemName>Chair, black</ns2:itemName>
      <ns2:lineStatus>SHIPPED</ns2:lineStatus>
      <ns2:unitCost>61.20</ns2:unitCost><ns2:unitCostCurrencyCode>USD</ns2:unitCostCurrencyCode>
      <ns2:firstCost>1.00</ns2:firstCost>
    </ns2:processedSalesOrderLine>
    <ns2:notes>leave at door</ns2:notes>
    <ns2:processedSalesOrderLine>
      <ns2:quantity>1</ns2:quantity>
      <ns2:salesChannelLineNumber>2</ns2:salesChannelLineNumber>
      <ns2:itemPrice>0.10</ns2:itemPrice>
    </ns2:processedSalesOrderLine>
  </list>
  <list>
    <ns2:status>canceled</ns2:status>
    <ns2:shippingSpecifications>
      <ns2:isExport>false</ns2:isExport>
      <ns2:freightShipment>
        <ns2:carrierInfo><ns2:name>X</ns2:name></ns2:carrierInfo>
        <ns2:ltlServiceLevel><ns2:code>DOCK</ns2:code></ns2:ltlServiceLevel>
      </ns2:freightShipment>
    </ns2:shippingSpecifications>
    <ns2:salesChannelOrderNumber>OSTK-2</ns2:salesChannelOrderNumber>
    <ns2:processedSalesOrderLine>
      <ns2:salesChannelLineNumber>1</ns2:salesChannelLineNumber>
      <ns2:quantity>1</ns2:quantity>
    </ns2:processedSalesOrderLine>
  </list>
</processedSalesOrderTypeList>"#;

const OLD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<processedSalesOrderMessage xmlns="api.supplieroasis.com">
  <processedSalesOrder>
    <salesChannelOrderNumber>OSTK-OLD-1</salesChannelOrderNumber>
    <salesChannelName>OSTK</salesChannelName>
    <sofsCreatedDate>2026-07-01T10:00:00</sofsCreatedDate>
    <warehouseName><code>ACME MAIN</code></warehouseName>
    <shippingSpecifications>
      <smallParcelShipment><shippingServiceLevel><code>GROUND</code></shippingServiceLevel></smallParcelShipment>
    </shippingSpecifications>
    <status>ACKNOWLEDGED</status>
    <processedSalesOrderLine>
      <salesChannelLineId>7</salesChannelLineId>
      <quantity>3</quantity>
      <itemPrice>10.00</itemPrice>
    </processedSalesOrderLine>
  </processedSalesOrder>
  <processedSalesOrder>
    <salesChannelOrderNumber>OSTK-OLD-2</salesChannelOrderNumber>
    <shippingSpecifications><ltlServiceLevel><code>DOCK</code></ltlServiceLevel></shippingSpecifications>
  </processedSalesOrder>
</processedSalesOrderMessage>"#;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).map(|d| d.with_timezone(&Utc)).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn parse(body: &str) -> OrderPage {
    parse_sales_orders(body).unwrap_or_else(|e| panic!("parse: {e}"))
}

#[test]
fn current_shape_every_header_field() {
    let page = parse(CURRENT);
    assert_eq!(page.total_count, 2);
    assert_eq!(page.orders.len(), 2);
    let o = &page.orders[0];
    assert_eq!(o.order_number.as_str(), "OSTK-77310562");
    assert_eq!(o.sales_channel_name.as_deref(), Some("OSTK"));
    assert_eq!(o.order_date, Some(utc("2026-11-26T15:58:41Z")));
    assert_eq!(o.sofs_created_date, Some(utc("2026-11-26T16:01:02Z")));
    assert_eq!(o.warehouse_code.as_deref(), Some("ACME MAIN"));
    assert_eq!(o.overstock_order_id.as_deref(), Some("90412231"));
    assert_eq!(o.status, Some(OverstockStatus::Entered));
    assert_eq!(o.action_required, Some(true));
}

#[test]
fn current_shape_addresses() {
    let o = &parse(CURRENT).orders[0];
    let ship = o.ship_to.clone().unwrap_or_default();
    assert_eq!(ship.contact_name.as_deref(), Some("Jane Doe"));
    assert_eq!(ship.address1.as_deref(), Some("1 Main St"));
    assert_eq!(ship.address2, None, "empty element is absent");
    assert_eq!(ship.city.as_deref(), Some("Salt Lake City"));
    assert_eq!(ship.state_or_province.as_deref(), Some("UT"));
    assert_eq!(ship.postal_code.as_deref(), Some("84101"));
    assert_eq!(ship.country_code.as_deref(), Some("US"));
    assert_eq!(ship.phone.as_deref(), Some("801-555-0100"));
    let ret = o.return_address.clone().unwrap_or_default();
    assert_eq!(ret.contact_name.as_deref(), Some("Acme Returns"));
    assert_eq!(ret.address2.as_deref(), Some("Bay 4"));
    assert_eq!(ret.city.as_deref(), Some("Ogden"));
    assert_eq!(ret.postal_code.as_deref(), Some("84401"));
}

#[test]
fn current_shape_shipping_specifications() {
    let o = &parse(CURRENT).orders[0];
    assert_eq!(o.shipping.is_third_party_billing, Some(false));
    assert_eq!(o.shipping.is_signature_required, Some(true));
    assert_eq!(o.shipping.is_declared_value_required, Some(false));
    assert_eq!(o.shipping.is_export, Some(false));
    let sl = o.shipping.service_level.clone();
    assert_eq!(sl.as_ref().map(|s| s.code.as_str()), Some("NEXT_DAY"), "code upper-cased");
    assert_eq!(sl.map(|s| s.freight), Some(false));
}

#[test]
fn current_shape_every_line_field_and_interleaved_lines() {
    let o = &parse(CURRENT).orders[0];
    assert_eq!(o.lines.len(), 2, "lines separated by an unknown element are both kept");
    let l = &o.lines[0];
    assert_eq!(l.line_number, "1");
    assert_eq!(l.partner_sku.as_deref(), Some("ACME-CHAIR-BLK"));
    assert_eq!(l.sales_channel_sku.as_deref(), Some("28841920-000-000"));
    assert_eq!(l.barcode.as_deref(), Some("0123456789012"));
    assert_eq!(l.upc.as_deref(), Some("012345678905"));
    assert_eq!(l.quantity, 2);
    assert_eq!(l.item_price, Some(dec("89.99")));
    assert_eq!(l.item_name.as_deref(), Some("Chair, black"));
    assert_eq!(l.line_status.as_deref(), Some("SHIPPED"));
    assert_eq!(l.unit_cost, Some(dec("61.20")));
    assert_eq!(l.unit_cost_currency_code.as_deref(), Some("USD"));
    assert_eq!(o.lines[1].line_number, "2");
    assert_eq!(o.lines[1].item_price, Some(dec("0.10")), "exact decimal");
}

#[test]
fn ltl_order_under_unknown_parent_and_any_order_of_elements() {
    let o = &parse(CURRENT).orders[1];
    assert_eq!(o.order_number.as_str(), "OSTK-2");
    assert_eq!(o.status, Some(OverstockStatus::Cancelled));
    let sl = o.shipping.service_level.clone();
    assert_eq!(sl.as_ref().map(|s| s.code.as_str()), Some("DOCK"));
    assert_eq!(sl.map(|s| s.freight), Some(true));
}

#[test]
fn old_shape_with_line_ids_and_local_time() {
    let page = parse(OLD);
    assert_eq!(page.total_count, 2, "no totalCount: the count received");
    let o = &page.orders[0];
    assert_eq!(o.order_number.as_str(), "OSTK-OLD-1");
    assert_eq!(o.sofs_created_date, Some(utc("2026-07-01T16:00:00Z")), "no offset: Denver local (MDT)");
    assert_eq!(o.status, Some(OverstockStatus::Acknowledged));
    assert_eq!(o.lines[0].line_number, "7");
    assert_eq!(o.lines[0].quantity, 3);
    assert_eq!(o.service_level_code().map(|c| c.as_str()), Some("GROUND"));
    let ltl = &page.orders[1];
    assert_eq!(ltl.shipping.service_level.as_ref().map(|s| (s.code.as_str(), s.freight)), Some(("DOCK", true)));
}

#[test]
fn empty_list_and_truncated_count() {
    let empty = parse(
        r#"<processedSalesOrderTypeList xmlns:ns2="api.supplieroasis.com"><totalCount>0</totalCount></processedSalesOrderTypeList>"#,
    );
    assert_eq!((empty.total_count, empty.orders.len()), (0, 0));
    assert!(empty.is_complete());
    let capped = parse(
        r#"<processedSalesOrderTypeList><totalCount>5</totalCount><list><salesChannelOrderNumber>A</salesChannelOrderNumber></list></processedSalesOrderTypeList>"#,
    );
    assert_eq!((capped.total_count, capped.orders.len()), (5, 1));
    assert!(!capped.is_complete());
}

#[test]
fn bad_documents_are_clear_errors() {
    let err = |b: &str| parse_sales_orders(b).err().map(|e| e.0).unwrap_or_default();
    assert!(err("null").contains("not XML") || err("null").contains("empty"), "{}", err("null"));
    assert!(err("<errorResponse/>").contains("unexpected root"));
    assert!(
        err("<processedSalesOrderTypeList><list><salesChannelOrderNumber>A</salesChannelOrderNumber>")
            .contains("truncated")
            || !err("<processedSalesOrderTypeList><list><salesChannelOrderNumber>A</salesChannelOrderNumber>")
                .is_empty()
    );
    assert!(!err("<processedSalesOrderTypeList><list></processedSalesOrderTypeList>").is_empty(), "mismatched tags");
}

fn good(n: &str) -> String {
    format!(
        "<list><salesChannelOrderNumber>{n}</salesChannelOrderNumber><sofsCreatedDate>2026-11-26T09:01:02.000-07:00</sofsCreatedDate>\
         <shipToAddress><contactName>Jane Secret-Name</contactName><address1>1 Hidden St</address1></shipToAddress>\
         <processedSalesOrderLine><salesChannelLineNumber>1</salesChannelLineNumber><quantity>1</quantity><itemPrice>10.00</itemPrice></processedSalesOrderLine></list>"
    )
}

fn doc(total: usize, orders: &[String]) -> String {
    format!(
        "<processedSalesOrderTypeList xmlns:ns2=\"api.supplieroasis.com\"><totalCount>{total}</totalCount>{}</processedSalesOrderTypeList>",
        orders.concat()
    )
}

/// One poison order among good ones: the good ones parse, the bad one is set apart with the
/// element path and its number, never with a name or an address.
#[test]
fn a_poison_order_is_set_apart_and_the_others_parse() {
    let poisons = [
        ("quantity", good("P-1").replace("<quantity>1</quantity>", "<quantity>-3</quantity>"), "quantity"),
        (
            "huge quantity",
            good("P-1").replace("<quantity>1</quantity>", "<quantity>99999999999</quantity>"),
            "quantity",
        ),
        ("price", good("P-1").replace("<itemPrice>10.00</itemPrice>", "<itemPrice>12,50</itemPrice>"), "itemPrice"),
        (
            "no line number",
            good("P-1").replace("<salesChannelLineNumber>1</salesChannelLineNumber>", ""),
            "salesChannelLineNumber",
        ),
        ("shape", good("P-1").replace("<quantity>1</quantity>", "<quantity><x>1</x></quantity>"), "P-1"),
        ("entity", good("P-1").replace("Jane Secret-Name", "&xxe;"), "P-1"),
        (
            "deep",
            good("P-1")
                .replace("<contactName>", &format!("{}<contactName>", "<a>".repeat(40)))
                .replace("</contactName>", &format!("</contactName>{}", "</a>".repeat(40))),
            "nested",
        ),
    ];
    for (what, poison, names) in poisons {
        let page = parse(&doc(3, &[good("G-1"), poison, good("G-2")]));
        assert_eq!(page.orders.iter().map(|o| o.order_number.as_str()).collect::<Vec<_>>(), ["G-1", "G-2"], "{what}");
        assert_eq!(page.unparseable.len(), 1, "{what}");
        let u = &page.unparseable[0];
        assert_eq!(u.order_number.as_deref(), Some("P-1"), "{what}: {u:?}");
        assert!(u.created.is_some(), "{what}: where to read it again");
        assert!(u.reason.contains(names), "{what}: {}", u.reason);
        for secret in ["Jane", "Secret-Name", "Hidden"] {
            assert!(!u.reason.contains(secret), "{what}: {}", u.reason);
        }
        assert!(page.is_complete(), "{what}: the poison order counts as received");
    }
    let unnamed =
        parse(&doc(2, &[good("G-1"), good("X").replace("<salesChannelOrderNumber>X</salesChannelOrderNumber>", "")]));
    assert_eq!(unnamed.unparseable[0].order_number, None);
    assert!(
        unnamed.unparseable[0].reason.contains("order element 2")
            && unnamed.unparseable[0].reason.contains("salesChannelOrderNumber"),
        "{:?}",
        unnamed.unparseable
    );
}

/// A DOCTYPE with entity declarations expands nothing (no external or recursive entities).
#[test]
fn entity_declarations_are_not_expanded() {
    let body = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]>{}",
        doc(2, &[good("G-1"), good("E-1").replace("<itemPrice>10.00</itemPrice>", "<itemName>&b;</itemName>")])
    );
    let page = parse_sales_orders(&body).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(page.orders.len(), 1);
    assert_eq!(page.unparseable.len(), 1);
}

#[test]
fn error_response_names_elements() {
    let body = r#"<errorResponse><error><salesChannelOrderNumber>A</salesChannelOrderNumber>
        <salesChannelLineNumber>2</salesChannelLineNumber><message>quantity above open</message></error>
        <error><message>bad namespace</message></error></errorResponse>"#;
    let errs = parse_error_response(body).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(errs.len(), 2);
    assert_eq!(errs[0].order_number, "A");
    assert_eq!(errs[0].line_number.as_deref(), Some("2"));
    assert_eq!(errs[0].message, "quantity above open");
    assert_eq!(errs[1].order_number, "");
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        /// Arbitrary text: an error or a page, never a panic.
        #[test]
        fn arbitrary_text_never_panics(s in ".{0,400}") {
            let _ = parse_sales_orders(&s);
            let _ = parse_error_response(&s);
        }

        /// A real document cut anywhere, or with text spliced in anywhere, never panics, and
        /// every order it returns has a number.
        #[test]
        fn mutated_documents_never_panic(cut in 0usize..4000, at in 0usize..4000, insert in "[<>&/;a-zA-Z0-9 \"'=:!\\[\\]-]{0,30}") {
            for doc in [CURRENT, OLD] {
                let cut_at = (0..=cut.min(doc.len())).rev().find(|i| doc.is_char_boundary(*i)).unwrap_or(0);
                let _ = parse_sales_orders(&doc[..cut_at]);
                let at = (0..=at.min(doc.len())).rev().find(|i| doc.is_char_boundary(*i)).unwrap_or(0);
                let spliced = format!("{}{insert}{}", &doc[..at], &doc[at..]);
                if let Ok(page) = parse_sales_orders(&spliced) {
                    prop_assert!(page.orders.iter().all(|o| !o.order_number.as_str().is_empty()));
                }
            }
        }
    }
}

/// Almost readable: a lone `&` (here in a name) is read as the character, the order stored and
/// flagged; an undefined entity (`&name;`) still sets the order apart.
#[test]
fn a_lone_ampersand_is_read_as_the_character_and_the_order_flagged() {
    for raw in ["Jane & Secret", "Jane &Secret", "Jane&", "&&amp;"] {
        let body = doc(3, &[good("G-1"), good("A-1").replace("Jane Secret-Name", raw), good("G-2")]);
        let page = parse(&body);
        assert_eq!(page.orders.len(), 3, "{raw}: {:?}", page.unparseable);
        let a = &page.orders[1];
        let expected = raw.replace("&amp;", "&");
        assert_eq!(a.ship_to.as_ref().and_then(|t| t.contact_name.as_deref()), Some(expected.as_str()), "{raw}");
        assert_eq!(a.wire_notes.len(), 1, "{raw}: {:?}", a.wire_notes);
        assert!(a.wire_notes[0].contains('&') && !a.wire_notes[0].contains("Jane"), "{:?}", a.wire_notes);
        assert!(
            page.orders[0].wire_notes.is_empty() && page.orders[2].wire_notes.is_empty(),
            "only the order holding it"
        );
    }
    let undefined = parse(&doc(2, &[good("G-1"), good("E-1").replace("Jane Secret-Name", "&Secret;")]));
    assert_eq!((undefined.orders.len(), undefined.unparseable.len()), (1, 1));
}

/// Text that was not UTF-8 (decoded by the client with U+FFFD): kept and flagged in a name,
/// refused in an identifier that goes back to Overstock.
#[test]
fn replaced_bytes_are_flagged_in_text_and_refused_in_identifiers() {
    let page = parse(&doc(
        3,
        &[
            good("U-1").replace("Jane Secret-Name", "Jane \u{FFFD}\u{FFFD}"),
            good("U\u{FFFD}2"),
            good("U-3").replace("<salesChannelLineNumber>1<", "<salesChannelLineNumber>1\u{FFFD}<"),
        ],
    ));
    assert_eq!(page.orders.len(), 1, "{:?}", page.unparseable);
    assert!(page.orders[0].wire_notes.iter().any(|n| n.contains("not UTF-8")), "{:?}", page.orders[0].wire_notes);
    assert_eq!(page.unparseable.len(), 2);
    assert!(page.unparseable.iter().all(|u| u.reason.contains("not UTF-8")), "{:?}", page.unparseable);
}

/// Control characters in what goes back to Overstock (order number, line number, SKU): the order
/// is set apart, and the reason does not carry the character.
#[test]
fn identifiers_with_control_characters_set_the_order_apart() {
    let page = parse(&doc(
        4,
        &[
            good("G-1"),
            good("C\u{1b}[2J-1"),
            good("C-2").replace("<salesChannelLineNumber>1<", "<salesChannelLineNumber>1\u{7}<"),
            good("C-3").replace("<quantity>", "<partnerSKU>SKU\u{9b}31m</partnerSKU><quantity>"),
        ],
    ));
    assert_eq!(page.orders.iter().map(|o| o.order_number.as_str()).collect::<Vec<_>>(), ["G-1"]);
    assert_eq!(page.unparseable.len(), 3);
    for u in &page.unparseable {
        assert!(u.reason.contains("control character"), "{u:?}");
        assert!(!crate::domain::text::has_control(&u.reason), "{u:?}");
        assert!(u.order_number.as_deref().is_none_or(|n| !crate::domain::text::has_control(n)), "{u:?}");
    }
}

/// Doubtful amounts are read exactly and flagged (line and element named, never the value).
#[test]
fn doubtful_amounts_are_kept_and_flagged() {
    let price = |p: &str| good("M-1").replace("<itemPrice>10.00</itemPrice>", &format!("<itemPrice>{p}</itemPrice>"));
    for (raw, value, note) in [
        ("1e5", Some("100000"), "exponent"),
        ("1.5E2", Some("150"), "exponent"),
        ("10.125", Some("10.125"), "more than two decimals"),
        ("0.123456789012345678901234567890", None, "more than two decimals"),
        ("1000000.00", Some("1000000.00"), "larger than"),
        ("-2e7", Some("-20000000"), "larger than"),
    ] {
        let page = parse(&doc(1, &[price(raw)]));
        assert_eq!(page.orders.len(), 1, "{raw}: {:?}", page.unparseable);
        let o = &page.orders[0];
        if let Some(v) = value {
            assert_eq!(o.lines[0].item_price, Some(dec(v)), "{raw}");
        }
        assert!(
            o.wire_notes.iter().any(|n| n.contains(note) && n.contains("line 1 itemPrice")),
            "{raw}: {:?}",
            o.wire_notes
        );
        assert!(o.wire_notes.iter().all(|n| !n.contains(raw)), "{raw}: never the value: {:?}", o.wire_notes);
    }
    for plain in ["10.00", "10", "0.1", "999999.99"] {
        let page = parse(&doc(1, &[price(plain)]));
        assert!(page.orders[0].wire_notes.is_empty(), "{plain}: {:?}", page.orders[0].wire_notes);
    }
    for bad in ["12,50", "ten", "NaN", "1e", "--1"] {
        let page = parse(&doc(1, &[price(bad)]));
        assert_eq!(page.unparseable.len(), 1, "{bad}");
        assert!(!page.unparseable[0].reason.contains(bad), "{bad}: {}", page.unparseable[0].reason);
    }
}

/// Parse errors name the element path and the kind of problem, never the text: a value made of
/// a marker is put into every element a reason could quote, and no reason holds it.
#[test]
fn reasons_never_quote_the_text() {
    const SECRET: &str = "Zq7Secret";
    let mutations = [
        ("<quantity>1</quantity>", format!("<quantity>{SECRET}</quantity>")),
        ("<itemPrice>10.00</itemPrice>", format!("<itemPrice>{SECRET}</itemPrice>")),
        (
            "<sofsCreatedDate>2026-11-26T09:01:02.000-07:00</sofsCreatedDate>",
            format!("<sofsCreatedDate>{SECRET}</sofsCreatedDate><orderDate>{SECRET}</orderDate>"),
        ),
        (
            "<shipToAddress>",
            format!("<shippingSpecifications><isExport>{SECRET}</isExport></shippingSpecifications><shipToAddress>"),
        ),
        ("<contactName>Jane Secret-Name</contactName>", format!("<contactName>&{SECRET};</contactName>")),
        ("<contactName>Jane Secret-Name</contactName>", format!("<contactName>{SECRET}<b></contactName>")),
    ];
    for (from, to) in &mutations {
        let body = doc(1, &[good("P-1").replace(from, to)]);
        let reasons: Vec<String> = match parse_sales_orders(&body) {
            Ok(p) => p.unparseable.iter().map(|u| u.reason.clone()).collect(),
            Err(e) => vec![e.0],
        };
        assert!(!reasons.is_empty(), "{to}");
        for r in reasons {
            assert!(!r.contains(SECRET) && !r.contains("Jane"), "{to}: {r}");
        }
    }
    let total = doc(1, &[good("P-1")]).replace("<totalCount>1<", &format!("<totalCount>{SECRET}<"));
    assert!(parse_sales_orders(&total).err().is_some_and(|e| !e.0.contains(SECRET)));
    let root = format!("<{SECRET}\u{1b}x/>");
    assert!(parse_sales_orders(&root).err().is_some_and(|e| !e.0.contains(SECRET) && !e.0.contains('\u{1b}')));
}

/// One order of the current shape with the given lines (`(number, price element)`).
fn with_lines(lines: &[(&str, &str)]) -> String {
    let mut s = String::from(
        r#"<processedSalesOrderTypeList xmlns:ns2="api.supplieroasis.com"><totalCount>2</totalCount><list>
<ns2:salesChannelOrderNumber>OSTK-DUP</ns2:salesChannelOrderNumber>"#,
    );
    for (n, price) in lines {
        s.push_str(&format!(
            "<ns2:processedSalesOrderLine><ns2:salesChannelLineNumber>{n}</ns2:salesChannelLineNumber>\
             <ns2:quantity>1</ns2:quantity>{price}</ns2:processedSalesOrderLine>"
        ));
    }
    s.push_str(
        "</list><list><ns2:salesChannelOrderNumber>OSTK-OK</ns2:salesChannelOrderNumber><ns2:processedSalesOrderLine>\
         <ns2:salesChannelLineNumber>1</ns2:salesChannelLineNumber><ns2:quantity>1</ns2:quantity></ns2:processedSalesOrderLine>\
         </list></processedSalesOrderTypeList>",
    );
    s
}

#[test]
fn two_lines_under_one_line_number_set_the_order_apart() {
    let price = "<ns2:itemPrice>5.00</ns2:itemPrice>";
    let page = parse_sales_orders(&with_lines(&[("1", price), ("2", price), (" 1 ", price)]))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(page.orders.iter().map(|o| o.order_number.as_str()).collect::<Vec<_>>(), ["OSTK-OK"]);
    assert_eq!(page.unparseable.len(), 1, "{:?}", page.unparseable);
    assert_eq!(page.unparseable[0].order_number.as_deref(), Some("OSTK-DUP"));
    assert!(page.unparseable[0].reason.contains("two lines share the line number 1"), "{}", page.unparseable[0].reason);
    // Distinct numbers read as before.
    let page = parse_sales_orders(&with_lines(&[("1", price), ("2", price)])).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(page.orders.len(), 2);
}

#[test]
fn a_line_without_a_price_is_flagged_not_taken_for_free() {
    let page = parse_sales_orders(&with_lines(&[
        ("1", "<ns2:itemPrice></ns2:itemPrice>"),
        ("2", "<ns2:itemPrice/>"),
        ("3", "<ns2:itemPrice>1.00</ns2:itemPrice>"),
    ]))
    .unwrap_or_else(|e| panic!("{e}"));
    let o = page.orders.iter().find(|o| o.order_number.as_str() == "OSTK-DUP").unwrap_or_else(|| panic!("read"));
    let window = crate::domain::window::Window {
        start: chrono::DateTime::UNIX_EPOCH,
        end: chrono::DateTime::UNIX_EPOCH + chrono::Duration::seconds(1),
    };
    let flags = crate::domain::order::anomalies(o, &window);
    for n in ["1", "2"] {
        assert!(
            flags.iter().any(|f| f == &format!("line {n} has no itemPrice: a refund of it cannot be computed")),
            "{flags:?}"
        );
    }
    assert!(!flags.iter().any(|f| f.starts_with("line 3 has no itemPrice")), "{flags:?}");
}

/// Identifiers that go back to Overstock (order and line numbers, SKU, warehouse code) holding
/// a character of a refused category (no list names these) set the order apart; the reason never
/// quotes the value.
#[test]
fn identifiers_with_invisible_or_direction_changing_characters_set_the_order_apart() {
    for bad in ['\u{061c}', '\u{00ad}', '\u{2066}', '\u{e0041}', '\u{00a0}', '\u{2028}'] {
        for (element, field) in [
            ("salesChannelOrderNumber", "OSTK-X"),
            ("salesChannelLineNumber", "1"),
            ("partnerSKU", "SKU-1"),
            ("code", "ACME MAIN"),
        ] {
            let doc = format!(
                r#"<processedSalesOrderTypeList><totalCount>1</totalCount><list>
<salesChannelOrderNumber>{}</salesChannelOrderNumber><warehouseName><code>{}</code></warehouseName>
<processedSalesOrderLine><salesChannelLineNumber>{}</salesChannelLineNumber><partnerSKU>{}</partnerSKU>
<quantity>1</quantity><itemPrice>1.00</itemPrice></processedSalesOrderLine></list></processedSalesOrderTypeList>"#,
                if element == "salesChannelOrderNumber" { format!("OSTK{bad}X") } else { "OSTK-X".into() },
                if element == "code" { format!("ACME{bad}MAIN") } else { "ACME MAIN".into() },
                if element == "salesChannelLineNumber" { format!("1{bad}1") } else { "1".into() },
                if element == "partnerSKU" { format!("SKU{bad}1") } else { "SKU-1".into() },
            );
            let page = parse_sales_orders(&doc).unwrap_or_else(|e| panic!("{e}"));
            let clean = parse_sales_orders(&doc.replace(bad, "-")).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!((clean.orders.len(), clean.unparseable.len()), (1, 0), "the same order without it is read");
            assert!(page.orders.is_empty(), "{element} {bad:?} {field}: {:?}", page.orders);
            assert_eq!(page.unparseable.len(), 1, "{element} {bad:?}");
            assert!(!page.unparseable[0].reason.contains(bad), "never quoted: {:?}", page.unparseable[0].reason);
        }
    }
}
