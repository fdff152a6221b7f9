//! Property tests of the order reader against a reference XML parser (roxmltree, which shares
//! nothing with quick-xml): any well-formed document, however it is written (a byte-order mark,
//! with or without a declaration, either shape, prefixes, comments, CDATA, character references,
//! processing instructions, attributes, unknown elements, any whitespace), gives the orders the
//! reference reads from it; a document made ill-formed never gives an order that differs from
//! what was written, and sets apart at most the orders the damage touches.

use super::*;
use proptest::prelude::*;

#[derive(Debug, Clone, PartialEq)]
struct Line {
    number: String,
    sku: Option<String>,
    quantity: u32,
    price: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
struct Order {
    number: String,
    lines: Vec<Line>,
}

/// How one document is written.
#[derive(Debug, Clone)]
struct Style {
    bom: bool,
    declaration: bool,
    /// 0: current shape with `ns2:`; 1: current shape, default namespace; 2: old shape.
    shape: u8,
    comments: bool,
    cdata: bool,
    char_refs: bool,
    instructions: bool,
    attributes: bool,
    unknown: bool,
    /// Whitespace between elements: "", "\n  ", "\r\n\t".
    space: u8,
}

/// Text an order or a line may carry: no control character, no surrounding space, and every
/// character XML must escape, and some it need not.
fn value() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9&<>\"' #é漢\\-]{0,10}[A-Za-z0-9]".prop_map(|s| s)
}

fn line(number: usize) -> impl Strategy<Value = Line> {
    (proptest::option::of(value()), 1u32..50, proptest::option::of((0u32..100_000, 0u32..100))).prop_map(
        move |(sku, quantity, price)| Line {
            number: number.to_string(),
            sku,
            quantity,
            price: price.map(|(d, c)| format!("{d}.{c:02}")),
        },
    )
}

fn order() -> impl Strategy<Value = Order> {
    (value(), 1usize..4).prop_flat_map(|(number, n)| {
        (1..=n).map(line).collect::<Vec<_>>().prop_map(move |lines| Order { number: number.clone(), lines })
    })
}

fn orders() -> impl Strategy<Value = Vec<Order>> {
    proptest::collection::vec(order(), 1..5).prop_map(|mut v| {
        // Order numbers are unique within an answer (a repeat is its own rule, tested elsewhere).
        let mut seen = std::collections::HashSet::new();
        v.retain(|o| seen.insert(o.number.clone()));
        v
    })
}

fn style() -> impl Strategy<Value = Style> {
    (any::<[bool; 8]>(), 0u8..3, 0u8..3).prop_map(|(b, shape, space)| Style {
        bom: b[0],
        declaration: b[1],
        comments: b[2],
        cdata: b[3],
        char_refs: b[4],
        instructions: b[5],
        attributes: b[6],
        unknown: b[7],
        shape,
        space,
    })
}

impl Style {
    fn sp(&self) -> &'static str {
        ["", "\n  ", "\r\n\t"][usize::from(self.space)]
    }
    fn prefix(&self) -> &'static str {
        if self.shape == 0 { "ns2:" } else { "" }
    }
    /// Text content, written one of several equivalent ways.
    fn text(&self, s: &str) -> String {
        if self.cdata && !s.contains("]]>") {
            return format!("<![CDATA[{s}]]>");
        }
        let mut out = String::new();
        for c in s.chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' if self.char_refs => out.push_str("&#62;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str(if self.char_refs { "&#x22;" } else { "&quot;" }),
                '\'' => out.push_str("&apos;"),
                'é' if self.char_refs => out.push_str("&#233;"),
                c => out.push(c),
            }
        }
        out
    }
    fn element(&self, name: &str, text: &str) -> String {
        let p = self.prefix();
        let attr = if self.attributes { r#" kind="x&amp;y""# } else { "" };
        format!("<{p}{name}{attr}>{}</{p}{name}>", self.text(text))
    }
    fn noise(&self) -> String {
        let mut s = String::from(self.sp());
        if self.comments {
            s.push_str("<!-- a <comment> & more -->");
        }
        if self.instructions {
            s.push_str("<?note keep this?>");
        }
        if self.unknown {
            let p = self.prefix();
            s.push_str(&format!("<{p}futureField><{p}inner>1</{p}inner></{p}futureField><{p}empty/>"));
        }
        s.push_str(self.sp());
        s
    }
}

