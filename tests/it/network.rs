//! Tests for the network domain (issues 5 and 6): the network worker through `step()` over the demo
//! scenario and over small scenarios written here, and `GET /api/network` in-process.

use std::path::Path;
use std::sync::Arc;

use axum::http::StatusCode;
use proxwatch::config::NetworkCfg;
use proxwatch::host::Host;
use proxwatch::tools::net::IfKind;
use proxwatch::workers::inventory::{Intervals, InventoryPoller, SectionState};
use proxwatch::workers::network::{GatewayState, LATENCY_KEY, LOSS_KEY, NetworkWorker};

use crate::common::{self, TestApp, demo_host};

const T0: i64 = common::T0_MS;

/// The demo's inventory (for guest names), loaded once per test.
async fn demo_inventory(host: &Host) -> proxwatch::workers::inventory::Inventory {
    let mut p = InventoryPoller::new("pve-demo".into(), Intervals::default());
    p.step(host, T0).await;
    p.state
}

#[tokio::test]
async fn worker_reads_the_demo_network() {
    let host = demo_host();
    let mut w = NetworkWorker::new(NetworkCfg::default());
    w.set_guests(&demo_inventory(&host).await);
    assert!(w.step(&host, T0, None).await);
    let sec = &w.state.interfaces;
    assert_eq!(sec.state, SectionState::Ok, "{:?}", sec.reason);
    let ifs = &sec.data.as_ref().unwrap().interfaces;
    let find = |n: &str| ifs.iter().find(|i| i.name == n).unwrap_or_else(|| panic!("no {n}"));

    let bond = find("bond0");
    assert_eq!((bond.kind, bond.master.as_deref()), (IfKind::Bond, Some("vmbr0")));
    let b = bond.bond.as_ref().unwrap();
    assert_eq!(
        (b.mode.as_str(), b.active_slave.as_deref(), b.source),
        ("active-backup", Some("eno1"), "proc")
    );
    assert!(b.degraded, "eno2's MII is down");
    let slaves: Vec<(&str, &str, bool, Option<u64>)> = b
        .slaves
        .iter()
        .map(|s| (s.name.as_str(), s.mii_status.as_str(), s.active, s.link_failures))
        .collect();
    assert_eq!(slaves, [("eno1", "up", true, Some(0)), ("eno2", "down", false, Some(3))]);

    let eno1 = find("eno1");
    assert_eq!(
        (eno1.kind, eno1.speed_mbps, eno1.duplex.as_deref()),
        (IfKind::Physical, Some(10000), Some("full"))
    );
    let eno2 = find("eno2");
    assert_eq!((eno2.carrier, eno2.speed_mbps, eno2.operstate.as_str()), (Some(false), None, "down"));
    assert_eq!(eno2.counters.unwrap().rx_errors, 41);

    let vmbr0 = find("vmbr0");
    assert_eq!(vmbr0.addresses[0], "192.168.10.20/24");
    assert!(vmbr0.ports.contains(&"bond0".to_string()) && vmbr0.ports.contains(&"fwpr100p0".to_string()));
    let vlan = find("vmbr0.20");
    assert_eq!((vlan.kind, vlan.vlan_id, vlan.parent.as_deref()), (IfKind::Vlan, Some(20), Some("vmbr0")));

    let tap = find("tap100i0");
    let g = tap.guest.as_ref().unwrap();
    assert_eq!((tap.kind, g.vmid, g.name.as_deref(), g.index), (IfKind::Tap, 100, Some("router"), 0));
    let veth = find("veth201i0");
    assert_eq!((veth.kind, veth.guest.as_ref().unwrap().name.as_deref()), (IfKind::Veth, Some("nextcloud")));
    assert_eq!(find("fwbr101i0").kind, IfKind::Firewall);
    assert_eq!(find("lo").kind, IfKind::Loopback);

    // Topology: vmbr0 → bond0 → (eno1, eno2), the running guests behind their firewall bridges.
    let topo = &sec.data.as_ref().unwrap().topology;
    let names: Vec<&str> = topo.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["vmbr0", "vmbr1"], "firewall bridges are not top-level bridges");
    let br = &topo[0];
    assert_eq!(br.uplinks.len(), 1);
    assert_eq!(br.uplinks[0].name, "bond0");
    assert_eq!(br.uplinks[0].members.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["eno1", "eno2"]);
    assert_eq!(br.vlans, ["vmbr0.20"]);
    let guests: Vec<(u64, &str, bool)> =
        br.guests.iter().map(|g| (g.guest.vmid, g.interface.as_str(), g.firewall)).collect();
    assert_eq!(
        guests,
        [
            (100, "tap100i0", true),
            (101, "tap101i0", true),
            (103, "tap103i0", true),
            (105, "tap105i0", true),
            (200, "veth200i0", true),
            (201, "veth201i0", true),
            (204, "veth204i0", true)
        ]
    );
    assert!(br.other_ports.is_empty(), "{:?}", br.other_ports);
    assert_eq!(topo[1].uplinks[0].name, "eno3");
    assert_eq!(topo[1].guests[0].interface, "tap100i1");

    // The gateway probe answered from the scenario: no packet left this machine.
    let gw = w.state.gateway.data.as_ref().unwrap();
    assert_eq!(w.state.gateway.state, SectionState::Ok);
    assert_eq!(
        (gw.address.as_deref(), gw.interface.as_deref(), gw.method),
        (Some("192.168.10.1"), Some("vmbr0"), Some("replay"))
    );
    assert!(matches!(gw.state, GatewayState::Ok | GatewayState::Loss), "{:?}", gw.state);
    let lat = gw.latency_ms.unwrap();
    assert!((0.24..=0.60).contains(&lat), "{lat}");
    assert_eq!(gw.last_probe, Some(T0));
    let keys: Vec<&str> = w.take_points().iter().map(|p| p.0).collect();
    assert_eq!(keys, [LATENCY_KEY, LOSS_KEY]);
}

