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

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::host::{Host, ToolError};

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

/// Which self-test to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SelfTestKind {
    Short,
    Long,
}

impl SelfTestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SelfTestKind::Short => "short",
            SelfTestKind::Long => "long",
        }
    }
}

/// `smartctl -t short|long [-d TYPE] DEV`. A self-test is asked for by a person and runs on the disk,
/// so this one deliberately has no `-n standby`: the disk has to spin up for it.
pub fn selftest_argv(dev: &ScanDevice, kind: SelfTestKind) -> Vec<String> {
    let mut argv: Vec<String> = vec![TOOL.into(), "-t".into(), kind.as_str().into()];
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

/// Starts a self-test; smartctl returns at once and the disk runs it in the background (its progress
/// shows in the next [`info`] as [`SmartData::self_test_running`]). Bits 3–7 of the exit status only
/// restate the disk's health and do not mean the test was refused; bits 0–2 do.
pub async fn start_selftest(host: &Host, dev: &ScanDevice, kind: SelfTestKind) -> Result<(), ToolError> {
    let argv = selftest_argv(dev, kind);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let out = host.run(&argv).await?;
    match ExitStatus::from_code(out.code) {
        Some(s) if !s.run_failed() && !s.smart_command_failed() => Ok(()),
        _ => Err(failed(&argv, out.code, &out)),
    }
}

// ---------------------------------------------------------------------------------------------------
// exit status
// ---------------------------------------------------------------------------------------------------

/// smartctl's exit status, a bit mask (smartctl(8), "RETURN VALUES"). Serialised as the number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ExitStatus(pub u8);

/// What bits 2–7 of the exit status say about a disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitFinding {
    /// Bit 2: a SMART or other command to the disk failed, or a SMART structure had a bad checksum.
    SmartCommandFailed,
    /// Bit 3: the SMART health check returned DISK FAILING.
    DiskFailing,
    /// Bit 4: prefailure attributes are at or below their threshold now.
    PrefailAtThreshold,
    /// Bit 5: health OK, but some attributes were at or below threshold in the past.
    AttributeAtThresholdInPast,
    /// Bit 6: the device error log has entries.
    ErrorLogEntries,
    /// Bit 7: the self-test log has errors (ATA: ones not outdated by a newer passed extended test).
    SelfTestErrors,
}

impl ExitFinding {
    pub fn description(self) -> &'static str {
        match self {
            ExitFinding::SmartCommandFailed => {
                "a SMART command to the disk failed or returned a bad checksum"
            }
            ExitFinding::DiskFailing => "SMART overall health check: FAILING",
            ExitFinding::PrefailAtThreshold => "pre-failure attributes are at or below their threshold",
            ExitFinding::AttributeAtThresholdInPast => {
                "some attributes were at or below threshold in the past"
            }
            ExitFinding::ErrorLogEntries => "the device error log contains errors",
            ExitFinding::SelfTestErrors => "the self-test log contains errors",
        }
    }
}

impl ExitStatus {
    pub const COMMAND_LINE: u8 = 1 << 0;
    pub const OPEN_FAILED: u8 = 1 << 1;
    pub const SMART_COMMAND_FAILED: u8 = 1 << 2;
    pub const DISK_FAILING: u8 = 1 << 3;
    pub const PREFAIL_AT_THRESHOLD: u8 = 1 << 4;
    pub const PAST_AT_THRESHOLD: u8 = 1 << 5;
    pub const ERROR_LOG: u8 = 1 << 6;
    pub const SELFTEST_LOG: u8 = 1 << 7;

    /// A process exit code; `None` when it is not 0–255 (e.g. -1 for a child killed by a signal).
    pub fn from_code(code: i32) -> Option<Self> {
        u8::try_from(code).ok().map(ExitStatus)
    }
    pub fn bits(self) -> u8 {
        self.0
    }
    fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }
    /// Bit 0: the command line did not parse.
    pub fn command_line_error(self) -> bool {
        self.has(Self::COMMAND_LINE)
    }
    /// Bit 1: the device could not be opened, did not identify itself, or is in a low-power mode.
    pub fn open_failed(self) -> bool {
        self.has(Self::OPEN_FAILED)
    }
    /// Bits 0–1: the run produced no SMART data.
    pub fn run_failed(self) -> bool {
        self.command_line_error() || self.open_failed()
    }
    pub fn smart_command_failed(self) -> bool {
        self.has(Self::SMART_COMMAND_FAILED)
    }
    pub fn disk_failing(self) -> bool {
        self.has(Self::DISK_FAILING)
    }
    pub fn prefail_at_threshold(self) -> bool {
        self.has(Self::PREFAIL_AT_THRESHOLD)
    }
    pub fn past_at_threshold(self) -> bool {
        self.has(Self::PAST_AT_THRESHOLD)
    }
    pub fn error_log_has_entries(self) -> bool {
        self.has(Self::ERROR_LOG)
    }
    pub fn selftest_log_has_errors(self) -> bool {
        self.has(Self::SELFTEST_LOG)
    }
    /// Bits 2–7 as findings, lowest bit first.
    pub fn findings(self) -> Vec<ExitFinding> {
        [
            (Self::SMART_COMMAND_FAILED, ExitFinding::SmartCommandFailed),
            (Self::DISK_FAILING, ExitFinding::DiskFailing),
            (Self::PREFAIL_AT_THRESHOLD, ExitFinding::PrefailAtThreshold),
            (Self::PAST_AT_THRESHOLD, ExitFinding::AttributeAtThresholdInPast),
            (Self::ERROR_LOG, ExitFinding::ErrorLogEntries),
            (Self::SELFTEST_LOG, ExitFinding::SelfTestErrors),
        ]
        .into_iter()
        .filter(|(bit, _)| self.has(*bit))
        .map(|(_, f)| f)
        .collect()
    }
}

// ---------------------------------------------------------------------------------------------------
// --scan
// ---------------------------------------------------------------------------------------------------

/// One entry of `smartctl --scan -j`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanDevice {
    /// The path to pass to smartctl (`/dev/sda`, `/dev/nvme0`, `/dev/bus/0` for MegaRAID disks).
    pub name: String,
    /// smartctl's label, e.g. `/dev/bus/0 [megaraid_disk_00]`.
    #[serde(default)]
    pub info_name: String,
    /// The `-d` type (`scsi`, `nvme`, `sat`, `megaraid,0`, `usbjmicron` ...).
    #[serde(rename = "type", default)]
    pub dev_type: String,
    /// `ATA`, `SCSI` or `NVMe`.
    #[serde(default)]
    pub protocol: String,
}

impl ScanDevice {
    /// A device known only by its path (smartctl autodetects the type).
    pub fn path(name: &str) -> Self {
        ScanDevice {
            name: name.into(),
            info_name: name.into(),
            dev_type: String::new(),
            protocol: String::new(),
        }
    }
}

#[derive(Deserialize)]
struct ScanOutput {
    // smartctl 7.3 on a machine without disks prints no `devices` key at all rather than `[]`
    // (fixture local_smartctl-7.3_scan_no_devices.json).
    #[serde(default)]
    devices: Vec<ScanDevice>,
}

fn json_error(what: &str, text: &str, e: &serde_json::Error) -> ToolError {
    let line = e.line().max(1);
    ToolError::parse(what, line, text.lines().nth(line - 1).unwrap_or(""), e.to_string())
}

pub fn parse_scan(text: &str) -> Result<Vec<ScanDevice>, ToolError> {
    const WHAT: &str = "smartctl --scan -j";
    let out: ScanOutput = serde_json::from_str(text).map_err(|e| json_error(WHAT, text, &e))?;
    Ok(out.devices)
}

// ---------------------------------------------------------------------------------------------------
// -a: the model
// ---------------------------------------------------------------------------------------------------

/// The outcome of one `smartctl -a -j -n standby` run.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Reading {
    /// The disk is spun down and was left alone (`-n standby`): no data, and that is fine.
    Standby {
        /// The mode smartctl named: `STANDBY`, `SLEEP`, `STANDBY (OS)` ...
        power_mode: String,
    },
    /// smartctl could not read the device at all (exit bits 0–1 without standby).
    Failed {
        reason: String,
        exit_status: ExitStatus,
    },
    Data(Box<SmartData>),
}

