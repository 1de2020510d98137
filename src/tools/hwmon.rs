//! Temperatures, fans, voltages, power and currents read natively from hwmon sysfs
//! (`/sys/class/hwmon/hwmon*/`), not by parsing `sensors` (DESIGN.md §3.5).
//!
//! Reading is split in two: [`read_raw`] collects each chip's numeric attribute files and labels through
//! the host seam (bounded: chips and files per chip), and [`classify`] (pure) turns them into typed
//! readings in SI units, dropping the bogus ones the way real boards produce them (see
//! `tests/fixtures/upstream/sensors/`):
//! * Super-I/O chips (nct67xx, it87, w83xxx, f71xxx, ...) expose inputs that are wired to nothing; they
//!   float to 100–127 °C (`SYSTIN 120`, `AUXTIN0..4` 108–115 with `alarm 1`) or sit at 0/−1 °C
//!   (`PCH_* 0`, `AUXTIN3 -1`). A board thermistor never legitimately reads ≥ 100 °C or ≤ 0 °C while the
//!   machine runs, so such inputs are ignored (and listed, with the reason, under `ignored`).
//! * Placeholder thresholds such as NVMe `Sensor 1` `max 65261.85` / `min -273.15` are dropped.
//! * A fan header at 0 RPM with no minimum set has nothing plugged in; it is ignored. A fan with a
//!   minimum that reads 0 is a stopped fan and is kept (critical).
//! * Voltage alarms with unset limits (`min == max == 0`) are meaningless and are cleared.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::host::{Host, ToolError};

pub use crate::model::sensors::{Chip, Ignored, Kind, Level, Reading, Sensors, is_cpu_package};

pub const HWMON_DIR: &str = "/sys/class/hwmon";
/// Chips read at most (bounds a host with many NVMe drives or a disk shelf).
pub const MAX_CHIPS: usize = 64;
/// Attribute files per chip read at most.
pub const MAX_FILES_PER_CHIP: usize = 512;

/// One chip's attribute files as the kernel reports them (integers in the kernel's units).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RawChip {
    /// `hwmon3`.
    pub dir: String,
    /// The `name` file (`coretemp`, `nct6798`, `nvme`, `acpitz`).
    pub name: String,
    /// `device/model` where the device has one (NVMe drives), for display.
    pub model: Option<String>,
    /// `temp1_input` -> 37000, `fan2_min` -> 0, ...
    pub values: BTreeMap<String, i64>,
    /// `temp1` -> `Package id 0`.
    pub labels: BTreeMap<String, String>,
}

/// Attribute suffixes read; everything else (beep, type, offset, pulses, hyst, ...) is skipped.
const SUFFIXES: &[&str] = &[
    "input",
    "average",
    "min",
    "max",
    "crit",
    "lcrit",
    "alarm",
    "min_alarm",
    "max_alarm",
    "crit_alarm",
    "lcrit_alarm",
];

/// Splits `temp12_crit_alarm` into (`temp`, 12, `crit_alarm`).
fn split_attr(file: &str) -> Option<(&str, u32, &str)> {
    let prefix_len = file.find(|c: char| c.is_ascii_digit())?;
    let (prefix, rest) = file.split_at(prefix_len);
    let (num, suffix) = rest.split_once('_')?;
    Some((prefix, num.parse().ok()?, suffix))
}

