//! Auxiliary history: series that are not part of the 1 s vitals sample (gateway latency and loss,
//! sensor temperatures, UPS charge and load, GPU utilisation, ...). Workers `record` values at their
//! own pace; the last minutes stay in memory per key, and closed 1-minute buckets are written to the
//! same `rollup` table as the vitals (with the same 10-minute and 1-hour tiers and retention), so
//! `/api/history?metric=<key>` serves them exactly like a vitals metric.
//!
//! Keys are namespaced by their producer (`net.gw.latency_ms`, `temp.coretemp-isa-0000.package_id_0`,
//! `ups.cp1500.charge`, `gpu.0.util`) and bounded ([`MAX_KEYS`]): a key past the bound is dropped and
//! logged once, so a host with thousands of sensors cannot grow memory or the database without end.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;

use rusqlite::Connection;
use serde::Serialize;

use crate::history::{Agg, Point, Range, fill, read_named, write_named};

/// At most this many distinct keys are kept.
pub const MAX_KEYS: usize = 512;
/// Live points kept per key (the `live` range).
const LIVE_POINTS: usize = 240;
const MINUTE: i64 = 60;

/// A key's description, shown by `/api/history/metrics`.
#[derive(Debug, Clone, Serialize)]
pub struct KeyInfo {
    pub name: String,
    pub label: String,
    pub unit: String,
}

/// Same JSON shape as [`crate::history::Series`].
#[derive(Debug, Serialize)]
pub struct NamedSeries {
    pub metric: String,
    pub range: &'static str,
    pub step_s: f64,
    pub points: Vec<Point>,
}

#[derive(Default)]
struct Key {
    label: String,
    unit: String,
    live: VecDeque<(i64, f64)>,
    current: Option<(i64, Agg)>,
    pending: Vec<(i64, Agg)>,
}

#[derive(Default)]
struct Inner {
    keys: HashMap<String, Key>,
    warned: bool,
}

pub struct Series {
    inner: Mutex<Inner>,
    live_s: i64,
}

