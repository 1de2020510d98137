//! The real binary, killed with SIGKILL in the middle of a send and started again: the message in
//! flight is sent again and answered once (at least once, with the same `X-Proxwatch-Event`), nothing
//! queued is lost, the restart reports the unclean stop, and no secret reaches the log. Also the PVE
//! webhook receiver over real HTTP.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use proxwatch::auth::seal::Keys;
use proxwatch::db::Db;
use proxwatch::notify::store;
use serde_json::{Value, json};

use crate::common;

const BIN: &str = env!("CARGO_BIN_EXE_proxwatch");
const HOOK_SECRET_PATH: &str = "hook-path-token-6f1e";
const HMAC_KEY: &str = "hmac-key-9d2c-do-not-log";
const PVE_SECRET: &str = "pve-secret-4b7a-do-not-log";

/// What the peer saw: (fingerprint, answered 200?, title).
type Seen = Arc<Mutex<Vec<(String, bool, String)>>>;

/// A webhook peer that never answers its first request (the send the kill interrupts) and answers
/// 200 to every later one.
async fn peer() -> (String, Seen, tokio::sync::mpsc::Receiver<()>) {
    let seen: Seen = Arc::default();
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let s = seen.clone();
    let app = axum::Router::new().route(
        &format!("/{HOOK_SECRET_PATH}"),
        axum::routing::post(move |h: HeaderMap, body: axum::body::Bytes| {
            let (s, tx) = (s.clone(), tx.clone());
            async move {
                let fp = h.get("x-proxwatch-event").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                let title = serde_json::from_slice::<Value>(&body)
                    .ok()
                    .and_then(|v| v["title"].as_str().map(str::to_string))
                    .unwrap_or_default();
                let first = {
                    let mut s = s.lock().unwrap();
                    let first = s.is_empty();
                    s.push((fp, !first, title));
                    first
                };
                let _ = tx.send(()).await;
                if first {
                    std::future::pending::<()>().await;
                }
                StatusCode::NO_CONTENT
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/{HOOK_SECRET_PATH}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (url, seen, rx)
}

/// Starts `serve --replay pve-zfs` on `dir`; returns the child, its address, and a thread-fed log.
fn start(dir: &std::path::Path, log: Arc<Mutex<Vec<String>>>) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--replay"])
        .arg(common::scenario_dir("pve-zfs"))
        .args(["--bind", "127.0.0.1", "--port", "0", "--data-dir"])
        .arg(dir)
        .env("PROXWATCH_AUTH_AUTH_LOG", dir.join("auth.log"))
        .env("PROXWATCH_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("serve exited before listening").unwrap();
        log.lock().unwrap().push(line.clone());
        if let Some(rest) = line.split("addr=").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    std::thread::spawn(move || {
        for l in lines.map_while(Result::ok) {
            log.lock().unwrap().push(l);
        }
    });
    (child, addr)
}

fn pve_body(title: &str, ts: i64) -> String {
    json!({
        "title": title,
        "message": "Details\n\nVMID  Name  Status\n100   web   ok\n",
        "severity": "error",
        "timestamp": ts,
        "fields": {"type": "vzdump", "hostname": "pve1", "job-id": "backup-nightly"},
    })
    .to_string()
}

async fn post_pve(addr: &str, secret: &str, body: String) -> (u16, String) {
    let client = proxwatch::httpc::Client::new("test/1", std::time::Duration::from_secs(30));
    let r = client
        .post(format!("http://{addr}/api/notifications/pve/webhook"))
        .header("x-proxwatch-token", secret)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text())
}

async fn wait_for(rx: &mut tokio::sync::mpsc::Receiver<()>, what: &str) {
    tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .unwrap_or_else(|_| panic!("no {what} within 30 s"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_a_send_loses_nothing_and_sends_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let (url, seen, mut rx) = peer().await;
    // The channel and the PVE secret, written the way the API writes them.
    {
        std::fs::create_dir_all(dir.path()).unwrap();
        let db = Db::open(&dir.path().join("proxwatch.db")).unwrap();
        let keys = Keys::load_or_create(&dir.path().join("secret.key")).unwrap();
        let input: store::ChannelInput = serde_json::from_value(json!({
            "name": "peer",
            "config": {"kind": "webhook", "url": url, "secret": HMAC_KEY},
            // Only what this test sends: the PVE notification and the lifecycle events.
            "routing": {"groups": {"health": false, "guests": false, "hardware": false, "storage": false,
                                   "security": false}},
        }))
        .unwrap();
        db.call_blocking(|c| {
            store::create_channel(c, &keys, &input, 0).unwrap();
            store::set_sealed(c, &keys, "pve_secret", Some(PVE_SECRET)).unwrap();
            Ok(())
        })
        .unwrap();
        db.close().unwrap();
    }
    let log = Arc::new(Mutex::new(Vec::new()));
    let (mut child, addr) = start(dir.path(), log.clone());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    // A wrong secret is refused before the body is read; the right one is taken once.
    assert_eq!(post_pve(&addr, "wrong", pve_body("x", now)).await.0, 401);
    let (code, text) =
        post_pve(&addr, PVE_SECRET, pve_body("vzdump backup status (pve1): backup failed", now)).await;
    assert_eq!(code, 200, "{text}");
    let (code, text) =
        post_pve(&addr, PVE_SECRET, pve_body("vzdump backup status (pve1): backup failed", now)).await;
    assert_eq!(code, 409, "a replay is refused: {text}");
    // The first send hangs at the peer: kill -9 now.
    wait_for(&mut rx, "first send").await;
    child.kill().unwrap();
    child.wait().unwrap();
    let in_flight = seen.lock().unwrap()[0].0.clone();
    assert!(!in_flight.is_empty());

    // A second notification arrives while proxwatch is down? It cannot: PVE's send fails. Start again.
    let (mut child, addr) = start(dir.path(), log.clone());
    let (code, _) = post_pve(&addr, PVE_SECRET, pve_body("Replication Job: '100-0' failed", now + 1)).await;
    assert_eq!(code, 200);
    // Bounded wait until the in-flight message, the unclean-stop report and the new one are answered.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        {
            let s = seen.lock().unwrap();
            let answered: Vec<&String> = s.iter().filter(|(_, ok, _)| *ok).map(|(_, _, t)| t).collect();
            let done = s.iter().any(|(fp, ok, _)| *ok && *fp == in_flight)
                && answered.iter().any(|t| t.contains("unclean stop"))
                && answered.iter().any(|t| t.contains("Replication Job"));
            if done {
                break;
            }
        }
        assert!(Instant::now() < deadline, "not delivered after the restart: {:?}", seen.lock().unwrap());
        wait_for(&mut rx, "a send after the restart").await;
    }
    let s = seen.lock().unwrap().clone();
    // Every fingerprint answered exactly once; the one in flight was sent twice (at least once).
    let mut answered: Vec<&String> = s.iter().filter(|(_, ok, _)| *ok).map(|(fp, _, _)| fp).collect();
    let n = answered.len();
    answered.sort();
    answered.dedup();
    assert_eq!(answered.len(), n, "a message was answered twice: {s:?}");
    assert_eq!(s.iter().filter(|(fp, _, _)| *fp == in_flight).count(), 2, "{s:?}");

    // The history tells the story, and no secret is in the log.
    let (code, _) = post_pve(&addr, PVE_SECRET, "x".repeat(3 * 1024 * 1024)).await;
    assert_eq!(code, 413);
    child.kill().unwrap();
    child.wait().unwrap();
    let log = log.lock().unwrap().join("\n");
    for secret in [HOOK_SECRET_PATH, HMAC_KEY, PVE_SECRET] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
    assert!(log.contains("PVE notification received"), "{log}");
}
