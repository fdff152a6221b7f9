//! Per-company settings (see docs/domain-rules.md of the handbook and docs/decisions.md).

use super::CompanyId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use chrono_tz::Tz;

/// Overstock's production API.
pub const PRODUCTION_BASE_URL: &str = "https://api.supplieroasis.com";
/// Overstock's test API.
pub const TEST_BASE_URL: &str = "https://api.test.supplieroasis.com";

/// The settings of one company's Overstock channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompanySettings {
    /// Enable Order Download.
    pub order_download: bool,
    /// Enable Order Acknowledgement.
    pub order_acknowledgement: bool,
    /// Enable Order Fulfillment Upload.
    pub fulfillment_upload: bool,
    /// Send Backorder Information.
    pub send_backorder_info: bool,
    /// Enable Shipping Containers for PO.
    pub shipping_containers_for_po: bool,
    /// The Overstock warehouse name, exact and case-sensitive.
    pub warehouse_code: String,
    /// Production, test, or a local sandbox.
    pub api_base_url: String,
    /// A reference to the secret holding the Overstock API user and password, never the password.
    pub credentials_ref: String,
    /// Backorder default lead time, in calendar months.
    pub backorder_lead_time_months: u32,
    /// The company's time zone (IANA name), for "today" in backorder rules.
    pub time_zone: String,
    /// How far back the first download of a company reaches, in hours.
    pub initial_lookback_hours: u32,
}

impl CompanySettings {
    /// Defaults for a new company: everything off, one month lead time, a 24 h first look-back.
    pub fn new(warehouse_code: String, api_base_url: String, credentials_ref: String) -> Self {
        Self {
            order_download: false,
            order_acknowledgement: false,
            fulfillment_upload: false,
            send_backorder_info: false,
            shipping_containers_for_po: false,
            warehouse_code,
            api_base_url,
            credentials_ref,
            backorder_lead_time_months: 1,
            time_zone: "America/Denver".into(),
            initial_lookback_hours: 24,
        }
    }
}

/// Whether the company's Overstock credentials are known to fail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum CredentialsHealth {
    #[default]
    Ok,
    /// Overstock answered 401 (or the secret could not be read). Jobs skip the company until an
    /// operator clears the flag (`overstockctl company clear-flag`).
    Failed { at: DateTime<Utc>, reason: String },
}

/// A company as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Company {
    pub company_id: CompanyId,
    pub name: String,
    pub settings: CompanySettings,
    #[serde(default)]
    pub credentials_health: CredentialsHealth,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Why a scheduled job does not touch a company.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    SettingDisabled(&'static str),
    CredentialsFailed(String),
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SettingDisabled(s) => write!(f, "{s} is disabled"),
            Self::CredentialsFailed(r) => write!(f, "credentials flagged as failing ({r}); clear the flag once fixed"),
        }
    }
}

impl Company {
    /// The rule for every scheduled job: its setting must be on and the credentials not flagged.
    fn eligibility(&self, enabled: bool, setting: &'static str) -> Result<(), SkipReason> {
        if !enabled {
            return Err(SkipReason::SettingDisabled(setting));
        }
        match &self.credentials_health {
            CredentialsHealth::Ok => Ok(()),
            CredentialsHealth::Failed { reason, .. } => Err(SkipReason::CredentialsFailed(reason.clone())),
        }
    }

    /// order-download: Enable Order Download.
    pub fn download_eligibility(&self) -> Result<(), SkipReason> {
        self.eligibility(self.settings.order_download, "Enable Order Download")
    }

    /// tracking-upload: Enable Order Fulfillment Upload.
    pub fn upload_eligibility(&self) -> Result<(), SkipReason> {
        self.eligibility(self.settings.fulfillment_upload, "Enable Order Fulfillment Upload")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn company(download: bool, health: CredentialsHealth) -> Company {
        let mut settings = CompanySettings::new("ACME MAIN".into(), TEST_BASE_URL.into(), "acme".into());
        settings.order_download = download;
        Company {
            company_id: CompanyId::parse("acme").unwrap_or_else(|e| panic!("{e}")),
            name: "Acme".into(),
            settings,
            credentials_health: health,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn download_eligibility() {
        assert_eq!(company(true, CredentialsHealth::Ok).download_eligibility(), Ok(()));
        assert_eq!(
            company(false, CredentialsHealth::Ok).download_eligibility(),
            Err(SkipReason::SettingDisabled("Enable Order Download"))
        );
        let failed = CredentialsHealth::Failed { at: Utc::now(), reason: "401".into() };
        assert!(matches!(company(true, failed).download_eligibility(), Err(SkipReason::CredentialsFailed(_))));
    }
}
