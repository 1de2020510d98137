//! NVIDIA GPUs through NVML (`nvml-wrapper`, which loads `libnvidia-ml.so.1` with dlopen at run
//! time), for [`super::Host::nvml_gpus`]; the conversion of NVML's device data into the [`Gpu`]
//! model lives here too, so nothing outside `host/` touches the library.
//!
//! On a live host NVML is initialised once and the handle kept for the following calls; a host
//! without the library (no NVIDIA driver) answers [`NvmlError::Unavailable`] and is tried again every
//! [`RETRY`] (the driver may be installed later). Every call, the first `nvmlInit` included, runs on
//! tokio's blocking pool under a timeout: NVML can block for seconds or for good (a GPU fallen off the
//! bus, a driver being reloaded, init with persistence mode off). A call that does not return in time
//! is [`NvmlError::Timeout`]; the blocked thread cannot be cancelled, so while it is still busy every
//! further call answers `Timeout` at once instead of parking another thread: at most one NVML call is
//! ever in flight.
//!
//! A replayed host loads nothing: it answers from the scenario's `nvml.json` ([`Recorded`]), and a
//! scenario without one is [`NvmlError::NotRecorded`].

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::gpu::{Clocks, Ecc, Gpu, GpuProcess, MAX_GPUS, MAX_PROCESSES};

/// How often a failed NVML load is tried again.
pub const RETRY: Duration = Duration::from_secs(600);

/// The file of a scenario that holds the recorded NVML answer.
pub const RECORDING: &str = "nvml.json";

/// Why NVML gave no GPUs. The texts are what the GPU worker shows after `NVML: `.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NvmlError {
    /// The library did not load or initialise (`libnvidia-ml.so.1 not found` on a host without the
    /// NVIDIA driver): a state to report, not a failure.
    #[error("{0}")]
    Unavailable(String),
    /// A replayed scenario has no `nvml.json`: it says nothing about NVML, so there is nothing to
    /// report either.
    #[error("not recorded")]
    NotRecorded,
    /// The call (or an earlier one still running) did not return within the timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// NVML loaded but could not list the GPUs (or the recording is unreadable).
    #[error("{0}")]
    Failed(String),
}

/// What `nvml.json` holds: the answer NVML gave when the scenario was recorded, as JSON:
/// `{"gpus": [<Gpu>, ...]}` (the model's fields, as the API serves them), `{"unavailable": "reason"}`,
/// `{"failed": "reason"}` or `"timeout"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Recorded {
    Gpus(Vec<Gpu>),
    Unavailable(String),
    Failed(String),
    Timeout,
}

impl Recorded {
    /// The recording of a live answer (`None` for one that has nothing to record).
    pub fn of(answer: &Result<Vec<Gpu>, NvmlError>) -> Option<Recorded> {
        Some(match answer {
            Ok(gpus) => Recorded::Gpus(gpus.clone()),
            Err(NvmlError::Unavailable(r)) => Recorded::Unavailable(r.clone()),
            Err(NvmlError::Failed(r)) => Recorded::Failed(r.clone()),
            Err(NvmlError::Timeout(_)) => Recorded::Timeout,
            Err(NvmlError::NotRecorded) => return None,
        })
    }
}

/// Answers from `<scenario>/nvml.json`.
pub(super) fn replay(dir: &Path, timeout: Duration) -> Result<Vec<Gpu>, NvmlError> {
    let file = dir.join(RECORDING);
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(NvmlError::NotRecorded),
        Err(e) => return Err(NvmlError::Failed(format!("reading {}: {e}", file.display()))),
    };
    let recorded: Recorded = serde_json::from_str(&text)
        .map_err(|e| NvmlError::Failed(format!("cannot parse {RECORDING} at line {}: {e}", e.line())))?;
    match recorded {
        Recorded::Gpus(mut gpus) => {
            gpus.truncate(MAX_GPUS);
            Ok(gpus)
        }
        Recorded::Unavailable(r) => Err(NvmlError::Unavailable(r)),
        Recorded::Failed(r) => Err(NvmlError::Failed(r)),
        Recorded::Timeout => Err(NvmlError::Timeout(timeout)),
    }
}

type InitFn<H> = dyn Fn() -> Result<H, String> + Send + Sync;
type ReadFn<H> = dyn Fn(&H) -> Result<Vec<Gpu>, String> + Send + Sync;

