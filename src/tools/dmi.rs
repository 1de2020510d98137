//! Static hardware inventory: CPU model and topology (`/proc/cpuinfo`, cpufreq), system, board, BIOS
//! and chassis from `/sys/class/dmi/id/*`, memory modules from `dmidecode -t 17` (the kernel exports
//! no per-DIMM data; dmidecode needs root to read the SMBIOS tables), and PCI devices from sysfs
//! (`/sys/bus/pci/devices/*`, driver from `uevent`, IOMMU groups from `/sys/kernel/iommu_groups`)
//! with names from `lspci -mm -D` when pciutils is installed, else the numeric ids.
//! Serial numbers and UUIDs are deliberately not read (root-only files, and nothing to show).

use std::collections::BTreeMap;

use crate::host::{Host, ToolError};

pub use crate::model::dmi::{Cpu, Dmi, Memory, MemoryModule, PciDevice, PciKind};

const DMI_DIR: &str = "/sys/class/dmi/id";
const PCI_DIR: &str = "/sys/bus/pci/devices";
const IOMMU_DIR: &str = "/sys/kernel/iommu_groups";
/// PCI functions read at most.
pub const MAX_PCI: usize = 512;
/// Memory slots kept at most.
pub const MAX_SLOTS: usize = 256;

// ---------------------------------------------------------------------------------------------- CPU

/// Parses `/proc/cpuinfo` (topology through [`crate::tools::procfs::parse_cpuinfo`]) and the
/// optional cpufreq `cpuinfo_max_freq` (kHz).
pub fn parse_cpu(cpuinfo: &str, max_freq_khz: Option<&str>) -> Cpu {
    let base = crate::tools::procfs::parse_cpuinfo(cpuinfo);
    let mut cpu = Cpu {
        model: base.model,
        sockets: base.sockets,
        cores: base.cores,
        threads: base.threads,
        max_mhz: max_freq_khz.and_then(|s| s.trim().parse::<f64>().ok()).map(|k| k / 1000.0),
        ..Default::default()
    };
    for line in cpuinfo.lines() {
        let Some((k, v)) = line.split_once(':') else { continue };
        let (k, v) = (k.trim(), v.trim());
        match k {
            "vendor_id" if cpu.vendor.is_none() => cpu.vendor = Some(v.to_string()),
            "cache size" if cpu.cache.is_none() => cpu.cache = Some(v.to_string()),
            "flags" if cpu.virtualization.is_none() => {
                let flags: Vec<&str> = v.split_whitespace().collect();
                cpu.virtualization = if flags.contains(&"vmx") {
                    Some("VT-x".into())
                } else if flags.contains(&"svm") {
                    Some("AMD-V".into())
                } else {
                    None
                };
            }
            _ => {}
        }
    }
    cpu
}

pub fn read_cpu(host: &Host) -> Result<Cpu, ToolError> {
    let cpuinfo = host.read("/proc/cpuinfo")?;
    let max = host.read_optional("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq").ok().flatten();
    Ok(parse_cpu(&cpuinfo, max.as_deref()))
}

// ---------------------------------------------------------------------------------------------- DMI

/// A DMI string, or `None` for the placeholders firmware leaves in unset fields.
pub fn dmi_value(raw: &str) -> Option<String> {
    const PLACEHOLDERS: &[&str] = &[
        "",
        "To Be Filled By O.E.M.",
        "To be filled by O.E.M.",
        "Default string",
        "Not Specified",
        "Not Applicable",
        "System Product Name",
        "System Version",
        "None",
        "N/A",
        "0123456789",
    ];
    let v = raw.trim();
    if PLACEHOLDERS.contains(&v) {
        return None;
    }
    let mut v = v.to_string();
    v.truncate(128);
    Some(v)
}

