//! A change to a company's settings as an operator makes it — `overstockctl company create|set`
//! flags or the console's settings form — parsed and checked by one rule, so both refuse the
//! same values for the same reasons.

use super::calendar::{self, ShipByRules, TrackingHold};
use super::dry_run::DryRun;
use super::endpoint::EndpointPolicy;
use super::settings::{ApiBaseUrl, CompanySettings, CompanyTimeZone, CredentialsRef, LeadTimeMonths, LookbackHours};
use chrono::{NaiveDate, NaiveTime, Weekday};
use std::collections::BTreeSet;

/// Why a change was refused: which setting, and why (nothing is changed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ChangeError {
    pub field: &'static str,
    pub reason: String,
}

fn bad(field: &'static str, e: impl std::fmt::Display) -> ChangeError {
    ChangeError { field, reason: e.to_string() }
}

/// Each setting the operator gives (`None`: left as it is), already typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettingsChange {
    pub download: Option<bool>,
    pub acknowledgement: Option<bool>,
    pub fulfillment_upload: Option<bool>,
    pub inventory_upload: Option<bool>,
    pub backorder_info: Option<bool>,
    pub shipping_containers: Option<bool>,
    pub warehouse: Option<String>,
    pub api_base_url: Option<String>,
    pub credentials_ref: Option<String>,
    pub lead_time_months: Option<u32>,
    pub time_zone: Option<String>,
    pub initial_lookback_hours: Option<u32>,
    pub dry_run: Option<DryRun>,
    pub handling_days: Option<u32>,
    pub cutoff: Option<NaiveTime>,
    pub non_working_days: Option<Vec<Weekday>>,
    pub holidays: Option<BTreeSet<NaiveDate>>,
    pub at_risk_hours: Option<u32>,
    pub tracking_delay_minutes: Option<u32>,
    /// `Some(None)`: no pickup.
    pub pickup: Option<Option<NaiveTime>>,
    pub shipping_refund_limit: Option<super::requests::Money>,
}

/// `on`/`off` as typed (also `true`/`false`, any case).
pub fn parse_on_off(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "on" | "true" => Ok(true),
        "off" | "false" => Ok(false),
        _ => Err(format!("{:?} is not on or off", super::text::escape(s.trim()))),
    }
}

/// `HH:MM` or `none`.
pub fn parse_pickup(s: &str) -> Result<Option<NaiveTime>, String> {
    if s.trim().eq_ignore_ascii_case("none") {
        Ok(None)
    } else {
        calendar::parse_time("pickup", s).map(Some).map_err(|e| e.to_string())
    }
}

/// The settings the console's form shows, in its order: (flag name, label, current value as text
/// that [`SettingsChange::set`] reads back to the same value). The six toggles first.
pub fn form_values(s: &CompanySettings) -> Vec<(&'static str, &'static str, String)> {
    let on = |b: bool| if b { "on".to_owned() } else { "off".to_owned() };
    let list = |v: Vec<String>| if v.is_empty() { "none".to_owned() } else { v.join(",") };
    vec![
        ("download", "Enable Order Download", on(s.order_download)),
        ("acknowledgement", "Enable Order Acknowledgement", on(s.order_acknowledgement)),
        ("fulfillment-upload", "Enable Order Fulfillment Upload", on(s.fulfillment_upload)),
        ("inventory-upload", "Enable Inventory Upload", on(s.inventory_upload)),
        ("backorder-info", "Send Backorder Information", on(s.send_backorder_info)),
        ("shipping-containers", "Enable Shipping Containers for PO", on(s.shipping_containers_for_po)),
        ("warehouse", "Overstock warehouse name", s.warehouse_code.clone()),
        ("api-base-url", "API base URL (production, test, or a URL)", s.api_base_url.to_string()),
        ("credentials-ref", "Credentials (the secret's reference, never the secret)", s.credentials_ref.to_string()),
        ("lead-time-months", "Backorder lead time (months)", s.backorder_lead_time_months.to_string()),
        ("time-zone", "Time zone (IANA)", s.time_zone.to_string()),
        ("initial-lookback-hours", "First download look-back (hours)", s.initial_lookback_hours.to_string()),
        ("dry-run", "Dry run (ack, upload, cancel, refund, inventory; all; none)", s.dry_run.to_string()),
        ("handling-days", "Handling time (working days)", s.ship_by.handling_days.to_string()),
        ("cutoff", "Daily cut-off (HH:MM, company time)", s.ship_by.cutoff.format("%H:%M").to_string()),
        (
            "non-working-days",
            "Non-working days (e.g. sat,sun; none)",
            list(s.ship_by.non_working_weekdays.iter().map(|d| d.to_string().to_ascii_lowercase()).collect()),
        ),
        (
            "holidays",
            "Holidays (YYYY-MM-DD, comma-separated; none)",
            list(s.ship_by.holidays.iter().map(ToString::to_string).collect()),
        ),
        ("at-risk-hours", "At risk this many hours before ship-by", s.ship_by.at_risk_hours.to_string()),
        (
            "tracking-delay-minutes",
            "Tracking hold: minutes after the ship date",
            s.tracking_hold.delay_minutes.to_string(),
        ),
        (
            "pickup",
            "Tracking hold: carrier pickup (HH:MM; none)",
            s.tracking_hold.pickup.map_or_else(|| "none".to_owned(), |p| p.format("%H:%M").to_string()),
        ),
        (
            "shipping-refund-limit",
            "Shipping refunds of one order at most (USD; 0: none)",
            format!("{:.2}", s.shipping_refund_limit.value()),
        ),
    ]
}

