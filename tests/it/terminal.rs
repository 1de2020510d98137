//! The root terminal end to end: a real server on a loopback socket, a real websocket client and a
//! real shell on a real PTY. Every wait is on an event (output, a close frame, a process leaving
//! `/proc`) with a deadline; nothing sleeps for readiness.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use futures_util::{SinkExt, StreamExt};
use proxwatch::app::App;
use proxwatch::auth::Level;
use proxwatch::config::Config;
use proxwatch::terminal::{Limits, Terminal};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::common;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long any single expected event may take.
const WAIT: Duration = Duration::from_secs(10);

/// bash without rc files or history (nothing written to the test machine's home).
fn shell() -> Vec<String> {
    ["/bin/bash", "--noprofile", "--norc", "+o", "history"].map(String::from).to_vec()
}

fn config(adjust: impl FnOnce(&mut Config)) -> Config {
    let mut cfg = common::test_config();
    cfg.terminal.command = shell();
    adjust(&mut cfg);
    cfg
}

struct Server {
    app: Arc<App>,
    addr: SocketAddr,
    login: Login,
}

/// An interactive login (the terminal takes no API tokens): the session cookie and its CSRF token.
#[derive(Clone)]
struct Login {
    cookie: String,
    csrf: String,
}

async fn login_as(app: &Arc<App>, user: &str, password: &str) -> Login {
    let ip = Some("127.0.0.1".parse().unwrap());
    match app.auth.login(user, password, None, ip, None).await.unwrap() {
        proxwatch::auth::store::LoginOutcome::Session(s) => {
            Login { cookie: format!("{}={}", proxwatch::auth::store::COOKIE, s.jwt), csrf: s.csrf }
        }
        proxwatch::auth::store::LoginOutcome::TotpRequired => panic!("no TOTP in these tests"),
    }
}

/// Serves `app` on 127.0.0.1 (with peer addresses, as in production) and logs an admin in.
async fn serve(app: Arc<App>) -> Server {
    common::admin_token(&app).await;
    let login = login_as(&app, common::ADMIN, common::ADMIN_PASSWORD).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = proxwatch::app::router(app.clone());
    tokio::spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap();
    });
    Server { app, addr, login }
}

async fn start(adjust: impl FnOnce(&mut Config)) -> Server {
    serve(common::bare_app(config(adjust), "pve-zfs")).await
}

/// An app whose terminal limits are replaced (durations finer than the config's units).
async fn start_with_limits(adjust: impl FnOnce(&mut Limits)) -> Server {
    let mut app = common::bare_app(config(|_| {}), "pve-zfs");
    let mut limits = Limits::from_config(&app.config.terminal);
    adjust(&mut limits);
    assert!(app.set_terminal(Terminal::new(true, limits)), "a fresh app is not shared yet");
    serve(app).await
}

async fn post_ticket(app: &Arc<App>, login: &Login) -> (StatusCode, Value) {
    let req = Request::post("/api/terminal/ticket")
        .header(header::COOKIE, &login.cookie)
        .header("x-csrf-token", &login.csrf)
        .body(Body::empty())
        .unwrap();
    common::request(app, req).await
}

async fn ticket(s: &Server) -> String {
    let (status, body) = post_ticket(&s.app, &s.login).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["ticket"].as_str().unwrap().to_string()
}

/// The websocket handshake; a refusal comes back as the HTTP status and JSON body.
async fn connect(s: &Server, login: &Login, ticket: &str) -> Result<Ws, (StatusCode, Value)> {
    let mut req = format!("ws://{}/api/terminal/ws?ticket={ticket}", s.addr).into_client_request().unwrap();
    req.headers_mut().insert("cookie", login.cookie.parse().unwrap());
    match tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(req))
        .await
        .expect("handshake timed out")
    {
        Ok((ws, _)) => Ok(ws),
        Err(tungstenite::Error::Http(resp)) => {
            let body =
                resp.body().as_deref().and_then(|b| serde_json::from_slice(b).ok()).unwrap_or(Value::Null);
            Err((StatusCode::from_u16(resp.status().as_u16()).unwrap(), body))
        }
        Err(e) => panic!("websocket handshake failed: {e}"),
    }
}

/// A client session: the socket and all the output seen so far.
struct Term {
    ws: Ws,
    out: Vec<u8>,
    /// Where the next [`Term::expect`] starts looking.
    seen: usize,
}

