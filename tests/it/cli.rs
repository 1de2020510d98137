//! The binary as a user runs it: config commands, `serve --replay` with healthcheck and a graceful
//! SIGTERM stop that leaves the database closed cleanly.
// Tests drive the real binary; the one-door rule is for the program, not for its tests.
#![allow(clippy::disallowed_methods)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common;

const BIN: &str = env!("CARGO_BIN_EXE_proxwatch");

/// Where command-line runs in tests write their auth log (never the host's /var/log).
fn test_auth_log() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("proxwatch-test-{}-auth.log", std::process::id()))
}

type Log = std::io::Lines<BufReader<std::process::ChildStderr>>;

/// Starts `proxwatch serve --replay SCENARIO` on a free loopback port with all its state (database,
/// keys, auth log) under `dir`, and waits for its "listening" line. Returns the child, its address,
/// the log lines before that line, and the rest of its log.
fn spawn_serve(
    scenario: &std::path::Path,
    dir: &std::path::Path,
    env: &[(&str, &str)],
) -> (std::process::Child, String, Vec<String>, Log) {
    let mut child = Command::new(BIN)
        .args(["serve", "--replay"])
        .arg(scenario)
        .args(["--bind", "127.0.0.1", "--port", "0", "--data-dir"])
        .arg(dir)
        .env("PROXWATCH_AUTH_AUTH_LOG", dir.join("auth.log"))
        .env("PROXWATCH_LOG", "info")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut startup = Vec::new();
    let addr = loop {
        let line = lines.next().expect("serve exited before listening").unwrap();
        if let Some(rest) = line.split("addr=").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
        startup.push(line);
    };
    (child, addr, startup, lines)
}

fn proxwatch(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .env("PROXWATCH_LOG", "warn")
        .env("PROXWATCH_AUTH_AUTH_LOG", test_auth_log())
        .output()
        .unwrap()
}

#[test]
fn print_config_round_trips_through_check_config() {
    let out = proxwatch(&["print-config"]);
    assert!(out.status.success());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, &out.stdout).unwrap();
    let out = proxwatch(&["--config", path.to_str().unwrap(), "check-config"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn check_config_names_the_unknown_key_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, "[server]\nport = 8008\nprot = 9\n").unwrap();
    let out = proxwatch(&["--config", path.to_str().unwrap(), "check-config"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("prot") && err.contains("line 3") && err.contains(path.to_str().unwrap()), "{err}");
}

#[test]
fn a_newer_database_stops_startup_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("proxwatch.db");
    future_schema_db(&db);
    let out = proxwatch(&[
        "serve",
        "--replay",
        common::scenario_dir("pve-zfs").to_str().unwrap(),
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
        "--data-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("proxwatch.db") && err.contains("newer"), "{err}");
}

/// Writes a database whose schema version is from a future proxwatch.
fn future_schema_db(path: &std::path::Path) {
    let db = proxwatch::db::Db::open(path).unwrap();
    db.call_blocking(|c| Ok(c.pragma_update(None, "user_version", 9999)?)).unwrap();
    db.close().unwrap();
}

#[test]
fn serve_replay_answers_healthcheck_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    // Per-target directives: the CLI's and the app's info lines show (the listening address, the
    // clean stop), the database's "migrated" lines (info, on every fresh data dir) do not.
    let log = [("PROXWATCH_LOG", "warn,proxwatch::cli=info,proxwatch::app=info")];
    let (mut child, addr, startup, lines) = spawn_serve(&common::scenario_dir("pve-zfs"), dir.path(), &log);
    let port = addr.rsplit(':').next().unwrap();
    let out = proxwatch(&["--bind", "127.0.0.1", "--port", port, "healthcheck"]);
    assert!(out.status.success(), "healthcheck: {}", String::from_utf8_lossy(&out.stderr));

    let start = Instant::now();
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(start.elapsed() < Duration::from_secs(5), "stopped in {:?}", start.elapsed());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l.contains("stopped cleanly")), "{rest:?}");
    let info: Vec<&String> = startup.iter().chain(&rest).filter(|l| l.contains(" INFO ")).collect();
    assert!(info.iter().all(|l| l.contains(" proxwatch::cli") || l.contains(" proxwatch::app")), "{info:?}");
    // The WAL was checkpointed and truncated on close.
    let wal = dir.path().join("proxwatch.db-wal");
    assert!(!wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0);

    let out = proxwatch(&["--bind", "127.0.0.1", "--port", port, "healthcheck"]);
    assert!(!out.status.success(), "healthcheck must fail once the service is gone");
}

