//! The status sync over many open orders, at a size given by the caller: the integration test
//! runs it small (seconds, in the test command), the `status` bench at 5,000 orders over 30
//! days. One scenario, so the figure the bench prints is the one the test proves the shape of.

use crate::{World, of};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use shared::domain::FixedClock;
use shared::domain::order::LocalStatus;
use shared::domain::settings::LookbackHours;
use shared::domain::window::covering_windows;
use std::collections::BTreeMap;

/// Overstock cancels `order` (or one line of it) on its side, as the customer would.
pub async fn cancel_on_overstock(w: &World, id: &str, order: &str, line: Option<u32>) {
    let query = line.map(|l| format!("?line={l}")).unwrap_or_default();
    let r = reqwest::Client::new()
        .post(format!("{}/admin/accounts/{id}/orders/{order}/cancel{query}", w.sandbox.base))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(r.status().is_success(), "{}", r.status());
}

/// What one status sync over `orders` open orders cost and found.
#[derive(Debug)]
pub struct SyncFigures {
    pub orders: usize,
    /// Hourly creation windows that cover the orders (what the first pass reads).
    pub covering_windows: usize,
    pub per_run: usize,
    /// The first pass: windows read in each run, GETs (the download's own aside), orders checked.
    pub run_windows: Vec<usize>,
    pub gets: usize,
    pub checked: usize,
    /// The three orders cancelled on Overstock, with how many times each was found.
    pub victims: Vec<String>,
    pub found: BTreeMap<String, usize>,
    pub victims_cancelled_here: bool,
    /// The two passes after it: windows read and GETs of each.
    pub later_windows: Vec<usize>,
    pub later_gets: Vec<usize>,
    /// Wall time of the first pass's runs, seconds.
    pub first_pass_seconds: f64,
}

/// `orders` open orders created evenly over `days` days, downloaded; three of them (near the
/// start, the middle, the end) then cancelled on Overstock; a status pass reading `per_run`
/// windows a run (one run a minute, on a fixed clock), then two more passes.
pub async fn sync_over(orders: usize, days: i64, per_run: usize) -> SyncFigures {
    let mut w = World::new().await;
    w.config.status_sync_windows = per_run;
    let hours = u32::try_from(days * 24).unwrap_or(720);
    let id = w
        .company("current", |s| {
            s.order_acknowledgement = false;
            s.initial_lookback_hours = LookbackHours::new(hours).unwrap_or_else(|e| panic!("{e}"));
        })
        .await;
    w.standard_mappings(&id).await;
    let now = Utc::now();
    let generated = w
        .sandbox
        .generate(
            id.as_str(),
            orders,
            now - Duration::days(days) + Duration::hours(2),
            now - Duration::hours(2),
            json!({"unknown_codes": 0}),
        )
        .await;
    assert_eq!(generated.len(), orders);
    let first = w.download("all").await;
    assert_eq!(of(&first, &id).new, orders, "{:?}", of(&first, &id).errors);

    let held = w.sandbox.orders(id.as_str()).await;
    let created: Vec<DateTime<Utc>> = held
        .iter()
        .filter_map(|o| o["created"].as_str())
        .filter_map(|c| DateTime::parse_from_rfc3339(c).ok())
        .map(|c| c.with_timezone(&Utc))
        .collect();
    let covering = covering_windows(&created, Duration::hours(1)).len();
    let mut numbers: Vec<&str> = held.iter().filter_map(|o| o["number"].as_str()).collect();
    numbers.sort_unstable();
    let victims: Vec<String> =
        [numbers[orders / 500], numbers[orders / 2], numbers[orders - 1 - orders / 500]].map(str::to_owned).into();
    for v in &victims {
        cancel_on_overstock(&w, id.as_str(), v, None).await;
    }

    let tick = |minutes: i64| {
        let t = now + Duration::minutes(minutes);
        (FixedClock(t), t + Duration::minutes(5))
    };
    // The first pass starts one period (15 minutes) after the company's first run.
    let started = std::time::Instant::now();
    let runs = covering.div_ceil(per_run);
    let (mut run_windows, mut gets, mut checked, mut found) = (Vec::new(), 0, 0, BTreeMap::new());
    for r in 0..runs {
        let (clock, deadline) = tick(16 + r as i64);
        let run = w.download_with(&format!("sync-{r}"), &clock, deadline).await;
        let s = of(&run, &id);
        run_windows.push(s.status_windows);
        gets += s.fetches - s.windows;
        checked += s.status_checked;
        for c in &s.cancelled_by_overstock {
            *found.entry(c.order_number.clone()).or_insert(0) += 1;
        }
    }
    let first_pass_seconds = started.elapsed().as_secs_f64();
    let mut victims_cancelled_here = true;
    for v in &victims {
        victims_cancelled_here &= w.order(&id, v).await.local_status == LocalStatus::Cancelled;
    }
    let mut minute = 16 + 15 + runs as i64;
    let (mut later_windows, mut later_gets) = (Vec::new(), Vec::new());
    for pass in 0..2 {
        let (mut windows, mut pass_gets) = (0, 0);
        loop {
            let (clock, deadline) = tick(minute);
            minute += 1;
            let run = w.download_with(&format!("pass-{pass}-{minute}"), &clock, deadline).await;
            let s = of(&run, &id);
            (windows, pass_gets) = (windows + s.status_windows, pass_gets + s.fetches - s.windows);
            if s.status_windows < per_run {
                break;
            }
        }
        later_windows.push(windows);
        later_gets.push(pass_gets);
        minute += 15;
    }
    SyncFigures {
        orders,
        covering_windows: covering,
        per_run,
        run_windows,
        gets,
        checked,
        victims,
        found,
        victims_cancelled_here,
        later_windows,
        later_gets,
        first_pass_seconds,
    }
}
