//! Inventory and backorder information: the value sent to Overstock for a product, one pure
//! function of (the product's available quantity, its purchase-order or container lines, today
//! in the company's time zone, the lead time, the two settings). See the Backorder section of the
//! domain rules; every value says which rule fired and which lines fed it.

use chrono::{DateTime, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A product's partner SKU (`partnerSKU`): trimmed, 1-100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sku(String);

impl Sku {
    pub fn parse(s: &str) -> Result<Self, super::ids::InvalidId> {
        let t = s.trim();
        if t.is_empty() || t.chars().count() > 100 || super::text::has_control(t) || t.contains('#') {
            return Err(super::ids::InvalidId {
                what: "SKU",
                reason: format!(
                    "{:?} must be 1-100 characters, without control characters or '#'",
                    s.chars().take(40).collect::<String>()
                ),
            });
        }
        Ok(Self(t.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Sku {
    type Error = super::ids::InvalidId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}
impl From<Sku> for String {
    fn from(s: Sku) -> Self {
        s.0
    }
}
impl fmt::Display for Sku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a supply line comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SupplyKind {
    PurchaseOrder,
    Container,
}

impl SupplyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PurchaseOrder => "PO",
            Self::Container => "container",
        }
    }
}

/// A purchase order's or a container's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SupplyStatus {
    Open,
    Received,
    Cancelled,
}

impl SupplyStatus {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "open" => Ok(Self::Open),
            "received" => Ok(Self::Received),
            "cancelled" | "canceled" => Ok(Self::Cancelled),
            other => Err(format!("unknown status {other:?}: expected open, received or cancelled")),
        }
    }
}

/// One product's line of a purchase order or a container: what is on order and when it is
/// expected (the PO's Estimated Delivery Date, the container's Estimated Arrival Date).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupplyLine {
    pub kind: SupplyKind,
    /// The PO number or the container id.
    pub source_id: String,
    pub quantity: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<NaiveDate>,
    pub status: SupplyStatus,
}

/// The backorder block of an element.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backorder {
    pub quantity_on_order: u32,
    /// Never without quantity, never today or earlier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<NaiveDate>,
}

/// What is sent to Overstock for one product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryValue {
    pub quantity: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backorder: Option<Backorder>,
}

impl InventoryValue {
    /// A short, stable text of the value: what "last accepted" is compared by.
    pub fn digest(&self) -> String {
        match &self.backorder {
            None => format!("q={}", self.quantity),
            Some(Backorder { quantity_on_order, expected: None }) => {
                format!("q={};bo={quantity_on_order}", self.quantity)
            }
            Some(Backorder { quantity_on_order, expected: Some(d) }) => {
                format!("q={};bo={quantity_on_order}@{d}", self.quantity)
            }
        }
    }
}

impl fmt::Display for InventoryValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "quantity {}", self.quantity)?;
        match &self.backorder {
            None => Ok(()),
            Some(Backorder { quantity_on_order, expected: None }) => {
                write!(f, ", backorder {quantity_on_order} on order, no date")
            }
            Some(Backorder { quantity_on_order, expected: Some(d) }) => {
                write!(f, ", backorder {quantity_on_order} on order, expected {d}")
            }
        }
    }
}

/// The rule that decided a value (a row of the domain rules' table, or the cases around it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Available > 0: the available quantity, no backorder block.
    InStock,
    /// Out of stock, Send Backorder Information off: quantity 0, no backorder block.
    OutOfStockNoBackorderInfo,
    /// On order, the earliest expected date among the lines with quantity is in the future.
    OnOrderFutureDate,
    /// On order, no line has a date: today + the lead time.
    OnOrderNoDate,
    /// On order, no future date but some line has one (today or past: a late PO): today + the
    /// lead time — a past date is no promise.
    OnOrderLate,
    /// Nothing on order (whatever the dates): 0 on order, no date.
    NothingOnOrder,
}

impl Rule {
    pub fn explain(self) -> &'static str {
        match self {
            Self::InStock => "in stock: the available quantity, no backorder block",
            Self::OutOfStockNoBackorderInfo => {
                "out of stock, Send Backorder Information off: quantity 0, no backorder block"
            }
            Self::OnOrderFutureDate => {
                "out of stock, on order with a future date: the quantity on order and the earliest future expected date"
            }
            Self::OnOrderNoDate => {
                "out of stock, on order without a date: the quantity on order, today + the lead time"
            }
            Self::OnOrderLate => {
                "out of stock, on order but every date is today or past (late): the quantity on order, today + the lead time (a past date is no promise)"
            }
            Self::NothingOnOrder => {
                "out of stock, nothing on order: 0 on order, no date (a date without quantity promises nothing)"
            }
        }
    }
}

/// The inputs of the rule for one product.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub available: i64,
    pub supply: &'a [SupplyLine],
    pub today: NaiveDate,
    pub lead_time_months: u32,
    /// Send Backorder Information.
    pub send_backorder: bool,
    /// Enable Shipping Containers for PO: containers feed the rule instead of purchase orders.
    pub use_containers: bool,
}

/// A value and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub value: InventoryValue,
    pub rule: Rule,
    /// The open lines of the kind in use with quantity, which fed the value.
    pub fed_by: Vec<SupplyLine>,
    /// Lines ignored, each with why (another kind than the setting uses, not open, no quantity).
    pub ignored: Vec<(SupplyLine, &'static str)>,
    /// The date after which the value may change by time alone (a future date reached, or
    /// "today + lead time" moving): the product is decided again then.
    pub recheck_on: Option<NaiveDate>,
    /// The open lines add up to more than Overstock's quantity can hold (4294967295): the value
    /// holds that maximum, and it is never sent (a clamped number would be a wrong promise).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub too_large: bool,
}

/// Why a value too large to be true is not sent (the product is listed as failed with this).
pub const ON_ORDER_TOO_LARGE: &str =
    "the open lines' quantities on order add up to more than 4294967295: not sent (correct the POs or containers)";

/// `day` + `months` calendar months (Jan 31 + 1 month = Feb 28 or 29).
pub fn add_months(day: NaiveDate, months: u32) -> NaiveDate {
    day.checked_add_months(Months::new(months)).unwrap_or(NaiveDate::MAX)
}

/// Today's date in `tz` at `now`.
pub fn today_in(tz: chrono_tz::Tz, now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&tz).date_naive()
}

