//! The notification engine end to end, in-process: channels through the API (sealed secrets,
//! masking, validation), routing with time passed in (cooldown, bursts, quiet hours, the digest),
//! the health outbox taken exactly once, and delivery against a local webhook peer that dies and
//! comes back (every message once, in order) or refuses for good (needs attention, then requeued).

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, Method, StatusCode};
use proxwatch::model::Clock;
use proxwatch::notify::engine::Step;
use proxwatch::notify::{Event, Severity};
use serde_json::{Value, json};

use crate::common::{self, TestApp};

/// A local webhook receiver: records each JSON body and answers with the status it is set to.
#[derive(Clone)]
struct Peer {
    url: String,
    status: Arc<AtomicU16>,
    got: Arc<Mutex<Vec<(HeaderMap, Value)>>>,
}

impl Peer {
    async fn start() -> Peer {
        let status = Arc::new(AtomicU16::new(200));
        let got: Arc<Mutex<Vec<(HeaderMap, Value)>>> = Arc::default();
        let (s, g) = (status.clone(), got.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
                let (s, g) = (s.clone(), g.clone());
                async move {
                    let code = s.load(Ordering::SeqCst);
                    if code == 200 {
                        g.lock()
                            .unwrap()
                            .push((headers, serde_json::from_slice(&body).unwrap_or(Value::Null)));
                    }
                    (StatusCode::from_u16(code).unwrap(), "{\"message\":\"peer says no\"}")
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Peer { url, status, got }
    }

    fn titles(&self) -> Vec<String> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|(_, b)| b["title"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    fn fingerprints(&self) -> Vec<String> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|(h, _)| h["x-proxwatch-event"].to_str().unwrap().to_string())
            .collect()
    }
}

const T0: i64 = 1_764_936_000_000; // 2025-12-05T12:00:00Z

async fn setup(clock: &Clock) -> TestApp {
    TestApp::builder().clock(clock.clone()).build().await
}

async fn add_webhook(t: &TestApp, peer: &Peer, routing: Value) -> i64 {
    let (code, body) = t
        .call(
            Method::POST,
            "/api/notifications/channels",
            Some(json!({
                "name": "hook",
                "config": {"kind": "webhook", "url": peer.url, "secret": "hmac-key-123"},
                "routing": routing,
            })),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    body["id"].as_i64().unwrap()
}

fn ev(kind: &str, n: i64, key: &str) -> Event {
    Event::new(kind, format!("test:{kind}:{n}"), format!("{kind}:{key}"), T0 + n)
        .field("reason", format!("reason {n}"))
        .field("object", key)
        .field("job", format!("job{n}"))
}

async fn drain(t: &TestApp, ch: i64) -> Vec<Step> {
    let mut steps = Vec::new();
    for _ in 0..100 {
        let s = t.notify.deliver(ch).await.unwrap();
        let done = matches!(s, Step::Idle | Step::Paused | Step::Wait(_));
        steps.push(s);
        if done {
            break;
        }
    }
    steps
}

async fn statuses(t: &TestApp, ch: i64) -> Vec<(String, String)> {
    let (_, h) = t.get(&format!("/api/notifications/history?channel={ch}&limit=500")).await;
    let mut rows: Vec<(String, String)> = h["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["kind"].as_str().unwrap().to_string(), r["status"].as_str().unwrap().to_string()))
        .collect();
    rows.reverse();
    rows
}

#[tokio::test]
async fn secrets_are_sealed_masked_and_kept() {
    let clock = Clock::manual(T0);
    let t = setup(&clock).await;
    let peer = Peer::start().await;
    let id = add_webhook(&t, &peer, json!({})).await;
    let (code, v) = t.get(&format!("/api/notifications/channels/{id}")).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(v["config"]["url"], "********");
    assert_eq!(v["config"]["secret"], "********");
    // Neither the URL nor the HMAC key is readable in the database.
    let (config, sealed): (String, Vec<u8>) =
        t.db.call_blocking(move |c| {
            Ok(c.query_row("SELECT config, secrets FROM notify_channels WHERE id = ?1", [id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?)
        })
        .unwrap();
    assert!(!config.contains("hmac-key-123") && !config.contains(&peer.url), "{config}");
    assert!(!String::from_utf8_lossy(&sealed).contains("hmac-key-123"));
    // Sending the mask back keeps the secret: the channel still reaches the peer.
    let (code, _) = t
        .call(
            Method::PUT,
            &format!("/api/notifications/channels/{id}"),
            Some(json!({"name": "renamed", "config": {"kind": "webhook", "url": "********", "secret": "********"}})),
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    let (code, r) = t.call(Method::POST, &format!("/api/notifications/channels/{id}/test"), None).await;
    assert_eq!(code, StatusCode::OK, "{r}");
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(peer.titles(), vec!["proxwatch test message"]);
    // Validation names the field.
    let (code, e) = t
        .call(
            Method::POST,
            "/api/notifications/channels",
            Some(json!({"name": "x", "config": {"kind": "pager"}})),
        )
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(e["message"].as_str().unwrap().contains("config.kind"), "{e}");
    let (code, e) = t
        .call(
            Method::POST,
            "/api/notifications/channels",
            Some(json!({"name": "x", "config": {"kind": "webhook", "url": peer.url}, "routing": {"events": {"nope": true}}})),
        )
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(e["message"].as_str().unwrap().contains("unknown event type `nope`"), "{e}");
}

#[tokio::test]
async fn a_dead_channel_that_comes_back_delivers_everything_once_in_order() {
    let clock = Clock::manual(T0);
    let t = setup(&clock).await;
    let peer = Peer::start().await;
    let ch = add_webhook(&t, &peer, json!({"rate_per_minute": 600})).await;
    peer.status.store(503, Ordering::SeqCst);
    let events: Vec<Event> = (0..5).map(|i| ev("backup.failed", i, &format!("job{i}"))).collect();
    assert_eq!(t.notify.take(events.clone()).await.unwrap(), 5);
    // The same events again (a restart re-reading a source): taken once.
    assert_eq!(t.notify.take(events).await.unwrap(), 0);
    // Down for an hour: the head retries with growing waits; nothing behind it jumps the queue.
    let mut retries = 0;
    for _ in 0..40 {
        match t.notify.deliver(ch).await.unwrap() {
            Step::Retry { at, error, .. } => {
                assert!(error.contains("503"), "{error}");
                retries += 1;
                clock.set(at);
            }
            Step::Wait(at) => clock.set(at),
            other => panic!("unexpected {other:?}"),
        }
        if clock.now_ms() > T0 + 3_600_000 {
            break;
        }
    }
    assert!(retries >= 5, "{retries}");
    assert!(peer.titles().is_empty());
    peer.status.store(200, Ordering::SeqCst);
    clock.advance(BACKOFF_MAX);
    drain(&t, ch).await;
    let fps = peer.fingerprints();
    assert_eq!(fps, (0..5).map(|i| format!("test:backup.failed:{i}")).collect::<Vec<_>>());
    let st = statuses(&t, ch).await;
    assert!(st.iter().all(|(_, s)| s == "sent"), "{st:?}");
}

const BACKOFF_MAX: i64 = proxwatch::notify::engine::BACKOFF_MAX_MS * 2;

#[tokio::test]
async fn a_permanent_error_pauses_the_channel_until_it_is_fixed() {
    let clock = Clock::manual(T0);
    let t = setup(&clock).await;
    let peer = Peer::start().await;
    let ch = add_webhook(&t, &peer, json!({})).await;
    peer.status.store(401, Ordering::SeqCst);
    t.notify.take(vec![ev("backup.failed", 1, "a"), ev("backup.failed", 2, "b")]).await.unwrap();
    let steps = drain(&t, ch).await;
    assert!(
        matches!(&steps[0], Step::Failed { error, .. } if error.contains("401") && error.contains("peer says no")),
        "{steps:?}"
    );
    assert_eq!(steps[1], Step::Paused);
    let (_, s) = t.get("/api/notifications/status").await;
    assert_eq!(s["attention"][0]["id"], ch, "{s}");
    // The admin fixes the channel: what failed goes out again, in order.
    peer.status.store(200, Ordering::SeqCst);
    let (code, _) = t
        .call(
            Method::PUT,
            &format!("/api/notifications/channels/{ch}"),
            Some(json!({"name": "hook", "config": {"kind": "webhook", "url": "********"}})),
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    drain(&t, ch).await;
    assert_eq!(peer.fingerprints(), vec!["test:backup.failed:1", "test:backup.failed:2"]);
    let (_, s) = t.get("/api/notifications/status").await;
    assert_eq!(s["attention"], json!([]));
}

#[tokio::test]
async fn cooldown_counts_repeats_and_bursts_become_one_summary() {
    let clock = Clock::manual(T0);
    let t = setup(&clock).await;
    let peer = Peer::start().await;
    let ch = add_webhook(&t, &peer, json!({"rate_per_minute": 600})).await;
    let (code, _) = t
        .call(
            Method::PUT,
            "/api/notifications/settings",
            Some(json!({"burst_threshold": 2, "burst_window_s": 60})),
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    // The same condition twice within the guests group's 5 min cooldown.
    t.notify.take(vec![ev("guest.oom", 1, "vm101")]).await.unwrap();
    clock.advance(1000);
    t.notify.take(vec![ev("guest.oom", 2, "vm101")]).await.unwrap();
    let st = statuses(&t, ch).await;
    assert_eq!(st[1], ("guest.oom".into(), "suppressed".into()));
    // A burst of backups: 2 go out, the other 4 become one summary when the window ends.
    clock.advance(1000);
    let burst: Vec<Event> = (10..16).map(|i| ev("backup.failed", i, &format!("j{i}"))).collect();
    t.notify.take(burst).await.unwrap();
    drain(&t, ch).await;
    assert_eq!(peer.titles().len(), 3, "{:?}", peer.titles());
    clock.advance(61_000);
    t.notify.maintain().await.unwrap();
    drain(&t, ch).await;
    let titles = peer.titles();
    assert_eq!(titles.len(), 4, "{titles:?}");
    assert_eq!(titles[3], "4 more backups events");
    let body = peer.got.lock().unwrap()[3].1.clone();
    assert!(body["message"].as_str().unwrap().contains("Backup FAILED: job15"), "{body}");
    let (_, h) = t.get(&format!("/api/notifications/history?channel={ch}&status=aggregated")).await;
    assert_eq!(h["rows"].as_array().unwrap().len(), 4);
    assert!(h["rows"][0]["aggregated_into"].is_i64());
}

#[tokio::test]
async fn quiet_hours_hold_and_the_digest_collects_info() {
    // 23:00 UTC.
    let clock = Clock::manual(T0 + 11 * 3_600_000);
    let t = setup(&clock).await;
    let peer = Peer::start().await;
    t.call(Method::PUT, "/api/notifications/settings", Some(json!({"timezone": "UTC"}))).await;
    let ch = add_webhook(
        &t,
        &peer,
        json!({"quiet": {"start": "22:00", "end": "07:00"}, "digest": "08:00", "rate_per_minute": 600}),
    )
    .await;
    t.notify.maintain().await.unwrap(); // starts the digest clock
    let mut warn = ev("health.new", 1, "disk");
    warn.severity = Severity::Warning;
    let mut warn2 = ev("health.new", 2, "pool");
    warn2.severity = Severity::Warning;
    let crit = ev("backup.failed", 3, "nightly");
    let info = ev("backup.ok", 4, "daily");
    t.notify.take(vec![warn, warn2, crit, info]).await.unwrap();
    drain(&t, ch).await;
    assert_eq!(peer.titles(), vec!["Backup FAILED: job3"], "critical passes quiet hours");
    // 07:00: the two held warnings go out as one summary.
    clock.set(T0 + 19 * 3_600_000 + 1000);
    t.notify.maintain().await.unwrap();
    drain(&t, ch).await;
    assert_eq!(peer.titles()[1], "2 events during quiet hours");
    // 08:00: the digest with the info event.
    clock.set(T0 + 20 * 3_600_000 + 1000);
    t.notify.maintain().await.unwrap();
    drain(&t, ch).await;
    let titles = peer.titles();
    assert_eq!(titles.len(), 3, "{titles:?}");
    assert_eq!(titles[2], "Daily digest: 1 events");
    let body = peer.got.lock().unwrap()[2].1.clone();
    assert!(body["message"].as_str().unwrap().contains("Backup OK: job4"), "{body}");
}

#[tokio::test]
async fn health_events_are_taken_once_and_marked_delivered() {
    let clock = Clock::manual(T0);
    let t = setup(&clock).await;
    let peer = Peer::start().await;
    let ch = add_webhook(&t, &peer, json!({})).await;
    t.db
        .call_blocking(|c| {
            c.execute(
                "INSERT INTO health_events (fingerprint, ts, kind, key, category, severity, reason, notify)
                 VALUES ('h1', 1, 'new', 'smart:/dev/sdb', 'disks', 'critical', 'SMART self-assessment failed', 1),
                        ('h2', 2, 'dismissed', 'smart:/dev/sdb', 'disks', 'critical', 'x', 0)",
                [],
            )?;
            Ok(())
        })
        .unwrap();
    assert_eq!(t.notify.take_health().await.unwrap(), 1);
    assert_eq!(t.notify.take_health().await.unwrap(), 0);
    let delivered: i64 =
        t.db.call_blocking(|c| {
            Ok(c.query_row("SELECT COUNT(*) FROM health_events WHERE delivered_at IS NOT NULL", [], |r| {
                r.get(0)
            })?)
        })
        .unwrap();
    assert_eq!(delivered, 1);
    drain(&t, ch).await;
    let got = peer.got.lock().unwrap();
    assert_eq!(got[0].1["title"], "Critical: SMART self-assessment failed");
    assert_eq!(got[0].1["severity"], "critical");
}

#[tokio::test]
async fn undeliverable_messages_expire_visibly() {
    let clock = Clock::manual(T0);
    let t = setup(&clock).await;
    let peer = Peer::start().await;
    let ch = add_webhook(&t, &peer, json!({})).await;
    peer.status.store(500, Ordering::SeqCst);
    t.notify.take(vec![ev("backup.failed", 1, "a")]).await.unwrap();
    assert!(matches!(t.notify.deliver(ch).await.unwrap(), Step::Retry { .. }));
    clock.advance(49 * 3_600_000);
    assert!(matches!(t.notify.deliver(ch).await.unwrap(), Step::Expired { .. }));
    let (_, h) = t.get(&format!("/api/notifications/history?channel={ch}")).await;
    assert_eq!(h["rows"][0]["status"], "expired");
    assert!(h["rows"][0]["reason"].as_str().unwrap().contains("undelivered after 48 h"));
}

#[tokio::test]
async fn viewers_read_history_but_not_channels() {
    let t = TestApp::builder().build().await;
    t.auth.create_user("viewer", "viewer-long-passphrase", proxwatch::auth::Level::Read).await.unwrap();
    let p = proxwatch::auth::Principal {
        user: "viewer".into(),
        level: proxwatch::auth::Level::Read,
        via: proxwatch::auth::Via::Token { id: "t".into() },
        ip: None,
    };
    let token = t.auth.create_token(&p, "v", proxwatch::auth::Level::Read, None).await.unwrap().1;
    assert_eq!(common::get(&t, &token, "/api/notifications/history").await.0, StatusCode::OK);
    assert_eq!(common::get(&t, &token, "/api/notifications/channels").await.0, StatusCode::FORBIDDEN);
    assert_eq!(common::get(&t, &token, "/api/notifications/status").await.0, StatusCode::OK);
    let (code, e) = common::get(&t, &token, "/api/notifications/history?status=bogus").await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{e}");
}

async fn pve_post(t: &TestApp, secret: &str, body: &str) -> (StatusCode, Value) {
    let req = axum::http::Request::post("/api/notifications/pve/webhook")
        .header("x-proxwatch-token", secret)
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    common::request(&t.app, req).await
}

#[tokio::test]
async fn the_pve_receiver_takes_what_pve_sends_and_refuses_the_rest() {
    let clock = Clock::manual(T0);
    let t = setup(&clock).await;
    let peer = Peer::start().await;
    let ch = add_webhook(&t, &peer, json!({})).await;
    // The setup text carries the URL, the target, the matcher, and the secret only when asked.
    let (code, s) = t.get("/api/notifications/pve").await;
    assert_eq!(code, StatusCode::OK);
    assert!(s["url"].as_str().unwrap().ends_with("/api/notifications/pve/webhook"), "{s}");
    assert!(s["setup"]["public_cfg"].as_str().unwrap().contains("webhook: proxwatch"));
    let secret = t.notify.pve_secret().await.unwrap();
    assert!(!s.to_string().contains(&secret));
    let (_, s) = t.get("/api/notifications/pve?reveal=1").await;
    let b64 = data_encoding::BASE64.encode(secret.as_bytes());
    assert!(s["setup"]["private_cfg"].as_str().unwrap().contains(&b64), "{s}");
    let ts = T0 / 1000;
    // PVE's Test button: no fields at all.
    let test = json!({"title": "Test notification", "message": "This is a test of the notification target 'proxwatch'.", "severity": "info", "timestamp": ts, "fields": {}}).to_string();
    let (code, r) = pve_post(&t, &secret, &test).await;
    assert_eq!(code, StatusCode::OK, "{r}");
    assert_eq!(r["kind"], "pve.test");
    // The same body again is a replay.
    let (code, r) = pve_post(&t, &secret, &test).await;
    assert_eq!(code, StatusCode::CONFLICT, "{r}");
    // A vzdump failure.
    let vz = json!({"title": "vzdump backup status (pve1.example.com): backup failed", "message": "101: error", "severity": "error", "timestamp": ts + 1, "fields": {"type": "vzdump", "hostname": "pve1", "job-id": "backup-9c1f"}}).to_string();
    assert_eq!(pve_post(&t, &secret, &vz).await.0, StatusCode::OK);
    // Refused: wrong secret (401), no secret, not the template (400 naming it), stale (409).
    assert_eq!(pve_post(&t, "nope", &vz).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(pve_post(&t, "", &vz).await.0, StatusCode::UNAUTHORIZED);
    let (code, e) = pve_post(&t, &secret, "").await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(e["message"].as_str().unwrap().contains("not JSON"), "{e}");
    let old = json!({"title": "t", "timestamp": ts - 3600}).to_string();
    assert_eq!(pve_post(&t, &secret, &old).await.0, StatusCode::CONFLICT);
    drain(&t, ch).await;
    let titles = peer.titles();
    assert_eq!(titles, vec!["Test notification", "vzdump backup status (pve1.example.com): backup failed"]);
    let got = peer.got.lock().unwrap();
    assert_eq!(got[1].1["severity"], "critical");
}

/// A local OpenAI-compatible provider: answers after `delay`, and records what it was sent.
async fn fake_ai(delay: std::time::Duration) -> (String, Arc<Mutex<Vec<String>>>) {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let s = seen.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move |body: String| {
            let s = s.clone();
            async move {
                s.lock().unwrap().push(body);
                tokio::time::sleep(delay).await;
                axum::Json(json!({
                    "choices": [{"message": {"content": "Disk HOST_1 is failing\nReplace it soon."}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 42, "completion_tokens": 7},
                }))
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (url, seen)
}

#[tokio::test]
async fn ai_rewrites_when_asked_and_the_template_goes_out_when_it_is_slow() {
    let clock = Clock::manual(T0);
    let t = setup(&clock).await;
    let peer = Peer::start().await;
    let ch = add_webhook(&t, &peer, json!({"ai": "rewrite"})).await;
    let (url, seen) = fake_ai(std::time::Duration::ZERO).await;
    let ai = json!({"enabled": true, "provider": {"kind": "openai", "base_url": url, "model": "gpt-4o-mini", "api_key": "sk-test-123"}, "timeout_s": 1});
    let (code, v) = t.call(Method::PUT, "/api/notifications/ai", Some(ai)).await;
    assert_eq!(code, StatusCode::OK, "{v}");
    assert_eq!(v["settings"]["provider"]["api_key"], "********");
    let mut e = ev("health.new", 1, "disk")
        .field("reason", "SMART failed on pve1.example.com serial WD-WCC4N1234567");
    e.severity = Severity::Critical;
    t.notify.take(vec![e]).await.unwrap();
    drain(&t, ch).await;
    // Redacted before the provider, restored after.
    let sent = seen.lock().unwrap().join("\n");
    assert!(!sent.contains("pve1.example.com") && !sent.contains("WD-WCC4N1234567"), "{sent}");
    let (_, h) = t.get(&format!("/api/notifications/history?channel={ch}")).await;
    let row = &h["rows"][0];
    assert_eq!(row["status"], "sent");
    assert_eq!(row["ai_tokens_in"], 42);
    assert!(row["title"].as_str().unwrap().contains("SMART failed"), "the template text is kept: {row}");
    assert_eq!(row["ai_title"], "Disk pve1.example.com is failing", "{row}");
    assert_eq!(peer.titles(), vec!["Disk pve1.example.com is failing"]);
    // A provider slower than the timeout: the template text goes out, and the history says why.
    let (slow, _) = fake_ai(std::time::Duration::from_secs(5)).await;
    let ai = json!({"enabled": true, "provider": {"kind": "openai", "base_url": slow, "model": "m"}, "timeout_s": 1});
    assert_eq!(t.call(Method::PUT, "/api/notifications/ai", Some(ai)).await.0, StatusCode::OK);
    t.notify.take(vec![ev("backup.failed", 2, "job")]).await.unwrap();
    let started = std::time::Instant::now();
    drain(&t, ch).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
    assert_eq!(peer.titles()[1], "Backup FAILED: job2");
    let (_, h) = t.get(&format!("/api/notifications/history?channel={ch}")).await;
    assert!(
        h["rows"][0]["ai_error"].as_str().unwrap().contains("did not answer within 1s"),
        "{}",
        h["rows"][0]
    );
}

/// The budget "an idle engine wakes no more than once a minute": the real loops, with tokio's clock
/// paused and auto-advanced over ten idle minutes with a channel configured.
#[tokio::test(start_paused = true)]
async fn an_idle_engine_wakes_at_most_once_a_minute() {
    use std::sync::atomic::Ordering::Relaxed;
    let t = TestApp::builder().build().await;
    let peer = Peer::start().await;
    add_webhook(&t, &peer, json!({})).await;
    t.spawn_notify();
    // Let it start (its first pass and the channel worker's first, empty, step).
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let (p0, d0) = (t.notify.passes.load(Relaxed), t.notify.deliveries.load(Relaxed));
    tokio::time::sleep(std::time::Duration::from_secs(600)).await;
    let (p, d) = (t.notify.passes.load(Relaxed) - p0, t.notify.deliveries.load(Relaxed) - d0);
    assert!(p <= 11, "{p} passes of the intake loop in 10 idle minutes");
    assert_eq!(d, 0, "the idle channel worker woke {d} times");
    t.cancel.cancel();
}

#[tokio::test]
async fn tests_calling_out_are_bounded_in_number() {
    let t = TestApp::builder().build().await;
    let peer = Peer::start().await;
    let ch = add_webhook(&t, &peer, json!({})).await;
    let held: Vec<_> =
        (0..proxwatch::notify::engine::PROBES).map(|_| t.notify.probe_slot().unwrap()).collect();
    let (code, e) = t.call(Method::POST, &format!("/api/notifications/channels/{ch}/test"), None).await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{e}");
    assert!(e["message"].as_str().unwrap().contains("other tests are still running"), "{e}");
    assert_eq!(
        t.call(Method::POST, "/api/notifications/ai/test", None).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    drop(held);
    let (code, r) = t.call(Method::POST, &format!("/api/notifications/channels/{ch}/test"), None).await;
    assert_eq!(code, StatusCode::OK, "{r}");
}
