//! Orders: what Overstock sent, what the seller's side did with it, and the rules joining them.

use super::mapping::{MappingOutcome, MappingTable, UNMAPPED_REASON};
use super::{CompanyId, OrderNumber, ServiceLevelCode};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A postal address as Overstock sends it. Never logged.
/// What an operator's repair of an order (requeue a rejected acknowledgement, reset failed upload
/// lines) refuses: the order is not in a state the repair applies to, so the same repair is
/// refused again until the order changes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RepairError {
    #[error("the acknowledgement is not rejected (it is {0}): nothing to requeue")]
    AckNotRejected(&'static str),
    #[error("the order has no creation date: Overstock's copy cannot be read to check it first")]
    NoCreationDate,
    #[error("Overstock does not list order {0} at its creation time: nothing reset")]
    NotOnOverstock(String),
    #[error("Overstock's copy of the order does not parse ({0}): nothing reset")]
    UnreadableOnOverstock(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Address {
    pub contact_name: Option<String>,
    pub address1: Option<String>,
    pub address2: Option<String>,
    pub city: Option<String>,
    pub state_or_province: Option<String>,
    pub postal_code: Option<String>,
    pub country_code: Option<String>,
    pub phone: Option<String>,
}

/// The service level of an order: small parcel or freight (LTL).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceLevel {
    pub code: ServiceLevelCode,
    /// True when Overstock sent `ltlServiceLevel` (a freight order).
    pub freight: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ShippingSpecifications {
    pub is_third_party_billing: Option<bool>,
    pub is_signature_required: Option<bool>,
    pub is_declared_value_required: Option<bool>,
    pub is_export: Option<bool>,
    pub service_level: Option<ServiceLevel>,
}

/// Overstock's order status, normalised (case-insensitive; both spellings of cancelled).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum OverstockStatus {
    Entered,
    Acknowledged,
    Accepted,
    Processing,
    Complete,
    Cancelled,
    Other(String),
}

impl OverstockStatus {
    pub fn parse(s: &str) -> Self {
        match s.trim().to_ascii_uppercase().as_str() {
            "ENTERED" => Self::Entered,
            "ACKNOWLEDGED" => Self::Acknowledged,
            "ACCEPTED" => Self::Accepted,
            "PROCESSING" => Self::Processing,
            "COMPLETE" | "COMPLETED" => Self::Complete,
            "CANCELLED" | "CANCELED" => Self::Cancelled,
            other => Self::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Entered => "ENTERED",
            Self::Acknowledged => "ACKNOWLEDGED",
            Self::Accepted => "ACCEPTED",
            Self::Processing => "PROCESSING",
            Self::Complete => "COMPLETE",
            Self::Cancelled => "CANCELLED",
            Self::Other(s) => s,
        }
    }

    /// True once Overstock has the order past `ENTERED`: an acknowledgement would be redundant.
    pub fn is_past_acknowledgement(&self) -> bool {
        matches!(self, Self::Acknowledged | Self::Accepted | Self::Processing | Self::Complete | Self::Cancelled)
    }
}

impl From<String> for OverstockStatus {
    fn from(s: String) -> Self {
        Self::parse(&s)
    }
}
impl From<OverstockStatus> for String {
    fn from(s: OverstockStatus) -> Self {
        s.as_str().to_owned()
    }
}

/// One line of an order as Overstock sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SalesOrderLine {
    /// `salesChannelLineNumber` (or the older `salesChannelLineId`).
    pub line_number: String,
    pub partner_sku: Option<String>,
    pub sales_channel_sku: Option<String>,
    pub barcode: Option<String>,
    pub upc: Option<String>,
    pub quantity: u32,
    pub item_price: Option<Decimal>,
    pub item_name: Option<String>,
    pub line_status: Option<String>,
    pub unit_cost: Option<Decimal>,
    pub unit_cost_currency_code: Option<String>,
}