#[test]
fn record_scenario_captures_a_replayable_host() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rec");
    let res = proxwatch(&["record-scenario", "--out", out.to_str().unwrap()]);
    assert!(res.status.success(), "{}", String::from_utf8_lossy(&res.stderr));
    assert!(String::from_utf8_lossy(&res.stdout).contains("scrub"));
    // What was recorded replays: the sampler and the identity read it back.
    let scenario = proxwatch::host::Scenario::load(&out).unwrap();
    assert!(scenario.argvs().any(|a| a == &["pveversion".to_string()]));
    let host = proxwatch::host::Host::replay(scenario, Duration::from_secs(5));
    let mut sampler = proxwatch::workers::sampler::Sampler::new();
    sampler.step(&host, common::T0_MS).unwrap();
    let s = sampler.step(&host, common::T0_MS + 1000).unwrap().unwrap();
    assert!(s.memory.total > 0);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let id = rt.block_on(proxwatch::workers::sampler::identity(&host)).unwrap();
    assert!(!id.hostname.is_empty() && id.threads > 0);
    // The host's filesystems too: mountinfo, and statvfs's answer for each mount the health checks.
    let mut facts = proxwatch::health::facts::FactsCollector::new(None);
    rt.block_on(facts.step(&host, common::T0_MS));
    let proxwatch::health::model::Source::Ok { data } = &facts.facts.filesystems else {
        panic!("{:?}", facts.facts.filesystems)
    };
    let root = data.mounts.iter().find(|m| m.mountpoint == "/").expect("the root filesystem");
    assert!(
        matches!(root.usage, proxwatch::health::facts::MountUsage::Ok { size, .. } if size > 0),
        "{root:?}"
    );
}

fn proxwatch_stdin(args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .args(args)
        .env("PROXWATCH_LOG", "warn")
        .env("PROXWATCH_AUTH_AUTH_LOG", test_auth_log())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn user_command_recovers_a_host_and_the_running_service_picks_it_up() {
    let mut cfg = common::test_config();
    let dir = cfg.server.data_dir.clone();
    cfg.auth.auth_log = dir.join("auth.log");
    let db = proxwatch::db::Db::open(&dir.join("proxwatch.db")).unwrap();
    let app = proxwatch::app::App::new(cfg, common::replay("pve-zfs"), db, None).unwrap();
    let mut sync = proxwatch::auth::sync::AuthSync::default();
    assert!(!sync.step(&app.db, &app.auth).await.unwrap());
    assert!(app.auth.setup_required());

    let d = dir.to_str().unwrap();
    let weak = proxwatch_stdin(&["--data-dir", d, "user", "add", "rescue"], "short\n");
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("at least 10"));
    let ok =
        proxwatch_stdin(&["--data-dir", d, "user", "add", "rescue", "--role", "admin"], "open-sesame-42x\n");
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let list = proxwatch(&["--data-dir", d, "user", "list"]);
    assert!(String::from_utf8_lossy(&list.stdout).contains("rescue"));

    // The service sees the new admin without a restart, and the password works.
    assert!(sync.step(&app.db, &app.auth).await.unwrap(), "reloaded");
    assert!(!app.auth.setup_required());
    let outcome = app.auth.login("rescue", "open-sesame-42x", None, None, None).await.unwrap();
    assert!(matches!(outcome, proxwatch::auth::store::LoginOutcome::Session(_)));

    // Reset the password from the command line: the service's session for the user ends.
    let ok = proxwatch_stdin(&["--data-dir", d, "user", "reset-password", "rescue"], "another-strong-pw\n");
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(sync.step(&app.db, &app.auth).await.unwrap());
    assert!(app.auth.list_sessions(Some("rescue"), None).is_empty());
    assert!(app.auth.login("rescue", "open-sesame-42x", None, None, None).await.is_err());
    assert!(app.auth.login("rescue", "another-strong-pw", None, None, None).await.is_ok());
}

