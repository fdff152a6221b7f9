//! Shipping method mapping: code to receive → (shipping method, code to send, rush).

use super::ServiceLevelCode;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One row of a company's shipping method mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingMethodMapping {
    /// The service level code Overstock sends on the order (compared case-insensitively).
    pub code_to_receive: ServiceLevelCode,
    /// The seller's own shipping method the order is imported with.
    pub shipping_method: String,
    /// The carrier code sent back to Overstock with the tracking (e.g. `UPS`).
    pub code_to_send: String,
    /// Orders with this code are marked rush.
    pub rush: bool,
}

impl ShippingMethodMapping {
    /// A mapping as an operator (or the console) gives it: the code to receive as a service level
    /// code, the seller's shipping method as plain text (1-100 characters, no control
    /// character), the code to send as a carrier code.
    pub fn new(
        code_to_receive: &str,
        shipping_method: &str,
        code_to_send: &str,
        rush: bool,
    ) -> Result<Self, MappingError> {
        Ok(Self {
            code_to_receive: ServiceLevelCode::parse(code_to_receive).map_err(|e| MappingError(e.to_string()))?,
            shipping_method: super::text::plain("shipping method", shipping_method, 100)
                .map_err(|e| MappingError(e.to_string()))?,
            code_to_send: super::shipment::check_carrier(code_to_send.trim())
                .map_err(|e| MappingError(format!("code to send: {e}")))?
                .to_owned(),
            rush,
        })
    }
}

/// Why a mapping was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MappingError(pub String);

/// What the mapping says about one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappingOutcome {
    Mapped { shipping_method: String, code_to_send: String, rush: bool },
    Unmapped,
}

/// The reason an order needs attention when its code has no mapping.
pub const UNMAPPED_REASON: &str = "unmapped shipping method";

/// A company's mappings, indexed by canonical (upper-case) code.
#[derive(Debug, Clone, Default)]
pub struct MappingTable(HashMap<ServiceLevelCode, ShippingMethodMapping>);

impl MappingTable {
    pub fn new(rows: impl IntoIterator<Item = ShippingMethodMapping>) -> Self {
        Self(rows.into_iter().map(|m| (m.code_to_receive.clone(), m)).collect())
    }

    /// The one rule: look the order's code up case-insensitively. An order without a code is unmapped.
    pub fn resolve(&self, code: Option<&ServiceLevelCode>) -> MappingOutcome {
        match code.and_then(|c| self.0.get(c)) {
            Some(m) => MappingOutcome::Mapped {
                shipping_method: m.shipping_method.clone(),
                code_to_send: m.code_to_send.clone(),
                rush: m.rush,
            },
            None => MappingOutcome::Unmapped,
        }
    }

    /// The code to send of the mapping whose shipping method is `method` (exact, then
    /// case-insensitive). `None` when no mapping uses it, or several disagree.
    pub fn code_to_send_for_method(&self, method: &str) -> Option<String> {
        let m = method.trim();
        let mut codes: Vec<&str> =
            self.0.values().filter(|r| r.shipping_method == m).map(|r| r.code_to_send.as_str()).collect();
        if codes.is_empty() {
            codes = self
                .0
                .values()
                .filter(|r| r.shipping_method.eq_ignore_ascii_case(m))
                .map(|r| r.code_to_send.as_str())
                .collect();
        }
        codes.sort_unstable();
        codes.dedup();
        match codes.as_slice() {
            [one] => Some((*one).to_owned()),
            _ => None,
        }
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mapping_with_an_empty_or_controlled_value_is_refused() {
        assert!(
            ShippingMethodMapping::new("ground", " Ground ", "UPS", false).is_ok_and(|m| m.shipping_method == "Ground")
        );
        for (code, method, send) in [
            ("GROUND", "", "UPS"),
            ("GROUND", "   ", "UPS"),
            ("GROUND", "Gro\u{1b}[2Jund", "UPS"),
            ("GRO\u{1b}UND", "Ground", "UPS"),
            ("", "Ground", "UPS"),
            ("GROUND", "Ground", ""),
            ("GROUND", "Ground", "U\u{7}PS"),
        ] {
            let e = ShippingMethodMapping::new(code, method, send, false).err().map(|e| e.0).unwrap_or_default();
            assert!(!e.is_empty() && !crate::domain::text::has_control(&e), "{code:?} {method:?} {send:?}: {e:?}");
        }
    }

    fn code(s: &str) -> Option<ServiceLevelCode> {
        ServiceLevelCode::parse(s).ok()
    }

    #[test]
    fn resolves_case_insensitively_and_reports_unmapped() {
        let Some(next_day) = code("NEXT_DAY") else { panic!("valid code") };
        let table = MappingTable::new([ShippingMethodMapping {
            code_to_receive: next_day,
            shipping_method: "UPS Next Day Air".into(),
            code_to_send: "UPS".into(),
            rush: true,
        }]);
        assert_eq!(
            table.resolve(code("next_day").as_ref()),
            MappingOutcome::Mapped {
                shipping_method: "UPS Next Day Air".into(),
                code_to_send: "UPS".into(),
                rush: true
            }
        );
        assert_eq!(table.resolve(code("GROUND").as_ref()), MappingOutcome::Unmapped);
        assert_eq!(table.resolve(None), MappingOutcome::Unmapped);
    }
}
