//! The GPU worker: every `hardware.interval_s` it reads the host's GPUs and publishes [`GpuSnapshot`],
//! recording `gpu.<idx>.util`, `gpu.<idx>.temp_c` and `gpu.<idx>.power_w` into the auxiliary history.
//!
//! Sources, in order: NVML for NVIDIA, asked through the host seam ([`Host::nvml_gpus`]: loaded once,
//! off the async threads, within [`NVML_TIMEOUT`]; a host without `libnvidia-ml` is a note, never an
//! error); `nvidia-smi -q -x` through the host seam where NVML gives nothing but the tool is worth
//! running ([`Host::worth_running`]: the NVIDIA driver is loaded, or a replayed scenario recorded it,
//! as the demo does; at most every [`SMI_EVERY_MS`], it is a process spawn); then AMD and Intel cards
//! from the DRM sysfs tree. Each GPU process is mapped to its Proxmox guest from
//! `/proc/<pid>/cgroup`, as the process scanner does. No GPU at all is `unavailable` with a reason.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::host::nvml::NvmlError;
use crate::host::{Host, ToolError};
pub use crate::model::gpu::{GpuSnapshot, State};
use crate::series::Series;
use crate::tools::gpu::{self, Gpu};
use crate::tools::procfs;

/// How long one NVML read may take (the first one loads the library) before it is reported as a
/// timeout; the call itself goes on, and NVML is not asked again until it has returned.
pub const NVML_TIMEOUT: Duration = Duration::from_secs(10);
/// The nvidia-smi fallback runs at most this often, ms.
pub const SMI_EVERY_MS: i64 = 30_000;

/// The poller behind the worker; tests drive it through [`GpuPoller::step`].
pub struct GpuPoller {
    smi_cache: Option<(i64, Result<Vec<Gpu>, String>)>,
}

impl Default for GpuPoller {
    fn default() -> Self {
        GpuPoller::new()
    }
}

impl GpuPoller {
    pub fn new() -> GpuPoller {
        GpuPoller { smi_cache: None }
    }

    /// Reads every GPU at `now_ms`.
    pub async fn step(&mut self, host: &Host, now_ms: i64) -> GpuSnapshot {
        let mut notes = Vec::new();
        let mut error = None;
        let mut nvidia: Vec<Gpu> = Vec::new();
        let mut nvidia_covered = false;
        match host.nvml_gpus(NVML_TIMEOUT).await {
            Ok(g) => {
                nvidia = g;
                nvidia_covered = true;
            }
            // A recording made without NVML says nothing about it: nothing to note.
            Err(NvmlError::NotRecorded) => {}
            Err(e) => notes.push(format!("NVML: {e}")),
        }
        if !nvidia_covered && host.worth_running(gpu::NVIDIA_SMI_ARGV, gpu::NVIDIA_DRIVER) {
            nvidia_covered = true;
            match self.smi(host, now_ms).await {
                Ok(g) => nvidia = g,
                Err(e) => error = Some(e),
            }
        }
        for g in nvidia.iter_mut() {
            map_processes(host, g);
        }
        let mut gpus = nvidia;
        gpus.extend(gpu::drm_gpus(host, nvidia_covered));
        gpus.truncate(gpu::MAX_GPUS);
        for (i, g) in gpus.iter_mut().enumerate() {
            g.index = i as u32;
        }
        let (state, reason) = match (&error, gpus.is_empty()) {
            (_, false) => (State::Ok, error),
            (Some(e), true) => (State::Error, Some(e.clone())),
            (None, true) => (State::Unavailable, Some("no GPU found on this host".to_string())),
        };
        GpuSnapshot { state, reason, updated: Some(now_ms.div_euclid(1000)), gpus, notes }
    }

    async fn smi(&mut self, host: &Host, now_ms: i64) -> Result<Vec<Gpu>, String> {
        if let Some((at, r)) = &self.smi_cache
            && now_ms - at < SMI_EVERY_MS
        {
            return r.clone();
        }
        let r = match gpu::nvidia_smi(host).await {
            Ok(g) => Ok(g),
            Err(ToolError::Missing { .. }) => {
                Err("the NVIDIA driver is loaded but nvidia-smi is not installed".into())
            }
            Err(e) => Err(e.to_string()),
        };
        self.smi_cache = Some((now_ms, r.clone()));
        r
    }
}

