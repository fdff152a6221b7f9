//! Per-company settings (see docs/decisions.md).

use super::CompanyId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use super::endpoint::{ApiBaseUrl, PRODUCTION_BASE_URL, TEST_BASE_URL};
pub use chrono_tz::Tz;

/// A setting's value refused at the boundary (CLI, table row), with the setting's name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting}: {reason}")]
pub struct InvalidSetting {
    pub setting: &'static str,
    pub reason: String,
}

/// Where the Overstock credentials are: a Secrets Manager secret ARN, or a key of the local
/// credentials file. Never the password itself: anything that does not look like one of the
/// two is refused, so a password typed into the wrong flag never reaches a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CredentialsRef(String);

impl CredentialsRef {
    pub fn parse(s: &str) -> Result<Self, InvalidSetting> {
        let bad = |reason: &str| InvalidSetting { setting: "credentials reference", reason: reason.into() };
        let v = s.trim();
        if v.starts_with("arn:") {
            let parts: Vec<&str> = v.splitn(7, ':').collect();
            let ok = parts.len() == 7
                && parts[1].starts_with("aws")
                && parts[1].chars().all(|c| c.is_ascii_lowercase() || c == '-')
                && parts[2] == "secretsmanager"
                && !parts[3].is_empty()
                && parts[3].chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && parts[4].len() == 12
                && parts[4].chars().all(|c| c.is_ascii_digit())
                && parts[5] == "secret"
                && !parts[6].is_empty()
                && parts[6].len() <= 512
                && parts[6].chars().all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c));
            return if ok {
                Ok(Self(v.to_owned()))
            } else {
                Err(bad("not a Secrets Manager secret ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME)"))
            };
        }
        let key_like = (1..=64).contains(&v.len())
            && v.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            && v.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
        if key_like {
            Ok(Self(v.to_owned()))
        } else {
            Err(bad(
                "give a Secrets Manager secret ARN, or a key of the local credentials file (lower case letters, digits, '.', '_', '-'); never the password itself",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CredentialsRef {
    type Error = InvalidSetting;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<CredentialsRef> for String {
    fn from(r: CredentialsRef) -> Self {
        r.0
    }
}

impl std::fmt::Display for CredentialsRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A whole number within `MIN..=MAX`, refused outside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Bounded<const MIN: u32, const MAX: u32>(u32);

impl<const MIN: u32, const MAX: u32> Bounded<MIN, MAX> {
    pub fn new(v: u32) -> Result<Self, InvalidSetting> {
        if (MIN..=MAX).contains(&v) {
            Ok(Self(v))
        } else {
            Err(InvalidSetting { setting: "value", reason: format!("{v} is outside {MIN}..={MAX}") })
        }
    }
    pub fn get(self) -> u32 {
        self.0
    }
}

impl<const MIN: u32, const MAX: u32> TryFrom<u32> for Bounded<MIN, MAX> {
    type Error = InvalidSetting;
    fn try_from(v: u32) -> Result<Self, Self::Error> {
        Self::new(v)
    }
}

impl<const MIN: u32, const MAX: u32> From<Bounded<MIN, MAX>> for u32 {
    fn from(b: Bounded<MIN, MAX>) -> Self {
        b.0
    }
}

impl<const MIN: u32, const MAX: u32> std::fmt::Display for Bounded<MIN, MAX> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The first download's look-back: 1 hour to 30 days.
pub type LookbackHours = Bounded<1, 720>;
/// Backorder default lead time: 1 to 24 calendar months.
pub type LeadTimeMonths = Bounded<1, 24>;

/// The company's IANA time zone, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CompanyTimeZone(pub Tz);

impl CompanyTimeZone {
    pub fn parse(s: &str) -> Result<Self, InvalidSetting> {
        s.trim().parse::<Tz>().map(Self).map_err(|_| InvalidSetting {
            setting: "time zone",
            reason: format!("unknown IANA time zone {:?}", s.chars().take(64).collect::<String>()),
        })
    }
}

impl TryFrom<String> for CompanyTimeZone {
    type Error = InvalidSetting;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<CompanyTimeZone> for String {
    fn from(t: CompanyTimeZone) -> Self {
        t.0.name().to_owned()
    }
}

impl std::fmt::Display for CompanyTimeZone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.name())
    }
}

/// The settings of one company's Overstock channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompanySettings {
    /// Enable Order Download.
    pub order_download: bool,
    /// Enable Order Acknowledgement.
    pub order_acknowledgement: bool,
    /// Enable Order Fulfillment Upload.
    pub fulfillment_upload: bool,
    /// Enable Inventory Upload: the scheduled inventory push sends this company's stock.
    #[serde(default)]
    pub inventory_upload: bool,
    /// Send Backorder Information.
    pub send_backorder_info: bool,
    /// Enable Shipping Containers for PO.
    pub shipping_containers_for_po: bool,
    /// The Overstock warehouse name, exact and case-sensitive.
    pub warehouse_code: String,
    /// Production, test, or a local sandbox.
    pub api_base_url: ApiBaseUrl,
    /// A reference to the secret holding the Overstock API user and password, never the password.
    pub credentials_ref: CredentialsRef,
    /// Backorder default lead time, in calendar months.
    pub backorder_lead_time_months: LeadTimeMonths,
    /// The company's time zone (IANA name), for "today" in backorder rules.
    pub time_zone: CompanyTimeZone,
    /// How far back the first download of a company reaches, in hours.
    pub initial_lookback_hours: LookbackHours,
    /// The outbound flows in dry-run (none by default): decided and recorded, never POSTed.
    #[serde(default, skip_serializing_if = "super::dry_run::DryRun::is_empty")]
    pub dry_run: super::dry_run::DryRun,
    /// Handling time, cut-off, non-working days and holidays: each order's ship-by instant and
    /// when it is at risk (the watchdog; `domain::calendar`).
    #[serde(default)]
    pub ship_by: super::calendar::ShipByRules,
    /// When recorded shipments' tracking is sent: a delay after the ship date and/or the carrier's
    /// daily pickup (off: within a minute).
    #[serde(default)]
    pub tracking_hold: super::calendar::TrackingHold,
    /// The most the shipping refunds of one order may come to, all together. Overstock's order
    /// does not say what the customer paid for shipping, so a refund's shipping amount is bounded
    /// by this company ceiling (0: shipping is never refunded), and refused above it.
    #[serde(default = "default_shipping_refund_limit")]
    pub shipping_refund_limit: super::requests::Money,
}

/// The shipping a company may refund on one order unless it sets another ceiling.
pub fn default_shipping_refund_limit() -> super::requests::Money {
    super::requests::Money::from_amount(rust_decimal::Decimal::new(10_000, 2)).unwrap_or(super::requests::Money::ZERO)
}

/// A warehouse name as an operator types it: it is sent to Overstock in every shipment and
/// inventory message, so trimmed, 1-100 characters, no control character.
pub fn warehouse_code(s: &str) -> Result<String, super::text::TextError> {
    super::text::plain("warehouse code", s, 100)
}

/// A company's display name: trimmed, 1-200 characters, no control character.
pub fn company_name(s: &str) -> Result<String, super::text::TextError> {
    super::text::plain("company name", s, 200)
}

impl CompanySettings {
    /// Defaults for a new company: everything off, one month lead time, a 24 h first look-back.
    pub fn new(warehouse_code: String, api_base_url: ApiBaseUrl, credentials_ref: CredentialsRef) -> Self {
        Self {
            order_download: false,
            order_acknowledgement: false,
            fulfillment_upload: false,
            inventory_upload: false,
            send_backorder_info: false,
            shipping_containers_for_po: false,
            warehouse_code,
            api_base_url,
            credentials_ref,
            backorder_lead_time_months: Bounded(1),
            time_zone: CompanyTimeZone(chrono_tz::America::Denver),
            initial_lookback_hours: Bounded(24),
            dry_run: Default::default(),
            ship_by: Default::default(),
            tracking_hold: Default::default(),
            shipping_refund_limit: default_shipping_refund_limit(),
        }
    }
}

/// Whether the company's Overstock credentials are known to fail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum CredentialsHealth {
    #[default]
    Ok,
    /// Overstock refused the credentials (401) fewer than [`REFUSALS_BEFORE_FLAG`] times in a
    /// row: maybe a passing fault on its side. Jobs try again from `retry_at` (backing off); the
    /// operator is told at the first refusal (the run fails, the alarm fires).
    Refused { first_at: DateTime<Utc>, refusals: u32, retry_at: DateTime<Utc>, reason: String },
    /// Refused [`REFUSALS_BEFORE_FLAG`] times in a row (or the secret cannot be read). Jobs skip
    /// the company until an operator clears the flag (`overstockctl company clear-flag`).
    Failed { at: DateTime<Utc>, reason: String },
}