/// An order as Overstock sent it (both response shapes parse into this).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SalesOrder {
    pub order_number: OrderNumber,
    pub sales_channel_name: Option<String>,
    pub order_date: Option<DateTime<Utc>>,
    pub sofs_created_date: Option<DateTime<Utc>>,
    pub warehouse_code: Option<String>,
    pub ship_to: Option<Address>,
    pub return_address: Option<Address>,
    pub shipping: ShippingSpecifications,
    pub overstock_order_id: Option<String>,
    pub status: Option<OverstockStatus>,
    pub action_required: Option<bool>,
    pub lines: Vec<SalesOrderLine>,
    /// Overstock's own ship-by time for the order, when it sends one (provisional element
    /// `expectedShipDate`; docs/decisions.md, "Provisional wire formats"): it wins over the
    /// company's calendar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_ship_date: Option<DateTime<Utc>>,
    /// What reading Overstock's text found doubtful, by element and kind (never the value): a
    /// byte that was not UTF-8, a raw `&`, a price in exponent notation or with more than two
    /// decimals, a repeated copy in one answer. The order is stored as read and flagged with
    /// these for attention: losing an order is worse than storing it with a visible flag.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wire_notes: Vec<String>,
}

impl SalesOrderLine {
    /// Overstock shows the line cancelled (either spelling, any case).
    pub fn cancelled_on_overstock(&self) -> bool {
        self.line_status.as_deref().is_some_and(|s| OverstockStatus::parse(s) == OverstockStatus::Cancelled)
    }

    /// Overstock shows the line shipped in full.
    pub fn shipped_on_overstock(&self) -> bool {
        self.line_status.as_deref().is_some_and(|s| s.trim().eq_ignore_ascii_case("SHIPPED"))
    }
}

impl SalesOrder {
    /// The line numbers Overstock shows cancelled: each line's own status, or all of them when
    /// the whole order is `CANCELLED`.
    pub fn cancelled_lines(&self) -> Vec<String> {
        let whole = self.status == Some(OverstockStatus::Cancelled);
        self.lines.iter().filter(|l| whole || l.cancelled_on_overstock()).map(|l| l.line_number.clone()).collect()
    }

    pub fn service_level_code(&self) -> Option<&ServiceLevelCode> {
        self.shipping.service_level.as_ref().map(|s| &s.code)
    }
}

/// Local order status (see the lifecycle in the domain rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum LocalStatus {
    InProcess,
    Acknowledged,
    Shipped,
    ShipConfirmed,
    Completed,
    PartiallyCancelled,
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaymentStatus {
    Paid,
    PartiallyRefunded,
    Refunded,
}

/// Where the acknowledgement of an order stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AckState {
    /// Acknowledgement was off when the order was downloaded.
    NotRequired,
    /// Recorded before sending; cleared once Overstock accepted it (or already shows it acknowledged).
    Pending,
    Acknowledged {
        at: DateTime<Utc>,
        sent: bool,
    },
    /// Overstock rejected the acknowledgement; not retried automatically.
    Rejected {
        at: DateTime<Utc>,
        reason: String,
    },
}

/// The seller-side result of the shipping method mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingAssignment {
    pub shipping_method: String,
    pub code_to_send: String,
}

/// An order as stored: Overstock's side plus local progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub company_id: CompanyId,
    pub order_number: OrderNumber,
    pub overstock: SalesOrder,
    pub local_status: LocalStatus,
    pub payment_status: PaymentStatus,
    pub shipping: Option<ShippingAssignment>,
    pub rush: bool,
    /// Reasons the order needs attention (e.g. `unmapped shipping method`).
    pub attention: Vec<String>,
    pub ack: AckState,
    pub downloaded_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Packages recorded by the warehouse side, with their upload state per line.
    #[serde(default)]
    pub shipments: Vec<super::shipment::Package>,
    /// Cancel requests applied to the order (who, when, why, which lines, the short ship).
    #[serde(default)]
    pub cancellations: Vec<super::cancellation::Cancellation>,
    /// Refunds requested on the order, including those of RMA receipts.
    #[serde(default)]
    pub refunds: Vec<super::refund::Refund>,
    /// Returns opened on the order.
    #[serde(default)]
    pub rmas: Vec<super::refund::Rma>,
    /// When the order must have left the warehouse: Overstock's own date when its order carries
    /// one, else the company's calendar at download (`domain::calendar`). The watchdog's clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ship_by: Option<DateTime<Utc>>,
    /// What the watchdog last found (at risk, late), shown only while lines are still to ship:
    /// a shipment recorded or a cancellation clears it without the watchdog.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch: Option<WatchFlag>,
    /// Optimistic-concurrency version: every stored write checks it and increments it.
    #[serde(default)]
    pub version: u64,
}

/// What the ship-by watchdog flagged on an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WatchFlag {
    AtRisk,
    Late,
}

