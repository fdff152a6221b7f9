//! A company's working calendar and the ship-by rule: when an order must have left
//! the warehouse, and whether it is at risk of missing that or already late. Pure functions of
//! the rules, the company's time zone and the instants given; the rules are in docs/decisions.md
//! ("Ship-by watchdog").
//!
//! - An order placed before the cut-off (as an instant) on a working day counts from that day;
//!   placed at or after the cut-off, or on a non-working day, from the next working day. Its ship-by instant is the
//!   cut-off time of the working day `handling_days` after that first day (0: the same day).
//! - Working days are the days that are neither a non-working weekday (Saturday and Sunday by
//!   default) nor a listed holiday, in the company's zone.
//! - A local time that does not exist (the spring-forward gap) is the first instant after the gap;
//!   one that occurs twice (the fall-back fold) is its earlier instant.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Handling time, cut-off and non-working days of a company (its settings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ShipByRules {
    /// Working days the warehouse has after the first day (0: ship the same day), 0-30.
    pub handling_days: u32,
    /// The daily cut-off in the company's zone: orders placed at or after it count from the
    /// next working day, and a ship-by instant is this time of its day.
    pub cutoff: NaiveTime,
    /// Weekdays the warehouse does not ship.
    pub non_working_weekdays: Vec<Weekday>,
    /// Dates the warehouse does not ship (in the company's zone).
    pub holidays: BTreeSet<NaiveDate>,
    /// How long before its ship-by instant an order still to ship is at risk, in hours (1-168).
    pub at_risk_hours: u32,
}

pub const MAX_HANDLING_DAYS: u32 = 30;
pub const MAX_AT_RISK_HOURS: u32 = 168;
/// Holidays a company may list (a few years' worth).
pub const MAX_HOLIDAYS: usize = 200;

impl Default for ShipByRules {
    /// One working day of handling, a 14:00 cut-off, weekends off, no holidays, at risk 4 hours
    /// before the ship-by instant.
    fn default() -> Self {
        Self {
            handling_days: 1,
            cutoff: NaiveTime::from_hms_opt(14, 0, 0).unwrap_or(NaiveTime::MIN),
            non_working_weekdays: vec![Weekday::Sat, Weekday::Sun],
            holidays: BTreeSet::new(),
            at_risk_hours: 4,
        }
    }
}

/// Why rules were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidRules {
    pub field: &'static str,
    pub reason: String,
}

impl ShipByRules {
    /// The rules, checked: bounds, at least one working weekday, a bounded holiday list.
    pub fn checked(self) -> Result<Self, InvalidRules> {
        let bad = |field, reason: String| Err(InvalidRules { field, reason });
        if self.handling_days > MAX_HANDLING_DAYS {
            return bad("handling days", format!("{} is more than {MAX_HANDLING_DAYS}", self.handling_days));
        }
        if !(1..=MAX_AT_RISK_HOURS).contains(&self.at_risk_hours) {
            return bad("at-risk hours", format!("{} is outside 1..={MAX_AT_RISK_HOURS}", self.at_risk_hours));
        }
        let mut days = self.non_working_weekdays.clone();
        days.sort_by_key(Weekday::num_days_from_monday);
        days.dedup();
        if days.len() >= 7 {
            return bad("non-working days", "every weekday is non-working: nothing could ever ship".into());
        }
        if self.holidays.len() > MAX_HOLIDAYS {
            return bad("holidays", format!("{} listed, at most {MAX_HOLIDAYS}", self.holidays.len()));
        }
        Ok(Self { non_working_weekdays: days, ..self })
    }

    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        !self.non_working_weekdays.contains(&d.weekday()) && !self.holidays.contains(&d)
    }

    /// The first working day on or after `d` (a week of weekdays always holds one; holidays are
    /// bounded, so the search is too).
    fn working_day_from(&self, d: NaiveDate) -> NaiveDate {
        let mut day = d;
        for _ in 0..(7 + MAX_HOLIDAYS) {
            if self.is_working_day(day) {
                return day;
            }
            day = day.succ_opt().unwrap_or(day);
        }
        day
    }

    /// When an order placed at `placed` must ship, on the company's calendar in `zone`.
    pub fn ship_by(&self, placed: DateTime<Utc>, zone: Tz) -> DateTime<Utc> {
        let local = placed.with_timezone(&zone);
        let date = local.date_naive();
        // Compared as instants: in a fall-back fold, 01:15 of the second pass is after a 01:30
        // cut-off of the first.
        let first = if self.is_working_day(date) && placed < local_instant(zone, date, self.cutoff) {
            date
        } else {
            self.working_day_from(date.succ_opt().unwrap_or(date))
        };
        let mut day = first;
        for _ in 0..self.handling_days {
            day = self.working_day_from(day.succ_opt().unwrap_or(day));
        }
        local_instant(zone, day, self.cutoff)
    }

    pub fn at_risk_before(&self) -> Duration {
        Duration::hours(i64::from(self.at_risk_hours))
    }
}

