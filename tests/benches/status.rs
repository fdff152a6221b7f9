//! The status sync at size (not a timed test): 5,000 open orders over 30 days, three of them
//! cancelled on Overstock, one status pass at 60 windows a run, then two more passes. Prints the
//! GETs against the orders (one per covering window, not one per order), the runs the pass takes,
//! the later passes' longer windows, and the wall time of the first pass's runs on moto. The
//! integration test `a_status_pass_costs_one_get_per_window_whatever_the_orders_in_it` runs the
//! same scenario small. Run with `scripts/bench.sh status`.

use tests::Goals;
use tests::status_pass::sync_over;

#[tokio::main]
async fn main() {
    let (orders, days, per_run) = (5_000, 30, 60);
    let f = sync_over(orders, days, per_run).await;
    println!(
        "status sync, {orders} open orders over {days} days: {} covering windows, first pass {} runs ({:?} windows a run), \
         {} GETs, {} orders checked, {:.1} s for its runs; later passes {:?} windows ({:?} GETs)",
        f.covering_windows,
        f.run_windows.len(),
        f.run_windows,
        f.gets,
        f.checked,
        f.first_pass_seconds,
        f.later_windows,
        f.later_gets,
    );
    let goals = Goals::default();
    goals.check(
        &format!(
            "GETs: one per covering window ({} for {}), at most one per hour of orders ({})",
            f.gets,
            f.covering_windows,
            days * 24
        ),
        f.gets == f.covering_windows && f.covering_windows <= days as usize * 24,
    );
    goals.check(
        &format!("every open order checked in {} runs: {} of {orders}", f.run_windows.len(), f.checked),
        f.checked >= orders - 3 && f.run_windows.iter().all(|n| *n <= per_run),
    );
    goals.check(
        &format!("each of the 3 cancellations found once: {:?}", f.found),
        f.found.len() == 3 && f.found.values().all(|n| *n == 1) && f.victims_cancelled_here,
    );
    goals.check(
        &format!(
            "later passes: longer windows, fewer GETs, none split: {:?} after {}",
            f.later_windows, f.covering_windows
        ),
        f.later_windows[0] < f.covering_windows
            && f.later_windows[1] < f.later_windows[0]
            && f.later_gets == f.later_windows,
    );
    goals.finish();
}
