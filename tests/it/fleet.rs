//! The fleet between two real appliances (issue 19): a demo served over HTTPS with a self-signed
//! certificate is added to another demo with a read token; its certificate is pinned, a changed one
//! refused until accepted, a killed peer goes stale (a finding in the Network category) and comes
//! back, and a revoked token stops the polling until the admin re-tests it.
// Real processes and openssl: the one-door rule is for the program, not its tests.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{DemoProcess, self_signed};

/// `openssl x509 -fingerprint -sha256` of a PEM certificate, as `AB:CD:…`.
fn fingerprint(cert: &std::path::Path) -> String {
    let out = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(cert)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    text.trim().rsplit('=').next().unwrap().to_string()
}

/// The HTTPS demo's environment: its certificate, no loopback webhook listener (two appliances on
/// one machine would both want 127.0.0.1:8009), its own fleet off.
fn tls_env<'a>(cert: &'a str, key: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("PROXWATCH_TLS_ENABLED", "true"),
        ("PROXWATCH_TLS_CERT", cert),
        ("PROXWATCH_TLS_KEY", key),
        ("PROXWATCH_NOTIFICATIONS_PVE_LISTEN", ""),
    ]
}

/// Reads the watcher's view of peer `id` until `done` holds (the poller runs every 2 s), or fails
/// after 40 s with the last view.
fn until(watcher: &DemoProcess, id: i64, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let fleet = watcher.api("GET", "/api/fleet", None);
        let peer = fleet["peers"].as_array().unwrap().iter().find(|p| p["id"] == id).cloned().unwrap();
        if done(&peer) {
            return peer;
        }
        assert!(Instant::now() < deadline, "waiting for {what}: {peer:#}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn check<'a>(peer: &'a Value, id: &str) -> &'a Value {
    peer["checks"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap()
}

#[test]
fn two_appliances_watch_each_other_over_pinned_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (cert1, key1, cert2, key2) = (
        dir.path().join("c1.pem"),
        dir.path().join("k1.pem"),
        dir.path().join("c2.pem"),
        dir.path().join("k2.pem"),
    );
    let ext = ["basicConstraints=critical,CA:FALSE"];
    self_signed(&cert1, &key1, "localhost", "DNS:localhost,IP:127.0.0.1", &ext);
    self_signed(&cert2, &key2, "localhost", "DNS:localhost,IP:127.0.0.1", &ext);
    let (fp1, fp2) = (fingerprint(&cert1), fingerprint(&cert2));
    assert_ne!(fp1, fp2);
    let (c1, k1, c2, k2) =
        (cert1.to_str().unwrap(), key1.to_str().unwrap(), cert2.to_str().unwrap(), key2.to_str().unwrap());

    let peer_dir = dir.path().join("peer");
    std::fs::create_dir_all(&peer_dir).unwrap();
    let mut peer = DemoProcess::start_with(&peer_dir, 0, &tls_env(c1, k1));
    assert!(peer.base.starts_with("https://127.0.0.1:"), "{}", peer.base);
    let port: u16 = peer.base.rsplit(':').next().unwrap().parse().unwrap();
    let token = peer.token("read");

    let watcher_dir = dir.path().join("watcher");
    std::fs::create_dir_all(&watcher_dir).unwrap();
    let watcher = DemoProcess::start_with(
        &watcher_dir,
        0,
        &[("PROXWATCH_FLEET_INTERVAL_S", "2"), ("PROXWATCH_FLEET_TIMEOUT_S", "2")],
    );

    // The probe shows the certificate before any token is sent.
    let probe = watcher.api("POST", "/api/fleet/probe", Some(json!({ "url": peer.base })));
    assert_eq!(probe["tls"], true, "{probe}");
    assert_eq!(probe["fingerprint"], fp1.as_str(), "{probe}");
    assert_eq!(probe["version"], env!("CARGO_PKG_VERSION"), "{probe}");
    assert!(probe["error"].is_null(), "{probe}");

    // Over HTTPS a peer cannot be added without accepting a certificate.
    let refused = watcher.api(
        "POST",
        "/api/fleet/peers",
        Some(json!({ "url": peer.base, "token": token, "fingerprint": null })),
    );
    assert!(refused["message"].as_str().unwrap().starts_with("fingerprint:"), "{refused}");

    let added = watcher.api(
        "POST",
        "/api/fleet/peers",
        Some(json!({ "name": "pve2", "url": peer.base, "token": token, "fingerprint": fp1 })),
    );
    let id = added["id"].as_i64().unwrap_or_else(|| panic!("{added}"));
    assert_eq!(added["status"], "ok", "{added:#}");
    for (row, status) in
        [("reachable", "ok"), ("tls", "ok"), ("token", "ok"), ("version", "ok"), ("domains", "ok")]
    {
        assert_eq!(check(&added, row)["status"], status, "{row}: {added:#}");
    }
    assert!(check(&added, "tls")["detail"].as_str().unwrap().contains(&fp1), "{added:#}");
    assert_eq!(check(&added, "token")["detail"], "accepted, scope read");
    let summary = &added["summary"];
    assert_eq!(summary["host"]["hostname"], "pve-demo", "{summary:#}");
    assert_eq!(summary["api"], 1);
    assert!(
        summary["vitals"].is_null() || summary["vitals"]["mem_total"].as_u64().unwrap() > 0,
        "{summary:#}"
    );
    assert!(summary["guests"]["total"].as_u64().unwrap() > 0);
    assert_eq!(summary["health"]["categories"].as_array().unwrap().len(), 10);

    // The peer dies: its last summary stays, then it is stale and a Network finding names it.
    peer.kill();
    let stale = until(&watcher, id, "stale", |p| p["status"] == "stale");
    assert_eq!(stale["summary"]["host"]["hostname"], "pve-demo", "the last good data is kept");
    assert!(stale["error"].as_str().unwrap().contains("connect"), "{stale:#}");
    // The health cycle's fast rules read it on their next vitals sample.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = watcher.api("GET", "/api/health", None).to_string();
        if text.contains(&format!("fleet_peer:{id}")) && text.contains("fleet peer pve2 is unreachable") {
            break;
        }
        assert!(Instant::now() < deadline, "no Network finding for the stale peer: {text}");
        std::thread::sleep(Duration::from_millis(250));
    }

    // It comes back (same certificate): polled again, ok.
    let peer_again = DemoProcess::start_with(&peer_dir, port, &tls_env(c1, k1));
    let back = until(&watcher, id, "back", |p| p["status"] == "ok");
    assert!(back["error"].is_null(), "{back:#}");
    drop(peer_again);

    // It comes back with another certificate: refused and blocked until the admin accepts it.
    let peer_new_cert = DemoProcess::start_with(&peer_dir, port, &tls_env(c2, k2));
    let blocked = until(&watcher, id, "blocked", |p| p["status"] == "blocked");
    assert_eq!(blocked["seen_fingerprint"], fp2.as_str(), "{blocked:#}");
    assert!(blocked["blocked"].as_str().unwrap().contains("certificate"), "{blocked:#}");
    let retest = watcher.api("POST", &format!("/api/fleet/peers/{id}/check"), None);
    assert_eq!(retest["status"], "blocked", "a re-test does not accept a changed certificate: {retest:#}");
    assert_eq!(check(&retest, "tls")["status"], "fail");
    let accepted =
        watcher.api("PATCH", &format!("/api/fleet/peers/{id}"), Some(json!({ "fingerprint": fp2 })));
    assert_eq!(accepted["status"], "ok", "{accepted:#}");
    assert_eq!(accepted["fingerprint"], fp2.as_str());

    // The token is revoked on the peer: the next poll stops, the check says why.
    let tokens = peer_new_cert.api("GET", "/api/auth/tokens", None);
    let tid = tokens["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "test-read")
        .map(|t| t["id"].as_str().unwrap().to_string())
        .unwrap();
    assert!(peer_new_cert.api("DELETE", &format!("/api/auth/tokens/{tid}"), None).is_null());
    let revoked = until(&watcher, id, "blocked by the token", |p| {
        p["status"] == "blocked" && p["blocked"].as_str().unwrap_or("").contains("token")
    });
    assert!(revoked["blocked"].as_str().unwrap().contains("401"), "{revoked:#}");
    let retest = watcher.api("POST", &format!("/api/fleet/peers/{id}/check"), None);
    assert_eq!(check(&retest, "token")["status"], "fail", "{retest:#}");
    assert_eq!(retest["status"], "blocked");

    // The demo's own peer (itself over loopback) is there too.
    let fleet = watcher.api("GET", "/api/fleet", None);
    assert!(fleet["peers"].as_array().unwrap().iter().any(|p| p["name"] == "demo-peer"), "{fleet:#}");
    assert_eq!(fleet["local"]["host"]["hostname"], "pve-demo");
}