impl WatchFlag {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AtRisk => "at_risk",
            Self::Late => "late",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "at_risk" => Some(Self::AtRisk),
            "late" => Some(Self::Late),
            _ => None,
        }
    }

    pub fn of(w: super::calendar::Watch) -> Option<Self> {
        match w {
            super::calendar::Watch::OnTime => None,
            super::calendar::Watch::AtRisk { .. } => Some(Self::AtRisk),
            super::calendar::Watch::Late { .. } => Some(Self::Late),
        }
    }
}

/// The watchdog's flags (the ship-by instant follows them).
pub const AT_RISK_REASON: &str = "at risk of missing its ship-by time";
pub const LATE_REASON: &str = "late: not shipped by its ship-by time";

impl Order {
    /// A newly downloaded order: mapped through the company's table, `InProcess`, `Paid`, and
    /// with its acknowledgement pending when acknowledgement is on and Overstock still waits for it.
    pub fn from_download(
        company_id: CompanyId,
        so: SalesOrder,
        mappings: &MappingTable,
        acknowledgement_on: bool,
        now: DateTime<Utc>,
    ) -> Self {
        let ack = match (acknowledgement_on, so.status.as_ref()) {
            (false, _) => AckState::NotRequired,
            (true, Some(s)) if s.is_past_acknowledgement() => AckState::Acknowledged { at: now, sent: false },
            (true, _) => AckState::Pending,
        };
        let mut order = Self {
            company_id,
            order_number: so.order_number.clone(),
            overstock: so,
            local_status: LocalStatus::InProcess,
            payment_status: PaymentStatus::Paid,
            shipping: None,
            rush: false,
            attention: Vec::new(),
            ack,
            downloaded_at: now,
            updated_at: now,
            shipments: Vec::new(),
            cancellations: Vec::new(),
            refunds: Vec::new(),
            rmas: Vec::new(),
            ship_by: None,
            watch: None,
            version: 0,
        };
        order.apply_mapping(mappings);
        order
    }

    /// Open: Overstock may still change it in a way that matters here (not ship confirmed,
    /// completed or cancelled). The status sync reads open orders again.
    pub fn is_open(&self) -> bool {
        !matches!(self.local_status, LocalStatus::ShipConfirmed | LocalStatus::Completed | LocalStatus::Cancelled)
    }

    /// When the customer placed the order: Overstock's `orderDate`, else its creation time, else
    /// when it was downloaded.
    pub fn placed_at(&self) -> DateTime<Utc> {
        self.overstock.order_date.or(self.overstock.sofs_created_date).unwrap_or(self.downloaded_at)
    }

    /// Sets the ship-by instant: Overstock's own when it sent one, else the company's calendar
    /// from when the order was placed. Returns true when it changed.
    pub fn assign_ship_by(&mut self, rules: &super::calendar::ShipByRules, zone: chrono_tz::Tz) -> bool {
        let ship_by = Some(self.overstock.expected_ship_date.unwrap_or_else(|| rules.ship_by(self.placed_at(), zone)));
        let changed = self.ship_by != ship_by;
        self.ship_by = ship_by;
        changed
    }

    /// Lines with units not yet in any package and not cancelled (here or on Overstock). A
    /// package recorded counts, sent or held: the warehouse did its part.
    pub fn lines_to_ship(&self) -> Vec<&str> {
        self.overstock
            .lines
            .iter()
            .map(|l| l.line_number.as_str())
            .filter(|l| !self.line_is_cancelled(l) && self.open_quantity(l).unwrap_or(0) > 0)
            .collect()
    }

    /// The ship-by instant while the watchdog has something to watch: lines still to ship on an
    /// order not cancelled or closed. The index of watched orders holds exactly these.
    pub fn watched_ship_by(&self) -> Option<DateTime<Utc>> {
        let closed =
            matches!(self.local_status, LocalStatus::Cancelled | LocalStatus::Completed | LocalStatus::ShipConfirmed);
        self.ship_by.filter(|_| !closed && !self.lines_to_ship().is_empty())
    }

    /// The watchdog's flag as shown to the operator, while it still applies.
    pub fn watch_attention(&self) -> Option<String> {
        let at = crate::domain::utc_key(self.watched_ship_by()?);
        match self.watch? {
            WatchFlag::AtRisk => Some(format!("{AT_RISK_REASON} (ship by {at})")),
            WatchFlag::Late => Some(format!("{LATE_REASON} (ship by {at})")),
        }
    }

