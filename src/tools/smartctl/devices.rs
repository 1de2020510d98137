//! `smartctl --scan -j`: the devices smartctl can address, with the `-d` type and protocol it would
//! use (read without opening them, so no disk wakes up).

use serde::Deserialize;

use super::ScanDevice;

use super::json_error;
use crate::host::ToolError;

#[derive(Deserialize)]
struct ScanOutput {
    // smartctl 7.3 on a machine without disks prints no `devices` key at all rather than `[]`
    // (fixture local_smartctl-7.3_scan_no_devices.json).
    #[serde(default)]
    devices: Vec<ScanDevice>,
}

pub fn parse_scan(text: &str) -> Result<Vec<ScanDevice>, ToolError> {
    const WHAT: &str = "smartctl --scan -j";
    let out: ScanOutput = serde_json::from_str(text).map_err(|e| json_error(WHAT, text, &e))?;
    Ok(out.devices)
}

#[cfg(test)]
mod tests {
    use super::super::tests::fixture;
    use super::super::{SelfTestKind, selftest_argv};
    use super::super::{info_argv, scan_argv};
    use super::*;

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
}
