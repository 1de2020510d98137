//! CPU & temperature: sustained usage over a true window of samples with recovery hysteresis, load
//! per core, CPU pressure, CPU package temperature, fans.

use serde_json::json;

use super::{graded, prev_severity, unknown};
use crate::health::model::{Category, Finding, Rule, Severity, Snapshots, Thresholds};
use crate::model::sensors::{Kind, Reading};

const CAT: Category = Category::Cpu;

pub const USAGE: Rule = Rule {
    id: "cpu_usage",
    category: CAT,
    checks: &[("cpu_usage", "Sustained CPU usage")],
    fast: true,
    run: usage,
};
pub const LOAD: Rule =
    Rule { id: "cpu_load", category: CAT, checks: &[("cpu_load", "Load per core")], fast: false, run: load };
pub const PRESSURE: Rule = Rule {
    id: "cpu_pressure",
    category: CAT,
    checks: &[("cpu_pressure", "CPU pressure (PSI)")],
    fast: false,
    run: pressure,
};
pub const TEMPERATURE: Rule = Rule {
    id: "cpu_temperature",
    category: CAT,
    checks: &[("cpu_temp", "CPU temperature")],
    fast: true,
    run: temperature,
};
pub const FANS: Rule = Rule { id: "fans", category: CAT, checks: &[("fan", "Fans")], fast: false, run: fans };

/// Mean busy % over the last `window_ms`, weighted by each sample's interval, and the seconds covered.
pub fn window_busy(s: &Snapshots, now_ms: i64, window_ms: i64) -> Option<(f64, f64)> {
    let mut sum = 0.0;
    let mut secs = 0.0;
    for p in s.recent.iter().filter(|p| p.ts > now_ms - window_ms && p.ts <= now_ms) {
        let dt = p.interval_s.max(0.0);
        sum += p.cpu_busy * dt;
        secs += dt;
    }
    (secs > 0.0).then(|| (sum / secs, secs))
}

fn usage(s: &Snapshots, t: &Thresholds, now: i64) -> Vec<Finding> {
    const KEY: &str = "cpu_usage:host";
    let window_min = t.get("cpu.window_min");
    let window_ms = (window_min * 60_000.0) as i64;
    let Some((mean, covered)) = window_busy(s, now, window_ms) else {
        return vec![unknown(CAT, KEY, "no CPU samples yet")];
    };
    let (warn, crit) = (t.get("cpu.warning_pct"), t.get("cpu.critical_pct"));
    let was = prev_severity(s, KEY);
    // A window not yet full (just started) can only confirm a level already reached, never raise one.
    let full = covered >= window_ms as f64 / 1000.0 * 0.9;
    let mut sev = graded(mean, warn, crit, t.get("cpu.hysteresis_pct"), was);
    if !full && sev > was {
        sev = was;
    }
    let reason = match sev {
        Severity::Ok if !full => format!("CPU {mean:.0} % over the last {:.0} s (window filling)", covered),
        Severity::Ok => format!("CPU {mean:.0} % over {window_min:.0} min"),
        _ => format!(
            "CPU {mean:.0} % sustained over {window_min:.0} min (≥ {:.0} %)",
            if sev == Severity::Critical { crit } else { warn }
        ),
    };
    vec![Finding::new(CAT, KEY, sev, reason).details(json!({
        "mean_pct": mean, "window_s": covered, "warning_pct": warn, "critical_pct": crit,
    }))]
}

fn load(s: &Snapshots, t: &Thresholds, _now: i64) -> Vec<Finding> {
    const KEY: &str = "cpu_load:host";
    let Some(v) = &s.vitals else { return vec![unknown(CAT, KEY, "no vitals sample yet")] };
    let threads = v.sample.cpu.cores.len().max(1) as f64;
    let per_core = v.sample.load[1] / threads;
    let warn = t.get("cpu.load_per_core");
    let sev = if per_core >= warn { Severity::Warning } else { Severity::Ok };
    let reason =
        format!("load {:.2} (5 min) on {threads:.0} threads = {per_core:.2} per thread", v.sample.load[1]);
    vec![Finding::new(CAT, KEY, sev, reason).details(
        json!({"load5": v.sample.load[1], "threads": threads, "per_core": per_core, "warning": warn}),
    )]
}