fn document(orders: &[Order], total: usize, style: &Style) -> String {
    let mut s = String::new();
    if style.bom {
        s.push('\u{FEFF}');
    }
    if style.declaration {
        s.push_str(r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"#);
        s.push_str(style.sp());
    }
    let (root, item, ns) = match style.shape {
        0 => ("processedSalesOrderTypeList", "list", r#" xmlns:ns2="api.supplieroasis.com""#),
        1 => ("processedSalesOrderTypeList", "list", r#" xmlns="api.supplieroasis.com""#),
        _ => ("processedSalesOrderMessage", "processedSalesOrder", r#" xmlns="api.supplieroasis.com""#),
    };
    s.push_str(&format!("<{root}{ns}>{}<totalCount>{total}</totalCount>", style.sp()));
    for o in orders {
        s.push_str(&format!("{}<{item}>", style.noise()));
        s.push_str(&style.element("salesChannelOrderNumber", &o.number));
        s.push_str(&style.noise());
        for l in &o.lines {
            let p = style.prefix();
            s.push_str(&format!("<{p}processedSalesOrderLine>"));
            s.push_str(&style.element("salesChannelLineNumber", &l.number));
            s.push_str(&style.noise());
            if let Some(sku) = &l.sku {
                s.push_str(&style.element("partnerSKU", sku));
            }
            s.push_str(&style.element("quantity", &l.quantity.to_string()));
            if let Some(price) = &l.price {
                s.push_str(&style.element("itemPrice", price));
            }
            s.push_str(&format!("</{p}processedSalesOrderLine>{}", style.sp()));
        }
        s.push_str(&format!("</{item}>"));
    }
    s.push_str(&format!("{}</{root}>", style.noise()));
    s
}

/// The orders as the reference parser reads the document (by local name, text trimmed).
fn reference(doc: &str) -> Option<Vec<Order>> {
    let parsed = roxmltree::Document::parse(doc).ok()?;
    let text = |n: roxmltree::Node, name: &str| -> Option<String> {
        n.children().find(|c| c.tag_name().name() == name).map(|c| {
            c.descendants().filter(|d| d.is_text()).filter_map(|d| d.text()).collect::<String>().trim().to_owned()
        })
    };
    let items =
        parsed.root_element().children().filter(|c| matches!(c.tag_name().name(), "list" | "processedSalesOrder"));
    Some(
        items
            .map(|o| Order {
                number: text(o, "salesChannelOrderNumber").unwrap_or_default(),
                lines: o
                    .children()
                    .filter(|c| c.tag_name().name() == "processedSalesOrderLine")
                    .map(|l| Line {
                        number: text(l, "salesChannelLineNumber").unwrap_or_default(),
                        sku: text(l, "partnerSKU").filter(|s| !s.is_empty()),
                        quantity: text(l, "quantity").and_then(|q| q.parse().ok()).unwrap_or(u32::MAX),
                        price: text(l, "itemPrice").filter(|s| !s.is_empty()),
                    })
                    .collect(),
            })
            .collect(),
    )
}

/// What this reader made of an order, in the model's terms.
fn read(o: &SalesOrder) -> Order {
    Order {
        number: o.order_number.to_string(),
        lines: o
            .lines
            .iter()
            .map(|l| Line {
                number: l.line_number.clone(),
                sku: l.partner_sku.clone(),
                quantity: l.quantity,
                price: l.item_price.map(|p| format!("{p:.2}")),
            })
            .collect(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// A well-formed document gives exactly the orders the reference parser reads, and the
    /// orders that were written: none set apart, none read differently.
    #[test]
    fn every_well_formed_writing_gives_the_reference_orders(orders in orders(), style in style()) {
        let doc = document(&orders, orders.len(), &style);
        let by_reference = reference(&doc);
        prop_assert_eq!(by_reference.as_ref(), Some(&orders), "the reference reads what was written");
        let page = parse_sales_orders(&doc);
        prop_assert!(page.is_ok(), "{:?}", page.err());
        let page = page.unwrap_or_default();
        prop_assert!(page.unparseable.is_empty(), "nothing set apart: {:?}", page.unparseable);
        prop_assert_eq!(page.total_count, orders.len());
        let got: Vec<Order> = page.orders.iter().map(read).collect();
        prop_assert_eq!(got, orders);
    }

    /// A document made ill-formed (cut short, a stray `<` or `&`, a tag renamed or dropped) never
    /// gives an order that differs from what was written: the answer fails whole (read again in
    /// smaller windows), or the orders the damage touches are set apart and the others read.
    #[test]
    fn a_damaged_document_never_gives_a_wrong_order(
        orders in orders(),
        style in style(),
        at in any::<prop::sample::Index>(),
        damage in 0u8..5,
    ) {
        let doc = document(&orders, orders.len(), &style);
        let mut cut_at = at.index(doc.len());
        while !doc.is_char_boundary(cut_at) {
            cut_at -= 1;
        }
        let (head, tail) = doc.split_at(cut_at);
        let damaged = match damage {
            0 => head.to_owned(),
            1 => format!("{head}<{tail}"),
            2 => format!("{head}&{tail}"),
            3 => format!("{head}</x>{tail}"),
            _ => format!("{head}{}", tail.replacen("</", "</y", 1)),
        };
        let by_reference = reference(&damaged);
        if let Ok(page) = parse_sales_orders(&damaged) {
            for so in &page.orders {
                let o = read(so);
                match &by_reference {
                    // Still well-formed (the damage fell in a CDATA section or a comment): read
                    // as the reference reads it.
                    Some(r) => prop_assert!(r.contains(&o), "read otherwise than the reference: {:?}", o),
                    // An '&' that starts no reference is read as the character, and flagged.
                    None if damage == 2 && !orders.contains(&o) => prop_assert!(
                        so.wire_notes.iter().any(|n| n.contains("'&'")),
                        "an order read differently without a flag: {:?}", o
                    ),
                    None => prop_assert!(orders.contains(&o), "an order read differently: {:?} from {}", o, damaged),
                }
            }
            prop_assert!(page.orders.len() + page.unparseable.len() <= orders.len(), "no more orders than were written");
            if by_reference.is_none() && page.is_complete() {
                let set_apart = page.unparseable.len();
                prop_assert!(set_apart <= 1, "one damage sets apart at most the order it touches: {set_apart}");
            }
        }
    }
}

#[test]
fn a_byte_order_mark_before_the_declaration_is_read_like_any_answer() {
    let orders = vec![
        Order {
            number: "OSTK-1".into(),
            lines: vec![Line { number: "1".into(), sku: None, quantity: 2, price: None }],
        },
        Order {
            number: "OSTK-2".into(),
            lines: vec![Line { number: "1".into(), sku: None, quantity: 1, price: None }],
        },
    ];
    let style = Style {
        bom: true,
        declaration: true,
        shape: 0,
        comments: false,
        cdata: false,
        char_refs: false,
        instructions: false,
        attributes: false,
        unknown: false,
        space: 1,
    };
    let page = parse_sales_orders(&document(&orders, 2, &style));
    let page = page.unwrap_or_default();
    assert!(page.unparseable.is_empty(), "{:?}", page.unparseable);
    assert_eq!(page.orders.iter().map(read).collect::<Vec<_>>(), orders);
}
