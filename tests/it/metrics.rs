//! `/metrics` in-process over the demo replay (one vitals sample, the inventory polled): who may
//! scrape, the text format (checked by `promtool check metrics` and by the checks promtool 2.42
//! misses), and the names dashboards built for other exporters query.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use proxwatch::auth::{Level, Principal, Via};

use std::sync::Arc;

use proxwatch::model::LiveSample;

use crate::common::{ADMIN, T0_MS, TestApp, read, sample_pair};

async fn app(adjust: impl FnOnce(&mut proxwatch::config::Config) + 'static) -> TestApp {
    let t = TestApp::builder().demo().inventory(T0_MS, 10).config(adjust).build().await;
    // The demo's /proc is synthesised live; the recorded pve-zfs pair gives a fixed sample.
    t.vitals.send_replace(Some(Arc::new(LiveSample::new(sample_pair()).unwrap())));
    // The facts (filesystems, updates, certificates) and one full health cycle over it all, for the
    // findings and the last backups.
    let now = proxwatch::workers::wall_ms();
    let mut facts = proxwatch::health::facts::FactsCollector::new(None);
    facts.step(&t.host, now).await;
    t.health_bus.facts.send_replace(Arc::new(facts.facts.clone()));
    let mut engine = proxwatch::health::cycle::Engine::new(proxwatch::health::rules::RULES, now, 0);
    engine.step_full(&t.health_io(), now).await.unwrap();
    t
}

async fn token(t: &TestApp, scope: Level) -> String {
    let p =
        Principal { user: ADMIN.into(), level: Level::Admin, via: Via::Token { id: "t".into() }, ip: None };
    t.auth.create_token(&p, "prometheus", scope, None).await.unwrap().1
}

fn scrape(token: Option<&str>, from: &str) -> Request<Body> {
    let mut b = Request::builder().uri("/metrics").header(header::HOST, "localhost");
    if let Some(t) = token {
        b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let mut req = b.body(Body::empty()).unwrap();
    req.extensions_mut().insert(ConnectInfo(from.parse::<SocketAddr>().unwrap()));
    req
}

/// The format rules promtool 2.42 does not check: one group per family, HELP then TYPE before its
/// samples, no series twice, a final newline. Returns the families with their types.
pub fn check_format(text: &str) -> HashMap<String, String> {
    assert!(text.ends_with('\n'), "the exposition must end with a newline");
    let mut types = HashMap::new();
    let mut closed = HashSet::new();
    let mut series = HashSet::new();
    let mut current: Option<String> = None;
    let mut helped: Option<String> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap().to_string();
            assert!(!closed.contains(&name) && !types.contains_key(&name), "{name}: a second HELP");
            if let Some(c) = current.take() {
                closed.insert(c);
            }
            helped = Some(name);
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert_eq!(helped.as_deref(), Some(name), "TYPE {name} must follow its HELP");
            assert!(types.insert(name.to_string(), kind.to_string()).is_none(), "{name}: a second TYPE");
            current = Some(name.to_string());
        } else {
            let name = line.split(['{', ' ']).next().unwrap();
            assert_eq!(current.as_deref(), Some(name), "sample of {name} outside its family's group: {line}");
            let (key, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok() || ["NaN", "+Inf", "-Inf"].contains(&value), "{line}");
            assert!(series.insert(key.to_string()), "duplicate series {key}");
        }
    }
    types
}

fn value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// `promtool check metrics` on the text: its exit status and what it said.
fn promtool(text: &str) -> Option<(i32, String)> {
    let mut child = match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(_) => {
            assert!(
                std::env::var_os("PROXWATCH_REQUIRE_PEERS").is_none(),
                "promtool (Debian's prometheus package) is not installed and PROXWATCH_REQUIRE_PEERS is set"
            );
            eprintln!("promtool not installed: skipping its check (set PROXWATCH_REQUIRE_PEERS=1 to fail)");
            return None;
        }
    };
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    Some((out.status.code().unwrap_or(-1), said))
}

