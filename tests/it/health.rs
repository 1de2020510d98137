//! The health engine (issue 6): the cycle driven through `step_full` / `step_fast` with explicit time
//! and test-only rule lists, persistence and the events outbox, dismissals, exclusions, the startup
//! grace, the three-cycle unknown rule, panic isolation, retention, and the `/api/health/*` routes.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use proxwatch::app::App;
use proxwatch::auth::{Level, Principal, Via};
use proxwatch::health::cycle::Engine;
use proxwatch::health::model::{
    Category, Finding, ObjectKind, Rule, Severity, Snapshots, Source, Thresholds,
};
use proxwatch::health::store::{self, EventKind, Exclusion, State};
use proxwatch::model::Clock;
use serde_json::json;

use crate::common::{self, TestApp};

const T0: i64 = common::T0_MS;
const MIN: i64 = 60_000;

fn phase(now: i64) -> i64 {
    (now - T0).div_euclid(MIN)
}

fn ok(check: &str, reason: &str) -> Finding {
    Finding::new(Category::Disks, format!("{check}:all"), Severity::Ok, reason)
}

/// warning, critical, warning, then clear.
fn lifecycle_rule(_: &Snapshots, _: &Thresholds, now: i64) -> Vec<Finding> {
    let sev = match phase(now) {
        0 | 2 => Severity::Warning,
        1 => Severity::Critical,
        _ => return vec![ok("smart", "all disks pass SMART")],
    };
    vec![Finding::new(Category::Disks, "smart:/dev/sdb", sev, format!("disk /dev/sdb: {}", sev.as_str()))]
}

/// Always a warning.
fn steady_rule(_: &Snapshots, _: &Thresholds, _: i64) -> Vec<Finding> {
    vec![Finding::new(
        Category::Disks,
        "disk_temp:/dev/sdb",
        Severity::Warning,
        "disk /dev/sdb at 58 °C (≥ 55 °C)",
    )]
}

/// A warning except during minutes 5..10.
fn gap_rule(_: &Snapshots, _: &Thresholds, now: i64) -> Vec<Finding> {
    if (5..10).contains(&phase(now)) {
        return vec![];
    }
    vec![Finding::new(Category::Disks, "disk_temp:/dev/sdc", Severity::Warning, "disk /dev/sdc at 57 °C")]
}

fn rule(id: &'static str, run: fn(&Snapshots, &Thresholds, i64) -> Vec<Finding>) -> Rule {
    Rule {
        id,
        category: Category::Disks,
        checks: &[("smart", "SMART"), ("disk_temp", "Disk temperature")],
        fast: false,
        run,
    }
}

async fn events(app: &App) -> Vec<store::Event> {
    let mut ev = app.db.call(|c| store::events(c, 1000, None)).await.unwrap();
    ev.reverse();
    ev
}

fn kinds(ev: &[store::Event]) -> Vec<&'static str> {
    ev.iter().map(|e| e.kind.as_str()).collect()
}

async fn record(app: &App, key: &str) -> store::Record {
    let k = key.to_string();
    app.db.call(move |c| store::get(c, &k)).await.unwrap().unwrap_or_else(|| panic!("no record {key}"))
}

#[tokio::test]
async fn lifecycle_new_escalated_deescalated_resolved_once_with_duration() {
    let app = common::app().await;
    let mut e = Engine::new(&[rule("life", lifecycle_rule)], T0, 0);
    for m in 0..6 {
        e.step_full(&app.health_io(), T0 + m * MIN).await.unwrap();
    }
    let ev = events(&app).await;
    assert_eq!(kinds(&ev), ["new", "escalated", "deescalated", "resolved"]);
    assert_eq!(ev[1].previous_severity, Some(Severity::Warning));
    assert_eq!(ev[1].severity, Severity::Critical);
    assert_eq!(ev[3].duration_s, Some(180), "resolved once, with how long it lasted");
    assert!(ev.iter().all(|e| e.notify && e.key == "smart:/dev/sdb"));
    let fps: std::collections::HashSet<_> = ev.iter().map(|e| e.fingerprint.clone()).collect();
    assert_eq!(fps.len(), 4, "fingerprints are unique");
    let r = record(&app, "smart:/dev/sdb").await;
    assert_eq!(r.state, State::Resolved);
    assert_eq!((r.first_seen, r.last_seen, r.occurrences), (T0, T0 + 2 * MIN, 3));
    assert_eq!(r.resolved_at, Some(T0 + 3 * MIN));
    // The published snapshot lists the check as ok, with the rule's own reason.
    let snap = app.health.borrow().clone();
    assert!(snap.records.is_empty());
    assert_eq!(snap.results["smart"][0].reason, "all disks pass SMART");
}

#[tokio::test]
async fn events_reach_the_in_process_channel_and_the_outbox_claims_and_acks() {
    let app = common::app().await;
    let mut rx = app.health_bus.events.subscribe();
    let mut e = Engine::new(&[rule("steady", steady_rule)], T0, 0);
    e.step_full(&app.health_io(), T0).await.unwrap();
    let got = rx.try_recv().unwrap();
    assert_eq!((got.kind, got.key.as_str()), (EventKind::New, "disk_temp:/dev/sdb"));
    let claimed = app.db.call(|c| store::claim(c, "n1", T0, 60_000, 10)).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].fingerprint, got.fingerprint);
    // Another consumer sees nothing while the claim holds, and the claim after its lease.
    assert!(app.db.call(|c| store::claim(c, "n2", T0 + 1000, 60_000, 10)).await.unwrap().is_empty());
    let again = app.db.call(|c| store::claim(c, "n2", T0 + 61_000, 60_000, 10)).await.unwrap();
    assert_eq!(again.len(), 1, "an expired claim is taken over");
    let fp = got.fingerprint.clone();
    assert!(!app.db.call(move |c| store::ack(c, &fp, "n1", T0 + 62_000)).await.unwrap(), "n1 lost its claim");
    let fp = got.fingerprint.clone();
    assert!(app.db.call(move |c| store::ack(c, &fp, "n2", T0 + 62_000)).await.unwrap());
    assert!(
        app.db.call(|c| store::claim(c, "n3", T0 + 999_999, 1, 10)).await.unwrap().is_empty(),
        "delivered"
    );
}