#[tokio::test]
async fn each_source_runs_on_its_own_interval() {
    let host = demo_host();
    let cfg = NetworkCfg { interval_s: 10, probe_interval_s: 60, ..NetworkCfg::default() };
    let mut w = NetworkWorker::new(cfg);
    assert!(w.step(&host, T0, None).await);
    w.take_points();
    assert!(!w.step(&host, T0 + 5_000, None).await, "nothing is due after 5 s");
    assert!(w.step(&host, T0 + 10_000, None).await);
    assert_eq!(w.state.interfaces.updated, Some(T0 / 1000 + 10));
    assert!(w.take_points().is_empty(), "the probe is not due yet");
    assert_eq!(w.state.gateway.data.as_ref().unwrap().last_probe, Some(T0));
    w.step(&host, T0 + 60_000, None).await;
    assert_eq!(w.state.gateway.data.as_ref().unwrap().last_probe, Some(T0 + 60_000));
    assert_eq!(w.take_points().len(), 2);
}

/// Writes a one-NIC scenario whose counters the test can change between steps.
fn write_tiny(dir: &Path, rx_errors: u64, rx_dropped: u64, rx_bytes: u64) {
    std::fs::create_dir_all(dir.join("commands")).unwrap();
    std::fs::write(
        dir.join("manifest.toml"),
        "[scenario]\nname = \"tiny\"\n[[command]]\nargv = [\"ip\", \"-j\", \"-d\", \"addr\"]\nstdout = \"commands/ip.json\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("commands/ip.json"),
        r#"[{"ifindex":2,"ifname":"enp1s0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":9000,"operstate":"UP","link_type":"ether","address":"02:00:00:00:00:01","addr_info":[]}]"#,
    )
    .unwrap();
    let st = dir.join("sys/class/net/enp1s0/statistics");
    std::fs::create_dir_all(&st).unwrap();
    for (f, v) in [
        ("rx_bytes", rx_bytes),
        ("tx_bytes", 0),
        ("rx_errors", rx_errors),
        ("tx_errors", 0),
        ("rx_dropped", rx_dropped),
        ("tx_dropped", 0),
    ] {
        std::fs::write(st.join(f), format!("{v}\n")).unwrap();
    }
}