/// SMBIOS chassis type (DMTF DSP0134, table 17), as `/sys/class/dmi/id/chassis_type` gives it.
pub fn chassis_name(code: &str) -> Option<String> {
    const NAMES: &[&str] = &[
        "Other",
        "Unknown",
        "Desktop",
        "Low Profile Desktop",
        "Pizza Box",
        "Mini Tower",
        "Tower",
        "Portable",
        "Laptop",
        "Notebook",
        "Hand Held",
        "Docking Station",
        "All in One",
        "Sub Notebook",
        "Space-saving",
        "Lunch Box",
        "Main Server Chassis",
        "Expansion Chassis",
        "SubChassis",
        "Bus Expansion Chassis",
        "Peripheral Chassis",
        "RAID Chassis",
        "Rack Mount Chassis",
        "Sealed-case PC",
        "Multi-system",
        "Compact PCI",
        "Advanced TCA",
        "Blade",
        "Blade Enclosure",
        "Tablet",
        "Convertible",
        "Detachable",
        "IoT Gateway",
        "Embedded PC",
        "Mini PC",
        "Stick PC",
    ];
    let n: usize = code.trim().parse().ok()?;
    NAMES.get(n.checked_sub(1)?).map(|s| s.to_string())
}

/// Reads `/sys/class/dmi/id` (absent on most ARM boards and in some VMs: [`ToolError::Missing`]).
pub fn read_dmi(host: &Host) -> Result<Dmi, ToolError> {
    if !host.exists(DMI_DIR) {
        return Err(ToolError::Missing { what: DMI_DIR.into() });
    }
    // Some files are root-only (serials; on old kernels more): an unreadable one is just absent.
    let f = |name: &str| host.read(&format!("{DMI_DIR}/{name}")).ok().and_then(|s| dmi_value(&s));
    Ok(Dmi {
        system_vendor: f("sys_vendor"),
        product: f("product_name"),
        product_version: f("product_version"),
        family: f("product_family"),
        board_vendor: f("board_vendor"),
        board: f("board_name"),
        board_version: f("board_version"),
        bios_vendor: f("bios_vendor"),
        bios_version: f("bios_version"),
        bios_date: f("bios_date"),
        chassis_vendor: f("chassis_vendor"),
        chassis_type: f("chassis_type").and_then(|c| chassis_name(&c)),
    })
}

// ------------------------------------------------------------------------------------------- memory

