//! Static hardware inventory (the readers are `tools::dmi`): CPU model and topology, system, board,
//! BIOS and chassis from DMI, memory modules from `dmidecode -t 17`, and PCI devices from sysfs.

use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Cpu {
    pub model: String,
    pub vendor: Option<String>,
    pub sockets: u32,
    pub cores: u32,
    pub threads: u32,
    pub max_mhz: Option<f64>,
    /// `VT-x` / `AMD-V` when the CPU flags say so (needed for KVM guests).
    pub virtualization: Option<String>,
    /// `cache size` of /proc/cpuinfo (the last-level cache on x86).
    pub cache: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Dmi {
    pub system_vendor: Option<String>,
    pub product: Option<String>,
    pub product_version: Option<String>,
    pub family: Option<String>,
    pub board_vendor: Option<String>,
    pub board: Option<String>,
    pub board_version: Option<String>,
    pub bios_vendor: Option<String>,
    pub bios_version: Option<String>,
    pub bios_date: Option<String>,
    pub chassis_vendor: Option<String>,
    pub chassis_type: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct MemoryModule {
    pub locator: String,
    pub bank: Option<String>,
    pub size_bytes: u64,
    /// `DDR4`.
    pub kind: Option<String>,
    /// `Synchronous Registered (Buffered)`.
    pub detail: Option<String>,
    pub form_factor: Option<String>,
    /// Rated speed, MT/s.
    pub speed_mts: Option<u32>,
    /// Speed it runs at, MT/s.
    pub configured_mts: Option<u32>,
    pub manufacturer: Option<String>,
    pub part_number: Option<String>,
    pub rank: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Memory {
    pub modules: Vec<MemoryModule>,
    pub empty_slots: usize,
    pub total_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum PciKind {
    /// Class 0x03 (display).
    Gpu,
    /// Class 0x01 (mass storage: SAS/SATA HBAs, RAID, NVMe).
    Storage,
    Network,
    Other,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct PciDevice {
    /// `0000:01:00.0`.
    pub slot: String,
    /// Class and subclass, `0x0300`.
    pub class: String,
    pub class_name: String,
    pub vendor_id: String,
    pub device_id: String,
    pub vendor: Option<String>,
    pub device: Option<String>,
    pub subsystem: Option<String>,
    pub driver: Option<String>,
    pub iommu_group: Option<u32>,
    pub kind: PciKind,
}