#[tokio::test]
async fn dismissed_condition_comes_back_once_as_new_when_the_window_ends() {
    let app = common::app().await;
    let key = "disk_temp:/dev/sdb";
    let mut e = Engine::new(&[rule("steady", steady_rule)], T0, 0);
    e.step_full(&app.health_io(), T0).await.unwrap();
    let (rec, ev) = app
        .db
        .call(move |c| store::dismiss(c, key, Some(T0 + 60 * MIN), T0 + MIN, "alice"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (rec.state, ev.kind, ev.actor.as_deref(), ev.notify),
        (State::Dismissed, EventKind::Dismissed, Some("alice"), false)
    );
    e.step_full(&app.health_io(), T0 + 30 * MIN).await.unwrap();
    assert_eq!(record(&app, key).await.state, State::Dismissed);
    assert_eq!(kinds(&events(&app).await), ["new", "dismissed"], "quiet while dismissed");
    e.step_full(&app.health_io(), T0 + 61 * MIN).await.unwrap();
    e.step_full(&app.health_io(), T0 + 66 * MIN).await.unwrap();
    let ev = events(&app).await;
    assert_eq!(kinds(&ev), ["new", "dismissed", "expired", "new"], "back once, as new");
    assert!(!ev[2].notify && ev[3].notify);
    let r = record(&app, key).await;
    assert_eq!((r.state, r.dismissed, r.first_seen, r.occurrences), (State::Active, false, T0 + 61 * MIN, 2));
}

#[tokio::test]
async fn permanent_dismissal_outlives_resolution_and_undismiss_reactivates() {
    let app = common::app().await;
    let key = "disk_temp:/dev/sdc";
    let mut e = Engine::new(&[rule("gap", gap_rule)], T0, 0);
    e.step_full(&app.health_io(), T0).await.unwrap();
    app.db.call(move |c| store::dismiss(c, key, None, T0 + MIN, "alice")).await.unwrap().unwrap();
    e.step_full(&app.health_io(), T0 + 5 * MIN).await.unwrap(); // clears: resolved quietly
    e.step_full(&app.health_io(), T0 + 10 * MIN).await.unwrap(); // back: still dismissed, quietly
    let ev = events(&app).await;
    assert_eq!(kinds(&ev), ["new", "dismissed", "resolved", "new"]);
    assert!(ev[1..].iter().all(|e| !e.notify), "nothing notified while dismissed: {ev:?}");
    let mut later = Engine::new(&[rule("gap", gap_rule)], T0, 0);
    later.step_full(&app.health_io(), T0 + 400 * 24 * 60 * MIN).await.unwrap(); // a year later: still dismissed
    let r = record(&app, key).await;
    assert_eq!((r.state, r.dismissed, r.dismissed_until), (State::Dismissed, true, None));
    let (r, ev) =
        app.db.call(move |c| store::undismiss(c, key, T0 + 11 * MIN, "bob")).await.unwrap().unwrap();
    assert_eq!((r.state, ev.map(|e| e.kind)), (State::Active, Some(EventKind::Undismissed)));
    e.step_full(&app.health_io(), T0 + 12 * MIN).await.unwrap();
    assert_eq!(kinds(&events(&app).await).last(), Some(&"undismissed"), "no new event after undismiss");
    assert_eq!(record(&app, key).await.state, State::Active);
}

fn objects_rule(_: &Snapshots, _: &Thresholds, _: i64) -> Vec<Finding> {
    ["sda", "sdb", "sdc"]
        .into_iter()
        .map(|d| {
            Finding::new(
                Category::Disks,
                format!("smart:/dev/{d}"),
                Severity::Warning,
                format!("/dev/{d} pending sectors"),
            )
            .object(ObjectKind::Disk, d)
        })
        .collect()
}

#[tokio::test]
async fn exclusions_health_versus_notifications() {
    let app = common::app().await;
    let set = |items: Vec<Exclusion>| {
        let app = app.clone();
        async move { app.db.call(move |c| store::set_exclusions(c, &items)).await.unwrap() }
    };
    set(vec![
        Exclusion { kind: ObjectKind::Disk, id: "sda".into(), health: true, notifications: true },
        Exclusion { kind: ObjectKind::Disk, id: "sdb".into(), health: false, notifications: true },
    ])
    .await;
    let mut e = Engine::new(&[rule("objects", objects_rule)], T0, 0);
    e.step_full(&app.health_io(), T0).await.unwrap();
    let ev = events(&app).await;
    let by_key = |k: &str| ev.iter().find(|e| e.key == k).cloned();
    assert!(by_key("smart:/dev/sda").is_none(), "excluded from health: not active, no event");
    assert!(!by_key("smart:/dev/sdb").unwrap().notify, "excluded from notifications: active, not notified");
    assert!(by_key("smart:/dev/sdc").unwrap().notify);
    let snap = app.health.borrow().clone();
    assert!(!snap.records.contains_key("smart:/dev/sda"));
    assert_eq!(snap.records["smart:/dev/sdb"].state, State::Active);
    assert!(snap.results["smart"].iter().all(|f| f.key != "smart:/dev/sda"));
    // Lifting the health exclusion brings the finding in at the next cycle.
    set(vec![]).await;
    e.step_full(&app.health_io(), T0 + MIN).await.unwrap();
    assert_eq!(record(&app, "smart:/dev/sda").await.state, State::Active);
    // Excluding an active one resolves it without a notification.
    set(vec![Exclusion { kind: ObjectKind::Disk, id: "sdc".into(), health: true, notifications: false }])
        .await;
    e.step_full(&app.health_io(), T0 + 2 * MIN).await.unwrap();
    let last = events(&app).await.pop().unwrap();
    assert_eq!((last.kind, last.key.as_str(), last.notify), (EventKind::Resolved, "smart:/dev/sdc", false));
}

fn grace_rule(s: &Snapshots, _: &Thresholds, now: i64) -> Vec<Finding> {
    if s.in_startup_grace(now) {
        return vec![];
    }
    vec![Finding::new(Category::Services, "service:pveproxy", Severity::Critical, "pveproxy is not running")]
}

#[tokio::test]
async fn startup_grace_reaches_the_rules() {
    let app = common::app().await;
    let r = Rule {
        id: "svc",
        category: Category::Services,
        checks: &[("service", "Services")],
        fast: false,
        run: grace_rule,
    };
    let mut e = Engine::new(&[r], T0, 300);
    e.step_full(&app.health_io(), T0 + 60_000).await.unwrap();
    e.step_full(&app.health_io(), T0 + 299_000).await.unwrap();
    assert!(events(&app).await.is_empty(), "quiet during the grace");
    e.step_full(&app.health_io(), T0 + 300_000).await.unwrap();
    assert_eq!(kinds(&events(&app).await), ["new"]);
}

/// Warning for two minutes, then its source is unavailable.
fn flaky_source_rule(_: &Snapshots, _: &Thresholds, now: i64) -> Vec<Finding> {
    let sev = if phase(now) < 2 { Severity::Warning } else { Severity::Unknown };
    vec![Finding::new(Category::Disks, "smart:/dev/sdd", sev, "SMART of /dev/sdd")]
}

fn never_available_rule(_: &Snapshots, _: &Thresholds, _: i64) -> Vec<Finding> {
    vec![Finding::new(Category::Disks, "disk_temp:ipmi", Severity::Unknown, "IPMI is unavailable")]
}

#[tokio::test]
async fn unknown_only_after_three_consecutive_cycles() {
    let app = common::app().await;
    let mut e = Engine::new(&[rule("flaky", flaky_source_rule), rule("never", never_available_rule)], T0, 0);
    for m in 0..4 {
        e.step_full(&app.health_io(), T0 + m * MIN).await.unwrap();
    }
    // Minutes 2 and 3 were unknown: the previous verdict stands. The never-available source was
    // ok (nothing) for two cycles and unknown from the third (minute 2).
    let ev = events(&app).await;
    assert_eq!(kinds(&ev), ["new", "new"]);
    assert_eq!((ev[1].key.as_str(), ev[1].ts), ("disk_temp:ipmi", T0 + 2 * MIN));
    assert_eq!(record(&app, "smart:/dev/sdd").await.severity, Severity::Warning);
    e.step_full(&app.health_io(), T0 + 4 * MIN).await.unwrap();
    let r = record(&app, "smart:/dev/sdd").await;
    assert_eq!(r.severity, Severity::Unknown, "third unknown cycle: shown");
    assert_eq!(r.state, State::Active);
    assert!(events(&app).await.iter().all(|e| e.severity != Severity::Critical));
}

fn panicking_rule(_: &Snapshots, _: &Thresholds, _: i64) -> Vec<Finding> {
    panic!("index out of bounds in a test rule")
}

#[tokio::test]
async fn a_panicking_rule_is_isolated_and_reports_unknown_for_its_checks() {
    let app = common::app().await;
    let boom = Rule {
        id: "boom",
        category: Category::Logs,
        checks: &[("log_pattern", "Critical log patterns"), ("log_spike", "Log spikes")],
        fast: false,
        run: panicking_rule,
    };
    let mut e = Engine::new(&[boom, rule("steady", steady_rule)], T0, 0);
    e.step_full(&app.health_io(), T0).await.unwrap();
    e.step_full(&app.health_io(), T0 + MIN).await.unwrap();
    assert_eq!(
        record(&app, "disk_temp:/dev/sdb").await.state,
        State::Active,
        "the rest of the cycle completed"
    );
    for key in ["log_pattern:rule", "log_spike:rule"] {
        let r = record(&app, key).await;
        assert_eq!(r.severity, Severity::Unknown);
        assert!(r.reason.contains("index out of bounds"), "{}", r.reason);
    }
}

#[tokio::test]
async fn retention_by_age_and_by_count() {
    let app = common::app().await;
    let mut e = Engine::new(&[rule("gap", gap_rule), rule("life", lifecycle_rule)], T0, 0);
    for m in 0..6 {
        e.step_full(&app.health_io(), T0 + m * MIN).await.unwrap();
    }
    // smart:/dev/sdb resolved at minute 3, disk_temp:/dev/sdc at minute 5.
    let count = |sql: &'static str| {
        let app = app.clone();
        async move { app.db.call(move |c| Ok(c.query_row(sql, [], |r| r.get::<_, i64>(0))?)).await.unwrap() }
    };
    let resolved = "SELECT count(*) FROM health_findings WHERE state = 'resolved'";
    let events_n = "SELECT count(*) FROM health_events";
    assert_eq!(count(resolved).await, 2);
    let n0 = count(events_n).await;
    assert_eq!(n0, 6);
    // By count: one resolved finding and three events are kept, the newest.
    app.db.call(|c| store::retention_with(c, T0 + 6 * MIN, i64::MAX / 4, 1, i64::MAX / 4, 3)).await.unwrap();
    assert_eq!(count(resolved).await, 1);
    assert_eq!(record(&app, "disk_temp:/dev/sdc").await.state, State::Resolved, "the newest kept");
    assert_eq!(count(events_n).await, 3);
    // By age: 30 days for resolved findings, 90 for events.
    app.db.call(|c| store::retention(c, T0 + 31 * 86_400_000)).await.unwrap();
    assert_eq!(count(resolved).await, 0);
    assert_eq!(count(events_n).await, 3);
    app.db.call(|c| store::retention(c, T0 + 91 * 86_400_000)).await.unwrap();
    assert_eq!(count(events_n).await, 0);
}