/// Reads every chip under `/sys/class/hwmon`. No such directory (VMs, containers) is
/// [`ToolError::Missing`]; an unreadable attribute (some drivers return EIO for absent inputs, as
/// `sensors` shows with "Can't read") is skipped.
pub fn read_raw(host: &Host) -> Result<Vec<RawChip>, ToolError> {
    let mut dirs = host.list_dir(HWMON_DIR)?;
    // hwmon10 after hwmon9.
    dirs.sort_by_key(|d| (d.trim_start_matches("hwmon").parse::<u64>().unwrap_or(u64::MAX), d.clone()));
    let mut chips = Vec::new();
    for dir in dirs.into_iter().filter(|d| d.starts_with("hwmon")).take(MAX_CHIPS) {
        let base = format!("{HWMON_DIR}/{dir}");
        let Ok(files) = host.list_dir(&base) else { continue };
        let name = host.read_optional(&format!("{base}/name")).ok().flatten().unwrap_or_default();
        let model = host
            .read_optional(&format!("{base}/device/model"))
            .ok()
            .flatten()
            .map(|m| m.trim().to_string())
            .filter(|m| !m.is_empty());
        let mut chip = RawChip { dir, name: name.trim().to_string(), model, ..Default::default() };
        for file in files.iter().take(MAX_FILES_PER_CHIP) {
            let Some((prefix, n, suffix)) = split_attr(file) else { continue };
            if Kind::from_prefix(prefix).is_none() {
                continue;
            }
            let path = format!("{base}/{file}");
            if suffix == "label" {
                if let Ok(Some(l)) = host.read_optional(&path) {
                    let mut l = l.trim().to_string();
                    l.truncate(64);
                    chip.labels.insert(format!("{prefix}{n}"), l);
                }
            } else if SUFFIXES.contains(&suffix)
                && let Ok(Some(v)) = host.read_optional(&path)
                && let Ok(v) = v.trim().parse::<i64>()
            {
                chip.values.insert(file.clone(), v);
            }
        }
        chips.push(chip);
    }
    Ok(chips)
}

/// Super-I/O chips whose unconnected inputs float (see the module comment).
fn is_super_io(name: &str) -> bool {
    const PREFIXES: &[&str] =
        &["nct6", "nct7", "it87", "it86", "w83", "f71", "f81", "sch5", "asb100", "vt1211"];
    PREFIXES.iter().any(|p| name.starts_with(p))
}

/// A sane temperature threshold (drops `65261.85`, `-273.15` and the 0 that means "unset").
fn temp_limit(v: Option<f64>, allow_nonpositive: bool) -> Option<f64> {
    v.filter(|v| (-55.0..=200.0).contains(v) && (allow_nonpositive || *v > 0.0))
}

