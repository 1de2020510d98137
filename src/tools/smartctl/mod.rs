//! SMART health of disks from smartmontools' `smartctl -j` (JSON output, smartmontools ≥ 7.0): the
//! device list (`--scan`), one disk's identity, health, counters and logs (`-a -n standby`, which never
//! spins up a sleeping disk: DESIGN.md §3.4) and the self-test trigger (`-t short|long`).
//!
//! smartctl reports through two channels and both matter. Its exit status is a bit mask (smartctl(8),
//! "RETURN VALUES"): bits 0–1 mean the run produced no data (bad command line, device not opened, or
//! the disk is asleep), bits 2–7 are findings (a command failed, SMART says FAILING, attributes at or
//! below threshold now or in the past, entries in the error or self-test log). The JSON carries the
//! same mask as `smartctl.exit_status` and the data, whose layout differs by transport: ATA attribute
//! tables, the NVMe health log, SCSI log pages. Fields come and go between smartctl versions (6.7 to 7.4
//! in the fixtures), so everything is read leniently from a [`serde_json::Value`]: a missing field is
//! `None`, only text that is not JSON at all is a [`ToolError::Parse`].
//!
//! The parsers are pure and tested on the recorded outputs in `tests/fixtures/upstream/smartctl/` (see its
//! README for the source of each file) and on the demo scenario.
//!
//! One sub-module per part of the output, all re-exported here: `devices` (`--scan`), `exit` (the
//! status bits), `info` (the `-a` run and the transport-neutral [`SmartData`]), `ata`, `nvme` and `scsi`
//! (each transport's tables and logs) and `selftest` (starting one, its log and progress). The argv
//! builders, the readers and the JSON helpers the parsers share are here.

mod ata;
mod devices;
mod info;
mod nvme;
mod scsi;
mod selftest;

use serde_json::Value;

use crate::host::{Host, ToolError};

pub use crate::model::smart::{
    AtaAttribute, AtaData, CriticalWarning, DeviceId, DiskKind, ExitFinding, ExitStatus, Interface, NvmeData,
    Reading, ScanDevice, ScsiData, ScsiErrorCounters, SelfTest, SelfTestKind, SelfTestProgress, SmartData,
    TransferCounter,
};
pub use devices::parse_scan;
pub use info::{parse_info, parse_info_of};
pub use selftest::{selftest_argv, start_selftest};

const TOOL: &str = "smartctl";

// ---------------------------------------------------------------------------------------------------
// argv builders and readers
// ---------------------------------------------------------------------------------------------------

/// `smartctl --scan -j`: the devices smartctl can address (without opening them, so no disk wakes up).
pub fn scan_argv() -> [&'static str; 3] {
    [TOOL, "--scan", "-j"]
}

/// Device types that `--scan` prints for what smartctl would pick on its own anyway. They are left out
/// of the argv: `-d scsi` in particular would *force* plain SCSI and stop smartctl from finding the
/// SAT layer of a SATA disk behind libata (which `--scan` on Linux reports as `scsi`).
const DEFAULT_TYPES: &[&str] = &["", "auto", "scsi", "nvme", "ata"];

fn push_type(argv: &mut Vec<String>, dev: &ScanDevice) {
    if !DEFAULT_TYPES.contains(&dev.dev_type.as_str()) {
        argv.push("-d".into());
        argv.push(dev.dev_type.clone());
    }
}

/// `smartctl -a -j -n standby [-d TYPE] DEV`. `-n standby` makes smartctl leave a disk in STANDBY or
/// SLEEP alone and exit 2 instead (DESIGN.md §3.4); `-d TYPE` is needed for disks behind a RAID HBA
/// (`megaraid,N` share one `/dev/bus/N` name) or a USB bridge.
pub fn info_argv(dev: &ScanDevice) -> Vec<String> {
    let mut argv: Vec<String> =
        [TOOL, "-a", "-j", "-n", "standby"].iter().map(|s| (*s).to_string()).collect();
    push_type(&mut argv, dev);
    argv.push(dev.name.clone());
    argv
}

fn failed(argv: &[&str], code: i32, out: &crate::host::Output) -> ToolError {
    let mut stderr =
        if out.stderr.trim().is_empty() { out.stdout.trim() } else { out.stderr.trim() }.to_string();
    stderr.truncate(500);
    ToolError::Failed { tool: argv.join(" "), code: Some(code), stderr }
}

/// Lists the devices. `run`, not `run_ok`: the exit status is a bit mask and only bits 0–1 mean failure.
pub async fn scan(host: &Host) -> Result<Vec<ScanDevice>, ToolError> {
    let argv = scan_argv();
    let out = host.run(&argv).await?;
    match ExitStatus::from_code(out.code) {
        Some(status) if !status.run_failed() => parse_scan(&out.stdout),
        _ => Err(failed(&argv, out.code, &out)),
    }
}

/// Reads one disk. A sleeping disk gives [`Reading::Standby`], an unreadable one [`Reading::Failed`].
pub async fn info(host: &Host, dev: &ScanDevice) -> Result<Reading, ToolError> {
    let argv = info_argv(dev);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let out = host.run(&argv).await?;
    if out.stdout.trim().is_empty() && !out.stderr.trim().is_empty() {
        let mut reason = out.stderr.trim().to_string();
        reason.truncate(500);
        return Ok(Reading::Failed {
            reason,
            exit_status: ExitStatus::from_code(out.code).unwrap_or_default(),
        });
    }
    parse_info_of(&dev.name, &out.stdout, out.code)
}

// ---------------------------------------------------------------------------------------------------
// JSON helpers shared by the parsers
// ---------------------------------------------------------------------------------------------------