#[tokio::test]
async fn retention_keeps_a_resolved_finding_whose_dismissal_is_in_effect() {
    let app = common::app().await;
    let mut e = Engine::new(&[rule("gap", gap_rule)], T0, 0);
    e.step_full(&app.health_io(), T0).await.unwrap();
    app.db.call(|c| store::dismiss(c, "disk_temp:/dev/sdc", None, T0, "alice")).await.unwrap();
    e.step_full(&app.health_io(), T0 + 5 * MIN).await.unwrap();
    app.db.call(|c| store::retention(c, T0 + 40 * 86_400_000)).await.unwrap();
    assert!(record(&app, "disk_temp:/dev/sdc").await.dismissed);
}

/// Fast rules run on every sample; the database is written only when their verdict changes.
fn fast_rule(s: &Snapshots, _: &Thresholds, _: i64) -> Vec<Finding> {
    let n = s.recent.len();
    let sev = if n >= 3 { Severity::Warning } else { Severity::Ok };
    vec![Finding::new(Category::Cpu, "cpu_usage:host", sev, format!("{n} samples"))]
}

#[tokio::test]
async fn fast_rules_run_on_samples_and_write_only_changes() {
    let app = common::app().await;
    let r = Rule {
        id: "cpu",
        category: Category::Cpu,
        checks: &[("cpu_usage", "CPU usage")],
        fast: true,
        run: fast_rule,
    };
    let mut e = Engine::new(&[r, rule("steady", steady_rule)], T0, 0);
    e.step_full(&app.health_io(), T0).await.unwrap();
    let base = common::sample_pair();
    for k in 0..5 {
        let mut s = base.clone();
        s.ts = T0 + 1000 * (k + 1);
        e.observe(Arc::new(proxwatch::app::LiveSample::new(s).unwrap()));
        e.step_fast(&app.health_io(), T0 + 1000 * (k + 1)).await.unwrap();
    }
    assert_eq!(e.ring_len(), 5);
    let ev = events(&app).await;
    assert_eq!(kinds(&ev), ["new", "new"], "{ev:?}");
    assert_eq!(ev[1].key, "cpu_usage:host");
    let r = record(&app, "cpu_usage:host").await;
    assert_eq!((r.occurrences, r.last_seen), (1, T0 + 3000), "fast steps do not count occurrences");
    // The slow rule's finding is untouched by fast steps.
    assert_eq!(record(&app, "disk_temp:/dev/sdb").await.state, State::Active);
    // Steps 4 and 5 changed only the numbers in the reason: not republished within 5 s of the last.
    assert_eq!(app.health.borrow().results["cpu_usage"][0].reason, "3 samples");
    let mut s = base.clone();
    s.ts = T0 + 8000;
    e.observe(Arc::new(proxwatch::app::LiveSample::new(s).unwrap()));
    e.step_fast(&app.health_io(), T0 + 8000).await.unwrap();
    assert_eq!(app.health.borrow().results["cpu_usage"][0].reason, "6 samples", "republished after 5 s");
}

