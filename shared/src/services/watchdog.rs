//! The ship-by watchdog's operations outside the download run (which flags orders every tick):
//! what an operator lists (`overstockctl orders at-risk`) and the ship-by instants computed
//! again after the company's calendar changed. The CLI and the console share these.

use crate::domain::OrderNumber;
use crate::domain::calendar;
use crate::domain::order::{Order, WatchFlag};
use crate::domain::settings::Company;
use crate::store::{OrderStore, StoreError, SyncStateStore};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

/// An order still to ship, at risk or late, as listed for the operator.
#[derive(Debug, Clone, Serialize)]
pub struct AtRisk {
    pub order_number: OrderNumber,
    pub ship_by: DateTime<Utc>,
    pub state: WatchFlag,
    /// Time left before the ship-by instant (negative: late by that much), in minutes.
    pub minutes_left: i64,
    pub lines_to_ship: Vec<String>,
}

/// The company's orders still to ship within its at-risk time of their ship-by instant, or past
/// it: soonest first, with the time left (from the `orders-ship-by` index, then each order).
pub async fn at_risk<S: OrderStore>(
    store: &S,
    company: &Company,
    now: DateTime<Utc>,
) -> Result<Vec<AtRisk>, StoreError> {
    let risk = company.settings.ship_by.at_risk_before();
    let watched = store.list_watched(&company.company_id, now + risk).await?;
    let numbers: Vec<OrderNumber> = watched.due.iter().map(|w| w.order_number.clone()).collect();
    let orders = store.get_orders(&company.company_id, &numbers).await?;
    let mut out = Vec::new();
    for n in &numbers {
        // Read again: an order shipped since the index was read is no longer listed.
        let Some(o) = orders.get(n) else { continue };
        let Some(ship_by) = o.watched_ship_by() else { continue };
        let Some(state) = WatchFlag::of(calendar::watch(ship_by, risk, now)) else { continue };
        out.push(AtRisk {
            order_number: n.clone(),
            ship_by,
            state,
            minutes_left: (ship_by - now).num_minutes(),
            lines_to_ship: o.lines_to_ship().into_iter().map(str::to_owned).collect(),
        });
    }
    out.sort_by(|a, b| (a.ship_by, &a.order_number).cmp(&(b.ship_by, &b.order_number)));
    Ok(out)
}

/// After the company's calendar changed (handling time, cut-off, non-working days, holidays):
/// each open order's ship-by instant computed again (Overstock's own date still wins), written
/// version-checked, and the download job poked so that its next run's watchdog looks at once.
/// Returns the orders whose instant moved and those changed meanwhile by another writer (their
/// next write keeps the instant they had; the command can be run again).
pub async fn recompute_ship_by<S: OrderStore + SyncStateStore>(
    store: &S,
    company: &Company,
    now: DateTime<Utc>,
) -> Result<(usize, Vec<OrderNumber>), StoreError> {
    let rules = company.settings.ship_by.clone();
    let zone = company.settings.time_zone.0;
    let mut changed: Vec<Order> = Vec::new();
    for mut o in store.list_orders(&company.company_id, usize::MAX).await? {
        if o.is_open() && o.assign_ship_by(&rules, zone) {
            // The flag was the old instant's: the next run's watchdog sets it again if it applies.
            o.watch = None;
            o.updated_at = now;
            changed.push(o);
        }
    }
    let count = changed.len();
    let lost = store.replace_orders(&changed).await?;
    store.poke(&company.company_id, crate::services::order_download::JOB).await?;
    Ok((count - lost.len(), lost))
}

/// How long before `ship_by` an operator would read "3 h 20 min left" or "late by 40 min".
pub fn time_left(minutes_left: i64) -> String {
    let text = |m: i64| {
        let d = Duration::minutes(m);
        match (d.num_days(), d.num_hours() % 24, m % 60) {
            (0, 0, m) => format!("{m} min"),
            (0, h, m) => format!("{h} h {m} min"),
            (days, h, _) => format!("{days} d {h} h"),
        }
    };
    if minutes_left >= 0 { format!("{} left", text(minutes_left)) } else { format!("late by {}", text(-minutes_left)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_left_reads_as_an_operator_says_it() {
        assert_eq!(time_left(0), "0 min left");
        assert_eq!(time_left(200), "3 h 20 min left");
        assert_eq!(time_left(-40), "late by 40 min");
        assert_eq!(time_left(60 * 24 * 2 + 90), "2 d 1 h left");
    }
}
