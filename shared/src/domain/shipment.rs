//! Shipments recorded by the warehouse side and their upload to Overstock, line by line and
//! package by package. Pure rules: time is passed in.

use super::mapping::{MappingOutcome, MappingTable};
use super::order::{LocalStatus, Order, OverstockStatus};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Where one (package, line) stands with Overstock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum UploadState {
    /// To be sent (never sent, or rejected and still under the retry limit).
    Pending,
    /// Recorded just before sending: the outcome is not known until it is written. A run that
    /// finds this state reconciles with Overstock before anything is sent again.
    Sending {
        at: DateTime<Utc>,
    },
    Accepted {
        at: DateTime<Utc>,
    },
    /// Not sent again automatically: rejected up to the retry limit, or an outcome that cannot
    /// be known. Listed by `overstockctl uploads failed`; `overstockctl uploads reset` retries.
    Failed {
        at: DateTime<Utc>,
        reason: String,
    },
    /// The line was cancelled before this package line was sent: never sent.
    Withdrawn {
        at: DateTime<Utc>,
        reason: String,
    },
}

/// One line's quantity in one package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageLine {
    pub line_number: String,
    pub quantity: u32,
    pub upload: UploadState,
    /// Sends that Overstock rejected.
    #[serde(default)]
    pub attempts: u32,
    /// Overstock's last rejection message.
    #[serde(default)]
    pub last_error: Option<String>,
}

/// A package with its tracking number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// `P1`, `P2`, … in the order they were recorded.
    pub package_id: String,
    pub tracking_number: String,
    /// The carrier code given with the shipment (or resolved from the seller's shipping
    /// method); `None`: the mapping's code to send is used at upload.
    pub carrier_code: Option<String>,
    pub ship_date: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub lines: Vec<PackageLine>,
    /// Held: its tracking is not sent before this instant (the company's tracking hold); `None`:
    /// sent by the next upload run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_after: Option<DateTime<Utc>>,
    /// The id the sender of a `shipment` message chose for the package (its idempotency key), and
    /// what the message said ([`super::shipment_message::ShipmentMessage::content`]); none for a
    /// package recorded by an operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_package_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_content: Option<String>,
}

/// What recording a sender's package did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SenderRecorded {
    /// Recorded now, under this package id (`P3`).
    New(String),
    /// The same package id with the same content was recorded before (as this package): nothing
    /// changes.
    Already(String),
}

impl Package {
    /// Held now: its lines wait for `send_after`.
    pub fn is_held(&self, now: DateTime<Utc>) -> bool {
        self.send_after.is_some_and(|t| t > now)
    }
}

/// A shipment as the warehouse side reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipmentRequest {
    /// (line number, quantity) in this package.
    pub lines: Vec<(String, u32)>,
    pub carrier_code: Option<String>,
    /// The seller's shipping method, used to find the carrier code when none is given.
    pub shipping_method: Option<String>,
    pub tracking_number: String,
    pub ship_date: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShipmentError {
    #[error("unknown order {0}")]
    UnknownOrder(String),
    #[error("unknown company {0}")]
    UnknownCompany(String),
    #[error("a shipment needs at least one line")]
    NoLines,
    #[error("unknown line {0}")]
    UnknownLine(String),
    #[error("line {0}: quantity must be at least 1")]
    ZeroQuantity(String),
    #[error("line {line}: quantity {quantity} is above what is open ({open})")]
    QuantityAboveOpen { line: String, quantity: u32, open: u32 },
    #[error("line {0} is cancelled")]
    LineCancelled(String),
    #[error("order is cancelled")]
    OrderCancelled,
    #[error("tracking number is empty")]
    EmptyTracking,
    #[error("tracking number: {0}")]
    BadTracking(&'static str),
    #[error("carrier code: {0}")]
    BadCarrier(&'static str),
    #[error("line {0:?}: a line number is 1 to 20 letters, digits or '-'")]
    BadLineNumber(String),
    #[error("line {line}: quantities add up to more than {max}")]
    QuantityOverflow { line: String, max: u32 },
    #[error("ship date {ship_date} is before the order was placed ({placed})")]
    ShipDateBeforeOrder { ship_date: DateTime<Utc>, placed: DateTime<Utc> },
    #[error("ship date {ship_date} is in the future (now {now})")]
    FutureShipDate { ship_date: DateTime<Utc>, now: DateTime<Utc> },
    #[error("shipping method {:?} is not in the company's mapping", super::text::escape(.0))]
    UnknownShippingMethod(String),
    #[error("give a carrier code or a shipping method, not both")]
    CarrierAndMethod,
    #[error("package id {:?} was recorded before with other content (lines, tracking, carrier or ship date); a package id names one package", super::text::escape(.0))]
    PackageIdReused(String),
}

/// The longest tracking number accepted (carriers use up to about 34 characters).
pub const MAX_TRACKING_LEN: usize = 40;

/// A tracking number: 1 to 40 letters, digits or '-' (what carriers issue; also nothing that
/// the XML wire format could not carry).
fn check_tracking(t: &str) -> Result<(), ShipmentError> {
    if t.is_empty() {
        return Err(ShipmentError::EmptyTracking);
    }
    if t.chars().count() > MAX_TRACKING_LEN {
        return Err(ShipmentError::BadTracking("longer than 40 characters"));
    }
    if !t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(ShipmentError::BadTracking("only letters, digits and '-' are allowed"));
    }
    Ok(())
}

/// A carrier code: 1 to 20 letters, digits or '_' (`UPS`, `USPSFC`, `FXFE`…).
pub fn check_carrier(c: &str) -> Result<&str, ShipmentError> {
    if c.is_empty() || c.len() > 20 {
        return Err(ShipmentError::BadCarrier("1 to 20 characters"));
    }
    if !c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_') {
        return Err(ShipmentError::BadCarrier("only letters, digits and '_' are allowed"));
    }
    Ok(c)
}