/// The one rule (see the module doc).
pub fn decide(i: Inputs<'_>) -> Decision {
    let kind = if i.use_containers { SupplyKind::Container } else { SupplyKind::PurchaseOrder };
    let mut fed_by = Vec::new();
    let mut ignored = Vec::new();
    for l in i.supply {
        if l.kind != kind {
            ignored.push((
                l.clone(),
                if i.use_containers { "a PO: containers are in use" } else { "a container: POs are in use" },
            ));
        } else if l.status != SupplyStatus::Open {
            ignored.push((l.clone(), "not open"));
        } else if l.quantity == 0 {
            ignored.push((l.clone(), "nothing on order"));
        } else {
            fed_by.push(l.clone());
        }
    }
    if i.available > 0 {
        let quantity = u32::try_from(i.available).unwrap_or(u32::MAX);
        return Decision {
            value: InventoryValue { quantity, backorder: None },
            rule: Rule::InStock,
            fed_by: Vec::new(),
            ignored: i.supply.iter().map(|l| (l.clone(), "in stock: backorder lines not used")).collect(),
            recheck_on: None,
            too_large: false,
        };
    }
    if !i.send_backorder {
        return Decision {
            value: InventoryValue { quantity: 0, backorder: None },
            rule: Rule::OutOfStockNoBackorderInfo,
            fed_by: Vec::new(),
            ignored: i.supply.iter().map(|l| (l.clone(), "Send Backorder Information is off")).collect(),
            recheck_on: None,
            too_large: false,
        };
    }
    let total: u64 = fed_by.iter().map(|l| u64::from(l.quantity)).sum();
    let too_large = total > u64::from(u32::MAX);
    let on_order = u32::try_from(total).unwrap_or(u32::MAX);
    if on_order == 0 {
        return Decision {
            value: InventoryValue { quantity: 0, backorder: Some(Backorder { quantity_on_order: 0, expected: None }) },
            rule: Rule::NothingOnOrder,
            fed_by,
            ignored,
            recheck_on: None,
            too_large: false,
        };
    }
    let earliest_future = fed_by.iter().filter_map(|l| l.expected).filter(|d| *d > i.today).min();
    let (rule, expected, recheck_on) = match earliest_future {
        // On that day the date is no longer in the future: decided again.
        Some(d) => (Rule::OnOrderFutureDate, d, Some(d)),
        None => {
            let rule =
                if fed_by.iter().any(|l| l.expected.is_some()) { Rule::OnOrderLate } else { Rule::OnOrderNoDate };
            let next = i.today.succ_opt().unwrap_or(NaiveDate::MAX);
            (rule, add_months(i.today, i.lead_time_months.max(1)), Some(next))
        }
    };
    Decision {
        value: InventoryValue {
            quantity: 0,
            backorder: Some(Backorder { quantity_on_order: on_order, expected: Some(expected) }),
        },
        rule,
        fed_by,
        ignored,
        recheck_on,
        too_large,
    }
}

/// How long a closed supply line (received, cancelled, removed from its PO) is kept on its
/// product: long enough for a late, older message about it to be recognised as older.
pub const KEEP_CLOSED_LINES_DAYS: i64 = 90;

/// A supply line as a product holds it, with the time of the message that set it (a message
/// about the same PO or container that is older changes nothing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Supplied {
    pub line: SupplyLine,
    pub at: DateTime<Utc>,
}

/// What Overstock last accepted for a product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    pub value: InventoryValue,
    pub at: DateTime<Utc>,
}

/// When a product is decided again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "due", content = "on", rename_all = "snake_case")]
pub enum Due {
    /// Its inputs changed (or its last send was not accepted): the next run.
    Now,
    /// Its value changes by time alone on that day (company time zone).
    On(NaiveDate),
    /// Nothing will change it until an input does.
    Never,
}

/// Overstock's last refusal of a product's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryRejection {
    pub message: String,
    pub attempts: u32,
    pub at: DateTime<Utc>,
    /// Refused `attempts` times: not sent again until an input changes (listed as failed).
    pub failed: bool,
}

/// A product of a company, as the connector keeps it: the seller's count, the supply lines of
/// its POs and containers, and what Overstock last accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub company_id: super::CompanyId,
    pub sku: Sku,
    /// Available quantity (≤ 0: out of stock); `None` until a count arrives: never sent before.
    #[serde(default)]
    pub available: Option<i64>,
    #[serde(default)]
    pub counted_at: Option<DateTime<Utc>>,
    /// By source key (`PO#id`, `CT#id`).
    #[serde(default)]
    pub supply: std::collections::BTreeMap<String, Supplied>,
    #[serde(default)]
    pub sent: Option<Sent>,
    pub due: Due,
    #[serde(default)]
    pub rejection: Option<InventoryRejection>,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub version: u64,
}

/// The source key of a supply line on its product.
pub fn source_key(kind: SupplyKind, id: &str) -> String {
    match kind {
        SupplyKind::PurchaseOrder => format!("PO#{id}"),
        SupplyKind::Container => format!("CT#{id}"),
    }
}

/// The company settings the rule reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleSettings {
    pub today: NaiveDate,
    pub lead_time_months: u32,
    pub send_backorder: bool,
    pub use_containers: bool,
}

impl RuleSettings {
    /// The settings of `company` at `now` (today in its time zone).
    pub fn of(company: &super::settings::Company, now: DateTime<Utc>) -> Self {
        let s = &company.settings;
        Self {
            today: today_in(s.time_zone.0, now),
            lead_time_months: s.backorder_lead_time_months.into(),
            send_backorder: s.send_backorder_info,
            use_containers: s.shipping_containers_for_po,
        }
    }
}

impl Product {
    pub fn new(company_id: super::CompanyId, sku: Sku, now: DateTime<Utc>) -> Self {
        Self {
            company_id,
            sku,
            available: None,
            counted_at: None,
            supply: Default::default(),
            sent: None,
            due: Due::Never,
            rejection: None,
            updated_at: now,
            version: 0,
        }
    }

    /// The rule on this product (`None` while no count has arrived: nothing is sent).
    pub fn decide(&self, r: RuleSettings) -> Option<Decision> {
        let available = self.available?;
        let supply: Vec<SupplyLine> = self.supply.values().map(|s| s.line.clone()).collect();
        Some(decide(Inputs {
            available,
            supply: &supply,
            today: r.today,
            lead_time_months: r.lead_time_months,
            send_backorder: r.send_backorder,
            use_containers: r.use_containers,
        }))
    }

    /// A new input: decided again at the next run, a refusal forgotten (the value differs).
    fn touched(&mut self, now: DateTime<Utc>) {
        self.due = Due::Now;
        self.rejection = None;
        self.updated_at = now;
    }

