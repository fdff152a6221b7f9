//! Cancel, refund and RMA requests as other systems send them (one JSON message each; the
//! public interface published as JSON Schema under `docs/messages/`). Parsed here into typed
//! requests, or rejected with the field and the reason; nothing downstream sees raw JSON.
//!
//! Decisions (docs/decisions.md): amounts are JSON *strings* holding an exact decimal with at
//! most two places (`"44.99"`; a JSON number would pass through binary floating point on many
//! senders' side); unknown fields are rejected (a misspelt `ammount` must not be ignored);
//! version 1 is the only version so far, a newer one is rejected as unsupported.

use super::{CompanyId, OrderNumber};
use rust_decimal::Decimal;
use serde_json::{Map, Value};
use std::str::FromStr;

/// The newest message version this build understands.
pub const SUPPORTED_VERSION: u64 = 1;

/// Short-ship reason codes (provisional list of the API doc, section 3).
pub const SHORT_SHIP_REASONS: &[&str] =
    &["OUT_OF_STOCK", "DISCONTINUED", "CUSTOMER_REQUEST", "PRICING_ERROR", "UNDELIVERABLE_ADDRESS", "OTHER"];
/// Refund and return reason codes (provisional list of the API doc, section 4.3).
pub const REFUND_REASONS: &[&str] =
    &["CUSTOMER_RETURN", "DAMAGED", "NOT_AS_DESCRIBED", "LATE_DELIVERY", "PRICE_ADJUSTMENT", "OTHER"];

/// Why a message is refused: the field (a JSON path such as `lines[1].amount`) and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Rejection {
    pub field: String,
    pub reason: String,
}

pub(crate) fn reject<T>(field: impl Into<String>, reason: impl Into<String>) -> Result<T, Rejection> {
    Err(Rejection { field: field.into(), reason: reason.into() })
}

/// An amount of money: an exact decimal, not negative, at most two places, below ten million.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Money(Decimal);

impl Money {
    pub const ZERO: Money = Money(Decimal::ZERO);

    /// `"44.99"`, `"0"`, `"12.5"`; not `"-1"`, `"1.999"`, `"1e3"`, `" 4"`.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.starts_with('-') {
            return Err("negative amounts are not allowed".into());
        }
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if int.is_empty() || !digits(int) || !digits(frac) || (s.contains('.') && frac.is_empty()) {
            return Err(format!("{:?} is not an amount like \"44.99\"", s.chars().take(30).collect::<String>()));
        }
        if frac.len() > 2 {
            return Err(format!("{s:?} has more than two decimal places"));
        }
        if int.trim_start_matches('0').len() > 7 {
            return Err(format!("{s:?} is above 9999999.99"));
        }
        Decimal::from_str(s).map(Money).map_err(|_| format!("{s:?} is not an amount"))
    }

    pub fn value(self) -> Decimal {
        self.0
    }

    /// A computed amount (a sum or product of amounts): not negative, at most two places.
    pub fn from_amount(d: Decimal) -> Option<Money> {
        let d = d.normalize();
        (!d.is_sign_negative() && d.scale() <= 2).then_some(Money(d))
    }
}

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.2}", self.0)
    }
}

/// The sender's id of a request: the idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct RequestId(String);

impl RequestId {
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() || s.len() > 128 {
            return Err("1 to 128 characters".into());
        }
        if !s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b)) {
            return Err("letters, digits, '.', '_', ':', '-' only".into());
        }
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id Overstock's own cancellations are recorded under: not a sender's id (it holds a
    /// character `parse` refuses).
    pub fn overstock_cancellation() -> Self {
        Self(super::cancellation::OVERSTOCK_CANCELLATION_ID.to_owned())
    }
}

