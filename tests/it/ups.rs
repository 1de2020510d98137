//! Tests for the ups domain (issues 5 and 6): the NUT client and the UPS worker against a **real
//! upsd** with the dummy-ups driver (Debian's nut-server, installed by scripts/test), started as in
//! shared/PEERS.md §1: a private temp dir through NUT_CONFPATH/NUT_STATEPATH/NUT_ALTPIDPATH, as
//! `nobody` when run as root, on a free port. Readiness is polled with deadlines, never slept for.
//!
//! Without upsd the test fails, naming the package; it skips (loudly) only when
//! `PROXWATCH_ALLOW_MISSING_PEERS=1` is set, for a developer machine without nut-server.
// The test starts real peers; the one-door rule is for the program, not for its tests.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use proxwatch::config::NutCfg;
use proxwatch::health::model::{Finding, Severity, Snapshots, Thresholds};
use proxwatch::host::Host;
use proxwatch::host::nut::NutTransport;
use proxwatch::tools::nut::{Client, ErrCode, Flag, NutError};
use proxwatch::workers::ups::{State, UpsPoller, UpsSnapshot, UpsState};

const UPSD: &str = "/lib/nut/upsd";
const DUMMY_UPS: &str = "/lib/nut/dummy-ups";
const FIXTURE: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/upstream/nut/cyberpower_cp1500pfclcd_OL.dev");

/// A private upsd + dummy-ups; every daemon it started is killed on drop (by the PIDs in its
/// state dir and those it saw before).
struct Nut {
    dir: tempfile::TempDir,
    port: u16,
    as_nobody: bool,
    seen_pids: Vec<i32>,
}

impl Nut {
    fn etc(&self) -> PathBuf {
        self.dir.path().join("etc")
    }
    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }
    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn start(port: u16) -> Nut {
        let dir = tempfile::Builder::new().prefix("proxwatch-nut").tempdir().unwrap();
        let as_nobody = nix_is_root();
        let nut = Nut { dir, port, as_nobody, seen_pids: Vec::new() };
        let (etc, state) = (nut.etc(), nut.state());
        std::fs::create_dir_all(&etc).unwrap();
        std::fs::create_dir_all(&state).unwrap();
        std::fs::copy(FIXTURE, etc.join("cp1500.dev")).unwrap();
        std::fs::write(
            etc.join("ups.conf"),
            "[cp1500]\n  driver = dummy-ups\n  port = cp1500.dev\n  desc = \"CyberPower replay\"\n  pollinterval = 1\n",
        )
        .unwrap();
        std::fs::write(etc.join("upsd.conf"), format!("LISTEN 127.0.0.1 {port}\n")).unwrap();
        std::fs::write(etc.join("upsd.users"), "[monuser]\n  password = secret\n  upsmon secondary\n")
            .unwrap();
        std::fs::write(etc.join("nut.conf"), "MODE=standalone\n").unwrap();
        if as_nobody {
            let d = nut.dir.path().display().to_string();
            run(Command::new("chmod").args(["755", &d]));
            run(Command::new("chown").args(["-R", "nobody:nogroup", &d]));
            run(Command::new("chmod").args([
                "750",
                &etc.display().to_string(),
                &state.display().to_string(),
            ]));
            run(Command::new("sh").args(["-c", &format!("chmod 640 {}/*", etc.display())]));
        }
        nut
    }

    /// Runs a NUT daemon (it daemonizes; the command returns once it has forked).
    fn daemon(&mut self, argv: &[&str]) {
        let mut cmd = if self.as_nobody {
            let mut c = Command::new("runuser");
            c.args(["-u", "nobody", "--"]).args(argv).args(["-u", "nobody"]);
            c
        } else {
            let mut c = Command::new(argv[0]);
            c.args(&argv[1..]);
            c
        };
        cmd.env("NUT_CONFPATH", self.etc())
            .env("NUT_STATEPATH", self.state())
            .env("NUT_ALTPIDPATH", self.state())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        run(&mut cmd);
        self.seen_pids.extend(self.pids());
    }

    fn start_driver(&mut self) {
        self.daemon(&[DUMMY_UPS, "-a", "cp1500"]);
    }
    fn start_upsd(&mut self) {
        self.daemon(&[UPSD]);
    }

    fn pid(&self, name: &str) -> Option<i32> {
        std::fs::read_to_string(self.state().join(name)).ok()?.trim().parse().ok()
    }

    fn pids(&self) -> Vec<i32> {
        let Ok(rd) = std::fs::read_dir(self.state()) else { return Vec::new() };
        rd.filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".pid"))
            .filter_map(|e| std::fs::read_to_string(e.path()).ok()?.trim().parse().ok())
            .collect()
    }

    /// Kills one daemon by its pid file and waits (deadline) until it is gone.
    fn kill(&self, pidfile: &str) {
        let pid = self.pid(pidfile).unwrap_or_else(|| panic!("no {pidfile}"));
        terminate(pid);
        wait_for(&format!("{pidfile} ({pid}) to exit"), || !alive(pid));
    }

    fn write_dev(&self, status: &str, charge: u32) {
        let text = std::fs::read_to_string(FIXTURE)
            .unwrap()
            .replace("ups.status: OL", &format!("ups.status: {status}"))
            .replace("battery.charge: 100", &format!("battery.charge: {charge}"));
        // Rewriting in place keeps the owner; dummy-ups re-reads the file when its mtime changes, so
        // the mtime is moved at least a second past the previous one (two rewrites within one
        // second would otherwise look like none to a driver comparing whole seconds).
        let path = self.etc().join("cp1500.dev");
        let before = std::fs::metadata(&path).and_then(|m| m.modified()).unwrap();
        std::fs::write(&path, text).unwrap();
        let at = std::time::SystemTime::now().max(before + Duration::from_secs(1));
        std::fs::File::options().write(true).open(&path).unwrap().set_modified(at).unwrap();
    }
}