/// The shipped fail2ban filter matches exactly the failure lines proxwatch writes (real
/// `fail2ban-regex` from Debian's fail2ban, installed by scripts/test).
#[tokio::test]
async fn shipped_fail2ban_filter_matches_the_auth_log() {
    use proxwatch::auth::audit::{AuditLog, Kind};
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    let audit = AuditLog::open(Some(&log));
    let db = proxwatch::db::Db::open_in_memory().unwrap();
    let ip4: std::net::IpAddr = "203.0.113.5".parse().unwrap();
    let ip6: std::net::IpAddr = "2001:db8::7".parse().unwrap();
    for _ in 0..3 {
        audit.record(&db, Kind::LoginFailed, Some("root"), Some(ip4), "").await;
    }
    audit.record(&db, Kind::Lockout, Some("root"), Some(ip6), "").await;
    audit.record(&db, Kind::LoginOk, Some("root"), Some(ip4), "").await;
    audit.record(&db, Kind::TerminalOpen, Some("root"), Some(ip4), "session x").await;
    let filter =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/fail2ban/filter.d/proxwatch.conf");
    let out = Command::new("fail2ban-regex")
        .arg(&log)
        .arg(&filter)
        .output()
        .expect("fail2ban-regex (apt install fail2ban)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("Lines: 6 lines, 0 ignored, 4 matched, 2 missed"), "{text}");
    // The host fail2ban extracts from each matched line is the client's address.
    let ips = Command::new("fail2ban-regex").args(["-o", "ip"]).arg(&log).arg(&filter).output().unwrap();
    let ips: Vec<String> = String::from_utf8_lossy(&ips.stdout).lines().map(str::to_string).collect();
    assert_eq!(ips, ["203.0.113.5", "203.0.113.5", "203.0.113.5", "2001:db8::7"]);
}

/// HTTPS with the Proxmox certificate found through the host seam (a replayed
/// `/etc/pve/local/pveproxy-ssl.pem`), HSTS, and Secure session cookies; checked with real curl.
#[test]
fn serves_https_with_the_proxmox_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = tmp.path().join("scenario");
    assert!(
        Command::new("cp")
            .arg("-r")
            .arg(common::scenario_dir("pve-zfs"))
            .arg(&scenario)
            .status()
            .unwrap()
            .success()
    );
    let pve = scenario.join("etc/pve/local");
    std::fs::create_dir_all(&pve).unwrap();
    let (cert, key) = (pve.join("pveproxy-ssl.pem"), pve.join("pveproxy-ssl.key"));
    common::self_signed(&cert, &key, "pve-zfs", "IP:127.0.0.1", &[]);
    let data = tmp.path().join("data");
    let (mut child, addr, _startup, _lines) =
        spawn_serve(&scenario, &data, &[("PROXWATCH_TLS_ENABLED", "true")]);
    let url = |p: &str| format!("https://{addr}{p}");
    let curl = |args: &[&str]| {
        let out = Command::new("curl")
            .args(["-sS", "-i", "--max-time", "10", "--cacert"])
            .arg(&cert)
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let live = curl(&[&url("/api/health/live")]);
    assert!(live.starts_with("HTTP/1.1 200"), "{live}");
    assert!(live.to_lowercase().contains("strict-transport-security: max-age=31536000"), "{live}");
    // Plain HTTP to the TLS port gets nowhere.
    let plain = Command::new("curl")
        .args(["-sS", "--max-time", "5", &format!("http://{addr}/api/health/live")])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("\"ok\""));

    let code = std::fs::read_to_string(data.join("setup-code")).unwrap();
    let setup = format!(
        r#"{{"setup_code":"{}","username":"admin","password":"correct-horse-battery"}}"#,
        code.trim()
    );
    let r = curl(&["-H", "content-type: application/json", "-d", &setup, &url("/api/auth/setup")]);
    assert!(r.starts_with("HTTP/1.1 201"), "{r}");
    let login = r#"{"username":"admin","password":"correct-horse-battery"}"#;
    let r = curl(&["-H", "content-type: application/json", "-d", login, &url("/api/auth/login")]);
    let cookie =
        r.lines().find(|l| l.to_lowercase().starts_with("set-cookie:")).unwrap_or_default().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Secure"),
        "{r}"
    );

    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    assert!(child.wait().unwrap().success());
}