/// Clock skew tolerated on ship dates.
pub const SHIP_DATE_SKEW: i64 = 60;

impl Order {
    /// Quantity of a line not yet in any package.
    pub fn open_quantity(&self, line: &str) -> Option<u32> {
        let l = self.overstock.lines.iter().find(|l| l.line_number == line)?;
        let packed: u64 = self
            .shipments
            .iter()
            .flat_map(|p| &p.lines)
            .filter(|pl| pl.line_number == line)
            .map(|pl| u64::from(pl.quantity))
            .sum();
        Some(u32::try_from(u64::from(l.quantity).saturating_sub(packed)).unwrap_or(0))
    }

    /// The rule for recording a shipment: validates everything first and changes nothing on error.
    pub fn record_shipment(
        &mut self,
        req: &ShipmentRequest,
        mappings: &MappingTable,
        now: DateTime<Utc>,
    ) -> Result<&Package, ShipmentError> {
        if matches!(self.local_status, LocalStatus::Cancelled)
            || self.overstock.status == Some(OverstockStatus::Cancelled)
        {
            return Err(ShipmentError::OrderCancelled);
        }
        let tracking = req.tracking_number.trim();
        check_tracking(tracking)?;
        if req.ship_date > now + Duration::seconds(SHIP_DATE_SKEW) {
            return Err(ShipmentError::FutureShipDate { ship_date: req.ship_date, now });
        }
        if let Some(placed) = self.overstock.order_date.or(self.overstock.sofs_created_date) {
            if req.ship_date + Duration::days(1) < placed {
                return Err(ShipmentError::ShipDateBeforeOrder { ship_date: req.ship_date, placed });
            }
        }
        if req.lines.is_empty() {
            return Err(ShipmentError::NoLines);
        }
        let mut wanted: Vec<(String, u32)> = Vec::new();
        for (line, qty) in &req.lines {
            if line.is_empty() || line.len() > 20 || !line.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(ShipmentError::BadLineNumber(line.chars().take(40).collect()));
            }
            match wanted.iter_mut().find(|(l, _)| l == line) {
                Some((_, q)) => {
                    *q = q
                        .checked_add(*qty)
                        .ok_or_else(|| ShipmentError::QuantityOverflow { line: line.clone(), max: u32::MAX })?
                }
                None => wanted.push((line.clone(), *qty)),
            }
        }
        for (line, qty) in &wanted {
            let open = self.open_quantity(line).ok_or_else(|| ShipmentError::UnknownLine(line.clone()))?;
            if self.line_is_cancelled(line) {
                return Err(ShipmentError::LineCancelled(line.clone()));
            }
            if *qty == 0 {
                return Err(ShipmentError::ZeroQuantity(line.clone()));
            }
            if *qty > open {
                return Err(ShipmentError::QuantityAboveOpen { line: line.clone(), quantity: *qty, open });
            }
        }
        // Given but empty is a mistake, never "not given".
        let carrier_given = req.carrier_code.as_deref().map(str::trim);
        if carrier_given.is_some_and(str::is_empty) {
            return Err(ShipmentError::BadCarrier("empty (leave it out to use the mapping's code to send)"));
        }
        if req.shipping_method.as_deref().is_some_and(|m| m.trim().is_empty()) {
            return Err(ShipmentError::UnknownShippingMethod(String::new()));
        }
        let carrier_code = match (carrier_given, req.shipping_method.as_deref()) {
            (Some(_), Some(_)) => return Err(ShipmentError::CarrierAndMethod),
            (Some(c), None) => Some(check_carrier(c)?.to_owned()),
            (None, Some(m)) => Some(
                mappings
                    .code_to_send_for_method(m)
                    .ok_or_else(|| ShipmentError::UnknownShippingMethod(m.to_owned()))?,
            ),
            (None, None) => None,
        };
        self.shipments.push(Package {
            package_id: format!("P{}", self.shipments.len() + 1),
            tracking_number: tracking.to_owned(),
            carrier_code,
            ship_date: req.ship_date,
            recorded_at: now,
            lines: wanted
                .into_iter()
                .map(|(line_number, quantity)| PackageLine {
                    line_number,
                    quantity,
                    upload: UploadState::Pending,
                    attempts: 0,
                    last_error: None,
                })
                .collect(),
            send_after: None,
            sender_package_id: None,
            sender_content: None,
        });
        if matches!(self.local_status, LocalStatus::InProcess | LocalStatus::Acknowledged) {
            self.local_status = LocalStatus::Shipped;
        }
        self.updated_at = now;
        self.shipments.last().ok_or(ShipmentError::NoLines)
    }

    /// The rule for a package a sender's system reports under its own id: the same id with the
    /// same `content` again is the same package (nothing changes, however often it is
    /// delivered); the same id with other content is refused; a new id is recorded by
    /// [`Order::record_shipment`]'s rule, one rule for both doors.
    pub fn record_sender_shipment(
        &mut self,
        sender_id: &str,
        content: &str,
        req: &ShipmentRequest,
        mappings: &MappingTable,
        now: DateTime<Utc>,
    ) -> Result<SenderRecorded, ShipmentError> {
        if let Some(seen) = self.sender_package_seen(sender_id, content) {
            return seen;
        }
        self.record_shipment(req, mappings, now)?;
        let p = self.shipments.last_mut().ok_or(ShipmentError::NoLines)?;
        p.sender_package_id = Some(sender_id.to_owned());
        p.sender_content = Some(content.to_owned());
        Ok(SenderRecorded::New(p.package_id.clone()))
    }

    /// A sender's package id seen before on this order: `Already` when it said `content`, refused
    /// when it said something else; `None` for a new id. Decides without the mappings or the
    /// clock (a repeat is answered from the stored order alone).
    pub fn sender_package_seen(&self, sender_id: &str, content: &str) -> Option<Result<SenderRecorded, ShipmentError>> {
        let p = self.shipments.iter().find(|p| p.sender_package_id.as_deref() == Some(sender_id))?;
        Some(if p.sender_content.as_deref() == Some(content) {
            Ok(SenderRecorded::Already(p.package_id.clone()))
        } else {
            Err(ShipmentError::PackageIdReused(sender_id.to_owned()))
        })
    }

    /// The carrier code sent for a package: its own, else the mapping's code to send for the
    /// order's service level.
    pub fn carrier_for(&self, package: &Package, mappings: &MappingTable) -> Option<String> {
        package.carrier_code.clone().or_else(|| match mappings.resolve(self.overstock.service_level_code()) {
            MappingOutcome::Mapped { code_to_send, .. } => Some(code_to_send),
            MappingOutcome::Unmapped => None,
        })
    }

    /// True while some package line waits to be sent or reconciled (sparse index).
    pub fn has_upload_work(&self) -> bool {
        self.shipments
            .iter()
            .flat_map(|p| &p.lines)
            .any(|l| matches!(l.upload, UploadState::Pending | UploadState::Sending { .. }))
            || self.has_short_ship_work()
    }

    /// True while some package line or short ship failed (sparse index for `overstockctl
    /// uploads failed`).
    pub fn has_failed_upload(&self) -> bool {
        self.shipments.iter().flat_map(|p| &p.lines).any(|l| matches!(l.upload, UploadState::Failed { .. }))
            || self
                .cancellations
                .iter()
                .flat_map(|c| &c.lines)
                .any(|l| matches!(l.short_ship, super::cancellation::ShortShip::Failed { .. }))
    }

    /// How many of the order's lines Overstock has confirmed in full (every package line of
    /// them accepted and the line fully packed).
    pub fn confirmed_lines(&self) -> usize {
        self.overstock.lines.iter().filter(|l| self.line_fully_accepted(&l.line_number, l.quantity)).count()
    }

    pub(crate) fn line_fully_accepted(&self, line: &str, quantity: u32) -> bool {
        let accepted: u64 = self
            .shipments
            .iter()
            .flat_map(|p| &p.lines)
            .filter(|pl| pl.line_number == line && matches!(pl.upload, UploadState::Accepted { .. }))
            .map(|pl| u64::from(pl.quantity))
            .sum();
        accepted >= u64::from(quantity)
    }

    /// Local status after uploads: `ShipConfirmed` once every line that is not cancelled is
    /// fully packed and every package line of it accepted. Never moves backwards.
    pub fn refresh_ship_confirmation(&mut self) {
        if !matches!(
            self.local_status,
            LocalStatus::Shipped | LocalStatus::InProcess | LocalStatus::Acknowledged | LocalStatus::PartiallyCancelled
        ) {
            return;
        }
        let confirmed = self
            .overstock
            .lines
            .iter()
            .filter(|l| !self.line_is_cancelled(&l.line_number))
            .all(|l| self.line_fully_accepted(&l.line_number, l.quantity));
        if confirmed && !self.shipments.is_empty() {
            self.local_status = LocalStatus::ShipConfirmed;
        }
    }
}