    /// Every reason the order needs attention: the stored flags and the watchdog's.
    pub fn attention_flags(&self) -> Vec<String> {
        self.attention.iter().cloned().chain(self.watch_attention()).collect()
    }

    pub fn is_unmapped(&self) -> bool {
        self.attention.iter().any(|a| a == UNMAPPED_REASON)
    }

    /// Flags values that make no sense (see [`anomalies`]); the order is kept as sent.
    pub fn flag_anomalies(&mut self, asked: &super::window::Window) {
        for a in anomalies(&self.overstock, asked) {
            if !self.attention.contains(&a) {
                self.attention.push(a);
            }
        }
    }

    /// Applies the mapping. Returns true when the order changed.
    pub fn apply_mapping(&mut self, mappings: &MappingTable) -> bool {
        let before = (self.shipping.clone(), self.rush, self.attention.clone());
        match mappings.resolve(self.overstock.service_level_code()) {
            MappingOutcome::Mapped { shipping_method, code_to_send, rush } => {
                self.shipping = Some(ShippingAssignment { shipping_method, code_to_send });
                self.rush = rush;
                self.attention.retain(|a| a != UNMAPPED_REASON);
            }
            MappingOutcome::Unmapped => {
                if !self.is_unmapped() {
                    self.attention.push(UNMAPPED_REASON.to_owned());
                }
            }
        }
        before != (self.shipping.clone(), self.rush, self.attention.clone())
    }

    /// The operator's requeue of a rejected acknowledgement: pending again (the download
    /// reconciles it with Overstock's status before anything is sent).
    pub fn requeue_acknowledgement(&mut self, now: DateTime<Utc>) -> Result<(), RepairError> {
        let state = match self.ack {
            AckState::Rejected { .. } => {
                self.ack = AckState::Pending;
                self.updated_at = now;
                return Ok(());
            }
            AckState::NotRequired => "not required",
            AckState::Pending => "pending",
            AckState::Acknowledged { .. } => "acknowledged",
        };
        Err(RepairError::AckNotRejected(state))
    }

    /// Applies an acknowledgement accepted by Overstock (or found already done there): local
    /// status moves from `InProcess` to `Acknowledged`, never backwards.
    pub fn mark_acknowledged(&mut self, at: DateTime<Utc>, sent: bool) {
        self.ack = AckState::Acknowledged { at, sent };
        if sent && self.overstock.status.as_ref().is_none_or(|s| !s.is_past_acknowledgement()) {
            // The API doc: after an accepted acknowledgement the order is ACKNOWLEDGED and no
            // action is required. Recording it keeps the stored fingerprint equal to what the
            // next download reads, so a rerun needs no write.
            self.overstock.status = Some(OverstockStatus::Acknowledged);
            self.overstock.action_required = Some(false);
        }
        if self.local_status == LocalStatus::InProcess {
            self.local_status = LocalStatus::Acknowledged;
        }
        self.updated_at = at;
    }
}

/// Values that parse but make no sense for an order: it is stored (never dropped) with these
/// reasons as attention flags, for an operator to look at. `asked`: the window it was read in.
pub fn anomalies(so: &SalesOrder, asked: &super::window::Window) -> Vec<String> {
    let mut out = so.wire_notes.clone();
    if so.lines.is_empty() {
        out.push("order has no lines".to_owned());
    }
    for l in &so.lines {
        if l.quantity == 0 {
            out.push(format!("line {} has quantity 0", l.line_number));
        }
        if l.item_price.is_none() {
            out.push(format!("line {} has no itemPrice: a refund of it cannot be computed", l.line_number));
        }
        if l.item_price.is_some_and(|p| p.is_sign_negative() && !p.is_zero())
            || l.unit_cost.is_some_and(|p| p.is_sign_negative() && !p.is_zero())
        {
            out.push(format!("line {} has a negative price", l.line_number));
        }
    }
    match so.sofs_created_date {
        None => out.push("no sofsCreatedDate: Overstock's copy cannot be read again by window".to_owned()),
        Some(t) if t < asked.start - chrono::Duration::days(1) || t > asked.end + chrono::Duration::days(1) => {
            out.push("sofsCreatedDate far outside the window it was read in".to_owned())
        }
        Some(_) => {}
    }
    out
}

