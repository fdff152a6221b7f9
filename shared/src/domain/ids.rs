//! Newtypes parsed at the boundary.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what}: {reason}")]
pub struct InvalidId {
    pub what: &'static str,
    pub reason: String,
}

/// A company id: 1-64 characters of `a-z`, `0-9`, `-`, `_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CompanyId(String);

impl CompanyId {
    pub fn parse(s: &str) -> Result<Self, InvalidId> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidId {
                what: "company id",
                reason: format!("{} must be 1-64 characters of a-z, 0-9, '-', '_'", super::text::escape(s)),
            })
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CompanyId {
    type Error = InvalidId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}
impl From<CompanyId> for String {
    fn from(c: CompanyId) -> Self {
        c.0
    }
}
impl fmt::Display for CompanyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Overstock's `salesChannelOrderNumber`: the key of an order in every message. Trimmed, non-empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrderNumber(String);

impl OrderNumber {
    pub fn parse(s: &str) -> Result<Self, InvalidId> {
        let t = s.trim();
        if t.is_empty() || t.len() > 128 {
            return Err(InvalidId { what: "order number", reason: "must be 1-128 characters".into() });
        }
        // It goes back to Overstock in every message and is printed to operators.
        super::text::check_no_control("it", t)
            .map_err(|e| InvalidId { what: "order number", reason: e.to_string() })?;
        Ok(Self(t.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for OrderNumber {
    type Error = InvalidId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}
impl From<OrderNumber> for String {
    fn from(c: OrderNumber) -> Self {
        c.0
    }
}
impl fmt::Display for OrderNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A service level code ("code to receive"), e.g. `NEXT_DAY`. Codes compare
/// case-insensitively, so the canonical form is upper case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ServiceLevelCode(String);

impl ServiceLevelCode {
    pub fn parse(s: &str) -> Result<Self, InvalidId> {
        let t = s.trim();
        if t.is_empty() || t.len() > 64 || t.chars().any(|c| c.is_whitespace() || super::text::is_control(c)) {
            return Err(InvalidId {
                what: "service level code",
                reason: "must be 1-64 characters without spaces or control characters".into(),
            });
        }
        Ok(Self(t.to_ascii_uppercase()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for ServiceLevelCode {
    type Error = InvalidId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}
impl From<ServiceLevelCode> for String {
    fn from(c: ServiceLevelCode) -> Self {
        c.0
    }
}
impl fmt::Display for ServiceLevelCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn company_id_rules() {
        assert!(CompanyId::parse("acme-1").is_ok());
        assert!(CompanyId::parse("").is_err());
        assert!(CompanyId::parse("Acme").is_err());
        assert!(CompanyId::parse("a b").is_err());
    }

    #[test]
    fn service_level_code_is_case_insensitive() {
        assert_eq!(ServiceLevelCode::parse(" next_day ").ok(), ServiceLevelCode::parse("NEXT_DAY").ok());
        assert!(ServiceLevelCode::parse("").is_err());
    }

    #[test]
    fn identifiers_with_control_characters_are_refused_without_echoing_them() {
        for bad in ["OSTK\u{1b}[2J-1", "A\u{7}", "12\r\n34", "\u{202e}1-KTSO"] {
            let e = OrderNumber::parse(bad).err().map(|e| e.to_string());
            assert!(e.as_deref().is_some_and(|e| !e.chars().any(crate::domain::text::is_control)), "{bad:?}: {e:?}");
            assert!(ServiceLevelCode::parse(bad).is_err(), "{bad:?}");
        }
        assert!(OrderNumber::parse("OSTK\u{1b}1").is_err());
        assert!(ServiceLevelCode::parse("NEXT\u{1b}DAY").is_err());
        let e = CompanyId::parse("a\u{1b}]0;x\u{7}").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(!e.chars().any(crate::domain::text::is_control), "{e:?}");
    }

    #[test]
    fn order_number_trimmed() {
        assert_eq!(OrderNumber::parse(" OSTK-1 ").map(|o| o.to_string()).ok(), Some("OSTK-1".to_owned()));
        assert!(OrderNumber::parse("  ").is_err());
    }
}