enum Lib<H> {
    Untried,
    Loaded(Arc<H>),
    Failed { reason: String, at: tokio::time::Instant },
}

struct State<H> {
    lib: Lib<H>,
    /// A call is running on the blocking pool (it may have outlived its caller's timeout).
    busy: bool,
}

/// The live NVML seam: the loaded library (`H`; a stand-in in tests), the one call in flight, and
/// the functions that load and read it (blocking; run on the blocking pool).
pub(super) struct Live<H = nvml_wrapper::Nvml> {
    state: Arc<Mutex<State<H>>>,
    init: Arc<InitFn<H>>,
    read: Arc<ReadFn<H>>,
    retry: Duration,
}

impl<H> std::fmt::Debug for Live<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let lib = match &st.lib {
            Lib::Untried => "untried",
            Lib::Loaded(_) => "loaded",
            Lib::Failed { .. } => "failed",
        };
        f.debug_struct("nvml::Live").field("lib", &lib).field("busy", &st.busy).finish()
    }
}

impl Default for Live {
    fn default() -> Self {
        Live::new(load, read_nvml, RETRY)
    }
}

/// Clears `busy` when the blocking call ends, however it ends (a panic included).
struct Release<H>(Arc<Mutex<State<H>>>);

impl<H> Drop for Release<H> {
    fn drop(&mut self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).busy = false;
    }
}

impl<H: Send + Sync + 'static> Live<H> {
    pub(super) fn new(
        init: impl Fn() -> Result<H, String> + Send + Sync + 'static,
        read: impl Fn(&H) -> Result<Vec<Gpu>, String> + Send + Sync + 'static,
        retry: Duration,
    ) -> Self {
        Live {
            state: Arc::new(Mutex::new(State { lib: Lib::Untried, busy: false })),
            init: Arc::new(init),
            read: Arc::new(read),
            retry,
        }
    }

    /// Loads NVML if it is not loaded (and a failed load is due for another try) and reads every GPU,
    /// on the blocking pool, within `timeout`.
    pub(super) async fn gpus(&self, timeout: Duration) -> Result<Vec<Gpu>, NvmlError> {
        let started = tokio::time::Instant::now();
        let loaded = {
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if st.busy {
                // The last call is still blocked inside NVML: do not park a second thread behind it.
                return Err(NvmlError::Timeout(timeout));
            }
            let loaded = match &st.lib {
                Lib::Loaded(h) => Some(h.clone()),
                Lib::Failed { reason, at } if started.duration_since(*at) < self.retry => {
                    return Err(NvmlError::Unavailable(reason.clone()));
                }
                Lib::Failed { .. } | Lib::Untried => None,
            };
            st.busy = true;
            loaded
        };
        let (state, init, read) = (self.state.clone(), self.init.clone(), self.read.clone());
        let task = tokio::task::spawn_blocking(move || {
            let _release = Release(state.clone());
            let handle = match loaded {
                Some(h) => h,
                None => match init() {
                    Ok(h) => {
                        tracing::info!("NVML loaded");
                        let h = Arc::new(h);
                        state.lock().unwrap_or_else(|e| e.into_inner()).lib = Lib::Loaded(h.clone());
                        h
                    }
                    Err(reason) => {
                        tracing::debug!(reason = %reason, "NVML not available");
                        state.lock().unwrap_or_else(|e| e.into_inner()).lib =
                            Lib::Failed { reason: reason.clone(), at: started };
                        return Err(NvmlError::Unavailable(reason));
                    }
                },
            };
            read(&handle).map_err(NvmlError::Failed)
        });
        match tokio::time::timeout(timeout, task).await {
            Err(_) => Err(NvmlError::Timeout(timeout)),
            Ok(Err(join)) => Err(NvmlError::Failed(format!("the NVML call failed: {join}"))),
            Ok(Ok(answer)) => answer,
        }
    }
}

/// Loads and initialises `libnvidia-ml.so.1` (blocking).
fn load() -> Result<nvml_wrapper::Nvml, String> {
    nvml_wrapper::Nvml::init().map_err(|e| match e {
        nvml_wrapper::error::NvmlError::LibloadingError(_) => "libnvidia-ml.so.1 not found".to_string(),
        other => other.to_string(),
    })
}

