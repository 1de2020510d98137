//! The logs domain: the journal and task API over the demo scenario (its recorded journal is queried
//! in memory), and the real `journalctl --file` path over `.journal` files that
//! `systemd-journal-remote` makes at test time from the export-format fixtures (PEERS.md §2).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode, header};
use proxwatch::host::Host;
use proxwatch::model::Clock;
use proxwatch::tools::journal::{BootSel, Filter, Query};
use proxwatch::workers::journal::{Reader, Source};
use serde_json::Value;

use crate::common::{self, TestApp};

/// The demo app's clock (manual): its recorded journal is shifted so that the newest entry is then.
const NOW: i64 = common::T0_MS;

/// The demo app with its journal service running and the inventory (tasks) read once.
async fn demo_app() -> TestApp {
    TestApp::builder().demo().clock(Clock::manual(NOW)).inventory(common::T0_MS, 1).services().build().await
}

fn entries(body: &Value) -> &Vec<Value> {
    body["entries"].as_array().unwrap_or_else(|| panic!("no entries in {body}"))
}

fn now_ms() -> i64 {
    NOW
}

#[tokio::test]
async fn journal_pages_newest_first_by_cursor_over_the_demo() {
    let app = demo_app().await;
    let (status, body) = app.get("/api/logs").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "ok");
    let first = entries(&body);
    assert_eq!(first.len(), 100, "the default page");
    // The recording is shifted so that its newest entry is "now".
    let newest = first[0]["ts"].as_i64().unwrap();
    assert!((now_ms() - newest).abs() < 600_000, "newest entry at {newest}, now {}", now_ms());
    for key in ["cursor", "ts", "priority", "unit", "identifier", "pid", "hostname", "message", "boot"] {
        assert!(first[0].get(key).is_some(), "{key} in {}", first[0]);
    }

    // Every entry exactly once, newest first, over pages of 60.
    let mut seen = Vec::new();
    let mut uri = "/api/logs?limit=60".to_string();
    loop {
        let (status, body) = app.get(&uri).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.get("cursor_reset").is_none());
        seen.extend(
            entries(&body)
                .iter()
                .map(|e| (e["cursor"].as_str().unwrap().to_string(), e["ts"].as_i64().unwrap())),
        );
        match body["next_cursor"].as_str() {
            Some(c) => uri = format!("/api/logs?limit=60&cursor={}", urlencode(c)),
            None => break,
        }
    }
    assert!(seen.len() > 300, "a few hundred entries: {}", seen.len());
    assert!(seen.windows(2).all(|w| w[0].1 >= w[1].1), "newest first");
    assert_eq!(seen.iter().map(|s| &s.0).collect::<HashSet<_>>().len(), seen.len(), "no duplicates");
    let span_days = (seen[0].1 - seen[seen.len() - 1].1) / 86_400_000;
    assert!(span_days >= 2, "spans days: {span_days}");

    // A cursor that is not (or no longer) in the journal restarts from the newest, and says so.
    let (status, body) = app.get("/api/logs?limit=5&cursor=s%3Dgone%3Bi%3D1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["cursor_reset"], true);
    assert!(body["note"].as_str().unwrap().contains("newest"));
    assert_eq!(entries(&body)[0]["cursor"], first[0]["cursor"]);
}

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("x", s)]).unwrap()[2..].to_string()
}