#[tokio::test]
async fn error_and_drop_rates_come_from_counter_deltas() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny(dir.path(), 5, 100, 1_000);
    let host = common::replay_dir(dir.path());
    let mut w =
        NetworkWorker::new(NetworkCfg { interval_s: 10, probe_interval_s: 0, ..NetworkCfg::default() });
    w.step(&host, T0, None).await;
    let i = &w.state.interfaces.data.as_ref().unwrap().interfaces[0];
    assert_eq!((i.errors_per_s, i.rx_bps), (None, None), "one read gives no rate");
    assert_eq!((i.mtu, i.kind), (Some(9000), IfKind::Physical));
    write_tiny(dir.path(), 25, 150, 51_000);
    w.step(&host, T0 + 10_000, None).await;
    let i = &w.state.interfaces.data.as_ref().unwrap().interfaces[0];
    assert_eq!((i.errors_per_s, i.drops_per_s, i.rx_bps), (Some(2.0), Some(5.0), Some(5000.0)));
    // The vitals sampler's 1 s rate wins over the coarse counter delta.
    let sample = proxwatch::model::Sample {
        net: vec![proxwatch::model::NetRate {
            name: "enp1s0".into(),
            rx_bps: 123.0,
            tx_bps: 4.0,
            ..Default::default()
        }],
        ..Default::default()
    };
    w.step(&host, T0 + 20_000, Some(&sample)).await;
    let i = &w.state.interfaces.data.as_ref().unwrap().interfaces[0];
    assert_eq!((i.rx_bps, i.tx_bps, i.errors_per_s), (Some(123.0), Some(4.0), Some(0.0)));
    // Probing is off and this scenario has no routing table: the gateway says why.
    assert_eq!(w.state.gateway.state, SectionState::Unavailable);
    assert!(
        w.state.gateway.reason.as_deref().unwrap().contains("/proc/net/route"),
        "{:?}",
        w.state.gateway.reason
    );
}

#[tokio::test]
async fn api_serves_the_demo_network() {
    let host = demo_host();
    let inv = demo_inventory(&host).await;
    let app = TestApp::builder().demo().build().await;
    app.inventory.send_replace(Arc::new(inv.clone()));

    // Before the worker's first step: pending, not an error.
    let (status, body) = app.get("/api/network").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["state"], "pending");
    assert_eq!(body["gateway"]["state"], "pending");

    let mut w = NetworkWorker::new(NetworkCfg::default());
    w.set_guests(&inv);
    w.step(&app.host, T0, None).await;
    app.network.send_replace(Arc::new(w.state.clone()));
    app.series.describe(LATENCY_KEY, "Gateway latency", "ms");
    for (k, ts, v) in w.take_points() {
        app.series.record(k, ts, v);
    }

    let (status, body) = app.get("/api/network").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "ok");
    let kinds: Vec<&str> =
        body["groups"].as_array().unwrap().iter().map(|g| g["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["physical", "bond", "bridge", "vlan", "tap", "veth", "firewall", "loopback"]);
    assert_eq!(body["summary"]["degraded_bonds"], serde_json::json!(["bond0"]));
    assert_eq!(body["summary"]["down"], serde_json::json!(["eno2"]));
    let bonds = &body["groups"][1]["interfaces"];
    assert_eq!(bonds[0]["bond"]["slaves"][1]["mii_status"], "down");
    let taps = body["groups"][4]["interfaces"].as_array().unwrap();
    let t = taps.iter().find(|t| t["name"] == "tap105i0").unwrap();
    assert_eq!(
        (t["guest"]["vmid"].as_u64(), t["guest"]["name"].as_str(), t["guest"]["kind"].as_str()),
        (Some(105), Some("ci-runner"), Some("qemu"))
    );
    assert_eq!(body["topology"][0]["uplinks"][0]["members"][1]["name"], "eno2");
    let gw = &body["gateway"];
    assert_eq!((gw["state"].as_str(), gw["data"]["address"].as_str()), (Some("ok"), Some("192.168.10.1")));
    assert!(gw["data"]["latency_ms"].as_f64().unwrap() > 0.0, "{gw}");
    assert_eq!(gw["data"]["last_probe"].as_i64(), Some(T0));

    // The latency is history: /api/history serves it like a vitals metric.
    let now_s = T0 / 1000;
    let (status, h) = app.get(&format!("/api/history?metric={LATENCY_KEY}&range=live")).await;
    assert_eq!(status, StatusCode::OK, "{h}");
    let pts = h["points"].as_array().unwrap();
    assert_eq!(pts.len(), 1, "{h}");
    assert_eq!(pts[0][0].as_i64(), Some(now_s));
    let (_, metrics) = app.get("/api/history/metrics").await;
    assert!(metrics.to_string().contains(LATENCY_KEY), "{metrics}");
}

#[tokio::test]
async fn a_host_without_ip_is_unavailable_with_the_reason() {
    let (host, _dir) = common::host_without(&[&["ip", "-j", "-d", "addr"]]);
    let app = TestApp::builder().host(host).build().await;
    let mut w = NetworkWorker::new(NetworkCfg::default());
    w.step(&app.host, T0, None).await;
    app.network.send_replace(Arc::new(w.state.clone()));
    let (status, body) = app.get("/api/network").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["state"], "unavailable");
    assert_eq!(body["reason"], "ip is not installed");
    assert_eq!(body["groups"], serde_json::json!([]));
    assert_eq!(body["gateway"]["state"], "unavailable");
    assert!(body["gateway"]["reason"].as_str().unwrap().contains("/proc/net/route"), "{body}");
}

