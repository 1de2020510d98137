//! The SSD endurance forecast. Each disk's written-bytes counter and wear percentage are recorded
//! once a day; from the trend we derive TB written per day and the date the disk reaches 100 % wear,
//! and from the guests' disk-write counters how much each guest wrote in the last 7 and 30 days.
//! All arithmetic is in [`forecast`], a pure function tested on a series with a known answer.

use std::collections::HashMap;

use rusqlite::{Connection, params};

pub use crate::model::wear::{Forecast, GuestWrites};

/// One day's reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub day: i64,
    pub bytes_written: Option<u64>,
    pub wear_pct: Option<f64>,
}

/// Projections are capped at 50 years.
const MAX_PROJECTION_DAYS: f64 = 50.0 * 365.0;

/// Days of history the trend uses.
pub const WINDOW_DAYS: i64 = 30;

/// Least-squares slope of `(x, y)`; `None` with fewer than two distinct x.
fn slope(pts: &[(f64, f64)]) -> Option<f64> {
    let n = pts.len() as f64;
    if pts.len() < 2 {
        return None;
    }
    let (mx, my) = pts.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + x / n, b + y / n));
    let sxx: f64 = pts.iter().map(|(x, _)| (x - mx) * (x - mx)).sum();
    if sxx == 0.0 {
        return None;
    }
    Some(pts.iter().map(|(x, y)| (x - mx) * (y - my)).sum::<f64>() / sxx)
}

/// The forecast from daily points (any order), as of `today` (unix day).
pub fn forecast(points: &[Point], today: i64) -> Forecast {
    let recent: Vec<&Point> =
        points.iter().filter(|p| p.day > today - WINDOW_DAYS && p.day <= today).collect();
    let days = match (recent.iter().map(|p| p.day).min(), recent.iter().map(|p| p.day).max()) {
        (Some(a), Some(b)) => b - a,
        _ => 0,
    };
    let bytes: Vec<(f64, f64)> =
        recent.iter().filter_map(|p| p.bytes_written.map(|b| (p.day as f64, b as f64))).collect();
    let wear: Vec<(f64, f64)> = recent.iter().filter_map(|p| p.wear_pct.map(|w| (p.day as f64, w))).collect();
    let tb = slope(&bytes).map(|s| (s / 1e12).max(0.0));
    let wear_rate = slope(&wear);
    let latest_wear =
        recent.iter().filter(|p| p.wear_pct.is_some()).max_by_key(|p| p.day).and_then(|p| p.wear_pct);
    let (projected, basis) = match (wear_rate, latest_wear) {
        // Below 0.0001 %/day (over 2 700 years to wear out) there is no trend to speak of; this
        // also keeps float noise on a flat series from projecting a date.
        (Some(r), Some(w)) if r > 1e-4 => {
            let days_left = ((100.0 - w).max(0.0) / r).min(MAX_PROJECTION_DAYS);
            let day = (today as f64 + days_left).round() as i64;
            (Some(day.saturating_mul(86400)), format!("wear trend over {days} days"))
        }
        (Some(_), Some(_)) => (None, format!("no measurable wear over {days} days")),
        _ if days < 1 => (None, "needs at least two days of readings".to_string()),
        _ => (None, "the disk reports no wear indicator".to_string()),
    };
    Forecast {
        tb_written_per_day: tb,
        wear_pct_per_day: wear_rate,
        projected_wear_out: projected,
        basis,
        days_of_data: days,
    }
}

/// Records today's reading for a disk unless one exists (the first reading of the day is kept).
pub fn record_disk(
    conn: &Connection,
    disk: &str,
    day: i64,
    bytes: Option<u64>,
    wear: Option<f64>,
) -> anyhow::Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO disk_wear (disk, day, bytes_written, wear_pct) VALUES (?1, ?2, ?3, ?4)",
        params![disk, day, bytes.map(|b| b as i64), wear],
    )?;
    Ok(())
}