#[tokio::test]
async fn journal_filters_and_bounds_over_the_demo() {
    let app = demo_app().await;
    // Priority: err and worse, which includes the failed backups, the ATA errors and the OOM kill.
    let (status, body) = app.get("/api/logs?priority=err&limit=500").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let errs = entries(&body);
    assert!(errs.iter().all(|e| e["priority"].as_u64().unwrap() <= 3));
    let text: Vec<&str> = errs.iter().map(|e| e["message"].as_str().unwrap()).collect();
    for want in
        ["No space left on device", "Killed process", "failed command: READ FPDMA QUEUED", "dumped core"]
    {
        assert!(text.iter().any(|m| m.contains(want)), "{want} among the errors");
    }
    // A multi-line message is kept whole.
    let core = text.iter().find(|m| m.contains("dumped core")).unwrap();
    assert!(core.lines().count() > 5, "{core}");

    // Unit (a bare name means .service), text, boot, time range.
    let (_, body) = app.get("/api/logs?unit=pvestatd&limit=500").await;
    let unit = entries(&body);
    assert!(unit.len() >= 5);
    assert!(unit.iter().all(|e| e["unit"] == "pvestatd.service" || e["unit"] == "init.scope"), "{body}");
    let (_, body) = app.get("/api/logs?q=KILLED%20process").await;
    assert_eq!(entries(&body).len(), 1, "case-insensitive literal text");
    let (_, body) = app.get("/api/logs/boots").await;
    let boots = body["boots"].as_array().unwrap();
    assert_eq!(boots.len(), 2, "{body}");
    let (_, body) = app.get("/api/logs?boot=-1").await;
    let prev = entries(&body);
    assert!(!prev.is_empty() && prev.iter().all(|e| e["boot"] == boots[1]["boot_id"]));
    let (_, body) = app.get("/api/logs?boot=-2").await;
    assert!(entries(&body).is_empty());
    let since = now_ms() - 6 * 3_600_000;
    let (_, body) = app.get(&format!("/api/logs?since={since}&limit=500")).await;
    let recent = entries(&body);
    assert!(!recent.is_empty() && recent.iter().all(|e| e["ts"].as_i64().unwrap() >= since));
    let until = now_ms() - 24 * 3_600_000;
    let (_, body) = app.get(&format!("/api/logs?since={}&until={until}", until - 3_600_000)).await;
    assert!(entries(&body).iter().all(|e| e["ts"].as_i64().unwrap() <= until));

    // Bounds and malformed filters: 400 naming the parameter.
    for (uri, param) in [
        ("/api/logs?limit=501", "limit"),
        ("/api/logs?limit=0", "limit"),
        ("/api/logs?limit=ten", "limit"),
        ("/api/logs?priority=loud", "priority"),
        ("/api/logs?priority=9", "priority"),
        ("/api/logs?boot=yesterday", "boot"),
        ("/api/logs?unit=--all", "unit"),
        ("/api/logs?since=last%20week", "since"),
        ("/api/logs?since=1000&until=10", "until"),
        ("/api/logs?since=1000", "since"),
        ("/api/logs?cursor=a%20b", "cursor"),
    ] {
        let (status, body) = app.get(uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert!(body["message"].as_str().unwrap().starts_with(param), "{uri}: {body}");
    }
    let (status, _) = app.get("/api/logs?since=2024-08-01T00:00:00Z&until=2024-08-02T00:00:00Z").await;
    assert_eq!(status, StatusCode::OK, "RFC 3339 times");
}

#[tokio::test]
async fn journal_is_unavailable_with_a_reason_on_a_host_without_one() {
    let app = TestApp::builder().services().build().await;
    let (status, body) = app.get("/api/logs").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "unavailable");
    assert!(body["reason"].as_str().unwrap().contains("no journal"), "{body}");
    let (status, body) = app.get("/api/logs/boots").await;
    assert_eq!((status, body["state"].as_str()), (StatusCode::OK, Some("unavailable")));
}

#[tokio::test]
async fn stream_is_an_event_stream_and_validates_its_filters() {
    let app = demo_app().await;
    let (status, body) = app.get("/api/logs/stream?priority=nope").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let resp =
        app.send(common::authed(&app.token, Method::GET, "/api/logs/stream?priority=warning", None)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "text/event-stream");
    assert_eq!(resp.headers()["x-accel-buffering"], "no");
    assert_eq!(app.journal.followers(), 1, "subscribed while the stream is open");
    drop(resp);
    assert_eq!(app.journal.followers(), 0, "and gone when the client leaves");
}

