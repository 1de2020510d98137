//! Panic isolation in the shipped binary's profile: one health rule that panics must turn into
//! `unknown` findings for its own checks while every other rule still reports, and the process goes
//! on. Unit tests cannot show this for the release build (the test profile always unwinds), so the
//! test command runs this in the release profile: `cargo run --release --example panic_isolation`.
//! It exits non-zero if the profile aborts on panic or a panic escapes the cycle.

use std::sync::Arc;
use std::time::Duration;

use proxwatch::app::App;
use proxwatch::config::Config;
use proxwatch::db::Db;
use proxwatch::health::cycle::Engine;
use proxwatch::health::model::{Category, Finding, Rule, Severity, Snapshots, Thresholds};
use proxwatch::host::Host;
use proxwatch::host::replay::{Scenario, extract_demo};

fn panicking(_: &Snapshots, _: &Thresholds, _: i64) -> Vec<Finding> {
    panic!("a rule with a bug")
}

fn steady(_: &Snapshots, _: &Thresholds, _: i64) -> Vec<Finding> {
    vec![Finding::new(Category::Disks, "disk_temp:/dev/sdb", Severity::Warning, "disk /dev/sdb at 58 °C")]
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    anyhow::ensure!(
        cfg!(panic = "unwind"),
        "this profile aborts on panic: one panicking health rule would stop the appliance"
    );
    let dir = std::env::temp_dir().join(format!("proxwatch-panic-isolation-{}", std::process::id()));
    extract_demo(&dir)?;
    let mut cfg = Config::default();
    cfg.server.data_dir = dir.join("data");
    std::fs::create_dir_all(&cfg.server.data_dir)?;
    cfg.auth.auth_log = dir.join("auth.log");
    let host = Host::replay(Scenario::load(&dir)?, Duration::from_secs(5));
    let app: Arc<App> = App::new(cfg, host, Db::open_in_memory()?, None)?;
    let rules = [
        Rule {
            id: "bad",
            category: Category::Cpu,
            checks: &[("cpu_usage", "CPU usage")],
            fast: false,
            run: panicking,
        },
        Rule {
            id: "good",
            category: Category::Disks,
            checks: &[("disk_temp", "Disk temperature")],
            fast: false,
            run: steady,
        },
    ];
    let mut engine = Engine::new(&rules, 0, 0);
    // Quiet the default panic message: the cycle logs the panic itself.
    std::panic::set_hook(Box::new(|_| {}));
    for k in 0..3 {
        engine.step_full(&app.health_io(), 1_750_000_000_000 + k * 60_000).await?;
    }
    let snap = app.health.borrow().clone();
    let bad = snap.results.get("cpu_usage").and_then(|v| v.first()).map(|f| (f.severity, f.reason.clone()));
    let good = snap.results.get("disk_temp").and_then(|v| v.first()).map(|f| f.severity);
    let _ = std::fs::remove_dir_all(&dir);
    anyhow::ensure!(
        matches!(&bad, Some((Severity::Unknown, r)) if r.contains("a rule with a bug")),
        "the panicking rule's check should be unknown with the panic's message, got {bad:?}"
    );
    anyhow::ensure!(good == Some(Severity::Warning), "the other rule should still report, got {good:?}");
    println!("panic isolation: ok (a panicking rule is unknown, the others report, the process goes on)");
    Ok(())
}