/// A configured probe target that is not an address is reported, not probed.
#[tokio::test]
async fn a_bad_probe_target_is_an_error_with_the_reason() {
    let cfg = NetworkCfg { probe_target: "gateway.example".into(), ..NetworkCfg::default() };
    let mut w = NetworkWorker::new(cfg);
    w.step(&demo_host(), T0, None).await;
    assert_eq!(w.state.gateway.state, SectionState::Error);
    assert!(w.state.gateway.reason.as_deref().unwrap().contains("gateway.example"));
    assert!(w.take_points().is_empty());
}

/// A scenario whose icmp.toml does not list the probed address loses every echo.
#[tokio::test]
async fn an_unanswered_target_is_unreachable() {
    let cfg = NetworkCfg { probe_target: "192.0.2.99".into(), ..NetworkCfg::default() };
    let mut w = NetworkWorker::new(cfg);
    w.step(&demo_host(), T0, None).await;
    let gw = w.state.gateway.data.as_ref().unwrap();
    assert_eq!((gw.state, gw.loss_pct, gw.latency_ms), (GatewayState::Unreachable, Some(100.0), None));
    assert_eq!(gw.target.as_deref(), Some("192.0.2.99"));
    assert_eq!(gw.address.as_deref(), Some("192.168.10.1"), "the gateway is still shown");
    let pts = w.take_points();
    assert_eq!(pts, vec![(LOSS_KEY, T0, 100.0)], "no latency point for a lost probe");
}

/// `ip` runs every 10 minutes, not on every read: between its runs the worker reuses its answer while
/// `/sys/class/net` lists the same links in the same states, and runs it at once when one changes.
#[tokio::test]
async fn ip_runs_every_ten_minutes_and_at_once_when_a_link_changes() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = std::fs::read_to_string(common::demo_dir().join("manifest.toml")).unwrap();
    let moved = manifest
        .replace("stdout = \"commands/", &format!("stdout = \"{}/commands/", common::demo_dir().display()));
    std::fs::write(dir.path().join("manifest.toml"), moved).unwrap();
    std::fs::create_dir_all(dir.path().join("sys/class")).unwrap();
    let ok = std::process::Command::new("cp")
        .arg("-r")
        .arg(common::demo_dir().join("sys/class/net"))
        .arg(dir.path().join("sys/class/net"))
        .status()
        .unwrap();
    assert!(ok.success());
    let host = common::replay_dir(dir.path());
    let runs = |h: &Host| h.runs_by_program().get("ip").map_or(0, |r| r.runs);
    let cfg = NetworkCfg { probe_interval_s: 0, ..NetworkCfg::default() };
    let mut w = NetworkWorker::new(cfg);
    let t0 = common::T0_MS;
    for k in 0..19 {
        w.step(&host, t0 + k * 30_000, None).await;
    }
    assert_eq!(runs(&host), 1, "9 minutes of reads, one ip");
    w.step(&host, t0 + 600_000, None).await;
    assert_eq!(runs(&host), 2, "every 10 minutes");
    // eno1 loses its link: the next read runs ip at once.
    std::fs::write(dir.path().join("sys/class/net/eno1/operstate"), "down\n").unwrap();
    w.step(&host, t0 + 630_000, None).await;
    assert_eq!(runs(&host), 3);
    assert!(w.state.interfaces.data.as_ref().unwrap().interfaces.iter().any(|i| i.name == "eno1"));
}