fn json_error(what: &str, text: &str, e: &serde_json::Error) -> ToolError {
    let line = e.line().max(1);
    ToolError::parse(what, line, text.lines().nth(line - 1).unwrap_or(""), e.to_string())
}

fn u64_at(v: &Value, ptr: &str) -> Option<u64> {
    v.pointer(ptr).and_then(Value::as_u64)
}

fn str_at(v: &Value, ptr: &str) -> Option<String> {
    v.pointer(ptr).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

fn clamp_u8(n: u64) -> u8 {
    u8::try_from(n).unwrap_or(u8::MAX)
}

#[cfg(test)]
mod tests {
    // Tests read their fixtures directly (clippy.toml bans it elsewhere).
    #![allow(clippy::disallowed_methods)]

    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/upstream/smartctl");

    pub(super) fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn recorded_exit(text: &str) -> i32 {
        let v: Value = serde_json::from_str(text).unwrap();
        v.pointer("/smartctl/exit_status").and_then(Value::as_i64).unwrap_or(0) as i32
    }

    /// Parses a fixture with its recorded exit status and expects data.
    pub(super) fn data(name: &str) -> SmartData {
        let text = fixture(name);
        match parse_info(&text, recorded_exit(&text)).unwrap_or_else(|e| panic!("{name}: {e}")) {
            Reading::Data(d) => *d,
            other => panic!("{name}: expected data, got {other:?}"),
        }
    }

    #[test]
    fn every_fixture_parses() {
        let mut seen = 0;
        for entry in std::fs::read_dir(FIXTURES).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            if name.contains("scan") {
                parse_scan(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            let reading = parse_info(&text, recorded_exit(&text)).unwrap_or_else(|e| panic!("{name}: {e}"));
            // Everything with a device section is data; the rest (scans, failed opens) is not.
            let has_device = serde_json::from_str::<Value>(&text).unwrap().get("device").is_some();
            assert_eq!(matches!(reading, Reading::Data(_)), has_device, "{name}: {reading:?}");
            serde_json::to_string(&reading).unwrap_or_else(|e| panic!("{name}: {e}"));
            seen += 1;
        }
        assert!(seen >= 35, "only {seen} fixtures found in {FIXTURES}");
    }

    #[test]
    fn demo_scenario_files() {
        let scan = parse_scan(include_str!("../../../scenarios/demo/commands/smartctl/scan.json")).unwrap();
        assert_eq!(scan.len(), 8);
        let files = [
            include_str!("../../../scenarios/demo/commands/smartctl/sda.json"),
            include_str!("../../../scenarios/demo/commands/smartctl/sdb.json"),
            include_str!("../../../scenarios/demo/commands/smartctl/sdc.json"),
            include_str!("../../../scenarios/demo/commands/smartctl/sdd.json"),
            include_str!("../../../scenarios/demo/commands/smartctl/sde.json"),
            include_str!("../../../scenarios/demo/commands/smartctl/sdf.json"),
            include_str!("../../../scenarios/demo/commands/smartctl/nvme0.json"),
        ];
        let scan: Vec<_> = scan.into_iter().filter(|d| d.name != "/dev/sdg").collect();
        let parsed: Vec<SmartData> = files
            .iter()
            .map(|t| match parse_info(t, 0).unwrap() {
                Reading::Data(d) => *d,
                other => panic!("{other:?}"),
            })
            .collect();
        for (dev, d) in scan.iter().zip(&parsed) {
            assert_eq!(dev.name, d.device.name);
            assert_eq!(d.smart_passed, Some(true));
        }
        assert_eq!(parsed[0].kind, DiskKind::Ssd);
        assert_eq!(parsed[0].wear_used_pct, Some(1));
        assert_eq!(parsed[0].wwn.as_deref(), Some("0x5002538e40a1b2c3"));
        // sdb is wearing out: Wear_Leveling_Count normalised 10 -> 90 % used.
        assert_eq!(parsed[1].wear_used_pct, Some(90));
        assert_eq!(parsed[1].wear_source.as_deref(), Some("attribute 177 Wear_Leveling_Count"));
        // sdg is spun down: smartctl -n standby leaves it alone and exits 2.
        let sdg = include_str!("../../../scenarios/demo/commands/smartctl/sdg.json");
        assert!(
            matches!(parse_info(sdg, 2).unwrap(), Reading::Standby { power_mode } if power_mode == "STANDBY")
        );
        assert_eq!(parsed[2].kind, DiskKind::Hdd);
        // The demo's degraded tank member: 8 reallocated sectors, still above threshold.
        let sde = parsed[4].ata.as_ref().unwrap();
        assert_eq!(sde.reallocated_sectors, Some(8));
        assert!(!sde.attribute(5).unwrap().failing_now);
        assert_eq!(parsed[5].kind, DiskKind::Ssd);
        assert_eq!(parsed[6].kind, DiskKind::Nvme);
        assert_eq!(parsed[6].nvme.as_ref().unwrap().error_log_entries, Some(22));
    }

    #[tokio::test]
    async fn demo_scenario_through_the_host() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/demo");
        let host =
            Host::replay(crate::host::Scenario::load(&dir).unwrap(), std::time::Duration::from_secs(5));
        let devs = super::scan(&host).await.unwrap();
        assert_eq!(devs.len(), 8);
        for dev in &devs {
            let reading = info(&host, dev).await.unwrap();
            if dev.name == "/dev/sdg" {
                assert!(matches!(reading, Reading::Standby { .. }), "{reading:?}");
                continue;
            }
            assert!(matches!(reading, Reading::Data(_)), "{}: {reading:?}", dev.name);
        }
    }
}
