//! The hardware worker: hwmon sensors every `hardware.interval_s`, IPMI sensors and the SEL every
//! `hardware.ipmi_interval_s` (only where `/dev/ipmi0` exists, each ipmitool run killed at
//! `ipmi_timeout_s`), and the static inventory (CPU, DMI, memory modules, PCI) at start and hourly.
//! Each part is a [`Section`] like the inventory's: a host without hwmon, a BMC or dmidecode reports
//! `unavailable` with the reason, a failing read keeps the last good data marked `stale`.
//!
//! Temperatures go into the auxiliary history as `temp.<chip>.<label>` (the CPU package first, then
//! the other non-core sensors, then cores, at most [`MAX_TEMP_SERIES`]) so the page can chart them.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::config::HardwareCfg;
use crate::host::{Host, ToolError};
pub use crate::model::hardware::{HardwareSnapshot, TempSeries};
use crate::model::section::Section;
use crate::series::Series;
use crate::tools::dmi;
use crate::tools::hwmon::{self, Kind, Sensors};
use crate::tools::ipmi;

/// Temperature series recorded at most.
pub const MAX_TEMP_SERIES: usize = 12;
/// The static inventory is re-read this often, seconds.
pub const STATIC_INTERVAL_S: i64 = 3600;

/// What the worker does and how often; from `[hardware]` (tests set the fields directly).
#[derive(Debug, Clone)]
pub struct Options {
    pub sensors_every_s: i64,
    /// `hardware.ipmi = "auto"`; false for "off".
    pub ipmi: bool,
    pub ipmi_every_s: i64,
    pub ipmi_timeout: Duration,
    pub static_every_s: i64,
    /// The ipmitool program (a stand-in in tests).
    pub ipmitool: String,
    /// The BMC device whose presence turns IPMI on.
    pub ipmi_device: String,
}

impl Options {
    /// How often the worker ticks (sensors are the most frequent source).
    pub fn period(&self) -> Duration {
        Duration::from_secs(self.sensors_every_s as u64)
    }

    pub fn from_config(cfg: &HardwareCfg) -> Options {
        Options {
            sensors_every_s: cfg.interval_s.max(1) as i64,
            ipmi: cfg.ipmi != "off",
            ipmi_every_s: cfg.ipmi_interval_s.max(5) as i64,
            ipmi_timeout: Duration::from_secs(cfg.ipmi_timeout_s.max(1)),
            static_every_s: STATIC_INTERVAL_S,
            ipmitool: "ipmitool".into(),
            ipmi_device: ipmi::DEVICE.into(),
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options::from_config(&HardwareCfg::default())
    }
}

/// Folds a failed read in (see [`super::fold`]), with this part's own words for a missing source.
fn failed<T>(s: &mut Section<T>, what: &str, e: ToolError, missing_reason: impl FnOnce() -> String) {
    super::fold_err(s, what, e, |_| missing_reason());
}

pub struct HardwarePoller {
    pub state: HardwareSnapshot,
    opts: Options,
    last_sensors: Option<i64>,
    last_ipmi: Option<i64>,
    last_static: Option<i64>,
    /// SEL record ids of the previous read (`None` before the first).
    seen_sel: Option<HashSet<String>>,
    described: HashSet<String>,
}

fn due(last: &mut Option<i64>, every: i64, now: i64) -> bool {
    let d = last.is_none_or(|t| now - t >= every || now < t);
    if d {
        *last = Some(now);
    }
    d
}

impl HardwarePoller {
    pub fn new(opts: Options) -> Self {
        HardwarePoller {
            state: HardwareSnapshot::default(),
            opts,
            last_sensors: None,
            last_ipmi: None,
            last_static: None,
            seen_sel: None,
            described: HashSet::new(),
        }
    }

    /// Runs what is due at `now_ms`; temperatures are recorded into `series`. Returns whether the
    /// snapshot changed.
    pub async fn step(&mut self, host: &Host, series: &Series, now_ms: i64) -> bool {
        let now = now_ms.div_euclid(1000);
        let mut ran = false;
        if due(&mut self.last_static, self.opts.static_every_s, now) {
            self.read_static(host, now).await;
            ran = true;
        }
        if due(&mut self.last_sensors, self.opts.sensors_every_s, now) {
            self.read_sensors(host, series, now_ms);
            ran = true;
        }
        if due(&mut self.last_ipmi, self.opts.ipmi_every_s, now) {
            self.read_ipmi(host, now).await;
            ran = true;
        }
        ran
    }

    fn read_sensors(&mut self, host: &Host, series: &Series, now_ms: i64) {
        let now = now_ms.div_euclid(1000);
        let s = &mut self.state.sensors;
        match hwmon::read(host) {
            Ok(sensors) if sensors.chips.iter().all(|c| c.readings.is_empty()) => {
                s.unavailable("no hwmon sensors on this host");
            }
            Ok(sensors) => {
                let picked = pick_temps(&sensors);
                for (t, v) in &picked {
                    if self.described.insert(t.key.clone()) {
                        series.describe(&t.key, &format!("{} {}", t.chip, t.label), "celsius");
                    }
                    series.record(&t.key, now_ms, *v);
                }
                self.state.temp_series = picked.into_iter().map(|(t, _)| t).collect();
                s.ok(sensors, now);
            }
            Err(e) => failed(s, "hwmon", e, || "no hwmon sensors on this host".into()),
        }
    }

