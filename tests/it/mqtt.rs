//! MQTT with Home Assistant discovery against a real broker (Debian's `mosquitto`, started here on a
//! free loopback port, with a password file): the demo appliance, configured through its API,
//! declares its entities with retained discovery configs and publishes their states; a broker that
//! is killed and restarted without persistence gets everything again; the broker announces the
//! appliance `offline` (its last will) when it dies.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const USER: &str = "homeassistant";
const PASS: &str = "broker-pass-1";

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// mosquitto on `port`, returned once it says it runs (its own log line, not a sleep).
fn broker(dir: &std::path::Path, port: u16) -> Kill {
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\npersistence false\nlog_dest stderr\nlog_type all\n",
            dir.join("passwd").display()
        ),
    )
    .unwrap();
    let mut child = Command::new("mosquitto")
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if line.contains("running") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(20)).expect("mosquitto did not start");
    Kill(child)
}

/// `mosquitto_sub -v` on proxwatch's and Home Assistant's topics: each line is `topic payload`.
fn subscribe(port: u16) -> (Kill, mpsc::Receiver<(String, String)>) {
    let mut child = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-u", USER, "-P", PASS, "-v"])
        .args(["-t", "homeassistant/#", "-t", "proxwatch/#"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let (t, p) = line.split_once(' ').unwrap_or((line.as_str(), ""));
            if tx.send((t.to_string(), p.to_string())).is_err() {
                break;
            }
        }
    });
    (Kill(child), rx)
}

/// A test on one message (topic, payload).
type Want<'a> = &'a dyn Fn(&str, &str) -> bool;

/// Reads messages until `want` has matched each of them once; fails after 60 s with what came.
fn expect(rx: &mpsc::Receiver<(String, String)>, want: &[Want<'_>]) -> Vec<(String, String)> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = vec![false; want.len()];
    let mut got = Vec::new();
    while seen.iter().any(|s| !s) {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok((t, p)) = rx.recv_timeout(left) else {
            let topics: Vec<&str> = got.iter().map(|(t, _): &(String, String)| t.as_str()).collect();
            panic!("not every expected message came within 60 s; missing {seen:?}; got {topics:?}");
        };
        for (i, w) in want.iter().enumerate() {
            if !seen[i] && w(&t, &p) {
                seen[i] = true;
            }
        }
        got.push((t, p));
    }
    got
}

#[test]
fn home_assistant_sees_the_host_over_mqtt_and_a_broker_restart_is_survived() {
    if Command::new("mosquitto").arg("-h").output().is_err() {
        assert!(
            std::env::var_os("PROXWATCH_REQUIRE_PEERS").is_none(),
            "mosquitto (Debian package) is not installed and PROXWATCH_REQUIRE_PEERS is set"
        );
        eprintln!("mosquitto not installed: skipping (set PROXWATCH_REQUIRE_PEERS=1 to fail)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let st = Command::new("mosquitto_passwd")
        .args(["-b", "-c"])
        .arg(tmp.path().join("passwd"))
        .args([USER, PASS])
        .status()
        .unwrap();
    assert!(st.success());
    let port = free_port();
    let mut mosq = broker(tmp.path(), port);
    let (sub, rx) = subscribe(port);

    // A retained entity of a guest destroyed while proxwatch was away: it must be cleared.
    let stale = "homeassistant/sensor/pve_demo/qemu_999_cpu/config";
    let st = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-u", USER, "-P", PASS, "-r", "-t", stale])
        .args(["-m", r#"{"name":"CPU","unique_id":"proxwatch_pve_demo_qemu_999_cpu","state_topic":"proxwatch/pve_demo/guest/999"}"#])
        .status()
        .unwrap();
    assert!(st.success());
    let mut demo = crate::common::DemoProcess::start(tmp.path());
    let api = |method: &str, body: Option<Value>| demo.api(method, "/api/integrations/mqtt", body);
    let off = api("GET", None);
    assert_eq!(off["settings"]["enabled"], false, "{off}");
    assert_eq!(off["status"]["state"], "disabled", "{off}");
    let bad = api("PUT", Some(json!({ "enabled": true, "url": "http://nope" })));
    assert_eq!(bad["error"], "bad_request", "{bad}");
    let put = api(
        "PUT",
        Some(json!({
            "enabled": true,
            "url": format!("mqtt://127.0.0.1:{port}"),
            "username": USER,
            "password": PASS,
            "interval_s": 1,
        })),
    );
    assert_eq!(put["settings"]["password"], "********", "the answer masks the password: {put}");

    let is_config = |suffix: &'static str| {
        move |t: &str, p: &str| {
            t.starts_with("homeassistant/") && t.ends_with(suffix) && {
                let v: Value = serde_json::from_str(p).unwrap_or(Value::Null);
                v["unique_id"].is_string()
                    && v["state_topic"].is_string()
                    && v["device"]["identifiers"].is_array()
            }
        }
    };
    let cpu_config = is_config("/cpu/config");
    let guest_config = is_config("/qemu_100_running/config");
    let health_config = is_config("/health_storage/config");
    let ups_config = is_config("_charge/config");
    let host_state = |t: &str, p: &str| {
        t.starts_with("proxwatch/") && t.ends_with("/host") && {
            let v: Value = serde_json::from_str(p).unwrap_or(Value::Null);
            v["cpu"].is_number() && v["memory"].is_number() && v["health"].is_string()
        }
    };
    let guest_state = |t: &str, p: &str| t.ends_with("/guest/100") && p.contains("\"status\"");
    let online = |t: &str, p: &str| t.starts_with("proxwatch/") && t.ends_with("/status") && p == "online";
    // mosquitto_sub -v prints an empty message as `(null)`.
    let cleared = |t: &str, p: &str| t == stale && (p.is_empty() || p == "(null)");
    let got = expect(
        &rx,
        &[
            &cpu_config,
            &guest_config,
            &health_config,
            &ups_config,
            &host_state,
            &guest_state,
            &online,
            &cleared,
        ],
    );
    // Every config points at a state topic proxwatch publishes and at the availability topic.
    let (_, cpu) = got.iter().find(|(t, p)| cpu_config(t, p)).unwrap();
    let cpu: Value = serde_json::from_str(cpu).unwrap();
    assert!(cpu["availability_topic"].as_str().unwrap().ends_with("/status"), "{cpu}");
    assert_eq!(cpu["unit_of_measurement"], "%");

    let status = api("GET", None);
    assert_eq!(status["status"]["state"], "connected", "{status}");
    assert!(status["status"]["entities"].as_u64().unwrap() > 20, "{status}");
    assert!(status["status"]["published"].as_u64().unwrap() > 20, "{status}");
    drop(sub);

    // The broker dies and comes back empty (no persistence): proxwatch reports the outage, then
    // reconnects and declares everything again.
    drop(mosq);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = api("GET", None);
        if s["status"]["state"] == "error" {
            assert!(s["status"]["error"].is_string(), "{s}");
            break;
        }
        assert!(Instant::now() < deadline, "the outage was not reported: {s}");
        std::thread::sleep(Duration::from_millis(200));
    }
    mosq = broker(tmp.path(), port);
    let (sub, rx) = subscribe(port);
    expect(&rx, &[&cpu_config, &guest_config, &host_state, &online]);
    assert_eq!(api("GET", None)["status"]["state"], "connected");

    // The appliance dies: the broker publishes its last will.
    demo.kill();
    expect(
        &rx,
        &[&|t: &str, p: &str| t.starts_with("proxwatch/") && t.ends_with("/status") && p == "offline"],
    );
    drop(sub);
    drop(mosq);
}