/// One package line of an order: indexes into `shipments` and the package's `lines`. Packages
/// are only ever appended and their lines never change, so an index stays valid on a reloaded
/// copy of the same order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PackageLineRef {
    pub package: usize,
    pub line: usize,
}

impl Order {
    pub fn package_line(&self, r: PackageLineRef) -> Option<&PackageLine> {
        self.shipments.get(r.package)?.lines.get(r.line)
    }

    fn package_line_mut(&mut self, r: PackageLineRef) -> Option<&mut PackageLine> {
        self.shipments.get_mut(r.package)?.lines.get_mut(r.line)
    }

    /// The upload's intent: these pending package lines are about to be sent. Returns true when
    /// some line changed (a line no longer pending is left as it is).
    pub fn begin_sending(&mut self, refs: &[PackageLineRef], now: DateTime<Utc>) -> bool {
        let mut changed = false;
        for r in refs {
            if let Some(pl) = self.package_line_mut(*r).filter(|pl| pl.upload == UploadState::Pending) {
                pl.upload = UploadState::Sending { at: now };
                changed = true;
            }
        }
        if changed {
            self.updated_at = now;
        }
        changed
    }

    /// A pending package line that cannot be sent at all (no carrier code): a failed upload at
    /// once, with the reason. Returns true when it changed.
    pub fn fail_upload(&mut self, r: PackageLineRef, reason: &str, now: DateTime<Utc>) -> bool {
        match self.package_line_mut(r).filter(|pl| pl.upload == UploadState::Pending) {
            Some(pl) => {
                pl.upload = UploadState::Failed { at: now, reason: reason.to_owned() };
                self.updated_at = now;
                true
            }
            None => false,
        }
    }

