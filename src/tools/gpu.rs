//! GPUs: NVIDIA's `nvidia-smi -q -x` XML (replay scenarios and the demo, and the fallback where NVML
//! does not load but the tool exists) and AMD/Intel through the DRM sysfs tree
//! (`/sys/class/drm/card*/device`). NVIDIA through NVML is read by the host seam
//! ([`crate::host::Host::nvml_gpus`]), which converts NVML's device data itself.
//!
//! All of them produce the same [`Gpu`] (a model type, re-exported here). A value a device does not
//! report is `None` (`N/A` and `[Not Supported]` in nvidia-smi, `NotSupported` from NVML), never a
//! made-up zero.

pub use crate::host::nvml::decode_throttle_mask;
use crate::host::{Host, ToolError};
pub use crate::model::gpu::{Clocks, Ecc, Gpu, GpuProcess, MAX_GPUS, MAX_PROCESSES};

/// The argv of the XML query.
pub const NVIDIA_SMI_ARGV: &[&str] = &["nvidia-smi", "-q", "-x"];
/// The file whose presence says the NVIDIA kernel driver is loaded (so `nvidia-smi` has GPUs to show).
pub const NVIDIA_DRIVER: &str = "/proc/driver/nvidia/version";

/// A number with an optional unit (`38 %`, `1032 MiB`, `26.78 W`, `40 C`, `585 MHz`); `N/A`,
/// `[N/A]`, `[Not Supported]`, `Requested functionality has been deprecated` and the like are `None`.
pub fn number(text: &str) -> Option<f64> {
    let first = text.split_whitespace().next()?;
    first.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Bytes from a nvidia-smi memory value (`15360 MiB`).
fn bytes(text: &str) -> Option<u64> {
    let v = number(text)?;
    let unit = text.split_whitespace().nth(1).unwrap_or("B");
    let mult = match unit {
        "KiB" => 1u64 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => 1,
    };
    Some((v * mult as f64) as u64)
}

/// The throttle ("clock event") reasons nvidia-smi names, to our names. nvidia-smi's XML calls them
/// `clocks_throttle_reason_*` up to schema v12 and `clocks_event_reason_*` from v13 (driver 535+).
fn throttle_name(element: &str) -> Option<&str> {
    element.strip_prefix("clocks_throttle_reason_").or_else(|| element.strip_prefix("clocks_event_reason_"))
}

fn child<'a, 'i>(node: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    node.children().find(|c| c.has_tag_name(name))
}

fn path<'a, 'i>(node: roxmltree::Node<'a, 'i>, names: &[&str]) -> Option<roxmltree::Node<'a, 'i>> {
    names.iter().try_fold(node, |n, name| child(n, name))
}

fn text_at(node: roxmltree::Node, names: &[&str]) -> Option<String> {
    let t = path(node, names)?.text()?.trim();
    let unusable =
        t.is_empty() || t == "N/A" || t.starts_with('[') || t.starts_with("Requested functionality");
    (!unusable).then(|| t.chars().take(128).collect())
}

fn num_at(node: roxmltree::Node, names: &[&str]) -> Option<f64> {
    text_at(node, names).as_deref().and_then(number)
}

/// Sums the counters of an ECC block whose names say corrected (`*_correctable`, `single_bit/total`)
/// or uncorrected (`*_uncorrectable*`, `double_bit/total`). `None` when none is a number.
fn ecc_sum(block: Option<roxmltree::Node>, uncorrected: bool) -> Option<u64> {
    let block = block?;
    let mut total: Option<u64> = None;
    let mut add = |v: Option<f64>| {
        if let Some(v) = v {
            *total.get_or_insert(0) += v as u64;
        }
    };
    for c in block.children().filter(|c| c.is_element()) {
        let name = c.tag_name().name();
        match name {
            "single_bit" if !uncorrected => add(num_at(c, &["total"])),
            "double_bit" if uncorrected => add(num_at(c, &["total"])),
            // sram_threshold_exceeded is a flag, not a count.
            n if n.ends_with("threshold_exceeded") => {}
            n if n.contains("uncorrectable") == uncorrected && n.contains("correctable") => {
                add(c.text().and_then(number))
            }
            _ => {}
        }
    }
    total
}

/// Parses `nvidia-smi -q -x`. Errors name the XML line where parsing failed.
pub fn parse_nvidia_smi_xml(xml: &str) -> Result<Vec<Gpu>, ToolError> {
    // nvidia-smi emits a DOCTYPE with an external DTD; roxmltree accepts it when allowed.
    let opts = roxmltree::ParsingOptions { allow_dtd: true, ..Default::default() };
    let doc = roxmltree::Document::parse_with_options(xml, opts).map_err(|e| {
        let line = e.pos().row as usize;
        let text = xml.lines().nth(line.saturating_sub(1)).unwrap_or("");
        ToolError::parse("nvidia-smi -q -x", line, text, e.to_string())
    })?;
    let root = doc.root_element();
    if !root.has_tag_name("nvidia_smi_log") {
        return Err(ToolError::parse(
            "nvidia-smi -q -x",
            1,
            root.tag_name().name(),
            "expected <nvidia_smi_log>",
        ));
    }
    let driver_version = text_at(root, &["driver_version"]);
    let mut gpus = Vec::new();
    for (i, g) in root.children().filter(|c| c.has_tag_name("gpu")).take(MAX_GPUS).enumerate() {
        let name = text_at(g, &["product_name"]).unwrap_or_else(|| "NVIDIA GPU".into());
        let power = child(g, "gpu_power_readings").or_else(|| child(g, "power_readings"));
        let power_w = power.and_then(|p| {
            num_at(p, &["power_draw"])
                .or_else(|| num_at(p, &["instant_power_draw"]))
                .or_else(|| num_at(p, &["average_power_draw"]))
        });
        let power_limit_w = power.and_then(|p| {
            num_at(p, &["enforced_power_limit"])
                .or_else(|| num_at(p, &["current_power_limit"]))
                .or_else(|| num_at(p, &["power_limit"]))
        });
        let clocks = |block: &str| {
            let b = child(g, block);
            Clocks {
                graphics_mhz: b.and_then(|b| num_at(b, &["graphics_clock"])),
                sm_mhz: b.and_then(|b| num_at(b, &["sm_clock"])),
                mem_mhz: b.and_then(|b| num_at(b, &["mem_clock"])),
                video_mhz: b.and_then(|b| num_at(b, &["video_clock"])),
            }
        };
        let throttle = child(g, "clocks_event_reasons")
            .or_else(|| child(g, "clocks_throttle_reasons"))
            .map(|block| {
                block
                    .children()
                    .filter(|c| c.is_element() && c.text().map(str::trim) == Some("Active"))
                    .filter_map(|c| throttle_name(c.tag_name().name()).map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let ecc_enabled = text_at(g, &["ecc_mode", "current_ecc"]).map(|m| m == "Enabled");
        let errors = child(g, "ecc_errors");
        let ecc = Ecc {
            enabled: ecc_enabled,
            volatile_corrected: ecc_sum(errors.and_then(|e| child(e, "volatile")), false),
            volatile_uncorrected: ecc_sum(errors.and_then(|e| child(e, "volatile")), true),
            aggregate_corrected: ecc_sum(errors.and_then(|e| child(e, "aggregate")), false),
            aggregate_uncorrected: ecc_sum(errors.and_then(|e| child(e, "aggregate")), true),
        };
        let processes = child(g, "processes")
            .map(|p| {
                p.children()
                    .filter(|c| c.has_tag_name("process_info"))
                    .take(MAX_PROCESSES)
                    .filter_map(|pi| {
                        let pid = text_at(pi, &["pid"])?.parse().ok()?;
                        let kind = match text_at(pi, &["type"]).as_deref() {
                            Some("C") => "compute",
                            Some("G") => "graphics",
                            Some("C+G") => "compute+graphics",
                            _ => "unknown",
                        };
                        Some(GpuProcess {
                            pid,
                            name: text_at(pi, &["process_name"]).unwrap_or_default(),
                            kind: kind.into(),
                            used_bytes: text_at(pi, &["used_memory"]).as_deref().and_then(bytes),
                            vmid: None,
                            guest_kind: None,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        gpus.push(Gpu {
            index: text_at(g, &["minor_number"]).and_then(|m| m.parse().ok()).unwrap_or(i as u32),
            vendor: "nvidia".into(),
            source: "nvidia-smi".into(),
            name,
            uuid: text_at(g, &["uuid"]),
            pci_bus_id: g.attribute("id").map(str::to_string).or_else(|| text_at(g, &["pci", "pci_bus_id"])),
            driver: Some("nvidia".into()),
            driver_version: driver_version.clone(),
            util_pct: num_at(g, &["utilization", "gpu_util"]),
            mem_util_pct: num_at(g, &["utilization", "memory_util"]),
            mem_used_bytes: text_at(g, &["fb_memory_usage", "used"]).as_deref().and_then(bytes),
            mem_total_bytes: text_at(g, &["fb_memory_usage", "total"]).as_deref().and_then(bytes),
            temp_c: num_at(g, &["temperature", "gpu_temp"]),
            temp_slowdown_c: num_at(g, &["temperature", "gpu_temp_slow_threshold"]),
            power_w,
            power_limit_w,
            fan_pct: num_at(g, &["fan_speed"]),
            pstate: text_at(g, &["performance_state"]),
            clocks: clocks("clocks"),
            max_clocks: clocks("max_clocks"),
            throttle,
            ecc: (ecc != Ecc::default()).then_some(ecc),
            processes,
        });
    }
    Ok(gpus)
}

/// Runs `nvidia-smi -q -x` through the host seam and parses it.
pub async fn nvidia_smi(host: &Host) -> Result<Vec<Gpu>, ToolError> {
    let out = host.run_ok(NVIDIA_SMI_ARGV).await?;
    parse_nvidia_smi_xml(&out)
}

/// A PCI vendor id (`0x1002`) to our vendor name.
pub fn vendor_name(id: &str) -> String {
    match id.trim().to_ascii_lowercase().as_str() {
        "0x10de" => "nvidia".into(),
        "0x1002" => "amd".into(),
        "0x8086" => "intel".into(),
        other => other.to_string(),
    }
}

/// Reads AMD and Intel GPUs from `/sys/class/drm/card<N>/device` (connectors such as `card0-DP-1`
/// are skipped): vendor/device ids, the bound driver, `gpu_busy_percent` and
/// `mem_info_vram_{used,total}` (amdgpu), and the device's hwmon (`temp1_input` m°C, `temp1_crit`,
/// `power1_average` / `power1_input` µW, `power1_cap`). NVIDIA cards are skipped here (NVML and
/// nvidia-smi cover them); `skip_nvidia` is false only when neither is usable.
pub fn drm_gpus(host: &Host, skip_nvidia: bool) -> Vec<Gpu> {
    let Ok(entries) = host.list_dir("/sys/class/drm") else { return Vec::new() };
    let mut gpus = Vec::new();
    for card in entries {
        let Some(n) =
            card.strip_prefix("card").filter(|n| n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty())
        else {
            continue;
        };
        let dev = format!("/sys/class/drm/{card}/device");
        let read = |f: &str| host.read(&format!("{dev}/{f}")).ok().map(|s| s.trim().to_string());
        let Some(vendor_id) = read("vendor") else { continue };
        let vendor = vendor_name(&vendor_id);
        if skip_nvidia && vendor == "nvidia" {
            continue;
        }
        let int = |f: &str| read(f).and_then(|s| s.parse::<u64>().ok());
        let driver = read("uevent")
            .and_then(|u| u.lines().find_map(|l| l.strip_prefix("DRIVER=").map(str::to_string)));
        let pci = read("uevent")
            .and_then(|u| u.lines().find_map(|l| l.strip_prefix("PCI_SLOT_NAME=").map(str::to_string)));
        let hwmon = host
            .list_dir(&format!("{dev}/hwmon"))
            .ok()
            .and_then(|l| l.into_iter().find(|h| h.starts_with("hwmon")))
            .map(|h| format!("{dev}/hwmon/{h}"));
        let hw = |f: &str| {
            hwmon
                .as_ref()
                .and_then(|h| host.read(&format!("{h}/{f}")).ok())
                .and_then(|s| s.trim().parse::<f64>().ok())
        };
        let device_id = read("device").unwrap_or_default();
        // amdgpu exposes `product_name` on boards whose FRU it can read; otherwise name the ids.
        let name = read("product_name")
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| format!("{} GPU {device_id}", vendor.to_uppercase()));
        gpus.push(Gpu {
            index: n.parse().unwrap_or(0),
            vendor,
            source: "sysfs".into(),
            name,
            pci_bus_id: pci,
            driver,
            util_pct: int("gpu_busy_percent").map(|v| v as f64),
            mem_used_bytes: int("mem_info_vram_used"),
            mem_total_bytes: int("mem_info_vram_total"),
            temp_c: hw("temp1_input").map(|m| m / 1000.0),
            temp_slowdown_c: hw("temp1_crit").map(|m| m / 1000.0),
            power_w: hw("power1_average").or_else(|| hw("power1_input")).map(|uw| uw / 1e6),
            power_limit_w: hw("power1_cap").map(|uw| uw / 1e6),
            clocks: Clocks {
                graphics_mhz: hw("freq1_input").map(|hz| hz / 1e6),
                mem_mhz: hw("freq2_input").map(|hz| hz / 1e6),
                ..Clocks::default()
            },
            ..Gpu::default()
        });
        if gpus.len() >= MAX_GPUS {
            break;
        }
    }
    gpus
}

#[cfg(test)]
mod tests {
    // Tests read their fixtures and run their scripted peers directly (clippy.toml bans it elsewhere).
    #![allow(clippy::disallowed_methods)]

    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/upstream/nvidia-smi");

    fn xml(name: &str) -> Vec<Gpu> {
        let text = std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap();
        parse_nvidia_smi_xml(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    #[test]
    fn units_and_placeholders() {
        assert_eq!(number("38 %"), Some(38.0));
        assert_eq!(number("26.78 W"), Some(26.78));
        assert_eq!(number("N/A"), None);
        assert_eq!(number("[Not Supported]"), None);
        assert_eq!(bytes("15360 MiB"), Some(15360 << 20));
        assert_eq!(
            decode_throttle_mask(0x1 | 0x4 | 0x40),
            vec!["gpu_idle", "sw_power_cap", "hw_thermal_slowdown"]
        );
        assert_eq!(vendor_name("0x1002\n"), "amd");
    }

    #[test]
    fn tesla_t4_with_ecc_processes_and_v10_throttle_names() {
        let g = &xml("telegraf_nvidia-smi-q-x_tesla-t4.xml")[0];
        assert_eq!(g.name, "Tesla T4");
        assert_eq!(g.driver_version.as_deref(), Some("515.105.01"));
        assert_eq!(g.pci_bus_id.as_deref(), Some("00000000:00:1E.0"));
        assert_eq!((g.util_pct, g.temp_c, g.temp_slowdown_c), (Some(0.0), Some(40.0), Some(93.0)));
        assert_eq!((g.mem_used_bytes, g.mem_total_bytes), (Some(1032 << 20), Some(15360 << 20)));
        assert_eq!((g.power_w, g.power_limit_w), (Some(26.78), Some(70.0)));
        assert_eq!(g.clocks.graphics_mhz, Some(585.0));
        assert_eq!(g.max_clocks.mem_mhz, Some(5001.0));
        assert!(g.throttle.is_empty(), "{:?}", g.throttle);
        let ecc = g.ecc.unwrap();
        assert_eq!(ecc.enabled, Some(true));
        assert_eq!((ecc.volatile_corrected, ecc.aggregate_uncorrected), (Some(0), Some(0)));
        assert_eq!(g.processes.len(), 2);
        assert_eq!(g.processes[1].pid, 5762);
        assert_eq!(g.processes[1].kind, "compute");
        assert_eq!(g.processes[1].used_bytes, Some(1005 << 20));
    }

    #[test]
    fn rtx_4000_ada_v13_schema() {
        let g = &xml("telegraf_nvidia-smi-q-x_rtx-4000-sff-ada_v13.xml")[0];
        assert_eq!(g.name, "NVIDIA RTX 4000 SFF Ada Generation");
        assert_eq!(g.throttle, vec!["gpu_idle"], "v13 calls them clocks_event_reasons");
        assert_eq!(g.power_w, Some(8.44), "instant draw from gpu_power_readings");
        assert_eq!(g.power_limit_w, Some(70.0));
        assert_eq!(g.fan_pct, Some(30.0));
        assert_eq!(g.pstate.as_deref(), Some("P8"));
        let ecc = g.ecc.unwrap();
        assert_eq!(ecc.enabled, Some(false));
        assert_eq!(ecc.volatile_corrected, None, "N/A counters are not zeros");
        assert!(g.processes.iter().any(|p| p.kind == "compute+graphics"));
    }

    #[test]
    fn minimal_gtx_1070_ti() {
        let g = &xml("telegraf_nvidia-smi-q-x_gtx-1070-ti_minimal.xml")[0];
        assert_eq!(g.name, "GeForce GTX 1070 Ti");
        assert_eq!(g.power_w, None, "power_draw N/A");
        assert_eq!((g.temp_c, g.fan_pct), (Some(39.0), Some(100.0)));
        assert_eq!(g.ecc, None);
        assert!(g.processes.is_empty());
        assert_eq!(g.driver_version, None);
    }

    /// Every XML fixture parses (and any `*.xml` added to tests/fixtures/nvidia-smi, such as a real
    /// capture); broken XML names its line.
    #[test]
    fn every_xml_fixture_parses_and_errors_name_the_line() {
        let mut dirs = vec![std::path::PathBuf::from(FIXTURES)];
        dirs.push(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/nvidia-smi").into());
        let mut n = 0;
        for dir in dirs {
            let Ok(rd) = std::fs::read_dir(&dir) else { continue };
            for e in rd {
                let p = e.unwrap().path();
                if p.extension().is_some_and(|x| x == "xml") {
                    let gpus = parse_nvidia_smi_xml(&std::fs::read_to_string(&p).unwrap()).unwrap();
                    assert!(!gpus.is_empty() && gpus.iter().all(|g| g.mem_total_bytes.is_some()), "{p:?}");
                    n += 1;
                }
            }
        }
        assert!(n >= 3);
        let err = parse_nvidia_smi_xml("<nvidia_smi_log>\n<gpu>\n</nvidia_smi_log>\n").unwrap_err();
        assert!(err.to_string().contains("line 3"), "{err}");
        assert!(parse_nvidia_smi_xml("<other/>").is_err());
    }

    /// Real captures from an H100 (driver 580): idle, and at the power cap under a matmul loop.
    #[test]
    fn h100_captures_idle_and_under_load() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/nvidia-smi");
        let read =
            |f: &str| parse_nvidia_smi_xml(&std::fs::read_to_string(format!("{dir}/{f}")).unwrap()).unwrap();
        let idle = &read("h100_580.159.04_idle.xml")[0];
        assert_eq!(idle.name, "NVIDIA H100 80GB HBM3");
        assert_eq!(idle.driver_version.as_deref(), Some("580.159.04"));
        assert_eq!((idle.util_pct, idle.temp_c), (Some(0.0), Some(50.0)));
        assert_eq!(idle.mem_total_bytes, Some(81_559 << 20));
        assert_eq!(idle.power_limit_w, Some(700.0));
        assert_eq!(idle.throttle, vec!["gpu_idle"]);
        assert_eq!(idle.temp_slowdown_c, None, "580 reports T.Limit-relative thresholds: not guessed");
        let ecc = idle.ecc.unwrap();
        assert_eq!(
            (ecc.enabled, ecc.volatile_uncorrected, ecc.aggregate_corrected),
            (Some(true), Some(0), Some(0))
        );
        assert!(idle.processes.is_empty());

        let load = &read("h100_580.159.04_load.xml")[0];
        assert_eq!(load.util_pct, Some(100.0));
        assert_eq!(load.power_w, Some(694.63));
        assert_eq!(load.throttle, vec!["sw_power_cap"]);
        assert_eq!(load.processes.len(), 1);
        assert_eq!(load.processes[0].kind, "compute");
        assert_eq!(load.processes[0].used_bytes, Some(1_453_326_336), "same bytes NVML reported");
    }

    #[test]
    fn drm_sysfs_tree() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/drm");
        let s = crate::host::Scenario::load(std::path::Path::new(dir)).unwrap();
        let host = Host::replay(s, std::time::Duration::from_secs(1));
        let gpus = drm_gpus(&host, true);
        assert_eq!(gpus.len(), 2, "{gpus:?}");
        let amd = &gpus[0];
        assert_eq!((amd.vendor.as_str(), amd.driver.as_deref()), ("amd", Some("amdgpu")));
        assert_eq!(amd.util_pct, Some(37.0));
        assert_eq!((amd.mem_used_bytes, amd.mem_total_bytes), (Some(1_073_741_824), Some(8_573_157_376)));
        assert_eq!((amd.temp_c, amd.power_w, amd.power_limit_w), (Some(52.0), Some(41.0), Some(165.0)));
        assert_eq!(amd.pci_bus_id.as_deref(), Some("0000:03:00.0"));
        let intel = &gpus[1];
        assert_eq!((intel.vendor.as_str(), intel.driver.as_deref()), ("intel", Some("i915")));
        assert_eq!((intel.util_pct, intel.temp_c), (None, None));
        // card2 is an NVIDIA board: skipped while NVML or nvidia-smi covers it.
        assert_eq!(drm_gpus(&host, false).len(), 3);
    }
}