/// Fills in each process's guest (from its cgroup) and, where the source gave none, its name.
fn map_processes(host: &Host, g: &mut Gpu) {
    for p in g.processes.iter_mut() {
        if let Ok(cg) = host.read(&format!("/proc/{}/cgroup", p.pid))
            && let Some((kind, id)) = procfs::guest_from_cgroup(&cg)
        {
            p.guest_kind = Some(kind);
            p.vmid = Some(id);
        }
        if p.name.is_empty()
            && let Ok(comm) = host.read(&format!("/proc/{}/comm", p.pid))
        {
            p.name = comm.trim().chars().take(64).collect();
        }
    }
}

/// Records utilisation, temperature and power of every GPU.
pub fn record_series(series: &Series, snap: &GpuSnapshot) {
    let Some(at) = snap.updated else { return };
    for g in &snap.gpus {
        for (metric, value, label, unit) in [
            ("util", g.util_pct, "utilisation", "percent"),
            ("temp_c", g.temp_c, "temperature", "celsius"),
            ("power_w", g.power_w, "power", "watts"),
        ] {
            let Some(v) = value else { continue };
            let key = format!("gpu.{}.{metric}", g.index);
            if !series.has(&key) {
                series.describe(&key, &format!("GPU {} ({}) {label}", g.index, g.name), unit);
            }
            series.record(&key, at * 1000, v);
        }
    }
}

/// The worker loop (wired by `app::run`): every GPU into `out`, and their series.
pub async fn run(
    host: Arc<Host>,
    series: Arc<Series>,
    out: watch::Sender<Arc<GpuSnapshot>>,
    mut tick: super::Periodic,
) {
    let mut poller = GpuPoller::new();
    while tick.next().await {
        let snap = poller.step(&host, tick.now_ms()).await;
        record_series(&series, &snap);
        out.send_replace(Arc::new(snap));
    }
}

#[cfg(test)]
mod tests {
    // Tests read their fixtures and run their scripted peers directly (clippy.toml bans it elsewhere).
    #![allow(clippy::disallowed_methods)]

    use super::*;

