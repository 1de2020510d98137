//! SCSI and SAS disks: the log pages smartctl reads (grown defect list, read/write/verify error
//! counters, non-medium errors, Solid State Media endurance, start-stop cycles), the transport and the
//! Informational Exceptions text of a failed health check.

use super::{ScsiData, ScsiErrorCounters};
use serde_json::Value;

use super::{str_at, u64_at};

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

pub(super) fn scsi_data(v: &Value) -> ScsiData {
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

#[cfg(test)]
mod tests {
    use super::super::tests::data;
    use super::super::{DiskKind, Interface};

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
}