#[test]
fn demo_is_loopback_only_locked_and_offers_its_login() {
    let out = proxwatch(&["demo", "--bind", "0.0.0.0", "--port", "0"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback only"));

    let mut child = Command::new(BIN)
        .args(["demo", "--port", "0"])
        .env("PROXWATCH_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines.next().unwrap().unwrap();
    let base =
        line.strip_prefix("proxwatch demo listening on ").expect(&line).trim_end_matches('/').to_string();
    let curl = |args: &[&str]| {
        let out = Command::new("curl").args(["-sS", "--max-time", "10"]).args(args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let status: serde_json::Value =
        serde_json::from_str(&curl(&[&format!("{base}/api/auth/status")])).unwrap();
    assert_eq!(status["demo"], true);
    assert_eq!(status["demo_login"]["username"], "demo");
    assert_eq!(status["terminal_enabled"], false, "no root shell in the demo without --terminal");
    let code = curl(&["-o", "/dev/null", "-w", "%{http_code}", &format!("{base}/api/system")]);
    assert_eq!(code, "401");
    let login = curl(&[
        "-H",
        "content-type: application/json",
        "-d",
        r#"{"username":"demo","password":"demo"}"#,
        &format!("{base}/api/auth/login"),
    ]);
    assert!(login.contains("csrf_token"), "{login}");
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    assert!(child.wait().unwrap().success());
    // The embedded scenario answers everything the demo asks: no replay error, no other error.
    let mut log = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut log).unwrap();
    assert!(!log.contains(" ERROR "), "{log}");
}

/// `proxwatch doctor` on the demo host: every check answers, the Proxmox version and the cluster
/// files are found, and the exit code follows the worst verdict.
#[test]
fn doctor_checks_the_demo_host() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (rows, code, stdout) = doctor_on_demo(port);
    let rows = rows.as_array().unwrap();
    let get = |name: &str| {
        rows.iter().find(|r| r["check"] == name).unwrap_or_else(|| panic!("no {name} in {rows:?}"))
    };
    assert_eq!(get("Proxmox VE")["detail"], "pve-manager/8.2.4/faa83925c9641325");
    assert_eq!(get("cluster filesystem")["verdict"], "ok");
    assert_eq!(get("smartctl")["verdict"], "ok");
    assert_eq!(get("clock")["verdict"], "ok");
    assert_eq!(get("port")["verdict"], "ok");
    assert_eq!(get("data directory")["verdict"], "ok");
    let worst = rows.iter().map(|r| r["verdict"].as_str().unwrap()).fold(0, |w, v| {
        w.max(match v {
            "fail" => 2,
            "warn" => 1,
            _ => 0,
        })
    });
    assert_eq!(code, Some(worst), "{stdout}");
}

/// `proxwatch doctor --json` on the demo host with `port` (on 127.0.0.1): the rows, the exit code and
/// the raw output.
fn doctor_on_demo(port: u16) -> (serde_json::Value, Option<i32>, String) {
    let tmp = tempfile::tempdir().unwrap();
    let (demo, port) = (common::demo_dir(), port.to_string());
    let data = tmp.path().to_str().unwrap();
    let args =
        ["--replay", demo.to_str().unwrap(), "--data-dir", data, "--bind", "127.0.0.1", "--port", &port];
    let res = proxwatch(&[&args[..], &["doctor", "--json"]].concat());
    let stdout = String::from_utf8_lossy(&res.stdout).into_owned();
    let rows = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    (rows, res.status.code(), stdout)
}

/// `proxwatch doctor` names who holds the port when it is not proxwatch: here, this test process.
#[test]
fn doctor_names_who_holds_the_port() {
    // Held for the whole run, accepting nothing: not proxwatch, so the health check fails.
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (rows, code, stdout) = doctor_on_demo(held.local_addr().unwrap().port());
    let row = rows.as_array().unwrap().iter().find(|r| r["check"] == "port").unwrap().clone();
    assert_eq!(row["verdict"], "fail", "{row}");
    let me = format!("(pid {})", std::process::id());
    assert!(row["detail"].as_str().unwrap().contains(&me), "{row} should name {me}");
    assert_eq!(code, Some(2), "{stdout}");
    drop(held);
}