/// Broad class of the disk, for display and for choosing which health rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DiskKind {
    Hdd,
    Ssd,
    Nvme,
    /// Behind a USB bridge (its SMART passthrough is often partial).
    Usb,
    Unknown,
}

/// How smartctl talks to the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Interface {
    /// ATA/SATA, directly or through SAT (libata, HBAs, `sat+megaraid,N`).
    Ata,
    Nvme,
    /// SCSI whose transport is SAS (`scsi_transport_protocol` "SAS (SPL-4)").
    Sas,
    /// SCSI with another or an unreported transport (parallel SCSI, RAID volumes, older smartctl).
    Scsi,
    /// A USB-SATA or USB-NVMe bridge (`-d usbjmicron`, `sntjmicron` ...).
    Usb,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceId {
    pub name: String,
    pub info_name: String,
    #[serde(rename = "type")]
    pub dev_type: String,
    pub protocol: String,
}

/// One disk's SMART data, normalised across ATA, NVMe and SCSI.
#[derive(Debug, Clone, Serialize)]
pub struct SmartData {
    pub device: DeviceId,
    pub kind: DiskKind,
    pub interface: Interface,
    pub model: Option<String>,
    pub family: Option<String>,
    pub serial: Option<String>,
    pub firmware: Option<String>,
    /// As lsblk prints it: `0x5002538e40a1b2c3`.
    pub wwn: Option<String>,
    pub capacity_bytes: Option<u64>,
    pub logical_block_size: Option<u64>,
    /// 0 for solid state.
    pub rotation_rate_rpm: Option<u64>,
    pub form_factor: Option<String>,
    pub smart_available: Option<bool>,
    pub smart_enabled: Option<bool>,
    /// The overall health check: `Some(false)` is FAILED. `None` where the device gave none (RAID volume).
    pub smart_passed: Option<bool>,
    pub temperature_c: Option<i64>,
    pub power_on_hours: Option<u64>,
    pub power_cycles: Option<u64>,
    /// Endurance used, 0 = new, 100 = rated endurance spent. NVMe and ATA device statistics may go
    /// past 100 (up to 255) on a drive used beyond its rating; attribute-derived values stop at 100.
    pub wear_used_pct: Option<u8>,
    /// Where `wear_used_pct` came from, e.g. `attribute 177 Wear_Leveling_Count`.
    pub wear_source: Option<String>,
    /// Host bytes written over the drive's life (for the endurance forecast).
    pub bytes_written: Option<u64>,
    pub bytes_read: Option<u64>,
    pub exit_status: ExitStatus,
    pub findings: Vec<ExitFinding>,
    /// smartctl's own messages (warnings such as "This result is based on an Attribute check.").
    pub messages: Vec<String>,
    /// Self-test log, newest first, whatever the protocol.
    pub self_tests: Vec<SelfTest>,
    pub self_test_running: Option<SelfTestProgress>,
    pub ata: Option<AtaData>,
    pub nvme: Option<NvmeData>,
    pub scsi: Option<ScsiData>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SelfTest {
    /// "Short offline", "Extended offline", "Background long" ...
    pub kind: String,
    /// smartctl's status text: "Completed without error", "Completed: read failure" ...
    pub status: String,
    /// `Some(false)` for a failed test, `None` for aborted or interrupted ones.
    pub passed: Option<bool>,
    pub lifetime_hours: Option<u64>,
    pub lba_first_error: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SelfTestProgress {
    pub description: Option<String>,
    pub remaining_pct: Option<u8>,
}

/// One row of the ATA attribute table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AtaAttribute {
    pub id: u8,
    pub name: String,
    /// Normalised value (vendor scale, usually 100 or 200 when new, lower is worse).
    pub value: u8,
    pub worst: u8,
    pub thresh: u8,
    pub raw_value: u64,
    /// smartctl's rendering, e.g. `26 (Min/Max 13/41)`; `raw_value` may be a packed 48-bit number.
    pub raw_string: String,
    pub prefailure: bool,
    pub updated_online: bool,
    /// `value <= thresh` with a real threshold (smartctl's `when_failed: "now"`).
    pub failing_now: bool,
    /// smartctl's `when_failed: "past"`: the worst value reached the threshold once.
    pub failed_in_past: bool,
}

/// A lifetime transfer counter and the unit it counts in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TransferCounter {
    /// `attribute 241 Host_Writes_32MiB`, `device statistics: Logical Sectors Written` ...
    pub source: String,
    pub raw: u64,
    pub unit_bytes: u64,
}

