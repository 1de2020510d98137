//! The demo's monitors: on a first start (no monitors yet) a few monitors against what the demo
//! scenario defines or serves itself (its own web UI and port, guests whose pings and guest agent the
//! replayed host answers, a stopped guest's web UI), with a day of checks and 30 days of rollups
//! behind them and one incident half an hour ago with an operator's note, so a newcomer sees
//! heartbeat bars (with the outage in them), uptime and an incident log at once. The live checks
//! carry on from there.

use rusqlite::Connection;

use super::store::{self, StoredCheck};
use super::uptime::{BUCKET_MS, Bucket, bucket_of};
use crate::model::monitor::{MonitorSpec, Outcome, Status, Target};

/// The demo's monitors for a demo listening on `port`.
pub fn specs(port: u16) -> Vec<MonitorSpec> {
    let m = |name: &str, target: Target, interval_s: u64, vmid: Option<u64>| MonitorSpec {
        name: name.into(),
        target,
        interval_s,
        timeout_ms: 5000,
        retries: 1,
        degraded_ms: None,
        vmid,
    };
    vec![
        m("proxwatch web UI", Target::http(format!("http://127.0.0.1:{port}/api/health/live")), 30, None),
        m("web ping", Target::Ping { host: "192.168.10.20".into() }, 30, Some(101)),
        m("web guest agent", Target::Agent { vmid: 101 }, 60, Some(101)),
        m("pihole ping", Target::Ping { host: "192.168.10.53".into() }, 30, Some(200)),
        m("proxwatch port", Target::Tcp { host: "127.0.0.1".into(), port }, 60, None),
        m("Home Assistant", Target::http("http://192.168.10.44:8123/"), 60, Some(104)),
    ]
}

/// A small deterministic noise in [0, 1) from `x`.
fn noise(x: u64) -> f64 {
    let mut v = x.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    v ^= v >> 29;
    v = v.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    v ^= v >> 32;
    (v % 10_000) as f64 / 10_000.0
}

/// Seeds the demo's monitors and their past when there are none; returns how many were added.
pub fn seed(conn: &mut Connection, port: u16, now: i64) -> anyhow::Result<usize> {
    if store::count(conn)? > 0 {
        return Ok(0);
    }
    let tx = conn.transaction()?;
    let specs = specs(port);
    // The reboot of VM 101 half an hour ago (inside the heartbeat bars): its ping failed for six minutes.
    let outage = (now - 31 * 60_000, now - 25 * 60_000);
    for (i, spec) in specs.iter().enumerate() {
        let id = store::create(&tx, spec, now - 31 * 86_400_000)?;
        // Base latency (ms) by kind: pings on the LAN are fast, HTTP takes a little longer.
        let base = match spec.target {
            Target::Ping { .. } => 0.45,
            Target::Agent { .. } => 6.0,
            Target::Tcp { .. } => 0.2,
            _ => 2.5,
        };
        if spec.vmid == Some(104) {
            // A stopped guest's monitor has no past to show.
            continue;
        }
        let step = spec.interval_s as i64 * 1000;
        let day_start = now - 86_400_000;
        // 30 days of rollups before the raw day.
        let mut start = bucket_of(now - 30 * 86_400_000);
        while start < bucket_of(day_start) {
            let checks = (BUCKET_MS / step) as u32;
            let lat = base * (1.0 + 0.3 * noise(start as u64 ^ i as u64));
            let b = Bucket {
                start,
                checks,
                up: checks,
                degraded: 0,
                maintenance: 0,
                latency_avg: Some(lat),
                latency_p95: Some(lat * 1.3),
            };
            store::put_rollup(&tx, id, &b)?;
            start += BUCKET_MS;
        }
        // The last day, check by check, up to the open bucket (the live checks go on from there).
        let mut day: std::collections::BTreeMap<i64, Vec<StoredCheck>> = Default::default();
        let mut ts = bucket_of(day_start);
        while ts < bucket_of(now) {
            let down = spec.vmid == Some(101) && ts >= outage.0 && ts < outage.1;
            let latency = base * (1.0 + 0.5 * noise(ts as u64 ^ (i as u64) << 40));
            let o = Outcome {
                ts,
                ok: !down,
                latency_ms: (!down).then_some(latency),
                error: down.then(|| match spec.target {
                    Target::Agent { .. } => "guest agent: QEMU guest agent is not running".to_string(),
                    _ => "no answer (3 echoes lost)".to_string(),
                }),
                status_code: matches!(spec.target, Target::Http { .. }).then_some(200),
                cert_expires: None,
            };
            let status = if down { Status::Down } else { Status::Up };
            day.entry(bucket_of(ts)).or_default().push(StoredCheck::of(&o, status, false));
            ts += step;
        }
        for (start, checks) in &day {
            store::write_bucket(&tx, id, *start, checks, now)?;
        }
        if spec.vmid == Some(101) {
            let error = match spec.target {
                Target::Agent { .. } => "guest agent: QEMU guest agent is not running",
                _ => "no answer (3 echoes lost)",
            };
            let first_down = outage.0 - outage.0.rem_euclid(step) + step;
            let back = outage.1 - outage.1.rem_euclid(step) + step;
            let inc = store::open_incident(&tx, id, Status::Down, first_down, error)?;
            store::close_incident(&tx, id, back)?;
            store::annotate(&tx, inc, "planned reboot: kernel update", "admin", back + 120_000)?;
            let detail = serde_json::json!({
                "name": spec.name, "vmid": spec.vmid, "target": spec.target.describe(), "error": error,
            });
            store::push_event(&tx, id, Some(inc), first_down, "down", false, &detail)?;
            let mut detail = detail;
            detail["outage_ms"] = (back - first_down).into();
            store::push_event(&tx, id, Some(inc), back, "recovered", false, &detail)?;
        }
    }
    tx.commit()?;
    // A month of history went through the page cache: give it back.
    conn.execute_batch("PRAGMA shrink_memory")?;
    Ok(specs.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;
    use crate::monitors::uptime::{WINDOWS, uptime};

    #[tokio::test]
    async fn the_demo_has_a_past_with_one_annotated_incident() {
        let db = Db::open_in_memory().unwrap();
        let now = 1_750_000_000_000;
        let n = db.call(move |c| seed(c, 8008, now)).await.unwrap();
        assert_eq!(n, 6);
        assert_eq!(db.call(move |c| seed(c, 8008, now)).await.unwrap(), 0, "seeded once");
        let (incidents, rows) =
            db.call(|c| Ok((store::incidents(c, None, 10)?, store::list(c)?))).await.unwrap();
        // The ping and the agent of VM 101 each saw the reboot.
        assert_eq!(incidents.len(), 2);
        assert!(incidents.iter().all(|i| i.ended_ms.is_some() && i.note.is_some()));
        let ping = rows.iter().find(|r| r.spec.name == "web ping").unwrap().id;
        let buckets = db.call(move |c| store::rollups(c, ping, now - 90 * 86_400_000, now)).await.unwrap();
        let day = uptime(&buckets, now, WINDOWS[0].1).unwrap();
        assert!(day < 100.0 && day > 99.0, "six minutes down in a day: {day}");
        assert_eq!(uptime(&buckets, now, WINDOWS[2].1).map(|u| u > 99.9), Some(true));
    }
}