/// Turns raw chips into typed readings, dropping bogus inputs. Pure.
pub fn classify(raw: &[RawChip]) -> Sensors {
    let mut out = Sensors::default();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for c in raw {
        *seen.entry(c.name.as_str()).or_default() += 1;
    }
    let mut ordinal: BTreeMap<&str, usize> = BTreeMap::new();
    for c in raw {
        let id = if seen.get(c.name.as_str()).copied().unwrap_or(0) > 1 {
            let n = ordinal.entry(c.name.as_str()).or_default();
            *n += 1;
            format!("{}-{}", c.name, *n - 1)
        } else {
            c.name.clone()
        };
        let mut chip =
            Chip { id, name: c.name.clone(), dir: c.dir.clone(), model: c.model.clone(), readings: vec![] };
        // Sensors in (kind, index) order, each from its `_input` (or power's `_average`).
        let mut keys: Vec<(Kind, u32, String)> = Vec::new();
        for file in c.values.keys() {
            let Some((prefix, n, suffix)) = split_attr(file) else { continue };
            let Some(kind) = Kind::from_prefix(prefix) else { continue };
            if suffix == "input" || (kind == Kind::Power && suffix == "average") {
                let key = format!("{prefix}{n}");
                if !keys.iter().any(|(_, _, k)| *k == key) {
                    keys.push((kind, n, key));
                }
            }
        }
        keys.sort();
        for (kind, _, key) in keys {
            let get = |s: &str| c.values.get(&format!("{key}_{s}")).map(|v| *v as f64 / kind.divisor());
            let flag = |s: &str| c.values.get(&format!("{key}_{s}")).is_some_and(|v| *v != 0);
            let Some(value) = get("input").or_else(|| get("average")) else { continue };
            let label = c.labels.get(&key).cloned().unwrap_or_else(|| key.clone());
            let ignore = |reason| Ignored {
                chip: chip.id.clone(),
                key: key.clone(),
                label: label.clone(),
                value,
                reason,
            };
            let reading = match kind {
                Kind::Temp => {
                    if !(-40.0..=150.0).contains(&value) {
                        out.ignored.push(ignore("impossible temperature (placeholder value)"));
                        continue;
                    }
                    if is_super_io(&c.name) && !(0.0 < value && value < 100.0) {
                        out.ignored.push(ignore("unconnected Super-I/O input"));
                        continue;
                    }
                    let (min, max, crit) = (
                        temp_limit(get("min"), true),
                        temp_limit(get("max"), false),
                        temp_limit(get("crit"), false),
                    );
                    let crit_alarm = flag("crit_alarm") || crit.is_some_and(|c| value >= c);
                    let alarm = flag("alarm") || flag("max_alarm") || flag("crit_alarm") || flag("min_alarm");
                    let level = if crit_alarm {
                        Level::Crit
                    } else if alarm || max.is_some_and(|m| value >= m) {
                        Level::Warn
                    } else {
                        Level::Ok
                    };
                    Reading {
                        kind,
                        key: key.clone(),
                        label,
                        value,
                        unit: kind.unit(),
                        min,
                        max,
                        crit,
                        alarm,
                        level,
                    }
                }
                Kind::Fan => {
                    let min = get("min").filter(|m| *m > 0.0);
                    if value <= 0.0 && min.is_none() {
                        out.ignored.push(ignore("unpopulated fan header (0 RPM, no minimum set)"));
                        continue;
                    }
                    let alarm = min.is_some() && flag("alarm");
                    let level = match min {
                        Some(_) if value <= 0.0 => Level::Crit,
                        Some(m) if value < m || alarm => Level::Warn,
                        _ => Level::Ok,
                    };
                    Reading {
                        kind,
                        key: key.clone(),
                        label,
                        value,
                        unit: kind.unit(),
                        min,
                        max: None,
                        crit: None,
                        alarm,
                        level,
                    }
                }
                Kind::Voltage | Kind::Current | Kind::Power => {
                    let (mut min, mut max) = (get("min"), get("max"));
                    let crit = get("crit").filter(|v| *v > 0.0);
                    // Limits the BIOS never set read 0/0; their alarm flags mean nothing.
                    let limits_set = matches!((min, max), (Some(lo), Some(hi)) if hi > lo)
                        || (min.is_none() && max.is_some_and(|m| m > 0.0));
                    if !limits_set {
                        min = None;
                        max = None;
                    }
                    let alarm = limits_set && (flag("alarm") || flag("min_alarm") || flag("max_alarm"))
                        || crit.is_some() && flag("crit_alarm");
                    let out_of_range = min.is_some_and(|m| value < m) || max.is_some_and(|m| value > m);
                    let level = if crit.is_some_and(|c| value >= c) || flag("crit_alarm") && crit.is_some() {
                        Level::Crit
                    } else if alarm || out_of_range {
                        Level::Warn
                    } else {
                        Level::Ok
                    };
                    Reading {
                        kind,
                        key: key.clone(),
                        label,
                        value,
                        unit: kind.unit(),
                        min,
                        max,
                        crit,
                        alarm,
                        level,
                    }
                }
            };
            chip.readings.push(reading);
        }
        out.chips.push(chip);
    }
    out
}

/// Reads and classifies in one go.
pub fn read(host: &Host) -> Result<Sensors, ToolError> {
    read_raw(host).map(|raw| classify(&raw))
}

/// Makes a label usable in a series key: `Package id 0` -> `package_id_0`.
pub fn slug(label: &str) -> String {
    let mut s: String =
        label.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    while s.contains("__") {
        s = s.replace("__", "_");
    }
    s.trim_matches('_').chars().take(48).collect()
}

#[cfg(test)]
mod tests {
    // Tests read their fixtures and run their scripted peers directly (clippy.toml bans it elsewhere).
    #![allow(clippy::disallowed_methods)]

    use super::*;
    use std::path::PathBuf;
    use std::time::Duration;

    fn case_host(case: &str) -> Host {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hwmon").join(case);
        Host::replay(crate::host::Scenario::load(&dir).unwrap(), Duration::from_secs(1))
    }

    fn fixture(name: &str) -> serde_json::Value {
        let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/upstream/sensors").join(name);
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
            .unwrap()
    }

    /// `sensors -j` chip name -> hwmon dir, as the case's `chips.txt` (written by the generator) says.
    fn chip_map(case: &str) -> BTreeMap<String, String> {
        let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/hwmon")
            .join(case)
            .join("chips.txt");
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .filter_map(|l| l.split_once(' ').map(|(d, c)| (c.to_string(), d.to_string())))
            .collect()
    }

    fn divisor_of(sub: &str) -> f64 {
        let (prefix, _, _) = split_attr(sub).unwrap();
        Kind::from_prefix(prefix).map(Kind::divisor).unwrap_or(1.0)
    }