/// Consecutive refusals after which a company is flagged and left alone until someone acts.
pub const REFUSALS_BEFORE_FLAG: u32 = 3;

impl CredentialsHealth {
    /// The rule after Overstock refused the credentials: back off (2, then 4 minutes…) and
    /// flag at the [`REFUSALS_BEFORE_FLAG`]th refusal in a row.
    pub fn after_refusal(&self, reason: &str, now: DateTime<Utc>) -> Self {
        let (first_at, refusals) = match self {
            Self::Refused { first_at, refusals, .. } => (*first_at, refusals.saturating_add(1)),
            _ => (now, 1),
        };
        if refusals >= REFUSALS_BEFORE_FLAG {
            Self::Failed {
                at: now,
                reason: format!(
                    "refused {refusals} times in a row since {}: {reason}",
                    first_at.format("%Y-%m-%d %H:%M UTC")
                ),
            }
        } else {
            let backoff = chrono::Duration::minutes(2i64.saturating_pow(refusals));
            Self::Refused { first_at, refusals, retry_at: now + backoff, reason: reason.to_owned() }
        }
    }
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
    /// Refused recently; the next try is at this time.
    CredentialsBackoff {
        refusals: u32,
        retry_at: DateTime<Utc>,
    },
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SettingDisabled(s) => write!(f, "{s} is disabled"),
            Self::CredentialsFailed(r) => write!(f, "credentials flagged as failing ({r}); clear the flag once fixed"),
            Self::CredentialsBackoff { refusals, retry_at } => {
                write!(
                    f,
                    "Overstock refused the credentials {refusals} time(s) in a row; next try at {}",
                    retry_at.format("%Y-%m-%dT%H:%M:%SZ")
                )
            }
        }
    }
}