    /// A count taken at `counted_at`: applied unless a count as recent or newer is already held
    /// (an older message never overwrites a newer count; the same message twice changes nothing).
    pub fn apply_count(&mut self, available: i64, counted_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        if self.counted_at.is_some_and(|c| c >= counted_at) {
            return false;
        }
        self.available = Some(available);
        self.counted_at = Some(counted_at);
        self.touched(now);
        true
    }

    /// A PO's or container's line for this product as of `at` (a closed one: status received or
    /// cancelled, or quantity 0 when the SKU left the PO). Applied unless this source's line is
    /// already as recent; closed lines older than [`KEEP_CLOSED_LINES_DAYS`] are dropped.
    pub fn apply_supply(&mut self, line: SupplyLine, at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        let key = source_key(line.kind, &line.source_id);
        if self.supply.get(&key).is_some_and(|s| s.at >= at) {
            return false;
        }
        self.supply.insert(key, Supplied { line, at });
        let horizon = now - chrono::Duration::days(KEEP_CLOSED_LINES_DAYS);
        self.supply.retain(|_, s| s.line.status == SupplyStatus::Open || s.at >= horizon);
        self.touched(now);
        true
    }

    /// After deciding: `Some(value)` when it must be sent (it differs from what Overstock last
    /// accepted); otherwise the product rests until its recheck date.
    /// A value too large to be true is never sent: the product is failed with the reason (listed,
    /// alarmed, decided again when an input changes).
    pub fn to_send(&mut self, r: RuleSettings) -> Option<InventoryValue> {
        let Some(decision) = self.decide(r) else {
            self.due = Due::Never;
            return None;
        };
        if decision.too_large {
            if !self.is_failed() {
                self.rejection = Some(InventoryRejection {
                    message: ON_ORDER_TOO_LARGE.to_owned(),
                    attempts: 1,
                    at: self.updated_at,
                    failed: true,
                });
            }
            self.due = Due::Never;
            return None;
        }
        if self.sent.as_ref().is_some_and(|s| s.value == decision.value) {
            self.due = decision.recheck_on.map_or(Due::Never, Due::On);
            self.rejection = None;
            return None;
        }
        Some(decision.value)
    }

    /// Overstock accepted `value` at `at`. The product rests until its recheck date when that is
    /// still what the rule gives (its inputs may have changed meanwhile: then it is due now).
    pub fn record_accepted(&mut self, value: &InventoryValue, at: DateTime<Utc>, r: RuleSettings) -> bool {
        self.sent = Some(Sent { value: value.clone(), at });
        self.rejection = None;
        self.due = match self.decide(r) {
            Some(d) if &d.value == value => d.recheck_on.map_or(Due::Never, Due::On),
            Some(_) => Due::Now,
            None => Due::Never,
        };
        self.updated_at = at;
        true
    }

    /// Overstock refused the product's value: retried at the next run until `max_attempts`
    /// refusals, then failed (listed, not sent again until an input changes).
    pub fn record_rejected(&mut self, message: &str, at: DateTime<Utc>, max_attempts: u32) -> bool {
        let attempts = self.rejection.as_ref().map_or(0, |r| r.attempts).saturating_add(1);
        let failed = attempts >= max_attempts;
        self.rejection = Some(InventoryRejection { message: message.to_owned(), attempts, at, failed });
        self.due = if failed { Due::Never } else { Due::Now };
        self.updated_at = at;
        true
    }

    /// Overstock holds something else than what was last accepted here (drift): sent again.
    pub fn record_drift(&mut self, now: DateTime<Utc>) -> bool {
        self.sent = None;
        self.due = Due::Now;
        self.updated_at = now;
        true
    }

    pub fn is_failed(&self) -> bool {
        self.rejection.as_ref().is_some_and(|r| r.failed)
    }
}

/// One product line of a purchase order or a container, as the seller's system sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceLine {
    pub sku: Sku,
    pub quantity: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<NaiveDate>,
}

/// A purchase order or a shipping container as last received, with the time its sender gave it
/// (`updated_at`: messages about the same source apply in that order, whatever order they
/// arrive in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupplySource {
    pub company_id: super::CompanyId,
    pub kind: SupplyKind,
    pub id: String,
    pub status: SupplyStatus,
    pub lines: Vec<SourceLine>,
    pub updated_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
}

impl SupplySource {
    /// The supply line each product gets from this version of the source: one per SKU of its
    /// lines, and a closed one (quantity 0, cancelled) for a SKU the `previous` version had and
    /// this one no longer has.
    pub fn product_lines(&self, previous: Option<&SupplySource>) -> Vec<(Sku, SupplyLine)> {
        let mut out: Vec<(Sku, SupplyLine)> = self
            .lines
            .iter()
            .map(|l| {
                (
                    l.sku.clone(),
                    SupplyLine {
                        kind: self.kind,
                        source_id: self.id.clone(),
                        quantity: l.quantity,
                        expected: l.expected,
                        status: self.status,
                    },
                )
            })
            .collect();
        for old in previous.map(|p| p.lines.as_slice()).unwrap_or_default() {
            if !self.lines.iter().any(|l| l.sku == old.sku) {
                out.push((
                    old.sku.clone(),
                    SupplyLine {
                        kind: self.kind,
                        source_id: self.id.clone(),
                        quantity: 0,
                        expected: None,
                        status: SupplyStatus::Cancelled,
                    },
                ));
            }
        }
        out
    }
}

/// The intake queue's message versions this connector reads.
pub const INTAKE_VERSION: u64 = 1;
/// Lines of one purchase order or container at most.
const MAX_SOURCE_LINES: usize = 2000;
/// The largest count taken (either way).
const MAX_COUNT: i64 = 1_000_000_000;

/// One intake message, parsed (see `docs/messages/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intake {
    /// `inventory_update`: a product's available quantity as counted at `counted_at`.
    Count { company_id: super::CompanyId, sku: Sku, available: i64, counted_at: DateTime<Utc> },
    /// `purchase_order` / `shipping_container`: the source as of `updated_at`.
    Source(IntakeSource),
}

/// A purchase order or container as a message carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakeSource {
    pub company_id: super::CompanyId,
    pub kind: SupplyKind,
    pub id: String,
    pub status: SupplyStatus,
    pub lines: Vec<SourceLine>,
    pub updated_at: DateTime<Utc>,
}

impl Intake {
    pub fn company_id(&self) -> &super::CompanyId {
        match self {
            Self::Count { company_id, .. } => company_id,
            Self::Source(s) => &s.company_id,
        }
    }

