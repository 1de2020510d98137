//! Vitals history. The last few minutes live in memory at full resolution (the `live` range); every
//! sample is also folded into 1-minute buckets (avg, min, max, n) that are written to SQLite in one
//! transaction per flush, and the 10-minute and 1-hour tiers are recomputed in SQL from the 1-minute
//! rows they cover, so a restart never loses or double counts a bucket. Reads pick the coarsest tier
//! that still gives enough points for the asked range and merge the not-yet-flushed minutes in.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Mutex;

use anyhow::Context;
use rusqlite::{Connection, params};
use serde::Serialize;

use crate::model::Sample;

pub struct Metric {
    pub name: &'static str,
    pub label: &'static str,
    pub unit: &'static str,
    get: fn(&Sample) -> Option<f64>,
}

/// The metrics kept as history. Append new ones at the end; names are part of the API.
pub const METRICS: &[Metric] = &[
    Metric { name: "cpu.total", label: "CPU busy", unit: "percent", get: |s| Some(s.cpu.total.busy) },
    Metric { name: "cpu.iowait", label: "CPU iowait", unit: "percent", get: |s| Some(s.cpu.total.iowait) },
    Metric { name: "load.1", label: "Load (1 min)", unit: "load", get: |s| Some(s.load[0]) },
    Metric { name: "mem.used_pct", label: "Memory used", unit: "percent", get: |s| Some(s.memory.used_pct) },
    Metric { name: "mem.used", label: "Memory used", unit: "bytes", get: |s| Some(s.memory.used as f64) },
    Metric {
        name: "mem.cached",
        label: "Memory cache",
        unit: "bytes",
        get: |s| Some(s.memory.cached as f64),
    },
    Metric { name: "swap.used", label: "Swap used", unit: "bytes", get: |s| Some(s.swap.used as f64) },
    Metric { name: "net.rx", label: "Network in", unit: "bytes_per_s", get: |s| Some(s.net_total.rx_bps) },
    Metric { name: "net.tx", label: "Network out", unit: "bytes_per_s", get: |s| Some(s.net_total.tx_bps) },
    Metric {
        name: "disk.read",
        label: "Disk read",
        unit: "bytes_per_s",
        get: |s| Some(s.disk_total.read_bps),
    },
    Metric {
        name: "disk.write",
        label: "Disk write",
        unit: "bytes_per_s",
        get: |s| Some(s.disk_total.write_bps),
    },
    Metric {
        name: "disk.read_iops",
        label: "Disk read IOPS",
        unit: "iops",
        get: |s| Some(s.disk_total.read_iops),
    },
    Metric {
        name: "disk.write_iops",
        label: "Disk write IOPS",
        unit: "iops",
        get: |s| Some(s.disk_total.write_iops),
    },
    Metric {
        name: "psi.cpu",
        label: "CPU pressure",
        unit: "percent",
        get: |s| s.psi.map(|p| p.cpu.some_avg10),
    },
    Metric {
        name: "psi.memory",
        label: "Memory pressure",
        unit: "percent",
        get: |s| s.psi.map(|p| p.memory.some_avg10),
    },
    Metric {
        name: "psi.io",
        label: "I/O pressure",
        unit: "percent",
        get: |s| s.psi.map(|p| p.io.some_avg10),
    },
    Metric { name: "temp.cpu", label: "CPU temperature", unit: "celsius", get: |s| s.cpu_temp_c },
];

const N: usize = METRICS.len();
const MINUTE: i64 = 60;
/// Tiers kept in SQLite, in seconds. The first is written from samples, the others from it.
pub const TIERS: [i64; 3] = [60, 600, 3600];

pub fn metric_index(name: &str) -> Option<usize> {
    METRICS.iter().position(|m| m.name == name)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    Live,
    H1,
    H6,
    H24,
    D7,
    D30,
    Y1,
}

