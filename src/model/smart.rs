//! One disk's SMART data as smartctl reports it (the parsers are `tools::smartctl`): the devices
//! `smartctl --scan` lists, the outcome of one `smartctl -a -j -n standby` run normalised across ATA,
//! NVMe and SCSI (attributes, health logs, self-tests), and smartctl's exit status, a bit mask
//! (smartctl(8), "RETURN VALUES"): bits 0–1 mean the run produced no data (bad command line, device
//! not opened, or the disk is asleep), bits 2–7 are findings about the disk (a command failed, SMART
//! says FAILING, attributes at or below threshold now or in the past, entries in the error or
//! self-test log).

use serde::{Deserialize, Serialize};

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

/// The outcome of one `smartctl -a -j -n standby` run.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "SmartReading"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "SmartReading"))]
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
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "SmartDiskKind"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "SmartDiskKind"))]
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
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "SmartInterface"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "SmartInterface"))]
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
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct DeviceId {
    pub name: String,
    pub info_name: String,
    #[serde(rename = "type")]
    pub dev_type: String,
    pub protocol: String,
}

/// One disk's SMART data, normalised across ATA, NVMe and SCSI.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
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

/// One row of the ATA attribute table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
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
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
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
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
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

/// Serialized as `{value, flags}` (see the `Serialize` impl below).
#[cfg(test)]
impl ts_rs::TS for CriticalWarning {
    type WithoutGenerics = Self;
    type OptionInnerType = Self;
    fn name(cfg: &ts_rs::Config) -> String {
        Self::inline(cfg)
    }
    fn inline(_: &ts_rs::Config) -> String {
        "{ value: number, flags: Array<string>, }".to_owned()
    }
}

#[cfg(test)]
impl schemars::JsonSchema for CriticalWarning {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "CriticalWarning".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "object",
            "properties": { "value": { "type": "integer", "minimum": 0 }, "flags": { "type": "array", "items": { "type": "string" } } },
            "required": ["value", "flags"]
        })
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
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
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
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ScsiErrorCounters {
    pub total_errors_corrected: Option<u64>,
    pub total_uncorrected_errors: Option<u64>,
    pub gigabytes_processed: Option<f64>,
}

/// SCSI/SAS log pages.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
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
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SelfTestProgress {
    pub description: Option<String>,
    pub remaining_pct: Option<u8>,
}

/// smartctl's exit status, a bit mask (smartctl(8), "RETURN VALUES"). Serialised as the number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(transparent)]
pub struct ExitStatus(pub u8);

/// What bits 2–7 of the exit status say about a disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
