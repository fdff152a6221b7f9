//! Dry-run: per company, the outbound flows whose POSTs are decided and recorded as "would
//! send" but never made (see the audit trail). Turning a flow off again sends only what is still
//! due: what the dry run "sent" counts as sent.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// An outbound flow that can be put in dry-run, per company.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flow {
    /// `POST /acknowledgements`.
    Acknowledgement,
    /// Ship confirmations in `POST /shipments`.
    Upload,
    /// Short ships (cancellations) in `POST /shipments`.
    Cancel,
    /// `POST /refunds` (refunds and RMA receipts).
    Refund,
    /// `POST /inventory` (when inventory exists).
    Inventory,
}

impl Flow {
    pub const ALL: [Flow; 5] = [Flow::Acknowledgement, Flow::Upload, Flow::Cancel, Flow::Refund, Flow::Inventory];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Acknowledgement => "ack",
            Self::Upload => "upload",
            Self::Cancel => "cancel",
            Self::Refund => "refund",
            Self::Inventory => "inventory",
        }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ack" | "acknowledgement" | "acknowledgements" => Ok(Self::Acknowledgement),
            "upload" | "tracking" => Ok(Self::Upload),
            "cancel" | "cancellation" | "short-ship" => Ok(Self::Cancel),
            "refund" | "refunds" | "rma" => Ok(Self::Refund),
            "inventory" => Ok(Self::Inventory),
            other => Err(format!("unknown flow {other:?}: expected ack, upload, cancel, refund, inventory")),
        }
    }
}

/// The flows of a company in dry-run: decided and recorded as "would send", never POSTed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DryRun(pub BTreeSet<Flow>);

impl DryRun {
    pub fn contains(&self, flow: Flow) -> bool {
        self.0.contains(&flow)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `upload,refund`, `all`, or `none` / `off` / empty (no dry-run).
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() || s.eq_ignore_ascii_case("none") || s.eq_ignore_ascii_case("off") {
            return Ok(Self::default());
        }
        if s.eq_ignore_ascii_case("all") {
            return Ok(Self(Flow::ALL.into_iter().collect()));
        }
        s.split(',').filter(|p| !p.trim().is_empty()).map(Flow::parse).collect::<Result<_, _>>().map(Self)
    }
}

impl std::fmt::Display for DryRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        let names: Vec<&str> = self.0.iter().map(|f| f.as_str()).collect();
        f.write_str(&names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dry_run_parses_lists_all_and_none() {
        assert_eq!(DryRun::parse("upload,refund").map(|d| d.to_string()), Ok("upload,refund".into()));
        assert_eq!(DryRun::parse("none"), Ok(DryRun::default()));
        assert_eq!(DryRun::parse("all").map(|d| d.0.len()), Ok(5));
        assert_eq!(DryRun::parse("ack, Cancel").map(|d| d.to_string()), Ok("ack,cancel".into()));
        assert!(DryRun::parse("upload,ship").is_err_and(|e| e.contains("\"ship\"")));
    }
}