impl Series {
    /// `live_minutes`: how far back the `live` range reaches (points are capped too).
    pub fn new(live_minutes: u64) -> Series {
        Series { inner: Mutex::new(Inner::default()), live_s: live_minutes as i64 * 60 }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Gives a key a human label and a unit (e.g. "percent", "celsius", "ms", "watts").
    pub fn describe(&self, key: &str, label: &str, unit: &str) {
        let mut inner = self.lock();
        if let Some(k) = slot(&mut inner, key) {
            if k.label != label {
                k.label = label.to_string();
            }
            if k.unit != unit {
                k.unit = unit.to_string();
            }
        }
    }

    /// Adds one value at `ts_ms` (wall clock). Non-finite values are ignored.
    pub fn record(&self, key: &str, ts_ms: i64, value: f64) {
        if !value.is_finite() {
            return;
        }
        let live_s = self.live_s;
        let mut inner = self.lock();
        let Some(k) = slot(&mut inner, key) else { return };
        let ts = ts_ms.div_euclid(1000);
        let bucket = ts - ts.rem_euclid(MINUTE);
        k.current = match k.current {
            Some((b, agg)) if b == bucket => Some((b, agg.merge(Agg::one(value)))),
            Some((b, agg)) => {
                k.pending.push((b, agg));
                Some((bucket, Agg::one(value)))
            }
            None => Some((bucket, Agg::one(value))),
        };
        while k.live.len() >= LIVE_POINTS || k.live.front().is_some_and(|(t, _)| *t < ts - live_s) {
            k.live.pop_front();
        }
        k.live.push_back((ts, value));
    }

    /// Whether `key` has been recorded or described.
    pub fn has(&self, key: &str) -> bool {
        self.lock().keys.contains_key(key)
    }

    /// Every key with its description, sorted by name.
    pub fn keys(&self) -> Vec<KeyInfo> {
        let inner = self.lock();
        let mut out: Vec<KeyInfo> = inner
            .keys
            .iter()
            .map(|(n, k)| KeyInfo { name: n.clone(), label: k.label.clone(), unit: k.unit.clone() })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Writes the closed buckets (with `partial`, the open ones too, at shutdown) in one transaction.
    /// On failure the rows are put back, so a database hiccup delays history instead of losing it.
    pub fn flush(&self, conn: &mut Connection, partial: bool) -> anyhow::Result<usize> {
        let mut rows: Vec<(String, i64, Agg)> = Vec::new();
        {
            let mut inner = self.lock();
            for (name, k) in inner.keys.iter_mut() {
                for (ts, agg) in k.pending.drain(..) {
                    rows.push((name.clone(), ts, agg));
                }
                if partial && let Some((ts, agg)) = k.current.take() {
                    rows.push((name.clone(), ts, agg));
                }
            }
        }
        let n = rows.len();
        if let Err(e) = write_named(conn, rows.iter().map(|(n, ts, a)| (n.as_str(), *ts, *a))) {
            let mut inner = self.lock();
            for (name, ts, agg) in rows {
                if let Some(k) = inner.keys.get_mut(&name) {
                    k.pending.insert(0, (ts, agg));
                }
            }
            return Err(e);
        }
        Ok(n)
    }

    /// The in-memory points of `key` (the `live` range), or `None` for an unknown key.
    pub fn live(&self, key: &str) -> Option<NamedSeries> {
        let inner = self.lock();
        let k = inner.keys.get(key)?;
        let step = match (k.live.front(), k.live.back()) {
            (Some(a), Some(b)) if k.live.len() > 1 => (b.0 - a.0) as f64 / (k.live.len() - 1) as f64,
            _ => 1.0,
        };
        let points = k.live.iter().map(|(ts, v)| (*ts, Some(*v), Some(*v), Some(*v))).collect();
        Some(NamedSeries { metric: key.to_string(), range: "live", step_s: step, points })
    }

    /// The points of `key` over `range` ending at `now_s` (database plus unflushed minutes).
    pub fn query(
        &self,
        conn: &Connection,
        key: &str,
        range: Range,
        now_s: i64,
    ) -> anyhow::Result<NamedSeries> {
        if range == Range::Live {
            return Ok(self.live(key).unwrap_or(NamedSeries {
                metric: key.to_string(),
                range: "live",
                step_s: 1.0,
                points: Vec::new(),
            }));
        }
        let (tier, step, span) = range.plan();
        let start = (now_s - span).div_euclid(step) * step;
        let mut buckets: BTreeMap<i64, Agg> = read_named(conn, key, tier, step, start)?;
        {
            let inner = self.lock();
            if let Some(k) = inner.keys.get(key) {
                for (ts, agg) in k.pending.iter().copied().chain(k.current).filter(|(ts, _)| *ts >= start) {
                    let b = ts.div_euclid(step) * step;
                    buckets.entry(b).and_modify(|a| *a = a.merge(agg)).or_insert(agg);
                }
            }
        }
        let end = now_s.div_euclid(step) * step;
        Ok(NamedSeries {
            metric: key.to_string(),
            range: range.name(),
            step_s: step as f64,
            points: fill(&buckets, start, end, step),
        })
    }
}

fn slot<'a>(inner: &'a mut Inner, key: &str) -> Option<&'a mut Key> {
    if !inner.keys.contains_key(key) {
        if inner.keys.len() >= MAX_KEYS {
            if !inner.warned {
                inner.warned = true;
                tracing::warn!(key, max = MAX_KEYS, "too many history series; further keys are not kept");
            }
            return None;
        }
        inner.keys.insert(key.to_string(), Key::default());
    }
    inner.keys.get_mut(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;

    #[test]
    fn records_flushes_and_reads_back_across_tiers() {
        let db = Db::open_in_memory().unwrap();
        let s = Series::new(10);
        s.describe("net.gw.latency_ms", "Gateway latency", "ms");
        let t0 = 1_700_000_400; // a 10-minute boundary
        for k in 0..5 {
            s.record("net.gw.latency_ms", (t0 + k * 60) * 1000, 1.0 + k as f64);
        }
        s.record("bogus", t0 * 1000, f64::NAN);
        assert_eq!(s.live("net.gw.latency_ms").unwrap().points.len(), 5);
        let n = db.call_blocking(|c| s.flush(c, false)).unwrap();
        assert_eq!(n, 4, "the open minute stays in memory");
        // The 1 h read sees the 4 written minutes plus the open one.
        let now = t0 + 5 * 60;
        let q = db.call_blocking(|c| s.query(c, "net.gw.latency_ms", Range::H1, now)).unwrap();
        let vals: Vec<f64> = q.points.iter().filter_map(|p| p.1).collect();
        assert_eq!(vals, vec![1.0, 2.0, 3.0, 4.0, 5.0]);
        // The 10-minute tier was rolled up from the minutes written.
        let ten: f64 = db
            .call_blocking(|c| {
                Ok(c.query_row(
                    "SELECT avg FROM rollup WHERE tier = 600 AND metric = 'net.gw.latency_ms'",
                    [],
                    |r| r.get(0),
                )?)
            })
            .unwrap();
        assert_eq!(ten, 2.5);
        let keys = s.keys();
        assert_eq!(keys.len(), 1, "a non-finite value creates no key");
        assert_eq!(keys[0].label, "Gateway latency");
    }

    #[test]
    fn keys_are_bounded() {
        let s = Series::new(10);
        for i in 0..MAX_KEYS + 10 {
            s.record(&format!("k{i}"), 1000, 1.0);
        }
        assert_eq!(s.keys().len(), MAX_KEYS);
    }
}
