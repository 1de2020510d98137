//! Access under attack: each test here is one hole an attacker found (the access-hardening issue),
//! driven through the whole router in-process. Each failed on the code before the fix.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use proxwatch::app::{App, DemoInfo};
use proxwatch::auth::{Level, totp};
use serde_json::{Value, json};

use crate::auth::{Creds, call, login, set_up};
use crate::common::{self, TestApp};

/// A request with arbitrary extra headers (Host, Origin, ...), from `ip`.
async fn raw(
    app: &Arc<App>,
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
    ip: &str,
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let body = match body {
        Some(v) => {
            req = req.header(header::CONTENT_TYPE, "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    let mut req = req.body(body).unwrap();
    req.extensions_mut().insert(ConnectInfo(SocketAddr::new(ip.parse().unwrap(), 50000)));
    let (status, headers, body) = common::read(common::send(app, req).await).await;
    (status, headers, common::json(&body))
}

fn from(ip: &'static str) -> Creds {
    Creds { ip: Some(ip), ..Default::default() }
}

fn wrong(user: &str) -> Value {
    json!({"username": user, "password": "not-the-password-1"})
}

fn auth_log(app: &Arc<App>) -> String {
    std::fs::read_to_string(&app.config.auth.auth_log).unwrap_or_default()
}

// ---- High 2: DNS rebinding and foreign origins -------------------------------------------------

fn demo_info() -> DemoInfo {
    DemoInfo { scenario: "pve-zfs".into(), note: "test".into() }
}

#[tokio::test]
async fn a_foreign_host_is_refused_everywhere_and_the_demo_hides_its_password_from_it() {
    let app = TestApp::builder().demo_info(demo_info()).build_app();
    app.auth.create_user("demo", "demo-password-1", Level::Admin).await.unwrap();
    let evil = [("host", "rebind.evil.example:8008")];
    for (method, uri, body) in [
        (Method::GET, "/api/auth/status", None),
        (Method::POST, "/api/auth/login", Some(json!({"username": "demo", "password": "demo-password-1"}))),
        (Method::GET, "/", None),
        (Method::GET, "/api/health/live", None),
    ] {
        let (status, _, body) = raw(&app, method, uri, &evil, body, "192.0.2.10").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{uri}: {body}");
        assert_eq!(body["error"], "host_not_allowed", "{uri}");
    }
    // Loopback names and addresses always pass; the demo's login is shown only to them.
    for host in ["127.0.0.1:8008", "localhost:8008", "[::1]:8008"] {
        let (status, _, body) =
            raw(&app, Method::GET, "/api/auth/status", &[("host", host)], None, "127.0.0.1").await;
        assert_eq!(status, StatusCode::OK, "{host}");
        assert_eq!(body["demo_login"]["username"], "demo", "{host}: {body}");
    }
    // A name the admin allowed (a reverse proxy's) passes, but is not told the demo password.
    let app2 = TestApp::builder()
        .config(|c| c.server.allowed_hosts = vec!["*.lab.example".into()])
        .demo_info(demo_info())
        .build_app();
    let (status, _, body) =
        raw(&app2, Method::GET, "/api/auth/status", &[("host", "pve.lab.example")], None, "192.0.2.10").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("demo_login").is_none(), "{body}");
    // The refusals are in the auth log for the admin to see.
    assert!(auth_log(&app).contains("event=host_refused"), "{}", auth_log(&app));
}

#[tokio::test]
async fn the_machines_own_names_and_addresses_are_allowed() {
    let app = common::app().await;
    let hostname = app.identity.borrow().as_ref().unwrap().hostname.clone();
    let host = format!("{hostname}:8008");
    let (status, _, _) =
        raw(&app, Method::GET, "/api/health/live", &[("host", &host)], None, "192.0.2.10").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "not known before the names are read");
    app.hosts.set_machine(proxwatch::app::machine_names(&app));
    let (status, _, body) =
        raw(&app, Method::GET, "/api/health/live", &[("host", &host)], None, "192.0.2.10").await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_foreign_origin_may_not_change_anything_or_open_a_websocket() {
    let app = TestApp::builder().build_app();
    set_up(&app).await;
    let local = ("host", "127.0.0.1:8008");
    let body = json!({"username": common::ADMIN, "password": common::ADMIN_PASSWORD});
    let (status, _, b) = raw(
        &app,
        Method::POST,
        "/api/auth/login",
        &[local, ("origin", "http://rebind.evil.example:8008")],
        Some(body.clone()),
        "192.0.2.10",
    )
    .await;
    assert_eq!((status, b["error"].as_str()), (StatusCode::FORBIDDEN, Some("origin_not_allowed")), "{b}");
    let (status, _, b) = raw(
        &app,
        Method::POST,
        "/api/auth/login",
        &[local, ("origin", "null")],
        Some(body.clone()),
        "192.0.2.10",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{b}");
    // Its own origin is fine, and so is no Origin at all (curl, scripts).
    let (status, _, b) = raw(
        &app,
        Method::POST,
        "/api/auth/login",
        &[local, ("origin", "http://127.0.0.1:8008")],
        Some(body.clone()),
        "192.0.2.10",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{b}");
    // A websocket upgrade (a GET) is checked too.
    let ws = [
        local,
        ("origin", "https://evil.example"),
        ("upgrade", "websocket"),
        ("connection", "upgrade"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];
    let (status, _, b) = raw(&app, Method::GET, "/api/terminal/ws?ticket=x", &ws, None, "192.0.2.10").await;
    assert_eq!((status, b["error"].as_str()), (StatusCode::FORBIDDEN, Some("origin_not_allowed")), "{b}");
}

// ---- High 3 / Medium 8: concurrent guesses and the argon2 gate --------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_guesses_cannot_walk_past_the_limit() {
    // A long queue, so that every guess is really checked or refused by the limit (never "busy").
    let app = TestApp::builder().config(|c| c.auth.password_queue_ms = 60_000).build_app();
    set_up(&app).await;
    let guesses = (0..20).map(|_| {
        let app = app.clone();
        tokio::spawn(async move {
            call(&app, Method::POST, "/api/auth/login", &from("198.51.100.7"), Some(wrong(common::ADMIN)))
                .await
                .status
        })
    });
    let statuses: Vec<StatusCode> =
        futures_util::future::join_all(guesses).await.into_iter().map(|r| r.unwrap()).collect();
    let checked = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    let limited = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!(checked, 5, "{statuses:?}");
    assert_eq!(limited, 15, "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_login_flood_is_bounded_and_the_owner_still_gets_in() {
    let app = TestApp::builder()
        .config(|c| {
            c.auth.max_password_checks = 2;
            c.auth.password_queue_ms = 200;
        })
        .build_app();
    set_up(&app).await;
    // The owner logged in from their usual address before.
    login_from(&app, "192.0.2.50").await.unwrap();
    // 24 strangers guess the owner's password at once, each from its own address.
    let flood: Vec<_> = (0..24)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                let ip: &'static str = Box::leak(format!("198.51.100.{}", i + 1).into_boxed_str());
                let r =
                    call(&app, Method::POST, "/api/auth/login", &from(ip), Some(wrong(common::ADMIN))).await;
                (r.status, r.headers.get(header::RETRY_AFTER).is_some())
            })
        })
        .collect();
    tokio::task::yield_now().await;
    let started = Instant::now();
    let owner = login_from(&app, "192.0.2.50").await;
    let took = started.elapsed();
    let results: Vec<(StatusCode, bool)> =
        futures_util::future::join_all(flood).await.into_iter().map(|r| r.unwrap()).collect();
    assert!(owner.is_ok(), "the owner was refused: {:?}", owner.err());
    assert!(took < Duration::from_secs(3), "the owner's login took {took:?}");
    // Strangers beyond the gate's queue are told to come back later, not queued without end.
    let busy: Vec<_> = results.iter().filter(|(s, _)| *s == StatusCode::SERVICE_UNAVAILABLE).collect();
    assert!(!busy.is_empty(), "{results:?}");
    assert!(busy.iter().all(|(_, retry)| *retry), "503 without Retry-After: {results:?}");
    // The flood locked the user name for strangers; the owner's usual address is not locked out.
    for i in 0..5 {
        let ip: &'static str = Box::leak(format!("203.0.113.{}", i + 1).into_boxed_str());
        call(&app, Method::POST, "/api/auth/login", &from(ip), Some(wrong(common::ADMIN))).await;
    }
    let stranger = call(
        &app,
        Method::POST,
        "/api/auth/login",
        &from("203.0.113.99"),
        Some(json!({"username": common::ADMIN, "password": common::ADMIN_PASSWORD})),
    )
    .await;
    assert_eq!(stranger.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", stranger.body);
    assert!(login_from(&app, "192.0.2.50").await.is_ok());
}

async fn login_from(app: &Arc<App>, ip: &'static str) -> Result<Value, Value> {
    let r = call(
        app,
        Method::POST,
        "/api/auth/login",
        &from(ip),
        Some(json!({"username": common::ADMIN, "password": common::ADMIN_PASSWORD})),
    )
    .await;
    if r.status == StatusCode::OK {
        Ok(r.body)
    } else {
        Err(json!({"status": r.status.as_u16(), "body": r.body}))
    }
}

// ---- High 4: every password check limited and logged -------------------------------------------

#[tokio::test]
async fn every_password_check_is_limited_and_logged() {
    let app = TestApp::builder().build_app();
    set_up(&app).await;
    let mut me = login(&app, common::ADMIN, common::ADMIN_PASSWORD, None).await.unwrap();
    me.ip = Some("192.0.2.77");
    let wrong_pw = "not-the-password-1";
    let tries: [(&str, Value); 5] = [
        ("/api/auth/tokens", json!({"name": "t", "scope": "read", "password": wrong_pw})),
        ("/api/auth/tokens", json!({"name": "t", "scope": "read", "password": wrong_pw})),
        (
            "/api/auth/password",
            json!({"current_password": wrong_pw, "new_password": "a-new-long-passphrase"}),
        ),
        (
            "/api/auth/password",
            json!({"current_password": wrong_pw, "new_password": "a-new-long-passphrase"}),
        ),
        ("/api/auth/totp/setup", json!({"password": wrong_pw})),
    ];
    for (uri, body) in tries {
        let r = call(&app, Method::POST, uri, &me, Some(body)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{uri}: {}", r.body);
    }
    // One limiter for all of them: the sixth is refused before any check, even with the right password.
    let r = call(
        &app,
        Method::POST,
        "/api/auth/tokens",
        &me,
        Some(json!({"name": "t", "scope": "read", "password": common::ADMIN_PASSWORD})),
    )
    .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    let log = auth_log(&app);
    let failures: Vec<&str> = log.lines().filter(|l| l.contains("authentication failure")).collect();
    assert_eq!(failures.iter().filter(|l| l.contains("event=reauth_failed")).count(), 5, "{log}");
    for what in ["detail=token_creation", "detail=password_change", "detail=2fa_setup"] {
        assert!(failures.iter().any(|l| l.contains(what)), "{what} missing in {log}");
    }
    assert!(failures.iter().all(|l| l.contains("rhost=192.0.2.77")), "{log}");
    // Those guesses came with a session from an address never logged in from (a stolen cookie):
    // they count against the user name too, so a stranger elsewhere is held back, while the owner's
    // own address (the login above) is not.
    let body = json!({"username": common::ADMIN, "password": common::ADMIN_PASSWORD});
    let r = call(&app, Method::POST, "/api/auth/login", &from("203.0.113.8"), Some(body.clone())).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    let r = call(&app, Method::POST, "/api/auth/login", &Creds::default(), Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

// ---- Medium 5: a token cannot act on its own account ---------------------------------------------

#[tokio::test]
async fn a_token_cannot_act_on_its_own_account() {
    let app = TestApp::builder().build_app();
    set_up(&app).await;
    let read = Creds { token: Some(token_for(&app, common::ADMIN, Level::Read).await), ..Default::default() };
    let admin =
        Creds { token: Some(token_for(&app, common::ADMIN, Level::Admin).await), ..Default::default() };
    for creds in [&read, &admin] {
        for (method, uri, body) in [
            (
                Method::POST,
                "/api/auth/tokens",
                json!({"name": "x", "scope": "admin", "password": common::ADMIN_PASSWORD}),
            ),
            (Method::GET, "/api/auth/tokens", json!({})),
            (Method::DELETE, "/api/auth/sessions", json!({})),
            (
                Method::POST,
                "/api/auth/password",
                json!({"current_password": common::ADMIN_PASSWORD, "new_password": "another-long-passphrase"}),
            ),
            (Method::POST, "/api/auth/totp/setup", json!({"password": common::ADMIN_PASSWORD})),
            (
                Method::POST,
                "/api/auth/users",
                json!({"username": "eve", "password": "eve-long-passphrase", "role": "admin"}),
            ),
            (Method::POST, "/api/terminal/ticket", json!({})),
        ] {
            let r = call(&app, method.clone(), uri, creds, Some(body)).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {uri}: {}", r.body);
            assert!(r.body["message"].as_str().unwrap().contains("interactive login"), "{}", r.body);
        }
    }
    // Nothing happened: still one token pair, the password unchanged, no user eve.
    assert_eq!(app.auth.list_tokens(None).len(), 2);
    assert!(login(&app, common::ADMIN, common::ADMIN_PASSWORD, None).await.is_ok());
    assert!(app.auth.user_role("eve").is_none());
    // The effective scope is the lower of the token's scope and its owner's role.
    app.auth.create_user("ops", "ops-long-passphrase", Level::Admin).await.unwrap();
    let ops = Creds { token: Some(token_for(&app, "ops", Level::Admin).await), ..Default::default() };
    app.auth.update_user("ops", Some(Level::Read), None).await.unwrap();
    let r = call(&app, Method::POST, "/api/health/run", &ops, Some(json!({}))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = call(&app, Method::GET, "/api/system", &ops, None).await;
    assert_eq!(r.status, StatusCode::OK);
}

async fn token_for(app: &Arc<App>, user: &str, scope: Level) -> String {
    let p = proxwatch::auth::Principal {
        user: user.into(),
        level: Level::Admin,
        via: proxwatch::auth::Via::Session { id: "test".into() },
        ip: None,
    };
    app.auth.create_token(&p, "t", scope, None).await.unwrap().1
}

// ---- Medium 6: re-running TOTP setup keeps 2FA on ----------------------------------------------

fn secret_of(uri: &str) -> Vec<u8> {
    let s = uri.split("secret=").nth(1).unwrap().split('&').next().unwrap();
    data_encoding::BASE32_NOPAD.decode(s.as_bytes()).unwrap()
}

fn code_now(secret: &[u8], offset_steps: i64) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    totp::code_at_step(secret, ((now / totp::STEP_S) as i64 + offset_steps) as u64).unwrap()
}

/// Sets 2FA up and confirms it with a code `offset` steps from now; the secret and the backup codes.
async fn enable_totp(app: &Arc<App>, me: &Creds, offset: i64) -> (Vec<u8>, Vec<Value>) {
    let body = json!({"password": common::ADMIN_PASSWORD});
    let r = call(app, Method::POST, "/api/auth/totp/setup", me, Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let secret = secret_of(r.body["otpauth_uri"].as_str().unwrap());
    let code = json!({"code": code_now(&secret, offset)});
    let r = call(app, Method::POST, "/api/auth/totp/enable", me, Some(code)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    (secret, r.body["backup_codes"].as_array().unwrap().clone())
}

#[tokio::test]
async fn rerunning_totp_setup_keeps_the_old_secret_until_the_new_one_is_confirmed() {
    let app = TestApp::builder().build_app();
    set_up(&app).await;
    let me = login(&app, common::ADMIN, common::ADMIN_PASSWORD, None).await.unwrap();
    let (old, codes) = enable_totp(&app, &me, -1).await;
    let backup = codes[0].as_str().unwrap().to_string();
    // Backup codes are stored as MACs under the sealing key, not as bare hashes of the code.
    let stored: Vec<String> = app
        .db
        .call(|c| {
            let mut st = c.prepare("SELECT hash FROM backup_codes")?;
            let rows = st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
        .unwrap();
    assert_eq!(stored.len(), 10);
    assert!(stored.iter().all(|h| h.starts_with("h1:")), "{stored:?}");
    assert!(!stored.contains(&totp::backup_code_hash(&backup)));

    // Start setting up a new secret (needs the password and a current code)...
    let r = call(
        &app,
        Method::POST,
        "/api/auth/totp/setup",
        &me,
        Some(json!({"password": common::ADMIN_PASSWORD, "code": code_now(&old, 0)})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let new = secret_of(r.body["otpauth_uri"].as_str().unwrap());
    // ...and 2FA is still on: a password alone does not log in, the old secret still does.
    let r = call(
        &app,
        Method::POST,
        "/api/auth/login",
        &Creds::default(),
        Some(json!({"username": common::ADMIN, "password": common::ADMIN_PASSWORD})),
    )
    .await;
    assert_eq!(r.body["totp_required"], true, "{}", r.body);
    assert!(login(&app, common::ADMIN, common::ADMIN_PASSWORD, Some(&code_now(&old, 1))).await.is_ok());
    // A code from the old secret does not confirm the new one; one from the new one does.
    let r = call(&app, Method::POST, "/api/auth/totp/enable", &me, Some(json!({"code": code_now(&old, 1)})))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    let r = call(&app, Method::POST, "/api/auth/totp/enable", &me, Some(json!({"code": code_now(&new, 0)})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // From now on the new secret counts; the old one's codes are refused.
    assert!(login(&app, common::ADMIN, common::ADMIN_PASSWORD, Some(&code_now(&old, -1))).await.is_err());
    assert!(login(&app, common::ADMIN, common::ADMIN_PASSWORD, Some(&code_now(&new, 1))).await.is_ok());
}

// ---- Medium 7: setup cannot be blocked by one address -------------------------------------------

#[tokio::test]
async fn one_address_cannot_block_first_run_setup() {
    let app = TestApp::builder().build_app();
    let code = app.auth.setup_code().unwrap().unwrap();
    let body =
        |c: &str| json!({"setup_code": c, "username": common::ADMIN, "password": common::ADMIN_PASSWORD});
    for _ in 0..5 {
        let r = call(
            &app,
            Method::POST,
            "/api/auth/setup",
            &from("198.51.100.66"),
            Some(body("WRONG-CODE-0000")),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    let r = call(&app, Method::POST, "/api/auth/setup", &from("198.51.100.66"), Some(body(&code))).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "the guessing address is held back");
    let r = call(&app, Method::POST, "/api/auth/setup", &from("192.0.2.1"), Some(body(&code))).await;
    assert_eq!(r.status, StatusCode::CREATED, "the owner sets up from elsewhere: {}", r.body);
}

// ---- Medium 10 / Low 16: a bad-token flood, throttled and coalesced ---------------------------

#[tokio::test]
async fn a_bad_token_flood_is_throttled_and_writes_a_bounded_log() {
    let app = TestApp::builder().build_app();
    set_up(&app).await;
    let bad = Creds {
        token: Some("hunter2-is-my-password".into()),
        ip: Some("198.51.100.23"),
        ..Default::default()
    };
    let mut by_status = std::collections::BTreeMap::new();
    for _ in 0..300 {
        let r = call(&app, Method::GET, "/api/system", &bad, None).await;
        *by_status.entry(r.status.as_u16()).or_insert(0) += 1;
    }
    assert_eq!(by_status.get(&401), Some(&10), "{by_status:?}");
    assert_eq!(by_status.get(&429), Some(&290), "{by_status:?}");
    // A forged pxw_ token is named by its id.
    let forged = Creds { token: Some("pxw_0123456789ab_notreallyasecret".into()), ..Default::default() };
    call(&app, Method::GET, "/api/system", &forged, None).await;
    let log = auth_log(&app);
    assert!(log.len() < 3000, "{} bytes: {log}", log.len());
    assert!(!log.contains("hunter2"), "a rejected bearer value reached the log: {log}");
    assert!(log.contains("sha256=") && log.contains("id=0123456789ab"), "{log}");
    // In the table the burst is one row with its count, complete once the burst is closed.
    app.auth.audit.close_bursts(app.auth.db(), true).await;
    let events = proxwatch::auth::audit::AuditLog::list(app.auth.db(), 100, None).await.unwrap();
    let flood: Vec<_> = events.iter().filter(|e| e.ip.as_deref() == Some("198.51.100.23")).collect();
    assert!(flood.len() <= 2, "{flood:?}");
    let failed = flood.iter().find(|e| e.kind == "token_failed").unwrap();
    assert_eq!(failed.count, 10);
    let lockout = flood.iter().find(|e| e.kind == "lockout").unwrap();
    assert_eq!(lockout.count, 290);
    assert!(auth_log(&app).contains("repeated="), "the summary line is written when the burst closes");
}

// ---- Low 11: live-stream slots per user and per address -----------------------------------------

#[tokio::test]
async fn one_user_cannot_take_every_live_stream() {
    let app = TestApp::builder().config(|c| c.server.max_live_per_user = 2).build_app();
    set_up(&app).await;
    app.auth.create_user("viewer", "viewer-long-passphrase", Level::Read).await.unwrap();
    let admin = login(&app, common::ADMIN, common::ADMIN_PASSWORD, None).await.unwrap();
    let viewer = login(&app, "viewer", "viewer-long-passphrase", None).await.unwrap();
    let mut open = Vec::new();
    for i in 0..3 {
        let mut req = Request::get("/api/live").header(header::COOKIE, admin.cookie.clone().unwrap());
        req = req.header("x-forwarded-for", "unused");
        let mut req = req.body(Body::empty()).unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(format!("192.0.2.{}", i + 1).parse().unwrap(), 1)));
        let resp = common::send(&app, req).await;
        let expect = if i < 2 { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
        assert_eq!(resp.status(), expect, "stream {i}");
        open.push(resp);
    }
    let r = call(&app, Method::GET, "/api/live", &viewer, None).await;
    assert_eq!(r.status, StatusCode::OK, "another user still gets a stream");
}

// ---- Low 12: command lines are for admins ------------------------------------------------------

#[tokio::test]
async fn viewers_see_program_names_not_command_lines() {
    let app = common::app().await;
    let mut scanner = proxwatch::workers::processes::ProcessScanner::new();
    let snap = scanner.step(&app.host, common::T0_MS).unwrap();
    app.processes.send_replace(Arc::new(snap));
    common::admin_token(&app).await;
    app.auth.create_user("viewer", "viewer-long-passphrase", Level::Read).await.unwrap();
    let viewer = login(&app, "viewer", "viewer-long-passphrase", None).await.unwrap();
    let admin = login(&app, common::ADMIN, common::ADMIN_PASSWORD, None).await.unwrap();
    let seen = |body: &Value| -> Vec<(String, String)> {
        body["processes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["name"].as_str().unwrap().to_string(), p["command"].as_str().unwrap().to_string()))
            .collect()
    };
    let as_admin = seen(&call(&app, Method::GET, "/api/processes?limit=500", &admin, None).await.body);
    assert!(
        as_admin.iter().any(|(n, c)| n != c && c.contains(' ')),
        "the fixture has arguments: {as_admin:?}"
    );
    let as_viewer = seen(&call(&app, Method::GET, "/api/processes?limit=500", &viewer, None).await.body);
    assert!(!as_viewer.is_empty());
    assert!(as_viewer.iter().all(|(n, c)| n == c), "{as_viewer:?}");
}

// ---- Low 13, 15, 17: honest answers ------------------------------------------------------------

#[tokio::test]
async fn patching_an_unknown_user_is_404_and_audits_nothing() {
    let app = TestApp::builder().build_app();
    set_up(&app).await;
    let admin = login(&app, common::ADMIN, common::ADMIN_PASSWORD, None).await.unwrap();
    let r =
        call(&app, Method::PATCH, "/api/auth/users/nobody", &admin, Some(json!({"disabled": true}))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let r = call(&app, Method::PATCH, "/api/auth/users/nobody", &admin, Some(json!({}))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert!(!auth_log(&app).contains("event=user_changed"), "{}", auth_log(&app));
}

#[tokio::test]
async fn every_api_error_is_json_and_no_api_answer_is_cached() {
    let app = TestApp::builder().build_app();
    set_up(&app).await;
    let admin = login(&app, common::ADMIN, common::ADMIN_PASSWORD, None).await.unwrap();
    // A path parameter that is not UTF-8 (axum's own rejection is plain text).
    for uri in ["/api/vms/%FF%FE", "/api/storage/disks/%C0"] {
        let r = call(&app, Method::GET, uri, &admin, None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(r.body["error"].is_string() && r.body["message"].is_string(), "{uri}: {:?}", r.body);
    }
    // A JSON body with the wrong content type.
    let mut creds = admin.clone();
    creds.ip = Some("192.0.2.10");
    let (status, headers, body) =
        raw(&app, Method::POST, "/api/auth/login", &[("content-type", "text/plain")], None, "192.0.2.10")
            .await;
    assert!(status.is_client_error(), "{status}");
    assert_eq!(headers[header::CONTENT_TYPE], "application/json", "{body}");
    // Never cached: login answers, token creation, errors.
    let r = call(
        &app,
        Method::POST,
        "/api/auth/login",
        &Creds::default(),
        Some(json!({"username": common::ADMIN, "password": common::ADMIN_PASSWORD})),
    )
    .await;
    assert_eq!(r.headers[header::CACHE_CONTROL], "no-store");
    let r = call(
        &app,
        Method::POST,
        "/api/auth/tokens",
        &admin,
        Some(json!({"name": "t", "scope": "read", "password": common::ADMIN_PASSWORD})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.headers[header::CACHE_CONTROL], "no-store");
    let r = call(&app, Method::GET, "/api/nothing-here", &admin, None).await;
    assert_eq!(r.headers[header::CACHE_CONTROL], "no-store");
}

// ---- Low 18: the legacy backup-code form still works -------------------------------------------

#[tokio::test]
async fn backup_codes_issued_before_the_mac_still_work_once() {
    let app = TestApp::builder().build_app();
    set_up(&app).await;
    let me = login(&app, common::ADMIN, common::ADMIN_PASSWORD, None).await.unwrap();
    enable_totp(&app, &me, 0).await;
    let legacy = "abcde-fghij";
    let hash = totp::backup_code_hash(legacy);
    app.db
        .call(move |c| Ok(c.execute("INSERT INTO backup_codes (user, hash) VALUES ('admin', ?1)", [hash])?))
        .await
        .unwrap();
    assert!(login(&app, common::ADMIN, common::ADMIN_PASSWORD, Some(legacy)).await.is_ok());
    assert!(login(&app, common::ADMIN, common::ADMIN_PASSWORD, Some(legacy)).await.is_err(), "single use");
}

// ---- Low 10b: requests never start a process; a worker reads the ban list ----------------------

#[tokio::test]
async fn the_ban_list_is_read_by_the_worker_step_not_by_requests() {
    use proxwatch::auth::fail2ban::{Bans, Refresh};
    let dir = tempfile::tempdir().unwrap();
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/upstream/fail2ban/local_fail2ban-1.0.2_client_status_sshd_1banned.txt");
    std::fs::copy(&fixture, dir.path().join("status.txt")).unwrap();
    std::fs::write(
        dir.path().join("manifest.toml"),
        "[scenario]\nname = \"f2b\"\ndescription = \"fail2ban only\"\n\n[[command]]\n\
         argv = [\"fail2ban-client\", \"status\", \"proxwatch\"]\nstdout = \"status.txt\"\n",
    )
    .unwrap();
    let host = Arc::new(common::replay_dir(dir.path()));
    let bans = Bans::new("proxwatch", host);
    let banned: std::net::IpAddr = "203.0.113.45".parse().unwrap();
    // Asking is only a read: nothing is known until the worker has stepped.
    for _ in 0..100 {
        assert!(!bans.is_banned(banned));
    }
    assert_eq!(bans.step().await, Refresh::Read);
    assert!(bans.is_banned(banned));
    assert!(!bans.is_banned("198.51.100.1".parse().unwrap()));
}
