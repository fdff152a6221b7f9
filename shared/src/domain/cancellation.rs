//! Cancelling lines of an order before ship confirmation (the domain rules' "Cancel"). Pure:
//! time is passed in; the caller loads the order, calls [`Order::cancel`], and saves it through
//! the one order write path.

use super::order::{LocalStatus, Order, SalesOrder};
use super::requests::{CancelRequest, RequestId};
use super::shipment::UploadState;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The advice given when a cancel comes too late.
pub const SHIP_CONFIRMED_ADVICE: &str = "order is ship confirmed: issue a refund, or an RMA if the item comes back";

/// The reason recorded on lines Overstock cancelled, and the attention flag that tells the
/// warehouse not to ship them.
pub const CANCELLED_BY_OVERSTOCK: &str = "cancelled by Overstock";

/// The request id under which Overstock's own cancellations are recorded on an order. It holds
/// a `#`, which no sender's id may (see `RequestId::parse`), so it can never collide with one.
pub const OVERSTOCK_CANCELLATION_ID: &str = "overstock#cancellation";

/// An order whose lines Overstock cancelled, as runs report it (and the outcomes queue tells the
/// seller's systems): the warehouse must not ship these lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelledByOverstock {
    pub order_number: String,
    pub lines: Vec<String>,
}

impl std::fmt::Display for CancelledByOverstock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.order_number, self.lines.join(", "))
    }
}

/// What Overstock's cancellation of lines did to an order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OverstockCancellation {
    /// Lines newly recorded as cancelled by Overstock (their pending packages withdrawn).
    pub cancelled: Vec<String>,
    /// Lines Overstock shows cancelled although it accepted a package of them: nothing changes
    /// locally (progress never goes back); flagged for the operator.
    pub conflicting: Vec<String>,
}

impl OverstockCancellation {
    pub fn is_empty(&self) -> bool {
        self.cancelled.is_empty() && self.conflicting.is_empty()
    }
}

/// Where the short ship that tells Overstock stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ShortShip {
    /// A local-only cancel ("Set as Cancel"): nothing is sent.
    NotSent,
    /// To be sent by the job that owns `POST /shipments` for this company.
    Pending,
    Sending {
        at: DateTime<Utc>,
    },
    Accepted {
        at: DateTime<Utc>,
    },
    Failed {
        at: DateTime<Utc>,
        reason: String,
    },
}

/// One line a cancel request cancelled, with its short ship.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelledLine {
    pub line: String,
    pub short_ship: ShortShip,
}

/// One cancel request as applied to the order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancellation {
    pub request_id: RequestId,
    /// The lines it cancelled (resolved: all open lines when the request named none), each with
    /// its short ship (`not_sent` for a local-only cancel).
    pub lines: Vec<CancelledLine>,
    /// Short-ship reason code.
    pub reason: String,
    pub local_only: bool,
    pub requested_by: Option<String>,
    pub at: DateTime<Utc>,
}

/// One short ship of a cancellation: indexes into `cancellations` and its `lines`
/// (cancellations are only appended and their lines never change).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShortShipRef {
    pub cancellation: usize,
    pub line: usize,
}

/// Why a cancel is not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CancelRefusal {
    /// Final: recorded as the request's outcome.
    #[error("{0}")]
    Rejected(String),
    /// A package of the line is being sent: the cancel waits for that outcome (retry later).
    #[error("{0}")]
    Wait(String),
}

/// What a cancel did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelOutcome {
    /// Applied now: these lines are cancelled.
    Cancelled { lines: Vec<String>, short_ship: bool },
    /// The same request was applied before (a redelivery): nothing changes.
    AlreadyApplied,
}

impl Order {
    /// True when the line is cancelled, by Overstock (its line status) or by a cancel request.
    pub fn line_is_cancelled(&self, line: &str) -> bool {
        self.overstock.lines.iter().any(|l| l.line_number == line && l.cancelled_on_overstock())
            || self.cancellations.iter().any(|c| c.lines.iter().any(|l| l.line == line))
    }

    /// True when Overstock accepted a package of the line: Overstock takes no short ship after
    /// a shipment, so such a line is no longer cancelled, only refunded or returned.
    pub fn line_has_shipped_packages(&self, line: &str) -> bool {
        self.shipments
            .iter()
            .flat_map(|p| &p.lines)
            .any(|pl| pl.line_number == line && matches!(pl.upload, UploadState::Accepted { .. }))
    }

    /// True when Overstock accepted ship confirmations for the whole line.
    pub fn line_is_ship_confirmed(&self, line: &str) -> bool {
        self.overstock
            .lines
            .iter()
            .find(|l| l.line_number == line)
            .is_some_and(|l| self.line_fully_accepted(line, l.quantity))
    }