/// When recorded shipments may be confirmed to Overstock: a delay after the ship date
/// and/or the carrier's daily pickup. Off by default: sent within a minute, as before.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrackingHold {
    /// Minutes after the package's ship date before its tracking is sent (0: none), 0-10080.
    pub delay_minutes: u32,
    /// The carrier's daily pickup, in the company's zone, on working days: a package recorded
    /// before a pickup is sent at it, one recorded at or after it at the next one.
    pub pickup: Option<NaiveTime>,
}

pub const MAX_DELAY_MINUTES: u32 = 7 * 24 * 60;

impl TrackingHold {
    pub fn checked(self) -> Result<Self, InvalidRules> {
        if self.delay_minutes > MAX_DELAY_MINUTES {
            return Err(InvalidRules {
                field: "tracking delay",
                reason: format!("{} minutes is more than a week ({MAX_DELAY_MINUTES})", self.delay_minutes),
            });
        }
        Ok(self)
    }

    pub fn is_off(&self) -> bool {
        self.delay_minutes == 0 && self.pickup.is_none()
    }

    /// When a package shipped at `ship_date` and recorded at `recorded` may be sent: the later
    /// of the delay's end and the first pickup after `recorded` (working days of `rules`, in
    /// `zone`); `None` when that is not after `recorded` (send at once).
    pub fn release_at(
        &self,
        rules: &ShipByRules,
        zone: Tz,
        ship_date: DateTime<Utc>,
        recorded: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let delay = (self.delay_minutes > 0).then(|| ship_date + Duration::minutes(i64::from(self.delay_minutes)));
        let pickup = self.pickup.map(|p| next_pickup(rules, zone, p, recorded));
        delay.into_iter().chain(pickup).max().filter(|t| *t > recorded)
    }
}

/// The first pickup strictly after `from`: `pickup` on a working day (the truck at the door at
/// the very instant of recording counts as gone).
fn next_pickup(rules: &ShipByRules, zone: Tz, pickup: NaiveTime, from: DateTime<Utc>) -> DateTime<Utc> {
    let mut day = from.with_timezone(&zone).date_naive();
    for _ in 0..(7 + MAX_HOLIDAYS + 1) {
        if rules.is_working_day(day) {
            let at = local_instant(zone, day, pickup);
            if at > from {
                return at;
            }
        }
        day = day.succ_opt().unwrap_or(day);
    }
    from
}

/// `time` on `date` in `zone`: in a spring-forward gap, the first instant after it; in a
/// fall-back fold, the earlier of the two.
pub fn local_instant(zone: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let naive = date.and_time(time);
    match zone.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
        chrono::LocalResult::Ambiguous(early, _) => early.with_timezone(&Utc),
        chrono::LocalResult::None => {
            // Gaps are at most a few hours: the first local minute after `naive` that exists.
            (1..=24 * 60)
                .filter_map(|m| zone.from_local_datetime(&(naive + Duration::minutes(m))).earliest())
                .map(|t| t.with_timezone(&Utc))
                .next()
                .unwrap_or_else(|| Utc.from_utc_datetime(&naive))
        }
    }
}

/// Where an order with lines still to ship stands against its ship-by instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Watch {
    /// More than the at-risk time left.
    OnTime,
    /// Within the at-risk time of its ship-by instant, not past it.
    AtRisk { ship_by: DateTime<Utc> },
    /// Past its ship-by instant.
    Late { ship_by: DateTime<Utc> },
}

/// The rule: late after `ship_by`, at risk from `at_risk_before` before it.
pub fn watch(ship_by: DateTime<Utc>, at_risk_before: Duration, now: DateTime<Utc>) -> Watch {
    if now > ship_by {
        Watch::Late { ship_by }
    } else if now >= ship_by - at_risk_before {
        Watch::AtRisk { ship_by }
    } else {
        Watch::OnTime
    }
}

/// Weekday names as an operator types them (`sat`, `Sunday`), comma-separated; `none` for an
/// empty list.
pub fn parse_weekdays(s: &str) -> Result<Vec<Weekday>, InvalidRules> {
    if s.trim().eq_ignore_ascii_case("none") {
        return Ok(Vec::new());
    }
    s.split(',')
        .map(|w| {
            w.trim().parse::<Weekday>().map_err(|_| InvalidRules {
                field: "non-working days",
                reason: format!("{:?} is not a weekday (mon, tue, … sun)", super::text::escape(w.trim())),
            })
        })
        .collect()
}