impl TransferCounter {
    pub fn bytes(&self) -> u64 {
        self.raw.saturating_mul(self.unit_bytes)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AtaData {
    pub attributes: Vec<AtaAttribute>,
    /// 5 Reallocated_Sector_Ct.
    pub reallocated_sectors: Option<u64>,
    /// 197 Current_Pending_Sector.
    pub pending_sectors: Option<u64>,
    /// 198 Offline_Uncorrectable.
    pub offline_uncorrectable: Option<u64>,
    /// 187 Reported_Uncorrect.
    pub reported_uncorrect: Option<u64>,
    /// 199 UDMA_CRC_Error_Count: link errors (cable, backplane), not media.
    pub crc_errors: Option<u64>,
    pub written: Option<TransferCounter>,
    pub read: Option<TransferCounter>,
    /// Errors ever logged in the ATA error log (not only the five kept).
    pub error_log_count: Option<u64>,
    /// smartctl's count of failed self-tests in the log.
    pub self_test_error_count: Option<u64>,
}

impl AtaData {
    pub fn attribute(&self, id: u8) -> Option<&AtaAttribute> {
        self.attributes.iter().find(|a| a.id == id)
    }
}

/// The NVMe critical warning byte (NVMe Base Specification, SMART / Health Information log, byte 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CriticalWarning(pub u8);

impl CriticalWarning {
    /// Bit names as smartctl uses them in `smart_status.nvme`.
    const BITS: [(u8, &'static str); 6] = [
        (1 << 0, "spare_below_threshold"),
        (1 << 1, "temperature_above_or_below_threshold"),
        (1 << 2, "reliability_degraded"),
        (1 << 3, "media_read_only"),
        (1 << 4, "volatile_memory_backup_failed"),
        // NVMe 1.4: persistent memory region has become read-only or unreliable.
        (1 << 5, "persistent_memory_region_unreliable"),
    ];

    pub fn any(self) -> bool {
        self.0 != 0
    }
    pub fn spare_below_threshold(self) -> bool {
        self.0 & 1 != 0
    }
    pub fn temperature(self) -> bool {
        self.0 & (1 << 1) != 0
    }
    pub fn reliability_degraded(self) -> bool {
        self.0 & (1 << 2) != 0
    }
    pub fn read_only(self) -> bool {
        self.0 & (1 << 3) != 0
    }
    pub fn volatile_backup_failed(self) -> bool {
        self.0 & (1 << 4) != 0
    }
    pub fn persistent_memory_read_only(self) -> bool {
        self.0 & (1 << 5) != 0
    }
    /// Names of the set bits; reserved bits 6–7 show as `reserved_bit_N`.
    pub fn names(self) -> Vec<String> {
        let mut names: Vec<String> =
            Self::BITS.iter().filter(|(bit, _)| self.0 & bit != 0).map(|(_, n)| (*n).to_string()).collect();
        for bit in 6..8 {
            if self.0 & (1 << bit) != 0 {
                names.push(format!("reserved_bit_{bit}"));
            }
        }
        names
    }
}

impl Serialize for CriticalWarning {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("CriticalWarning", 2)?;
        st.serialize_field("value", &self.0)?;
        st.serialize_field("flags", &self.names())?;
        st.end()
    }
}

/// The NVMe SMART / Health Information log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NvmeData {
    pub critical_warning: CriticalWarning,
    pub available_spare_pct: Option<u64>,
    pub available_spare_threshold_pct: Option<u64>,
    /// `available_spare < available_spare_threshold` (the drive sets critical_warning bit 0 too).
    pub spare_below_threshold: bool,
    pub percentage_used: Option<u64>,
    pub media_errors: Option<u64>,
    /// Entries in the controller's error log. Often benign: consumer drives log commands the OS
    /// probes with and the drive does not support (telegraf's fixture has 4871 "Invalid Field in
    /// Command" entries on a healthy disk), so rules should watch media_errors, not this.
    pub error_log_entries: Option<u64>,
    /// In units of 1000 × 512 bytes (NVMe Base Specification).
    pub data_units_written: Option<u64>,
    pub data_units_read: Option<u64>,
    pub unsafe_shutdowns: Option<u64>,
    pub controller_busy_minutes: Option<u64>,
    pub warning_temp_minutes: Option<u64>,
    pub critical_temp_minutes: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScsiErrorCounters {
    pub total_errors_corrected: Option<u64>,
    pub total_uncorrected_errors: Option<u64>,
    pub gigabytes_processed: Option<f64>,
}

/// SCSI/SAS log pages.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScsiData {
    /// Elements in the grown defect list: sectors the drive has remapped since manufacture.
    pub grown_defects: Option<u64>,
    pub read_errors: Option<ScsiErrorCounters>,
    pub write_errors: Option<ScsiErrorCounters>,
    pub verify_errors: Option<ScsiErrorCounters>,
    pub non_medium_errors: Option<u64>,
    /// Solid State Media log page (SAS SSDs).
    pub percentage_used_endurance: Option<u64>,
    pub start_stop_cycles: Option<u64>,
    pub load_unload_cycles: Option<u64>,
    pub transport: Option<String>,
    /// The Informational Exceptions text when the health check failed.
    pub health_reason: Option<String>,
}

impl ScsiData {
    pub fn read_uncorrected(&self) -> Option<u64> {
        self.read_errors.as_ref().and_then(|c| c.total_uncorrected_errors)
    }
    pub fn write_uncorrected(&self) -> Option<u64> {
        self.write_errors.as_ref().and_then(|c| c.total_uncorrected_errors)
    }
}

// ---------------------------------------------------------------------------------------------------
// -a: the parser
// ---------------------------------------------------------------------------------------------------

/// Parses `smartctl -a -j -n standby DEV` given its stdout and exit code. See [`parse_info_of`].
pub fn parse_info(json: &str, exit_code: i32) -> Result<Reading, ToolError> {
    parse_info_of("", json, exit_code)
}

/// Like [`parse_info`], naming `device` in a parse error.
///
/// The exit status used is the process's exit code OR-ed with the JSON's `smartctl.exit_status`: the
/// two agree on a live host, and a replayed recording that did not keep the exit code still reports
/// its findings.
pub fn parse_info_of(device: &str, json: &str, exit_code: i32) -> Result<Reading, ToolError> {
    let what = if device.is_empty() { TOOL.to_string() } else { format!("{TOOL} -a {device}") };
    let Some(code_status) = ExitStatus::from_code(exit_code) else {
        return Ok(Reading::Failed {
            reason: format!("smartctl ended abnormally (exit code {exit_code})"),
            exit_status: ExitStatus::default(),
        });
    };
    if json.trim().is_empty() {
        if code_status.run_failed() {
            return Ok(Reading::Failed {
                reason: describe_run_failure(code_status),
                exit_status: code_status,
            });
        }
        return Err(ToolError::parse(&what, 1, "", "smartctl printed nothing"));
    }
    let v: Value = match serde_json::from_str(json) {
        Ok(v) => v,
        Err(e) => {
            // Not JSON. With bits 0–1 set this is smartctl refusing to run (smartmontools < 7.0 does
            // not know `-j` and prints its usage), which is a failed run, not a parser bug.
            if code_status.run_failed() && !json.trim_start().starts_with('{') {
                if let Some(mode) = standby_mode(json) {
                    return Ok(Reading::Standby { power_mode: mode });
                }
                let first = json.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
                let mut reason = format!("{}: {first}", describe_run_failure(code_status));
                reason.truncate(500);
                return Ok(Reading::Failed { reason, exit_status: code_status });
            }
            return Err(json_error(&what, json, &e));
        }
    };
    let Some(obj) = v.as_object() else {
        return Err(ToolError::parse(&what, 1, json.lines().next().unwrap_or(""), "expected a JSON object"));
    };

    let json_status =
        v.pointer("/smartctl/exit_status").and_then(Value::as_u64).and_then(|n| u8::try_from(n).ok());
    let status = ExitStatus(code_status.0 | json_status.unwrap_or(0));
    let messages: Vec<(String, String)> = v
        .pointer("/smartctl/messages")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|m| {
                    let text = m.get("string")?.as_str()?.trim().to_string();
                    let sev = m.get("severity").and_then(Value::as_str).unwrap_or("").to_string();
                    Some((text, sev))
                })
                .collect()
        })
        .unwrap_or_default();

    // Standby: smartctl 7.x prints `Device is in STANDBY mode, exit(2)` as an "information" message
    // (ataprint.cpp/scsiprint.cpp, `-n standby`) and exits 2; smartctl.cpp has the variant
    // `/dev/sda: Device is in STANDBY (OS) mode, exit(2)` where the OS knows the disk is powered down.
    // A `power_mode` object is accepted as well in case a version reports the mode as data.
    if status.open_failed() || !obj.contains_key("device") {
        let from_messages = messages.iter().find_map(|(m, _)| standby_mode(m));
        let from_field = v
            .get("power_mode")
            .and_then(|p| p.as_str().or_else(|| p.get("name").and_then(Value::as_str)))
            .filter(|p| {
                let p = p.to_ascii_uppercase();
                p.contains("STANDBY") || p.contains("SLEEP")
            })
            .map(str::to_string);
        if let Some(power_mode) = from_messages.or(from_field) {
            return Ok(Reading::Standby { power_mode });
        }
    }
    if status.run_failed() {
        let errors: Vec<&str> =
            messages.iter().filter(|(_, s)| s == "error").map(|(m, _)| m.as_str()).collect();
        let reason = if !errors.is_empty() {
            errors.join("; ")
        } else if let Some((m, _)) = messages.first() {
            m.clone()
        } else {
            describe_run_failure(status)
        };
        return Ok(Reading::Failed { reason, exit_status: status });
    }
    if !obj.contains_key("device") {
        // Valid smartctl JSON about no device (e.g. a `--scan` answer handed to the wrong parser).
        let reason =
            messages.first().map(|(m, _)| m.clone()).unwrap_or_else(|| "no device in smartctl output".into());
        return Ok(Reading::Failed { reason, exit_status: status });
    }
    Ok(Reading::Data(Box::new(smart_data(&v, status, messages.into_iter().map(|(m, _)| m).collect()))))
}

fn describe_run_failure(status: ExitStatus) -> String {
    if status.command_line_error() {
        "smartctl did not accept its command line".into()
    } else {
        "device open failed or the device did not identify itself".into()
    }
}

/// `Device is in STANDBY mode, exit(2)` → `STANDBY`; also `... in SLEEP mode`, `in STANDBY (OS) mode`.
fn standby_mode(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let start = lower.find("device is in ")? + "device is in ".len();
    let len = lower[start..].find(" mode")?;
    let mode = text.get(start..start + len)?.trim().to_string();
    let up = mode.to_ascii_uppercase();
    (up.contains("STANDBY") || up.contains("SLEEP") || up.contains("IDLE")).then_some(mode)
}

fn u64_at(v: &Value, ptr: &str) -> Option<u64> {
    v.pointer(ptr).and_then(Value::as_u64)
}