    /// The operator's reset of failed uploads (all, one package, or one line), given the lines
    /// Overstock shows shipped: a failed package line of a shipped line is recorded accepted
    /// (never sent again), the others go back to pending with their attempts cleared. Returns
    /// (reset, accepted).
    pub fn reset_failed_uploads(
        &mut self,
        package: Option<&str>,
        line: Option<&str>,
        shipped_on_overstock: &std::collections::HashSet<String>,
        now: DateTime<Utc>,
    ) -> (usize, usize) {
        let (mut reset, mut accepted) = (0, 0);
        for p in self.shipments.iter_mut().filter(|p| package.is_none_or(|id| p.package_id == id)) {
            for l in p.lines.iter_mut().filter(|l| line.is_none_or(|ln| l.line_number == ln)) {
                if !matches!(l.upload, UploadState::Failed { .. }) {
                    continue;
                }
                if shipped_on_overstock.contains(&l.line_number) {
                    l.upload = UploadState::Accepted { at: now };
                    accepted += 1;
                } else {
                    l.upload = UploadState::Pending;
                    l.attempts = 0;
                    reset += 1;
                }
            }
        }
        if reset + accepted > 0 {
            self.refresh_ship_confirmation();
            self.updated_at = now;
        }
        (reset, accepted)
    }

