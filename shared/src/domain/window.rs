//! Query windows for `GET /salesorders` and their rendering in Overstock's local time.

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::America::Denver;

/// A half-open interval `[start, end)` of `sofsCreatedDate`, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Window {
    pub fn len(&self) -> Duration {
        self.end - self.start
    }

    /// Splits a window in two halves on a whole second, or `None` if it is too short to split
    /// (the query parameters have a resolution of one second).
    pub fn split(&self) -> Option<(Window, Window)> {
        let half = self.len().num_seconds() / 2;
        if half < 1 {
            return None;
        }
        let mid = self.start + Duration::seconds(half);
        Some((Window { start: self.start, end: mid }, Window { start: mid, end: self.end }))
    }
}

/// Truncates to the whole second (query parameters carry no fraction).
pub fn floor_second(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

/// The one-second window holding an order's creation time: the API has no "get one order", so
/// this is how a job reads an order's current state again (acknowledgement and shipment
/// reconciliation).
pub fn creation_second(created: DateTime<Utc>) -> Window {
    let start = floor_second(created);
    Window { start, end: start + Duration::seconds(1) }
}

/// The pieces of `window` left once the given whole seconds are taken out, in order. The
/// seconds are those whose answer could not be read (recorded apart and read again on a
/// back-off of their own): a later read of a window that holds one never trips on it again.
pub fn without_seconds(window: Window, seconds: &[DateTime<Utc>]) -> Vec<Window> {
    let mut inside: Vec<DateTime<Utc>> =
        seconds.iter().map(|s| floor_second(*s)).filter(|s| window.start <= *s && *s < window.end).collect();
    inside.sort_unstable();
    inside.dedup();
    let mut out = Vec::new();
    let mut start = window.start;
    for s in inside {
        if start < s {
            out.push(Window { start, end: s });
        }
        start = start.max(s + Duration::seconds(1));
    }
    if start < window.end {
        out.push(Window { start, end: window.end });
    }
    out
}

/// How long after its last read an unreadable second is read again: at the next run after the
/// first sighting, then 1, 2, 4 … minutes, at most an hour (a second that stays unreadable
/// costs a few `GET`s an hour, not one a minute).
pub fn reread_backoff(sightings: u32) -> Duration {
    match sightings {
        0 | 1 => Duration::zero(),
        n => Duration::minutes(1i64 << (n - 2).min(6)).min(Duration::hours(1)),
    }
}

/// The fewest windows of at most `max_len` that cover every creation time in `times`: sorted,
/// each window starts at the first time not yet covered (on its whole second) and takes every
/// time before `start + max_len`. Reading orders again (status sync, acknowledgement
/// reconciliation) then costs one `GET` per window, however many orders each holds.
pub fn covering_windows(times: &[DateTime<Utc>], max_len: Duration) -> Vec<Window> {
    let mut sorted: Vec<DateTime<Utc>> = times.to_vec();
    sorted.sort_unstable();
    let max_len = max_len.max(Duration::seconds(1));
    let mut out: Vec<Window> = Vec::new();
    for t in sorted {
        if out.last().is_some_and(|w| t < w.end) {
            continue;
        }
        let start = floor_second(t);
        out.push(Window { start, end: start + max_len });
    }
    out
}

/// [`covering_windows`] with a longer window for older orders: a time before `old_before` takes a
/// window of up to `old_len`, ending at `old_before` at the latest (unless that would be shorter
/// than a young window), any other one of `young_len`. The status sync's pass: old
/// orders are spread thin, so one longer read covers many hours of them.
pub fn covering_windows_by_age(
    times: &[DateTime<Utc>],
    old_before: DateTime<Utc>,
    old_len: Duration,
    young_len: Duration,
) -> Vec<Window> {
    let mut sorted: Vec<DateTime<Utc>> = times.to_vec();
    sorted.sort_unstable();
    let mut out: Vec<Window> = Vec::new();
    for t in sorted {
        if out.last().is_some_and(|w| t < w.end) {
            continue;
        }
        let start = floor_second(t);
        let young_end = start + young_len.max(Duration::seconds(1));
        // A long window stops where young times begin (they are many: long windows there would
        // be split), unless that is shorter than a young window.
        let end = if t < old_before { (start + old_len).min(old_before.max(young_end)) } else { young_end };
        out.push(Window { start, end });
    }
    out
}

/// The old-order window of the next status pass, from how the last pass's long windows read
/// (`None`: it read none). A long window Overstock could not answer whole in one read (its
/// `totalCount` above what came, or an answer too large: the reader split it) halves the width;
/// a pass whose long windows all came whole, none holding more than `grow_below` orders,
/// doubles it; the width stays within `[young_len, max_len]`.
pub fn next_wide_width(
    width: Duration,
    last_pass: Option<(bool, usize)>,
    grow_below: usize,
    young_len: Duration,
    max_len: Duration,
) -> Duration {
    let next = match last_pass {
        Some((true, _)) => width / 2,
        Some((false, most)) if most < grow_below => width * 2,
        _ => width,
    };
    next.clamp(young_len, max_len.max(young_len))
}

/// Where the next download starts: the watermark minus the overlap, or `now - initial_lookback`
/// for a company never downloaded.
pub fn download_start(
    watermark: Option<DateTime<Utc>>,
    overlap: Duration,
    now: DateTime<Utc>,
    initial_lookback: Duration,
) -> DateTime<Utc> {
    floor_second(match watermark {
        Some(w) => w.min(now) - overlap,
        None => now - initial_lookback,
    })
}

/// Consecutive windows of at most `max_len` covering `[from, to)`. Empty when `from >= to`.
pub fn plan_windows(from: DateTime<Utc>, to: DateTime<Utc>, max_len: Duration) -> Vec<Window> {
    let mut out = Vec::new();
    if max_len <= Duration::zero() {
        return out;
    }
    let mut start = floor_second(from);
    let to = floor_second(to);
    while start < to {
        let end = (start + max_len).min(to);
        out.push(Window { start, end });
        start = end;
    }
    out
}

/// The two query parameters for a window, in America/Denver local time without offset.
///
/// Local time repeats for one hour when DST ends. Overstock (and the sandbox) read an ambiguous
/// local time as its earlier instant. A start is then never later than asked (a wider window is
/// harmless: orders are de-duplicated). An end in the repeated hour would be read an hour early
/// and lose orders, so such an end is moved past the repeated hour.
pub fn denver_query_bounds(w: &Window) -> (String, String) {
    (denver_local(w.start).format(FMT).to_string(), denver_local(end_bound(w.end)).format(FMT).to_string())
}

const FMT: &str = "%Y-%m-%dT%H:%M:%S";

fn denver_local(t: DateTime<Utc>) -> NaiveDateTime {
    t.with_timezone(&Denver).naive_local()
}

fn end_bound(end: DateTime<Utc>) -> DateTime<Utc> {
    let local = denver_local(end);
    match Denver.from_local_datetime(&local) {
        LocalResult::Ambiguous(earliest, _) if earliest.with_timezone(&Utc) < end => {
            // Move to the first local time after the fold that is unambiguous.
            let mut t = end;
            while matches!(Denver.from_local_datetime(&denver_local(t)), LocalResult::Ambiguous(..)) {
                t += Duration::minutes(1);
            }
            t
        }
        _ => end,
    }
}

#[cfg(test)]
mod covering_tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_795_000_000 + s, 0).unwrap_or_default()
    }

    #[test]
    fn times_within_an_hour_share_a_window() {
        let w = covering_windows(&[t(3600), t(0), t(10), t(3599), t(7200)], Duration::hours(1));
        assert_eq!(
            w.iter().map(|w| (w.start, w.end)).collect::<Vec<_>>(),
            [(t(0), t(3600)), (t(3600), t(7200)), (t(7200), t(10800))]
        );
        assert!(covering_windows(&[], Duration::hours(1)).is_empty());
    }

    proptest! {
        /// Every time is in exactly one window; no window is longer than asked; windows do not
        /// overlap; each starts on a time it covers (so no window is empty).
        #[test]
        fn every_time_is_covered_once(secs in proptest::collection::vec(0i64..3_000_000, 0..300), len in 1i64..7200) {
            let times: Vec<_> = secs.iter().map(|s| t(*s)).collect();
            let ws = covering_windows(&times, Duration::seconds(len));
            for x in &times {
                prop_assert_eq!(ws.iter().filter(|w| w.start <= *x && *x < w.end).count(), 1);
            }
            for pair in ws.windows(2) {
                prop_assert!(pair[0].end <= pair[1].start);
            }
            for w in &ws {
                prop_assert!(w.len() <= Duration::seconds(len));
                prop_assert!(times.iter().any(|x| floor_second(*x) == w.start));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|d| d.with_timezone(&Utc)).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn plans_hour_windows_up_to_now() {
        let w = plan_windows(utc("2026-11-26T10:00:00Z"), utc("2026-11-26T12:30:15.700Z"), Duration::hours(1));
        assert_eq!(w.len(), 3);
        assert_eq!(w[0], Window { start: utc("2026-11-26T10:00:00Z"), end: utc("2026-11-26T11:00:00Z") });
        assert_eq!(w[2], Window { start: utc("2026-11-26T12:00:00Z"), end: utc("2026-11-26T12:30:15Z") });
        assert!(plan_windows(utc("2026-11-26T10:00:00Z"), utc("2026-11-26T10:00:00Z"), Duration::hours(1)).is_empty());
    }

    #[test]
    fn taking_seconds_out_of_a_window_leaves_the_rest_in_order() {
        let w = Window { start: utc("2026-11-26T10:00:00Z"), end: utc("2026-11-26T11:00:00Z") };
        let pieces = without_seconds(
            w,
            &[
                utc("2026-11-26T10:30:00.700Z"),
                utc("2026-11-26T10:00:00Z"),
                utc("2026-11-26T10:30:00Z"),
                utc("2026-11-26T12:00:00Z"),
                utc("2026-11-26T10:59:59Z"),
            ],
        );
        let got: Vec<_> = pieces.iter().map(|p| (p.start, p.end)).collect();
        assert_eq!(
            got,
            [
                (utc("2026-11-26T10:00:01Z"), utc("2026-11-26T10:30:00Z")),
                (utc("2026-11-26T10:30:01Z"), utc("2026-11-26T10:59:59Z")),
            ]
        );
        assert_eq!(without_seconds(w, &[]), [w]);
        let one = creation_second(w.start);
        assert!(without_seconds(one, &[w.start]).is_empty());
    }

    #[test]
    fn an_unreadable_second_is_read_again_less_and_less_often_up_to_an_hour() {
        let b: Vec<i64> = (1..=10).map(|n| reread_backoff(n).num_minutes()).collect();
        assert_eq!(b, [0, 1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(reread_backoff(u32::MAX), Duration::hours(1));
    }

    #[test]
    fn split_halves_on_seconds_and_stops_at_one_second() {
        let w = Window { start: utc("2026-11-26T10:00:00Z"), end: utc("2026-11-26T11:00:00Z") };
        let Some((a, b)) = w.split() else { panic!("splittable") };
        assert_eq!((a.start, a.end, b.start, b.end), (w.start, utc("2026-11-26T10:30:00Z"), a.end, w.end));
        let one = Window { start: w.start, end: w.start + Duration::seconds(1) };
        assert_eq!(one.split(), None);
    }

    #[test]
    fn start_is_watermark_minus_overlap_or_lookback() {
        let now = utc("2026-11-26T12:00:00.250Z");
        assert_eq!(
            download_start(Some(utc("2026-11-26T11:00:00Z")), Duration::minutes(10), now, Duration::hours(24)),
            utc("2026-11-26T10:50:00Z")
        );
        assert_eq!(download_start(None, Duration::minutes(10), now, Duration::hours(24)), utc("2026-11-25T12:00:00Z"));
    }

    #[test]
    fn bounds_in_denver_time_winter_and_summer() {
        let winter = Window { start: utc("2026-11-26T16:00:00Z"), end: utc("2026-11-26T17:00:00Z") };
        assert_eq!(denver_query_bounds(&winter), ("2026-11-26T09:00:00".into(), "2026-11-26T10:00:00".into()));
        let summer = Window { start: utc("2026-07-01T16:00:00Z"), end: utc("2026-07-01T17:00:00Z") };
        assert_eq!(denver_query_bounds(&summer), ("2026-07-01T10:00:00".into(), "2026-07-01T11:00:00".into()));
    }

    #[test]
    fn end_inside_repeated_hour_moves_past_it() {
        // 2026-11-01: 02:00 MDT becomes 01:00 MST; 01:00-02:00 local happens twice.
        // 07:30Z = 01:30 MDT (first pass): rendered as is.
        let w1 = Window { start: utc("2026-11-01T07:00:00Z"), end: utc("2026-11-01T07:30:00Z") };
        assert_eq!(denver_query_bounds(&w1), ("2026-11-01T01:00:00".into(), "2026-11-01T01:30:00".into()));
        // 08:30Z = 01:30 MST (second pass): reading "01:30" would mean 07:30Z, so the end moves to 02:00 MST.
        let w2 = Window { start: utc("2026-11-01T08:00:00Z"), end: utc("2026-11-01T08:30:00Z") };
        assert_eq!(denver_query_bounds(&w2), ("2026-11-01T01:00:00".into(), "2026-11-01T02:00:00".into()));
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).unwrap_or_default()
    }

    #[test]
    fn old_orders_take_longer_windows_and_young_ones_the_usual() {
        let now = at("2026-12-01T12:00:00Z");
        let old_before = now - Duration::days(1);
        let times = [
            at("2026-11-20T01:00:00Z"),
            at("2026-11-20T20:00:00Z"),
            at("2026-11-21T03:00:00Z"),
            at("2026-11-30T11:30:00Z"),
            at("2026-12-01T09:00:00Z"),
            at("2026-12-01T09:59:59Z"),
            at("2026-12-01T10:00:00Z"),
        ];
        let w = covering_windows_by_age(&times, old_before, Duration::hours(24), Duration::hours(1));
        let starts: Vec<_> = w.iter().map(|w| (w.start, w.end - w.start)).collect();
        assert_eq!(
            starts,
            vec![
                (at("2026-11-20T01:00:00Z"), Duration::hours(24)),
                (at("2026-11-21T03:00:00Z"), Duration::hours(24)),
                (at("2026-11-30T11:30:00Z"), Duration::hours(1)),
                (at("2026-12-01T09:00:00Z"), Duration::hours(1)),
                (at("2026-12-01T10:00:00Z"), Duration::hours(1)),
            ],
            "11-20T20:00 shares the first long window; the last old one stops near the young times"
        );
        for x in times {
            assert_eq!(w.iter().filter(|w| w.start <= x && x < w.end).count(), 1, "{x} covered once");
        }
        assert_eq!(
            covering_windows_by_age(&times, old_before, Duration::hours(1), Duration::hours(1)),
            covering_windows(&times, Duration::hours(1))
        );
    }

    #[test]
    fn the_long_window_halves_after_a_split_and_doubles_after_a_thin_pass() {
        let (h, max) = (Duration::hours(1), Duration::hours(24));
        assert_eq!(next_wide_width(Duration::hours(8), Some((true, 900)), 200, h, max), Duration::hours(4));
        assert_eq!(next_wide_width(Duration::hours(8), Some((false, 12)), 200, h, max), Duration::hours(16));
        assert_eq!(next_wide_width(Duration::hours(16), Some((false, 12)), 200, h, max), max, "never beyond the cap");
        assert_eq!(next_wide_width(h, Some((true, 900)), 200, h, max), h, "never below the usual window");
        assert_eq!(
            next_wide_width(Duration::hours(8), Some((false, 200)), 200, h, max),
            Duration::hours(8),
            "full enough: kept"
        );
        assert_eq!(
            next_wide_width(Duration::hours(8), None, 200, h, max),
            Duration::hours(8),
            "no long window read: kept"
        );
    }
}
