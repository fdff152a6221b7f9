//! Seeding orders: one from a spec, or N generated with realistic variety.

use crate::model::{Account, Address, Line, Order};
use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct LineSpec {
    pub partner_sku: String,
    pub quantity: u32,
    pub item_price: Decimal,
}

#[derive(Debug, Deserialize)]
pub struct OrderSpec {
    pub order_number: String,
    /// `sofsCreatedDate`; now if absent.
    pub created: Option<DateTime<Utc>>,
    pub service_level_code: String,
    #[serde(default)]
    pub ltl: bool,
    #[serde(default)]
    pub status: Option<String>,
    pub lines: Vec<LineSpec>,
    /// Hostile tests: `[element, raw text]` for the first element of that name.
    #[serde(default)]
    pub wire_override: Option<(String, String)>,
    /// When the customer placed it (`orderDate`); a few minutes before `created` if absent.
    #[serde(default)]
    pub order_date: Option<DateTime<Utc>>,
    /// Overstock's own ship-by time (the provisional `expectedShipDate`); none if absent.
    #[serde(default)]
    pub expected_ship_date: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
pub struct Generate {
    pub count: usize,
    /// Creation times spread evenly over [from, to).
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    #[serde(default = "default_prefix")]
    pub prefix: String,
    #[serde(default)]
    pub seed: u64,
    /// Every n-th order is a freight (LTL, `DOCK`) order; 0 for none. Default 20.
    #[serde(default = "default_ltl_every")]
    pub ltl_every: usize,
    /// How many orders carry a code no seller maps (`WHITE_GLOVE`). Default 1.
    #[serde(default = "default_unknown")]
    pub unknown_codes: usize,
}

fn default_prefix() -> String {
    "OSTK-".into()
}
fn default_ltl_every() -> usize {
    20
}
fn default_unknown() -> usize {
    1
}

const CITIES: &[(&str, &str, &str)] = &[
    ("Salt Lake City", "UT", "84101"),
    ("Denver", "CO", "80202"),
    ("Austin", "TX", "78701"),
    ("Portland", "OR", "97201"),
    ("Columbus", "OH", "43004"),
];
const SKUS: &[(&str, &str, &str)] = &[
    ("ACME-CHAIR-BLK", "Chair, black", "89.99"),
    ("ACME-TABLE-OAK", "Table, oak", "249.00"),
    ("ACME-LAMP-BRS", "Lamp, brass", "39.95"),
    ("ACME-RUG-5X8", "Rug 5x8", "129.50"),
    ("ACME-SOFA-GRY", "Sofa, grey", "899.00"),
];
const CODES: &[&str] = &["GROUND", "NEXT_DAY", "TWO_DAY", "GROUND", "GROUND"];

fn new_order(
    acc: &mut Account,
    number: String,
    created: DateTime<Utc>,
    code: &str,
    ltl: bool,
    lines: Vec<Line>,
    rng: &mut StdRng,
) -> Order {
    acc.next_order_id += 1;
    let (city, state, zip) = CITIES[rng.random_range(0..CITIES.len())];
    Order {
        number,
        order_id: 90_000_000 + acc.next_order_id,
        order_date: created - Duration::seconds(rng.random_range(30..600)),
        created,
        service_code: code.to_owned(),
        ltl,
        status: "ENTERED".into(),
        action_required: true,
        signature_required: rng.random_bool(0.1),
        ship_to: Address {
            contact_name: format!("Customer {}", acc.next_order_id),
            address1: format!("{} Main St", rng.random_range(1..9999)),
            address2: if rng.random_bool(0.3) { format!("Apt {}", rng.random_range(1..99)) } else { String::new() },
            city: city.into(),
            state: state.into(),
            postal_code: zip.into(),
            country: "US".into(),
            phone: format!("555-01{:02}", rng.random_range(0..99)),
        },
        lines,
        shipping_refunded: Decimal::ZERO,
        wire_override: None,
        expected_ship_date: None,
    }
}

pub fn insert_spec(acc: &mut Account, spec: OrderSpec) -> Result<String, String> {
    if spec.lines.is_empty() {
        return Err("an order needs at least one line".into());
    }
    if acc.orders.contains_key(&spec.order_number) {
        return Err(format!("order {} exists", spec.order_number));
    }
    let mut rng = StdRng::seed_from_u64(acc.next_order_id);
    let lines = spec
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| Line {
            number: i as u32 + 1,
            partner_sku: l.partner_sku.clone(),
            channel_sku: format!("{}-000-000", 28_000_000 + i),
            quantity: l.quantity,
            item_price: l.item_price,
            item_name: l.partner_sku.clone(),
            unit_cost: (l.item_price * Decimal::new(68, 2)).round_dp(2),
            shipped: 0,
            short_shipped: false,
            refunded: Decimal::ZERO,
            status: None,
        })
        .collect();
    let mut o = new_order(
        acc,
        spec.order_number.clone(),
        spec.created.unwrap_or_else(Utc::now),
        &spec.service_level_code,
        spec.ltl,
        lines,
        &mut rng,
    );
    if let Some(s) = spec.status {
        o.status = s;
    }
    o.wire_override = spec.wire_override;
    if let Some(d) = spec.order_date {
        o.order_date = d;
    }
    o.expected_ship_date = spec.expected_ship_date;
    acc.orders.insert(o.number.clone(), o);
    Ok(spec.order_number)
}

pub fn generate(acc: &mut Account, g: &Generate) -> Result<Vec<String>, String> {
    if g.to <= g.from || g.count == 0 {
        return Err("need count > 0 and from < to".into());
    }
    let mut rng = StdRng::seed_from_u64(g.seed);
    let span = (g.to - g.from).num_milliseconds();
    let mut numbers = Vec::with_capacity(g.count);
    for i in 0..g.count {
        let created = g.from + Duration::milliseconds(span * i as i64 / g.count as i64);
        let number = format!("{}{:08}", g.prefix, acc.next_order_id + 1);
        let unknown = i >= 3 && i < 3 + g.unknown_codes;
        let ltl = !unknown && g.ltl_every > 0 && i % g.ltl_every == g.ltl_every / 2;
        let code = if unknown {
            "WHITE_GLOVE"
        } else if ltl {
            "DOCK"
        } else {
            CODES[i % CODES.len()]
        };
        let n_lines = rng.random_range(1..=3usize);
        let lines = (0..n_lines)
            .map(|k| {
                let (sku, name, price) = SKUS[(i + k) % SKUS.len()];
                let price: Decimal = price.parse().unwrap_or(Decimal::ONE);
                Line {
                    number: k as u32 + 1,
                    partner_sku: sku.into(),
                    channel_sku: format!("{}-000-000", 28_841_900 + (i + k) % SKUS.len()),
                    quantity: rng.random_range(1..=3),
                    item_price: price,
                    item_name: name.into(),
                    unit_cost: (price * Decimal::new(68, 2)).round_dp(2),
                    shipped: 0,
                    short_shipped: false,
                    refunded: Decimal::ZERO,
                    status: None,
                }
            })
            .collect();
        let o = new_order(acc, number.clone(), created, code, ltl, lines, &mut rng);
        acc.orders.insert(number.clone(), o);
        numbers.push(number);
    }
    Ok(numbers)
}