/// A compact, readable fingerprint of the Overstock-side fields a later download may change
/// (status, action required, line statuses). Stored beside the order so that a rerun can tell
/// "nothing changed" from a small projection instead of reading whole orders.
pub fn overstock_fingerprint(so: &SalesOrder) -> String {
    let mut f = format!(
        "{}|{}",
        so.status.as_ref().map(|s| s.as_str()).unwrap_or("-"),
        match so.action_required {
            Some(true) => "1",
            Some(false) => "0",
            None => "-",
        }
    );
    for l in &so.lines {
        f.push_str(&format!("|{}={}", l.line_number, l.line_status.as_deref().unwrap_or("-")));
    }
    f
}

/// What a later download may change on a known order: Overstock's side only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverstockSideUpdate {
    pub status: Option<OverstockStatus>,
    pub action_required: Option<bool>,
    pub line_statuses: Vec<(String, Option<String>)>,
}

/// The rule for an order seen again: returns the Overstock-side changes, or `None` if nothing
/// changed. Local status, shipments, mapping and payment are never touched by a download.
pub fn overstock_side_changes(stored: &SalesOrder, incoming: &SalesOrder) -> Option<OverstockSideUpdate> {
    let stored_lines: Vec<(String, Option<String>)> =
        stored.lines.iter().map(|l| (l.line_number.clone(), l.line_status.clone())).collect();
    let incoming_lines: Vec<(String, Option<String>)> =
        incoming.lines.iter().map(|l| (l.line_number.clone(), l.line_status.clone())).collect();
    let lines_changed = stored_lines.len() == incoming_lines.len() && stored_lines != incoming_lines;
    if stored.status == incoming.status && stored.action_required == incoming.action_required && !lines_changed {
        return None;
    }
    Some(OverstockSideUpdate {
        status: incoming.status.clone(),
        action_required: incoming.action_required,
        line_statuses: if lines_changed { incoming_lines } else { stored_lines },
    })
}

impl OverstockSideUpdate {
    pub fn apply(&self, so: &mut SalesOrder) {
        so.status = self.status.clone();
        so.action_required = self.action_required;
        for (number, status) in &self.line_statuses {
            if let Some(line) = so.lines.iter_mut().find(|l| &l.line_number == number) {
                line.line_status = status.clone();
            }
        }
    }
}