    /// Every line still `Sending` becomes a failed upload with `reason` (its outcome cannot be
    /// known): never sent again automatically. Returns how many.
    pub fn give_up_sending(&mut self, reason: &str, now: DateTime<Utc>) -> usize {
        let mut n = 0;
        for pl in self
            .shipments
            .iter_mut()
            .flat_map(|p| p.lines.iter_mut())
            .filter(|pl| matches!(pl.upload, UploadState::Sending { .. }))
        {
            pl.upload = UploadState::Failed { at: now, reason: reason.to_owned() };
            n += 1;
        }
        for l in self.cancellations.iter_mut().flat_map(|c| c.lines.iter_mut()) {
            if matches!(l.short_ship, super::cancellation::ShortShip::Sending { .. }) {
                l.short_ship = super::cancellation::ShortShip::Failed { at: now, reason: reason.to_owned() };
                n += 1;
            }
        }
        if n > 0 {
            self.updated_at = now;
        }
        n
    }

    /// A message that certainly had no effect (throttled, never sent): its lines are pending again.
    pub fn abandon_sending(&mut self, r: PackageLineRef, now: DateTime<Utc>) {
        if let Some(pl) = self.package_line_mut(r).filter(|pl| matches!(pl.upload, UploadState::Sending { .. })) {
            pl.upload = UploadState::Pending;
            self.updated_at = now;
        }
    }

    /// Overstock's answer for one sent package line (accepted, or rejected and retried up to
    /// `max_attempts`), then the order's ship confirmation. Returns the line's new state.
    pub fn apply_upload_answer(
        &mut self,
        r: PackageLineRef,
        outcome: SendOutcome,
        max_attempts: u32,
        now: DateTime<Utc>,
    ) -> Option<UploadState> {
        let pl = self.package_line_mut(r).filter(|pl| matches!(pl.upload, UploadState::Sending { .. }))?;
        pl.apply(outcome, max_attempts, now);
        let state = pl.upload.clone();
        self.refresh_ship_confirmation();
        self.updated_at = now;
        Some(state)
    }
}

/// What Overstock's answer means for one sent (package, line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    Accepted,
    Rejected(String),
}

impl PackageLine {
    /// Applies Overstock's answer: accepted, or rejected and retried until `max_attempts`.
    pub fn apply(&mut self, outcome: SendOutcome, max_attempts: u32, now: DateTime<Utc>) {
        match outcome {
            SendOutcome::Accepted => {
                self.upload = UploadState::Accepted { at: now };
                self.last_error = None;
            }
            SendOutcome::Rejected(message) => {
                self.attempts += 1;
                self.last_error = Some(message.clone());
                self.upload = if self.attempts >= max_attempts {
                    UploadState::Failed {
                        at: now,
                        reason: format!("rejected {} times; last: {message}", self.attempts),
                    }
                } else {
                    UploadState::Pending
                };
            }
        }
    }
}

/// The reconciliation rule for a line with package lines left in `Sending` (the run that sent
/// them stopped before writing the answer). `shipped_on_overstock`: the line's status on
/// Overstock is `SHIPPED` (fully shipped). Returns the state for each sending package line:
///
/// - line fully shipped on Overstock and everything else of the line accepted or sending: all
///   sending ones were applied → `Accepted`;
/// - line not fully shipped, exactly one sending and the rest accepted with nothing else open:
///   that one was not applied → `Pending` (safe to send);
/// - anything else cannot be told from Overstock's answer → `Failed` ("outcome unknown"), for an
///   operator to check; never re-sent blindly, so a package is never confirmed twice.
pub fn reconcile_sending(
    line_quantity: u32,
    lines: &[&PackageLine],
    shipped_on_overstock: bool,
    now: DateTime<Utc>,
) -> Vec<UploadState> {
    let sending = lines.iter().filter(|l| matches!(l.upload, UploadState::Sending { .. })).count();
    // Summed wide: quantities are u32 and an overflow would be a panic (overflow-checks).
    let accepted: u64 =
        lines.iter().filter(|l| matches!(l.upload, UploadState::Accepted { .. })).map(|l| u64::from(l.quantity)).sum();
    let in_flight: u64 =
        lines.iter().filter(|l| matches!(l.upload, UploadState::Sending { .. })).map(|l| u64::from(l.quantity)).sum();
    let covers_line = accepted + in_flight == u64::from(line_quantity);
    let verdict = if shipped_on_overstock && covers_line {
        UploadState::Accepted { at: now }
    } else if !shipped_on_overstock && covers_line && sending == 1 {
        UploadState::Pending
    } else {
        UploadState::Failed {
            at: now,
            reason: "outcome unknown after an interrupted upload: check the line on Supplier Oasis, then reset if it was not received".into(),
        }
    };
    vec![verdict; sending]
}

#[cfg(test)]
mod tests;