#[tokio::test]
async fn ring_keeps_a_true_five_minute_window() {
    let mut e = Engine::new(&[], T0, 0);
    let base = common::sample_pair();
    for k in 0..400 {
        let mut s = base.clone();
        s.ts = T0 + 1000 * k;
        e.observe(Arc::new(proxwatch::app::LiveSample::new(s).unwrap()));
    }
    assert_eq!(e.ring_len(), 331, "330 s back from the newest, inclusive");
}

// ---- API ----

async fn token(app: &Arc<App>, level: Level) -> String {
    // Makes sure the admin exists; the token is the admin's, scoped down to `level`.
    common::admin_token(app).await;
    let p = Principal {
        user: common::ADMIN.into(),
        level: Level::Admin,
        via: Via::Token { id: "t".into() },
        ip: None,
    };
    app.auth.create_token(&p, "t", level, None).await.unwrap().1
}

#[tokio::test]
async fn run_is_for_operators_and_rate_limited() {
    let app = common::app().await;
    let read = token(&app, Level::Read).await;
    let op = token(&app, Level::Operate).await;
    assert_eq!(
        common::call(&app, &read, Method::POST, "/api/health/run", Some(json!({}))).await.0,
        StatusCode::FORBIDDEN
    );
    let resp = common::send(&app, Request::post("/api/health/run").body(Body::empty()).unwrap()).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let (s, b) = common::call(&app, &op, Method::POST, "/api/health/run", Some(json!({}))).await;
    assert_eq!((s, b["queued"].as_bool()), (StatusCode::ACCEPTED, Some(true)));
    let run = common::authed(&op, Method::POST, "/api/health/run", Some(json!({})));
    let (s, headers, b) = common::read(common::send(&app, run).await).await;
    let retry = headers.get(header::RETRY_AFTER).map(|v| v.to_str().unwrap().to_string());
    let b = common::json(&b);
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{b}");
    assert!(retry.unwrap().parse::<u64>().unwrap() <= 10);
    // The request reached the cycle: a notification is pending for its loop.
    tokio::time::timeout(Duration::from_secs(5), app.health_bus.run_now.notified()).await.unwrap();
}

