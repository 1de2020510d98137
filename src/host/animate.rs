//! Keeps a replayed demo host moving. A recording is one instant: replayed as it is, every guest's
//! traffic counters stand still (so the live rates are 0 B/s while the same guest's RRD chart shows
//! hundreds of KiB/s) and the RRD series end where the recording ended and fall further behind the
//! clock each minute. For the demo only (tests replay exact recordings), answers are adjusted at the
//! time they are given:
//!
//! - guest lists (`/cluster/resources`, `/nodes/<node>/{qemu,lxc}`): a running guest's `uptime` grows
//!   with the time since the demo started, and its `netin`/`netout`/`diskread`/`diskwrite` counters
//!   grow at the guest's own lifetime average (counter / uptime), so live rates agree with the
//!   recorded RRD's order of magnitude;
//! - RRD series (`…/rrddata`): moved forward by whole steps so that the last row is the latest
//!   step, as `pvesh` returns it on a live host.
//!
//! Pure functions of the recorded text and the times passed in.

use serde_json::Value;

const COUNTERS: [&str; 4] = ["netin", "netout", "diskread", "diskwrite"];

/// The adjusted answer for `argv`, or `None` to give the recording as it is.
pub fn animate(argv: &[&str], stdout: &str, now_s: i64, elapsed_s: i64) -> Option<String> {
    let path = match argv {
        ["pvesh", "get", path, ..] => *path,
        _ => return None,
    };
    if path.ends_with("/rrddata") {
        return rrd(stdout, now_s);
    }
    let guest_list = path == "/cluster/resources"
        || (path.starts_with("/nodes/") && (path.ends_with("/qemu") || path.ends_with("/lxc")));
    if guest_list && elapsed_s > 0 { guests(stdout, elapsed_s) } else { None }
}

/// `data` wrapped or bare, as pvesh prints either.
fn rows(v: &mut Value) -> Option<&mut Vec<Value>> {
    match v {
        Value::Array(a) => Some(a),
        Value::Object(o) => o.get_mut("data").and_then(Value::as_array_mut),
        _ => None,
    }
}

fn num(v: &Value) -> Option<f64> {
    v.as_f64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

fn guests(stdout: &str, elapsed_s: i64) -> Option<String> {
    let mut v: Value = serde_json::from_str(stdout).ok()?;
    for g in rows(&mut v)?.iter_mut() {
        let Some(o) = g.as_object_mut() else { continue };
        if o.get("status").and_then(Value::as_str) != Some("running") {
            continue;
        }
        let Some(uptime) = o.get("uptime").and_then(num).filter(|u| *u > 0.0) else { continue };
        for k in COUNTERS {
            if let Some(c) = o.get(k).and_then(num) {
                let grown = c + c / uptime * elapsed_s as f64;
                o.insert(k.into(), Value::from(grown.round() as u64));
            }
        }
        o.insert("uptime".into(), Value::from((uptime as i64 + elapsed_s) as u64));
    }
    serde_json::to_string(&v).ok()
}

/// The cluster filesystem's `.rrd` dump (`tools::pmxcfs`): what pvestatd last broadcast, moved the
/// same way as the guest lists (a running guest's uptime and I/O counters grow at its lifetime
/// average; the node's uptime grows).
pub fn rrd_dump(text: &str, elapsed_s: i64) -> Option<String> {
    if elapsed_s <= 0 {
        return None;
    }
    let mut out = String::with_capacity(text.len() + 256);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let Some((key, data)) = line.split_once(':') else {
            out.push_str(line);
            continue;
        };
        let mut v: Vec<String> = data.split(':').map(str::to_string).collect();
        let uptime = v.first().and_then(|u| u.parse::<f64>().ok()).unwrap_or(0.0);
        if key.starts_with("pve2.3-vm/") || key.starts_with("pve-vm-9.0/") {
            if v.get(2).map(String::as_str) == Some("running") && uptime > 0.0 {
                for c in v.iter_mut().take(15).skip(11) {
                    if let Ok(n) = c.parse::<f64>() {
                        *c = ((n + n / uptime * elapsed_s as f64).round() as u64).to_string();
                    }
                }
                v[0] = (uptime as i64 + elapsed_s).to_string();
            }
        } else if (key.starts_with("pve2-node/") || key.starts_with("pve-node-9.0/")) && uptime > 0.0 {
            v[0] = (uptime as i64 + elapsed_s).to_string();
        }
        out.push_str(key);
        out.push(':');
        out.push_str(&v.join(":"));
    }
    Some(out)
}