/// What every request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub request_id: RequestId,
    pub company_id: CompanyId,
    pub order_number: OrderNumber,
    pub requested_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelRequest {
    /// Line numbers; empty: every open line.
    pub lines: Vec<String>,
    /// A short-ship reason code.
    pub reason: String,
    /// Sellercloud's "Set as Cancel": the order changes locally, nothing is sent to Overstock.
    pub local_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundLine {
    pub line: String,
    pub amount: Money,
    pub quantity: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    pub lines: Vec<RefundLine>,
    pub shipping_amount: Option<Money>,
    pub reason: String,
    pub notes: Option<String>,
    /// The item is coming back: refused with the advice to open an RMA.
    pub returning: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineQuantity {
    pub line: String,
    pub quantity: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestKind {
    Cancel(CancelRequest),
    Refund(RefundRequest),
    RmaOpen { rma_id: RequestId, lines: Vec<LineQuantity>, reason: String },
    RmaReceive { rma_id: RequestId, lines: Vec<LineQuantity> },
    RmaClose { rma_id: RequestId },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub envelope: Envelope,
    pub kind: RequestKind,
}

/// The fields of one message, each taken once: whatever is left at the end is unknown.
pub(crate) struct Fields {
    map: Map<String, Value>,
    prefix: String,
}

impl Fields {
    /// A message body's top-level fields: at most [`MAX_MESSAGE_BYTES`], a JSON object.
    pub(crate) fn of_body(body: &str) -> Result<Self, Rejection> {
        if body.len() > MAX_MESSAGE_BYTES {
            return reject("message", format!("larger than {MAX_MESSAGE_BYTES} bytes"));
        }
        // A key named twice is refused, never "the last one wins".
        super::strict_json::check_no_duplicate_keys(body).or_else(|path| reject(path, "given twice in the message"))?;
        let value: Value =
            serde_json::from_str(body).or_else(|e| reject("message", format!("not JSON ({})", e.classify_text())))?;
        let Value::Object(map) = value else { return reject("message", "must be a JSON object") };
        Ok(Fields { map, prefix: String::new() })
    }

    /// `type` and `version` (1 up to `supported`).
    pub(crate) fn kind_and_version(&mut self, supported: u64) -> Result<(String, u64), Rejection> {
        let kind = self.required_string("type", 40)?;
        let version = match self.required("version")? {
            Value::Number(n) => n
                .as_u64()
                .ok_or_else(|| Rejection { field: self.path("version"), reason: "must be a whole number".into() })?,
            _ => return reject(self.path("version"), "must be a whole number"),
        };
        if version == 0 {
            return reject("version", "must be at least 1");
        }
        if version > supported {
            return reject("version", format!("{version} is newer than this connector supports ({supported})"));
        }
        Ok((kind, version))
    }

    /// A whole number within `range`.
    pub(crate) fn integer(
        &mut self,
        key: &str,
        range: std::ops::RangeInclusive<i64>,
    ) -> Result<Option<i64>, Rejection> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_i64().filter(|v| range.contains(v)) {
                Some(v) => Ok(Some(v)),
                None => {
                    reject(self.path(key), format!("must be a whole number from {} to {}", range.start(), range.end()))
                }
            },
            Some(_) => reject(self.path(key), "must be a whole number"),
        }
    }

    /// An RFC 3339 time with its offset (`2026-11-27T10:00:00Z`), kept to the millisecond.
    pub(crate) fn timestamp(&mut self, key: &str) -> Result<Option<chrono::DateTime<chrono::Utc>>, Rejection> {
        match self.string(key, 64)? {
            None => Ok(None),
            Some(s) => match chrono::DateTime::parse_from_rfc3339(s.trim()) {
                Ok(t) => {
                    let t = t.with_timezone(&chrono::Utc);
                    Ok(Some(chrono::DurationRound::duration_trunc(t, chrono::Duration::milliseconds(1)).unwrap_or(t)))
                }
                Err(_) => reject(self.path(key), "must be an RFC 3339 time with its offset, like 2026-11-27T10:00:00Z"),
            },
        }
    }

    /// A calendar date, `YYYY-MM-DD`.
    pub(crate) fn date(&mut self, key: &str) -> Result<Option<chrono::NaiveDate>, Rejection> {
        match self.string(key, 10)? {
            None => Ok(None),
            Some(s) => chrono::NaiveDate::parse_from_str(&s, "%Y-%m-%d")
                .map(Some)
                .or_else(|_| reject(self.path(key), "must be a date, YYYY-MM-DD")),
        }
    }

    pub(crate) fn path(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    pub(crate) fn take(&mut self, key: &str) -> Option<Value> {
        self.map.remove(key).filter(|v| !v.is_null())
    }

    pub(crate) fn required(&mut self, key: &str) -> Result<Value, Rejection> {
        match self.take(key) {
            Some(v) => Ok(v),
            None => reject(self.path(key), "missing"),
        }
    }

    /// A string field. Control characters are refused (they would go to Overstock raw, where
    /// XML cannot carry them, or to an operator's terminal); see [`Fields::text`] for free text.
    pub(crate) fn string(&mut self, key: &str, max: usize) -> Result<Option<String>, Rejection> {
        self.string_allowing(key, max, &[])
    }

    /// Free text (refund notes): line breaks and tabs are kept, every other control character
    /// is refused.
    pub(crate) fn text(&mut self, key: &str, max: usize) -> Result<Option<String>, Rejection> {
        self.string_allowing(key, max, &['\n', '\r', '\t'])
    }

    fn string_allowing(&mut self, key: &str, max: usize, allowed: &[char]) -> Result<Option<String>, Rejection> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.chars().count() > max => {
                reject(self.path(key), format!("longer than {max} characters"))
            }
            Some(Value::String(s)) => match s.chars().position(|c| super::text::is_control(c) && !allowed.contains(&c))
            {
                Some(at) => reject(self.path(key), format!("holds a control character (at character {})", at + 1)),
                None => Ok(Some(s)),
            },
            Some(_) => reject(self.path(key), "must be a string"),
        }
    }

    pub(crate) fn required_string(&mut self, key: &str, max: usize) -> Result<String, Rejection> {
        match self.string(key, max)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            _ => reject(self.path(key), "missing"),
        }
    }

    fn code(&mut self, key: &str, allowed: &[&str]) -> Result<String, Rejection> {
        let v = self.required_string(key, 40)?;
        if allowed.contains(&v.as_str()) {
            Ok(v)
        } else {
            reject(self.path(key), format!("{:?} is not one of {}", super::text::escape(&v), allowed.join(", ")))
        }
    }

    fn money(&mut self, key: &str) -> Result<Option<Money>, Rejection> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::String(s)) => Money::parse(&s).map(Some).or_else(|r| reject(self.path(key), r)),
            Some(Value::Number(_)) => {
                reject(self.path(key), "amounts are strings holding an exact decimal, like \"44.99\"")
            }
            Some(_) => reject(self.path(key), "must be a string like \"44.99\""),
        }
    }

    pub(crate) fn quantity(&mut self, key: &str) -> Result<Option<u32>, Rejection> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_u64().and_then(|q| u32::try_from(q).ok()) {
                Some(0) => reject(self.path(key), "must be at least 1"),
                Some(q) => Ok(Some(q)),
                None => reject(self.path(key), "must be a whole number from 1 to 4294967295"),
            },
            Some(_) => reject(self.path(key), "must be a whole number"),
        }
    }

    pub(crate) fn flag(&mut self, key: &str) -> Result<bool, Rejection> {
        match self.take(key) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(b),
            Some(_) => reject(self.path(key), "must be true or false"),
        }
    }

    fn array(&mut self, key: &str, max: usize) -> Result<Vec<Value>, Rejection> {
        match self.take(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(a)) if a.len() <= max => Ok(a),
            Some(Value::Array(_)) => reject(self.path(key), format!("more than {max} entries")),
            Some(_) => reject(self.path(key), "must be an array"),
        }
    }

    /// Like [`Fields::objects`], but the array must be there (it may be empty).
    pub(crate) fn required_objects(&mut self, key: &str, max: usize) -> Result<Vec<Fields>, Rejection> {
        if self.map.get(key).is_none_or(|v| v.is_null()) {
            return reject(self.path(key), "missing");
        }
        self.objects(key, max)
    }

    pub(crate) fn objects(&mut self, key: &str, max: usize) -> Result<Vec<Fields>, Rejection> {
        let prefix = self.path(key);
        self.array(key, max)?
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Object(map) => Ok(Fields { map, prefix: format!("{prefix}[{i}].") }),
                _ => reject(format!("{prefix}[{i}]"), "must be an object"),
            })
            .collect()
    }

    pub(crate) fn line(&mut self) -> Result<String, Rejection> {
        let l = self.required_string("line", 20)?;
        if l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            Ok(l)
        } else {
            reject(self.path("line"), "a line number is letters, digits or '-'")
        }
    }

    fn id(&mut self, key: &str) -> Result<RequestId, Rejection> {
        let s = self.required_string(key, 128)?;
        RequestId::parse(&s).or_else(|r| reject(self.path(key), r))
    }

    pub(crate) fn done(self) -> Result<(), Rejection> {
        match self.map.keys().next() {
            None => Ok(()),
            Some(k) => reject(self.path(k), "unknown field"),
        }
    }
}

