//! Tests for the hardware domain (issues 5 and 6): the hardware worker through `step()` over the demo,
//! a bare VM and a scenario whose SEL changes between reads; a hung ipmitool killed at its timeout;
//! `/api/hardware` and `/api/hardware/live` over the demo and the bare VM.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use proxwatch::host::Host;
use proxwatch::series::Series;
use proxwatch::workers::hardware::{HardwarePoller, Options};
use proxwatch::workers::inventory::SectionState;
use serde_json::Value;

use crate::common::{self, TestApp};

const T0: i64 = 1_750_000_000_000;

/// An app over `host` with the hardware worker's first step over `host_for_worker` published.
async fn app_over(host: Host, host_for_worker: &Host) -> TestApp {
    let app = TestApp::builder().host(host).build().await;
    let mut p = HardwarePoller::new(Options::default());
    assert!(p.step(host_for_worker, &app.series, T0).await);
    app.hardware.send_replace(Arc::new(p.state.clone()));
    app
}

fn find<'a>(list: &'a Value, key: &str, want: &str) -> Option<&'a Value> {
    list.as_array()?.iter().find(|v| v[key] == want)
}

#[tokio::test]
async fn hardware_api_over_the_demo() {
    let app = app_over(common::demo_host(), &common::demo_host()).await;
    let (status, v) = app.get("/api/hardware").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    // (The demo takes /proc, the CPU included, from the live machine; plain replay has none.)
    for section in ["sensors", "ipmi", "sel", "system", "memory", "pci"] {
        assert_eq!(v[section]["state"], "ok", "{section}: {}", v[section]);
    }

    // hwmon: coretemp package + cores, NVMe, ACPI zone, nct6798 fans; the bogus inputs dropped.
    let chips = &v["sensors"]["data"]["chips"];
    let core = find(chips, "name", "coretemp").unwrap();
    let pkg = find(&core["readings"], "label", "Package id 0").unwrap();
    assert_eq!(
        (pkg["value"].as_f64(), pkg["max"].as_f64(), pkg["crit"].as_f64()),
        (Some(27.0), Some(80.0), Some(100.0))
    );
    assert_eq!(core["readings"].as_array().unwrap().len(), 17);
    assert_eq!(find(chips, "name", "nvme").unwrap()["model"], "Samsung SSD 970 EVO Plus 1TB");
    assert!(find(chips, "name", "acpitz").is_some());
    let nct = find(chips, "name", "nct6798").unwrap();
    let fans: Vec<&str> = nct["readings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "fan")
        .map(|r| r["label"].as_str().unwrap())
        .collect();
    assert_eq!(fans, ["fan1", "fan2"], "the unpopulated fan3 header is not shown");
    let ignored: Vec<&str> = v["sensors"]["data"]["ignored"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["label"].as_str().unwrap())
        .collect();
    assert_eq!(ignored, ["SYSTIN", "AUXTIN0", "fan3"]);

    // IPMI: the fan below its non-critical threshold, and the SEL.
    let fan2 = find(&v["ipmi"]["data"]["sensors"], "name", "System Fan2").unwrap();
    assert_eq!(
        (fan2["status"].as_str(), fan2["value"].as_f64(), fan2["lnc"].as_f64()),
        (Some("nc"), Some(600.0), Some(700.0))
    );
    assert_eq!(find(&v["ipmi"]["data"]["sensors"], "name", "CPU Temp").unwrap()["status"], "ok");
    let sel = v["sel"]["data"].as_array().unwrap();
    assert_eq!(sel.len(), 5);
    assert_eq!(sel[0]["pre_init_s"], 826);
    assert!(sel.iter().all(|e| e["new"] == false), "nothing is new at the first read");

    // Static: 4 of 16 DIMM slots, the board, the GPU and the HBA highlighted.
    let mem = &v["memory"]["data"];
    assert_eq!((mem["modules"].as_array().unwrap().len(), mem["empty_slots"].as_u64()), (4, Some(12)));
    assert_eq!(mem["total_bytes"].as_u64(), Some(128 << 30));
    assert_eq!(mem["modules"][0]["part_number"], "36ASF4G72PZ-3G2E7");
    assert_eq!(mem["modules"][0]["configured_mts"], 2666);
    assert_eq!(v["system"]["data"]["board"], "X12SPi-TF");
    assert_eq!(v["system"]["data"]["product_version"], Value::Null, "the 0123456789 placeholder is dropped");
    assert_eq!(v["system"]["data"]["chassis_type"], "Main Server Chassis");
    let pci = &v["pci"]["data"];
    let gpu = find(pci, "slot", "0000:65:00.0").unwrap();
    assert_eq!((gpu["kind"].as_str(), gpu["device"].as_str()), (Some("gpu"), Some("TU104GL [Tesla T4]")));
    assert_eq!((gpu["driver"].as_str(), gpu["iommu_group"].as_u64()), (Some("nvidia"), Some(50)));
    let hba = find(pci, "slot", "0000:17:00.0").unwrap();
    assert_eq!((hba["kind"].as_str(), hba["driver"].as_str()), (Some("storage"), Some("mpt3sas")));

    // The UPS and GPU workers' snapshots ride along.
    assert!(v.get("ups").is_some() && v.get("gpu").is_some());
    assert!(v["temp_series"].as_array().unwrap().iter().any(|t| t["key"] == "temp.coretemp.package_id_0"));

    // The live answer is the cheap part: no static inventory.
    let (status, live) = app.get("/api/hardware/live").await;
    assert_eq!(status, StatusCode::OK);
    for key in ["sensors", "ipmi", "sel", "ups", "gpu", "temp_series"] {
        assert!(live.get(key).is_some(), "{key}");
    }
    for key in ["memory", "pci", "system", "cpu"] {
        assert!(live.get(key).is_none(), "{key} is static");
    }
    // And the temperatures are in the history.
    let (status, h) = app.get("/api/history?metric=temp.coretemp.package_id_0&range=live").await;
    assert_eq!(status, StatusCode::OK, "{h}");
    assert_eq!(h["points"][0][1].as_f64(), Some(27.0));
}

#[tokio::test]
async fn a_host_without_hardware_reports_each_part_unavailable() {
    let app = app_over(common::replay("vm-no-hardware"), &common::replay("vm-no-hardware")).await;
    let (status, v) = app.get("/api/hardware").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    for (section, why) in [
        ("sensors", "no hwmon sensors on this host"),
        ("ipmi", "no /dev/ipmi0"),
        ("sel", "no /dev/ipmi0"),
        ("system", "no DMI data"),
        ("memory", "dmidecode not installed"),
        ("pci", "no PCI bus"),
    ] {
        assert_eq!(v[section]["state"], "unavailable", "{section}: {}", v[section]);
        let reason = v[section]["reason"].as_str().unwrap();
        assert!(reason.contains(why), "{section}: {reason}");
        assert_eq!(v[section]["data"], Value::Null, "{section}: no fake value");
    }
    assert_eq!(v["cpu"]["state"], "ok");
    assert_eq!(v["temp_series"], serde_json::json!([]));
    let (status, _) = app.get("/api/hardware/live").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn ipmi_off_in_the_config_is_a_reason_too() {
    let mut p = HardwarePoller::new(Options { ipmi: false, ..Options::default() });
    p.step(&common::demo_host(), &Series::new(10), T0).await;
    assert_eq!(p.state.ipmi.state, SectionState::Unavailable);
    assert!(p.state.ipmi.reason.as_deref().unwrap().contains("hardware.ipmi"));
    assert_eq!(p.state.sensors.state, SectionState::Ok);
}

/// A scenario with a BMC whose SEL file the test rewrites between reads.
fn bmc_scenario(dir: &Path, sel: &str) {
    std::fs::create_dir_all(dir.join("dev")).unwrap();
    std::fs::write(dir.join("dev/ipmi0"), "").unwrap();
    let fix = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/upstream/ipmitool");
    std::fs::copy(fix.join("ipmisim_sensor_warn_cpu_unc_fan_lnc.txt"), dir.join("sensor.txt")).unwrap();
    std::fs::write(dir.join("sel.txt"), sel).unwrap();
    std::fs::write(
        dir.join("manifest.toml"),
        "[scenario]\nname = 'bmc'\n\
[[command]]\nargv = ['ipmitool', 'sensor']\nstdout = 'sensor.txt'\n\
[[command]]\nargv = ['ipmitool', 'sel', 'elist']\nstdout = 'sel.txt'\n\
[[command]]\nargv = ['dmidecode', '-t', '17']\nmissing = true\n\
[[command]]\nargv = ['lspci', '-mm', '-D']\nmissing = true\n",
    )
    .unwrap();
}

#[tokio::test]
async fn worker_runs_each_part_on_its_interval_and_marks_new_sel_entries() {
    let fix = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/upstream/ipmitool");
    let warn = std::fs::read_to_string(fix.join("ipmisim_sel_elist_warn.txt")).unwrap();
    let recovered = std::fs::read_to_string(fix.join("ipmisim_sel_elist_after_recovery.txt")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    bmc_scenario(dir.path(), &warn);
    let host = common::replay_dir(dir.path());
    let series = Series::new(10);
    let mut p = HardwarePoller::new(Options { ipmi_every_s: 60, sensors_every_s: 5, ..Options::default() });

    assert!(p.step(&host, &series, T0).await);
    let first_ipmi = p.state.ipmi.updated;
    assert_eq!(first_ipmi, Some(T0 / 1000));
    assert_eq!(p.state.sel.data.as_ref().unwrap().len(), 2);
    assert!(p.state.sel.data.as_ref().unwrap().iter().all(|e| !e.new));
    assert_eq!(p.state.sensors.state, SectionState::Unavailable, "no hwmon in this scenario");
    assert_eq!(p.state.memory.state, SectionState::Unavailable);

    // Nothing is due a second later; sensors again after 5 s, IPMI not yet.
    assert!(!p.step(&host, &series, T0 + 1000).await);
    std::fs::write(dir.path().join("sel.txt"), &recovered).unwrap();
    assert!(p.step(&host, &series, T0 + 5000).await);
    assert_eq!(p.state.ipmi.updated, first_ipmi);
    assert_eq!(p.state.sel.data.as_ref().unwrap().len(), 2, "SEL not re-read before its interval");

    // At 60 s the SEL is re-read: the two recovery records are new, the old ones are not.
    assert!(p.step(&host, &series, T0 + 60_000).await);
    let sel = p.state.sel.data.as_ref().unwrap();
    let new: Vec<(&str, bool)> = sel.iter().map(|e| (e.id.as_str(), e.new)).collect();
    assert_eq!(new, [("1", false), ("2", false), ("3", true), ("4", true)]);
    let nc: Vec<&str> = p
        .state
        .ipmi
        .data
        .as_ref()
        .unwrap()
        .sensors
        .iter()
        .filter(|s| s.status == proxwatch::tools::ipmi::Status::Nc)
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(nc, ["CPU Temp", "System Fan2"]);
}

#[tokio::test]
async fn sensor_temperatures_are_recorded_and_described() {
    let series = Series::new(10);
    let mut p = HardwarePoller::new(Options::default());
    p.step(&common::demo_host(), &series, T0).await;
    p.step(&common::demo_host(), &series, T0 + 5000).await;
    let keys = series.keys();
    let pkg = keys.iter().find(|k| k.name == "temp.coretemp.package_id_0").expect("package series");
    assert_eq!((pkg.label.as_str(), pkg.unit.as_str()), ("coretemp Package id 0", "celsius"));
    assert!(keys.iter().any(|k| k.name == "temp.nvme.composite"));
    assert!(keys.iter().any(|k| k.name == "temp.acpitz.temp1"));
    assert!(
        keys.iter().filter(|k| k.name.starts_with("temp.")).count()
            <= proxwatch::workers::hardware::MAX_TEMP_SERIES
    );
    assert_eq!(series.live("temp.coretemp.package_id_0").unwrap().points.len(), 2);
}

/// ipmitool wedged on a dead BMC: the run is killed at `ipmi_timeout` and the section says so.
/// (Replay cannot hang, so this uses the live host with a stand-in ipmitool that never answers.)
#[tokio::test]
async fn a_hung_ipmitool_is_killed_at_its_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let tool = dir.path().join("ipmitool");
    std::fs::write(&tool, "#!/bin/sh\nexec sleep 600\n").unwrap();
    let mut perms = std::fs::metadata(&tool).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&tool, perms).unwrap();
    let device = dir.path().join("ipmi0");
    std::fs::write(&device, "").unwrap();
    let opts = Options {
        ipmitool: tool.to_str().unwrap().into(),
        ipmi_device: device.to_str().unwrap().into(),
        ipmi_timeout: Duration::from_millis(300),
        ..Options::default()
    };
    let mut p = HardwarePoller::new(opts);
    p.step(&Host::system(Duration::from_secs(30)), &Series::new(10), T0).await;
    for (name, s) in [("sensors", &p.state.ipmi.state), ("sel", &p.state.sel.state)] {
        assert_eq!(*s, SectionState::Error, "{name}");
    }
    let reason = p.state.ipmi.reason.as_deref().unwrap();
    assert!(reason.contains("did not finish within 300ms"), "{reason}");
}