/// What ended a session, as the client saw it.
#[derive(Debug)]
struct Closed {
    code: Option<u16>,
    reason: String,
    texts: Vec<String>,
}

impl Term {
    async fn open(s: &Server) -> Term {
        Self::open_as(s, &s.login).await
    }

    async fn open_as(s: &Server, login: &Login) -> Term {
        let (status, body) = post_ticket(&s.app, login).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let t = body["ticket"].as_str().unwrap().to_string();
        let ws = connect(s, login, &t).await.unwrap_or_else(|e| panic!("refused: {e:?}"));
        Term { ws, out: Vec::new(), seen: 0 }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.ws.send(Message::Binary(bytes.to_vec().into())).await.unwrap();
    }

    async fn resize(&mut self, cols: u16, rows: u16) {
        let msg = serde_json::json!({"type": "resize", "cols": cols, "rows": rows}).to_string();
        self.ws.send(Message::Text(msg.into())).await.unwrap();
    }

    /// Waits for the next chunk of output.
    async fn read_more(&mut self, deadline: Instant, waiting_for: &str) {
        let left = deadline.saturating_duration_since(Instant::now());
        let text = String::from_utf8_lossy(&self.out[self.seen..]).into_owned();
        match tokio::time::timeout(left, self.ws.next()).await {
            Err(_) => panic!("no {waiting_for:?} within {WAIT:?}; output: {text:?}"),
            Ok(Some(Ok(Message::Binary(b)))) => self.out.extend_from_slice(&b),
            Ok(Some(Ok(Message::Text(t)))) => panic!("unexpected text {t} while waiting for {waiting_for:?}"),
            Ok(Some(Ok(Message::Close(f)))) => {
                panic!("closed ({f:?}) while waiting for {waiting_for:?}: {text:?}")
            }
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(e))) => panic!("socket error while waiting for {waiting_for:?}: {e}"),
            Ok(None) => panic!("socket ended while waiting for {waiting_for:?}: {text:?}"),
        }
    }

    /// Reads output until `needle` appears (after the previous match).
    async fn expect(&mut self, needle: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let rest = &self.out[self.seen..];
            if let Some(at) = rest.windows(needle.len()).position(|w| w == needle.as_bytes()) {
                self.seen += at + needle.len();
                return;
            }
            self.read_more(deadline, needle).await;
        }
    }

    /// The number printed right after `prefix`, skipping places where none follows (the echoed
    /// command line shows `prefix` followed by `$`).
    async fn number_after(&mut self, prefix: &str) -> i32 {
        let deadline = Instant::now() + WAIT;
        loop {
            self.expect(prefix).await;
            loop {
                let rest = &self.out[self.seen..];
                let n = rest.iter().take_while(|b| b.is_ascii_digit()).count();
                // The number is whole once something else follows it.
                if n < rest.len() {
                    if n == 0 {
                        break;
                    }
                    let value = std::str::from_utf8(&rest[..n]).unwrap().parse().unwrap();
                    self.seen += n;
                    return value;
                }
                self.read_more(deadline, prefix).await;
            }
        }
    }

    /// Reads until the server closes; collects the text frames on the way.
    async fn closed(&mut self) -> Closed {
        let deadline = Instant::now() + WAIT;
        let mut texts = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.ws.next()).await.expect("the server did not close") {
                Some(Ok(Message::Close(f))) => {
                    // As a browser does: answer the close (tungstenite sends the reply on the next
                    // read), so the server is not left waiting for it.
                    let _ = tokio::time::timeout(WAIT, self.ws.next()).await;
                    return Closed {
                        code: f.as_ref().map(|f| u16::from(f.code)),
                        reason: f.map(|f| f.reason.to_string()).unwrap_or_default(),
                        texts,
                    };
                }
                Some(Ok(Message::Text(t))) => texts.push(t.to_string()),
                Some(Ok(Message::Binary(b))) => self.out.extend_from_slice(&b),
                Some(Ok(_)) => {}
                Some(Err(e)) => panic!("socket error before the close frame: {e}"),
                None => panic!("socket ended without a close frame"),
            }
        }
    }
}

/// Whether `pid` is a live (not zombie) process.
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rfind(')').and_then(|i| stat[i + 1..].trim_start().chars().next()) != Some('Z'),
        Err(_) => false,
    }
}