    fn scenario(files: &[(&str, &str)], manifest_extra: &str) -> (tempfile::TempDir, Host) {
        let dir = tempfile::tempdir().unwrap();
        let manifest = format!("[scenario]\nname = \"t\"\n{manifest_extra}");
        std::fs::write(dir.path().join("manifest.toml"), manifest).unwrap();
        for (path, text) in files {
            let p = dir.path().join(path.trim_start_matches('/'));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let s = crate::host::Scenario::load(dir.path()).unwrap();
        (dir, Host::replay(s, Duration::from_secs(1)))
    }

    #[tokio::test]
    async fn replayed_nvidia_smi_maps_processes_to_guests_and_records_series() {
        let t4 = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/upstream/nvidia-smi/telegraf_nvidia-smi-q-x_tesla-t4.xml"
        ))
        .unwrap();
        let (_d, host) = scenario(
            &[("commands/smi.xml", &t4), ("/proc/5762/cgroup", "0::/lxc/201/ns/user.slice\n")],
            "[[command]]\nargv = [\"nvidia-smi\", \"-q\", \"-x\"]\nstdout = \"commands/smi.xml\"\n",
        );
        let snap = GpuPoller::new().step(&host, 7_000).await;
        assert_eq!(snap.state, State::Ok, "{snap:?}");
        assert_eq!(snap.gpus.len(), 1);
        let g = &snap.gpus[0];
        assert_eq!((g.index, g.source.as_str()), (0, "nvidia-smi"));
        let python = g.processes.iter().find(|p| p.pid == 5762).unwrap();
        assert_eq!((python.vmid, python.guest_kind), (Some(201), Some(procfs::GuestKind::Lxc)));
        assert_eq!(g.processes.iter().find(|p| p.pid == 675).unwrap().vmid, None);
        let series = Series::new(10);
        record_series(&series, &snap);
        assert!(series.has("gpu.0.util") && series.has("gpu.0.temp_c") && series.has("gpu.0.power_w"));
    }

    /// The demo's Tesla T4, with its one process in CT 201.
    #[tokio::test]
    async fn demo_scenario_has_a_t4_used_by_ct_201() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/demo");
        let host = Host::demo(crate::host::Scenario::load(&dir).unwrap(), Duration::from_secs(5));
        let snap = GpuPoller::new().step(&host, 0).await;
        assert_eq!(snap.state, State::Ok, "{snap:?}");
        let t4 = &snap.gpus[0];
        assert_eq!((t4.name.as_str(), t4.pci_bus_id.as_deref()), ("Tesla T4", Some("00000000:65:00.0")));
        assert_eq!(t4.util_pct, Some(23.0));
        assert_eq!(t4.processes.len(), 1);
        assert_eq!(
            (t4.processes[0].vmid, t4.processes[0].guest_kind),
            (Some(201), Some(procfs::GuestKind::Lxc))
        );
    }

    #[tokio::test]
    async fn no_gpu_is_unavailable_and_bad_xml_is_an_error() {
        let (_d, host) = scenario(&[], "");
        let snap = GpuPoller::new().step(&host, 0).await;
        assert_eq!(snap.state, State::Unavailable);
        assert_eq!(snap.reason.as_deref(), Some("no GPU found on this host"));

        let (_d, host) = scenario(
            &[("commands/smi.xml", "<nvidia_smi_log>\n<gpu>\n")],
            "[[command]]\nargv = [\"nvidia-smi\", \"-q\", \"-x\"]\nstdout = \"commands/smi.xml\"\n",
        );
        let snap = GpuPoller::new().step(&host, 0).await;
        assert_eq!(snap.state, State::Error);
        assert!(snap.reason.unwrap().contains("line"));
    }

    /// NVML answers from the scenario's recording; the worker maps its processes and notes a recorded
    /// failure, and never asks nvidia-smi when NVML answered.
    #[tokio::test]
    async fn replayed_nvml_is_used_before_nvidia_smi() {
        let smi = "[[command]]\nargv = [\"nvidia-smi\", \"-q\", \"-x\"]\nstdout = \"commands/smi.xml\"\n";
        let (_d, host) = scenario(
            &[
                (
                    "nvml.json",
                    r#"{"gpus": [{"vendor": "nvidia", "source": "nvml", "name": "NVIDIA L4", "util_pct": 7, "processes": [{"pid": 5762, "kind": "compute"}]}]}"#,
                ),
                ("/proc/5762/cgroup", "0::/qemu.slice/104.scope\n"),
                ("/proc/5762/comm", "python3\n"),
                ("commands/smi.xml", "<nvidia_smi_log>\n<gpu>\n"),
            ],
            smi,
        );
        let snap = GpuPoller::new().step(&host, 0).await;
        assert_eq!((snap.state, snap.gpus.len()), (State::Ok, 1), "{snap:?}");
        let g = &snap.gpus[0];
        assert_eq!((g.name.as_str(), g.source.as_str(), g.util_pct), ("NVIDIA L4", "nvml", Some(7.0)));
        let p = &g.processes[0];
        assert_eq!(
            (p.name.as_str(), p.vmid, p.guest_kind),
            ("python3", Some(104), Some(procfs::GuestKind::Qemu))
        );
        assert_eq!(host.run_count(), 0, "nvidia-smi was not asked");

        let (_d, host) = scenario(&[("nvml.json", r#"{"unavailable": "libnvidia-ml.so.1 not found"}"#)], "");
        let snap = GpuPoller::new().step(&host, 0).await;
        assert_eq!(snap.state, State::Unavailable);
        assert_eq!(snap.notes, vec!["NVML: libnvidia-ml.so.1 not found".to_string()]);
    }

    /// On this (GPU-less) machine the live path never fails: no libnvidia-ml means unavailable or,
    /// where a GPU exists, data. Either way no panic and no error state.
    #[tokio::test]
    async fn live_host_without_nvml_is_not_an_error() {
        let host = Host::system(Duration::from_secs(5));
        let snap = GpuPoller::new().step(&host, 0).await;
        assert_ne!(snap.state, State::Error, "{snap:?}");
        assert_ne!(snap.state, State::Pending);
    }
}
