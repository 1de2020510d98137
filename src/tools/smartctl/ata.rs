//! ATA/SATA disks (directly, through SAT, behind a MegaRAID HBA or a USB bridge): the SMART attribute
//! table, the counters read from it (reallocated, pending, uncorrectable, CRC errors), lifetime host
//! transfers from Device Statistics or vendor attributes, wear from Device Statistics page 7 or the
//! vendor wear-out attributes (names per smartmontools' drivedb.h), and the error and self-test log
//! counts.

use super::{AtaAttribute, AtaData, TransferCounter};
use serde_json::Value;

use super::{clamp_u8, u64_at};

/// The leading decimal number of a raw string (`"26 (Min/Max 13/41)"` → 26); `None` for hex renderings.
pub(super) fn leading_number(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.starts_with("0x") {
        return None;
    }
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s[..end].parse().ok()
}

pub(super) fn ata_attribute(a: &Value) -> Option<AtaAttribute> {
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

pub(super) fn ata_data(v: &Value, attributes: Vec<AtaAttribute>, block: u64) -> AtaData {
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

pub(super) fn ata_wear(v: &Value, ata: Option<&AtaData>) -> Option<(u8, String)> {
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

#[cfg(test)]
mod tests {
    use super::super::SelfTest;
    use super::super::tests::data;
    use super::super::{DiskKind, Interface};
    use super::super::{ExitFinding, ExitStatus};

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
}
