//! Every configurable health threshold with its default and valid range. A rule reads only keys
//! declared here (a unit test scans the rules' sources for `t.get("…")` and checks each key); the API
//! validates writes against `min..=max` and shows the default beside the value.

use super::model::{Category, ThresholdDef};

const fn def(
    key: &'static str,
    category: Category,
    label: &'static str,
    unit: &'static str,
    default: f64,
    min: f64,
    max: f64,
) -> ThresholdDef {
    ThresholdDef { key, category, label, unit, default, min, max }
}

use Category::*;

pub const THRESHOLDS: &[ThresholdDef] = &[
    // CPU & temperature
    def("cpu.warning_pct", Cpu, "CPU usage warning (sustained)", "%", 85.0, 10.0, 100.0),
    def("cpu.critical_pct", Cpu, "CPU usage critical (sustained)", "%", 95.0, 10.0, 100.0),
    def("cpu.window_min", Cpu, "CPU sustain window", "min", 5.0, 1.0, 60.0),
    def("cpu.hysteresis_pct", Cpu, "CPU recovery margin below the threshold", "%", 5.0, 0.0, 30.0),
    def("cpu.load_per_core", Cpu, "Load average (5 min) per core, warning", "", 2.0, 0.5, 50.0),
    def("cpu.psi_warning_pct", Cpu, "CPU pressure (PSI some, 5 min) warning", "%", 40.0, 1.0, 100.0),
    def(
        "temp.warning_c",
        Cpu,
        "CPU temperature warning (when the sensor has no max)",
        "°C",
        80.0,
        40.0,
        120.0,
    ),
    def(
        "temp.critical_c",
        Cpu,
        "CPU temperature critical (when the sensor has no crit)",
        "°C",
        90.0,
        40.0,
        130.0,
    ),
    def("temp.hysteresis_c", Cpu, "Temperature recovery margin", "°C", 3.0, 0.0, 20.0),
    // Memory
    def("memory.warning_pct", Memory, "RAM usage warning (ARC counted as cache)", "%", 85.0, 10.0, 100.0),
    def("memory.critical_pct", Memory, "RAM usage critical (ARC counted as cache)", "%", 95.0, 10.0, 100.0),
    def("memory.hysteresis_pct", Memory, "RAM recovery margin below the threshold", "%", 3.0, 0.0, 30.0),
    def("swap.warning_pct", Memory, "Swap usage warning", "%", 60.0, 1.0, 100.0),
    def("swap.critical_pct", Memory, "Swap usage critical", "%", 90.0, 1.0, 100.0),
    def("memory.psi_warning_pct", Memory, "Memory pressure (PSI some, 1 min) warning", "%", 20.0, 1.0, 100.0),
    def("memory.oom_window_h", Memory, "OOM kills are reported for", "h", 24.0, 1.0, 72.0),
    // Storage
    def(
        "storage.warning_pct",
        Storage,
        "Storage, pool, thin pool and filesystem usage warning",
        "%",
        85.0,
        10.0,
        100.0,
    ),
    def(
        "storage.critical_pct",
        Storage,
        "Storage, pool, thin pool and filesystem usage critical",
        "%",
        95.0,
        10.0,
        100.0,
    ),
    def("storage.thin_meta_warning_pct", Storage, "LVM-thin metadata usage warning", "%", 85.0, 10.0, 100.0),
    def(
        "storage.thin_meta_critical_pct",
        Storage,
        "LVM-thin metadata usage critical",
        "%",
        95.0,
        10.0,
        100.0,
    ),
    def("storage.inodes_warning_pct", Storage, "Filesystem inode usage warning", "%", 90.0, 10.0, 100.0),
    def("storage.inodes_critical_pct", Storage, "Filesystem inode usage critical", "%", 98.0, 10.0, 100.0),
    // Disks
    def("disks.wear_warning_pct", Disks, "SSD wear warning", "%", 80.0, 10.0, 100.0),
    def("disks.wear_critical_pct", Disks, "SSD wear critical", "%", 90.0, 10.0, 100.0),
    def("disks.spare_warning_pct", Disks, "NVMe available spare warning (below)", "%", 20.0, 1.0, 100.0),
    def("disks.reallocated_warning", Disks, "Reallocated sectors warning", "sectors", 1.0, 1.0, 100000.0),
    def("disks.reallocated_critical", Disks, "Reallocated sectors critical", "sectors", 100.0, 1.0, 100000.0),
    def(
        "disks.pending_critical",
        Disks,
        "Pending/uncorrectable sectors critical",
        "sectors",
        10.0,
        1.0,
        100000.0,
    ),
    def("disks.temp_hdd_warning_c", Disks, "HDD temperature warning", "°C", 50.0, 30.0, 90.0),
    def("disks.temp_hdd_critical_c", Disks, "HDD temperature critical", "°C", 60.0, 30.0, 100.0),
    def("disks.temp_ssd_warning_c", Disks, "SATA SSD temperature warning", "°C", 60.0, 30.0, 100.0),
    def("disks.temp_ssd_critical_c", Disks, "SATA SSD temperature critical", "°C", 70.0, 30.0, 110.0),
    def("disks.temp_nvme_warning_c", Disks, "NVMe temperature warning", "°C", 70.0, 30.0, 110.0),
    def("disks.temp_nvme_critical_c", Disks, "NVMe temperature critical", "°C", 80.0, 30.0, 120.0),
    def("disks.scrub_max_age_days", Disks, "ZFS scrub older than", "days", 35.0, 1.0, 365.0),
    def(
        "disks.io_error_window_h",
        Disks,
        "Disk I/O errors from the journal reported for",
        "h",
        24.0,
        1.0,
        72.0,
    ),
    // VMs & CTs
    def(
        "guests.onboot_grace_min",
        Guests,
        "Host uptime before stopped onboot guests alert",
        "min",
        10.0,
        0.0,
        240.0,
    ),
    def("guests.lock_max_h", Guests, "Guest locked longer than", "h", 6.0, 0.5, 168.0),
    def("guests.failed_start_window_h", Guests, "Failed guest starts reported for", "h", 24.0, 1.0, 168.0),
    // Network
    def(
        "network.error_rate_warning",
        Network,
        "Interface errors+drops per second, warning",
        "/s",
        10.0,
        0.1,
        100000.0,
    ),
    def("network.gateway_loss_warning_pct", Network, "Gateway packet loss warning", "%", 20.0, 1.0, 100.0),
    def("network.gateway_latency_warning_ms", Network, "Gateway latency warning", "ms", 100.0, 1.0, 10000.0),
    // PVE services
    def(
        "services.startup_grace_min",
        Services,
        "Boot grace before stopped services alert",
        "min",
        5.0,
        0.0,
        60.0,
    ),
    def("services.time_offset_warning_ms", Services, "Clock offset warning", "ms", 500.0, 1.0, 600000.0),
    def("services.time_offset_critical_ms", Services, "Clock offset critical", "ms", 5000.0, 1.0, 600000.0),
    // Logs
    def("logs.window_h", Logs, "Critical log patterns reported for", "h", 24.0, 1.0, 72.0),
    def(
        "logs.cascade_count",
        Logs,
        "Cascade: one message repeated in 5 minutes at least",
        "times",
        20.0,
        3.0,
        100000.0,
    ),
    def(
        "logs.spike_factor",
        Logs,
        "Spike: errors in the last 10 min vs the hourly average",
        "×",
        5.0,
        1.5,
        1000.0,
    ),
    def("logs.spike_min", Logs, "Spike: errors in the last 10 min at least", "messages", 50.0, 5.0, 100000.0),
    def(
        "logs.persistent_hours",
        Logs,
        "Persistent: one message seen in this many of the last 24 hours",
        "h",
        6.0,
        2.0,
        24.0,
    ),
    // Updates & backups
    def("updates.pending_warning", Updates, "Pending updates warning", "packages", 100.0, 1.0, 10000.0),
    def(
        "updates.security_warning",
        Updates,
        "Pending security updates warning",
        "packages",
        1.0,
        1.0,
        10000.0,
    ),
    def("backups.max_age_days", Updates, "Last backup older than (warning)", "days", 2.0, 0.5, 365.0),
    def("backups.critical_age_days", Updates, "Last backup older than (critical)", "days", 7.0, 0.5, 365.0),
    def("backups.failed_window_h", Updates, "Failed backup jobs reported for", "h", 48.0, 1.0, 720.0),
    // Security & power
    def(
        "security.failed_logins_warning",
        Security,
        "Failed logins in the window, warning",
        "logins",
        10.0,
        1.0,
        100000.0,
    ),
    def(
        "security.failed_logins_critical",
        Security,
        "Failed logins in the window, critical",
        "logins",
        100.0,
        1.0,
        100000.0,
    ),
    def("security.failed_login_window_min", Security, "Failed login window", "min", 60.0, 5.0, 4320.0),
    def(
        "security.cert_warning_days",
        Security,
        "Certificate expires within (warning)",
        "days",
        30.0,
        1.0,
        365.0,
    ),
    def(
        "security.cert_critical_days",
        Security,
        "Certificate expires within (critical)",
        "days",
        7.0,
        0.0,
        365.0,
    ),
    def("ups.charge_warning_pct", Security, "UPS battery charge warning", "%", 50.0, 1.0, 100.0),
    def("ups.runtime_warning_min", Security, "UPS runtime warning", "min", 10.0, 1.0, 600.0),
];