impl Range {
    pub const ALL: [(&'static str, Range); 7] = [
        ("live", Range::Live),
        ("1h", Range::H1),
        ("6h", Range::H6),
        ("24h", Range::H24),
        ("7d", Range::D7),
        ("30d", Range::D30),
        ("1y", Range::Y1),
    ];

    pub fn parse(s: &str) -> Option<Range> {
        Self::ALL.iter().find(|(n, _)| *n == s).map(|(_, r)| *r)
    }

    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(_, r)| *r == self).map(|(n, _)| *n).unwrap_or("live")
    }

    /// (tier read, step of the returned points, span) in seconds: ~360–1000 points per range.
    pub fn plan(self) -> (i64, i64, i64) {
        match self {
            Range::Live => (0, 1, 0),
            Range::H1 => (60, 60, 3600),
            Range::H6 => (60, 60, 6 * 3600),
            Range::H24 => (60, 120, 86400),
            Range::D7 => (600, 600, 7 * 86400),
            Range::D30 => (3600, 3600, 30 * 86400),
            Range::Y1 => (3600, 12 * 3600, 365 * 86400),
        }
    }
}

/// A bucket's aggregate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Agg {
    pub n: u64,
    pub avg: f64,
    pub min: f64,
    pub max: f64,
}

impl Agg {
    pub fn one(v: f64) -> Agg {
        Agg { n: 1, avg: v, min: v, max: v }
    }
    pub fn merge(self, o: Agg) -> Agg {
        let n = self.n + o.n;
        Agg {
            n,
            avg: (self.avg * self.n as f64 + o.avg * o.n as f64) / n as f64,
            min: self.min.min(o.min),
            max: self.max.max(o.max),
        }
    }
}

/// A closed (or, at shutdown, partial) 1-minute bucket waiting to be written.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub metric: usize,
    pub ts: i64,
    pub agg: Agg,
}

struct Inner {
    live: VecDeque<(i64, [f64; N])>,
    current: [Option<(i64, Agg)>; N],
    pending: Vec<Row>,
}

pub struct History {
    inner: Mutex<Inner>,
    live_capacity: usize,
    interval_s: f64,
}

/// `(ts, avg, min, max)`, serialised as a JSON array.
pub type Point = (i64, Option<f64>, Option<f64>, Option<f64>);

/// `/api/history`'s answer (an auxiliary series, [`crate::series::NamedSeries`], has the same shape).
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "History"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "History"))]
pub struct Series {
    pub metric: &'static str,
    /// One of [`Range::ALL`]'s names.
    #[cfg_attr(test, ts(type = "\"live\" | \"1h\" | \"6h\" | \"24h\" | \"7d\" | \"30d\" | \"1y\""))]
    #[cfg_attr(test, schemars(extend("enum" = ["live", "1h", "6h", "24h", "7d", "30d", "1y"])))]
    pub range: &'static str,
    pub step_s: f64,
    /// `[ts (unix s), avg, min, max]`; nulls mark gaps.
    pub points: Vec<Point>,
}

