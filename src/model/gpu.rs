//! GPUs as the GPU worker publishes them, whatever the source (NVML, `nvidia-smi -q -x`, DRM sysfs).
//! The worker's snapshot is [`GpuSnapshot`]. They deserialize too: a replayed host answers NVML from a recorded `nvml.json` (`host::nvml`).
//! A value a device does not report is `None`, never a made-up zero.

use serde::{Deserialize, Serialize};

use super::GuestKind;

/// Most GPUs reported (per source) and processes per GPU.
pub const MAX_GPUS: usize = 32;
pub const MAX_PROCESSES: usize = 64;

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(default)]
pub struct Clocks {
    pub graphics_mhz: Option<f64>,
    pub sm_mhz: Option<f64>,
    pub mem_mhz: Option<f64>,
    pub video_mhz: Option<f64>,
}

/// ECC error counts (volatile = since the driver loaded, aggregate = the board's lifetime).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(default)]
pub struct Ecc {
    pub enabled: Option<bool>,
    pub volatile_corrected: Option<u64>,
    pub volatile_uncorrected: Option<u64>,
    pub aggregate_corrected: Option<u64>,
    pub aggregate_uncorrected: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(default)]
pub struct GpuProcess {
    pub pid: u32,
    pub name: String,
    /// "compute", "graphics" or "compute+graphics".
    pub kind: String,
    pub used_bytes: Option<u64>,
    /// The Proxmox guest the process belongs to (filled in by the worker from `/proc/<pid>/cgroup`).
    pub vmid: Option<u32>,
    pub guest_kind: Option<GuestKind>,
}

/// One GPU, whatever the source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(default)]
pub struct Gpu {
    pub index: u32,
    /// "nvidia", "amd", "intel" or the PCI vendor id.
    pub vendor: String,
    /// "nvml", "nvidia-smi" or "sysfs".
    pub source: String,
    pub name: String,
    pub uuid: Option<String>,
    pub pci_bus_id: Option<String>,
    pub driver: Option<String>,
    pub driver_version: Option<String>,
    pub util_pct: Option<f64>,
    pub mem_util_pct: Option<f64>,
    pub mem_used_bytes: Option<u64>,
    pub mem_total_bytes: Option<u64>,
    pub temp_c: Option<f64>,
    /// Slowdown threshold (nvidia) or the critical hwmon limit.
    pub temp_slowdown_c: Option<f64>,
    pub power_w: Option<f64>,
    pub power_limit_w: Option<f64>,
    pub fan_pct: Option<f64>,
    pub pstate: Option<String>,
    pub clocks: Clocks,
    pub max_clocks: Clocks,
    /// Active clock throttle ("event") reasons, decoded, e.g. `sw_power_cap`, `hw_thermal_slowdown`.
    /// `gpu_idle` is reported too (it is the normal state of an idle GPU).
    pub throttle: Vec<String>,
    pub ecc: Option<Ecc>,
    pub processes: Vec<GpuProcess>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "GpuPollState"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "GpuPollState"))]
#[serde(rename_all = "snake_case")]
pub enum State {
    #[default]
    Pending,
    Ok,
    /// No GPU, or no driver/library to read one.
    Unavailable,
    /// A source answered with something unreadable; see `reason`.
    Error,
}

/// What the GPU worker publishes (`app.gpu`).
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct GpuSnapshot {
    pub state: State,
    pub reason: Option<String>,
    /// Unix seconds of the data.
    pub updated: Option<i64>,
    /// NVIDIA first (in NVML/nvidia-smi order), then DRM cards; `index` is the position here and the
    /// `<idx>` of the history keys.
    pub gpus: Vec<Gpu>,
    /// Why a source is not used (e.g. "NVML: libnvidia-ml.so not found"), for the UI's details.
    pub notes: Vec<String>,
}