pub fn find(key: &str) -> Option<&'static ThresholdDef> {
    THRESHOLDS.iter().find(|d| d.key == key)
}

#[cfg(test)]
mod tests {
    // Tests read their fixtures and run their scripted peers directly (clippy.toml bans it elsewhere).
    #![allow(clippy::disallowed_methods)]

    use super::*;

    #[test]
    fn definitions_are_consistent() {
        let mut keys = std::collections::HashSet::new();
        for d in THRESHOLDS {
            assert!(keys.insert(d.key), "duplicate key {}", d.key);
            assert!(d.min <= d.default && d.default <= d.max, "{}: default outside its range", d.key);
            assert!(!d.label.is_empty(), "{}", d.key);
        }
    }

    /// Every `t.get("…")` in the rules names a declared threshold (an undeclared one would be NaN).
    #[test]
    fn every_key_the_rules_read_is_declared() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/health/rules");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            for (i, _) in text.match_indices(".get(\"") {
                let rest = &text[i + 6..];
                let key = &rest[..rest.find('"').unwrap()];
                if !key.contains('.') {
                    continue;
                }
                assert!(find(key).is_some(), "{}: threshold {key:?} is not declared", path.display());
                seen += 1;
            }
        }
        assert!(seen >= 30, "only {seen} threshold reads found in the rules");
    }
}