/// Adds bytes written by guests on a day.
pub fn add_guest_writes(conn: &mut Connection, day: i64, writes: &HashMap<u64, u64>) -> anyhow::Result<()> {
    let tx = conn.transaction()?;
    for (vmid, bytes) in writes.iter().filter(|(_, b)| **b > 0) {
        tx.execute(
            "INSERT INTO guest_writes (vmid, day, bytes) VALUES (?1, ?2, ?3)
             ON CONFLICT (vmid, day) DO UPDATE SET bytes = bytes + excluded.bytes",
            params![*vmid as i64, day, *bytes as i64],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// One line of a recorded wear history: serial, days before today, bytes written, wear %.
pub type HistoryRow = (String, i64, Option<u64>, Option<f64>);

/// Parses a wear history (`serial,days_before,bytes_written,wear_pct` lines; `#` comments and the
/// header skipped); an error names the line.
pub fn parse_history(text: &str) -> anyhow::Result<Vec<HistoryRow>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with("serial,") {
            continue;
        }
        let bad = |what: &str| anyhow::anyhow!("wear history line {}: {what}: {line:?}", i + 1);
        let f: Vec<&str> = line.split(',').collect();
        let [serial, days, bytes, wear] = f[..] else { return Err(bad("expected 4 fields")) };
        let days: i64 = days.parse().map_err(|_| bad("days_before is not a number"))?;
        let bytes = if bytes.is_empty() { None } else { Some(bytes.parse().map_err(|_| bad("bad bytes"))?) };
        let wear = if wear.is_empty() { None } else { Some(wear.parse().map_err(|_| bad("bad wear"))?) };
        out.push((serial.to_string(), days, bytes, wear));
    }
    Ok(out)
}

/// Loads a recorded wear history (see [`parse_history`]) as readings `days_before` days before
/// `today`; days that already have a reading keep it. The demo uses this so its forecast has the
/// history a real host builds up over weeks.
pub fn import_history(conn: &mut Connection, text: &str, today: i64) -> anyhow::Result<usize> {
    let rows = parse_history(text)?;
    let tx = conn.transaction()?;
    for (serial, days, bytes, wear) in &rows {
        record_disk(&tx, serial, today - days, *bytes, *wear)?;
    }
    tx.commit()?;
    Ok(rows.len())
}

pub fn load_points(conn: &Connection, disk: &str, since_day: i64) -> anyhow::Result<Vec<Point>> {
    let mut stmt = conn.prepare_cached(
        "SELECT day, bytes_written, wear_pct FROM disk_wear WHERE disk = ?1 AND day >= ?2 ORDER BY day",
    )?;
    let rows = stmt.query_map(params![disk, since_day], |r| {
        Ok(Point {
            day: r.get(0)?,
            bytes_written: r.get::<_, Option<i64>>(1)?.map(|b| b as u64),
            wear_pct: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Bytes each guest wrote in the last 7 and 30 days, largest first.
pub fn guest_totals(conn: &Connection, today: i64) -> anyhow::Result<Vec<GuestWrites>> {
    let mut stmt = conn.prepare_cached(
        "SELECT vmid, sum(CASE WHEN day > ?1 - 7 THEN bytes ELSE 0 END), sum(bytes)
         FROM guest_writes WHERE day > ?1 - 30 GROUP BY vmid ORDER BY 3 DESC",
    )?;
    let rows = stmt.query_map([today], |r| {
        Ok(GuestWrites {
            vmid: r.get::<_, i64>(0)? as u64,
            bytes_7d: r.get::<_, i64>(1)? as u64,
            bytes_30d: r.get::<_, i64>(2)? as u64,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 30 days writing exactly 0.5 TB/day, wear rising 0.2 %/day to 40 % today:
    /// 60 points to go at 0.2/day is 300 days from today.
    #[test]
    fn forecast_of_a_known_series() {
        let today = 20_000;
        let pts: Vec<Point> = (0..30)
            .map(|k| {
                let day = today - 29 + k;
                Point {
                    day,
                    bytes_written: Some(100_000_000_000_000 + (k as u64) * 500_000_000_000),
                    wear_pct: Some(40.0 - 0.2 * (29 - k) as f64),
                }
            })
            .collect();
        let f = forecast(&pts, today);
        assert!((f.tb_written_per_day.unwrap() - 0.5).abs() < 1e-9, "{f:?}");
        assert!((f.wear_pct_per_day.unwrap() - 0.2).abs() < 1e-9);
        assert_eq!(f.projected_wear_out, Some((today + 300) * 86400));
        assert_eq!(f.days_of_data, 29);
    }

    #[test]
    fn too_little_or_flat_data_says_so() {
        let today = 20_000;
        let one = [Point { day: today, bytes_written: Some(1), wear_pct: Some(3.0) }];
        let f = forecast(&one, today);
        assert_eq!((f.tb_written_per_day, f.projected_wear_out), (None, None));
        assert!(f.basis.contains("two days"));
        let flat: Vec<Point> =
            (0..10).map(|k| Point { day: today - k, bytes_written: Some(5), wear_pct: Some(3.0) }).collect();
        let f = forecast(&flat, today);
        assert_eq!(f.projected_wear_out, None);
        assert!(f.basis.contains("no measurable wear"), "{}", f.basis);
        // HDDs: bytes but no wear indicator.
        let hdd: Vec<Point> =
            (0..10).map(|k| Point { day: today - k, bytes_written: Some(5), wear_pct: None }).collect();
        assert!(forecast(&hdd, today).basis.contains("no wear indicator"));
    }

    #[test]
    fn records_once_a_day_and_sums_guest_writes() {
        let db = crate::db::Db::open_in_memory().unwrap();
        db.call_blocking(|c| {
            record_disk(c, "S3Z9NB0K123", 100, Some(10), Some(1.0))?;
            record_disk(c, "S3Z9NB0K123", 100, Some(99), Some(9.0))?; // later the same day: ignored
            record_disk(c, "S3Z9NB0K123", 101, Some(20), Some(1.5))?;
            let pts = load_points(c, "S3Z9NB0K123", 0)?;
            assert_eq!(pts.len(), 2);
            assert_eq!(pts[0].bytes_written, Some(10));
            add_guest_writes(c, 100, &HashMap::from([(101, 5), (102, 0)]))?;
            add_guest_writes(c, 100, &HashMap::from([(101, 7)]))?;
            add_guest_writes(c, 80, &HashMap::from([(101, 100), (200, 1)]))?;
            let totals = guest_totals(c, 101)?;
            assert_eq!(
                totals,
                vec![
                    GuestWrites { vmid: 101, bytes_7d: 12, bytes_30d: 112 },
                    GuestWrites { vmid: 200, bytes_7d: 0, bytes_30d: 1 },
                ]
            );
            Ok(())
        })
        .unwrap();
    }
}