#[tokio::test]
async fn dismiss_and_undismiss_through_a_percent_encoded_key() {
    let now = T0;
    let app = TestApp::builder().sampled().clock(Clock::manual(now)).build().await;
    let op = token(&app, Level::Operate).await;
    let read = token(&app, Level::Read).await;
    // Schedule-free rule: a steady warning on `smart:/dev/sdb`.
    fn sdb(_: &Snapshots, _: &Thresholds, _: i64) -> Vec<Finding> {
        vec![Finding::new(Category::Disks, "smart:/dev/sdb", Severity::Critical, "SMART failed on /dev/sdb")]
    }
    let mut e = Engine::new(&[rule("sdb", sdb)], now - 3_600_000, 0);
    e.step_full(&app.health_io(), now).await.unwrap();
    let path = "/api/health/findings/smart%3A%2Fdev%2Fsdb";
    let (s, _) =
        common::call(&app, &read, Method::POST, &format!("{path}/dismiss"), Some(json!({"duration": "24h"})))
            .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "read-only callers cannot dismiss");
    for bad in [json!({"duration": "forever"}), json!({"duration": 5}), json!({"duration": -1}), json!({})] {
        let (s, b) =
            common::call(&app, &op, Method::POST, &format!("{path}/dismiss"), Some(bad.clone())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {b}");
    }
    let (s, b) = common::call(
        &app,
        &op,
        Method::POST,
        "/api/health/findings/smart%3A%2Fdev%2Fsdz/dismiss",
        Some(json!({"duration": "7d"})),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
    let (s, b) =
        common::call(&app, &op, Method::POST, &format!("{path}/dismiss"), Some(json!({"duration": "24h"})))
            .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["key"], "smart:/dev/sdb");
    assert_eq!(b["state"], "dismissed");
    let until = b["dismissed_until"].as_i64().unwrap();
    assert!((until - now - 86_400_000).abs() < 60_000, "{until}");
    // Shown as a suppression at once, and the overview no longer counts it.
    let (_, b) = common::call(&app, &read, Method::GET, "/api/health/findings?state=dismissed", None).await;
    assert_eq!(b["findings"][0]["key"], "smart:/dev/sdb");
    let (_, h) = common::call(&app, &read, Method::GET, "/api/health", None).await;
    assert_eq!(h["status"], "ok", "{h}");
    assert_eq!(h["counts"]["dismissed"], 1);
    let (s, b) = common::call(&app, &op, Method::POST, &format!("{path}/undismiss"), Some(json!({}))).await;
    assert_eq!((s, b["state"].as_str()), (StatusCode::OK, Some("active")), "{b}");
    let (_, h) = common::call(&app, &read, Method::GET, "/api/health", None).await;
    assert_eq!(h["status"], "critical");
    let disks = h["categories"].as_array().unwrap().iter().find(|c| c["id"] == "disks").unwrap().clone();
    assert_eq!(disks["status"], "critical");
    let smart = disks["checks"].as_array().unwrap().iter().find(|c| c["id"] == "smart").unwrap().clone();
    assert_eq!(smart["finding_key"], "smart:/dev/sdb");
    assert_eq!(smart["reason"], "SMART failed on /dev/sdb");
    // Permanent and custom durations.
    let (_, b) = common::call(
        &app,
        &op,
        Method::POST,
        &format!("{path}/dismiss"),
        Some(json!({"duration": "permanent"})),
    )
    .await;
    assert_eq!((b["permanent"].as_bool(), b.get("dismissed_until")), (Some(true), None));
    let (_, b) =
        common::call(&app, &op, Method::POST, &format!("{path}/dismiss"), Some(json!({"duration": 7200})))
            .await;
    assert!((b["dismissed_until"].as_i64().unwrap() - now - 7_200_000).abs() < 60_000);
    // The timeline has it all, newest first, with who did it.
    let (_, b) = common::call(&app, &read, Method::GET, "/api/health/events?limit=10", None).await;
    let ev = b["events"].as_array().unwrap();
    assert_eq!(ev[0]["kind"], "dismissed");
    assert_eq!(ev[0]["actor"], common::ADMIN);
    assert_eq!(ev.last().unwrap()["kind"], "new");
    let (s, _) = common::call(&app, &read, Method::GET, "/api/health/events?limit=0", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

/// A rule that reports whether the first declared threshold has been changed from its default.
fn threshold_probe(_: &Snapshots, t: &Thresholds, _: i64) -> Vec<Finding> {
    let def = &proxwatch::health::thresholds::THRESHOLDS[0];
    let v = t.get(def.key);
    let sev = if v == def.default { Severity::Ok } else { Severity::Warning };
    vec![Finding::new(def.category, "probe:threshold", sev, format!("{} is {v}", def.key))]
}

#[tokio::test]
async fn thresholds_are_validated_and_honoured_by_the_next_evaluation() {
    let app = common::app().await;
    let admin = common::admin_token(&app).await;
    let op = token(&app, Level::Operate).await;
    let defs = proxwatch::health::thresholds::THRESHOLDS;
    assert!(!defs.is_empty(), "thresholds are declared");
    let def = defs[0];
    let (s, b) = common::call(&app, &op, Method::GET, "/api/health/thresholds", None).await;
    assert_eq!(s, StatusCode::OK);
    let list = b["thresholds"].as_array().unwrap();
    assert_eq!(list.len(), defs.len());
    assert_eq!(list[0]["key"], def.key);
    assert_eq!(
        (list[0]["value"].as_f64(), list[0]["default"].as_f64()),
        (Some(def.default), Some(def.default))
    );
    assert!(list[0]["min"].is_number() && list[0]["max"].is_number() && list[0]["unit"].is_string());
    assert_eq!(list[0]["category"], def.category.id());

    let (s, _) =
        common::call(&app, &op, Method::PUT, "/api/health/thresholds", Some(json!({def.key: def.max}))).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "operators cannot change thresholds");
    for (bad, why) in [
        (json!({def.key: def.max + 1.0}), "out of range"),
        (json!({def.key: def.min - 1.0}), "out of range"),
        (json!({def.key: "high"}), "wrong type"),
        (json!({def.key: true}), "wrong type"),
    ] {
        let (s, b) =
            common::call(&app, &admin, Method::PUT, "/api/health/thresholds", Some(bad.clone())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{why}: {bad}");
        let msg = b["message"].as_str().unwrap();
        assert!(
            msg.contains(def.key) && msg.contains(&format!("{} to {}", def.min, def.max)),
            "{why}: {msg}"
        );
    }
    let (s, b) =
        common::call(&app, &admin, Method::PUT, "/api/health/thresholds", Some(json!({"no.such_key": 1})))
            .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b["message"].as_str().unwrap().contains("no.such_key"));

    let probe = Rule {
        id: "probe",
        category: def.category,
        checks: &[("probe", "Probe")],
        fast: false,
        run: threshold_probe,
    };
    let mut e = Engine::new(&[probe], T0, 0);
    e.step_full(&app.health_io(), T0).await.unwrap();
    assert!(events(&app).await.is_empty());
    let new_value = if def.max > def.default { def.max } else { def.min };
    let (s, b) =
        common::call(&app, &admin, Method::PUT, "/api/health/thresholds", Some(json!({def.key: new_value})))
            .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let row = b["thresholds"].as_array().unwrap().iter().find(|t| t["key"] == def.key).unwrap().clone();
    assert_eq!(
        (row["value"].as_f64(), row["default"].as_f64(), row["overridden"].as_bool()),
        (Some(new_value), Some(def.default), Some(true))
    );
    e.step_full(&app.health_io(), T0 + MIN).await.unwrap();
    assert_eq!(kinds(&events(&app).await), ["new"], "the next evaluation used the new value");
    // null resets to the default.
    let (s, b) =
        common::call(&app, &admin, Method::PUT, "/api/health/thresholds", Some(json!({def.key: null}))).await;
    assert_eq!(s, StatusCode::OK);
    let row = b["thresholds"].as_array().unwrap().iter().find(|t| t["key"] == def.key).unwrap().clone();
    assert_eq!((row["value"].as_f64(), row["overridden"].as_bool()), (Some(def.default), Some(false)));
    e.step_full(&app.health_io(), T0 + 2 * MIN).await.unwrap();
    assert_eq!(kinds(&events(&app).await), ["new", "resolved"]);
}

#[tokio::test]
async fn exclusions_api_validates_and_replaces() {
    let app = common::app().await;
    let admin = common::admin_token(&app).await;
    let op = token(&app, Level::Operate).await;
    let one = json!({"kind": "disk", "id": "sda", "health": true, "notifications": false});
    let (s, _) =
        common::call(&app, &op, Method::PUT, "/api/health/exclusions", Some(json!({"exclusions": [one]})))
            .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    for bad in [
        json!({"exclusions": [one, one]}),
        json!({"exclusions": [{"kind": "disk", "id": "", "health": true, "notifications": true}]}),
        json!({"exclusions": [{"kind": "disk", "id": "sdb", "health": false, "notifications": false}]}),
        json!({"exclusions": [{"kind": "toaster", "id": "x", "health": true, "notifications": true}]}),
        json!({"exclusions": [{"kind": "disk", "id": "x", "health": "yes", "notifications": true}]}),
    ] {
        let (s, b) =
            common::call(&app, &admin, Method::PUT, "/api/health/exclusions", Some(bad.clone())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {b}");
    }
    let body =
        json!({"exclusions": [one, {"kind": "guest", "id": "104", "health": false, "notifications": true}]});
    let (s, b) = common::call(&app, &admin, Method::PUT, "/api/health/exclusions", Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, b) = common::call(&app, &op, Method::GET, "/api/health/exclusions", None).await;
    assert_eq!(b["exclusions"].as_array().unwrap().len(), 2);
    assert_eq!(app.health_bus.exclusions.borrow().items.len(), 2, "in force at once");
}

/// The API shapes over the demo scenario with the real rules.
#[tokio::test]
async fn api_shapes_over_the_demo_with_the_real_rules() {
    let app = TestApp::builder().demo().inventory(T0, 10).build().await;
    app.vitals.send_replace(Some(Arc::new(proxwatch::app::LiveSample::new(common::sample_pair()).unwrap())));
    let read = token(&app, Level::Read).await;
    let (s, b) = common::call(&app, &read, Method::GET, "/api/health", None).await;
    assert_eq!((s, b["status"].as_str()), (StatusCode::OK, Some("pending")), "before the first cycle: {b}");
    let mut e = Engine::new(proxwatch::health::rules::RULES, T0 - 3_600_000, 300);
    e.step_full(&app.health_io(), T0 + 20_000).await.unwrap();
    let (s, b) = common::call(&app, &read, Method::GET, "/api/health", None).await;
    assert_eq!(s, StatusCode::OK);
    let cats = b["categories"].as_array().unwrap();
    let ids: Vec<&str> = cats.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, Category::ALL.map(|c| c.id()));
    let statuses = ["ok", "info", "unknown", "warning", "critical"];
    assert!(statuses.contains(&b["status"].as_str().unwrap()), "{}", b["status"]);
    assert_eq!(b["evaluated_at"], T0 + 20_000);
    assert!(b["summary"].as_str().is_some_and(|s| !s.is_empty()));
    for c in cats {
        assert!(c["name"].is_string() && statuses.contains(&c["status"].as_str().unwrap()), "{c}");
        for ch in c["checks"].as_array().unwrap() {
            assert!(ch["id"].is_string() && ch["reason"].is_string(), "{ch}");
            assert!(statuses.contains(&ch["status"].as_str().unwrap()), "{ch}");
            if ch["status"] != "ok" {
                assert!(ch["finding_key"].is_string(), "{ch}");
            }
        }
    }
    let (s, b) = common::call(&app, &read, Method::GET, "/api/health/findings?state=active", None).await;
    assert_eq!(s, StatusCode::OK);
    for f in b["findings"].as_array().unwrap() {
        for field in [
            "key",
            "category",
            "severity",
            "reason",
            "details",
            "first_seen",
            "last_seen",
            "occurrences",
            "state",
        ] {
            assert!(f.get(field).is_some(), "{field} in {f}");
        }
        assert_eq!(f["state"], "active");
    }
    let (s, _) = common::call(&app, &read, Method::GET, "/api/health/findings?state=bogus", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

/// proxwatch's own failed logins (issue 6, Security & power): wrong passwords through
/// `POST /api/auth/login` land in `auth_events`; the facts collector reads them (the window's, newest
/// first, bounded) and the next cycle's failed-login finding counts them with the journal's.
#[tokio::test]
async fn proxwatch_failed_logins_reach_the_failed_login_rule() {
    use crate::auth::{Creds, call as api};
    use proxwatch::health::facts::FactsCollector;
    let app = common::app().await;
    common::admin_token(&app).await;
    // 5 + 4 + 3 tries from three addresses, a different user name each (so neither the per-address
    // nor the per-user lockout, at 5 failures, refuses one before it is checked).
    let mut n = 0;
    for (ip, tries) in [("203.0.113.7", 5), ("203.0.113.8", 4), ("198.51.100.9", 3)] {
        for _ in 0..tries {
            n += 1;
            let user = if n == 1 { common::ADMIN.to_string() } else { format!("guess{n}") };
            let body = json!({"username": user, "password": "not-the-password"});
            let creds = Creds { ip: Some(ip), ..Default::default() };
            let r = api(&app, Method::POST, "/api/auth/login", &creds, Some(body)).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
        }
    }
    let now = proxwatch::workers::wall_ms();
    let mut c = FactsCollector::new(None);
    assert!(c.step_auth(&app.db, now).await, "the failures are new facts");
    app.health_bus.facts.send_replace(Arc::new(c.facts.clone()));
    let logins = *proxwatch::health::rules::RULES.iter().find(|r| r.id == "logins").unwrap();
    let mut e = Engine::new(&[logins], now - 3_600_000, 0);
    e.step_full(&app.health_io(), now).await.unwrap();
    let snap = app.health.borrow().clone();
    let f = &snap.results["failed_logins"][0];
    assert_eq!((f.key.as_str(), f.severity), ("failed_logins:host", Severity::Warning), "{}", f.reason);
    assert_eq!(f.reason, "12 failed logins in 60 min (proxwatch 12) from 3 IPs; most from 203.0.113.7 (5)");
    assert_eq!(f.details["not_read"], json!(["journal"]), "the journal is not read in this test");
    assert_eq!(record(&app, "failed_logins:host").await.state, State::Active);
    let ev = events(&app).await;
    assert_eq!(kinds(&ev), ["new"]);

    // Re-read once a minute, and only a change is news.
    assert!(!c.step_auth(&app.db, now + 1_000).await, "not due yet");
    assert!(!c.step_auth(&app.db, now + 61_000).await, "due, but nothing new");
    let creds = Creds { ip: Some("192.0.2.77"), ..Default::default() };
    let body = json!({"username": "guess-again", "password": "still-not-it"});
    assert_eq!(
        api(&app, Method::POST, "/api/auth/login", &creds, Some(body)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert!(c.step_auth(&app.db, now + 122_000).await);
    let Source::Ok { data } = &c.facts.proxwatch_logins else { panic!("{:?}", c.facts.proxwatch_logins) };
    assert_eq!(data.len(), 13);
    assert_eq!((data[0].user.as_str(), data[0].ip.as_str()), ("guess-again", "192.0.2.77"), "newest first");
    // Outside the rule's window they no longer count.
    app.health_bus.facts.send_replace(Arc::new(c.facts.clone()));
    e.step_full(&app.health_io(), now + 2 * 3_600_000).await.unwrap();
    let snap = app.health.borrow().clone();
    assert_eq!(
        snap.results["failed_logins"][0].severity,
        Severity::Ok,
        "{}",
        snap.results["failed_logins"][0].reason
    );
}

/// A fast rule whose reason changes on every run (a live number in it), plus a slow rule.
fn moving_rule(s: &Snapshots, _: &Thresholds, _: i64) -> Vec<Finding> {
    vec![Finding::new(
        Category::Cpu,
        "cpu_usage:host",
        Severity::Warning,
        format!("{} samples", s.recent.len()),
    )]
}

/// Issue 11 item 1: a dismissal holds through fast runs whose reasons change, full runs and a
/// restart (a new engine over the same database), in every count and view, until its window ends.
#[tokio::test]
async fn a_dismissal_holds_through_fast_and_full_runs_and_restarts() {
    let now = T0;
    let app = TestApp::builder().sampled().clock(Clock::manual(now)).build().await;
    let op = token(&app, Level::Operate).await;
    let fast = Rule {
        id: "cpu",
        category: Category::Cpu,
        checks: &[("cpu_usage", "CPU usage")],
        fast: true,
        run: moving_rule,
    };
    let rules = [fast, rule("steady", steady_rule)];
    let mut e = Engine::new(&rules, now - 3_600_000, 0);
    e.step_full(&app.health_io(), now).await.unwrap();
    let base = common::sample_pair();
    let mut t = now;
    let mut tick = |e: &mut Engine| {
        t += 6_000; // past the 5 s republish limit each time
        let mut s = base.clone();
        s.ts = t;
        e.observe(Arc::new(proxwatch::app::LiveSample::new(s).unwrap()));
        t
    };
    for key in ["disk_temp%3A%2Fdev%2Fsdb", "cpu_usage%3Ahost"] {
        let (s, b) = common::call(
            &app,
            &op,
            Method::POST,
            &format!("/api/health/findings/{key}/dismiss"),
            Some(json!({"duration": "24h"})),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    let check_n = |app: &Arc<App>, when: &str, shown: i64| {
        let app = app.clone();
        let op = op.clone();
        let when = when.to_string();
        async move {
            let (_, h) = common::call(&app, &op, Method::GET, "/api/health", None).await;
            assert_eq!(h["counts"]["dismissed"], shown, "{when}: {}", h["counts"]);
            assert_eq!(h["counts"]["warning"], 0, "{when}: {}", h["counts"]);
            for cat in h["categories"].as_array().unwrap() {
                for c in cat["checks"].as_array().unwrap() {
                    for f in c["findings"].as_array().unwrap() {
                        assert_eq!(f["state"], "dismissed", "{when}: {f}");
                    }
                }
            }
            let (_, d) =
                common::call(&app, &op, Method::GET, "/api/health/findings?state=dismissed", None).await;
            assert_eq!(d["findings"].as_array().unwrap().len(), 2, "{when}: {d}");
        }
    };
    let check = |app: &Arc<App>, when: &str| check_n(app, when, 2);
    check(&app, "right after dismissing").await;
    for k in 0..3 {
        let t = tick(&mut e);
        e.step_fast(&app.health_io(), t).await.unwrap();
        check(&app, &format!("after fast run {k}")).await;
    }
    let t1 = tick(&mut e);
    e.step_full(&app.health_io(), t1).await.unwrap();
    check(&app, "after a full run").await;
    let t2 = tick(&mut e);
    e.step_fast(&app.health_io(), t2).await.unwrap();
    check(&app, "after a fast run following the full run").await;
    // A restart: a new engine over the same database.
    let mut e2 = Engine::new(&rules, t2, 0);
    let t3 = tick(&mut e2);
    e2.step_fast(&app.health_io(), t3).await.unwrap();
    // Before its first full run a new engine counts the findings the database kept (both dismissed),
    // not only the one its fast rule has spoken about.
    check(&app, "after a restart's first fast run").await;
    e2.step_full(&app.health_io(), t3 + 1000).await.unwrap();
    check(&app, "after a restart's first full run").await;
    // The window ends: both come back once, as new and active.
    let later = now + 86_400_000 + 60_000;
    e2.step_full(&app.health_io(), later).await.unwrap();
    let (_, h) = common::call(&app, &op, Method::GET, "/api/health", None).await;
    assert_eq!(
        (h["counts"]["dismissed"].as_i64(), h["counts"]["warning"].as_i64()),
        (Some(0), Some(2)),
        "{h}"
    );
}

/// Issue 11 items 2 and 3: over the demo, the faulted tank member is sde and sde's card says so
/// (critical, FAULTED in tank), the worn SSD sdb is critical with its wear attribute named, no
/// problem disk reads "ok", and each pool member carries the disk's bay facts.
#[tokio::test]
async fn disks_take_their_verdict_from_everything_known_about_them() {
    let app = TestApp::builder().demo().inventory(T0, 10).build().await;
    let mut e = Engine::new(proxwatch::health::rules::RULES, T0 - 3_600_000, 0);
    e.step_full(&app.health_io(), T0 + 20_000).await.unwrap();
    let read = token(&app, Level::Read).await;
    let (s, b) = common::call(&app, &read, Method::GET, "/api/storage", None).await;
    assert_eq!(s, StatusCode::OK);
    let disks = b["disks"]["data"].as_array().unwrap();
    let disk = |id: &str| disks.iter().find(|d| d["id"] == id).unwrap_or_else(|| panic!("no {id}")).clone();
    let sde = disk("sde");
    assert_eq!(sde["state"], "critical", "{sde}");
    assert!(sde["reason"].as_str().unwrap().contains("FAULTED"), "{sde}");
    assert_eq!(sde["pools"][0]["pool"], "tank");
    assert_eq!(sde["pools"][0]["state"], "FAULTED");
    assert_eq!(sde["pools"][0]["checksum"], 87);
    assert_eq!(sde["smart"]["passed"], true, "SMART's own bit is still shown as it is");
    let sdb = disk("sdb");
    assert_eq!(sdb["state"], "critical", "{sdb}");
    assert!(sdb["reason"].as_str().unwrap().contains("endurance"), "{sdb}");
    let wear =
        sdb["findings"].as_array().unwrap().iter().find(|f| f["check"] == "disk_wear").unwrap().clone();
    assert!(!wear["attributes"].as_array().unwrap().is_empty(), "the attribute behind the wear: {wear}");
    for d in disks {
        let problems = d["findings"].as_array().unwrap().iter().any(|f| f["dismissed"] == false);
        let member_bad = d["pools"].as_array().unwrap().iter().any(|m| m["state"] != "ONLINE");
        if problems || member_bad {
            assert_ne!(d["state"], "ok", "a disk with problems never reads ok: {d}");
        }
    }
    let tank = b["pools"]["data"].as_array().unwrap().iter().find(|p| p["name"] == "tank").unwrap().clone();
    let m = &tank["members"]["ata-ST16000NM001G-2KK103_ZL2PR0T9"];
    assert_eq!(
        (m["disk"].as_str(), m["serial"].as_str(), m["by_id"].as_str()),
        (Some("sde"), Some("ZL2PR0T9"), Some("/dev/disk/by-id/ata-ST16000NM001G-2KK103_ZL2PR0T9")),
        "{tank}"
    );
    assert_eq!(tank["members"]["nvme-Samsung_SSD_970_EVO_Plus_250GB_S4EUNG0M705311"]["disk"], "nvme0n1");
    // Health names the disk behind the member too.
    let (_, h) = common::call(&app, &read, Method::GET, "/api/health/findings?state=active", None).await;
    let pool =
        h["findings"].as_array().unwrap().iter().find(|f| f["key"] == "zfs_pool:tank").unwrap().clone();
    assert!(pool["reason"].as_str().unwrap().contains("(/dev/sde) FAULTED"), "{pool}");
    // The disk page leads with the same verdict.
    let (_, one) = {
        let (s, b) = common::call(&app, &read, Method::GET, "/api/storage/disks/sde", None).await;
        (s, b)
    };
    assert_eq!(one["disk"]["state"], "critical", "{one}");
}

/// Issue 11 item 8: over the demo (inventory and journal), findings about one object agree, a backup
/// job's summary is not quoted as a guest's QMP error, and quoted log lines end at a word boundary.
#[tokio::test]
async fn findings_about_one_object_agree_and_quotes_are_clean() {
    use proxwatch::health::facts::FactsCollector;
    // The recording's own time: its journal and tasks are "now" (tests replay unshifted).
    let now = 1_722_500_000_000;
    let app = TestApp::builder().demo().inventory(now, 10).build().await;
    let mut c = FactsCollector::new(None);
    c.step(&app.host, now).await;
    app.health_bus.facts.send_replace(Arc::new(c.facts.clone()));
    let mut e = Engine::new(proxwatch::health::rules::RULES, now - 3_600_000, 0);
    e.step_full(&app.health_io(), now + 30_000).await.unwrap();
    let snap = app.health.borrow().clone();
    let all: Vec<&Finding> = snap.results.values().flatten().filter(|f| f.severity != Severity::Ok).collect();
    let by_key = |k: &str| all.iter().find(|f| f.key == k).copied();
    // VM 104's manual backup failed: the backup-age finding says so instead of "no backup job" alone.
    let failed = by_key("backup_failed:104").expect("VM 104's failed backup");
    assert!(failed.reason.contains("(manual)"), "{}", failed.reason);
    let age = by_key("backup_age:104").expect("VM 104 has no scheduled job");
    assert!(age.reason.contains("failed"), "agrees with {:?}: {}", failed.reason, age.reason);
    // No QMP finding quotes a backup job's summary.
    for f in all.iter().filter(|f| f.check == "guest_qmp") {
        assert!(!f.reason.contains("Backup job finished") && !f.reason.contains("CT 201"), "{}", f.reason);
    }
    // The pvestatd crash quotes the core dump's first line, not its stack trace cut mid-token.
    let crash = all.iter().find(|f| f.key.contains("daemon_segfault")).expect("the demo's pvestatd crash");
    assert!(crash.reason.ends_with("dumped core."), "{}", crash.reason);
    for f in &all {
        assert!(f.reason.chars().count() < 400, "a reason is one bounded line: {}", f.reason);
        assert!(!f.reason.contains('\n'), "{}", f.reason);
    }
}

/// Issue 11 item 9: while proxwatch's startup grace holds findings back, `/api/health` says how many
/// checks wait and until when; once it has ended the field is gone and the findings count.
#[tokio::test]
async fn the_startup_grace_says_what_waits_and_until_when() {
    let now = T0;
    let app = TestApp::builder().demo().inventory(now, 10).clock(Clock::manual(now)).build().await;
    let read = token(&app, Level::Read).await;
    let onboot = *proxwatch::health::rules::RULES.iter().find(|r| r.id == "guest_onboot").unwrap();
    // Started just now with the default 300 s grace: VM 102 and CT 203 (stopped, onboot) wait.
    let mut e = Engine::new(&[onboot], now, 300);
    e.step_full(&app.health_io(), now).await.unwrap();
    let (_, h) = common::call(&app, &read, Method::GET, "/api/health", None).await;
    assert_eq!(h["grace"]["checks"], 2, "{}", h["grace"]);
    assert_eq!(h["grace"]["until"], now + 300_000);
    assert_eq!(h["counts"]["warning"], 0);
    // Started long ago: nothing waits, both count.
    let mut e = Engine::new(&[onboot], now - 3_600_000, 300);
    e.step_full(&app.health_io(), now).await.unwrap();
    let (_, h) = common::call(&app, &read, Method::GET, "/api/health", None).await;
    assert!(h.get("grace").is_none(), "{h}");
    assert_eq!(h["counts"]["warning"], 2);
}

/// The services check asks systemd every 10 minutes, not every minute: between its runs it watches
/// each unit's cgroup (a file read), and asks at once when one gains or loses its processes.
#[tokio::test]
async fn systemctl_runs_every_ten_minutes_and_at_once_when_a_service_cgroup_empties() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = std::fs::read_to_string(common::demo_dir().join("manifest.toml")).unwrap();
    let moved = manifest
        .replace("stdout = \"commands/", &format!("stdout = \"{}/commands/", common::demo_dir().display()));
    std::fs::write(dir.path().join("manifest.toml"), moved).unwrap();
    let slice = dir.path().join("sys/fs/cgroup/system.slice");
    for u in ["pveproxy", "pvedaemon", "pvestatd"] {
        std::fs::create_dir_all(slice.join(format!("{u}.service"))).unwrap();
        std::fs::write(slice.join(format!("{u}.service/cgroup.events")), "populated 1\nfrozen 0\n").unwrap();
    }
    let host = common::replay_dir(dir.path());
    let runs = |h: &proxwatch::host::Host| h.runs_by_program().get("systemctl").map_or(0, |r| r.runs);
    let mut c = proxwatch::health::facts::FactsCollector::new(None);
    let t0 = common::T0_MS;
    for m in 0..30 {
        c.step(&host, t0 + m * 60_000).await;
    }
    assert_eq!(runs(&host), 3, "at 0, 10 and 20 minutes");
    // pvestatd dies: its cgroup empties, and the next minute asks systemd.
    std::fs::write(slice.join("pvestatd.service/cgroup.events"), "populated 0\nfrozen 0\n").unwrap();
    c.step(&host, t0 + 30 * 60_000 + 1).await;
    assert_eq!(runs(&host), 4);
    c.step(&host, t0 + 31 * 60_000 + 1).await;
    assert_eq!(runs(&host), 4, "nothing moved since");
}