fn pressure(s: &Snapshots, t: &Thresholds, _now: i64) -> Vec<Finding> {
    const KEY: &str = "cpu_pressure:host";
    let Some(v) = &s.vitals else { return vec![unknown(CAT, KEY, "no vitals sample yet")] };
    let Some(psi) = &v.sample.psi else {
        return vec![Finding::new(CAT, KEY, Severity::Ok, "the kernel does not report pressure (PSI)")];
    };
    let some = psi.cpu.some_avg300;
    let warn = t.get("cpu.psi_warning_pct");
    let sev = if some >= warn { Severity::Warning } else { Severity::Ok };
    vec![
        Finding::new(CAT, KEY, sev, format!("tasks waited for CPU {some:.1} % of the last 5 min"))
            .details(json!({"some_avg300": some, "warning_pct": warn})),
    ]
}

fn temperature(s: &Snapshots, t: &Thresholds, _now: i64) -> Vec<Finding> {
    const KEY: &str = "cpu_temp:host";
    // The CPU package sensor from hwmon with its own max/crit when the hardware worker has it, else
    // the sampler's package temperature against the configured 80/90 °C.
    let pkg = package_sensor(s);
    let temp = match (pkg, s.vitals.as_ref()) {
        (Some(r), _) => r.value,
        (None, Some(v)) => match v.sample.cpu_temp_c {
            Some(t) => t,
            None => return vec![Finding::new(CAT, KEY, Severity::Ok, "no CPU temperature sensor")],
        },
        (None, None) => return vec![unknown(CAT, KEY, "no vitals sample yet")],
    };
    let limits =
        pkg.map(|r| (r.max.filter(|v| *v > 0.0), r.crit.filter(|v| *v > 0.0))).unwrap_or((None, None));
    let (warn, crit, from) = match limits {
        (Some(w), Some(c)) if w < c => (w, c, "sensor max/crit"),
        (_, Some(c)) => (t.get("temp.warning_c").min(c), c, "sensor crit"),
        (Some(w), None) => (w, t.get("temp.critical_c").max(w), "sensor max"),
        (None, None) => (t.get("temp.warning_c"), t.get("temp.critical_c"), "configured"),
    };
    let sev = graded(temp, warn, crit, t.get("temp.hysteresis_c"), prev_severity(s, KEY));
    let reason = match sev {
        Severity::Ok => format!("CPU package {temp:.0} °C"),
        _ => format!(
            "CPU package {temp:.0} °C (≥ {:.0} °C, {from})",
            if sev == Severity::Critical { crit } else { warn }
        ),
    };
    vec![
        Finding::new(CAT, KEY, sev, reason)
            .details(json!({"temp_c": temp, "warning_c": warn, "critical_c": crit, "limits": from})),
    ]
}

/// The CPU package temperature in hwmon: coretemp's `Package id N` (the hottest socket), k10temp's
/// `Tctl`/`Tdie`, zenpower's `Tdie`.
fn package_sensor(s: &Snapshots) -> Option<&Reading> {
    let sensors = s.hardware.sensors.data.as_ref()?;
    sensors
        .chips
        .iter()
        .filter(|c| matches!(c.name.as_str(), "coretemp" | "k10temp" | "zenpower"))
        .flat_map(|c| c.readings.iter())
        .filter(|r| r.kind == Kind::Temp)
        .filter(|r| r.label.starts_with("Package id") || r.label == "Tctl" || r.label == "Tdie")
        .max_by(|a, b| a.value.total_cmp(&b.value))
}

/// Fans below their minimum (hwmon `fanN_min`); a fan without a minimum reading 0 is an empty
/// header, not a stopped fan. IPMI fans are in the IPMI check (their thresholds come from the BMC).
fn fans(s: &Snapshots, _t: &Thresholds, _now: i64) -> Vec<Finding> {
    let Some(sensors) = s.hardware.sensors.data.as_ref() else { return Vec::new() };
    let mut out = Vec::new();
    for c in &sensors.chips {
        for r in c.readings.iter().filter(|r| r.kind == Kind::Fan) {
            let Some(min) = r.min.filter(|m| *m > 0.0) else { continue };
            let key = format!("fan:{}/{}", c.id, r.label);
            let (sev, reason) = if r.value <= 0.0 {
                (
                    Severity::Critical,
                    format!("fan {} ({}) has stopped (minimum {min:.0} RPM)", r.label, c.name),
                )
            } else if r.value < min || r.alarm {
                (
                    Severity::Warning,
                    format!(
                        "fan {} ({}) at {:.0} RPM, below its minimum {min:.0} RPM",
                        r.label, c.name, r.value
                    ),
                )
            } else {
                (Severity::Ok, format!("fan {} ({}) at {:.0} RPM", r.label, c.name, r.value))
            };
            out.push(Finding::new(CAT, key, sev, reason).details(json!({"rpm": r.value, "min_rpm": min})));
        }
    }
    out
}
