//! `zpool status -j [--json-int]` (OpenZFS >= 2.3), read into the same types as the text form. Keys
//! follow `status_callback_json()` and `scan_status_nvlist()` in zpool_main.c (2.3) and the
//! zpool-status(8) man page's example; vdev order is kept as printed.

use std::fmt;

use serde::Deserialize;

use super::numbers::parse_size;
use super::{DataErrors, ErrorCounts, PoolStatus, Vdev, VdevClass, VdevKind, VdevSection, VdevState};
use super::{Scan, ScanFinished, ScanFunction, ScanProgress, ScanTime};
use crate::host::ToolError;

/// A JSON object kept in document order (serde_json's `Map` sorts keys unless `preserve_order` is on,
/// and vdev order matters on screen).
#[derive(Debug)]
struct Ordered<T>(Vec<(String, T)>);

impl<T> Default for Ordered<T> {
    fn default() -> Self {
        Ordered(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Ordered<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for V<T> {
            type Value = Ordered<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                let mut v = Vec::new();
                while let Some(entry) = m.next_entry()? {
                    v.push(entry);
                }
                Ok(Ordered(v))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
struct JsonStatus {
    pools: Ordered<JsonPool>,
}

#[derive(Deserialize)]
struct JsonPool {
    name: Option<String>,
    state: Option<String>,
    status: Option<String>,
    action: Option<String>,
    moreinfo: Option<String>,
    scan_stats: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    vdevs: Ordered<JsonVdev>,
    logs: Option<Ordered<JsonVdev>>,
    l2cache: Option<Ordered<JsonVdev>>,
    spares: Option<Ordered<JsonVdev>>,
    special: Option<Ordered<JsonVdev>>,
    dedup: Option<Ordered<JsonVdev>>,
    error_count: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct JsonVdev {
    name: Option<String>,
    vdev_type: Option<String>,
    state: Option<String>,
    read_errors: Option<serde_json::Value>,
    write_errors: Option<serde_json::Value>,
    checksum_errors: Option<serde_json::Value>,
    #[serde(default)]
    vdevs: Ordered<JsonVdev>,
}

/// A JSON number, or a string holding a number (`-j` without `--json-int`), possibly abbreviated
/// (`62.6G`: sizes are human units unless `-p`).
fn json_u64(v: &serde_json::Value) -> Option<u64> {
    match v {
        serde_json::Value::Number(n) => n.as_u64().or_else(|| n.as_f64().map(|f| f.max(0.0) as u64)),
        serde_json::Value::String(s) => parse_size(s),
        _ => None,
    }
}

fn json_vdev(key: &str, v: JsonVdev, root: bool) -> Vdev {
    let name = v.name.unwrap_or_else(|| key.to_string());
    let mut kind = if root { VdevKind::Root } else { VdevKind::classify(&name) };
    if kind == VdevKind::Device {
        // Names such as `mirror-2` classify themselves; `vdev_type` covers what names do not.
        kind = match v.vdev_type.as_deref() {
            Some("mirror") => VdevKind::Mirror,
            Some("spare") => VdevKind::Spare,
            Some("replacing") => VdevKind::Replacing,
            Some("dspare") => VdevKind::DraidSpare,
            Some("indirect") => VdevKind::Indirect,
            _ => VdevKind::Device,
        };
    }
    let counters =
        [&v.read_errors, &v.write_errors, &v.checksum_errors].map(|c| c.as_ref().and_then(json_u64));
    let errors = match counters {
        [None, None, None] => None,
        [r, w, c] => {
            Some(ErrorCounts { read: r.unwrap_or(0), write: w.unwrap_or(0), checksum: c.unwrap_or(0) })
        }
    };
    Vdev {
        name,
        kind,
        state: v.state.as_deref().map(VdevState::parse),
        errors,
        note: None,
        children: v.vdevs.0.into_iter().map(|(k, c)| json_vdev(&k, c, false)).collect(),
    }
}

fn json_time(v: Option<&serde_json::Value>) -> Option<ScanTime> {
    match v? {
        serde_json::Value::Number(n) => {
            let unix = n.as_i64()?;
            (unix > 0).then(|| ScanTime { text: unix.to_string(), local: None, unix: Some(unix) })
        }
        serde_json::Value::String(s) if !s.is_empty() && s != "-" => Some(ScanTime::from_text(s)),
        _ => None,
    }
}

/// `scan_stats` keys per `scan_status_nvlist()` (zpool_main.c, 2.3): `function` NONE/SCRUB/RESILVER/
/// ERRORSCRUB, `state` NONE/SCANNING/FINISHED/CANCELED/ERRORSCRUBBING, byte counters and times.
fn json_scan(m: &serde_json::Map<String, serde_json::Value>) -> Scan {
    let s = |k: &str| m.get(k).and_then(|v| v.as_str()).unwrap_or("");
    let num = |k: &str| m.get(k).and_then(json_u64);
    let function = match s("function") {
        "SCRUB" => ScanFunction::Scrub,
        "RESILVER" => ScanFunction::Resilver,
        "ERRORSCRUB" => ScanFunction::ErrorScrub,
        _ => return Scan::None,
    };
    let start = json_time(m.get("start_time"));
    let end = json_time(m.get("end_time"));
    match s("state") {
        "SCANNING" | "ERRORSCRUBBING" => {
            let issued = num("issued");
            let total = num("to_examine");
            let percent_done = match (issued, total) {
                (Some(i), Some(t)) if t > 0 => Some((i as f64 * 10_000.0 / t as f64).round() / 100.0),
                _ => None,
            };
            let p = ScanProgress {
                function: Some(function),
                since: start,
                scanned: num("examined"),
                issued,
                total,
                repaired: num("processed"),
                percent_done,
                ..Default::default()
            };
            if num("scrub_pause").unwrap_or(0) > 0 { Scan::Paused(p) } else { Scan::InProgress(p) }
        }
        "FINISHED" => {
            let duration_secs = match (&start, &end) {
                (Some(ScanTime { unix: Some(a), .. }), Some(ScanTime { unix: Some(b), .. })) if b >= a => {
                    Some((b - a) as u64)
                }
                _ => None,
            };
            Scan::Finished(ScanFinished {
                function,
                repaired: num("processed"),
                duration: None,
                duration_secs,
                errors: num("errors").unwrap_or(0),
                ended: end,
            })
        }
        "CANCELED" => Scan::Canceled { function, at: end },
        other => Scan::Other { text: format!("{function:?} {other}") },
    }
}

/// Parses `zpool status -j [--json-int]` (OpenZFS >= 2.3) into the same types as
/// [`parse_status`](super::parse_status). The JSON has no trailing notes and no `errors:` file list;
/// `error_count` gives the count.
pub fn parse_status_json(text: &str) -> Result<Vec<PoolStatus>, ToolError> {
    let doc: JsonStatus = serde_json::from_str(text).map_err(|e| {
        let line = text.lines().nth(e.line().saturating_sub(1)).unwrap_or("");
        ToolError::parse("zpool status -j", e.line(), line, e.to_string())
    })?;
    let mut pools = Vec::new();
    for (key, p) in doc.pools.0 {
        let name = p.name.unwrap_or(key);
        let mut root = None;
        for (k, v) in p.vdevs.0 {
            if root.is_none() {
                root = Some(json_vdev(&k, v, true));
            }
        }
        let mut sections = Vec::new();
        for (class, group) in [
            (VdevClass::Special, p.special),
            (VdevClass::Dedup, p.dedup),
            (VdevClass::Logs, p.logs),
            (VdevClass::Cache, p.l2cache),
            (VdevClass::Spares, p.spares),
        ] {
            if let Some(g) = group {
                let vdevs = g.0.into_iter().map(|(k, v)| json_vdev(&k, v, false)).collect();
                sections.push(VdevSection { class, state: None, errors: None, note: None, vdevs });
            }
        }
        let state = VdevState::parse(p.state.as_deref().unwrap_or("UNKNOWN"));
        pools.push(PoolStatus {
            name,
            state,
            // The man page example prints `"status": "OK"` for a healthy pool where the text form
            // prints no `status:` line at all; keep the two forms alike.
            status: p.status.filter(|s| s != "OK").map(|s| collapse_ws(&s)),
            action: p.action.map(|s| collapse_ws(&s)),
            see: p.moreinfo,
            scan: p.scan_stats.as_ref().map_or(Scan::None, json_scan),
            root,
            sections,
            errors: p
                .error_count
                .as_ref()
                .and_then(json_u64)
                .map(|c| DataErrors { count: Some(c), ..Default::default() }),
        });
    }
    Ok(pools)
}

fn collapse_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::super::tests::{errs, fixture, leaf};
    use super::*;

    #[test]
    fn status_json_example() {
        let pools = parse_status_json(&fixture("openzfs_man_zpool-status_-j_example.json")).unwrap();
        assert_eq!(pools.len(), 1);
        let p = &pools[0];
        assert_eq!(
            (p.name.as_str(), &p.state, &p.status, &p.scan),
            ("tank", &VdevState::Online, &None, &Scan::None)
        );
        let root = p.root.as_ref().unwrap();
        assert_eq!((root.kind.clone(), root.errors), (VdevKind::Root, errs(0, 0, 0)));
        let raidz = &root.children[0];
        assert_eq!(
            (raidz.name.as_str(), &raidz.kind, &raidz.state),
            ("raidz1-0", &VdevKind::Raidz { parity: 1 }, &Some(VdevState::Online))
        );
        assert_eq!(raidz.children.len(), 3);
        assert_eq!(raidz.children[0].name, "ca1eb824-c371-491d-ac13-37637e35c683", "document order kept");
        let dedup = p.section(VdevClass::Dedup).unwrap();
        assert_eq!((dedup.vdevs[0].kind.clone(), dedup.vdevs[0].children.len()), (VdevKind::Mirror, 2));
        let special = p.section(VdevClass::Special).unwrap();
        assert_eq!(special.vdevs[0].kind, VdevKind::Device);
        assert_eq!(p.errors.as_ref().unwrap().count, Some(0));

        // `--json-int` with a running scrub (key set of scan_status_nvlist()).
        let text = r#"{"output_version":{"command":"zpool status","vers_major":0,"vers_minor":1},
          "pools":{"p":{"name":"p","state":"DEGRADED","status":"One or more devices\n\tis bad.\n","moreinfo":"https://x/ZFS-8000-9P",
          "scan_stats":{"function":"SCRUB","state":"SCANNING","start_time":1767782105,"end_time":0,"to_examine":1000,"examined":600,"skipped":0,"processed":4096,"errors":0,"scrub_pause":0,"issued":250},
          "vdevs":{"p":{"name":"p","vdev_type":"root","state":"DEGRADED","read_errors":0,"write_errors":0,"checksum_errors":5,
            "vdevs":{"sdb":{"name":"sdb","vdev_type":"disk","state":"FAULTED","read_errors":1,"write_errors":2,"checksum_errors":"1.2K"}}}},
          "spares":{"sdz":{"name":"sdz","vdev_type":"disk","state":"AVAIL"}},"error_count":3}}}"#;
        let p = &parse_status_json(text).unwrap()[0];
        assert_eq!(p.status.as_deref(), Some("One or more devices is bad."));
        let Scan::InProgress(s) = &p.scan else { panic!("{:?}", p.scan) };
        assert_eq!(
            (s.percent_done, s.scanned, s.repaired, s.since.as_ref().unwrap().unix),
            (Some(25.0), Some(600), Some(4096), Some(1_767_782_105))
        );
        assert_eq!(leaf(p, "sdb").errors, errs(1, 2, 1229));
        assert_eq!(p.section(VdevClass::Spares).unwrap().vdevs[0].state, Some(VdevState::Avail));
        assert_eq!(p.data_errors(), 3);
        let finished = text
            .replace(r#""state":"SCANNING""#, r#""state":"FINISHED""#)
            .replace(r#""end_time":0"#, r#""end_time":1767785705"#);
        let Scan::Finished(f) = &parse_status_json(&finished).unwrap()[0].scan else { panic!() };
        assert_eq!((f.duration_secs, f.repaired, f.errors), (Some(3600), Some(4096), 0));

        let err = parse_status_json("{\n\"pools\": [\n").unwrap_err();
        assert!(matches!(err, ToolError::Parse { .. }), "{err}");
    }
}