    async fn read_ipmi(&mut self, host: &Host, now: i64) {
        let (sensors, sel) = (&mut self.state.ipmi, &mut self.state.sel);
        if !self.opts.ipmi {
            let why = "IPMI monitoring is off (hardware.ipmi = \"off\")";
            sensors.unavailable(why);
            sel.unavailable(why);
            return;
        }
        if !host.exists(&self.opts.ipmi_device) {
            let why = format!(
                "no {} (no BMC, or the ipmi_si/ipmi_devintf modules are not loaded)",
                self.opts.ipmi_device
            );
            sensors.unavailable(why.clone());
            sel.unavailable(why);
            return;
        }
        let (tool, timeout) = (self.opts.ipmitool.clone(), self.opts.ipmi_timeout);
        let missing = || "ipmitool not installed".to_string();
        match ipmi::sensors(host, &tool, timeout).await {
            Ok(list) => sensors.ok(list, now),
            Err(e) => {
                let is_missing = e.is_missing();
                failed(sensors, "ipmitool sensor", e, missing);
                if is_missing {
                    sel.unavailable(missing());
                    return;
                }
            }
        }
        match ipmi::sel(host, &tool, timeout).await {
            Ok(mut entries) => {
                let ids: HashSet<String> = entries.iter().map(|e| e.id.clone()).collect();
                if let Some(prev) = &self.seen_sel {
                    for e in &mut entries {
                        e.new = !prev.contains(&e.id);
                    }
                }
                self.seen_sel = Some(ids);
                sel.ok(entries, now);
            }
            Err(e) => failed(sel, "ipmitool sel elist", e, missing),
        }
    }

    async fn read_static(&mut self, host: &Host, now: i64) {
        let st = &mut self.state;
        match dmi::read_cpu(host) {
            Ok(c) => st.cpu.ok(c, now),
            Err(e) => failed(&mut st.cpu, "cpuinfo", e, || "/proc/cpuinfo is not readable".into()),
        }
        match dmi::read_dmi(host) {
            Ok(d) => st.system.ok(d, now),
            Err(e) => {
                failed(&mut st.system, "dmi", e, || "no DMI data (/sys/class/dmi/id) on this host".into())
            }
        }
        match dmi::memory(host).await {
            Ok(m) if m.modules.is_empty() && m.empty_slots == 0 => {
                st.memory.unavailable("dmidecode lists no memory devices (virtual machine?)")
            }
            Ok(m) => st.memory.ok(m, now),
            Err(e) => failed(&mut st.memory, "dmidecode", e, || "dmidecode not installed".into()),
        }
        match dmi::read_pci(host) {
            Ok(mut devs) => {
                let names = dmi::lspci_names(host).await;
                match &names {
                    Ok(n) => dmi::apply_names(&mut devs, n),
                    Err(e) => tracing::debug!(error = %e, "no lspci names; showing PCI ids"),
                }
                st.pci.ok(devs, now);
                if let Err(e) = names {
                    st.pci.reason = Some(if e.is_missing() {
                        "lspci not installed (pciutils); showing numeric ids".into()
                    } else {
                        format!("no device names: {e}")
                    });
                }
            }
            Err(e) => failed(&mut st.pci, "pci", e, || "no PCI bus in sysfs on this host".into()),
        }
    }
}

/// Picks the temperatures worth a history: the CPU package first, then other non-core sensors, then
/// cores, at most [`MAX_TEMP_SERIES`].
fn pick_temps(s: &Sensors) -> Vec<(TempSeries, f64)> {
    let mut all: Vec<(u8, TempSeries, f64)> = s
        .readings(Kind::Temp)
        .map(|(chip, r)| {
            let rank = if hwmon::is_cpu_package(chip, r) {
                0
            } else if r.label.starts_with("Core ") {
                2
            } else {
                1
            };
            let key = format!("temp.{}.{}", chip.id, hwmon::slug(&r.label));
            (rank, TempSeries { key, chip: chip.id.clone(), label: r.label.clone() }, r.value)
        })
        .collect();
    all.sort_by_key(|(rank, _, _)| *rank);
    let mut seen = HashSet::new();
    all.into_iter()
        .filter(|(_, t, _)| seen.insert(t.key.clone()))
        .take(MAX_TEMP_SERIES)
        .map(|(_, t, v)| (t, v))
        .collect()
}

/// The worker loop (wired by `app::run`): sensors, IPMI and static hardware into `out`.
/// `tick` should run every `opts.sensors_every_s` ([`Options::period`]).
pub async fn run(
    host: Arc<Host>,
    series: Arc<Series>,
    opts: Options,
    out: watch::Sender<Arc<HardwareSnapshot>>,
    mut tick: super::Periodic,
) {
    let cancel = tick.cancel().clone();
    let mut poller = HardwarePoller::new(opts);
    while tick.next().await {
        let step = poller.step(&host, &series, tick.now_ms());
        let changed = tokio::select! {
            _ = cancel.cancelled() => break,
            c = step => c,
        };
        if changed {
            out.send_replace(Arc::new(poller.state.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_package_first_and_bounds_the_series() {
        let raw = crate::tools::hwmon::RawChip {
            dir: "hwmon0".into(),
            name: "coretemp".into(),
            model: None,
            values: (1..=20).map(|i| (format!("temp{i}_input"), 40_000 + i)).collect(),
            labels: (1..=20)
                .map(|i| {
                    (format!("temp{i}"), if i == 20 { "Package id 0".into() } else { format!("Core {i}") })
                })
                .collect(),
        };
        let s = hwmon::classify(&[raw]);
        let picked = pick_temps(&s);
        assert_eq!(picked.len(), MAX_TEMP_SERIES);
        assert_eq!(picked[0].0.key, "temp.coretemp.package_id_0");
        assert_eq!(picked[0].1, 40.02);
    }
}
