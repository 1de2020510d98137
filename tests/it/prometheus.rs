//! A real Prometheus (Debian's `prometheus` package) scrapes the demo appliance with a read-scoped
//! API token, as PEERS.md §4 describes: the target is up, and the families dashboards query hold data.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn curl(args: &[&str]) -> String {
    let out = Command::new("curl").args(["-sS", "--max-time", "10"]).args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Polls Prometheus' query API until `query` has a result (bounded: scrapes run every second).
fn query_until(prom: &str, query: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let body =
            curl(&["-G", "--data-urlencode", &format!("query={query}"), &format!("{prom}/api/v1/query")]);
        let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        let result = &v["data"]["result"];
        if result.as_array().is_some_and(|r| !r.is_empty()) && ok(result) {
            return result.clone();
        }
        assert!(Instant::now() < deadline, "no result for {query} within 60 s: {body}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn prometheus_scrapes_the_demo_with_a_read_token() {
    if Command::new("prometheus").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("PROXWATCH_REQUIRE_PEERS").is_none(),
            "prometheus (Debian package) is not installed and PROXWATCH_REQUIRE_PEERS is set"
        );
        eprintln!("prometheus not installed: skipping (set PROXWATCH_REQUIRE_PEERS=1 to fail)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let demo = crate::common::DemoProcess::start(tmp.path());
    let base = demo.base.clone();
    let target = base.strip_prefix("http://").unwrap().to_string();
    // A read-scoped token, made the way an admin makes one: log in, then create it with the password.
    let token = demo.token("read");
    std::fs::write(tmp.path().join("token"), &token).unwrap();
    assert_eq!(curl(&["-o", "/dev/null", "-w", "%{http_code}", &format!("{base}/metrics")]), "401");

    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: proxwatch\n    \
         static_configs:\n      - targets: [\"{target}\"]\n    authorization:\n      credentials_file: {}\n",
        tmp.path().join("token").display()
    );
    std::fs::write(tmp.path().join("prometheus.yml"), config).unwrap();
    let port = free_port();
    let prom = Command::new("prometheus")
        .arg(format!("--config.file={}", tmp.path().join("prometheus.yml").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!("--storage.tsdb.path={}", tmp.path().join("tsdb").display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _prom = Kill(prom);
    let prom = format!("http://127.0.0.1:{port}");

    let up = query_until(&prom, r#"up{job="proxwatch"}"#, |r| r[0]["value"][1] == "1");
    assert_eq!(up[0]["value"][1], "1");
    let targets: Value = serde_json::from_str(&curl(&[&format!("{prom}/api/v1/targets")])).unwrap();
    let t = &targets["data"]["activeTargets"][0];
    assert_eq!((t["health"].as_str(), t["lastError"].as_str()), (Some("up"), Some("")), "{t}");

    // The families dashboards query, with the labels they join on.
    let guests = query_until(&prom, r#"pve_guest_info{type="qemu"}"#, |_| true);
    assert!(guests.as_array().unwrap().iter().any(|g| g["metric"]["id"] == "qemu/100"), "{guests}");
    query_until(&prom, r#"pve_cpu_usage_ratio * on(id) group_left(name) pve_guest_info"#, |_| true);
    query_until(&prom, "node_load1", |_| true);
    query_until(&prom, r#"pve_storage_info"#, |_| true);
    query_until(&prom, "proxwatch_build_info", |_| true);
    // The demo's service monitors (the first check of each comes within its 30 s interval).
    query_until(&prom, r#"proxwatch_monitor_up{monitor="pihole ping",vmid="200"}"#, |r| {
        r[0]["value"][1] == "1"
    });
    // Counters move between scrapes: a rate needs two of them.
    query_until(&prom, r#"sum(rate(node_cpu_seconds_total{mode!="idle"}[5s]))"#, |r| {
        r[0]["value"][1].as_str().and_then(|v| v.parse::<f64>().ok()).is_some_and(|v| v > 0.0)
    });

    // The shipped Grafana dashboard: every panel's every query answers, with data, on the demo
    // (Grafana's variables set as "All" would set them).
    let dash: Value = serde_json::from_str(include_str!("../../packaging/grafana/proxwatch.json"))
        .expect("the dashboard is JSON");
    let mut checked = 0;
    for panel in dash["panels"].as_array().unwrap() {
        if panel["type"] == "row" {
            continue;
        }
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "panel {} has no query", panel["title"]);
        for t in targets {
            let expr = t["expr"].as_str().unwrap();
            let q = expr
                .replace(r#"instance=~"$instance""#, r#"instance=~".+""#)
                .replace("$__rate_interval", "5s");
            assert!(!q.contains('$'), "panel {}: an unknown variable in {expr}", panel["title"]);
            query_until(&prom, &q, |_| true);
            checked += 1;
        }
    }
    assert!(checked >= 20, "{checked} queries");
}