impl Company {
    /// The rule for every scheduled job: its setting must be on and the credentials not flagged.
    fn eligibility(&self, enabled: bool, setting: &'static str, now: DateTime<Utc>) -> Result<(), SkipReason> {
        if !enabled {
            return Err(SkipReason::SettingDisabled(setting));
        }
        match &self.credentials_health {
            CredentialsHealth::Ok => Ok(()),
            CredentialsHealth::Refused { retry_at, .. } if *retry_at <= now => Ok(()),
            CredentialsHealth::Refused { refusals, retry_at, .. } => {
                Err(SkipReason::CredentialsBackoff { refusals: *refusals, retry_at: *retry_at })
            }
            CredentialsHealth::Failed { reason, .. } => Err(SkipReason::CredentialsFailed(reason.clone())),
        }
    }

    /// order-download: Enable Order Download.
    pub fn download_eligibility(&self, now: DateTime<Utc>) -> Result<(), SkipReason> {
        self.eligibility(self.settings.order_download, "Enable Order Download", now)
    }

    /// tracking-upload: Enable Order Fulfillment Upload.
    pub fn upload_eligibility(&self, now: DateTime<Utc>) -> Result<(), SkipReason> {
        self.eligibility(self.settings.fulfillment_upload, "Enable Order Fulfillment Upload", now)
    }

