//! smartctl's exit status, a bit mask (smartctl(8), "RETURN VALUES"): bits 0–1 mean the run
//! produced no data (bad command line, device not opened, or the disk is asleep), bits 2–7 are
//! findings about the disk (a command failed, SMART says FAILING, attributes at or below threshold now
//! or in the past, entries in the error or self-test log).

use serde::Serialize;

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