    /// What the message is about: the SKU of a count, the PO number or container id.
    pub fn subject(&self) -> &str {
        match self {
            Self::Count { sku, .. } => sku.as_str(),
            Self::Source(s) => &s.id,
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Count { .. } => "inventory_update",
            Self::Source(s) if s.kind == SupplyKind::PurchaseOrder => "purchase_order",
            Self::Source(_) => "shipping_container",
        }
    }
}

/// A purchase order number or container id: 1-64 letters, digits, `.`, `_`, `:`, `-`, `/`.
pub fn parse_source_id(s: &str) -> Result<String, String> {
    let t = s.trim();
    if t.is_empty() || t.len() > 64 || !t.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:-/".contains(&b)) {
        return Err("1 to 64 letters, digits, '.', '_', ':', '-', '/'".into());
    }
    Ok(t.to_owned())
}

/// How far in the future a message's time may be (the sender's clock running ahead). A time
/// beyond it is refused: applied, it would make every real update after it "older" and freeze
/// the product (a `counted_at` of 9999-12-31).
pub const MAX_CLOCK_SKEW_SECONDS: i64 = 300;

/// Parses one intake message received at `now`. Every refusal names the field and says why.
pub fn parse_intake(body: &str, now: DateTime<Utc>) -> Result<Intake, super::requests::Rejection> {
    let intake = parse_intake_fields(body)?;
    let (field, at) = match &intake {
        Intake::Count { counted_at, .. } => ("counted_at", *counted_at),
        Intake::Source(s) => ("updated_at", s.updated_at),
    };
    if at > now + chrono::Duration::seconds(MAX_CLOCK_SKEW_SECONDS) {
        return super::requests::reject(
            field,
            format!(
                "{} is in the future (more than {MAX_CLOCK_SKEW_SECONDS} s ahead of this clock)",
                crate::domain::utc_key(at)
            ),
        );
    }
    Ok(intake)
}

fn parse_intake_fields(body: &str) -> Result<Intake, super::requests::Rejection> {
    use super::requests::{Fields, reject};
    let mut f = Fields::of_body(body)?;
    let (kind, _version) = f.kind_and_version(INTAKE_VERSION)?;
    let company = f.required_string("company_id", 64)?;
    let company_id = super::CompanyId::parse(&company).or_else(|e| reject("company_id", e.reason))?;
    let sku_of = |f: &mut Fields| -> Result<Sku, super::requests::Rejection> {
        let raw = f.required_string("sku", 200)?;
        Sku::parse(&raw).or_else(|e| reject(f.path("sku"), e.reason))
    };
    let intake = match kind.as_str() {
        "inventory_update" => {
            let sku = sku_of(&mut f)?;
            let available = f
                .integer("available", -MAX_COUNT..=MAX_COUNT)?
                .ok_or_else(|| super::requests::Rejection { field: "available".into(), reason: "missing".into() })?;
            let counted_at = f
                .timestamp("counted_at")?
                .ok_or_else(|| super::requests::Rejection { field: "counted_at".into(), reason: "missing".into() })?;
            Intake::Count { company_id, sku, available, counted_at }
        }
        "purchase_order" | "shipping_container" => {
            let (source_kind, id_field, date_field) = if kind == "purchase_order" {
                (SupplyKind::PurchaseOrder, "po_number", "expected_delivery_date")
            } else {
                (SupplyKind::Container, "container_id", "estimated_arrival_date")
            };
            let raw = f.required_string(id_field, 64)?;
            let id = parse_source_id(&raw).or_else(|r| reject(id_field, r))?;
            let status_text = f.required_string("status", 20)?;
            let status = SupplyStatus::parse(&status_text).or_else(|r| reject("status", r))?;
            let updated_at = f
                .timestamp("updated_at")?
                .ok_or_else(|| super::requests::Rejection { field: "updated_at".into(), reason: "missing".into() })?;
            let mut lines: Vec<SourceLine> = Vec::new();
            for mut l in f.required_objects("lines", MAX_SOURCE_LINES)? {
                let sku = sku_of(&mut l)?;
                if lines.iter().any(|x| x.sku == sku) {
                    return reject(l.path("sku"), format!("{sku} appears twice: one line per SKU"));
                }
                let q = l.integer("quantity_on_order", 0..=MAX_COUNT)?.ok_or_else(|| super::requests::Rejection {
                    field: l.path("quantity_on_order"),
                    reason: "missing".into(),
                })?;
                let quantity = u32::try_from(q).or_else(|_| reject(l.path("quantity_on_order"), "too large"))?;
                let expected = l.date(date_field)?;
                l.done()?;
                lines.push(SourceLine { sku, quantity, expected });
            }
            Intake::Source(IntakeSource { company_id, kind: source_kind, id, status, lines, updated_at })
        }
        other => {
            return reject(
                "type",
                format!(
                    "{:?} is not one of inventory_update, purchase_order, shipping_container",
                    other.chars().take(40).collect::<String>()
                ),
            );
        }
    };
    f.done()?;
    Ok(intake)
}

/// A difference between what Overstock holds and what was last accepted here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InventoryDrift {
    pub sku: String,
    /// What was last accepted here (`None`: never sent, or unknown here).
    pub here: Option<String>,
    /// What Overstock holds (`None`: nothing).
    pub there: Option<String>,
    pub known_here: bool,
}