    /// Every value `sensors -j` reported is what hwmon reading of the reconstructed tree gives: the
    /// attribute (scaled to the kernel's unit) and the label (the JSON feature name).
    fn raw_tree_equals_sensors_json(case: &str, fixture_name: &str) -> Vec<RawChip> {
        let raw = read_raw(&case_host(case)).unwrap();
        let json = fixture(fixture_name);
        let map = chip_map(case);
        let mut checked = 0;
        for (chip_name, features) in json.as_object().unwrap() {
            let dir = &map[chip_name];
            let chip = raw.iter().find(|c| &c.dir == dir).unwrap_or_else(|| panic!("{dir} not read"));
            assert_eq!(chip.name, chip_name.split('-').next().unwrap(), "{chip_name}");
            for (feature, subs) in features.as_object().unwrap() {
                let Some(subs) = subs.as_object() else { continue }; // "Adapter"
                for (sub, v) in subs {
                    let Some((prefix, n, suffix)) = split_attr(sub) else { continue };
                    if Kind::from_prefix(prefix).is_none() || !SUFFIXES.contains(&suffix) {
                        continue;
                    }
                    let want = v.as_f64().unwrap();
                    let got = chip.values.get(sub).unwrap_or_else(|| panic!("{chip_name} {sub} not read"));
                    let got = *got as f64 / divisor_of(sub);
                    assert!((got - want).abs() < 1e-9, "{chip_name} {sub}: hwmon {got} vs sensors {want}");
                    let key = format!("{prefix}{n}");
                    let label = chip.labels.get(&key).cloned().unwrap_or(key);
                    assert_eq!(&label, feature, "{chip_name} {sub}");
                    checked += 1;
                }
            }
        }
        assert!(checked > 50, "only {checked} values compared");
        raw
    }

    #[test]
    fn asrock_nct6798_tree_matches_sensors_and_drops_bogus_inputs() {
        let raw = raw_tree_equals_sensors_json(
            "asrock-nct6798",
            "hjs_sensors-j_asrock_nct6798_bogus_auxtin_alarms.json",
        );
        let s = classify(&raw);
        let nct = s.chips.iter().find(|c| c.name == "nct6798").unwrap();
        let temps: Vec<(&str, f64)> = nct
            .readings
            .iter()
            .filter(|r| r.kind == Kind::Temp)
            .map(|r| (r.label.as_str(), r.value))
            .collect();
        assert_eq!(temps, vec![("CPUTIN", 37.0), ("PECI Agent 0", 37.5)], "floating inputs are dropped");
        let ignored: Vec<&str> =
            s.ignored.iter().filter(|i| i.chip == "nct6798").map(|i| i.label.as_str()).collect();
        for bogus in
            ["SYSTIN", "AUXTIN0", "AUXTIN1", "AUXTIN2", "AUXTIN3", "AUXTIN4", "PCH_CHIP_TEMP", "fan3", "fan7"]
        {
            assert!(ignored.contains(&bogus), "{bogus} not ignored: {ignored:?}");
        }
        let fans: Vec<(&str, f64)> = nct
            .readings
            .iter()
            .filter(|r| r.kind == Kind::Fan)
            .map(|r| (r.label.as_str(), r.value))
            .collect();
        assert_eq!(fans, vec![("fan1", 1278.0), ("fan2", 1278.0)]);
        // in1..in14 raise `alarm 1` with min = max = 0: limits unset, so no alarm.
        let volts: Vec<&Reading> = nct.readings.iter().filter(|r| r.kind == Kind::Voltage).collect();
        assert_eq!(volts.len(), 15);
        assert!(volts.iter().all(|r| !r.alarm && r.level == Level::Ok), "{volts:?}");
        assert_eq!(volts[0].max, Some(1.744));
        assert_eq!(volts[0].value, 0.696);
        // NVMe `Sensor 1` keeps its reading but not the 65261.85 / -273.15 placeholder limits.
        let nvme = s.chips.iter().find(|c| c.name == "nvme").unwrap();
        let s1 = nvme.readings.iter().find(|r| r.label == "Sensor 1").unwrap();
        assert_eq!((s1.value, s1.max, s1.min), (34.85, None, None));
        let comp = nvme.readings.iter().find(|r| r.label == "Composite").unwrap();
        assert_eq!((comp.max, comp.crit, comp.min), (Some(82.85), Some(84.85), Some(-0.15)));
        let core = s.chips.iter().find(|c| c.name == "coretemp").unwrap();
        assert_eq!(core.readings.len(), 15);
        assert!(is_cpu_package(core, &core.readings[0]));
        assert!(s.readings(Kind::Temp).all(|(_, r)| r.level == Level::Ok));
    }