/// `16 GB`, `8192 MB`, `512 kB` -> bytes; `None` for `No Module Installed`, `Unknown`, ...
fn parse_size(v: &str) -> Option<u64> {
    let mut it = v.split_whitespace();
    let n: u64 = it.next()?.parse().ok()?;
    let mult: u64 = match it.next()? {
        "bytes" => 1,
        "kB" | "KB" => 1 << 10,
        "MB" => 1 << 20,
        "GB" => 1 << 30,
        "TB" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// `3200 MT/s`, `2666 MHz` -> 3200 / 2666; `Unknown` -> None.
fn parse_speed(v: &str) -> Option<u32> {
    v.split_whitespace().next()?.parse().ok().filter(|s| *s > 0)
}

/// Parses `dmidecode -t 17`: one `Memory Device` block per slot, `\tKey: Value` lines. A slot whose
/// size is `No Module Installed` (or `Not Installed`) is counted as empty.
pub fn parse_dmidecode_memory(text: &str) -> Result<Memory, ToolError> {
    const WHAT: &str = "dmidecode -t 17";
    let mut mem = Memory::default();
    let mut blocks: Vec<BTreeMap<String, String>> = Vec::new();
    let mut current: Option<BTreeMap<String, String>> = None;
    let mut saw_header = false;
    for (i, line) in text.lines().enumerate() {
        if line.starts_with("Handle ") {
            saw_header = true;
            if let Some(b) = current.take() {
                blocks.push(b);
            }
            if line.contains("DMI type 17,") {
                current = Some(BTreeMap::new());
            }
            continue;
        }
        let Some(block) = current.as_mut() else { continue };
        if line.trim() == "Memory Device" || line.trim().is_empty() {
            continue;
        }
        if line.starts_with(char::is_whitespace) {
            match line.trim().split_once(':') {
                Some((k, v)) => {
                    block.insert(k.trim().to_string(), v.trim().to_string());
                }
                // Multi-line values (lists under a key) carry no colon: nothing we read.
                None => continue,
            }
        } else {
            return Err(ToolError::parse(
                WHAT,
                i + 1,
                line,
                "unexpected unindented line inside a Memory Device",
            ));
        }
    }
    if let Some(b) = current.take() {
        blocks.push(b);
    }
    if !saw_header && !text.trim().is_empty() && !text.trim_start().starts_with('#') {
        let first = text.lines().next().unwrap_or("");
        return Err(ToolError::parse(WHAT, 1, first, "no `Handle` records"));
    }
    for b in blocks.into_iter().take(MAX_SLOTS) {
        let get = |k: &str| b.get(k).and_then(|v| dmi_value(v)).filter(|v| v != "Unknown");
        let Some(size) = b.get("Size").and_then(|s| parse_size(s)) else {
            mem.empty_slots += 1;
            continue;
        };
        mem.total_bytes += size;
        mem.modules.push(MemoryModule {
            locator: get("Locator").unwrap_or_else(|| "?".into()),
            bank: get("Bank Locator"),
            size_bytes: size,
            kind: get("Type"),
            detail: get("Type Detail"),
            form_factor: get("Form Factor"),
            speed_mts: b.get("Speed").and_then(|s| parse_speed(s)),
            // dmidecode < 3.2 says "Configured Clock Speed".
            configured_mts: b
                .get("Configured Memory Speed")
                .or_else(|| b.get("Configured Clock Speed"))
                .and_then(|s| parse_speed(s)),
            manufacturer: get("Manufacturer"),
            part_number: get("Part Number"),
            rank: b.get("Rank").and_then(|r| r.parse().ok()),
        });
    }
    Ok(mem)
}

/// Runs `dmidecode -t 17` (root only: as another user it fails with "Permission denied").
pub async fn memory(host: &Host) -> Result<Memory, ToolError> {
    let out = host.run(&["dmidecode", "-t", "17"]).await?;
    if out.code != 0 {
        let mut stderr = out.stderr.trim().to_string();
        stderr.truncate(300);
        return Err(ToolError::Failed { tool: "dmidecode -t 17".into(), code: Some(out.code), stderr });
    }
    parse_dmidecode_memory(&out.stdout)
}

// ---------------------------------------------------------------------------------------------- PCI

/// Names of the PCI classes that matter on a server (pci.ids, class section); others by base class.
fn class_name(class: u32) -> &'static str {
    match class >> 8 {
        0x0100 => "SCSI storage controller",
        0x0101 => "IDE interface",
        0x0104 => "RAID bus controller",
        0x0106 => "SATA controller",
        0x0107 => "Serial Attached SCSI controller",
        0x0108 => "Non-Volatile memory controller",
        0x0200 => "Ethernet controller",
        0x0207 => "Infiniband controller",
        0x0300 => "VGA compatible controller",
        0x0302 => "3D controller",
        0x0403 => "Audio device",
        0x0600 => "Host bridge",
        0x0601 => "ISA bridge",
        0x0604 => "PCI bridge",
        0x0c03 => "USB controller",
        0x0c05 => "SMBus",
        _ => match class >> 16 {
            0x01 => "Mass storage controller",
            0x02 => "Network controller",
            0x03 => "Display controller",
            0x04 => "Multimedia controller",
            0x05 => "Memory controller",
            0x06 => "Bridge",
            0x07 => "Communication controller",
            0x08 => "System peripheral",
            0x0c => "Serial bus controller",
            0x11 => "Signal processing controller",
            0x12 => "Processing accelerators",
            _ => "Unclassified device",
        },
    }
}

/// One device's sysfs files (`class`, `vendor`, `device`, `uevent`) -> a [`PciDevice`]. Pure.
pub fn parse_pci_device(
    slot: &str,
    class: &str,
    vendor: &str,
    device: &str,
    uevent: &str,
) -> Option<PciDevice> {
    let hex = |s: &str| u32::from_str_radix(s.trim().trim_start_matches("0x"), 16).ok();
    let class = hex(class)?;
    let (vendor_id, device_id) = (hex(vendor)?, hex(device)?);
    let driver = uevent.lines().find_map(|l| l.strip_prefix("DRIVER=")).map(|d| d.trim().to_string());
    let kind = match class >> 16 {
        0x03 => PciKind::Gpu,
        0x01 => PciKind::Storage,
        0x02 => PciKind::Network,
        _ => PciKind::Other,
    };
    Some(PciDevice {
        slot: slot.to_string(),
        class: format!("0x{:04x}", class >> 8),
        class_name: class_name(class).to_string(),
        vendor_id: format!("{vendor_id:04x}"),
        device_id: format!("{device_id:04x}"),
        vendor: None,
        device: None,
        subsystem: None,
        driver,
        iommu_group: None,
        kind,
    })
}

/// Reads every PCI function from sysfs, with IOMMU groups. No `/sys/bus/pci` (some ARM boards,
/// containers) is [`ToolError::Missing`].
pub fn read_pci(host: &Host) -> Result<Vec<PciDevice>, ToolError> {
    let slots = host.list_dir(PCI_DIR)?;
    let mut groups: BTreeMap<String, u32> = BTreeMap::new();
    if let Ok(ids) = host.list_dir(IOMMU_DIR) {
        for g in ids.iter().take(MAX_PCI) {
            let Ok(n) = g.parse::<u32>() else { continue };
            for dev in host.list_dir(&format!("{IOMMU_DIR}/{g}/devices")).unwrap_or_default() {
                groups.insert(dev, n);
            }
        }
    }
    let mut out = Vec::new();
    for slot in slots.iter().take(MAX_PCI) {
        let base = format!("{PCI_DIR}/{slot}");
        let f = |n: &str| host.read(&format!("{base}/{n}")).unwrap_or_default();
        if let Some(mut d) = parse_pci_device(slot, &f("class"), &f("vendor"), &f("device"), &f("uevent")) {
            d.iommu_group = groups.get(slot).copied();
            out.push(d);
        }
    }
    Ok(out)
}

/// Names from `lspci -mm -D`: slot -> (class, vendor, device, subsystem vendor, subsystem device).
pub type PciNames = BTreeMap<String, [String; 5]>;

/// Parses `lspci -mm -D`: `0000:00:1f.2 "SATA controller" "Intel Corporation" "C610/X99 ..." -r05
/// "Super Micro Computer Inc" "Device 0834"` (quoted fields with `\"` escapes; `-rXX`/`-pXX` options).
pub fn parse_lspci_mm(text: &str) -> Result<PciNames, ToolError> {
    const WHAT: &str = "lspci -mm -D";
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (slot, rest) = line.split_once(' ').unwrap_or((line, ""));
        let mut fields = Vec::new();
        let mut chars = rest.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '"' {
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some('\\') => s.extend(chars.next()),
                        Some('"') => break,
                        Some(c) => s.push(c),
                        None => return Err(ToolError::parse(WHAT, i + 1, line, "unterminated quoted field")),
                    }
                }
                fields.push(s);
            }
        }
        if fields.len() < 3 || !slot.contains(':') {
            return Err(ToolError::parse(WHAT, i + 1, line, "expected a slot and at least 3 quoted fields"));
        }
        fields.resize(5, String::new());
        let f: [String; 5] = [0, 1, 2, 3, 4].map(|k| fields[k].clone());
        out.insert(slot.to_string(), f);
    }
    Ok(out)
}