/// Polls (bounded, short awaits) until `done` holds.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "{what} did not happen within {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The child of `parent` whose command line is `argv`.
fn child_with_cmdline(parent: i32, argv: &[&str]) -> Option<i32> {
    let want: Vec<u8> = argv.iter().flat_map(|a| a.bytes().chain([0])).collect();
    std::fs::read_dir("/proc").ok()?.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok()).find(
        |pid| {
            let ppid = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| s[s.rfind(')')? + 1..].split_whitespace().nth(1)?.parse::<i32>().ok());
            ppid == Some(parent) && std::fs::read(format!("/proc/{pid}/cmdline")).ok() == Some(want.clone())
        },
    )
}

#[tokio::test]
async fn echo_round_trips_through_a_real_pty_and_exit_closes_with_the_code() {
    let s = start(|_| {}).await;
    let mut t = Term::open(&s).await;
    t.send(b"echo hi-$((40+2))\n").await;
    t.expect("hi-42").await;
    t.send(b"echo \"$TERM $PWD\"\n").await;
    let dir = if std::path::Path::new("/root").is_dir() { "/root" } else { "/" };
    t.expect(&format!("xterm-256color {dir}")).await;
    assert_eq!(s.app.terminal.sessions().len(), 1);
    assert_eq!(s.app.terminal.sessions()[0].user, common::ADMIN);

    t.send(b"exit 7\n").await;
    let closed = t.closed().await;
    assert_eq!(closed.code, Some(1000), "{closed:?}");
    assert_eq!(closed.texts, vec![r#"{"type":"exit","code":7}"#.to_string()]);

    // Both ends are audited, with the peer's address and the duration.
    let db = s.app.auth.db().clone();
    let mut events = Vec::new();
    let deadline = Instant::now() + WAIT;
    while !events.iter().any(|e: &proxwatch::auth::audit::Event| e.kind == "terminal_close") {
        assert!(Instant::now() < deadline, "no terminal_close event: {events:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
        events = proxwatch::auth::audit::AuditLog::list(&db, 50, None).await.unwrap();
    }
    let open = events.iter().find(|e| e.kind == "terminal_open").expect("a terminal_open event");
    let close = events.iter().find(|e| e.kind == "terminal_close").unwrap();
    for e in [open, close] {
        assert_eq!(e.user.as_deref(), Some(common::ADMIN));
        assert_eq!(e.ip.as_deref(), Some("127.0.0.1"));
    }
    assert!(close.detail.contains("duration") && close.detail.contains("code 7"), "{}", close.detail);
    assert!(s.app.terminal.sessions().is_empty());
}

#[tokio::test]
async fn resize_is_visible_to_stty() {
    let s = start(|_| {}).await;
    let mut t = Term::open(&s).await;
    t.resize(101, 33).await;
    // Out-of-range and malformed control messages are ignored.
    t.resize(0, 5000).await;
    t.ws.send(Message::Text(r#"{"type":"nonsense"}"#.into())).await.unwrap();
    t.ws.send(Message::Text("not json".into())).await.unwrap();
    t.send(b"stty size\n").await;
    t.expect("33 101").await;
}

#[tokio::test]
async fn a_character_split_across_frames_arrives_intact() {
    let s = start(|_| {}).await;
    let mut t = Term::open(&s).await;
    let euro = "€".as_bytes();
    assert_eq!(euro, [0xe2, 0x82, 0xac]);
    let mut first = b"printf '%s' '".to_vec();
    first.push(euro[0]);
    let mut second = euro[1..].to_vec();
    second.extend_from_slice(b"' | od -An -tx1\n");
    t.send(&first).await;
    t.send(&second).await;
    t.expect("e2 82 ac").await;
    // And the shell's own output of it comes back as the same bytes.
    t.send(b"printf 'x\\342\\202\\254y\\n'\n").await;
    t.expect("x€y").await;
}

#[tokio::test]
async fn the_fifth_session_is_refused() {
    let s = start(|c| c.terminal.max_sessions = 4).await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(Term::open(&s).await);
    }
    // Two tickets while a slot is free: the first to connect gets it, the second is refused.
    let (a, b) = (ticket(&s).await, ticket(&s).await);
    let fourth = connect(&s, &s.login, &a).await.unwrap_or_else(|e| panic!("{e:?}"));
    let (status, body) = connect(&s, &s.login, &b).await.expect_err("the fifth upgrade is refused");
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("too_many_sessions"))
    );
    let (status, body) = post_ticket(&s.app, &s.login).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("too_many_sessions"))
    );
    assert_eq!(s.app.terminal.sessions().len(), 4);

    // Closing one frees its slot.
    drop(fourth);
    let deadline = Instant::now() + WAIT;
    loop {
        let (status, _) = post_ticket(&s.app, &s.login).await;
        if status == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "the slot did not come back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut again = Term::open(&s).await;
    again.send(b"echo fifth-$((2+3))\n").await;
    again.expect("fifth-5").await;
}

#[tokio::test]
async fn an_idle_session_is_closed_with_4000() {
    let s = start_with_limits(|l| l.idle_timeout = Duration::from_millis(200)).await;
    let mut t = Term::open(&s).await;
    let started = Instant::now();
    let closed = t.closed().await;
    assert_eq!((closed.code, closed.reason.as_str()), (Some(4000), "idle timeout"), "{closed:?}");
    assert!(started.elapsed() >= Duration::from_millis(150), "closed too early");
}

#[tokio::test]
async fn closing_the_socket_kills_the_whole_session() {
    let s = start(|_| {}).await;
    let mut t = Term::open(&s).await;
    t.send(b"echo pid=$$; sleep 1000 & echo bg=$!\n").await;
    let shell = t.number_after("pid=").await;
    let bg = t.number_after("bg=").await;
    // A job that ignores the hang-up is killed too (SIGKILL after the grace period).
    t.send(b"nohup sleep 1001 >/dev/null 2>&1 & echo nohup=$!\n").await;
    let nohup = t.number_after("nohup=").await;
    t.send(b"sleep 999\n").await;
    let mut fg = None;
    eventually("the foreground sleep starting", || {
        fg = child_with_cmdline(shell, &["sleep", "999"]);
        fg.is_some()
    })
    .await;
    let fg = fg.unwrap();
    assert!(alive(shell) && alive(bg) && alive(nohup) && alive(fg));

    t.ws.close(None).await.unwrap();
    // The server answers the close (a clean close for the browser, not 1006); output still in
    // flight may come first.
    loop {
        match tokio::time::timeout(WAIT, t.ws.next()).await.expect("a close reply") {
            Some(Ok(Message::Binary(_))) => {}
            Some(Ok(Message::Close(_))) => break,
            other => panic!("expected the close reply, got {other:?}"),
        }
    }
    drop(t);
    eventually("the shell and all its jobs ending", || {
        !alive(shell) && !alive(bg) && !alive(nohup) && !alive(fg)
    })
    .await;
}

#[tokio::test]
async fn shutdown_ends_every_session() {
    let s = start(|_| {}).await;
    let mut t = Term::open(&s).await;
    t.send(b"echo pid=$$\n").await;
    let shell = t.number_after("pid=").await;
    s.app.cancel.cancel();
    let closed = t.closed().await;
    assert_eq!(closed.code, Some(1001), "{closed:?}");
    eventually("the shell ending", || !alive(shell)).await;
    s.app.tracker.close();
    tokio::time::timeout(WAIT, s.app.tracker.wait()).await.expect("the session task ends");
}

#[tokio::test]
async fn tickets_are_single_use_short_lived_and_personal() {
    let s = start(|_| {}).await;
    let tk = ticket(&s).await;
    assert_eq!(tk.len(), 32);
    assert!(tk.chars().all(|c| c.is_ascii_hexdigit()));
    let mut ws = connect(&s, &s.login, &tk).await.unwrap_or_else(|e| panic!("{e:?}"));
    ws.close(None).await.unwrap();
    // Used once: refused before any upgrade, as JSON.
    let (status, body) = connect(&s, &s.login, &tk).await.expect_err("a used ticket is refused");
    assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("bad_ticket")));
    let (status, body) =
        connect(&s, &s.login, "00112233445566778899aabbccddeeff").await.expect_err("refused");
    assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("bad_ticket")));
    // A plain GET (no upgrade) with a bad ticket gets the same JSON answer.
    let req = Request::get("/api/terminal/ws?ticket=nope")
        .header(header::COOKIE, &s.login.cookie)
        .body(Body::empty())
        .unwrap();
    let (status, body) = common::request(&s.app, req).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("bad_ticket")));

    // Another admin cannot use it (and burns it).
    s.app.auth.create_user("admin2", common::ADMIN_PASSWORD, Level::Admin).await.unwrap();
    let login2 = login_as(&s.app, "admin2", common::ADMIN_PASSWORD).await;
    let tk = ticket(&s).await;
    let (status, _) = connect(&s, &login2, &tk).await.expect_err("another user's ticket is refused");
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = connect(&s, &s.login, &tk).await.expect_err("a burnt ticket is refused");
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Expired: a zero TTL makes every ticket stale at once.
    let s = start_with_limits(|l| l.ticket_ttl = Duration::ZERO).await;
    let tk = ticket(&s).await;
    let (status, body) = connect(&s, &s.login, &tk).await.expect_err("an expired ticket is refused");
    assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("bad_ticket")));
}