fn rrd(stdout: &str, now_s: i64) -> Option<String> {
    let mut v: Value = serde_json::from_str(stdout).ok()?;
    let rows = rows(&mut v)?;
    let times: Vec<i64> = rows.iter().filter_map(|r| r.get("time").and_then(Value::as_i64)).collect();
    let (&last, step) = (times.iter().max()?, times.windows(2).map(|w| (w[1] - w[0]).abs()).min()?);
    if step <= 0 || now_s - last < step {
        return None;
    }
    let shift = (now_s - last) / step * step;
    for r in rows.iter_mut() {
        if let Some(t) = r.get("time").and_then(Value::as_i64) {
            r["time"] = Value::from(t + shift);
        }
    }
    serde_json::to_string(&v).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = r#"[{"vmid":101,"type":"qemu","status":"running","uptime":1000,"netin":100000,
        "netout":"2000","diskread":0,"diskwrite":50000},{"vmid":102,"type":"qemu","status":"stopped",
        "uptime":0,"netin":0}]"#;

    #[test]
    fn running_guests_counters_grow_at_their_lifetime_average() {
        let out =
            animate(&["pvesh", "get", "/cluster/resources", "--output-format", "json"], LIST, 0, 10).unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v[0]["uptime"], 1010);
        assert_eq!(v[0]["netin"], 101_000, "100 B/s for 10 s");
        assert_eq!(v[0]["netout"], 2020, "numeric strings too");
        assert_eq!(v[0]["diskread"], 0);
        assert_eq!(v[1]["netin"], 0, "a stopped guest stands still");
        assert_eq!(v[1]["uptime"], 0);
        // Nothing elapsed, or a command that is not a guest list: the recording as it is.
        assert!(animate(&["pvesh", "get", "/cluster/resources"], LIST, 0, 0).is_none());
        assert!(animate(&["pvesh", "get", "/nodes/n/storage"], LIST, 0, 10).is_none());
        assert!(animate(&["zpool", "status"], LIST, 0, 10).is_none());
    }

    #[test]
    fn rrd_series_end_at_the_latest_step() {
        let rrd = r#"[{"time":1000,"cpu":0.1},{"time":1060,"cpu":0.2},{"time":1120,"cpu":0.3}]"#;
        let argv = ["pvesh", "get", "/nodes/n/qemu/101/rrddata", "--timeframe", "hour"];
        let v: Value = serde_json::from_str(&animate(&argv, rrd, 1120 + 60 * 20 + 30, 0).unwrap()).unwrap();
        assert_eq!((v[0]["time"].as_i64(), v[2]["time"].as_i64()), (Some(2200), Some(2320)));
        assert_eq!(v[2]["cpu"], 0.3);
        assert!(animate(&argv, rrd, 1150, 0).is_none(), "already current");
    }

    #[test]
    fn the_rrd_dump_moves_like_the_guest_lists() {
        let text = "pve2-node/pve:1000:U:1:0.5:8:0.1:0:1:1:0:0:1:1:1:1\npve2.3-vm/100:1000:web:running:0:1:2:0.1:2:1:3:0:5000:1000:200:100\npve2.3-vm/101:0:db:stopped:0:1:2:U:2:U:3:0:U:U:U:U\n\0";
        let moved = rrd_dump(text, 100).unwrap();
        let lines: Vec<&str> = moved.split('\n').collect();
        assert!(lines[0].starts_with("pve2-node/pve:1100:U:"), "{}", lines[0]);
        // Counters grow at their lifetime average (5000 over 1000 s: +500 in 100 s).
        assert_eq!(lines[1], "pve2.3-vm/100:1100:web:running:0:1:2:0.1:2:1:3:0:5500:1100:220:110");
        assert_eq!(
            lines[2], "pve2.3-vm/101:0:db:stopped:0:1:2:U:2:U:3:0:U:U:U:U",
            "a stopped guest stands still"
        );
        assert_eq!(lines[3], "\0");
        assert_eq!(rrd_dump(text, 0), None);
    }
}