#[tokio::test]
async fn tasks_list_with_filters() {
    let app = demo_app().await;
    let (status, body) = app.get("/api/tasks").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let all = body["tasks"].as_array().unwrap();
    assert_eq!(all.len(), 15);
    let starts: Vec<u64> = all.iter().map(|t| t["start"].as_u64().unwrap()).collect();
    assert!(starts.windows(2).all(|w| w[0] >= w[1]), "newest first");
    for key in ["upid", "type", "vmid", "user", "status", "start", "end", "duration_s", "node"] {
        assert!(all[0].get(key).is_some(), "{key} in {}", all[0]);
    }
    let (_, body) = app.get("/api/tasks?status=failed").await;
    let failed = body["tasks"].as_array().unwrap();
    assert!(!failed.is_empty() && failed.iter().all(|t| t["outcome"] == "failed"));
    assert!(failed.iter().any(|t| t["type"] == "vzdump" && t["status"] == "job errors"), "{body}");
    let (_, body) = app.get("/api/tasks?vmid=104&type=vzdump").await;
    let t = &body["tasks"].as_array().unwrap()[0];
    assert_eq!((t["vmid"].as_u64(), t["duration_s"].as_u64()), (Some(104), Some(744)));
    let (_, body) = app.get("/api/tasks?user=root@pam&limit=2").await;
    assert_eq!(body["tasks"].as_array().unwrap().len(), 2);
    for (uri, param) in [
        ("/api/tasks?status=bogus", "status"),
        ("/api/tasks?vmid=abc", "vmid"),
        ("/api/tasks?vmid=5", "vmid"),
        ("/api/tasks?limit=1001", "limit"),
        ("/api/tasks?type=a%20b", "type"),
    ] {
        let (status, body) = app.get(uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert!(body["message"].as_str().unwrap().starts_with(param), "{uri}: {body}");
    }
}

// ---------------------------------------------------------------------------------------------------
// The real journalctl over real .journal files
// ---------------------------------------------------------------------------------------------------

const JOURNAL_REMOTE: &str = "/lib/systemd/systemd-journal-remote";
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/upstream/journalctl");

/// The export fixture plus one entry of our own with a multi-line MESSAGE (export's binary form).
fn export_with_multiline() -> Vec<u8> {
    let mut data = std::fs::read(Path::new(FIXTURES).join("generated_pve1_journal.export")).unwrap();
    while data.ends_with(b"\n") {
        data.pop();
    }
    data.extend_from_slice(b"\n\n");
    let msg = b"pvescheduler: job errors\n  VM 102: FAILED\n  CT 201: FAILED";
    data.extend_from_slice(
        b"__REALTIME_TIMESTAMP=1732250950000000\n__MONOTONIC_TIMESTAMP=350950000000\n\
_BOOT_ID=7c1e4a9b2f3d4e5f8a9b0c1d2e3f4a5b\n_HOSTNAME=pve1\nPRIORITY=3\nSYSLOG_IDENTIFIER=pvescheduler\n\
_SYSTEMD_UNIT=pvescheduler.service\n_PID=4242\nMESSAGE\n",
    );
    data.extend_from_slice(&(msg.len() as u64).to_le_bytes());
    data.extend_from_slice(msg);
    data.extend_from_slice(b"\n\n");
    data
}

/// Makes a `.journal` file with the real systemd-journal-remote, or says why it cannot.
fn make_journal(dir: &Path) -> Option<PathBuf> {
    if !Path::new(JOURNAL_REMOTE).exists() {
        if std::env::var("PROXWATCH_ALLOW_MISSING_PEERS").as_deref() == Ok("1") {
            eprintln!("SKIPPED: {JOURNAL_REMOTE} is not installed (apt-get install systemd-journal-remote)");
            return None;
        }
        panic!(
            "{JOURNAL_REMOTE} is missing: apt-get install systemd-journal-remote (scripts/test does), or set PROXWATCH_ALLOW_MISSING_PEERS=1"
        );
    }
    let export = dir.join("input.export");
    std::fs::write(&export, export_with_multiline()).unwrap();
    let out = dir.join("pve1.journal");
    #[allow(clippy::disallowed_methods)] // test setup, not the product: making the peer's input file
    let status = std::process::Command::new(JOURNAL_REMOTE)
        .arg(format!("--output={}", out.display()))
        .arg(&export)
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    Some(out)
}

#[tokio::test]
async fn real_journalctl_over_journal_files_from_the_fixtures() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(file) = make_journal(tmp.path()) else { return };
    let reader = Reader {
        host: Arc::new(Host::system(Duration::from_secs(10))),
        source: Source::Journalctl { files: vec![file.display().to_string()] },
        timeout: Duration::from_secs(10),
    };
    let q = |filter: Filter, cursor: Option<String>, limit: usize| Query { filter, cursor, limit };

    // Paging newest first by cursor: every entry once, no gaps, in the same order as one big page.
    let all = reader.query(&q(Filter::default(), None, 100)).await.unwrap();
    assert_eq!(all.entries.len(), 33, "32 fixture entries and ours");
    assert_eq!(all.next_cursor, None, "a short page is the end");
    assert!(all.entries.windows(2).all(|w| w[0].ts_us >= w[1].ts_us), "newest first");
    let mut paged = Vec::new();
    let mut cursor = None;
    for _ in 0..20 {
        let page = reader.query(&q(Filter::default(), cursor.clone(), 7)).await.unwrap();
        assert!(!page.cursor_reset);
        paged.extend(page.entries.iter().map(|e| e.cursor.clone()));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(paged, all.entries.iter().map(|e| e.cursor.clone()).collect::<Vec<_>>());

    // Multi-line and non-UTF-8 fields, through the real tool.
    let ours = &all.entries[0];
    assert_eq!(ours.message, "pvescheduler: job errors\n  VM 102: FAILED\n  CT 201: FAILED");
    assert_eq!((ours.pid, ours.unit.as_deref()), (Some(4242), Some("pvescheduler.service")));
    let bin = all.entries.iter().find(|e| e.message.contains("wait_for_agent_lock")).unwrap();
    assert!(bin.message.contains('\u{FFFD}'), "{:?}", bin.message);

    // Filters: priority (same as the recorded -p warning output), unit, text, boot.
    let warn = reader.query(&q(Filter { priority: Some(4), ..Default::default() }, None, 100)).await.unwrap();
    let recorded = std::fs::read_to_string(
        Path::new(FIXTURES).join("generated_pve1_journalctl-252_-o_json_-p_warning.jsonl"),
    )
    .unwrap();
    assert_eq!(warn.entries.len(), recorded.lines().count() + 1, "the fixture's warnings and our error");
    assert!(warn.entries.iter().all(|e| e.priority.unwrap() <= 4));
    let unit = Filter { unit: Some("smartd.service".into()), ..Default::default() };
    let smartd = reader.query(&q(unit, None, 100)).await.unwrap();
    assert_eq!(smartd.entries.len(), 3);
    let text = Filter { text: Some("killed PROCESS 231877 (java)".into()), ..Default::default() };
    let oom = reader.query(&q(text, None, 100)).await.unwrap();
    assert_eq!(oom.entries.len(), 1, "case-insensitive literal, regex characters escaped");
    let prev = Filter { boot: Some(BootSel::Offset(-1)), ..Default::default() };
    assert_eq!(reader.query(&q(prev, None, 100)).await.unwrap().entries.len(), 2);
    let boots = reader.boots().await.unwrap();
    assert_eq!((boots.len(), boots[0].index), (2, 0));
    let none = Filter { boot: Some(BootSel::Offset(-5)), ..Default::default() };
    assert!(reader.query(&q(none, None, 100)).await.unwrap().entries.is_empty());

    // Invalid cursors restart from the newest entry and say so: malformed, and well-formed but gone.
    for bad in
        ["garbage", "s=00000000000000000000000000000000;i=99;b=7c1e4a9b2f3d4e5f8a9b0c1d2e3f4a5b;m=1;t=1;x=1"]
    {
        let page = reader.query(&q(Filter::default(), Some(bad.into()), 3)).await.unwrap();
        assert!(page.cursor_reset, "{bad}");
        assert_eq!(page.entries[0].cursor, all.entries[0].cursor, "{bad}");
    }

    // The follower: without a cursor it finds the end; from an older cursor it gets what came after.
    let (batch, tip) = reader.follow_step(None, 10).await.unwrap();
    assert!(batch.entries.is_empty());
    assert_eq!(tip.as_deref(), Some(all.entries[0].cursor.as_str()));
    let older = all.entries[3].cursor.clone();
    let (batch, next) = reader.follow_step(Some(&older), 10).await.unwrap();
    let got: Vec<&str> = batch.entries.iter().map(|e| e.cursor.as_str()).collect();
    let want: Vec<&str> = all.entries[..3].iter().rev().map(|e| e.cursor.as_str()).collect();
    assert_eq!(got, want, "oldest first, after the cursor");
    assert_eq!(next, tip);
    let (batch, next) = reader.follow_step(Some("garbage"), 10).await.unwrap();
    assert!(batch.reset && next.is_none());
}