fn str_at(v: &Value, ptr: &str) -> Option<String> {
    v.pointer(ptr).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// A number that smartctl writes either bare or as `{ "value": N }` (e.g. self-test LBAs).
fn u64_or_value(v: Option<&Value>) -> Option<u64> {
    let v = v?;
    v.as_u64().or_else(|| v.get("value").and_then(Value::as_u64))
}

fn smart_data(v: &Value, status: ExitStatus, messages: Vec<String>) -> SmartData {
    let device = DeviceId {
        name: str_at(v, "/device/name").unwrap_or_default(),
        info_name: str_at(v, "/device/info_name").unwrap_or_default(),
        dev_type: str_at(v, "/device/type").unwrap_or_default(),
        protocol: str_at(v, "/device/protocol").unwrap_or_default(),
    };
    let protocol = device.protocol.to_ascii_uppercase();
    let dev_type = device.dev_type.to_ascii_lowercase();
    // USB bridges: `usbjmicron`, `usbcypress`, `usbprolific`, `usbsunplus`, `usbasm1352r` for SATA,
    // `sntjmicron`, `sntasmedia`, `sntrealtek` for NVMe (smartctl(8) `-d`); the info name then reads
    // `/dev/sdc [USB JMicron]` (scrutiny_usb_hdd_hitachi_FAILED_realloc.json). A plain `sat` bridge is
    // indistinguishable from a SATA port in the JSON (telegraf_usb_sat_response.json).
    let usb = dev_type.starts_with("usb") || dev_type.starts_with("snt") || device.info_name.contains("[USB");
    let rotation = u64_at(v, "/rotation_rate");
    let interface = if usb {
        Interface::Usb
    } else if protocol == "NVME" {
        Interface::Nvme
    } else if protocol == "ATA" {
        Interface::Ata
    } else if protocol == "SCSI" {
        match str_at(v, "/scsi_transport_protocol/name") {
            Some(t) if t.starts_with("SAS") => Interface::Sas,
            _ => Interface::Scsi,
        }
    } else {
        Interface::Unknown
    };
    let kind = match (interface, rotation) {
        (Interface::Usb, _) => DiskKind::Usb,
        (Interface::Nvme, _) => DiskKind::Nvme,
        (_, Some(0)) => DiskKind::Ssd,
        (_, Some(_)) => DiskKind::Hdd,
        (_, None) => DiskKind::Unknown,
    };

    // Identity: ATA and NVMe use model_name/firmware_version; SCSI uses scsi_model_name/scsi_revision
    // since smartctl 7.3 and model_name/revision (or vendor + product) before.
    let model = str_at(v, "/model_name").or_else(|| str_at(v, "/scsi_model_name")).or_else(|| {
        let vendor = str_at(v, "/scsi_vendor").or_else(|| str_at(v, "/vendor"));
        let product = str_at(v, "/scsi_product").or_else(|| str_at(v, "/product"));
        match (vendor, product) {
            (Some(a), Some(b)) => Some(format!("{a} {b}")),
            (a, b) => a.or(b),
        }
    });
    let firmware = str_at(v, "/firmware_version")
        .or_else(|| str_at(v, "/scsi_revision"))
        .or_else(|| str_at(v, "/revision"));
    let wwn = match (u64_at(v, "/wwn/naa"), u64_at(v, "/wwn/oui"), u64_at(v, "/wwn/id")) {
        (Some(naa), Some(oui), Some(id)) => Some(format!("0x{naa:x}{oui:06x}{id:09x}")),
        _ => None,
    };
    // PM1725 and Micron 7450 fixtures have no user_capacity, only nvme_total_capacity.
    let capacity_bytes = u64_at(v, "/user_capacity/bytes").or_else(|| u64_at(v, "/nvme_total_capacity"));
    let logical_block_size = u64_at(v, "/logical_block_size");
    let block = logical_block_size.filter(|b| *b > 0).unwrap_or(512);

    let nvme_log = v.get("nvme_smart_health_information_log");
    let ata_table = v.pointer("/ata_smart_attributes/table").and_then(Value::as_array);
    let attributes: Vec<AtaAttribute> =
        ata_table.map(|t| t.iter().filter_map(ata_attribute).collect()).unwrap_or_default();

    // Temperature: `temperature.current` is smartctl's decoded value; the raw 194/190 values are packed
    // 48-bit numbers (176094511130 for "26 (Min/Max 13/41)"), so they are only a fallback, read from the
    // raw string. An Intel RST RAID volume reports 0 (scrutiny_intel_raid_volume_no_smart.json): no
    // sensor, not a frozen disk.
    let temperature_c = v
        .pointer("/temperature/current")
        .and_then(Value::as_i64)
        .or_else(|| nvme_log.and_then(|l| l.get("temperature")).and_then(Value::as_i64))
        .or_else(|| {
            [194u8, 190]
                .iter()
                .find_map(|id| {
                    attributes.iter().find(|a| a.id == *id).and_then(|a| leading_number(&a.raw_string))
                })
                .and_then(|n| i64::try_from(n).ok())
        })
        .filter(|t| *t != 0);
    let power_on_hours = u64_at(v, "/power_on_time/hours")
        .or_else(|| nvme_log.and_then(|l| l.get("power_on_hours")).and_then(Value::as_u64));
    let power_cycles = u64_at(v, "/power_cycle_count")
        .or_else(|| nvme_log.and_then(|l| l.get("power_cycles")).and_then(Value::as_u64))
        .or_else(|| u64_at(v, "/scsi_start_stop_cycle_counter/accumulated_start_stop_cycles"));

    let ata = (ata_table.is_some() || protocol == "ATA").then(|| ata_data(v, attributes, block));
    let nvme = nvme_log.map(nvme_data);
    let scsi = (protocol == "SCSI").then(|| scsi_data(v));

    // Wear, most authoritative first. smartctl 7.4 adds a protocol-neutral `endurance_used` object.
    let mut wear: Option<(u8, String)> = None;
    if let Some(p) = u64_at(v, "/endurance_used/current_percent") {
        wear = Some((clamp_u8(p), "smartctl endurance_used".into()));
    }
    if wear.is_none() {
        if let Some(p) = nvme.as_ref().and_then(|n| n.percentage_used) {
            wear = Some((clamp_u8(p), "NVMe percentage_used".into()));
        }
    }
    if wear.is_none() {
        wear = ata_wear(v, ata.as_ref());
    }
    if wear.is_none() {
        if let Some(p) = scsi.as_ref().and_then(|s| s.percentage_used_endurance) {
            wear = Some((clamp_u8(p), "SCSI percentage used endurance indicator".into()));
        }
    }

    // Bytes written/read. NVMe data units are 1000 × 512 bytes; SCSI counts "gigabytes processed"
    // (10^9 bytes) in its write error counter page.
    let nvme_bytes = |units: Option<u64>| units.map(|u| u.saturating_mul(512_000));
    let scsi_bytes = |c: Option<&ScsiErrorCounters>| {
        c.and_then(|c| c.gigabytes_processed).map(|gb| (gb * 1e9).round() as u64)
    };
    let bytes_written = nvme_bytes(nvme.as_ref().and_then(|n| n.data_units_written))
        .or_else(|| ata.as_ref().and_then(|a| a.written.as_ref()).map(TransferCounter::bytes))
        .or_else(|| scsi_bytes(scsi.as_ref().and_then(|s| s.write_errors.as_ref())));
    let bytes_read = nvme_bytes(nvme.as_ref().and_then(|n| n.data_units_read))
        .or_else(|| ata.as_ref().and_then(|a| a.read.as_ref()).map(TransferCounter::bytes))
        .or_else(|| scsi_bytes(scsi.as_ref().and_then(|s| s.read_errors.as_ref())));

    let (wear_used_pct, wear_source) = match wear {
        Some((p, s)) => (Some(p), Some(s)),
        None => (None, None),
    };
    SmartData {
        device,
        kind,
        interface,
        model,
        family: str_at(v, "/model_family"),
        serial: str_at(v, "/serial_number"),
        firmware,
        wwn,
        capacity_bytes,
        logical_block_size,
        rotation_rate_rpm: rotation,
        form_factor: str_at(v, "/form_factor/name"),
        smart_available: v.pointer("/smart_support/available").and_then(Value::as_bool),
        smart_enabled: v.pointer("/smart_support/enabled").and_then(Value::as_bool),
        smart_passed: v.pointer("/smart_status/passed").and_then(Value::as_bool),
        temperature_c,
        power_on_hours,
        power_cycles,
        wear_used_pct,
        wear_source,
        bytes_written,
        bytes_read,
        exit_status: status,
        findings: status.findings(),
        messages,
        self_tests: self_tests(v),
        self_test_running: self_test_running(v),
        ata,
        nvme,
        scsi,
    }
}

fn clamp_u8(n: u64) -> u8 {
    u8::try_from(n).unwrap_or(u8::MAX)
}

/// The leading decimal number of a raw string (`"26 (Min/Max 13/41)"` → 26); `None` for hex renderings.
fn leading_number(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.starts_with("0x") {
        return None;
    }
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s[..end].parse().ok()
}

fn ata_attribute(a: &Value) -> Option<AtaAttribute> {
    let byte = |k: &str| a.get(k).and_then(Value::as_u64).and_then(|n| u8::try_from(n).ok()).unwrap_or(0);
    let id = u8::try_from(a.get("id")?.as_u64()?).ok()?;
    let (value, worst, thresh) = (byte("value"), byte("worst"), byte("thresh"));
    let when_failed = a.get("when_failed").and_then(Value::as_str).unwrap_or("");
    let flag = |k: &str| a.pointer(&format!("/flags/{k}")).and_then(Value::as_bool).unwrap_or(false);
    // smartctl ignores threshold 0 ("always passing") when it decides FAILING_NOW; so do we.
    let failing_now = when_failed == "now" || (thresh > 0 && value <= thresh);
    Some(AtaAttribute {
        id,
        name: a.get("name").and_then(Value::as_str).unwrap_or("").to_string(),
        value,
        worst,
        thresh,
        raw_value: a.pointer("/raw/value").and_then(Value::as_u64).unwrap_or(0),
        raw_string: a.pointer("/raw/string").and_then(Value::as_str).unwrap_or("").to_string(),
        prefailure: flag("prefailure"),
        updated_online: flag("updated_online"),
        failing_now,
        failed_in_past: !failing_now && (when_failed == "past" || (thresh > 0 && worst <= thresh)),
    })
}

/// A counter attribute's value: the number smartctl decoded (leading number of the raw string), which
/// differs from `raw.value` where vendors pack extra fields in the upper bytes.
fn counter(attrs: &[AtaAttribute], id: u8) -> Option<u64> {
    attrs.iter().find(|a| a.id == id).map(|a| leading_number(&a.raw_string).unwrap_or(a.raw_value))
}

/// Host-transfer attributes by name, with the size of one unit. Names per smartmontools' drivedb.h:
/// most drives count LBAs (logical blocks); Intel DC SSDs count 32 MiB units (`Host_Writes_32MiB`,
/// sce_sata_ssd_intel_s4510_pass.json), Phison-based SSDs GiB (`Lifetime_Writes_GiB`, Kingston A400).
/// NAND-side counters (`Flash_Writes_GiB`, `NAND_Writes`) are left out: they include write
/// amplification and are not what the endurance rating (TBW) counts.
fn transfer_units(name: &str, block: u64) -> Option<u64> {
    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;
    Some(match name {
        "Total_LBAs_Written" | "Total_LBAs_Read" | "Host_Writes_LBAs" | "Host_Reads_LBAs" => block,
        "Host_Writes_32MiB" | "Host_Reads_32MiB" => 32 * MIB,
        "Host_Writes_MiB" | "Host_Reads_MiB" => MIB,
        "Lifetime_Writes_GiB"
        | "Lifetime_Reads_GiB"
        | "Host_Writes_GiB"
        | "Host_Reads_GiB"
        | "Total_Writes_GiB"
        | "Total_Reads_GiB"
        | "Total_Host_Writes_GiB" => GIB,
        _ => return None,
    })
}

fn transfer_counter(v: &Value, attrs: &[AtaAttribute], block: u64, write: bool) -> Option<TransferCounter> {
    // ATA Device Statistics (ACS-3 log 0x04, page 1) is standard and exact where the drive has it.
    let stat = if write { "Logical Sectors Written" } else { "Logical Sectors Read" };
    if let Some(n) = device_statistic(v, 1, stat) {
        return Some(TransferCounter {
            source: format!("device statistics: {stat}"),
            raw: n,
            unit_bytes: block,
        });
    }
    let is_dir = |name: &str| if write { name.contains("Writ") } else { name.contains("Read") };
    // The conventional ids first (241 written, 242 read), then the same names elsewhere (Crucial/Micron
    // use 246 Total_LBAs_Written, old Intel 225 Host_Writes_32MiB).
    let preferred = if write { 241 } else { 242 };
    attrs.iter().filter(|a| a.id == preferred).chain(attrs.iter().filter(|a| a.id != preferred)).find_map(
        |a| {
            let unit = transfer_units(&a.name, block).filter(|_| is_dir(&a.name))?;
            Some(TransferCounter {
                source: format!("attribute {} {}", a.id, a.name),
                raw: a.raw_value,
                unit_bytes: unit,
            })
        },
    )
}

/// A value from `ata_device_statistics` (`-x`, or `-a` on smartctl versions that include it).
fn device_statistic(v: &Value, page: u64, name: &str) -> Option<u64> {
    let pages = v.pointer("/ata_device_statistics/pages")?.as_array()?;
    pages.iter().filter(|p| p.get("number").and_then(Value::as_u64) == Some(page)).find_map(|p| {
        p.get("table")?.as_array()?.iter().find_map(|e| {
            if e.get("name")?.as_str()? != name {
                return None;
            }
            if e.pointer("/flags/valid").and_then(Value::as_bool) == Some(false) {
                return None;
            }
            e.get("value")?.as_u64()
        })
    })
}

fn ata_data(v: &Value, attributes: Vec<AtaAttribute>, block: u64) -> AtaData {
    // The error log is `summary` with `-a` and `extended` with `-x`; the self-test log likewise
    // `standard` / `extended`.
    let error_log_count = u64_at(v, "/ata_smart_error_log/summary/count")
        .or_else(|| u64_at(v, "/ata_smart_error_log/extended/count"));
    let self_test_error_count = u64_at(v, "/ata_smart_self_test_log/standard/error_count_total")
        .or_else(|| u64_at(v, "/ata_smart_self_test_log/extended/error_count_total"));
    AtaData {
        reallocated_sectors: counter(&attributes, 5),
        pending_sectors: counter(&attributes, 197),
        offline_uncorrectable: counter(&attributes, 198),
        reported_uncorrect: counter(&attributes, 187),
        crc_errors: counter(&attributes, 199),
        written: transfer_counter(v, &attributes, block, true),
        read: transfer_counter(v, &attributes, block, false),
        error_log_count,
        self_test_error_count,
        attributes,
    }
}

/// Wear-out attributes whose *normalised* value is the life left in percent, by name, because ids are
/// reused across vendors: 233 is Intel's Media_Wearout_Indicator but Phison's Flash_Writes_GiB, 202 is
/// Micron's Percent_Lifetime_Remain but Samsung's Exception_Mode_Status, 169 is WD's
/// Remaining_Lifetime_Perc but Kingston's Bad_Block_Rate, 173 is an erase count on most drives
/// (fixtures: Kingston A400, Samsung PM883, Intel S4510; names per smartmontools' drivedb.h).
const WEAR_ATTRIBUTES: &[&str] = &[
    "Wear_Leveling_Count",     // Samsung 177: 100 new, counts down
    "Media_Wearout_Indicator", // Intel 233 (173 on some)
    "SSD_Life_Left",           // Phison/Kingston, SandForce 231
    "Percent_Lifetime_Remain", // Micron/Crucial 202
    "Remaining_Lifetime_Perc", // WD/SanDisk 169
    "Percent_Life_Remaining",  // Micron 5100/5200 248 on some firmware
    "Wearout_Indicator",
];

fn ata_wear(v: &Value, ata: Option<&AtaData>) -> Option<(u8, String)> {
    // Device Statistics page 7 is the ACS standard for SSD wear and counts *used* percent.
    if let Some(p) = device_statistic(v, 7, "Percentage Used Endurance Indicator") {
        return Some((clamp_u8(p), "device statistics: Percentage Used Endurance Indicator".into()));
    }
    let ata = ata?;
    WEAR_ATTRIBUTES.iter().find_map(|name| {
        let a = ata.attributes.iter().find(|a| a.name.eq_ignore_ascii_case(name))?;
        // Normalised values start at 100 (some at 200/253 before first use); 0 is not a valid reading.
        if a.value == 0 {
            return None;
        }
        let used = 100u8.saturating_sub(a.value.min(100));
        Some((used, format!("attribute {} {}", a.id, a.name)))
    })
}

fn nvme_data(log: &Value) -> NvmeData {
    let n = |k: &str| log.get(k).and_then(Value::as_u64);
    let spare = n("available_spare");
    let spare_threshold = n("available_spare_threshold");
    NvmeData {
        critical_warning: CriticalWarning(n("critical_warning").map(clamp_u8).unwrap_or(0)),
        available_spare_pct: spare,
        available_spare_threshold_pct: spare_threshold,
        spare_below_threshold: matches!((spare, spare_threshold), (Some(s), Some(t)) if s < t),
        percentage_used: n("percentage_used"),
        media_errors: n("media_errors"),
        error_log_entries: n("num_err_log_entries"),
        data_units_written: n("data_units_written"),
        data_units_read: n("data_units_read"),
        unsafe_shutdowns: n("unsafe_shutdowns"),
        controller_busy_minutes: n("controller_busy_time"),
        warning_temp_minutes: n("warning_temp_time"),
        critical_temp_minutes: n("critical_comp_time"),
    }
}

fn scsi_counters(v: &Value, page: &str) -> Option<ScsiErrorCounters> {
    let p = v.pointer(&format!("/scsi_error_counter_log/{page}"))?;
    // `gigabytes_processed` is a string ("11523.849") in every smartctl version seen; accept a number.
    let gb =
        p.get("gigabytes_processed").and_then(|g| g.as_f64().or_else(|| g.as_str()?.trim().parse().ok()));
    Some(ScsiErrorCounters {
        total_errors_corrected: p.get("total_errors_corrected").and_then(Value::as_u64),
        total_uncorrected_errors: p.get("total_uncorrected_errors").and_then(Value::as_u64),
        gigabytes_processed: gb,
    })
}

fn scsi_data(v: &Value) -> ScsiData {
    ScsiData {
        grown_defects: u64_at(v, "/scsi_grown_defect_list"),
        read_errors: scsi_counters(v, "read"),
        write_errors: scsi_counters(v, "write"),
        verify_errors: scsi_counters(v, "verify"),
        // smartctl ≤ 7.3 prints the Non-Medium Error page only as text; later versions add it to the
        // JSON (both spellings accepted).
        non_medium_errors: u64_at(v, "/scsi_nonmedium_error/count")
            .or_else(|| u64_at(v, "/scsi_nonmedium_error_count")),
        percentage_used_endurance: u64_at(v, "/scsi_percentage_used_endurance_indicator"),
        start_stop_cycles: u64_at(v, "/scsi_start_stop_cycle_counter/accumulated_start_stop_cycles"),
        load_unload_cycles: u64_at(v, "/scsi_start_stop_cycle_counter/accumulated_load_unload_cycles"),
        transport: str_at(v, "/scsi_transport_protocol/name"),
        health_reason: str_at(v, "/smart_status/scsi/ie_string"),
    }
}

fn self_tests(v: &Value) -> Vec<SelfTest> {
    let mut out = Vec::new();
    // ATA: `standard` (-a) or `extended` (-x) table, newest first.
    let ata = v
        .pointer("/ata_smart_self_test_log/standard/table")
        .or_else(|| v.pointer("/ata_smart_self_test_log/extended/table"))
        .and_then(Value::as_array);
    for t in ata.into_iter().flatten() {
        out.push(SelfTest {
            kind: t.pointer("/type/string").and_then(Value::as_str).unwrap_or("").to_string(),
            status: t.pointer("/status/string").and_then(Value::as_str).unwrap_or("").to_string(),
            passed: t.pointer("/status/passed").and_then(Value::as_bool),
            lifetime_hours: t.get("lifetime_hours").and_then(Value::as_u64),
            lba_first_error: u64_or_value(t.get("lba")),
        });
    }
    // NVMe (smartctl ≥ 7.3 reads the self-test log page). Result codes per the NVMe Base
    // Specification: 0 completed, 1–4 and 8–9 aborted, 5–7 failed.
    for t in v.pointer("/nvme_self_test_log/table").and_then(Value::as_array).into_iter().flatten() {
        let result = t.pointer("/self_test_result/value").and_then(Value::as_u64);
        out.push(SelfTest {
            kind: t.pointer("/self_test_code/string").and_then(Value::as_str).unwrap_or("").to_string(),
            status: t.pointer("/self_test_result/string").and_then(Value::as_str).unwrap_or("").to_string(),
            passed: match result {
                Some(0) => Some(true),
                Some(5..=7) => Some(false),
                _ => None,
            },
            lifetime_hours: t.get("power_on_hours").and_then(Value::as_u64),
            lba_first_error: u64_or_value(t.get("lba")),
        });
    }
    // SCSI: `scsi_self_test_0` .. `_19`. Result codes per SPC (self-test results log page):
    // 0 completed, 1–2 aborted, 3–7 failed, 15 in progress.
    for i in 0..20 {
        let Some(t) = v.get(format!("scsi_self_test_{i}")) else { break };
        let result = t.pointer("/result/value").and_then(Value::as_u64);
        if result == Some(15) {
            continue;
        }
        out.push(SelfTest {
            kind: t.pointer("/code/string").and_then(Value::as_str).unwrap_or("").to_string(),
            status: t.pointer("/result/string").and_then(Value::as_str).unwrap_or("").to_string(),
            passed: match result {
                Some(0) => Some(true),
                Some(3..=7) => Some(false),
                _ => None,
            },
            lifetime_hours: t.pointer("/power_on_time/hours").and_then(Value::as_u64),
            lba_first_error: u64_or_value(t.get("lba_first_failure")),
        });
    }
    out
}

fn self_test_running(v: &Value) -> Option<SelfTestProgress> {
    // ATA: self-test execution status 0xF_ (ATA8-ACS) = in progress, low nibble × 10 % remaining;
    // smartctl decodes it into `remaining_percent`.
    if let Some(st) = v.pointer("/ata_smart_data/self_test/status") {
        let value = st.get("value").and_then(Value::as_u64).unwrap_or(0);
        if value >> 4 == 0xF {
            return Some(SelfTestProgress {
                description: st.get("string").and_then(Value::as_str).map(str::to_string),
                remaining_pct: st.get("remaining_percent").and_then(Value::as_u64).map(clamp_u8),
            });
        }
    }
    if let Some(op) = v.pointer("/nvme_self_test_log/current_self_test_operation") {
        if op.get("value").and_then(Value::as_u64).unwrap_or(0) != 0 {
            let done = u64_at(v, "/nvme_self_test_log/current_self_test_completion_percent");
            return Some(SelfTestProgress {
                description: op.get("string").and_then(Value::as_str).map(str::to_string),
                remaining_pct: done.map(|d| clamp_u8(100u64.saturating_sub(d))),
            });
        }
    }
    if u64_at(v, "/scsi_self_test_0/result/value") == Some(15) {
        return Some(SelfTestProgress {
            description: str_at(v, "/scsi_self_test_0/code/string"),
            remaining_pct: None,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    // Tests read their fixtures and run their scripted peers directly (clippy.toml bans it elsewhere).
    #![allow(clippy::disallowed_methods)]

    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/upstream/smartctl");

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn recorded_exit(text: &str) -> i32 {
        let v: Value = serde_json::from_str(text).unwrap();
        v.pointer("/smartctl/exit_status").and_then(Value::as_i64).unwrap_or(0) as i32
    }

    /// Parses a fixture with its recorded exit status and expects data.
    fn data(name: &str) -> SmartData {
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
    fn exit_status_bits() {
        let s = ExitStatus(216);
        assert!(!s.run_failed());
        assert_eq!(
            s.findings(),
            vec![
                ExitFinding::DiskFailing,
                ExitFinding::PrefailAtThreshold,
                ExitFinding::ErrorLogEntries,
                ExitFinding::SelfTestErrors
            ]
        );
        assert!(
            ExitStatus(2).open_failed() && ExitStatus(2).run_failed() && ExitStatus(2).findings().is_empty()
        );
        assert!(ExitStatus(1).command_line_error());
        assert_eq!(ExitStatus(4).findings(), vec![ExitFinding::SmartCommandFailed]);
        assert_eq!(ExitStatus::from_code(-1), None);
        assert_eq!(ExitStatus::from_code(64), Some(ExitStatus(64)));
        assert!(!ExitFinding::DiskFailing.description().is_empty());
    }

    #[test]
    fn nvme_samsung_970_evo_plus_passes() {
        let d = data("sce_nvme_samsung_970evoplus_pass.json");
        assert_eq!(d.smart_passed, Some(true));
        assert_eq!((d.kind, d.interface), (DiskKind::Nvme, Interface::Nvme));
        assert!(d.findings.is_empty());
        let n = d.nvme.unwrap();
        assert!(!n.critical_warning.any());
        assert_eq!(d.bytes_written, Some(n.data_units_written.unwrap() * 512_000));
        assert_eq!(d.wear_used_pct, n.percentage_used.map(|p| p as u8));
    }

    #[test]
    fn nvme_pm1725_critical_warning() {
        let d = data("sce_nvme_samsung_pm1725_CRITICAL_WARNING_16_exit8.json");
        assert_eq!(d.smart_passed, Some(false));
        assert!(d.exit_status.disk_failing());
        assert_eq!(d.findings, vec![ExitFinding::DiskFailing]);
        let cw = d.nvme.unwrap().critical_warning;
        assert_eq!(cw.0, 16);
        assert!(cw.volatile_backup_failed() && !cw.spare_below_threshold() && !cw.read_only());
        assert_eq!(cw.names(), vec!["volatile_memory_backup_failed".to_string()]);
        assert_eq!(d.capacity_bytes, Some(3200631791616));
        let json = serde_json::to_value(Reading::Data(Box::new(data(
            "sce_nvme_samsung_pm1725_CRITICAL_WARNING_16_exit8.json",
        ))))
        .unwrap();
        assert_eq!(json["state"], "data");
        assert_eq!(json["nvme"]["critical_warning"]["flags"][0], "volatile_memory_backup_failed");
        assert_eq!(json["findings"][0], "disk_failing");
    }

    #[test]
    fn nvme_wear_and_spare() {
        let d = data("sce_nvme_intel_p3700_spare_93_wear_51.json");
        let n = d.nvme.as_ref().unwrap();
        assert_eq!((n.available_spare_pct, n.percentage_used), (Some(93), Some(51)));
        assert!(!n.spare_below_threshold);
        assert_eq!(d.wear_used_pct, Some(51));
        assert_eq!(data("sce_nvme_intel_p4510_wear_75pct.json").wear_used_pct, Some(75));
        let d = data("scrutiny_nvme_samsung_970evo_media_errors.json");
        assert_eq!(d.nvme.unwrap().media_errors, Some(7));
        assert_eq!(d.smart_passed, Some(true));
    }

    #[test]
    fn nvme_self_test_log_and_benign_error_log() {
        let d = data("telegraf_nvme_response.json");
        assert!(d.self_test_running.is_none());
        assert!(d.nvme.unwrap().error_log_entries.is_some());
        assert!(d.findings.is_empty());
    }

    #[test]
    fn ata_reallocated_sectors() {
        let one = data("sce_sata_hdd_seagate_st3500418as_realloc_1.json");
        let many = data("sce_sata_hdd_seagate_st3500418as_realloc_304.json");
        assert_eq!(one.ata.as_ref().unwrap().reallocated_sectors, Some(1));
        assert_eq!(many.ata.as_ref().unwrap().reallocated_sectors, Some(304));
        assert_eq!(many.smart_passed, Some(true));
        assert_eq!(many.kind, DiskKind::Hdd);
        let a5 = many.ata.as_ref().unwrap().attribute(5).unwrap();
        assert!(!a5.failing_now && a5.prefailure && a5.value == 93 && a5.thresh == 36);
        assert_eq!(many.ata.unwrap().written.unwrap().unit_bytes, 512);
        assert_eq!(many.temperature_c, Some(33));
    }

    #[test]
    fn ata_error_log_exit_64() {
        for name in ["sce_sata_hdd_hgst_exit64_errlog.json", "sce_sata_hdd_wd_hc550_exit64.json"] {
            let d = data(name);
            assert_eq!(d.findings, vec![ExitFinding::ErrorLogEntries], "{name}");
            assert!(d.ata.unwrap().error_log_count.unwrap() > 0, "{name}");
        }
        let d = data("sce_sata_hdd_hgst_exit64_errlog.json");
        let ata = d.ata.unwrap();
        assert_eq!((ata.error_log_count, ata.crc_errors), (Some(12), Some(12)));
        // 194's raw value is packed (176094511130); the decoded temperature is 26.
        assert_eq!(d.temperature_c, Some(26));
    }

    #[test]
    fn kingston_a400_exit_4_phison_attributes() {
        let d = data("sce_sata_ssd_kingston_a400_exit4.json");
        assert_eq!(d.findings, vec![ExitFinding::SmartCommandFailed]);
        assert_eq!(d.kind, DiskKind::Ssd);
        // 231 SSD_Life_Left 98 → 2 % used; 233 here is Flash_Writes_GiB and must not count as wear.
        assert_eq!(d.wear_used_pct, Some(2));
        assert_eq!(d.wear_source.as_deref(), Some("attribute 231 SSD_Life_Left"));
        // 241 Lifetime_Writes_GiB = 398.
        assert_eq!(d.bytes_written, Some(398 << 30));
        assert_eq!(d.ata.unwrap().error_log_count, None);
    }

    #[test]
    fn ssd_wear_across_vendors() {
        // Intel S4510: 233 Media_Wearout_Indicator 88, 241 Host_Writes_32MiB 2575247.
        let d = data("sce_sata_ssd_intel_s4510_pass.json");
        assert_eq!(d.wear_used_pct, Some(12));
        assert_eq!(d.bytes_written, Some(2575247 * (32 << 20)));
        // Samsung PM883: 177 Wear_Leveling_Count 99; 202 is Exception_Mode_Status, not wear.
        let d = data("sce_sata_ssd_samsung_pm883_pass.json");
        assert_eq!(
            (d.wear_used_pct, d.wear_source.as_deref()),
            (Some(1), Some("attribute 177 Wear_Leveling_Count"))
        );
        assert_eq!(d.bytes_written, Some(63180483059 * 512));
        // Samsung 860 EVO with -x: device statistics say 19 %, matching 177's normalised 81.
        let d = data("scrutiny_sata_ssd_samsung_860evo_full.json");
        assert_eq!(d.wear_used_pct, Some(19));
        assert!(d.wear_source.unwrap().starts_with("device statistics"));
        assert_eq!(d.bytes_written, Some(64777770148 * 512));
        assert_eq!(d.self_tests.len(), d.self_tests.iter().filter(|t| t.passed == Some(true)).count());
        assert!(!d.self_tests.is_empty());
        // HDDs have no wear.
        assert_eq!(data("sce_sata_hdd_seagate_exos_x16_pass.json").wear_used_pct, None);
    }

    #[test]
    fn samsung_840_crc_errors() {
        let d = data("scrutiny_sata_ssd_samsung_840_crc_errors.json");
        assert_eq!(d.ata.unwrap().crc_errors, Some(108));
        assert_eq!(d.smart_passed, Some(true));
        assert!(d.findings.is_empty());
    }

    #[test]
    fn usb_hitachi_failed() {
        let d = data("scrutiny_usb_hdd_hitachi_FAILED_realloc.json");
        assert_eq!(d.smart_passed, Some(false));
        assert_eq!((d.kind, d.interface), (DiskKind::Usb, Interface::Usb));
        assert_eq!(d.exit_status, ExitStatus(216));
        assert!(d.findings.contains(&ExitFinding::DiskFailing));
        assert!(d.findings.contains(&ExitFinding::PrefailAtThreshold));
        let ata = d.ata.as_ref().unwrap();
        assert_eq!((ata.reallocated_sectors, ata.pending_sectors), (Some(1975), Some(8)));
        let a5 = ata.attribute(5).unwrap();
        assert!(a5.failing_now && !a5.failed_in_past);
        assert_eq!(ata.error_log_count, Some(56));
        assert_eq!(ata.self_test_error_count, Some(3));
        let failed: Vec<&SelfTest> = d.self_tests.iter().filter(|t| t.passed == Some(false)).collect();
        assert_eq!(failed.len(), 3);
        assert_eq!(failed[0].lba_first_error, Some(104870168));
        assert_eq!(failed[0].status, "Completed: read failure");
        assert_eq!(d.wwn.as_deref().map(str::len), Some(18));
    }

    #[test]
    fn megaraid_and_raid_volume() {
        let d = data("scrutiny_megaraid_wd4000fyyx_exit4.json");
        assert_eq!(d.interface, Interface::Ata);
        assert_eq!(d.device.dev_type, "sat+megaraid,0");
        assert!(d.messages.iter().any(|m| m.contains("Attribute check")));
        let d = data("scrutiny_intel_raid_volume_no_smart.json");
        assert_eq!((d.smart_passed, d.temperature_c), (None, None));
        assert_eq!(d.interface, Interface::Scsi);
    }

    #[test]
    fn scsi_grown_defects_and_error_counters() {
        let d = data("sce_scsi_seagate_st373453lc_grown_defects_260.json");
        let s = d.scsi.as_ref().unwrap();
        assert_eq!(s.grown_defects, Some(260));
        assert_eq!((s.read_uncorrected(), s.write_uncorrected()), (Some(1), Some(535)));
        assert_eq!(d.interface, Interface::Scsi);
        assert_eq!(d.kind, DiskKind::Hdd);
        assert_eq!(d.model.as_deref(), Some("SEAGATE ST373453LC"));
        assert_eq!(d.bytes_written, Some(11_151_772_000_000));
        assert_eq!(d.power_on_hours, Some(102880));
        let d = data("scrutiny_sas_seagate_st4000nm0043_grown_defects.json");
        assert_eq!(d.scsi.unwrap().grown_defects, Some(56));
        let d = data("sce_sas_hitachi_h109060_pass.json");
        assert_eq!(d.interface, Interface::Sas);
        assert_eq!(d.power_cycles, Some(70));
        let d = data("telegraf_scsi_extended_response.json");
        assert_eq!(d.self_tests.len(), 4);
        assert!(d.self_tests.iter().all(|t| t.passed == Some(true)));
        assert_eq!(d.self_tests[0].lifetime_hours, Some(90));
    }

    #[test]
    fn scan() {
        assert!(parse_scan(&fixture("local_smartctl-7.3_scan_no_devices.json")).unwrap().is_empty());
        let devs = parse_scan(&fixture("scrutiny_scan_megaraid.json")).unwrap();
        assert_eq!(devs.len(), 2);
        assert_eq!(
            info_argv(&devs[1]),
            ["smartctl", "-a", "-j", "-n", "standby", "-d", "megaraid,1", "/dev/bus/0"]
        );
        let devs = parse_scan(&fixture("scrutiny_scan_simple.json")).unwrap();
        assert_eq!(info_argv(&devs[0]), ["smartctl", "-a", "-j", "-n", "standby", "/dev/sda"]);
        assert_eq!(selftest_argv(&devs[0], SelfTestKind::Long), ["smartctl", "-t", "long", "/dev/sda"]);
        assert_eq!(
            selftest_argv(
                &ScanDevice { dev_type: "sat".into(), ..ScanDevice::path("/dev/sdc") },
                SelfTestKind::Short
            ),
            ["smartctl", "-t", "short", "-d", "sat", "/dev/sdc"]
        );
        assert_eq!(scan_argv(), ["smartctl", "--scan", "-j"]);
    }

    #[test]
    fn vm_without_smart_disks_fails_with_reason() {
        let text = fixture("local_smartctl-7.3_virtio_vda_unable_to_detect_exit1.json");
        match parse_info(&text, 1).unwrap() {
            Reading::Failed { reason, exit_status } => {
                assert!(reason.contains("Unable to detect device type"), "{reason}");
                assert!(exit_status.command_line_error());
            }
            other => panic!("{other:?}"),
        }
        let text = fixture("local_smartctl-7.3_virtio_vda_-d_sat_exit2.json");
        match parse_info(&text, 2).unwrap() {
            Reading::Failed { reason, exit_status } => {
                assert!(reason.contains("Operation not permitted"), "{reason}");
                assert!(exit_status.open_failed());
            }
            other => panic!("{other:?}"),
        }
        let text = fixture("scrutiny_open_failed_exit2.json");
        assert!(matches!(parse_info(&text, 2).unwrap(), Reading::Failed { .. }));
    }

    /// smartctl 7.3 with `-n standby` on a spun-down disk: ataprint.cpp prints the mode through
    /// `jinf()`, which lands in `smartctl.messages` with severity "information", and returns 2.
    const STANDBY: &str = r#"{
  "json_format_version": [1, 0],
  "smartctl": {
    "version": [7, 3],
    "svn_revision": "5338",
    "platform_info": "x86_64-linux-6.8.8-2-pve",
    "build_info": "(local build)",
    "argv": ["smartctl", "-a", "-j", "-n", "standby", "/dev/sdc"],
    "messages": [
      {"string": "Device is in STANDBY mode, exit(2)", "severity": "information"}
    ],
    "exit_status": 2
  }
}"#;

    #[test]
    fn standby_is_not_a_failure() {
        match parse_info(STANDBY, 2).unwrap() {
            Reading::Standby { power_mode } => assert_eq!(power_mode, "STANDBY"),
            other => panic!("{other:?}"),
        }
        // The OS-level variant from smartctl.cpp, and a device section present alongside.
        let os = STANDBY.replace("Device is in STANDBY mode", "/dev/sdc: Device is in STANDBY (OS) mode");
        assert!(
            matches!(parse_info(&os, 2).unwrap(), Reading::Standby { power_mode } if power_mode == "STANDBY (OS)")
        );
        assert!(matches!(
            parse_info("Device is in SLEEP mode, exit(2)\n", 2).unwrap(),
            Reading::Standby { .. }
        ));
        let json = serde_json::to_value(parse_info(STANDBY, 2).unwrap()).unwrap();
        assert_eq!(json["state"], "standby");
    }

    #[test]
    fn malformed_json_names_the_line() {
        let text = "{\n  \"device\": {\n    \"name\": \"/dev/sda\",\n    oops\n  }\n}\n";
        match parse_info_of("/dev/sda", text, 0) {
            Err(ToolError::Parse { what, line, text, .. }) => {
                assert!(what.contains("smartctl") && what.contains("/dev/sda"), "{what}");
                assert_eq!(line, 4);
                assert_eq!(text.trim(), "oops");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(parse_info("", 0), Err(ToolError::Parse { .. })));
        assert!(matches!(parse_info("[1, 2]", 0), Err(ToolError::Parse { .. })));
        assert!(matches!(parse_scan("{\"devices\": [ {"), Err(ToolError::Parse { .. })));
        // Old smartctl without -j: usage text and exit 1 is a failed run, not a parse error.
        let old = "smartctl 6.6 2016-05-31 r4324\n=======> UNRECOGNIZED OPTION: j\n";
        assert!(matches!(parse_info(old, 1).unwrap(), Reading::Failed { .. }));
        assert!(matches!(parse_info("{}", -1).unwrap(), Reading::Failed { .. }));
    }

    #[test]
    fn demo_scenario_files() {
        let scan = parse_scan(include_str!("../../scenarios/demo/commands/smartctl/scan.json")).unwrap();
        assert_eq!(scan.len(), 8);
        let files = [
            include_str!("../../scenarios/demo/commands/smartctl/sda.json"),
            include_str!("../../scenarios/demo/commands/smartctl/sdb.json"),
            include_str!("../../scenarios/demo/commands/smartctl/sdc.json"),
            include_str!("../../scenarios/demo/commands/smartctl/sdd.json"),
            include_str!("../../scenarios/demo/commands/smartctl/sde.json"),
            include_str!("../../scenarios/demo/commands/smartctl/sdf.json"),
            include_str!("../../scenarios/demo/commands/smartctl/nvme0.json"),
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
        let sdg = include_str!("../../scenarios/demo/commands/smartctl/sdg.json");
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