#[tokio::test]
async fn a_read_token_scrapes_text_promtool_accepts_with_the_names_dashboards_use() {
    let t = app(|_| {}).await;
    // Two service monitors: an HTTPS one up with its certificate's expiry, a TCP one down.
    {
        use proxwatch::model::monitor::{MonitorState, Outcome, Status};
        let state =
            |id: i64, name: &str, vmid: Option<u64>, status, ok: bool, cert: Option<i64>| MonitorState {
                id,
                name: name.into(),
                vmid,
                status,
                since: Some(T0_MS),
                flapping: false,
                last: Some(Outcome {
                    ts: T0_MS,
                    ok,
                    latency_ms: ok.then_some(12.5),
                    error: (!ok).then(|| "connection refused".into()),
                    status_code: None,
                    cert_expires: cert,
                }),
                cert_expires: cert,
            };
        let states = [
            state(1, "nextcloud", Some(201), Status::Up, true, Some(1_800_000_000)),
            state(2, "postgres \"main\"", None, Status::Down, false, None),
        ];
        t.monitors
            .runner
            .out
            .send_replace(Arc::new(states.into_iter().map(|s| (s.id, Arc::new(s))).collect()));
    }
    let (status, _, _) = read(t.send(scrape(None, "192.0.2.7:5000")).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "no token, no metrics");

    let read_token = token(&t, Level::Read).await;
    let (status, headers, body) = read(t.send(scrape(Some(&read_token), "192.0.2.7:5000")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/plain; version=0.0.4; charset=utf-8");
    let text = String::from_utf8(body).unwrap();
    std::fs::write(std::env::temp_dir().join("proxwatch-metrics-test.txt"), &text).unwrap();
    let types = check_format(&text);
    if let Some((code, said)) = promtool(&text) {
        assert_eq!(code, 0, "promtool check metrics: {said}");
    }

    // The service monitors, labelled with their guest's vmid.
    assert_eq!(types["proxwatch_monitor_up"], "gauge");
    assert_eq!(value(&text, r#"proxwatch_monitor_up{id="1",monitor="nextcloud",vmid="201"}"#), Some(1.0));
    assert_eq!(
        value(&text, r#"proxwatch_monitor_up{id="2",monitor="postgres \"main\"",vmid=""}"#),
        Some(0.0)
    );
    assert_eq!(
        value(&text, r#"proxwatch_monitor_latency_seconds{id="1",monitor="nextcloud",vmid="201"}"#),
        Some(0.0125)
    );
    assert_eq!(
        value(
            &text,
            r#"proxwatch_monitor_cert_expiry_timestamp_seconds{id="1",monitor="nextcloud",vmid="201"}"#
        ),
        Some(1.8e9)
    );

    // node_exporter's names for the host vitals, from the sampler's raw counters.
    assert_eq!(types["node_cpu_seconds_total"], "counter");
    assert!(
        value(&text, r#"node_cpu_seconds_total{cpu="0",mode="idle"}"#).is_some_and(|v| v > 0.0),
        "{text}"
    );
    assert!(value(&text, "proxwatch_memory_total_bytes").is_some_and(|v| v > 1e9));
    assert!(value(&text, "node_load1").is_some());
    assert!(text.contains("node_network_receive_bytes_total{device=\""));
    assert!(text.contains("node_disk_written_bytes_total{device=\""));
    // prometheus-pve-exporter's families, joined on `id` as its dashboards do.
    for family in [
        "pve_up",
        "pve_guest_info",
        "pve_cpu_usage_ratio",
        "pve_memory_usage_bytes",
        "pve_storage_info",
        "pve_node_info",
    ] {
        assert!(types.contains_key(family), "{family} missing");
    }
    assert_eq!(types["pve_network_receive_bytes_total"], "counter");
    assert_eq!(types["pve_network_receive_bytes"], "gauge", "the deprecated twin dashboards still query");
    let guest = text.lines().find(|l| l.starts_with("pve_guest_info{id=\"qemu/")).expect("a VM's info");
    for label in ["node=\"", "name=\"", "type=\"qemu\"", "template=\"", "tags=\""] {
        assert!(guest.contains(label), "{guest}");
    }
    assert!(text.lines().any(|l| l.starts_with("pve_up{id=\"node/")), "the node");
    assert!(text.lines().any(|l| l.starts_with("pve_up{id=\"storage/")), "a storage");
    // ZFS pools (one-hot state, as node_exporter) and the findings.
    assert!(text.lines().any(|l| l.starts_with("node_zfs_zpool_state{state=\"online\",zpool=\"")));
    assert!(types.contains_key("proxwatch_health_findings"));
    assert!(value(&text, "proxwatch_health_last_full_cycle_timestamp_seconds").is_some());
    let findings: f64 = text
        .lines()
        .filter(|l| l.starts_with("proxwatch_health_findings{"))
        .map(|l| l.rsplit_once(' ').unwrap().1.parse::<f64>().unwrap())
        .sum();
    let listed = text.lines().filter(|l| l.starts_with("proxwatch_health_finding{")).count();
    assert!(
        findings > 0.0 && findings as usize == listed,
        "the demo has findings: {findings} counted, {listed} listed"
    );
    // The facts: node_exporter's filesystem names, apt_info.py's update names.
    assert!(text.lines().any(|l| l.starts_with("node_filesystem_avail_bytes{device=\"") && l.contains("mountpoint=\"/\"")), "{text}");
    assert_eq!(types["apt_upgrades_pending"], "gauge");
    // Backups: the last good one per guest (from the health cycle), and pve-exporter's "not covered".
    assert!(
        text.lines().any(|l| l.starts_with("proxwatch_guest_last_backup_timestamp_seconds{id=\"")),
        "{text}"
    );
    assert!(text.lines().any(|l| l.starts_with("pve_not_backed_up_info{id=\"")));
    assert_eq!(
        value(&text, "proxwatch_metrics_series").map(|v| v as usize),
        Some(text.lines().filter(|l| !l.starts_with('#')).count())
    );
    assert!(text.contains(&format!("proxwatch_build_info{{version=\"{}\"}} 1", proxwatch::VERSION)));

    // A scrape of unchanged snapshots is the same rendering.
    let (_, _, again) = read(t.send(scrape(Some(&read_token), "192.0.2.7:5000")).await).await;
    assert_eq!(String::from_utf8(again).unwrap(), text);

    // gzip when asked, the same text inside.
    let mut req = scrape(Some(&read_token), "192.0.2.7:5000");
    req.headers_mut().insert(header::ACCEPT_ENCODING, "gzip".parse().unwrap());
    let (status, headers, gz) = read(t.send(req).await).await;
    assert_eq!((status, &headers[header::CONTENT_ENCODING]), (StatusCode::OK, &"gzip".parse().unwrap()));
    let mut plain = String::new();
    flate2::read::GzDecoder::new(&gz[..]).read_to_string(&mut plain).unwrap();
    assert_eq!(plain, text);
}

#[tokio::test]
async fn only_get_and_only_what_the_config_allows() {
    let t = app(|c| c.metrics.public = vec!["10.1.2.0/24".into()]).await;
    // An address on the allow-list scrapes without a token; its neighbour outside does not.
    let (status, _, body) = read(t.send(scrape(None, "10.1.2.3:40000")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8(body).unwrap().contains("node_load1 "));
    let (status, _, _) = read(t.send(scrape(None, "10.1.3.3:40000")).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A wrong token is refused, not ignored.
    let (status, _, _) = read(t.send(scrape(Some("pxw_wrong"), "10.1.3.3:40000")).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Reading is all there is.
    let mut post = scrape(Some(&t.token), "10.1.3.3:40000");
    *post.method_mut() = Method::POST;
    let (status, _, _) = read(t.send(post).await).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);

    let off = app(|c| c.metrics.enabled = false).await;
    let (status, _, _) = read(off.send(scrape(Some(&off.token), "10.1.2.3:40000")).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