    /// The rule for a cancel request (see the domain rules):
    /// - a request already applied (same id) changes nothing;
    /// - the order or a named line ship confirmed: refused with the advice to refund or RMA;
    /// - an unknown or already cancelled named line: refused; no line named: every open line,
    ///   refused when none is open;
    /// - a line with a package being sent: wait for that send's outcome (retry later);
    /// - otherwise the lines are cancelled, their pending package lines withdrawn (never sent),
    ///   the order `Cancelled` when no line is left open, `PartiallyCancelled` otherwise, and a
    ///   short ship is queued unless the cancel is local only.
    ///
    /// Changes nothing unless it returns `Cancelled`.
    pub fn cancel(
        &mut self,
        id: &RequestId,
        req: &CancelRequest,
        requested_by: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<CancelOutcome, CancelRefusal> {
        if self.cancellations.iter().any(|c| &c.request_id == id) {
            return Ok(CancelOutcome::AlreadyApplied);
        }
        if matches!(self.local_status, LocalStatus::ShipConfirmed | LocalStatus::Completed) {
            return Err(CancelRefusal::Rejected(SHIP_CONFIRMED_ADVICE.into()));
        }
        let open = |o: &Order, l: &str| !o.line_is_cancelled(l) && !o.line_has_shipped_packages(l);
        let lines: Vec<String> = if req.lines.is_empty() {
            let all: Vec<String> =
                self.overstock.lines.iter().map(|l| l.line_number.clone()).filter(|l| open(self, l)).collect();
            if all.is_empty() {
                return Err(CancelRefusal::Rejected("no open line left to cancel".into()));
            }
            all
        } else {
            let mut named: Vec<String> = Vec::new();
            for l in &req.lines {
                if !self.overstock.lines.iter().any(|x| &x.line_number == l) {
                    return Err(CancelRefusal::Rejected(format!("unknown line {l}")));
                }
                if self.line_is_ship_confirmed(l) {
                    return Err(CancelRefusal::Rejected(format!("line {l}: {SHIP_CONFIRMED_ADVICE}")));
                }
                if self.line_has_shipped_packages(l) {
                    return Err(CancelRefusal::Rejected(format!(
                        "line {l} has packages Overstock accepted (no short ship after a shipment): issue a refund, or an RMA if the item comes back"
                    )));
                }
                if self.line_is_cancelled(l) {
                    return Err(CancelRefusal::Rejected(format!("line {l} is already cancelled")));
                }
                if !named.contains(l) {
                    named.push(l.clone());
                }
            }
            named
        };
        for l in &lines {
            let sending = self
                .shipments
                .iter()
                .flat_map(|p| &p.lines)
                .any(|pl| &pl.line_number == l && matches!(pl.upload, UploadState::Sending { .. }));
            if sending {
                return Err(CancelRefusal::Wait(format!(
                    "line {l} has a package being sent to Overstock; the cancel waits for its outcome"
                )));
            }
        }
        // Applied: nothing above changed the order.
        for pl in self.shipments.iter_mut().flat_map(|p| p.lines.iter_mut()) {
            if lines.contains(&pl.line_number) && matches!(pl.upload, UploadState::Pending | UploadState::Failed { .. })
            {
                pl.upload = UploadState::Withdrawn { at: now, reason: format!("line cancelled ({})", req.reason) };
            }
        }
        let short_ship = if req.local_only { ShortShip::NotSent } else { ShortShip::Pending };
        self.cancellations.push(Cancellation {
            request_id: id.clone(),
            lines: lines.iter().map(|l| CancelledLine { line: l.clone(), short_ship: short_ship.clone() }).collect(),
            reason: req.reason.clone(),
            local_only: req.local_only,
            requested_by: requested_by.map(str::to_owned),
            at: now,
        });
        self.status_after_cancel();
        self.updated_at = now;
        Ok(CancelOutcome::Cancelled { lines, short_ship: !req.local_only })
    }

    /// The local status once lines are cancelled: `Cancelled` when no line is left open and none
    /// was confirmed, `ShipConfirmed` when what is left was all confirmed, `PartiallyCancelled`
    /// otherwise.
    fn status_after_cancel(&mut self) {
        let open = |o: &Order, l: &str| !o.line_is_cancelled(l) && !o.line_has_shipped_packages(l);
        let any_open = self.overstock.lines.iter().any(|l| open(self, &l.line_number));
        let any_confirmed = self.overstock.lines.iter().any(|l| self.line_is_ship_confirmed(&l.line_number));
        self.local_status = if !any_open && !any_confirmed {
            LocalStatus::Cancelled
        } else if !any_open {
            LocalStatus::ShipConfirmed
        } else {
            LocalStatus::PartiallyCancelled
        };
    }

    /// Lines Overstock shows cancelled (each line's status, or the whole order's status) that
    /// are not recorded as cancelled here.
    fn cancelled_by_overstock_unrecorded(&self) -> Vec<String> {
        let mut lines = self.overstock.cancelled_lines();
        lines.retain(|l| !self.cancellations.iter().any(|c| c.lines.iter().any(|x| &x.line == l)));
        lines
    }

    /// Overstock's current view of the order, read again (download, status sync, after a
    /// rejected upload): its side is updated (status, action-required flag, line statuses) and
    /// the lines it cancelled are applied (see [`Order::apply_overstock_cancellations`]).
    /// Returns whether anything changed and what Overstock's cancellations did.
    pub fn refresh_from_overstock(&mut self, so: &SalesOrder, now: DateTime<Utc>) -> (bool, OverstockCancellation) {
        let before = self.clone();
        if let Some(update) = super::order::overstock_side_changes(&self.overstock, so) {
            update.apply(&mut self.overstock);
        }
        let cancelled = self.apply_overstock_cancellations(now);
        let changed = *self != before;
        if changed {
            self.updated_at = now;
        }
        (changed, cancelled)
    }

    /// The rule for lines Overstock cancelled on its side (the customer cancelled, Overstock
    /// did), applied whenever Overstock's view of the order is read (download, status sync,
    /// a rejected upload):
    /// - a line with a package Overstock accepted is not touched (local progress never goes
    ///   back): listed as `conflicting` and flagged for the operator;
    /// - every other such line not yet recorded as cancelled is recorded as cancelled by
    ///   Overstock (one cancellation with the reason "cancelled by Overstock", no short ship:
    ///   Overstock has it), its pending or failed package lines withdrawn (never sent);
    /// - a cancel request's short ship still waiting for such a line is not sent (Overstock
    ///   shows the line cancelled: it took effect);
    /// - the order becomes `Cancelled` or `PartiallyCancelled` (never before `ShipConfirmed`:
    ///   a confirmed order stays confirmed) and is flagged for the warehouse's attention.
    ///
    /// A package line being sent is left to its answer. Idempotent: a second call changes nothing.
    pub fn apply_overstock_cancellations(&mut self, now: DateTime<Utc>) -> OverstockCancellation {
        let mut out = OverstockCancellation::default();
        for line in self.cancelled_by_overstock_unrecorded() {
            if self.line_has_shipped_packages(&line) {
                out.conflicting.push(line);
            } else {
                out.cancelled.push(line);
            }
        }
        // A request's short ship for a line Overstock now shows cancelled: nothing to send.
        let shown_cancelled = self.overstock.cancelled_lines();
        let mut settled = false;
        for l in self.cancellations.iter_mut().flat_map(|c| c.lines.iter_mut()) {
            if l.short_ship == ShortShip::Pending && shown_cancelled.contains(&l.line) {
                l.short_ship = ShortShip::Accepted { at: now };
                settled = true;
            }
        }
        for line in &out.conflicting {
            let flag = format!("Overstock shows line {line} cancelled after accepting its shipment");
            if !self.attention.contains(&flag) {
                self.attention.push(flag);
            }
        }
        if !out.cancelled.is_empty() {
            let mut withdrawn: Vec<String> = Vec::new();
            for pl in self.shipments.iter_mut().flat_map(|p| p.lines.iter_mut()) {
                if out.cancelled.contains(&pl.line_number)
                    && matches!(pl.upload, UploadState::Pending | UploadState::Failed { .. })
                {
                    pl.upload = UploadState::Withdrawn { at: now, reason: CANCELLED_BY_OVERSTOCK.into() };
                    if !withdrawn.contains(&pl.line_number) {
                        withdrawn.push(pl.line_number.clone());
                    }
                }
            }
            // The warehouse recorded a shipment of a line Overstock then cancelled: its tracking
            // is never sent, and someone should stop the parcel.
            for line in withdrawn {
                let flag =
                    format!("line {line} cancelled by Overstock after a shipment was recorded: tracking not sent");
                if !self.attention.contains(&flag) {
                    self.attention.push(flag);
                }
            }
            self.cancellations.push(Cancellation {
                request_id: RequestId::overstock_cancellation(),
                lines: out
                    .cancelled
                    .iter()
                    .map(|l| CancelledLine { line: l.clone(), short_ship: ShortShip::NotSent })
                    .collect(),
                reason: CANCELLED_BY_OVERSTOCK.into(),
                local_only: true,
                requested_by: Some("Overstock".into()),
                at: now,
            });
            if !matches!(self.local_status, LocalStatus::ShipConfirmed | LocalStatus::Completed) {
                self.status_after_cancel();
            }
            if !self.attention.iter().any(|a| a == CANCELLED_BY_OVERSTOCK) {
                self.attention.push(CANCELLED_BY_OVERSTOCK.into());
            }
        }
        if settled || !out.is_empty() {
            self.updated_at = now;
        }
        out
    }

    pub fn short_ship(&self, r: ShortShipRef) -> Option<&CancelledLine> {
        self.cancellations.get(r.cancellation)?.lines.get(r.line)
    }

    fn short_ship_mut(&mut self, r: ShortShipRef) -> Option<&mut CancelledLine> {
        self.cancellations.get_mut(r.cancellation)?.lines.get_mut(r.line)
    }

    /// Settles short ships left `Sending` by an interrupted run from Overstock's view of the
    /// order (`None`: not seen): a line Overstock shows cancelled took it; a line it shows
    /// shipped cannot take it any more (failed, for the operator); otherwise it was not received
    /// and is sent again. Returns each settled short ship with its new state.
    pub fn reconcile_short_ships(
        &mut self,
        view: Option<&SalesOrder>,
        now: DateTime<Utc>,
    ) -> Vec<(ShortShipRef, ShortShip)> {
        let line_of = |line: &str| view.and_then(|so| so.lines.iter().find(|l| l.line_number == line));
        let mut out = Vec::new();
        for (ci, c) in self.cancellations.iter_mut().enumerate() {
            for (li, l) in c.lines.iter_mut().enumerate() {
                if !matches!(l.short_ship, ShortShip::Sending { .. }) {
                    continue;
                }
                l.short_ship = match line_of(&l.line) {
                    Some(v) if v.cancelled_on_overstock() => ShortShip::Accepted { at: now },
                    Some(v) if v.shipped_on_overstock() => ShortShip::Failed {
                        at: now,
                        reason: "Overstock shows the line shipped: the short ship cannot apply".into(),
                    },
                    _ => ShortShip::Pending,
                };
                out.push((ShortShipRef { cancellation: ci, line: li }, l.short_ship.clone()));
            }
        }
        if !out.is_empty() {
            self.updated_at = now;
        }
        out
    }

    /// Re-applies settled short ships to a reloaded copy (only to those still `Sending`).
    pub fn reapply_short_ships(&mut self, settled: &[(ShortShipRef, ShortShip)]) -> bool {
        let mut changed = false;
        for (r, state) in settled {
            if let Some(l) = self.short_ship_mut(*r).filter(|l| matches!(l.short_ship, ShortShip::Sending { .. })) {
                l.short_ship = state.clone();
                changed = true;
            }
        }
        changed
    }

    /// Short ships waiting to be sent.
    pub fn pending_short_ships(&self) -> Vec<ShortShipRef> {
        let mut out = Vec::new();
        for (ci, c) in self.cancellations.iter().enumerate() {
            for (li, l) in c.lines.iter().enumerate() {
                if l.short_ship == ShortShip::Pending {
                    out.push(ShortShipRef { cancellation: ci, line: li });
                }
            }
        }
        out
    }

    /// True while a short ship waits to be sent or its outcome is not known.
    pub fn has_short_ship_work(&self) -> bool {
        self.cancellations
            .iter()
            .flat_map(|c| &c.lines)
            .any(|l| matches!(l.short_ship, ShortShip::Pending | ShortShip::Sending { .. }))
    }

    /// The intent before a short ship is sent. True when it changed.
    pub fn begin_short_ship(&mut self, r: ShortShipRef, now: DateTime<Utc>) -> bool {
        match self.short_ship_mut(r).filter(|l| l.short_ship == ShortShip::Pending) {
            Some(l) => {
                l.short_ship = ShortShip::Sending { at: now };
                self.updated_at = now;
                true
            }
            None => false,
        }
    }

    /// Overstock's answer to a short ship: `None` not applied (pending again), `Some(None)`
    /// accepted, `Some(Some(reason))` rejected: final (the line stays cancelled here; the
    /// operator sees the failure). True when it changed.
    pub fn settle_short_ship(&mut self, r: ShortShipRef, answer: Option<Option<&str>>, now: DateTime<Utc>) -> bool {
        let Some(l) = self.short_ship_mut(r).filter(|l| matches!(l.short_ship, ShortShip::Sending { .. })) else {
            return false;
        };
        l.short_ship = match answer {
            None => ShortShip::Pending,
            Some(None) => ShortShip::Accepted { at: now },
            Some(Some(reason)) => ShortShip::Failed { at: now, reason: reason.to_owned() },
        };
        self.updated_at = now;
        true
    }
}

#[cfg(test)]
mod tests;
