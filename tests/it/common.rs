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

/// A config whose state (secret key, setup code, auth log) lives in a fresh temporary directory.
pub fn test_config() -> Config {
    let dir = tempfile::tempdir().unwrap().keep();
    let mut cfg = Config::default();
    cfg.server.data_dir = dir.clone();
    cfg.auth.auth_log = dir.join("auth.log");
    cfg
}

/// An app over a scenario with a fresh in-memory database and no users yet.
pub fn bare_app(cfg: Config, scenario: &str) -> Arc<App> {
    App::new(cfg, replay(scenario), Db::open_in_memory().unwrap(), None).unwrap()
}

pub const ADMIN: &str = "admin";
pub const ADMIN_PASSWORD: &str = "correct-horse-battery";

/// Creates the admin `admin` (if missing) and returns a fresh admin-scope API token for it.
pub async fn admin_token(app: &Arc<App>) -> String {
    use proxwatch::auth::{Level, Principal, Via};
    if app.auth.user_role(ADMIN).is_none() {
        app.auth.create_user(ADMIN, ADMIN_PASSWORD, Level::Admin).await.unwrap();
    }
    let p = Principal {
        user: ADMIN.into(),
        level: Level::Admin,
        via: Via::Token { id: "test".into() },
        ip: None,
    };
    app.auth.create_token(&p, "test", Level::Admin, None).await.unwrap().1
}

/// An app over the pve-zfs scenario with one vitals sample published, the identity read, and an
/// admin set up.
pub async fn app() -> Arc<App> {
    let app = bare_app(test_config(), "pve-zfs");
    let sample = sample_pair();
    app.history.record(&sample);
    app.vitals.send_replace(Some(Arc::new(LiveSample::new(sample).unwrap())));
    let id = proxwatch::workers::sampler::identity(&app.host).await.unwrap();
    app.identity.send_replace(Some(Arc::new(id)));
    app
}