/// An order's attention flags as one short text for a list: flags that differ only by their
/// line (`line 1 cancelled …`, `line 2 cancelled …`) become one (`lines 1, 2 cancelled …`), and
/// each flag is said once, in the order first raised.
pub fn attention_summary(flags: &[String]) -> String {
    let mut merged: Vec<(Vec<&str>, &str)> = Vec::new();
    for f in flags {
        let (line, rest) = match f.strip_prefix("line ").and_then(|t| t.split_once(' ')) {
            Some((line, rest)) if !line.is_empty() => (Some(line), rest),
            _ => (None, f.as_str()),
        };
        match merged.iter_mut().find(|(lines, r)| *r == rest && lines.is_empty() == line.is_none()) {
            Some((lines, _)) => lines.extend(line.filter(|l| !lines.contains(l))),
            None => merged.push((line.into_iter().collect(), rest)),
        }
    }
    merged
        .into_iter()
        .map(|(lines, rest)| match lines.as_slice() {
            [] => rest.to_owned(),
            [one] => format!("line {one} {rest}"),
            many => format!("lines {} {rest}", many.join(", ")),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::mapping::ShippingMethodMapping;

    use crate::domain::fixtures::{company, next_day_mapping, sales_order};

    fn so(status: &str, code: &str) -> SalesOrder {
        sales_order(status, code, &[])
    }

    #[test]
    fn attention_flags_that_differ_by_line_are_said_once() {
        let f = |v: &[&str]| attention_summary(&v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        let after = "cancelled by Overstock after a shipment was recorded: tracking not sent";
        assert_eq!(
            f(&[&format!("line 1 {after}"), &format!("line 2 {after}"), "cancelled by Overstock"]),
            format!("lines 1, 2 {after}; cancelled by Overstock")
        );
        assert_eq!(f(&[&format!("line 3 {after}"), &format!("line 3 {after}")]), format!("line 3 {after}"));
        assert_eq!(f(&["unmapped shipping method", "unmapped shipping method"]), "unmapped shipping method");
        // Another text after the line is another flag; a flag not about a line stays whole.
        assert_eq!(f(&["line 1 short", "line 2 long", "lines of text"]), "line 1 short; line 2 long; lines of text");
        assert_eq!(f(&[]), "");
    }

    fn table() -> MappingTable {
        next_day_mapping("Next Day")
    }

    #[test]
    fn status_parsing_accepts_both_spellings_and_any_case() {
        assert_eq!(OverstockStatus::parse("canceled"), OverstockStatus::Cancelled);
        assert_eq!(OverstockStatus::parse("CANCELLED"), OverstockStatus::Cancelled);
        assert_eq!(OverstockStatus::parse("Entered"), OverstockStatus::Entered);
        assert_eq!(OverstockStatus::parse("ON_HOLD"), OverstockStatus::Other("ON_HOLD".into()));
    }

    #[test]
    fn new_order_is_mapped_and_ack_pending() {
        let o = Order::from_download(company(), so("ENTERED", "next_day"), &table(), true, Utc::now());
        assert_eq!(o.shipping.as_ref().map(|s| s.code_to_send.as_str()), Some("UPS"));
        assert!(o.rush);
        assert!(!o.is_unmapped());
        assert_eq!(o.ack, AckState::Pending);
        assert_eq!(o.local_status, LocalStatus::InProcess);
    }

    #[test]
    fn unmapped_order_is_flagged_then_mapped() {
        let mut o = Order::from_download(company(), so("ENTERED", "GROUND"), &table(), false, Utc::now());
        assert!(o.is_unmapped());
        assert_eq!(o.attention, vec![UNMAPPED_REASON.to_owned()]);
        assert_eq!(o.ack, AckState::NotRequired);
        assert!(!o.apply_mapping(&table()), "still unmapped, nothing changes");
        let with_ground = MappingTable::new([ShippingMethodMapping {
            code_to_receive: ServiceLevelCode::parse("ground").unwrap_or_else(|e| panic!("{e}")),
            shipping_method: "Ground".into(),
            code_to_send: "FEDEX".into(),
            rush: false,
        }]);
        assert!(o.apply_mapping(&with_ground));
        assert!(!o.is_unmapped());
        assert_eq!(o.shipping.as_ref().map(|s| s.shipping_method.as_str()), Some("Ground"));
    }

    #[test]
    fn order_already_acknowledged_on_overstock_is_not_acknowledged_again() {
        let o = Order::from_download(company(), so("ACKNOWLEDGED", "NEXT_DAY"), &table(), true, Utc::now());
        assert!(matches!(o.ack, AckState::Acknowledged { sent: false, .. }));
    }

    #[test]
    fn seen_again_changes_only_overstock_side() {
        let stored = so("ENTERED", "NEXT_DAY");
        assert_eq!(overstock_side_changes(&stored, &stored.clone()), None);
        let update = overstock_side_changes(&stored, &so("CANCELED", "NEXT_DAY"));
        assert_eq!(update.as_ref().and_then(|u| u.status.clone()), Some(OverstockStatus::Cancelled));
        let mut o = Order::from_download(company(), stored, &table(), false, Utc::now());
        o.local_status = LocalStatus::Shipped;
        if let Some(u) = update {
            u.apply(&mut o.overstock);
        }
        assert_eq!(o.local_status, LocalStatus::Shipped, "local progress kept");
        assert_eq!(o.overstock.status, Some(OverstockStatus::Cancelled));
    }

    #[test]
    fn fingerprint_changes_with_overstock_side_only() {
        let a = so("ENTERED", "NEXT_DAY");
        assert_eq!(overstock_fingerprint(&a), "ENTERED|1");
        let mut b = a.clone();
        b.shipping.service_level = None;
        assert_eq!(overstock_fingerprint(&a), overstock_fingerprint(&b), "service level is not Overstock-side status");
        assert_ne!(overstock_fingerprint(&a), overstock_fingerprint(&so("CANCELLED", "NEXT_DAY")));
    }

    #[test]
    fn acknowledgement_never_moves_status_backwards() {
        let mut o = Order::from_download(company(), so("ENTERED", "NEXT_DAY"), &table(), true, Utc::now());
        o.mark_acknowledged(Utc::now(), true);
        assert_eq!(o.local_status, LocalStatus::Acknowledged);
        o.local_status = LocalStatus::Shipped;
        o.mark_acknowledged(Utc::now(), true);
        assert_eq!(o.local_status, LocalStatus::Shipped);
    }
}
