//! Refunds after ship confirmation, and returns (RMAs) whose received goods are refunded through
//! the same path (the domain rules' "Refund" and "RMA"). Pure: time is passed in.
//!
//! The cap is enforced on the order itself: per line, everything refunded (refund requests and
//! RMA receipts, sent or still to send, except those Overstock rejected) never exceeds item price
//! × quantity. Concurrent requests for one order are serialised by the order's version-checked
//! write, so the cap holds however messages interleave.

use super::order::{LocalStatus, Order, PaymentStatus};
use super::requests::{LineQuantity, Money, RefundRequest, RequestId};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub const NOT_SHIP_CONFIRMED_ADVICE: &str = "order is not ship confirmed: cancel instead";
pub const RETURNING_ADVICE: &str = "the item is returning: open an RMA, its receipt is refunded";

/// Where a refund stands with Overstock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RefundState {
    /// To be sent (`POST /refunds`, refund id = the request id).
    Pending,
    /// Recorded before sending; a repeat with the same refund id is answered as the first.
    Sending {
        at: DateTime<Utc>,
    },
    Done {
        at: DateTime<Utc>,
    },
    /// Overstock refused it: it no longer counts against the cap.
    Rejected {
        at: DateTime<Utc>,
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundedLine {
    pub line: String,
    pub amount: Money,
    pub quantity: Option<u32>,
}

/// One refund recorded on the order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    /// The request id (or `<rma id>:<receipt request id>`): the `refundId` sent to Overstock.
    pub refund_id: RequestId,
    pub lines: Vec<RefundedLine>,
    pub shipping: Money,
    pub reason: String,
    pub notes: Option<String>,
    pub requested_by: Option<String>,
    /// The RMA whose receipt this refund pays, if any.
    pub rma_id: Option<RequestId>,
    pub at: DateTime<Utc>,
    pub state: RefundState,
}

/// A return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rma {
    pub rma_id: RequestId,
    /// The request that opened it.
    pub request_id: RequestId,
    /// (line, quantity) expected back.
    pub lines: Vec<(String, u32)>,
    /// (line, quantity) received so far.
    pub received: Vec<(String, u32)>,
    /// Receipt requests applied (redeliveries change nothing).
    pub receipts: Vec<RequestId>,
    pub reason: String,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// Why a refund or RMA request is not applied: final, recorded as the request's outcome.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

/// What a refund or RMA request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundOutcome {
    /// A refund is recorded, to be sent.
    Refund { refund_id: RequestId, total: Money },
    /// An RMA was opened or closed, or a receipt recorded without anything left to refund.
    Recorded,
    /// The same request was applied before: nothing changes.
    AlreadyApplied,
}

fn refuse<T>(reason: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal(reason.into()))
}

impl Order {
    fn ship_confirmed(&self) -> bool {
        matches!(self.local_status, LocalStatus::ShipConfirmed | LocalStatus::Completed)
    }

    /// What was charged for a line: item price × quantity (`None` without a price).
    pub fn charged(&self, line: &str) -> Option<Decimal> {
        let l = self.overstock.lines.iter().find(|l| l.line_number == line)?;
        l.item_price.map(|p| p * Decimal::from(l.quantity))
    }

    /// Everything refunded or being refunded on a line (refunds Overstock rejected excluded).
    pub fn refunded(&self, line: &str) -> Decimal {
        self.refunds
            .iter()
            .filter(|r| !matches!(r.state, RefundState::Rejected { .. }))
            .flat_map(|r| &r.lines)
            .filter(|l| l.line == line)
            .map(|l| l.amount.value())
            .sum()
    }

    /// Shipping refunded or being refunded on the order (refunds Overstock rejected excluded).
    pub fn shipping_refunded(&self) -> Decimal {
        self.refunds
            .iter()
            .filter(|r| !matches!(r.state, RefundState::Rejected { .. }))
            .map(|r| r.shipping.value())
            .sum()
    }