/// The largest message accepted (SQS's own limit is 256 KiB).
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// Lines in one request at most.
const MAX_LINES: usize = 500;

/// Parses one message body. Every refusal names the field and says why; nothing is guessed.
pub fn parse_request(body: &str) -> Result<Request, Rejection> {
    let mut f = Fields::of_body(body)?;
    let (kind, _version) = f.kind_and_version(SUPPORTED_VERSION)?;
    let request_id = f.id("request_id")?;
    let company = f.required_string("company_id", 64)?;
    let company_id = CompanyId::parse(&company).or_else(|e| reject("company_id", e.reason))?;
    let number = f.required_string("order_number", 128)?;
    let order_number = OrderNumber::parse(&number).or_else(|e| reject("order_number", e.reason))?;
    let requested_by = f.string("requested_by", 128)?;
    let kind = match kind.as_str() {
        "cancel" => {
            let lines = f
                .array("lines", MAX_LINES)?
                .into_iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::String(s)
                        if !s.is_empty()
                            && s.len() <= 20
                            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') =>
                    {
                        Ok(s)
                    }
                    _ => reject(format!("lines[{i}]"), "a line number (a string of letters, digits or '-')"),
                })
                .collect::<Result<Vec<_>, _>>()?;
            let reason = f.code("reason", SHORT_SHIP_REASONS)?;
            let local_only = f.flag("local_only")?;
            RequestKind::Cancel(CancelRequest { lines, reason, local_only })
        }
        "refund" => {
            let mut lines = Vec::new();
            for mut l in f.objects("lines", MAX_LINES)? {
                let line = l.line()?;
                let amount = l
                    .money("amount")?
                    .ok_or_else(|| Rejection { field: l.path("amount"), reason: "missing".into() })?;
                let quantity = l.quantity("quantity")?;
                l.done()?;
                lines.push(RefundLine { line, amount, quantity });
            }
            let shipping_amount = f.money("shipping_amount")?;
            let reason = f.code("reason", REFUND_REASONS)?;
            let notes = f.text("notes", 1000)?;
            let returning = f.flag("returning")?;
            let total: Decimal = lines.iter().map(|l| l.amount.value()).sum::<Decimal>()
                + shipping_amount.map(Money::value).unwrap_or_default();
            if total.is_zero() {
                return reject("lines", "nothing to refund: give at least one line or a shipping amount above 0");
            }
            RequestKind::Refund(RefundRequest { lines, shipping_amount, reason, notes, returning })
        }
        "rma_open" | "rma_receive" => {
            let rma_id = f.id("rma_id")?;
            let mut lines = Vec::new();
            for mut l in f.objects("lines", MAX_LINES)? {
                let line = l.line()?;
                let quantity = l
                    .quantity("quantity")?
                    .ok_or_else(|| Rejection { field: l.path("quantity"), reason: "missing".into() })?;
                l.done()?;
                lines.push(LineQuantity { line, quantity });
            }
            if lines.is_empty() {
                return reject("lines", "at least one line");
            }
            if kind == "rma_open" {
                let reason = f.code("reason", REFUND_REASONS)?;
                RequestKind::RmaOpen { rma_id, lines, reason }
            } else {
                RequestKind::RmaReceive { rma_id, lines }
            }
        }
        "rma_close" => RequestKind::RmaClose { rma_id: f.id("rma_id")? },
        other => {
            return reject(
                "type",
                format!(
                    "{:?} is not one of cancel, refund, rma_open, rma_receive, rma_close",
                    other.chars().take(40).collect::<String>()
                ),
            );
        }
    };
    f.done()?;
    Ok(Request { envelope: Envelope { request_id, company_id, order_number, requested_by }, kind })
}

trait ClassifyText {
    fn classify_text(&self) -> String;
}

impl ClassifyText for serde_json::Error {
    /// The kind and position of a JSON error, never the text around it.
    fn classify_text(&self) -> String {
        let kind = match self.classify() {
            serde_json::error::Category::Io => "unreadable",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "wrong data",
            serde_json::error::Category::Eof => "truncated",
        };
        format!("{kind} at line {} column {}", self.line(), self.column())
    }
}

#[cfg(test)]
mod tests;