#[tokio::test]
async fn only_admins_get_tickets() {
    let s = start(|_| {}).await;
    s.app.auth.create_user("viewer", common::ADMIN_PASSWORD, Level::Read).await.unwrap();
    let viewer = login_as(&s.app, "viewer", common::ADMIN_PASSWORD).await;
    let (status, body) = post_ticket(&s.app, &viewer).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{body}");
    let (status, _) = connect(&s, &viewer, "whatever").await.expect_err("a viewer cannot upgrade");
    assert_eq!(status, StatusCode::FORBIDDEN);
    // An admin's API token opens no terminal either: a root shell needs an interactive login.
    let token = common::admin_token(&s.app).await;
    let req = Request::post("/api/terminal/ticket")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let (status, body) = common::request(&s.app, req).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body["message"].as_str().unwrap().contains("interactive login"), "{body}");
}

#[tokio::test]
async fn a_disabled_terminal_answers_403() {
    let s = start(|c| c.terminal.enabled = false).await;
    let (status, body) = post_ticket(&s.app, &s.login).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("terminal_disabled")));
    let (status, body) = connect(&s, &s.login, "whatever").await.expect_err("refused");
    assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("terminal_disabled")));
}

#[tokio::test]
async fn a_message_over_the_limit_closes_with_1009() {
    let s = start(|c| c.terminal.max_frame_bytes = 1024).await;
    let mut t = Term::open(&s).await;
    // At the limit is fine.
    let mut ok = b"echo at-limit-$((1+1)) #".to_vec();
    ok.resize(1023, b'x');
    ok.push(b'\n');
    t.send(&ok).await;
    t.expect("at-limit-2").await;
    t.send(&vec![b'y'; 1025]).await;
    let closed = t.closed().await;
    assert_eq!((closed.code, closed.reason.as_str()), (Some(1009), "message too big"), "{closed:?}");
    // Text control messages are bounded the same way.
    let mut t = Term::open(&s).await;
    t.ws.send(Message::Text("z".repeat(2000).into())).await.unwrap();
    assert_eq!(t.closed().await.code, Some(1009));
}