/// Adds lspci's names to the sysfs devices (keeps the numeric ids where lspci has no name).
pub fn apply_names(devices: &mut [PciDevice], names: &PciNames) {
    for d in devices {
        let Some([class, vendor, device, sv, sd]) = names.get(&d.slot) else { continue };
        let named = |s: &String| (!s.is_empty()).then(|| s.clone());
        if !class.is_empty() {
            d.class_name = class.clone();
        }
        d.vendor = named(vendor);
        d.device = named(device);
        d.subsystem = match (named(sv), named(sd)) {
            (Some(v), Some(p)) => Some(format!("{v} {p}")),
            (v, p) => v.or(p),
        };
    }
}

/// Runs `lspci -mm -D` (pciutils may be missing: [`ToolError::Missing`]).
pub async fn lspci_names(host: &Host) -> Result<PciNames, ToolError> {
    parse_lspci_mm(&host.run_ok(&["lspci", "-mm", "-D"]).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Layout of a real `dmidecode 3.x -t 17` (tab-indented, 84-byte type 17 records), from a
    /// dual-socket server with RDIMMs and empty slots.
    const DMIDECODE: &str = "# dmidecode 3.4\nGetting SMBIOS data from sysfs.\nSMBIOS 3.3.0 present.\n\n\
Handle 0x0070, DMI type 17, 84 bytes\nMemory Device\n\tArray Handle: 0x0007\n\tError Information Handle: 0x006F\n\
\tTotal Width: 72 bits\n\tData Width: 64 bits\n\tSize: 32 GB\n\tForm Factor: DIMM\n\tSet: None\n\tLocator: CPU1_DIMM_Q1\n\
\tBank Locator: P1 CHANNEL Q\n\tType: DDR4\n\tType Detail: Synchronous Registered (Buffered)\n\tSpeed: 3200 MT/s\n\
\tManufacturer: Micron Technology\n\tSerial Number: F3A21FA0\n\tAsset Tag: DIMM Q1_AssetTag\n\
\tPart Number: 36ASF4G72PZ-3G2E7   \n\tRank: 2\n\tConfigured Memory Speed: 2933 MT/s\n\tMinimum Voltage: 1.2 V\n\n\
Handle 0x0071, DMI type 17, 84 bytes\nMemory Device\n\tArray Handle: 0x0007\n\tTotal Width: Unknown\n\
\tData Width: Unknown\n\tSize: No Module Installed\n\tForm Factor: DIMM\n\tLocator: CPU1_DIMM_Q2\n\
\tBank Locator: P1 CHANNEL Q\n\tType: Unknown\n\tType Detail: None\n\n\
Handle 0x0041, DMI type 17, 92 bytes\nMemory Device\n\tSize: 8192 MB\n\tForm Factor: SODIMM\n\tLocator: DIMM B\n\
\tBank Locator: BANK 2\n\tType: DDR4\n\tSpeed: 2666 MHz\n\tManufacturer: Samsung\n\tPart Number: M471A1K43DB1-CWE\n\
\tConfigured Clock Speed: 2400 MHz\n\n";

    #[test]
    fn dmidecode_modules_and_empty_slots() {
        let m = parse_dmidecode_memory(DMIDECODE).unwrap();
        assert_eq!((m.modules.len(), m.empty_slots), (2, 1));
        assert_eq!(m.total_bytes, 40 << 30);
        let a = &m.modules[0];
        assert_eq!(a.locator, "CPU1_DIMM_Q1");
        assert_eq!(a.bank.as_deref(), Some("P1 CHANNEL Q"));
        assert_eq!((a.speed_mts, a.configured_mts, a.rank), (Some(3200), Some(2933), Some(2)));
        assert_eq!(a.part_number.as_deref(), Some("36ASF4G72PZ-3G2E7"), "trailing spaces trimmed");
        assert_eq!(a.manufacturer.as_deref(), Some("Micron Technology"));
        assert_eq!(a.kind.as_deref(), Some("DDR4"));
        let b = &m.modules[1];
        assert_eq!((b.size_bytes, b.speed_mts, b.configured_mts), (8 << 30, Some(2666), Some(2400)));
        assert_eq!(parse_dmidecode_memory("").unwrap(), Memory::default());
        let err =
            parse_dmidecode_memory("Handle 0x1, DMI type 17, 84 bytes\nMemory Device\nbroken\n").unwrap_err();
        assert!(err.to_string().contains("line 3"), "{err}");
    }

    #[test]
    fn the_demo_recording_parses() {
        let text = include_str!("../../scenarios/demo/commands/dmidecode-t17.txt");
        let m = parse_dmidecode_memory(text).unwrap();
        assert_eq!((m.modules.len(), m.empty_slots, m.total_bytes), (4, 12, 128 << 30));
    }

    #[test]
    fn cpu_from_cpuinfo() {
        let text = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Silver 4314 CPU @ 2.40GHz\n\
physical id\t: 0\ncore id\t\t: 0\ncache size\t: 24576 KB\nflags\t\t: fpu vme vmx sse\n\n\
processor\t: 1\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Silver 4314 CPU @ 2.40GHz\n\
physical id\t: 0\ncore id\t\t: 0\nflags\t\t: fpu vme vmx sse\n";
        let c = parse_cpu(text, Some("3400000\n"));
        assert_eq!((c.sockets, c.cores, c.threads), (1, 1, 2));
        assert_eq!(c.virtualization.as_deref(), Some("VT-x"));
        assert_eq!(c.vendor.as_deref(), Some("GenuineIntel"));
        assert_eq!((c.max_mhz, c.cache.as_deref()), (Some(3400.0), Some("24576 KB")));
        assert_eq!(parse_cpu("processor : 0\nflags : svm\n", None).virtualization.as_deref(), Some("AMD-V"));
    }

    #[test]
    fn dmi_placeholders_and_chassis() {
        assert_eq!(dmi_value("To Be Filled By O.E.M.\n"), None);
        assert_eq!(dmi_value("Supermicro\n").as_deref(), Some("Supermicro"));
        assert_eq!(chassis_name("23\n").as_deref(), Some("Rack Mount Chassis"));
        assert_eq!(chassis_name("0"), None);
    }

    #[test]
    fn pci_sysfs_and_lspci_names() {
        let gpu = parse_pci_device(
            "0000:65:00.0",
            "0x030000\n",
            "0x10de\n",
            "0x2204\n",
            "DRIVER=vfio-pci\nPCI_CLASS=30000\nPCI_ID=10DE:2204\n",
        )
        .unwrap();
        assert_eq!(
            (gpu.kind, gpu.class.as_str(), gpu.class_name.as_str()),
            (PciKind::Gpu, "0x0300", "VGA compatible controller")
        );
        assert_eq!(
            (gpu.vendor_id.as_str(), gpu.device_id.as_str(), gpu.driver.as_deref()),
            ("10de", "2204", Some("vfio-pci"))
        );
        let hba = parse_pci_device("0000:17:00.0", "0x010700", "0x1000", "0x0097", "").unwrap();
        assert_eq!(
            (hba.kind, hba.class_name.as_str(), hba.driver.as_deref()),
            (PciKind::Storage, "Serial Attached SCSI controller", None)
        );
        assert!(parse_pci_device("x", "zz", "0x1", "0x2", "").is_none());

        let names = parse_lspci_mm(
            "0000:65:00.0 \"VGA compatible controller\" \"NVIDIA Corporation\" \"GA102 [GeForce RTX 3090]\" -ra1 \"NVIDIA Corporation\" \"Device 147d\"\n\
0000:17:00.0 \"Serial Attached SCSI controller\" \"Broadcom / LSI\" \"SAS3008 PCI-Express Fusion-MPT SAS-3\" -r02 \"\" \"\"\n\
0000:00:00.0 \"Host bridge\" \"Intel Corporation\" \"Ice Lake \\\"Memory\\\" Map\" -r04 -p00 \"Super Micro Computer Inc\" \"Device 1b14\"\n",
        )
        .unwrap();
        assert_eq!(names["0000:00:00.0"][2], "Ice Lake \"Memory\" Map");
        let mut devs = vec![gpu, hba];
        apply_names(&mut devs, &names);
        assert_eq!(devs[0].device.as_deref(), Some("GA102 [GeForce RTX 3090]"));
        assert_eq!(devs[0].subsystem.as_deref(), Some("NVIDIA Corporation Device 147d"));
        assert_eq!((devs[1].vendor.as_deref(), devs[1].subsystem.as_deref()), (Some("Broadcom / LSI"), None));
        let err = parse_lspci_mm("0000:00:00.0 \"Host bridge\n").unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
    }
}
