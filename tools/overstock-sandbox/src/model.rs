//! The sandbox's own model of Overstock's side. Written from docs/overstock-api.md; shares no
//! types with the connector's client.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// `processedSalesOrderTypeList` with `ns2:` prefixes.
    #[default]
    Current,
    /// `processedSalesOrderMessage` in the default namespace, `salesChannelLineId`.
    Old,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Faults {
    #[serde(default)]
    pub share_429: f64,
    #[serde(default)]
    pub share_500: f64,
    #[serde(default)]
    pub share_null: f64,
    #[serde(default)]
    pub latency_ms: u64,
    /// Orders per `GET /salesorders` response at most; `totalCount` still tells the truth.
    #[serde(default)]
    pub max_orders_per_response: Option<usize>,
    /// `Retry-After` seconds sent with 429s.
    #[serde(default)]
    pub retry_after_secs: Option<u64>,
    /// Ship confirmations with these tracking numbers are refused by name ("tracking number not
    /// recognised by the carrier"): a per-element rejection that is not a cancellation.
    #[serde(default)]
    pub reject_tracking: Vec<String>,
    /// Inventory elements of these SKUs are refused by name ("partnerSKU is not in the
    /// supplier's catalog").
    #[serde(default)]
    pub reject_skus: Vec<String>,
    /// Orders Overstock cannot render: every `GET /salesorders` whose window holds one of these
    /// is answered `unrenderable_status` (500 by default; a 502 page, a 404…), every time.
    #[serde(default)]
    pub unrenderable: Vec<String>,
    #[serde(default)]
    pub unrenderable_status: Option<u16>,
}

/// Deterministic spreading of a share: a fault fires each time the accumulator passes 1.
#[derive(Debug, Clone, Default)]
pub struct FaultClock {
    pub acc_429: f64,
    pub acc_500: f64,
    pub acc_null: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Address {
    pub contact_name: String,
    pub address1: String,
    pub address2: String,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    pub country: String,
    pub phone: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Line {
    pub number: u32,
    pub partner_sku: String,
    pub channel_sku: String,
    pub quantity: u32,
    pub item_price: Decimal,
    pub item_name: String,
    pub unit_cost: Decimal,
    pub shipped: u32,
    pub short_shipped: bool,
    pub refunded: Decimal,
    pub status: Option<String>,
}

impl Line {
    /// What can still be shipped: nothing once short shipped or cancelled by Overstock.
    pub fn open(&self) -> u32 {
        let cancelled = self.status.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("CANCELLED"));
        if self.short_shipped || cancelled { 0 } else { self.quantity - self.shipped.min(self.quantity) }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Order {
    pub number: String,
    pub order_id: u64,
    pub order_date: DateTime<Utc>,
    pub created: DateTime<Utc>,
    pub service_code: String,
    pub ltl: bool,
    pub status: String,
    pub action_required: bool,
    pub signature_required: bool,
    pub ship_to: Address,
    pub lines: Vec<Line>,
    pub shipping_refunded: Decimal,
    /// Hostile tests: the first element of this name in the order is written with this raw
    /// text (not escaped: it may be malformed on purpose), e.g. `("quantity", "-3")`.
    #[serde(default)]
    pub wire_override: Option<(String, String)>,
    /// Overstock's ship-by time for the order, served as `expectedShipDate` (provisional).
    #[serde(default)]
    pub expected_ship_date: Option<DateTime<Utc>>,
}

/// Everything the sandbox received, for tests to assert on.
#[derive(Debug, Clone, Serialize)]
pub struct Received {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub endpoint: String,
    pub http_status: u16,
    /// Parsed elements (one JSON object per element of the message).
    pub elements: Vec<serde_json::Value>,
    pub errors: Vec<String>,
    pub body: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Inventory {
    /// Taken from the path by the admin API.
    #[serde(default)]
    pub partner_sku: String,
    pub warehouse: String,
    pub quantity: i64,
    /// Quantity on order and, when there is one, the expected date (YYYY-MM-DD).
    #[serde(default)]
    pub backorder: Option<(i64, Option<String>)>,
}

/// A hostile answer, for the client's hardening tests (`PUT /admin/accounts/{user}/hostile`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostileMode {
    /// 302 to another origin.
    Redirect,
    /// 400 with an HTML page (a proxy's), not Overstock's error document.
    Html400,
    /// A `GET /salesorders` body of `size_bytes` (valid XML padded with an unknown element).
    Oversized,
    /// The real body cut in half.
    Truncated,
    /// An order element nested `depth` levels deep.
    Deep,
    /// A DOCTYPE declaring nested entities ("billion laughs") used in an order.
    Entities,
    /// Bytes that are not UTF-8 inside an order.
    NonUtf8,
    /// Accepts the request and never answers.
    Hang,
    /// 401 although the credentials are right.
    Unauthorized,
    /// A `GET /salesorders` body with a byte-order mark before `<?xml` (legal XML).
    Bom,
    /// A POST answered 400 with Overstock's error document naming the `order` and `line` of the
    /// hostile setting (which need not be in the message); nothing applied.
    Named400,
    /// A 200 whose body is an HTML maintenance page; nothing applied.
    Html200,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Hostile {
    pub mode: HostileMode,
    /// How many responses are hostile (then the account answers normally); none = all.
    #[serde(default)]
    pub times: Option<u64>,
    #[serde(default)]
    pub size_bytes: Option<usize>,
    #[serde(default)]
    pub depth: Option<usize>,
    /// Only this endpoint (`POST /acknowledgements`, `GET /salesorders`…); none = any.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// `named400`: the order and line its error names.
    #[serde(default)]
    pub order: Option<String>,
    #[serde(default)]
    pub line: Option<String>,
    /// `named400`: the error's message (default: the line is not a line of the order).
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug, Default)]
pub struct Account {
    pub hostile: Option<Hostile>,
    pub password: String,
    pub warehouse: String,
    pub shape: Shape,
    pub faults: Faults,
    pub fault_clock: FaultClock,
    pub orders: BTreeMap<String, Order>,
    pub received: Vec<Received>,
    pub inventory: BTreeMap<String, Inventory>,
    pub refunds: HashMap<String, String>,
    pub requests: BTreeMap<String, u64>,
    pub faults_injected: BTreeMap<String, u64>,
    pub next_order_id: u64,
}

#[derive(Debug, Default)]
pub struct Sandbox {
    pub accounts: HashMap<String, Account>,
    pub seq: u64,
}