#[tokio::test]
async fn a_shell_that_cannot_start_closes_with_1011() {
    let s = start(|c| c.terminal.command = vec!["/nonexistent/shell".into()]).await;
    let mut t = Term::open(&s).await;
    let closed = t.closed().await;
    assert_eq!((closed.code, closed.reason.as_str()), (Some(1011), "cannot start the shell"), "{closed:?}");
    eventually("the slot coming back", || s.app.terminal.sessions().is_empty()).await;
}

#[tokio::test]
async fn bulk_output_arrives_complete_and_in_order() {
    let s = start(|_| {}).await;
    let mut t = Term::open(&s).await;
    // ~200 KB: more than the bounded queue between the PTY and the socket.
    t.send(b"seq 1 30000; echo bulk-$((1+1))\n").await;
    t.expect("bulk-2").await;
    let expected: String = (1..=30000).map(|n| format!("{n}\r\n")).collect();
    let out = String::from_utf8_lossy(&t.out);
    assert!(out.contains(&expected), "the output lost or reordered bytes ({} bytes seen)", t.out.len());
}

#[tokio::test]
async fn a_session_cut_short_still_takes_its_processes() {
    // The server on a runtime of its own, dropped without a graceful stop.
    let server_rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let s = server_rt.spawn(start(|_| {})).await.unwrap();
    let mut t = Term::open(&s).await;
    t.send(b"echo pid=$$; nohup sleep 1002 >/dev/null 2>&1 & echo nohup=$!\n").await;
    let shell = t.number_after("pid=").await;
    let nohup = t.number_after("nohup=").await;
    assert!(alive(shell) && alive(nohup));
    server_rt.shutdown_background();
    eventually("the shell and its hang-up-proof job ending", || !alive(shell) && !alive(nohup)).await;
}