/// Reads every NVIDIA GPU through an initialised NVML. Per-value failures (`NotSupported` on consumer
/// boards, no ECC, ...) leave that value `None`; only a failing device count is an error.
fn read_nvml(nvml: &nvml_wrapper::Nvml) -> Result<Vec<Gpu>, String> {
    use nvml_wrapper::enum_wrappers::device::TemperatureThreshold;
    use nvml_wrapper::enum_wrappers::device::{Clock, EccCounter, MemoryError, TemperatureSensor};
    use nvml_wrapper::enums::device::UsedGpuMemory;
    let count = nvml.device_count().map_err(|e| format!("NVML device count: {e}"))?;
    let driver_version = nvml.sys_driver_version().ok();
    let mut gpus = Vec::new();
    for i in 0..count.min(MAX_GPUS as u32) {
        let d = match nvml.device_by_index(i) {
            Ok(d) => d,
            Err(e) => {
                tracing::debug!(index = i, error = %e, "NVML cannot open a GPU");
                continue;
            }
        };
        let util = d.utilization_rates().ok();
        let mem = d.memory_info().ok();
        let clock = |c: Clock| d.clock_info(c).ok().map(f64::from);
        let max_clock = |c: Clock| d.max_clock_info(c).ok().map(f64::from);
        let ecc_enabled = d.is_ecc_enabled().ok().map(|m| m.currently_enabled);
        let ecc = ecc_enabled.map(|enabled| {
            let count =
                |e: MemoryError, c: EccCounter| if enabled { d.total_ecc_errors(e, c).ok() } else { None };
            Ecc {
                enabled: Some(enabled),
                volatile_corrected: count(MemoryError::Corrected, EccCounter::Volatile),
                volatile_uncorrected: count(MemoryError::Uncorrected, EccCounter::Volatile),
                aggregate_corrected: count(MemoryError::Corrected, EccCounter::Aggregate),
                aggregate_uncorrected: count(MemoryError::Uncorrected, EccCounter::Aggregate),
            }
        });
        let mut processes: Vec<GpuProcess> = Vec::new();
        let mut add = |list: Vec<nvml_wrapper::struct_wrappers::device::ProcessInfo>, kind: &str| {
            for p in list {
                if let Some(existing) = processes.iter_mut().find(|e| e.pid == p.pid) {
                    existing.kind = "compute+graphics".into();
                    continue;
                }
                if processes.len() >= MAX_PROCESSES {
                    break;
                }
                processes.push(GpuProcess {
                    pid: p.pid,
                    name: String::new(),
                    kind: kind.into(),
                    used_bytes: match p.used_gpu_memory {
                        UsedGpuMemory::Used(b) => Some(b),
                        UsedGpuMemory::Unavailable => None,
                    },
                    vmid: None,
                    guest_kind: None,
                });
            }
        };
        add(d.running_compute_processes().unwrap_or_default(), "compute");
        add(d.running_graphics_processes().unwrap_or_default(), "graphics");
        gpus.push(Gpu {
            index: d.index().unwrap_or(i),
            vendor: "nvidia".into(),
            source: "nvml".into(),
            name: d.name().unwrap_or_else(|_| "NVIDIA GPU".into()),
            uuid: d.uuid().ok(),
            pci_bus_id: d.pci_info().ok().map(|p| p.bus_id),
            driver: Some("nvidia".into()),
            driver_version: driver_version.clone(),
            util_pct: util.as_ref().map(|u| f64::from(u.gpu)),
            mem_util_pct: util.as_ref().map(|u| f64::from(u.memory)),
            mem_used_bytes: mem.as_ref().map(|m| m.used),
            mem_total_bytes: mem.as_ref().map(|m| m.total),
            temp_c: d.temperature(TemperatureSensor::Gpu).ok().map(f64::from),
            temp_slowdown_c: d.temperature_threshold(TemperatureThreshold::Slowdown).ok().map(f64::from),
            power_w: d.power_usage().ok().map(|mw| f64::from(mw) / 1000.0),
            power_limit_w: d.enforced_power_limit().ok().map(|mw| f64::from(mw) / 1000.0),
            fan_pct: d.fan_speed(0).ok().map(f64::from),
            pstate: d.performance_state().ok().and_then(pstate_name),
            clocks: Clocks {
                graphics_mhz: clock(Clock::Graphics),
                sm_mhz: clock(Clock::SM),
                mem_mhz: clock(Clock::Memory),
                video_mhz: clock(Clock::Video),
            },
            max_clocks: Clocks {
                graphics_mhz: max_clock(Clock::Graphics),
                sm_mhz: max_clock(Clock::SM),
                mem_mhz: max_clock(Clock::Memory),
                video_mhz: max_clock(Clock::Video),
            },
            throttle: d
                .current_throttle_reasons()
                .map(|r| decode_throttle_mask(r.bits()))
                .unwrap_or_default(),
            ecc,
            processes,
        });
    }
    Ok(gpus)
}