    #[test]
    fn xeon_tree_matches_sensors_and_has_no_fans() {
        let raw = raw_tree_equals_sensors_json(
            "xeon-no-fans",
            "hjs_sensors-j_xeon_coretemp_nvme_no_fan_inputs.json",
        );
        let s = classify(&raw);
        assert!(s.ignored.is_empty(), "{:?}", s.ignored);
        assert_eq!(s.readings(Kind::Fan).count(), 0);
        let ids: Vec<&str> = s.chips.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, vec!["nvme-0", "acpitz", "coretemp", "nvme-1"], "two NVMe chips get distinct ids");
        let acpi = &s.chips[1].readings[0];
        assert_eq!(
            (acpi.label.as_str(), acpi.value, acpi.crit, acpi.max),
            ("temp1", 27.8, Some(105.0), None)
        );
        assert_eq!(s.readings(Kind::Temp).count(), 1 + 1 + 17 + 1);
    }

    fn chip(name: &str, values: &[(&str, i64)], labels: &[(&str, &str)]) -> RawChip {
        RawChip {
            dir: "hwmon0".into(),
            name: name.into(),
            model: None,
            values: values.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    #[test]
    fn levels_follow_limits_and_alarms() {
        let s = classify(&[chip(
            "coretemp",
            &[
                ("temp1_input", 85_000),
                ("temp1_max", 80_000),
                ("temp1_crit", 100_000),
                ("temp2_input", 101_000),
                ("temp2_crit", 100_000),
                ("temp3_input", -273_150),
            ],
            &[("temp1", "Package id 0")],
        )]);
        let r = &s.chips[0].readings;
        assert_eq!((r[0].level, r[1].level), (Level::Warn, Level::Crit));
        assert_eq!(s.ignored[0].reason, "impossible temperature (placeholder value)");
        let s = classify(&[chip(
            "it8728",
            &[
                ("fan1_input", 0),
                ("fan1_min", 600),
                ("fan2_input", 500),
                ("fan2_min", 600),
                ("fan2_alarm", 1),
                ("in0_input", 13_100),
                ("in0_min", 10_800),
                ("in0_max", 13_200),
                ("in1_input", 14_000),
                ("in1_min", 10_800),
                ("in1_max", 13_200),
                ("power1_average", 95_500_000),
                ("curr1_input", 1_250),
            ],
            &[("in0", "+12V")],
        )]);
        let r = &s.chips[0].readings;
        assert_eq!(
            (r[0].kind, r[0].level),
            (Kind::Fan, Level::Crit),
            "a fan with a minimum reading 0 stopped"
        );
        assert_eq!((r[1].level, r[1].alarm), (Level::Warn, true));
        assert_eq!((r[2].label.as_str(), r[2].level), ("+12V", Level::Ok));
        assert_eq!(r[3].level, Level::Warn);
        let p = r.iter().find(|r| r.kind == Kind::Power).unwrap();
        assert_eq!((p.value, p.unit), (95.5, "W"));
        assert_eq!(r.iter().find(|r| r.kind == Kind::Current).unwrap().value, 1.25);
    }

    #[test]
    fn no_hwmon_dir_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("manifest.toml"), "[scenario]\nname='empty'\n").unwrap();
        let host = Host::replay(crate::host::Scenario::load(dir.path()).unwrap(), Duration::from_secs(1));
        assert!(read_raw(&host).unwrap_err().is_missing());
    }

    #[test]
    fn slugs_and_attr_names() {
        assert_eq!(slug("Package id 0"), "package_id_0");
        assert_eq!(slug("+3.3V"), "3_3v");
        assert_eq!(split_attr("temp12_crit_alarm"), Some(("temp", 12, "crit_alarm")));
        assert_eq!(split_attr("name"), None);
    }
}