/// Compares what Overstock holds (`there`: SKU → value digest, or an unreadable element's
/// reason) with what was last accepted here (`here`: SKU → value digest). A SKU unknown here is a
/// finding without repair; one sent here and held differently there (or not at all) is sent again.
pub fn compare_inventory(
    here: &std::collections::BTreeMap<String, Option<String>>,
    there: &std::collections::BTreeMap<String, String>,
) -> Vec<InventoryDrift> {
    let mut out = Vec::new();
    for (sku, sent) in here {
        let held = there.get(sku);
        if let Some(sent) = sent
            && held != Some(sent)
        {
            out.push(InventoryDrift {
                sku: sku.clone(),
                here: Some(sent.clone()),
                there: held.cloned(),
                known_here: true,
            });
        }
    }
    for (sku, held) in there {
        if !here.contains_key(sku) {
            out.push(InventoryDrift { sku: sku.clone(), here: None, there: Some(held.clone()), known_here: false });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A receiving time after every time in the test messages.
    fn test_now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z").map(|t| t.with_timezone(&Utc)).unwrap_or_default()
    }
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn po(id: &str, quantity: u32, expected: Option<&str>) -> SupplyLine {
        SupplyLine {
            kind: SupplyKind::PurchaseOrder,
            source_id: id.into(),
            quantity,
            expected: expected.map(d),
            status: SupplyStatus::Open,
        }
    }

    fn inputs(available: i64, supply: &[SupplyLine], today: &str) -> Inputs<'static> {
        let supply: &'static [SupplyLine] = Box::leak(supply.to_vec().into_boxed_slice());
        Inputs { available, supply, today: d(today), lead_time_months: 1, send_backorder: true, use_containers: false }
    }

    fn sent(dec: &Decision) -> (u32, Option<(u32, Option<NaiveDate>)>) {
        (dec.value.quantity, dec.value.backorder.as_ref().map(|b| (b.quantity_on_order, b.expected)))
    }

    #[test]
    fn row_on_order_with_a_future_date_sends_the_quantity_and_the_date() {
        let dec = decide(inputs(0, &[po("PO-1", 40, Some("2027-01-15"))], "2026-11-27"));
        assert_eq!(sent(&dec), (0, Some((40, Some(d("2027-01-15"))))));
        assert_eq!(dec.rule, Rule::OnOrderFutureDate);
        assert_eq!(dec.recheck_on, Some(d("2027-01-15")));
        assert_eq!(dec.fed_by.len(), 1);
    }

    #[test]
    fn row_on_order_without_a_date_sends_today_plus_the_lead_time() {
        let dec = decide(inputs(0, &[po("PO-1", 5, None)], "2026-11-27"));
        assert_eq!(sent(&dec), (0, Some((5, Some(d("2026-12-27"))))));
        assert_eq!(dec.rule, Rule::OnOrderNoDate);
        assert_eq!(dec.recheck_on, Some(d("2026-11-28")), "today moves the date: decided again tomorrow");
    }

    #[test]
    fn row_a_late_po_today_or_past_is_no_promise() {
        for expected in ["2026-11-27", "2026-10-01"] {
            let dec = decide(inputs(-3, &[po("PO-1", 7, Some(expected))], "2026-11-27"));
            assert_eq!(sent(&dec), (0, Some((7, Some(d("2026-12-27"))))), "{expected}");
            assert_eq!(dec.rule, Rule::OnOrderLate);
        }
    }

    #[test]
    fn rows_nothing_on_order_send_zero_and_no_date_whatever_the_dates() {
        for supply in [vec![], vec![po("PO-1", 0, None)], vec![po("PO-1", 0, Some("2027-01-01"))]] {
            let dec = decide(inputs(0, &supply, "2026-11-27"));
            assert_eq!(sent(&dec), (0, Some((0, None))), "{supply:?}");
            assert_eq!(dec.rule, Rule::NothingOnOrder);
            assert_eq!(dec.recheck_on, None);
        }
    }

    #[test]
    fn in_stock_sends_the_available_quantity_and_no_backorder_block() {
        let dec = decide(inputs(12, &[po("PO-1", 40, Some("2027-01-15"))], "2026-11-27"));
        assert_eq!(sent(&dec), (12, None));
        assert_eq!(dec.rule, Rule::InStock);
        assert!(dec.fed_by.is_empty());
    }

    #[test]
    fn out_of_stock_with_backorder_information_off_sends_zero_only() {
        let mut i = inputs(-2, &[po("PO-1", 40, Some("2027-01-15"))], "2026-11-27");
        i.send_backorder = false;
        let dec = decide(i);
        assert_eq!(sent(&dec), (0, None));
        assert_eq!(dec.rule, Rule::OutOfStockNoBackorderInfo);
    }

    #[test]
    fn several_pos_sum_and_take_the_earliest_future_date_among_those_with_quantity() {
        let supply = [
            po("PO-1", 10, Some("2027-02-01")),
            po("PO-2", 5, Some("2027-01-10")),
            po("PO-3", 0, Some("2026-12-01")), // no quantity: its date promises nothing
            po("PO-4", 3, Some("2026-11-01")), // late: counted, its date ignored
            po("PO-5", 2, None),
        ];
        let dec = decide(inputs(0, &supply, "2026-11-27"));
        assert_eq!(sent(&dec), (0, Some((20, Some(d("2027-01-10"))))));
        assert_eq!(
            dec.fed_by.iter().map(|l| l.source_id.as_str()).collect::<Vec<_>>(),
            ["PO-1", "PO-2", "PO-4", "PO-5"]
        );
        assert_eq!(dec.ignored.len(), 1);
    }

    #[test]
    fn received_and_cancelled_pos_feed_nothing() {
        let mut received = po("PO-1", 10, Some("2027-02-01"));
        received.status = SupplyStatus::Received;
        let mut cancelled = po("PO-2", 10, Some("2027-02-01"));
        cancelled.status = SupplyStatus::Cancelled;
        let dec = decide(inputs(0, &[received, cancelled, po("PO-3", 1, None)], "2026-11-27"));
        assert_eq!(sent(&dec), (0, Some((1, Some(d("2026-12-27"))))));
    }

    #[test]
    fn containers_instead_of_pos_when_the_setting_is_on() {
        let container = SupplyLine {
            kind: SupplyKind::Container,
            source_id: "CONT-9".into(),
            quantity: 30,
            expected: Some(d("2027-03-01")),
            status: SupplyStatus::Open,
        };
        let supply = [po("PO-1", 40, Some("2027-01-15")), container];
        let mut i = inputs(0, &supply, "2026-11-27");
        assert_eq!(sent(&decide(i)), (0, Some((40, Some(d("2027-01-15"))))));
        i.use_containers = true;
        let dec = decide(i);
        assert_eq!(sent(&dec), (0, Some((30, Some(d("2027-03-01"))))));
        assert_eq!(dec.ignored[0].1, "a PO: containers are in use");
    }

    #[test]
    fn calendar_months_clamp_to_the_end_of_the_month() {
        assert_eq!(add_months(d("2027-01-31"), 1), d("2027-02-28"));
        assert_eq!(add_months(d("2028-01-31"), 1), d("2028-02-29"));
        assert_eq!(add_months(d("2026-08-31"), 1), d("2026-09-30"));
        assert_eq!(add_months(d("2026-11-30"), 3), d("2027-02-28"));
        let mut i = inputs(0, &[po("PO-1", 1, None)], "2027-01-31");
        i.lead_time_months = 1;
        assert_eq!(sent(&decide(i)).1, Some((1, Some(d("2027-02-28")))));
    }

    #[test]
    fn today_is_the_company_s_date() {
        // 2026-11-28 03:00 UTC is still the 27th in Denver, already the 28th in Berlin.
        let now = DateTime::parse_from_rfc3339("2026-11-28T03:00:00Z").map(|t| t.with_timezone(&Utc));
        let now = now.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(today_in(chrono_tz::America::Denver, now), d("2026-11-27"));
        assert_eq!(today_in(chrono_tz::Europe::Berlin, now), d("2026-11-28"));
    }

    #[test]
    fn skus_are_parsed_at_the_boundary() {
        assert_eq!(Sku::parse("  ACME-CHAIR-BLK ").map(|s| s.to_string()), Ok("ACME-CHAIR-BLK".into()));
        assert!(Sku::parse("").is_err());
        assert!(Sku::parse("A\u{0}B").is_err());
        assert!(Sku::parse("A#B").is_err());
        assert!(Sku::parse(&"x".repeat(101)).is_err());
    }

    fn product() -> Product {
        let company = super::super::CompanyId::parse("acme").unwrap_or_else(|e| panic!("{e}"));
        Product::new(company, Sku::parse("SKU-1").unwrap_or_else(|e| panic!("{e}")), t("2026-11-27T10:00:00Z"))
    }

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).unwrap_or_else(|e| panic!("{e}"))
    }

    fn rules(today: &str) -> RuleSettings {
        RuleSettings { today: d(today), lead_time_months: 1, send_backorder: true, use_containers: false }
    }

    /// Five POs of 1e9 for one SKU: the sum does not fit Overstock's quantity; the value is never
    /// sent clamped, the product is failed with the reason until an input changes.
    #[test]
    fn quantities_on_order_too_large_to_be_true_are_never_sent() {
        let lines: Vec<SupplyLine> =
            (1..=5).map(|i| po(&format!("PO-{i}"), 1_000_000_000, Some("2027-01-15"))).collect();
        let dec = decide(inputs(0, &lines, "2026-11-27"));
        assert!(dec.too_large);
        let four = decide(inputs(0, &lines[..4], "2026-11-27"));
        assert!(!four.too_large && sent(&four).1.is_some_and(|b| b.0 == 4_000_000_000));
        let mut p = product();
        let now = t("2026-11-27T12:00:00Z");
        assert!(p.apply_count(0, t("2026-11-27T11:00:00Z"), now));
        for l in &lines {
            assert!(p.apply_supply(l.clone(), t("2026-11-27T11:00:00Z"), now));
        }
        assert_eq!(p.to_send(rules("2026-11-27")), None, "never sent clamped");
        assert!(p.is_failed());
        assert_eq!(p.rejection.as_ref().map(|r| r.message.as_str()), Some(ON_ORDER_TOO_LARGE));
        assert_eq!(p.due, Due::Never);
        // The PO is corrected: the next decision sends again.
        assert!(p.apply_supply(po("PO-5", 10, Some("2027-01-15")), t("2026-11-27T11:30:00Z"), now));
        assert!(!p.is_failed());
        assert!(
            p.to_send(rules("2026-11-27"))
                .is_some_and(|v| v.backorder.is_some_and(|b| b.quantity_on_order == 4_000_000_010))
        );
    }

    #[test]
    fn an_older_count_never_overwrites_a_newer_one_and_a_repeat_changes_nothing() {
        let mut p = product();
        let now = t("2026-11-27T12:00:00Z");
        assert!(p.apply_count(5, t("2026-11-27T11:00:00Z"), now));
        assert!(!p.apply_count(5, t("2026-11-27T11:00:00Z"), now), "the same message twice");
        assert!(!p.apply_count(9, t("2026-11-27T10:59:59Z"), now), "an older count");
        assert_eq!(p.available, Some(5));
        assert!(p.apply_count(0, t("2026-11-27T11:30:00Z"), now));
        assert_eq!((p.available, p.due), (Some(0), Due::Now));
    }

    #[test]
    fn a_po_line_is_ordered_by_its_message_time_and_closed_lines_age_out() {
        let mut p = product();
        let now = t("2026-11-27T12:00:00Z");
        assert!(p.apply_supply(po("PO-1", 10, Some("2027-01-01")), t("2026-11-27T11:00:00Z"), now));
        assert!(!p.apply_supply(po("PO-1", 99, None), t("2026-11-27T10:00:00Z"), now), "older");
        assert_eq!(p.supply["PO#PO-1"].line.quantity, 10);
        let mut received = po("PO-2", 4, None);
        received.status = SupplyStatus::Received;
        assert!(p.apply_supply(received, t("2026-07-01T00:00:00Z"), t("2026-07-01T00:00:00Z")));
        assert!(p.apply_supply(po("PO-3", 1, None), t("2026-11-27T11:00:00Z"), now));
        assert!(!p.supply.contains_key("PO#PO-2"), "closed 149 days ago: dropped");
        assert!(p.supply.contains_key("PO#PO-1"));
    }

    #[test]
    fn sent_only_when_the_value_differs_from_what_overstock_accepted() {
        let mut p = product();
        let now = t("2026-11-27T12:00:00Z");
        p.apply_count(0, now, now);
        p.apply_supply(po("PO-1", 10, Some("2027-01-01")), now, now);
        let v = p.to_send(rules("2026-11-27")).unwrap_or_else(|| panic!("never sent: due"));
        assert!(p.record_accepted(&v, now, rules("2026-11-27")));
        assert_eq!(p.due, Due::On(d("2027-01-01")), "rests until the PO's date arrives");
        // A PO change that leaves the value as it is: decided again, not sent.
        p.apply_supply(po("PO-1", 10, Some("2027-01-01")), t("2026-11-27T13:00:00Z"), now);
        assert_eq!(p.due, Due::Now);
        assert_eq!(p.to_send(rules("2026-11-27")), None);
        assert_eq!(p.due, Due::On(d("2027-01-01")));
        // On that day the date is no longer in the future: today + the lead time is sent.
        let later = p.to_send(rules("2027-01-01"));
        assert_eq!(later.map(|v| v.digest()), Some("q=0;bo=10@2027-02-01".into()));
    }

    #[test]
    fn refused_values_are_retried_then_failed_until_an_input_changes() {
        let mut p = product();
        let now = t("2026-11-27T12:00:00Z");
        p.apply_count(3, now, now);
        for attempt in 1..=3u32 {
            assert!(p.to_send(rules("2026-11-27")).is_some());
            p.record_rejected("not in the catalog", now, 3);
            assert_eq!(p.rejection.as_ref().map(|r| r.attempts), Some(attempt));
        }
        assert!(p.is_failed());
        assert_eq!(p.due, Due::Never);
        p.apply_count(4, t("2026-11-27T12:30:00Z"), now);
        assert!(!p.is_failed());
        assert_eq!(p.due, Due::Now);
    }

    #[test]
    fn accepted_while_the_inputs_changed_stays_due() {
        let mut p = product();
        let now = t("2026-11-27T12:00:00Z");
        p.apply_count(3, now, now);
        let v = p.to_send(rules("2026-11-27")).unwrap_or_else(|| panic!("due"));
        p.apply_count(7, t("2026-11-27T12:01:00Z"), now);
        p.record_accepted(&v, now, rules("2026-11-27"));
        assert_eq!(p.sent.as_ref().map(|s| s.value.quantity), Some(3), "what Overstock holds");
        assert_eq!(p.due, Due::Now, "7 is still to send");
    }

    #[test]
    fn a_product_without_a_count_is_never_sent() {
        let mut p = product();
        let now = t("2026-11-27T12:00:00Z");
        p.apply_supply(po("PO-1", 10, None), now, now);
        assert_eq!(p.to_send(rules("2026-11-27")), None);
        assert_eq!(p.due, Due::Never);
    }

    #[test]
    fn drift_compares_what_was_accepted_with_what_overstock_holds() {
        let here: std::collections::BTreeMap<String, Option<String>> = [
            ("A".to_owned(), Some("q=1".to_owned())),
            ("B".to_owned(), Some("q=2".to_owned())),
            ("C".to_owned(), Some("q=3".to_owned())),
            ("D".to_owned(), None),
        ]
        .into();
        let there: std::collections::BTreeMap<String, String> = [
            ("A".to_owned(), "q=1".to_owned()),
            ("B".to_owned(), "q=9".to_owned()),
            ("Z".to_owned(), "q=4".to_owned()),
        ]
        .into();
        let found = compare_inventory(&here, &there);
        let names: Vec<(&str, bool)> = found.iter().map(|f| (f.sku.as_str(), f.known_here)).collect();
        assert_eq!(names, [("B", true), ("C", true), ("Z", false)]);
        assert_eq!(found[1].there, None, "sent here, nothing there");
    }

    #[test]
    fn a_sku_that_leaves_a_po_gets_a_closed_line() {
        let company = super::super::CompanyId::parse("acme").unwrap_or_else(|e| panic!("{e}"));
        let sku = |s: &str| Sku::parse(s).unwrap_or_else(|e| panic!("{e}"));
        let v1 = SupplySource {
            company_id: company.clone(),
            kind: SupplyKind::PurchaseOrder,
            id: "PO-1".into(),
            status: SupplyStatus::Open,
            lines: vec![
                SourceLine { sku: sku("A"), quantity: 5, expected: None },
                SourceLine { sku: sku("B"), quantity: 7, expected: Some(d("2027-01-01")) },
            ],
            updated_at: t("2026-11-27T10:00:00Z"),
            received_at: t("2026-11-27T10:00:00Z"),
        };
        let v2 = SupplySource { lines: vec![SourceLine { sku: sku("B"), quantity: 9, expected: None }], ..v1.clone() };
        let lines = v2.product_lines(Some(&v1));
        assert_eq!(lines.len(), 2);
        assert_eq!((lines[0].0.as_str(), lines[0].1.quantity, lines[0].1.status), ("B", 9, SupplyStatus::Open));
        assert_eq!((lines[1].0.as_str(), lines[1].1.quantity, lines[1].1.status), ("A", 0, SupplyStatus::Cancelled));
        assert_eq!(v1.product_lines(None).len(), 2);
    }

    /// A count or a PO version dated beyond the clock skew is refused (it would freeze the
    /// product: every real update after it would be "older"); a few minutes ahead is accepted.
    #[test]
    fn times_in_the_future_are_refused_beyond_the_clock_skew() {
        let now = t("2026-11-27T12:00:00Z");
        let count = |at: &str| {
            format!(
                r#"{{"type":"inventory_update","version":1,"company_id":"acme","sku":"A","available":1,"counted_at":"{at}"}}"#
            )
        };
        let po = |at: &str| {
            format!(
                r#"{{"type":"purchase_order","version":1,"company_id":"acme","po_number":"P","status":"open","updated_at":"{at}","lines":[]}}"#
            )
        };
        for (body, field) in [
            (count("9999-12-31T23:59:59Z"), "counted_at"),
            (count("2026-11-27T12:05:01Z"), "counted_at"),
            (po("2100-01-01T00:00:00Z"), "updated_at"),
        ] {
            let r = parse_intake(&body, now).err();
            assert!(r.as_ref().is_some_and(|r| r.field == field && r.reason.contains("future")), "{body}: {r:?}");
        }
        assert!(parse_intake(&count("2026-11-27T12:04:59Z"), now).is_ok(), "within the skew");
        assert!(parse_intake(&po("2026-11-27T11:00:00Z"), now).is_ok());
    }

    #[test]
    fn intake_messages_parse_and_every_refusal_names_its_field() {
        let ok = parse_intake(
            r#"{"type":"inventory_update","version":1,"company_id":"acme","sku":"ACME-1","available":-2,"counted_at":"2026-11-27T10:00:00.123456-07:00"}"#,
            test_now(),
        );
        let Ok(Intake::Count { available, counted_at, .. }) = ok else { panic!("{ok:?}") };
        assert_eq!((available, counted_at), (-2, t("2026-11-27T17:00:00.123Z")));
        let po = parse_intake(
            r#"{"type":"purchase_order","version":1,"company_id":"acme","po_number":"PO-1","status":"open","updated_at":"2026-11-27T10:00:00Z",
                "lines":[{"sku":"A","quantity_on_order":40,"expected_delivery_date":"2027-01-15"},{"sku":"B","quantity_on_order":0}]}"#,
            test_now(),
        );
        let Ok(Intake::Source(src)) = po else { panic!("{po:?}") };
        assert_eq!(
            (src.kind, src.lines.len(), src.lines[0].expected),
            (SupplyKind::PurchaseOrder, 2, Some(d("2027-01-15")))
        );
        let refused = |body: &str| {
            parse_intake(body, test_now()).err().map(|r| format!("{}: {}", r.field, r.reason)).unwrap_or_default()
        };
        assert_eq!(refused("{"), "message: not JSON (truncated at line 1 column 1)");
        assert_eq!(
            refused(
                r#"{"type":"inventory_update","version":1,"company_id":"acme","sku":"A","available":"3","counted_at":"2026-11-27T10:00:00Z"}"#
            ),
            "available: must be a whole number"
        );
        assert_eq!(
            refused(
                r#"{"type":"inventory_update","version":1,"company_id":"acme","sku":"A","available":3,"counted_at":"yesterday"}"#
            ),
            "counted_at: must be an RFC 3339 time with its offset, like 2026-11-27T10:00:00Z"
        );
        assert_eq!(
            refused(
                r#"{"type":"shipping_container","version":1,"company_id":"acme","container_id":"C 1","status":"open","updated_at":"2026-11-27T10:00:00Z","lines":[]}"#
            ),
            "container_id: 1 to 64 letters, digits, '.', '_', ':', '-', '/'"
        );
        assert_eq!(
            refused(
                r#"{"type":"purchase_order","version":1,"company_id":"acme","po_number":"P","status":"shipped","updated_at":"2026-11-27T10:00:00Z","lines":[]}"#
            ),
            "status: unknown status \"shipped\": expected open, received or cancelled"
        );
        assert_eq!(
            refused(
                r#"{"type":"purchase_order","version":1,"company_id":"acme","po_number":"P","status":"open","updated_at":"2026-11-27T10:00:00Z","lines":[{"sku":"A","quantity_on_order":1},{"sku":"A","quantity_on_order":2}]}"#
            ),
            "lines[1].sku: A appears twice: one line per SKU"
        );
        assert_eq!(
            refused(
                r#"{"type":"purchase_order","version":1,"company_id":"acme","po_number":"P","status":"open","updated_at":"2026-11-27T10:00:00Z","lines":[{"sku":"A","quantity_on_order":-1}]}"#
            ),
            "lines[0].quantity_on_order: must be a whole number from 0 to 1000000000"
        );
        assert_eq!(
            refused(
                r#"{"type":"purchase_order","version":1,"company_id":"acme","po_number":"P","status":"open","updated_at":"2026-11-27T10:00:00Z","lines":[{"sku":"A","quantity_on_order":1,"expected_delivery_date":"15/01/2027"}]}"#
            ),
            "lines[0].expected_delivery_date: must be a date, YYYY-MM-DD"
        );
        assert_eq!(
            refused(
                r#"{"type":"inventory_update","version":1,"company_id":"acme","sku":"A","available":1,"counted_at":"2026-11-27T10:00:00Z","extra":1}"#
            ),
            "extra: unknown field"
        );
        assert_eq!(
            refused(r#"{"type":"refund","version":1,"company_id":"acme"}"#),
            "type: \"refund\" is not one of inventory_update, purchase_order, shipping_container"
        );
    }

    /// (type, schema, example SQS event) of the intake queue's messages, as published.
    const PUBLISHED: &[(&str, &str, &str)] = &[
        (
            "inventory_update",
            include_str!("../../../docs/messages/inventory_update.v1.schema.json"),
            include_str!("../../../events/inventory-update.json"),
        ),
        (
            "purchase_order",
            include_str!("../../../docs/messages/purchase_order.v1.schema.json"),
            include_str!("../../../events/purchase-order.json"),
        ),
        (
            "shipping_container",
            include_str!("../../../docs/messages/shipping_container.v1.schema.json"),
            include_str!("../../../events/shipping-container.json"),
        ),
    ];

    #[test]
    fn the_published_examples_parse_and_the_schemas_required_fields_are_the_parsers() {
        let json = |s: &str| -> serde_json::Value { serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}")) };
        for (name, schema, event) in PUBLISHED {
            let schema = json(schema);
            let body = json(json(event)["Records"][0]["body"].as_str().unwrap_or_else(|| panic!("a body")));
            assert_eq!(schema["examples"][0], body, "{name}: the schema's example is the event's body");
            let parsed = parse_intake(&body.to_string(), test_now()).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert_eq!(parsed.type_name(), *name);
            for field in schema["required"].as_array().cloned().unwrap_or_default() {
                let field = field.as_str().unwrap_or_default();
                let mut without = body.clone();
                if let Some(m) = without.as_object_mut() {
                    m.remove(field);
                }
                let refused = parse_intake(&without.to_string(), test_now()).err().map(|r| r.field);
                // Without its type a message is still refused, by `type`.
                assert_eq!(refused.as_deref(), Some(field), "{name} without {field}");
            }
            let mut extra = body.clone();
            if let Some(m) = extra.as_object_mut() {
                m.insert("colour".into(), serde_json::json!("red"));
            }
            assert_eq!(parse_intake(&extra.to_string(), test_now()).err().map(|r| r.field).as_deref(), Some("colour"));
        }
    }

    fn line() -> impl Strategy<Value = SupplyLine> {
        (
            prop_oneof![Just(SupplyKind::PurchaseOrder), Just(SupplyKind::Container)],
            0u32..1000,
            proptest::option::of(-60i64..400),
            prop_oneof![Just(SupplyStatus::Open), Just(SupplyStatus::Received), Just(SupplyStatus::Cancelled)],
            0u32..1000,
        )
            .prop_map(|(kind, quantity, offset, status, id)| SupplyLine {
                kind,
                source_id: format!("S-{id}"),
                quantity,
                expected: offset.map(|o| d("2026-11-27") + chrono::Duration::days(o)),
                status,
            })
    }

    proptest! {
        #[test]
        fn the_backorder_quantity_is_the_sum_of_the_open_lines_of_the_kind_in_use(
            supply in proptest::collection::vec(line(), 0..12),
            available in -50i64..=0,
            use_containers: bool,
            lead in 1u32..=24,
        ) {
            let today = d("2026-11-27");
            let dec = decide(Inputs { available, supply: &supply, today, lead_time_months: lead, send_backorder: true, use_containers });
            let kind = if use_containers { SupplyKind::Container } else { SupplyKind::PurchaseOrder };
            let expected: u32 = supply.iter().filter(|l| l.kind == kind && l.status == SupplyStatus::Open).map(|l| l.quantity).sum();
            let b = dec.value.backorder.clone();
            prop_assert!(b.is_some());
            let b = b.unwrap_or(Backorder { quantity_on_order: u32::MAX, expected: None });
            prop_assert_eq!(b.quantity_on_order, expected);
            // No date without quantity; never a date today or earlier.
            prop_assert_eq!(b.expected.is_some(), b.quantity_on_order > 0);
            if let Some(date) = b.expected {
                prop_assert!(date > today, "{} is not after {}", date, today);
            }
            prop_assert_eq!(dec.value.quantity, 0);
        }

        #[test]
        fn the_value_is_a_function_of_its_inputs_only(
            supply in proptest::collection::vec(line(), 0..8),
            available in -5i64..5,
        ) {
            let i = Inputs { available, supply: &supply, today: d("2026-11-27"), lead_time_months: 1, send_backorder: true, use_containers: false };
            let mut reversed = supply.clone();
            reversed.reverse();
            let j = Inputs { supply: &reversed, ..i };
            prop_assert_eq!(decide(i).value, decide(j).value, "line order does not matter");
        }
    }
}
