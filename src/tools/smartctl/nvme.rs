//! NVMe disks: the SMART / Health Information log (NVMe Base Specification) as smartctl prints it in
//! `nvme_smart_health_information_log`: the critical warning bits, spare, percentage used, media
//! errors, error log entries, data units read and written, temperature time.

use super::{CriticalWarning, NvmeData};
use serde_json::Value;

use super::clamp_u8;

pub(super) fn nvme_data(log: &Value) -> NvmeData {
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

#[cfg(test)]
mod tests {
    use super::super::ExitFinding;
    use super::super::tests::data;
    use super::super::{DiskKind, Interface, Reading};

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
}