/// A request through the router with a login's cookie (and CSRF token) and a JSON body.
async fn as_login(
    app: &Arc<App>,
    login: &Login,
    method: &str,
    uri: &str,
    body: Value,
) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::COOKIE, &login.cookie)
        .header("x-csrf-token", &login.csrf)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    common::request(app, req).await
}

#[tokio::test]
async fn a_terminal_closes_when_its_login_loses_authority() {
    let s = start(|_| {}).await;
    let cases = [
        "logout",
        "log out everywhere",
        "password change",
        "revoked by an admin",
        "disable",
        "demote",
        "delete",
    ];
    for (n, case) in cases.iter().enumerate() {
        let user = format!("ops{n}");
        s.app.auth.create_user(&user, common::ADMIN_PASSWORD, Level::Admin).await.unwrap();
        let login = login_as(&s.app, &user, common::ADMIN_PASSWORD).await;
        // A second browser of the same user.
        let other = login_as(&s.app, &user, common::ADMIN_PASSWORD).await;
        let mut t = Term::open_as(&s, &login).await;
        t.send(b"echo alive-$((6*7))\n").await;
        t.expect("alive-42").await;
        let users = format!("/api/auth/users/{user}");
        let (status, body) = match *case {
            "logout" => as_login(&s.app, &login, "POST", "/api/auth/logout", json!({})).await,
            "log out everywhere" => as_login(&s.app, &other, "DELETE", "/api/auth/sessions", json!({})).await,
            "password change" => {
                let body = json!({"current_password": common::ADMIN_PASSWORD, "new_password": "another-long-passphrase"});
                as_login(&s.app, &other, "POST", "/api/auth/password", body).await
            }
            "revoked by an admin" => {
                let (_, list) = as_login(&s.app, &s.login, "GET", "/api/auth/sessions", json!({})).await;
                let sid = list["sessions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|x| x["user"] == user.as_str())
                    .map(|x| x["id"].as_str().unwrap().to_string())
                    .collect::<Vec<_>>();
                let mut last = (StatusCode::OK, Value::Null);
                for id in sid {
                    last =
                        as_login(&s.app, &s.login, "DELETE", &format!("/api/auth/sessions/{id}"), json!({}))
                            .await;
                }
                last
            }
            "disable" => as_login(&s.app, &s.login, "PATCH", &users, json!({"disabled": true})).await,
            "demote" => as_login(&s.app, &s.login, "PATCH", &users, json!({"role": "operator"})).await,
            "delete" => as_login(&s.app, &s.login, "DELETE", &users, json!({})).await,
            _ => unreachable!(),
        };
        assert!(status.is_success(), "{case}: {status} {body}");
        // Closed at once (the recheck interval is 10 s; the wait is the close itself).
        let started = Instant::now();
        let closed = t.closed().await;
        assert_eq!(closed.code, Some(4001), "{case}: {closed:?}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{case}: closed only after {:?}",
            started.elapsed()
        );
        let out = String::from_utf8_lossy(&t.out).to_string();
        assert!(out.contains("[proxwatch] terminal closed:"), "{case}: {out}");
        let events =
            proxwatch::auth::audit::AuditLog::list(s.app.auth.db(), 50, Some(user.clone())).await.unwrap();
        assert!(events.iter().any(|e| e.kind == "terminal_revoked"), "{case}: {events:?}");
    }
    // The admin's own terminal was untouched by all of that.
    let mut mine = Term::open(&s).await;
    mine.send(b"echo still-here\n").await;
    mine.expect("still-here").await;
}

#[tokio::test]
async fn typing_does_not_keep_an_idle_login_alive() {
    // Time passing is announced by nobody: the periodic re-check finds the login idle past its
    // timeout although the terminal itself is busy.
    let s = start_with_limits(|l| l.recheck = Duration::from_millis(100)).await;
    let mut t = Term::open(&s).await;
    t.send(b"echo up\n").await;
    t.expect("up").await;
    let idle_s = (s.app.config.auth.session_idle_minutes * 60) as i64;
    s.app.auth.age_sessions_for_test(common::ADMIN, idle_s + 5);
    t.send(b"echo still typing\n").await;
    let closed = t.closed().await;
    assert_eq!(closed.code, Some(4001), "{closed:?}");
    assert!(String::from_utf8_lossy(&t.out).contains("timed out"), "{}", String::from_utf8_lossy(&t.out));
}