impl SettingsChange {
    /// One setting as text, by its flag's name (`lead-time-months`, `cutoff`, …): the console's
    /// form fields. An empty value leaves the setting as it is.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ChangeError> {
        if value.trim().is_empty() {
            return Ok(());
        }
        let number = |field: &'static str| value.trim().parse::<u32>().map_err(|e| bad(field, e));
        let flag = |field: &'static str| parse_on_off(value).map_err(|e| bad(field, e));
        match name {
            "download" => self.download = Some(flag("download")?),
            "acknowledgement" => self.acknowledgement = Some(flag("acknowledgement")?),
            "fulfillment-upload" => self.fulfillment_upload = Some(flag("fulfillment upload")?),
            "inventory-upload" => self.inventory_upload = Some(flag("inventory upload")?),
            "backorder-info" => self.backorder_info = Some(flag("backorder information")?),
            "shipping-containers" => self.shipping_containers = Some(flag("shipping containers")?),
            "warehouse" => self.warehouse = Some(value.to_owned()),
            "api-base-url" => self.api_base_url = Some(value.to_owned()),
            "credentials-ref" => self.credentials_ref = Some(value.to_owned()),
            "lead-time-months" => self.lead_time_months = Some(number("lead time months")?),
            "time-zone" => self.time_zone = Some(value.to_owned()),
            "initial-lookback-hours" => self.initial_lookback_hours = Some(number("initial look-back hours")?),
            "dry-run" => self.dry_run = Some(DryRun::parse(value).map_err(|e| bad("dry run", e))?),
            "handling-days" => self.handling_days = Some(number("handling days")?),
            "cutoff" => self.cutoff = Some(calendar::parse_time("cutoff", value).map_err(|e| bad("cutoff", e))?),
            "non-working-days" => {
                self.non_working_days = Some(calendar::parse_weekdays(value).map_err(|e| bad("non-working days", e))?)
            }
            "holidays" => self.holidays = Some(calendar::parse_dates(value).map_err(|e| bad("holidays", e))?),
            "at-risk-hours" => self.at_risk_hours = Some(number("at-risk hours")?),
            "tracking-delay-minutes" => self.tracking_delay_minutes = Some(number("tracking delay")?),
            "pickup" => self.pickup = Some(parse_pickup(value).map_err(|e| bad("pickup", e))?),
            "shipping-refund-limit" => {
                self.shipping_refund_limit =
                    Some(super::requests::Money::parse(value.trim()).map_err(|e| bad("shipping refund limit", e))?)
            }
            _ => return Err(bad("setting", format!("{:?} is not a setting", super::text::escape(name)))),
        }
        Ok(())
    }

    /// Applies the change to `s`, checking every value; on an error `s` is left unchanged.
    /// `endpoints`: where this deployment lets credentials go (an API base URL must be one).
    pub fn apply(self, s: &mut CompanySettings, endpoints: &EndpointPolicy) -> Result<(), ChangeError> {
        let mut n = s.clone();
        let flags = [
            (self.download, &mut n.order_download),
            (self.acknowledgement, &mut n.order_acknowledgement),
            (self.fulfillment_upload, &mut n.fulfillment_upload),
            (self.inventory_upload, &mut n.inventory_upload),
            (self.backorder_info, &mut n.send_backorder_info),
            (self.shipping_containers, &mut n.shipping_containers_for_po),
        ];
        for (v, field) in flags {
            if let Some(v) = v {
                *field = v;
            }
        }
        if let Some(w) = self.warehouse {
            n.warehouse_code = super::settings::warehouse_code(&w).map_err(|e| bad("warehouse", e))?;
        }
        if let Some(u) = self.api_base_url {
            let url = ApiBaseUrl::parse(&u).map_err(|e| bad("API base URL", e))?;
            url.check(endpoints).map_err(|e| bad("API base URL", e))?;
            n.api_base_url = url;
        }
        if let Some(r) = self.credentials_ref {
            n.credentials_ref = CredentialsRef::parse(&r).map_err(|e| bad("credentials reference", e))?;
        }
        if let Some(m) = self.lead_time_months {
            n.backorder_lead_time_months = LeadTimeMonths::new(m).map_err(|e| bad("lead time months", e))?;
        }
        if let Some(tz) = self.time_zone {
            n.time_zone = CompanyTimeZone::parse(&tz).map_err(|e| bad("time zone", e))?;
        }
        if let Some(h) = self.initial_lookback_hours {
            n.initial_lookback_hours = LookbackHours::new(h).map_err(|e| bad("initial look-back hours", e))?;
        }
        if let Some(d) = self.dry_run {
            n.dry_run = d;
        }
        if let Some(l) = self.shipping_refund_limit {
            n.shipping_refund_limit = l;
        }
        let mut rules: ShipByRules = n.ship_by.clone();
        if let Some(v) = self.handling_days {
            rules.handling_days = v;
        }
        if let Some(v) = self.cutoff {
            rules.cutoff = v;
        }
        if let Some(v) = self.non_working_days {
            rules.non_working_weekdays = v;
        }
        if let Some(v) = self.holidays {
            rules.holidays = v;
        }
        if let Some(v) = self.at_risk_hours {
            rules.at_risk_hours = v;
        }
        n.ship_by = rules.checked().map_err(|e| bad("ship-by calendar", e))?;
        let mut hold: TrackingHold = n.tracking_hold.clone();
        if let Some(v) = self.tracking_delay_minutes {
            hold.delay_minutes = v;
        }
        if let Some(v) = self.pickup {
            hold.pickup = v;
        }
        n.tracking_hold = hold.checked().map_err(|e| bad("tracking hold", e))?;
        *s = n;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> CompanySettings {
        CompanySettings::new(
            "W".into(),
            ApiBaseUrl::parse("test").unwrap_or_else(|e| panic!("{e}")),
            CredentialsRef::parse("acme").unwrap_or_else(|e| panic!("{e}")),
        )
    }

    #[test]
    fn form_text_and_flags_meet_the_same_checks_and_a_refusal_changes_nothing() {
        let policy = EndpointPolicy { allowed_hosts: Vec::new(), allow_loopback: false };
        let mut change = SettingsChange::default();
        for (k, v) in [
            ("download", "on"),
            ("handling-days", "2"),
            ("cutoff", "15:30"),
            ("holidays", "2026-12-25"),
            ("pickup", "none"),
        ] {
            change.set(k, v).unwrap_or_else(|e| panic!("{k}: {e}"));
        }
        change.set("lead-time-months", "").unwrap_or_else(|e| panic!("{e}"));
        let mut s = settings();
        change.apply(&mut s, &policy).unwrap_or_else(|e| panic!("{e}"));
        assert!(s.order_download);
        assert_eq!((s.ship_by.handling_days, s.ship_by.holidays.len(), s.tracking_hold.pickup), (2, 1, None));
        assert_eq!(s.backorder_lead_time_months.get(), 1, "empty: left as it was");

        for (k, v) in [
            ("download", "maybe"),
            ("cutoff", "25:00"),
            ("holidays", "2026-02-30"),
            ("nonsense", "1"),
            ("handling-days", "-1"),
        ] {
            assert!(SettingsChange::default().set(k, v).is_err(), "{k}={v}");
        }
        let before = s.clone();
        let refused = [
            SettingsChange { handling_days: Some(31), download: Some(false), ..Default::default() },
            SettingsChange { lead_time_months: Some(0), ..Default::default() },
            SettingsChange { api_base_url: Some("http://127.0.0.1:9/".into()), ..Default::default() },
            SettingsChange { warehouse: Some("\u{1b}[2J".into()), ..Default::default() },
            SettingsChange { tracking_delay_minutes: Some(calendar::MAX_DELAY_MINUTES + 1), ..Default::default() },
        ];
        for c in refused {
            assert!(c.clone().apply(&mut s, &policy).is_err(), "{c:?}");
            assert_eq!(s, before, "a refused change leaves every setting as it was");
        }
    }

    #[test]
    fn a_shipping_refund_limit_that_is_not_an_amount_is_refused_naming_the_setting() {
        for bad in ["-1", "1e3", "12.345", "ten", "99999999"] {
            let e = SettingsChange::default().set("shipping-refund-limit", bad).err();
            assert_eq!(e.map(|e| e.field), Some("shipping refund limit"), "{bad}");
        }
    }

    #[test]
    fn the_forms_values_read_back_to_the_same_settings() {
        let policy = EndpointPolicy { allowed_hosts: Vec::new(), allow_loopback: false };
        let mut s = settings();
        let mut change = SettingsChange::default();
        for (k, v) in [
            ("download", "on"),
            ("backorder-info", "on"),
            ("dry-run", "upload,refund"),
            ("cutoff", "15:30"),
            ("non-working-days", "fri,sat,sun"),
            ("holidays", "2026-12-25,2027-01-01"),
            ("pickup", "16:45"),
            ("tracking-delay-minutes", "30"),
            ("time-zone", "America/Denver"),
            ("shipping-refund-limit", "35.5"),
        ] {
            change.set(k, v).unwrap_or_else(|e| panic!("{k}: {e}"));
        }
        change.apply(&mut s, &policy).unwrap_or_else(|e| panic!("{e}"));
        for start in [settings(), s] {
            let values = form_values(&start);
            assert_eq!(values.len(), 21, "every setting of the form");
            let mut again = SettingsChange::default();
            for (k, _, v) in &values {
                again.set(k, v).unwrap_or_else(|e| panic!("{k}={v}: {e}"));
            }
            let mut read_back = start.clone();
            again.apply(&mut read_back, &policy).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(read_back, start, "{values:?}");
        }
    }
}