/// Dates as `YYYY-MM-DD`, comma-separated; `none` for an empty list.
pub fn parse_dates(s: &str) -> Result<BTreeSet<NaiveDate>, InvalidRules> {
    if s.trim().eq_ignore_ascii_case("none") {
        return Ok(BTreeSet::new());
    }
    s.split(',')
        .map(|d| {
            NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").map_err(|_| InvalidRules {
                field: "holidays",
                reason: format!("{:?} is not a date (YYYY-MM-DD)", super::text::escape(d.trim())),
            })
        })
        .collect()
}

/// A cut-off or pickup time as `HH:MM` (24 h).
pub fn parse_time(field: &'static str, s: &str) -> Result<NaiveTime, InvalidRules> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M").map_err(|_| InvalidRules {
        field,
        reason: format!("{:?} is not a time (HH:MM, 24 h)", super::text::escape(s.trim())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::America::Denver;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_else(|e| panic!("{e}"))
    }

    fn rules(handling: u32, cutoff: &str) -> ShipByRules {
        ShipByRules {
            handling_days: handling,
            cutoff: parse_time("cutoff", cutoff).unwrap_or_else(|e| panic!("{e}")),
            ..ShipByRules::default()
        }
    }

    #[test]
    fn before_the_cutoff_counts_from_today_at_or_after_it_from_the_next_working_day() {
        let r = rules(1, "14:00");
        // Tuesday 2026-12-01 in Denver (UTC-7).
        assert_eq!(r.ship_by(at("2026-12-01T13:59:59-07:00"), Denver), at("2026-12-02T14:00:00-07:00"));
        // Exactly at the cut-off: the next working day counts as the first.
        assert_eq!(r.ship_by(at("2026-12-01T14:00:00-07:00"), Denver), at("2026-12-03T14:00:00-07:00"));
        assert_eq!(r.ship_by(at("2026-12-01T23:30:00-07:00"), Denver), at("2026-12-03T14:00:00-07:00"));
        // Handling 0: the same day's cut-off.
        assert_eq!(rules(0, "14:00").ship_by(at("2026-12-01T09:00:00-07:00"), Denver), at("2026-12-01T14:00:00-07:00"));
    }

    #[test]
    fn weekends_and_holidays_are_skipped_on_both_ends() {
        let mut r = rules(2, "14:00");
        // Friday after the cut-off: Monday is the first day, ship by Wednesday.
        assert_eq!(r.ship_by(at("2026-12-04T15:00:00-07:00"), Denver), at("2026-12-09T14:00:00-07:00"));
        // Saturday morning: the same.
        assert_eq!(r.ship_by(at("2026-12-05T08:00:00-07:00"), Denver), at("2026-12-09T14:00:00-07:00"));
        // Christmas on a Friday and the Monday after listed: Thursday 24th before the cut-off
        // counts from the 24th; two working days later (the 25th and 28th are holidays, the 26th
        // and 27th a weekend) is Wednesday 30th.
        r.holidays = [day("2026-12-25"), day("2026-12-28")].into();
        assert_eq!(r.ship_by(at("2026-12-24T10:00:00-07:00"), Denver), at("2026-12-30T14:00:00-07:00"));
        // Placed on a holiday: the next working day is the first.
        assert_eq!(r.ship_by(at("2026-12-25T10:00:00-07:00"), Denver), at("2026-12-31T14:00:00-07:00"));
        // A warehouse that works Saturdays.
        r.non_working_weekdays = vec![Weekday::Sun];
        r.holidays.clear();
        assert_eq!(r.ship_by(at("2026-12-04T15:00:00-07:00"), Denver), at("2026-12-08T14:00:00-07:00"));
    }

    #[test]
    fn the_cutoff_is_local_time_across_daylight_saving_changes() {
        let r = rules(1, "14:00");
        // Friday 2027-03-12 (MST, UTC-7) before the cut-off: Monday 15th, after spring forward
        // (MDT, UTC-6): 14:00 local is 20:00 UTC, not 21:00.
        assert_eq!(r.ship_by(at("2027-03-12T10:00:00-07:00"), Denver), at("2027-03-15T14:00:00-06:00"));
        // A cut-off inside the spring-forward gap (02:30 on 2027-03-14 does not exist in Denver):
        // the first instant after it, 03:00 MDT.
        let mut gap = rules(0, "02:30");
        gap.non_working_weekdays = vec![];
        assert_eq!(gap.ship_by(at("2027-03-14T01:00:00-07:00"), Denver), at("2027-03-14T03:00:00-06:00"));
        // A cut-off inside the fall-back fold (01:30 on 2026-11-01 happens twice): the earlier.
        let mut fold = rules(0, "01:30");
        fold.non_working_weekdays = vec![];
        assert_eq!(fold.ship_by(at("2026-11-01T00:10:00-06:00"), Denver), at("2026-11-01T01:30:00-06:00"));
        // Placed at the second 01:15 (MST, after the fold): already past that 01:30 cut-off as an
        // instant, so it counts from the next day (never a ship-by before the order existed).
        assert_eq!(fold.ship_by(at("2026-11-01T01:15:00-07:00"), Denver), at("2026-11-02T01:30:00-07:00"));
    }

    #[test]
    fn at_risk_then_late() {
        let ship_by = at("2026-12-02T14:00:00-07:00");
        let risk = Duration::hours(4);
        assert_eq!(watch(ship_by, risk, at("2026-12-02T09:59:59-07:00")), Watch::OnTime);
        assert_eq!(watch(ship_by, risk, at("2026-12-02T10:00:00-07:00")), Watch::AtRisk { ship_by });
        assert_eq!(watch(ship_by, risk, ship_by), Watch::AtRisk { ship_by });
        assert_eq!(watch(ship_by, risk, ship_by + Duration::seconds(1)), Watch::Late { ship_by });
    }

    #[test]
    fn a_hold_waits_for_the_delay_or_the_next_pickup_on_a_working_day() {
        let rules = ShipByRules::default();
        let pickup = |hhmm: &str| TrackingHold { delay_minutes: 0, pickup: parse_time("pickup", hhmm).ok() };
        let shipped = at("2026-12-01T09:00:00-07:00");
        // Off: sent at once.
        assert_eq!(TrackingHold::default().release_at(&rules, Denver, shipped, shipped), None);
        // Recorded before today's 16:00 pickup: at it; at or after it: tomorrow's.
        let p = pickup("16:00");
        assert_eq!(p.release_at(&rules, Denver, shipped, shipped), Some(at("2026-12-01T16:00:00-07:00")));
        let four = at("2026-12-01T16:00:00-07:00");
        assert_eq!(p.release_at(&rules, Denver, four, four), Some(at("2026-12-02T16:00:00-07:00")));
        // Friday after the pickup: Monday's (weekends have no pickup).
        let friday = at("2026-12-04T17:00:00-07:00");
        assert_eq!(p.release_at(&rules, Denver, friday, friday), Some(at("2026-12-07T16:00:00-07:00")));
        // A delay from the ship date; with a pickup too, the later of the two.
        let delay = TrackingHold { delay_minutes: 120, pickup: None };
        assert_eq!(delay.release_at(&rules, Denver, shipped, shipped), Some(at("2026-12-01T11:00:00-07:00")));
        let both = TrackingHold { delay_minutes: 120, pickup: parse_time("pickup", "10:00").ok() };
        assert_eq!(both.release_at(&rules, Denver, shipped, shipped), Some(at("2026-12-01T11:00:00-07:00")));
        // A parcel that shipped long ago and is recorded late: the delay is already over.
        let old = at("2026-11-30T08:00:00-07:00");
        assert_eq!(delay.release_at(&rules, Denver, old, shipped), None);
        assert!(TrackingHold { delay_minutes: MAX_DELAY_MINUTES + 1, pickup: None }.checked().is_err());
    }

    #[test]
    fn rules_are_checked_and_typed_values_parsed() {
        assert!(ShipByRules { handling_days: 31, ..ShipByRules::default() }.checked().is_err());
        assert!(ShipByRules { at_risk_hours: 0, ..ShipByRules::default() }.checked().is_err());
        let all =
            vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun];
        assert!(ShipByRules { non_working_weekdays: all, ..ShipByRules::default() }.checked().is_err());
        let dup = ShipByRules {
            non_working_weekdays: vec![Weekday::Sun, Weekday::Sat, Weekday::Sun],
            ..ShipByRules::default()
        };
        assert_eq!(dup.checked().map(|r| r.non_working_weekdays).ok(), Some(vec![Weekday::Sat, Weekday::Sun]));
        assert_eq!(parse_weekdays("sat, Sunday").ok(), Some(vec![Weekday::Sat, Weekday::Sun]));
        assert_eq!(parse_weekdays("none").ok(), Some(vec![]));
        assert!(parse_weekdays("sat,\u{1b}[2J").is_err_and(|e| !e.reason.contains('\u{1b}')));
        assert_eq!(parse_dates("2026-12-25,2027-01-01").map(|d| d.len()).ok(), Some(2));
        assert!(parse_dates("2026-02-30").is_err());
        assert!(parse_time("cutoff", "25:00").is_err());
        assert_eq!(parse_time("cutoff", "09:30").ok(), NaiveTime::from_hms_opt(9, 30, 0));
    }
}