impl Drop for Nut {
    fn drop(&mut self) {
        let mut pids = self.pids();
        pids.extend(&self.seen_pids);
        pids.sort();
        pids.dedup();
        for pid in pids {
            if alive(pid) {
                terminate(pid);
            }
        }
    }
}

fn nix_is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn alive(pid: i32) -> bool {
    // Signal 0 checks existence; a zombie of ours does not exist here since the daemons re-parent.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
}

fn terminate(pid: i32) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM);
}

fn run(cmd: &mut Command) {
    let status = cmd.status().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(status.success(), "{cmd:?} exited with {status}");
}

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Steps the poller (with a clock far enough ahead that backoff is always due) until `ok` holds.
async fn step_until(
    poller: &mut UpsPoller,
    host: &Host,
    clock: &mut i64,
    what: &str,
    ok: impl Fn(&UpsSnapshot) -> bool,
) -> UpsSnapshot {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        *clock += 120_000;
        let snap = poller.step(host, *clock).await;
        if ok(&snap) {
            return snap;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}; last snapshot: {snap:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `LIST UPS` through the real client answers (upsd is up and serving).
async fn upsd_answers(host: &Host, addr: &str) -> bool {
    let Ok(mut t) = NutTransport::connect(host, addr, Duration::from_secs(2)).await else { return false };
    Client { transport: &mut t }.list_ups().await.is_ok()
}

/// A private upsd + dummy-ups serving `cp1500` (on line), answering `LIST UPS`; `None` when the
/// peers are not installed and skipping is allowed.
async fn nut_up() -> Option<(Nut, Host)> {
    if !peers_installed() {
        return None;
    }
    let mut nut = Nut::start(free_port());
    nut.start_driver();
    nut.start_upsd();
    let host = Host::system(Duration::from_secs(5));
    let addr = nut.addr();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !upsd_answers(&host, &addr).await {
        assert!(Instant::now() < deadline, "upsd at {addr} never answered LIST UPS");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Some((nut, host))
}

fn poller(addr: String, password: &str) -> UpsPoller {
    UpsPoller::new(NutCfg {
        servers: vec![addr],
        username: "monuser".into(),
        password: password.into(),
        interval_s: 1,
        timeout_ms: 2000,
    })
}

fn peers_installed() -> bool {
    if Path::new(UPSD).exists() && Path::new(DUMMY_UPS).exists() {
        return true;
    }
    if std::env::var("PROXWATCH_ALLOW_MISSING_PEERS").as_deref() == Ok("1") {
        eprintln!(
            "SKIPPED: {UPSD} / {DUMMY_UPS} not installed (apt install nut-server nut-client); PROXWATCH_ALLOW_MISSING_PEERS=1"
        );
        return false;
    }
    panic!(
        "{UPSD} is not installed: run scripts/test (apt install nut-server nut-client), or set PROXWATCH_ALLOW_MISSING_PEERS=1 to skip"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_upsd_status_change_driver_loss_and_reconnect() {
    let Some((mut nut, host)) = nut_up().await else { return };
    let addr = nut.addr();
    let mut poller = poller(addr.clone(), "secret");
    let mut clock = 1_700_000_000_000;

    // 1. The UPS is read: on line, 100 %, 1530 s.
    let snap = step_until(&mut poller, &host, &mut clock, "the UPS to be read", |s| {
        // Right after start the driver may not have published ups.status yet: wait for it too.
        s.upses.first().is_some_and(|u| {
            u.state == UpsState::Ok && u.reading.as_ref().is_some_and(|r| !r.status.raw.is_empty())
        })
    })
    .await;
    assert_eq!(snap.state, State::Ok);
    let ups = &snap.upses[0];
    assert_eq!((ups.name.as_str(), ups.description.as_str()), ("cp1500", "CyberPower replay"));
    let r = ups.reading.as_ref().unwrap();
    assert_eq!(r.status.flags, vec![Flag::OL], "{r:?}");
    assert_eq!((r.charge_pct, r.runtime_s, r.load_pct), (Some(100.0), Some(1530.0), Some(25.0)));
    assert_eq!(r.driver.as_deref(), Some("dummy-ups"), "dummy-ups overrides driver.name");
    let first_seen = ups.status_since.unwrap();

    // 2. A power cut: the driver re-reads the rewritten .dev and the worker sees it live.
    nut.write_dev("OB DISCHRG LB", 18);
    let snap = step_until(&mut poller, &host, &mut clock, "OB DISCHRG LB", |s| {
        s.upses[0].reading.as_ref().is_some_and(|r| r.status.has(Flag::OB))
    })
    .await;
    let ups = &snap.upses[0];
    let r = ups.reading.as_ref().unwrap();
    assert_eq!(r.status.flags, vec![Flag::OB, Flag::DISCHRG, Flag::LB]);
    assert_eq!(r.charge_pct, Some(18.0));
    assert_eq!(ups.changes[0].from, "OL");
    assert_eq!(ups.changes[0].to, "OB DISCHRG LB");
    assert!(ups.status_since.unwrap() > first_seen);

    // 3. The driver dies: upsd answers ERR DRIVER-NOT-CONNECTED, reported as such, last reading kept.
    nut.kill("dummy-ups-cp1500.pid");
    let snap = step_until(&mut poller, &host, &mut clock, "DRIVER-NOT-CONNECTED", |s| {
        s.upses[0].state == UpsState::DriverNotConnected
    })
    .await;
    assert_eq!(snap.state, State::Ok, "upsd itself still answers");
    assert!(snap.upses[0].reading.is_some(), "the last good reading is kept");
    let mut t = NutTransport::connect(&host, &addr, Duration::from_secs(2)).await.unwrap();
    match (Client { transport: &mut t }).list_var("cp1500").await {
        Err(NutError::Server(ErrCode::DriverNotConnected)) => {}
        other => panic!("expected ERR DRIVER-NOT-CONNECTED, got {other:?}"),
    }
    drop(t);

    // 4. upsd goes away: the kept connection breaks, the server is unavailable; then it comes back
    //    (with its driver) and the same poller reconnects.
    nut.start_driver();
    nut.kill("upsd.pid");
    let snap =
        step_until(&mut poller, &host, &mut clock, "upsd to be gone", |s| s.state == State::Unavailable)
            .await;
    assert_eq!(snap.reason.as_deref(), Some(format!("no upsd at {addr}").as_str()));
    assert_eq!(snap.upses[0].state, UpsState::Error, "its UPS says why its reading is old");
    nut.start_upsd();
    let snap = step_until(&mut poller, &host, &mut clock, "the reconnection", |s| {
        s.state == State::Ok && s.upses.first().is_some_and(|u| u.state == UpsState::Ok)
    })
    .await;
    assert_eq!(snap.servers[0].retry_at, None);
    assert!(snap.upses[0].reading.as_ref().unwrap().status.has(Flag::LB), "the .dev still says LB");
    drop(nut);
}

/// A configured login is sent (USERNAME/PASSWORD) and reads work with it; the password appears in
/// nothing the worker publishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_upsd_with_login_never_publishes_the_password() {
    let Some((nut, host)) = nut_up().await else { return };
    // upsd accepts any USERNAME/PASSWORD pair and checks it only on privileged commands, so reads
    // still work: what matters is that the secret never shows up in what we publish.
    let mut poller = poller(nut.addr(), "hunter2-not-it");
    let mut clock = 0;
    let snap = step_until(&mut poller, &host, &mut clock, "a poll", |s| s.state != State::Pending).await;
    assert_eq!(snap.state, State::Ok, "{snap:#?}");
    let json = serde_json::to_string(&snap).unwrap();
    assert!(!json.contains("hunter2"), "{json}");
}

/// The `ups:*` findings of the real health rules over a snapshot.
fn ups_findings(snap: &UpsSnapshot) -> Vec<Finding> {
    let s = Snapshots { ups: Arc::new(snap.clone()), ..Default::default() };
    let mut out: Vec<Finding> = proxwatch::health::rules::RULES
        .iter()
        .flat_map(|r| (r.run)(&s, &Thresholds::default(), 1_700_000_000_000))
        .filter(|f| f.key.starts_with("ups:"))
        .collect();
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out
}

/// A UPS going on battery through the real upsd (issue 6): on line the `ups:*` check is ok; the
/// driver reads `OB DISCHRG LB` at 12 % and the finding is critical, naming the UPS, the charge and
/// the runtime; a battery that needs replacing (`OL RB`) is a warning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_upsd_on_battery_reaches_the_health_rules() {
    let Some((nut, host)) = nut_up().await else { return };
    let mut poller = poller(nut.addr(), "secret");
    let mut clock = 1_700_000_000_000;
    let has = |flag: Flag| {
        move |s: &UpsSnapshot| {
            s.upses.first().is_some_and(|u| {
                u.state == UpsState::Ok && u.reading.as_ref().is_some_and(|r| r.status.has(flag))
            })
        }
    };
    let snap = step_until(&mut poller, &host, &mut clock, "OL", has(Flag::OL)).await;
    let f = ups_findings(&snap);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].key, format!("ups:cp1500@{}", nut.addr()));
    assert_eq!(f[0].severity, Severity::Ok, "{}", f[0].reason);
    assert!(f[0].reason.starts_with("UPS cp1500 online (OL)"), "{}", f[0].reason);

    nut.write_dev("OB DISCHRG LB", 12);
    let snap = step_until(&mut poller, &host, &mut clock, "OB DISCHRG LB", has(Flag::OB)).await;
    let f = ups_findings(&snap);
    assert_eq!(f[0].severity, Severity::Critical, "{}", f[0].reason);
    assert_eq!(
        f[0].reason,
        "UPS cp1500: battery LOW, on battery (OB DISCHRG LB), charge 12 % (≤ 50 %), runtime 26 min"
    );

    nut.write_dev("OL RB", 100);
    let snap = step_until(&mut poller, &host, &mut clock, "OL RB", has(Flag::RB)).await;
    let f = ups_findings(&snap);
    assert_eq!(f[0].severity, Severity::Warning, "{}", f[0].reason);
    assert!(f[0].reason.contains("UPS cp1500: battery needs replacing"), "{}", f[0].reason);
    drop(nut);
}

/// The demo's UPS comes through the replay transport and the same protocol parser.
#[tokio::test]
async fn demo_scenario_has_a_cyberpower_on_line() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/demo");
    let host = Host::demo(proxwatch::host::Scenario::load(&dir).unwrap(), Duration::from_secs(5));
    let mut poller = UpsPoller::new(NutCfg::default());
    let snap = poller.step(&host, 1_722_500_000_000).await;
    assert_eq!(snap.state, State::Ok, "{snap:#?}");
    assert_eq!(snap.upses.len(), 1);
    let ups = &snap.upses[0];
    assert_eq!((ups.name.as_str(), ups.state), ("cp1500", UpsState::Ok));
    let r = ups.reading.as_ref().unwrap();
    assert_eq!(r.status.flags, vec![Flag::OL]);
    assert_eq!((r.charge_pct, r.runtime_s, r.load_pct), (Some(100.0), Some(1530.0), Some(25.0)));
    assert_eq!(r.model.as_deref(), Some("CP1500PFCLCD"));
    let series = proxwatch::series::Series::new(10);
    proxwatch::workers::ups::record_series(&series, &snap);
    assert!(series.has("ups.cp1500.charge"));
}
