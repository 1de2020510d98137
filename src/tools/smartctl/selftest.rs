//! Self-tests: starting one (`smartctl -t short|long`), the self-test log of each transport (ATA
//! `standard`/`extended` tables, the NVMe self-test log page, SCSI `scsi_self_test_N`, result codes per
//! the NVMe Base Specification and SPC) and a test still running with its progress.

use serde_json::Value;

use super::{ExitStatus, ScanDevice, SelfTest, SelfTestKind, SelfTestProgress};
use super::{TOOL, clamp_u8, failed, push_type, str_at, u64_at};
use crate::host::{Host, ToolError};

/// `smartctl -t short|long [-d TYPE] DEV`. A self-test is asked for by a person and runs on the disk,
/// so this one deliberately has no `-n standby`: the disk has to spin up for it.
pub fn selftest_argv(dev: &ScanDevice, kind: SelfTestKind) -> Vec<String> {
    let mut argv: Vec<String> = vec![TOOL.into(), "-t".into(), kind.as_str().into()];
    push_type(&mut argv, dev);
    argv.push(dev.name.clone());
    argv
}

/// Starts a self-test; smartctl returns at once and the disk runs it in the background (its progress
/// shows in the next [`info`](fn@super::info) as
/// [`SmartData::self_test_running`](super::SmartData::self_test_running)). Bits 3–7 of the exit
/// status only restate the disk's health and do not mean the test was refused; bits 0–2 do.
pub async fn start_selftest(host: &Host, dev: &ScanDevice, kind: SelfTestKind) -> Result<(), ToolError> {
    let argv = selftest_argv(dev, kind);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let out = host.run(&argv).await?;
    match ExitStatus::from_code(out.code) {
        Some(s) if !s.run_failed() && !s.smart_command_failed() => Ok(()),
        _ => Err(failed(&argv, out.code, &out)),
    }
}

/// A number that smartctl writes either bare or as `{ "value": N }` (e.g. self-test LBAs).
fn u64_or_value(v: Option<&Value>) -> Option<u64> {
    let v = v?;
    v.as_u64().or_else(|| v.get("value").and_then(Value::as_u64))
}

pub(super) fn self_tests(v: &Value) -> Vec<SelfTest> {
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

pub(super) fn self_test_running(v: &Value) -> Option<SelfTestProgress> {
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