    /// inventory-push: Enable Inventory Upload.
    pub fn inventory_eligibility(&self, now: DateTime<Utc>) -> Result<(), SkipReason> {
        self.eligibility(self.settings.inventory_upload, "Enable Inventory Upload", now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn company(download: bool, health: CredentialsHealth) -> Company {
        let mut settings = CompanySettings::new(
            "ACME MAIN".into(),
            ApiBaseUrl::parse("test").unwrap_or_else(|e| panic!("{e}")),
            CredentialsRef::parse("acme").unwrap_or_else(|e| panic!("{e}")),
        );
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
        let now = Utc::now();
        assert_eq!(company(true, CredentialsHealth::Ok).download_eligibility(now), Ok(()));
        assert_eq!(
            company(false, CredentialsHealth::Ok).download_eligibility(now),
            Err(SkipReason::SettingDisabled("Enable Order Download"))
        );
        let failed = CredentialsHealth::Failed { at: now, reason: "401".into() };
        assert!(matches!(company(true, failed).download_eligibility(now), Err(SkipReason::CredentialsFailed(_))));
    }

    #[test]
    fn one_refusal_backs_off_and_only_repeated_refusals_flag() {
        let t0 = Utc::now();
        let once = CredentialsHealth::Ok.after_refusal("401", t0);
        let CredentialsHealth::Refused { refusals: 1, retry_at, .. } = once.clone() else { panic!("{once:?}") };
        assert_eq!(retry_at, t0 + chrono::Duration::minutes(2));
        let c = company(true, once.clone());
        assert!(matches!(
            c.download_eligibility(t0 + chrono::Duration::minutes(1)),
            Err(SkipReason::CredentialsBackoff { refusals: 1, .. })
        ));
        assert_eq!(c.download_eligibility(retry_at), Ok(()), "tried again after the backoff");
        let twice = once.after_refusal("401", retry_at);
        assert!(matches!(twice, CredentialsHealth::Refused { refusals: 2, .. }), "{twice:?}");
        let thrice = twice.after_refusal("401", retry_at + chrono::Duration::minutes(4));
        assert!(
            matches!(thrice, CredentialsHealth::Failed { .. }),
            "flagged at the third refusal in a row: {thrice:?}"
        );
    }

    #[test]
    fn credentials_refs_look_like_references_never_like_passwords() {
        for ok in ["acme", "demo-1", "arn:aws:secretsmanager:us-east-1:123456789012:secret:overstock/acme-AbCdEf"] {
            assert!(CredentialsRef::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "Hunter2!",
            "p@ssw0rd",
            "S3cr3tPassw0rd",
            "user:password",
            "arn:aws:s3:::bucket",
            "arn:aws:secretsmanager:us-east-1:1234:secret:x",
            "",
            "a b",
        ] {
            assert!(CredentialsRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn settings_are_bounded_and_a_bad_row_does_not_read_back() {
        assert!(LookbackHours::new(0).is_err());
        assert!(LookbackHours::new(721).is_err());
        assert!(LeadTimeMonths::new(25).is_err());
        assert!(CompanyTimeZone::parse("Mars/Olympus").is_err());
        let good = serde_json::to_value(company(true, CredentialsHealth::Ok).settings).unwrap_or_default();
        let mut bad = good.clone();
        bad["initial_lookback_hours"] = serde_json::json!(100000);
        assert!(serde_json::from_value::<CompanySettings>(bad).is_err());
        let mut bad = good.clone();
        bad["api_base_url"] = serde_json::json!("http://127.0.0.1.evil.example");
        assert!(
            serde_json::from_value::<CompanySettings>(bad).is_ok(),
            "parses; refused when used (the endpoint policy)"
        );
        let mut bad = good;
        bad["time_zone"] = serde_json::json!("Nowhere/Else");
        assert!(serde_json::from_value::<CompanySettings>(bad).is_err());
    }
}
