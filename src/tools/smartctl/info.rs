//! One disk's `smartctl -a -j -n standby` run: whether it gave data, found the disk asleep
//! (`-n standby`, DESIGN.md §3.4) or failed, and the data normalised across ATA, NVMe and SCSI into
//! [`SmartData`]: identity, interface and kind, health verdict, temperature, hours, wear and bytes
//! written, with each transport's own details parsed by `ata`, `nvme` and `scsi`. The exit status in
//! the process code and in the JSON are OR-ed together (see [`parse_info_of`]).

use serde_json::Value;

use super::ata::{ata_attribute, ata_data, ata_wear, leading_number};
use super::nvme::nvme_data;
use super::scsi::scsi_data;
use super::selftest::{self_test_running, self_tests};
use super::{
    AtaAttribute, DeviceId, DiskKind, ExitStatus, Interface, Reading, ScsiErrorCounters, SmartData,
    TransferCounter,
};
use super::{TOOL, clamp_u8, json_error, str_at, u64_at};
use crate::host::ToolError;

// ---------------------------------------------------------------------------------------------------
// the parser
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

#[cfg(test)]
mod tests {
    use super::super::devices::parse_scan;
    use super::super::tests::{data, fixture};
    use super::*;

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
}
