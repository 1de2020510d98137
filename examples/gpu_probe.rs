//! Reads this machine's GPUs exactly as the GPU worker does (NVML, the nvidia-smi fallback, DRM sysfs)
//! and prints the snapshot as JSON; with `--smi` also the `nvidia-smi -q -x` path on its own, to
//! compare the two sources on real hardware. Used to check the NVML path on a GPU host:
//! `cargo build --example gpu_probe && target/debug/examples/gpu_probe --smi`.

use std::time::Duration;

use proxwatch::host::Host;
use proxwatch::workers::gpu::GpuPoller;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let host = Host::system(Duration::from_secs(20));
    let mut poller = GpuPoller::new();
    let snap = poller.step(&host, proxwatch::workers::wall_ms()).await;
    println!("{}", serde_json::to_string_pretty(&snap)?);
    if std::env::args().any(|a| a == "--smi") {
        match proxwatch::tools::gpu::nvidia_smi(&host).await {
            Ok(gpus) => println!("{}", serde_json::to_string_pretty(&gpus)?),
            Err(e) => println!("nvidia-smi path: {e}"),
        }
    }
    Ok(())
}