    /// The rule for a refund request: only on a ship-confirmed order; not for an item coming
    /// back (that is an RMA); known lines; per line never above what was charged, counting every
    /// earlier refund; shipping, over every refund of the order, never above `shipping_limit`
    /// (the company's ceiling: Overstock's order does not carry the shipping charged). A
    /// request already applied changes nothing. Changes nothing on refusal.
    pub fn refund(
        &mut self,
        id: &RequestId,
        req: &RefundRequest,
        shipping_limit: Money,
        requested_by: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<RefundOutcome, Refusal> {
        if self.refunds.iter().any(|r| &r.refund_id == id) {
            return Ok(RefundOutcome::AlreadyApplied);
        }
        if !self.ship_confirmed() {
            return refuse(NOT_SHIP_CONFIRMED_ADVICE);
        }
        if req.returning {
            return refuse(RETURNING_ADVICE);
        }
        let mut asked: Vec<(String, Decimal)> = Vec::new();
        for l in &req.lines {
            match asked.iter_mut().find(|(line, _)| line == &l.line) {
                Some((_, a)) => *a += l.amount.value(),
                None => asked.push((l.line.clone(), l.amount.value())),
            }
        }
        for (line, amount) in &asked {
            let l = self.overstock.lines.iter().find(|x| &x.line_number == line);
            let Some(l) = l else { return refuse(format!("unknown line {line}")) };
            if let Some(q) = req.lines.iter().filter(|x| &x.line == line).filter_map(|x| x.quantity).max() {
                if q > l.quantity {
                    return refuse(format!("line {line}: quantity {q} is above the {} ordered", l.quantity));
                }
            }
            let Some(charged) = self.charged(line) else {
                return refuse(format!("line {line} has no price: the refund cannot be checked against it"));
            };
            let already = self.refunded(line);
            if already + amount > charged {
                return refuse(format!(
                    "line {line}: refund above what was charged ({charged:.2}; {already:.2} already refunded, {amount:.2} asked)"
                ));
            }
        }
        if let Some(shipping) = req.shipping_amount.filter(|s| !s.value().is_zero()) {
            let already = self.shipping_refunded();
            if already + shipping.value() > shipping_limit.value() {
                return refuse(format!(
                    "shipping refund above the company's limit for an order ({:.2}; {already:.2} already refunded, \
                     {:.2} asked): overstockctl company set --shipping-refund-limit if more is right",
                    shipping_limit.value(),
                    shipping.value()
                ));
            }
        }
        let total =
            asked.iter().map(|(_, a)| *a).sum::<Decimal>() + req.shipping_amount.map(Money::value).unwrap_or_default();
        self.refunds.push(Refund {
            refund_id: id.clone(),
            lines: req
                .lines
                .iter()
                .map(|l| RefundedLine { line: l.line.clone(), amount: l.amount, quantity: l.quantity })
                .collect(),
            shipping: req.shipping_amount.unwrap_or(Money::ZERO),
            reason: req.reason.clone(),
            notes: req.notes.clone(),
            requested_by: requested_by.map(str::to_owned),
            rma_id: None,
            at: now,
            state: RefundState::Pending,
        });
        self.updated_at = now;
        Ok(RefundOutcome::Refund { refund_id: id.clone(), total: money(total) })
    }

    /// Opens a return for ship-confirmed lines: known lines, quantities within what was ordered
    /// less what other open returns already expect. The RMA id is the sender's.
    pub fn open_rma(
        &mut self,
        id: &RequestId,
        rma_id: &RequestId,
        lines: &[LineQuantity],
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<RefundOutcome, Refusal> {
        if let Some(existing) = self.rmas.iter().find(|r| &r.rma_id == rma_id) {
            return if &existing.request_id == id {
                Ok(RefundOutcome::AlreadyApplied)
            } else {
                refuse(format!("RMA {} exists already", rma_id.as_str()))
            };
        }
        if !self.ship_confirmed() {
            return refuse(NOT_SHIP_CONFIRMED_ADVICE);
        }
        let mut wanted: Vec<(String, u64)> = Vec::new();
        for l in lines {
            match wanted.iter_mut().find(|(line, _)| line == &l.line) {
                Some((_, q)) => *q += u64::from(l.quantity),
                None => wanted.push((l.line.clone(), u64::from(l.quantity))),
            }
        }
        for (line, q) in &wanted {
            let Some(ordered) =
                self.overstock.lines.iter().find(|x| &x.line_number == line).map(|x| u64::from(x.quantity))
            else {
                return refuse(format!("unknown line {line}"));
            };
            let expected: u64 = self
                .rmas
                .iter()
                .filter(|r| r.closed_at.is_none())
                .flat_map(|r| &r.lines)
                .filter(|(l, _)| l == line)
                .map(|(_, q)| u64::from(*q))
                .sum();
            if expected + q > ordered {
                return refuse(format!(
                    "line {line}: {q} to return is above the {ordered} ordered ({expected} already expected back)"
                ));
            }
        }
        self.rmas.push(Rma {
            rma_id: rma_id.clone(),
            request_id: id.clone(),
            lines: wanted.into_iter().map(|(l, q)| (l, u32::try_from(q).unwrap_or(u32::MAX))).collect(),
            received: Vec::new(),
            receipts: Vec::new(),
            reason: reason.to_owned(),
            opened_at: now,
            closed_at: None,
        });
        self.updated_at = now;
        Ok(RefundOutcome::Recorded)
    }

    /// Goods of an open RMA received back: recorded, and what was received is refunded (item
    /// price × quantity received, within what is still refundable on the line) through a refund
    /// whose id is `<rma id>:<request id>`.
    pub fn receive_rma(
        &mut self,
        id: &RequestId,
        rma_id: &RequestId,
        lines: &[LineQuantity],
        requested_by: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<RefundOutcome, Refusal> {
        let Some(ri) = self.rmas.iter().position(|r| &r.rma_id == rma_id) else {
            return refuse(format!("unknown RMA {}", rma_id.as_str()));
        };
        if self.rmas[ri].receipts.contains(id) {
            return Ok(RefundOutcome::AlreadyApplied);
        }
        if self.rmas[ri].closed_at.is_some() {
            return refuse(format!("RMA {} is closed", rma_id.as_str()));
        }
        // Quantities received now, per line (a line may be named twice).
        let mut now_got: Vec<(String, u64)> = Vec::new();
        for l in lines {
            match now_got.iter_mut().find(|(x, _)| x == &l.line) {
                Some((_, q)) => *q += u64::from(l.quantity),
                None => now_got.push((l.line.clone(), u64::from(l.quantity))),
            }
        }
        let mut refund_lines: Vec<(String, Decimal, u32)> = Vec::new();
        for (line, q) in &now_got {
            let rma = &self.rmas[ri];
            let Some(expected) = rma.lines.iter().find(|(x, _)| x == line).map(|(_, q)| u64::from(*q)) else {
                return refuse(format!("line {line} is not in RMA {}", rma_id.as_str()));
            };
            let got: u64 = rma.received.iter().filter(|(x, _)| x == line).map(|(_, q)| u64::from(*q)).sum();
            if got + q > expected {
                return refuse(format!(
                    "line {line}: {q} received is above the {expected} expected ({got} received before)"
                ));
            }
            let Some(price) = self.overstock.lines.iter().find(|x| &x.line_number == line).and_then(|x| x.item_price)
            else {
                return refuse(format!("line {line} has no price: the refund cannot be computed"));
            };
            let charged = self.charged(line).unwrap_or_default();
            let left = (charged - self.refunded(line)).max(Decimal::ZERO);
            let q32 = u32::try_from(*q).unwrap_or(u32::MAX);
            refund_lines.push((line.clone(), (price * Decimal::from(q32)).min(left), q32));
        }
        let rma = &mut self.rmas[ri];
        for l in lines {
            rma.received.push((l.line.clone(), l.quantity));
        }
        rma.receipts.push(id.clone());
        let reason = rma.reason.clone();
        self.updated_at = now;
        let total: Decimal = refund_lines.iter().map(|(_, a, _)| *a).sum();
        if total.is_zero() {
            return Ok(RefundOutcome::Recorded);
        }
        let refund_id = RequestId::parse(&format!("{}:{}", rma_id.as_str(), id.as_str()))
            .or_else(|_| RequestId::parse(id.as_str()))
            .map_err(Refusal)?;
        self.refunds.push(Refund {
            refund_id: refund_id.clone(),
            lines: refund_lines
                .into_iter()
                .filter(|(_, a, _)| !a.is_zero())
                .map(|(line, amount, q)| RefundedLine { line, amount: money(amount), quantity: Some(q) })
                .collect(),
            shipping: Money::ZERO,
            reason,
            notes: None,
            requested_by: requested_by.map(str::to_owned),
            rma_id: Some(rma_id.clone()),
            at: now,
            state: RefundState::Pending,
        });
        Ok(RefundOutcome::Refund { refund_id, total: money(total) })
    }

    /// Closes an RMA (nothing more is expected back).
    pub fn close_rma(&mut self, rma_id: &RequestId, now: DateTime<Utc>) -> Result<RefundOutcome, Refusal> {
        let Some(rma) = self.rmas.iter_mut().find(|r| &r.rma_id == rma_id) else {
            return refuse(format!("unknown RMA {}", rma_id.as_str()));
        };
        if rma.closed_at.is_some() {
            return Ok(RefundOutcome::AlreadyApplied);
        }
        rma.closed_at = Some(now);
        self.updated_at = now;
        Ok(RefundOutcome::Recorded)
    }

    /// The intent before a refund is sent (`Pending` → `Sending`). True when it changed.
    pub fn begin_refund(&mut self, refund_id: &RequestId, now: DateTime<Utc>) -> bool {
        match self.refunds.iter_mut().find(|r| &r.refund_id == refund_id && r.state == RefundState::Pending) {
            Some(r) => {
                r.state = RefundState::Sending { at: now };
                self.updated_at = now;
                true
            }
            None => false,
        }
    }

    /// Overstock's answer to a refund: done (payment status follows) or rejected (it no longer
    /// counts against the cap).
    pub fn settle_refund(&mut self, refund_id: &RequestId, rejected: Option<&str>, now: DateTime<Utc>) -> bool {
        let Some(r) = self.refunds.iter_mut().find(|r| &r.refund_id == refund_id) else { return false };
        if matches!(r.state, RefundState::Done { .. } | RefundState::Rejected { .. }) {
            return false;
        }
        r.state = match rejected {
            Some(reason) => RefundState::Rejected { at: now, reason: reason.to_owned() },
            None => RefundState::Done { at: now },
        };
        self.refresh_payment_status();
        self.updated_at = now;
        true
    }

    /// `Refunded` when every line is refunded in full (by refunds Overstock accepted),
    /// `PartiallyRefunded` when something is, `Paid` otherwise.
    pub fn refresh_payment_status(&mut self) {
        let done = |line: &str| -> Decimal {
            self.refunds
                .iter()
                .filter(|r| matches!(r.state, RefundState::Done { .. }))
                .flat_map(|r| &r.lines)
                .filter(|l| l.line == line)
                .map(|l| l.amount.value())
                .sum()
        };
        let any = self.refunds.iter().any(|r| matches!(r.state, RefundState::Done { .. }));
        let all = self
            .overstock
            .lines
            .iter()
            .all(|l| self.charged(&l.line_number).is_some_and(|c| done(&l.line_number) >= c));
        self.payment_status = match (any, all) {
            (false, _) => PaymentStatus::Paid,
            (true, true) => PaymentStatus::Refunded,
            (true, false) => PaymentStatus::PartiallyRefunded,
        };
    }
}

/// A computed amount as money (sums and products of amounts with two places, never negative
/// here: every subtraction above is floored at zero).
fn money(d: Decimal) -> Money {
    Money::from_amount(d.max(Decimal::ZERO).round_dp(2)).unwrap_or(Money::ZERO)
}

#[cfg(test)]
mod tests;