/// NVML's performance state as nvidia-smi prints it (`P0` .. `P15`).
fn pstate_name(p: nvml_wrapper::enum_wrappers::device::PerformanceState) -> Option<String> {
    use nvml_wrapper::enum_wrappers::device::PerformanceState as P;
    let n = match p {
        P::Zero => 0,
        P::One => 1,
        P::Two => 2,
        P::Three => 3,
        P::Four => 4,
        P::Five => 5,
        P::Six => 6,
        P::Seven => 7,
        P::Eight => 8,
        P::Nine => 9,
        P::Ten => 10,
        P::Eleven => 11,
        P::Twelve => 12,
        P::Thirteen => 13,
        P::Fourteen => 14,
        P::Fifteen => 15,
        P::Unknown => return None,
    };
    Some(format!("P{n}"))
}

/// Decodes NVML's throttle reason bit mask into our names.
pub fn decode_throttle_mask(mask: u64) -> Vec<String> {
    // Bit values from nvml.h (nvmlClocksThrottleReason*).
    const BITS: &[(u64, &str)] = &[
        (0x1, "gpu_idle"),
        (0x2, "applications_clocks_setting"),
        (0x4, "sw_power_cap"),
        (0x8, "hw_slowdown"),
        (0x10, "sync_boost"),
        (0x20, "sw_thermal_slowdown"),
        (0x40, "hw_thermal_slowdown"),
        (0x80, "hw_power_brake_slowdown"),
        (0x100, "display_clocks_setting"),
    ];
    BITS.iter().filter(|(b, _)| mask & b != 0).map(|(_, n)| n.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    const T: Duration = Duration::from_secs(5);

    fn gpu(name: &str) -> Gpu {
        Gpu { vendor: "nvidia".into(), source: "nvml".into(), name: name.into(), ..Gpu::default() }
    }

    fn counter() -> (Arc<AtomicUsize>, Arc<AtomicUsize>) {
        let c = Arc::new(AtomicUsize::new(0));
        (c.clone(), c)
    }

    #[tokio::test]
    async fn loads_once_and_tries_a_failed_load_again_only_when_due() {
        let (inits, i) = counter();
        let live = Live::new(
            move || {
                i.fetch_add(1, Ordering::SeqCst);
                Ok(())
            },
            |_| Ok(vec![gpu("A")]),
            RETRY,
        );
        assert_eq!(live.gpus(T).await, Ok(vec![gpu("A")]));
        assert_eq!(live.gpus(T).await, Ok(vec![gpu("A")]));
        assert_eq!(inits.load(Ordering::SeqCst), 1, "the handle is kept");

        for (retry, tries) in [(RETRY, 1), (Duration::ZERO, 3)] {
            let (inits, i) = counter();
            let live = Live::<()>::new(
                move || {
                    i.fetch_add(1, Ordering::SeqCst);
                    Err("libnvidia-ml.so.1 not found".into())
                },
                |_| Ok(Vec::new()),
                retry,
            );
            for _ in 0..3 {
                assert_eq!(
                    live.gpus(T).await,
                    Err(NvmlError::Unavailable("libnvidia-ml.so.1 not found".into()))
                );
            }
            assert_eq!(inits.load(Ordering::SeqCst), tries, "retry {retry:?}");
        }
    }

    #[tokio::test]
    async fn a_read_error_is_failed_and_the_handle_stays() {
        let (inits, i) = counter();
        let live = Live::new(
            move || {
                i.fetch_add(1, Ordering::SeqCst);
                Ok(())
            },
            |_| Err("NVML device count: Unknown Error".into()),
            RETRY,
        );
        assert_eq!(live.gpus(T).await, Err(NvmlError::Failed("NVML device count: Unknown Error".into())));
        assert_eq!(live.gpus(T).await.unwrap_err().to_string(), "NVML device count: Unknown Error");
        assert_eq!(inits.load(Ordering::SeqCst), 1);
    }

    /// A call stuck inside NVML times out; while it is still stuck no other call reaches NVML (they
    /// answer `Timeout` at once), and once it returns NVML is asked again.
    #[tokio::test]
    async fn a_stuck_call_keeps_one_thread_and_later_calls_time_out_at_once() {
        let (release, stuck) = std::sync::mpsc::channel::<()>();
        let stuck = Mutex::new(stuck);
        let (reads, r) = counter();
        let live = Live::new(
            || Ok(()),
            move |_| {
                if r.fetch_add(1, Ordering::SeqCst) == 0 {
                    let _ = stuck.lock().unwrap_or_else(|e| e.into_inner()).recv();
                }
                Ok(vec![gpu("A")])
            },
            RETRY,
        );
        let short = Duration::from_millis(50);
        assert_eq!(live.gpus(short).await, Err(NvmlError::Timeout(short)));
        assert_eq!(live.gpus(T).await, Err(NvmlError::Timeout(T)), "no second thread behind the stuck one");
        assert_eq!(reads.load(Ordering::SeqCst), 1);

        release.send(()).unwrap();
        let deadline = std::time::Instant::now() + T;
        while live.state.lock().unwrap().busy {
            assert!(std::time::Instant::now() < deadline, "the released call did not end");
            tokio::task::yield_now().await;
        }
        assert_eq!(live.gpus(T).await, Ok(vec![gpu("A")]));
        assert_eq!(reads.load(Ordering::SeqCst), 2);
    }

    /// On a machine without the NVIDIA driver (CI) NVML is unavailable, named, and not an error; on
    /// one with it, GPUs.
    #[tokio::test]
    async fn the_live_library_answers_or_is_unavailable() {
        let live = Live::default();
        match live.gpus(Duration::from_secs(30)).await {
            Ok(gpus) => assert!(gpus.iter().all(|g| g.source == "nvml")),
            Err(NvmlError::Unavailable(reason)) => {
                assert!(!reason.is_empty());
                assert_eq!(live.gpus(T).await, Err(NvmlError::Unavailable(reason)), "not loaded again");
            }
            Err(e) => panic!("{e:?}"),
        }
    }

    #[test]
    fn replay_answers_from_nvml_json() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(replay(dir.path(), T), Err(NvmlError::NotRecorded));
        assert_eq!(NvmlError::NotRecorded.to_string(), "not recorded");

        let gpus = vec![Gpu {
            pci_bus_id: Some("00000000:65:00.0".into()),
            util_pct: Some(23.0),
            processes: vec![GpuProcess { pid: 4242, kind: "compute".into(), ..GpuProcess::default() }],
            ..gpu("Tesla T4")
        }];
        let recorded = Recorded::of(&Ok(gpus.clone())).unwrap();
        std::fs::write(dir.path().join(RECORDING), serde_json::to_string(&recorded).unwrap()).unwrap();
        assert_eq!(replay(dir.path(), T), Ok(gpus));

        // By hand: only the fields there are.
        std::fs::write(
            dir.path().join(RECORDING),
            r#"{"gpus": [{"name": "NVIDIA L4", "temp_c": 41, "processes": [{"pid": 7}]}]}"#,
        )
        .unwrap();
        let g = replay(dir.path(), T).unwrap();
        assert_eq!((g[0].name.as_str(), g[0].temp_c, g[0].processes[0].pid), ("NVIDIA L4", Some(41.0), 7));

        for (text, want) in [
            (
                r#"{"unavailable": "libnvidia-ml.so.1 not found"}"#,
                NvmlError::Unavailable("libnvidia-ml.so.1 not found".into()),
            ),
            (
                r#"{"failed": "NVML device count: GPU is lost"}"#,
                NvmlError::Failed("NVML device count: GPU is lost".into()),
            ),
            (r#""timeout""#, NvmlError::Timeout(T)),
        ] {
            std::fs::write(dir.path().join(RECORDING), text).unwrap();
            assert_eq!(replay(dir.path(), T), Err(want), "{text}");
        }
        std::fs::write(dir.path().join(RECORDING), "{\n\"gpus\": 3}").unwrap();
        let e = replay(dir.path(), T).unwrap_err().to_string();
        assert!(e.contains("nvml.json") && e.contains("line 2"), "{e}");
    }
}
