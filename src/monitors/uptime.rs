//! Rollups and uptime: every result is kept for 24 h, then only its 10-minute bucket (checks, up,
//! degraded, in maintenance, latency average and p95) for 90 days. The uptime percentages of
//! 24 h / 7 d / 30 d / 90 d come from the buckets, never from raw rows; checks made during a
//! maintenance window are left out of them (a planned outage is not downtime).

use serde::Serialize;

/// A bucket's length.
pub const BUCKET_MS: i64 = 10 * 60_000;
/// The uptime windows the page shows.
pub const WINDOWS: [(&str, i64); 4] =
    [("24h", 86_400_000), ("7d", 7 * 86_400_000), ("30d", 30 * 86_400_000), ("90d", 90 * 86_400_000)];

/// One check's result, as rollups read it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub ts: i64,
    /// Up or degraded.
    pub up: bool,
    pub degraded: bool,
    pub latency_ms: Option<f64>,
    /// Made during a maintenance window.
    pub maintenance: bool,
}

/// Ten minutes of one monitor's results.
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "MonitorBucket"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "MonitorBucket"))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bucket {
    /// Unix ms, a multiple of [`BUCKET_MS`].
    pub start: i64,
    /// Checks outside maintenance windows (what uptime counts).
    pub checks: u32,
    /// Of those, the ones that found the service up (degraded included).
    pub up: u32,
    pub degraded: u32,
    /// Checks during maintenance (recorded, left out of uptime).
    pub maintenance: u32,
    pub latency_avg: Option<f64>,
    /// Nearest-rank 95th percentile of the latencies.
    pub latency_p95: Option<f64>,
}

/// The bucket `ts` falls in.
pub fn bucket_of(ts: i64) -> i64 {
    ts.div_euclid(BUCKET_MS) * BUCKET_MS
}

/// Rolls `points` (any order) up into their buckets, oldest first.
pub fn rollup(points: &[Point]) -> Vec<Bucket> {
    let mut by: std::collections::BTreeMap<i64, Vec<&Point>> = std::collections::BTreeMap::new();
    for p in points {
        by.entry(bucket_of(p.ts)).or_default().push(p);
    }
    by.into_iter()
        .map(|(start, ps)| {
            let mut lat: Vec<f64> =
                ps.iter().filter_map(|p| p.latency_ms).filter(|v| v.is_finite()).collect();
            lat.sort_by(f64::total_cmp);
            let avg = (!lat.is_empty()).then(|| lat.iter().sum::<f64>() / lat.len() as f64);
            let p95 = (!lat.is_empty()).then(|| {
                let rank = ((lat.len() as f64) * 0.95).ceil() as usize;
                lat[rank.clamp(1, lat.len()) - 1]
            });
            let counted = || ps.iter().filter(|p| !p.maintenance);
            Bucket {
                start,
                checks: counted().count() as u32,
                up: counted().filter(|p| p.up).count() as u32,
                degraded: counted().filter(|p| p.degraded).count() as u32,
                maintenance: ps.iter().filter(|p| p.maintenance).count() as u32,
                latency_avg: avg,
                latency_p95: p95,
            }
        })
        .collect()
}

/// Counted checks and the up ones among them, over the buckets that start within `window_ms` of `now`.
fn tally<'a>(buckets: impl IntoIterator<Item = &'a Bucket>, now: i64, window_ms: i64) -> (u64, u64) {
    let from = now - window_ms;
    buckets
        .into_iter()
        .filter(|b| b.start + BUCKET_MS > from && b.start <= now)
        .fold((0, 0), |(n, up), b| (n + u64::from(b.checks), up + u64::from(b.up)))
}

/// The uptime percentage over `window_ms` up to `now`; `None` without a counted check.
pub fn uptime(buckets: &[Bucket], now: i64, window_ms: i64) -> Option<f64> {
    let (n, up) = tally(buckets, now, window_ms);
    (n > 0).then(|| up as f64 * 100.0 / n as f64)
}

/// A guest's uptime over the same window: all of its monitors' checks together.
pub fn uptime_of_all(monitors: &[&[Bucket]], now: i64, window_ms: i64) -> Option<f64> {
    let (n, up) =
        monitors.iter().map(|b| tally(b.iter(), now, window_ms)).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    (n > 0).then(|| up as f64 * 100.0 / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;
    const DAY: i64 = 86_400_000;

    fn pt(ts: i64, up: bool, ms: Option<f64>) -> Point {
        Point { ts, up, degraded: false, latency_ms: ms, maintenance: false }
    }

    #[test]
    fn buckets_hold_counts_average_and_p95() {
        // 20 checks in one bucket at 30 s: latencies 1..=20 ms, two failures without a latency.
        let mut ps: Vec<Point> = (0..20).map(|i| pt(i * 30_000, true, Some((i + 1) as f64))).collect();
        ps.push(pt(9 * MIN, false, None));
        ps.push(pt(10 * MIN, true, Some(5.0)));
        let b = rollup(&ps);
        assert_eq!(b.len(), 2);
        assert_eq!((b[0].start, b[0].checks, b[0].up), (0, 21, 20));
        assert_eq!(b[0].latency_avg, Some(10.5));
        assert_eq!(b[0].latency_p95, Some(19.0));
        assert_eq!((b[1].start, b[1].checks, b[1].latency_p95), (10 * MIN, 1, Some(5.0)));
    }

    #[test]
    fn uptime_windows_from_the_buckets_with_the_clock_passed_in() {
        // 90 days of one check a minute; down for 144 minutes two days ago, 1 % of that day.
        let now = 90 * DAY;
        let mut ps = Vec::new();
        for m in 0..(90 * 24 * 60) {
            let ts = m as i64 * MIN;
            let down = ts >= now - 2 * DAY && ts < now - 2 * DAY + 144 * MIN;
            ps.push(pt(ts, !down, Some(10.0)));
        }
        let b = rollup(&ps);
        assert_eq!(b.len(), 90 * 24 * 6);
        assert_eq!(uptime(&b, now, DAY), Some(100.0), "the last 24 h were clean");
        let week = uptime(&b, now, 7 * DAY).unwrap();
        assert!((week - (100.0 - 144.0 * 100.0 / (7.0 * 1440.0))).abs() < 1e-9, "{week}");
        let quarter = uptime(&b, now, 90 * DAY).unwrap();
        assert!((quarter - (100.0 - 144.0 * 100.0 / (90.0 * 1440.0))).abs() < 1e-9, "{quarter}");
        assert_eq!(uptime(&[], now, DAY), None, "no check, no number");
    }

    #[test]
    fn maintenance_is_left_out_and_a_guest_counts_all_its_monitors() {
        let mut down_in_window = pt(0, false, None);
        down_in_window.maintenance = true;
        let b = rollup(&[down_in_window, pt(MIN, true, Some(1.0)), pt(2 * MIN, true, Some(1.0))]);
        assert_eq!(uptime(&b, 5 * MIN, DAY), Some(100.0), "the planned outage is not downtime");
        let a = rollup(&[pt(0, true, None), pt(MIN, true, None)]);
        let c = rollup(&[pt(0, false, None), pt(MIN, true, None)]);
        assert_eq!(uptime_of_all(&[&a, &c], 5 * MIN, DAY), Some(75.0));
    }
}
