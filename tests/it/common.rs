//! Shared helpers: scenario paths and an app wired to a replay scenario and an in-memory database.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use proxwatch::app::{App, LiveSample};
use proxwatch::config::Config;
use proxwatch::db::Db;
use proxwatch::host::{Host, Scenario};
use proxwatch::workers::sampler::Sampler;

pub fn scenario_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios").join(name)
}

pub fn replay(name: &str) -> Host {
    let s = Scenario::load(&scenario_dir(name)).unwrap_or_else(|e| panic!("scenario {name}: {e:#}"));
    Host::replay(s, Duration::from_secs(5))
}

pub const T0_MS: i64 = 1_750_000_000_000;

/// Two samples over the pve-zfs t0 -> t1 pair, one second apart.
pub fn sample_pair() -> proxwatch::model::Sample {
    let mut s = Sampler::new();
    assert!(s.step(&replay("pve-zfs"), T0_MS).unwrap().is_none(), "first step only records counters");
    s.step(&replay("pve-zfs-t1"), T0_MS + 1000).unwrap().expect("second step yields a sample")
}

/// An app over the pve-zfs scenario with one vitals sample published and the identity read.
pub async fn app() -> Arc<App> {
    let app = App::new(Config::default(), replay("pve-zfs"), Db::open_in_memory().unwrap(), None);
    let sample = sample_pair();
    app.history.record(&sample);
    app.vitals.send_replace(Some(Arc::new(LiveSample::new(sample).unwrap())));
    let id = proxwatch::workers::sampler::identity(&app.host).await.unwrap();
    app.identity.send_replace(Some(Arc::new(id)));
    app
}