impl History {
    pub fn new(live_minutes: u64, interval_ms: u64) -> History {
        let live_capacity = (live_minutes * 60_000 / interval_ms.max(1)) as usize;
        History {
            inner: Mutex::new(Inner {
                live: VecDeque::with_capacity(live_capacity),
                current: [None; N],
                pending: Vec::new(),
            }),
            live_capacity,
            interval_s: interval_ms as f64 / 1000.0,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the buffers inconsistent in a harmful way.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds one sample: to the live ring and to the current 1-minute buckets.
    pub fn record(&self, s: &Sample) {
        let ts = s.ts.div_euclid(1000);
        let bucket = ts - ts.rem_euclid(MINUTE);
        let mut values = [f64::NAN; N];
        let mut inner = self.lock();
        for (i, m) in METRICS.iter().enumerate() {
            let Some(v) = (m.get)(s).filter(|v| v.is_finite()) else { continue };
            values[i] = v;
            inner.current[i] = match inner.current[i] {
                Some((b, agg)) if b == bucket => Some((b, agg.merge(Agg::one(v)))),
                Some((b, agg)) => {
                    inner.pending.push(Row { metric: i, ts: b, agg });
                    Some((bucket, Agg::one(v)))
                }
                None => Some((bucket, Agg::one(v))),
            };
        }
        if inner.live.len() == self.live_capacity {
            inner.live.pop_front();
        }
        inner.live.push_back((s.ts, values));
    }

    /// Takes the closed buckets for writing; with `partial`, also the open ones (at shutdown).
    pub fn take_pending(&self, partial: bool) -> Vec<Row> {
        let mut inner = self.lock();
        let mut rows = std::mem::take(&mut inner.pending);
        if partial {
            for (i, cur) in inner.current.iter_mut().enumerate() {
                if let Some((ts, agg)) = cur.take() {
                    rows.push(Row { metric: i, ts, agg });
                }
            }
        }
        rows
    }

    /// Puts rows back after a failed write, so a database hiccup delays history instead of losing it.
    pub fn restore_pending(&self, mut rows: Vec<Row>) {
        let mut inner = self.lock();
        rows.append(&mut inner.pending);
        inner.pending = rows;
    }

    /// The in-memory full-resolution points of `metric` (the `live` range).
    pub fn live_series(&self, metric: usize) -> Series {
        let inner = self.lock();
        let points = inner
            .live
            .iter()
            .map(|(ts, v)| {
                let v = Some(v[metric]).filter(|v| !v.is_nan());
                (ts.div_euclid(1000), v, v, v)
            })
            .collect();
        Series { metric: METRICS[metric].name, range: "live", step_s: self.interval_s, points }
    }

    /// The points of `metric` over `range` ending at `now_s`, reading the database for past buckets.
    pub fn query(
        &self,
        conn: &Connection,
        metric: usize,
        range: Range,
        now_s: i64,
    ) -> anyhow::Result<Series> {
        let m = &METRICS[metric];
        if range == Range::Live {
            return Ok(self.live_series(metric));
        }
        let (tier, step, span) = range.plan();
        let start = (now_s - span).div_euclid(step) * step;
        let mut buckets = read_named(conn, m.name, tier, step, start)?;
        // Merge the minutes not yet written (disjoint from the database rows by construction).
        {
            let inner = self.lock();
            let unflushed = inner
                .pending
                .iter()
                .filter(|r| r.metric == metric)
                .map(|r| (r.ts, r.agg))
                .chain(inner.current[metric]);
            for (ts, agg) in unflushed.filter(|(ts, _)| *ts >= start) {
                let b = ts.div_euclid(step) * step;
                buckets.entry(b).and_modify(|a| *a = a.merge(agg)).or_insert(agg);
            }
        }
        let end = now_s.div_euclid(step) * step;
        let points = fill(&buckets, start, end, step);
        Ok(Series { metric: m.name, range: range.name(), step_s: step as f64, points })
    }
}

/// Writes 1-minute rows (merging with rows already there) and recomputes the 10-minute and 1-hour
/// buckets they touch, in one transaction.
pub fn write_rows(conn: &mut Connection, rows: &[Row]) -> anyhow::Result<()> {
    write_named(conn, rows.iter().map(|r| (METRICS[r.metric].name, r.ts, r.agg)))
}

/// [`write_rows`] for any metric name (the auxiliary series share the table).
pub fn write_named<'a>(
    conn: &mut Connection,
    rows: impl IntoIterator<Item = (&'a str, i64, Agg)>,
) -> anyhow::Result<()> {
    let mut rows = rows.into_iter().peekable();
    if rows.peek().is_none() {
        return Ok(());
    }
    let tx = conn.transaction()?;
    {
        let mut put = tx.prepare_cached(
            "INSERT INTO rollup (tier, metric, ts, n, avg, min, max) VALUES (60, ?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (tier, metric, ts) DO UPDATE SET
               avg = (avg * n + excluded.avg * excluded.n) / (n + excluded.n),
               n = n + excluded.n, min = min(min, excluded.min), max = max(max, excluded.max)",
        )?;
        let mut touched = HashSet::new();
        for (name, ts, agg) in rows {
            put.execute(params![name, ts, agg.n, agg.avg, agg.min, agg.max])?;
            for tier in &TIERS[1..] {
                touched.insert((*tier, name, ts.div_euclid(*tier) * tier));
            }
        }
        let mut roll = tx.prepare_cached(
            "INSERT OR REPLACE INTO rollup (tier, metric, ts, n, avg, min, max)
             SELECT ?1, metric, ?3, sum(n), sum(avg * n) / sum(n), min(min), max(max)
             FROM rollup WHERE tier = 60 AND metric = ?2 AND ts >= ?3 AND ts < ?3 + ?1 GROUP BY metric",
        )?;
        for (tier, name, bucket) in touched {
            roll.execute(params![tier, name, bucket])?;
        }
    }
    tx.commit().context("committing history rollups")?;
    Ok(())
}

/// Reads the stored buckets of `name` from `start` on, re-bucketed to `step` seconds.
pub fn read_named(
    conn: &Connection,
    name: &str,
    tier: i64,
    step: i64,
    start: i64,
) -> anyhow::Result<BTreeMap<i64, Agg>> {
    let mut buckets = BTreeMap::new();
    let mut stmt = conn.prepare_cached(
        "SELECT (ts / ?1) * ?1 AS b, sum(n), sum(avg * n) / sum(n), min(min), max(max)
         FROM rollup WHERE tier = ?2 AND metric = ?3 AND ts >= ?4 GROUP BY b",
    )?;
    let rows = stmt.query_map(params![step, tier, name, start], |r| {
        Ok((r.get::<_, i64>(0)?, Agg { n: r.get(1)?, avg: r.get(2)?, min: r.get(3)?, max: r.get(4)? }))
    })?;
    for row in rows {
        let (b, agg) = row?;
        buckets.insert(b, agg);
    }
    Ok(buckets)
}

/// Points every `step` from `start` to `end`, nulls where no bucket exists.
pub fn fill(buckets: &BTreeMap<i64, Agg>, start: i64, end: i64, step: i64) -> Vec<Point> {
    (0..=((end - start) / step))
        .map(|k| {
            let b = start + k * step;
            match buckets.get(&b) {
                Some(a) => (b, Some(a.avg), Some(a.min), Some(a.max)),
                None => (b, None, None, None),
            }
        })
        .collect()
}

/// Deletes rows past each tier's retention. Returns the number of rows deleted.
pub fn apply_retention(conn: &mut Connection, now_s: i64, days: [u64; 3]) -> anyhow::Result<usize> {
    let mut deleted = 0;
    for (tier, d) in TIERS.iter().zip(days) {
        let cutoff = now_s - (d as i64) * 86400;
        deleted += conn.execute("DELETE FROM rollup WHERE tier = ?1 AND ts < ?2", params![tier, cutoff])?;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;

    fn sample(ts_s: i64, cpu: f64) -> Sample {
        let mut s = Sample { ts: ts_s * 1000, ..Default::default() };
        s.cpu.total.busy = cpu;
        s
    }

    fn count(db: &Db, tier: i64) -> i64 {
        db.call_blocking(|c| {
            Ok(c.query_row(
                "SELECT count(*) FROM rollup WHERE tier = ?1 AND metric = 'cpu.total'",
                [tier],
                |r| r.get(0),
            )?)
        })
        .unwrap()
    }

    #[test]
    fn rolls_up_into_three_tiers_and_merges_partial_buckets() {
        let db = Db::open_in_memory().unwrap();
        let h = History::new(10, 1000);
        let t0 = 1_700_000_400; // on a 10-minute boundary
        assert_eq!(t0 % 600, 0);
        // Two minutes at 10 %, then a half minute at 40 % (partial, taken at "shutdown").
        for k in 0..120 {
            h.record(&sample(t0 + k, 10.0));
        }
        for k in 120..150 {
            h.record(&sample(t0 + k, 40.0));
        }
        let rows = h.take_pending(false);
        assert_eq!(rows.iter().filter(|r| r.metric == 0).count(), 2, "two closed minutes");
        db.call_blocking(|c| write_rows(c, &rows)).unwrap();
        let partial = h.take_pending(true);
        db.call_blocking(|c| write_rows(c, &partial)).unwrap();
        // "After a restart" the rest of minute 3 arrives at 70 %: it must merge, not replace.
        let h2 = History::new(10, 1000);
        for k in 150..180 {
            h2.record(&sample(t0 + k, 70.0));
        }
        h2.record(&sample(t0 + 180, 0.0)); // closes minute 3
        db.call_blocking(|c| write_rows(c, &h2.take_pending(false))).unwrap();
        assert_eq!(count(&db, 60), 3);
        assert_eq!(count(&db, 600), 1);
        assert_eq!(count(&db, 3600), 1);
        let (avg3, n3): (f64, i64) = db
            .call_blocking(|c| {
                Ok(c.query_row(
                    "SELECT avg, n FROM rollup WHERE tier = 60 AND metric = 'cpu.total' AND ts = ?1",
                    [t0 + 120],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?)
            })
            .unwrap();
        assert_eq!((avg3, n3), (55.0, 60));
        let (avg10, min10, max10, n10): (f64, f64, f64, i64) = db
            .call_blocking(|c| {
                Ok(c.query_row(
                    "SELECT avg, min, max, n FROM rollup WHERE tier = 600 AND metric = 'cpu.total'",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )?)
            })
            .unwrap();
        assert_eq!(n10, 180);
        assert!((avg10 - (120.0 * 10.0 + 30.0 * 40.0 + 30.0 * 70.0) / 180.0).abs() < 1e-9);
        assert_eq!((min10, max10), (10.0, 70.0));

        // A read over 1h sees the three minutes, the in-memory open minute, and nulls elsewhere.
        let series = db.call_blocking(|c| h2.query(c, 0, Range::H1, t0 + 200)).unwrap();
        assert_eq!(series.step_s, 60.0);
        let have: Vec<_> = series.points.iter().filter(|p| p.1.is_some()).collect();
        assert_eq!(have.len(), 4);
        assert_eq!(have[2].1, Some(55.0));
        assert_eq!(have[3].1, Some(0.0));
        assert!(series.points.len() >= 60 && series.points.len() <= 62);
    }

    #[test]
    fn retention_deletes_each_tier_at_its_age() {
        let db = Db::open_in_memory().unwrap();
        let now = 1_800_000_000;
        db.call_blocking(|c| {
            for (tier, age_days) in [(60, 6), (60, 8), (600, 89), (600, 91), (3600, 729), (3600, 731)] {
                c.execute(
                    "INSERT INTO rollup (tier, metric, ts, n, avg, min, max) VALUES (?1, 'cpu.total', ?2, 1, 1, 1, 1)",
                    params![tier, now - age_days * 86400],
                )?;
            }
            Ok(())
        })
        .unwrap();
        let deleted = db.call_blocking(|c| apply_retention(c, now, [7, 90, 730])).unwrap();
        assert_eq!(deleted, 3);
        assert_eq!((count(&db, 60), count(&db, 600), count(&db, 3600)), (1, 1, 1));
    }

    #[test]
    fn live_ring_is_bounded_and_ranges_parse() {
        let h = History::new(1, 1000);
        for k in 0..100 {
            h.record(&sample(1_700_000_000 + k, k as f64));
        }
        let db = Db::open_in_memory().unwrap();
        let s = db.call_blocking(|c| h.query(c, 0, Range::Live, 1_700_000_100)).unwrap();
        assert_eq!(s.points.len(), 60);
        assert_eq!(s.points[59].1, Some(99.0));
        assert_eq!(Range::parse("7d"), Some(Range::D7));
        assert_eq!(Range::parse("2h"), None);
        let y = db.call_blocking(|c| h.query(c, 0, Range::Y1, 1_700_000_100)).unwrap();
        assert!(y.points.len() <= 732, "{}", y.points.len());
    }
}
