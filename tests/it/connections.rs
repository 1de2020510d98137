//! Connection bounds on the real server (a loopback socket, raw TCP clients): slow heads, slow
//! bodies, idle keep-alive connections, per-address and total caps, and oversized requests. The
//! bounds come from the `[server]` config, shortened to one second; each test leaves the bounds it
//! does not test long, so that only the one under test can close the connection. Every wait is on
//! an event (bytes or EOF) with a deadline well above the configured bound.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use proxwatch::app::{App, LiveSample};
use proxwatch::config::Config;
use proxwatch::server::Limits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::common;

/// Far above every bound a test configures (1 s), far below what a test may take.
const DEADLINE: Duration = Duration::from_secs(6);

/// Every bound long (60 s) and the caps generous; a test shortens the one it exercises.
fn config() -> Config {
    let mut cfg = common::test_config();
    cfg.server.header_timeout_s = 60;
    cfg.server.body_timeout_s = 60;
    cfg.server.idle_timeout_s = 60;
    cfg.server.max_connections = 64;
    cfg.server.max_connections_per_ip = 64;
    cfg
}

/// The real accept loop over the pve-zfs app on 127.0.0.1:<free port>; stopped when the guard drops.
async fn start(cfg: Config) -> (SocketAddr, tokio_util::sync::DropGuard) {
    serve_app(common::bare_app(cfg, "pve-zfs")).await
}

async fn serve_app(app: Arc<App>) -> (SocketAddr, tokio_util::sync::DropGuard) {
    app.config.validate().unwrap();
    let limits = Limits::from_config(&app.config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        let router = proxwatch::app::router(app);
        proxwatch::server::serve(listener, router, "/".into(), None, limits, stop, Duration::from_secs(1))
            .await
            .unwrap();
    });
    (addr, cancel.drop_guard())
}

async fn connect_from(addr: SocketAddr, source: &str) -> TcpStream {
    let sock = TcpSocket::new_v4().unwrap();
    sock.bind(format!("{source}:0").parse().unwrap()).unwrap();
    sock.connect(addr).await.unwrap()
}

/// Reads until EOF (or the deadline, which fails the test); returns what came and how long it took.
async fn until_closed(s: &mut TcpStream) -> (String, Duration) {
    let started = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = DEADLINE.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&out).into_owned(), started.elapsed()),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the server kept the connection open: {}", String::from_utf8_lossy(&out)),
        }
    }
}

fn content_length(head: &str) -> usize {
    head.lines()
        .find_map(|l| {
            l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no Content-Length: {head}"))
}

/// Sends `GET /api/health/live` on a kept-alive connection and reads exactly its response.
async fn live(s: &mut TcpStream) -> String {
    s.write_all(b"GET /api/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let started = Instant::now();
    loop {
        let text = String::from_utf8_lossy(&out).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            if body.len() >= content_length(head) {
                return text;
            }
        }
        let left = DEADLINE.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => panic!("closed before the response was complete: {text}"),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => panic!("no response: {text}"),
        }
    }
}

/// The body of a complete response, checked against its `Content-Length`, as JSON.
fn json_body(answer: &str) -> serde_json::Value {
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no head: {answer}"));
    assert_eq!(body.len(), content_length(head), "Content-Length does not match the body: {answer}");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

#[tokio::test]
async fn a_slow_request_head_is_cut_off() {
    let mut cfg = config();
    cfg.server.header_timeout_s = 1;
    let (addr, _stop) = start(cfg).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /api/health/live HT").await.unwrap();
    let (answer, took) = until_closed(&mut s).await;
    assert!(took >= Duration::from_millis(900), "closed before the header timeout: {took:?}");
    assert!(answer.is_empty(), "{answer}");

    // The same bound holds for the second request on a kept-alive connection.
    let mut s = TcpStream::connect(addr).await.unwrap();
    assert!(live(&mut s).await.starts_with("HTTP/1.1 200"));
    s.write_all(b"GET /api/health/live HTTP/1.1\r\nHost: 12").await.unwrap();
    let (answer, took) = until_closed(&mut s).await;
    assert!(took >= Duration::from_millis(900), "closed before the header timeout: {took:?}");
    assert!(answer.is_empty(), "{answer}");
}

#[tokio::test]
async fn a_slow_body_is_cut_off() {
    let mut cfg = config();
    cfg.server.body_timeout_s = 1;
    let (addr, _stop) = start(cfg).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(
        b"POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"username\"",
    )
    .await
    .unwrap();
    let (answer, took) = until_closed(&mut s).await;
    assert!(took >= Duration::from_millis(900), "answered before the body timeout: {took:?}");
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(json_body(&answer)["error"].is_string(), "{answer}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    // The header timeout is shorter and must not apply to a connection that has sent nothing of a
    // new request (hyper's own header_read_timeout would close it then).
    let mut cfg = config();
    cfg.server.header_timeout_s = 1;
    cfg.server.idle_timeout_s = 2;
    let (addr, _stop) = start(cfg).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    assert!(live(&mut s).await.starts_with("HTTP/1.1 200"));
    let (rest, took) = until_closed(&mut s).await;
    assert!(rest.is_empty(), "{rest}");
    assert!(took >= Duration::from_millis(1900), "closed before the idle time: {took:?}");
    // A connection that never sends anything goes too.
    let mut quiet = TcpStream::connect(addr).await.unwrap();
    let (answer, took) = until_closed(&mut quiet).await;
    assert!(answer.is_empty(), "{answer}");
    assert!(took >= Duration::from_millis(1900), "closed before the idle time: {took:?}");
}

#[tokio::test]
async fn a_stream_in_flight_is_not_idle() {
    let mut cfg = config();
    cfg.server.idle_timeout_s = 1;
    cfg.server.header_timeout_s = 1;
    let app = common::bare_app(cfg, "pve-zfs");
    let token = common::admin_token(&app).await;
    let (addr, _stop) = serve_app(app.clone()).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("GET /api/live HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains("\r\n\r\n") {
        let n = tokio::time::timeout(DEADLINE, s.read(&mut buf)).await.unwrap().unwrap();
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&got).into_owned();
    assert!(head.starts_with("HTTP/1.1 200") && head.contains("text/event-stream"), "{head}");
    // No sample yet, so the stream is silent; it must outlive the idle timeout several times over.
    match tokio::time::timeout(Duration::from_millis(3500), s.read(&mut buf)).await {
        Err(_) => {}
        Ok(r) => panic!("the stream was cut or spoke early: {r:?}"),
    }
    // And it still delivers.
    app.vitals.send_replace(Some(Arc::new(LiveSample::new(common::sample_pair()).unwrap())));
    let mut event = Vec::new();
    while !String::from_utf8_lossy(&event).contains("event: vitals") {
        let n = tokio::time::timeout(DEADLINE, s.read(&mut buf)).await.unwrap().unwrap();
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&event));
        event.extend_from_slice(&buf[..n]);
    }
}

#[tokio::test]
async fn connections_are_capped_per_address() {
    let mut cfg = config();
    cfg.server.max_connections_per_ip = 3;
    let (addr, _stop) = start(cfg).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut s = connect_from(addr, "127.0.0.1").await;
        assert!(live(&mut s).await.starts_with("HTTP/1.1 200"));
        held.push(s);
    }
    // The fourth is refused, even when it has already sent its request (a browser does).
    let mut fourth = connect_from(addr, "127.0.0.1").await;
    fourth.write_all(b"GET /api/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
    let (answer, _) = until_closed(&mut fourth).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("Retry-After: 5") && answer.contains("Connection: close"), "{answer}");
    assert!(answer.contains("Content-Type: application/json"), "{answer}");
    assert_eq!(json_body(&answer)["error"], "too_many_connections", "{answer}");
    // Another address is still served.
    let mut other = connect_from(addr, "127.0.0.2").await;
    assert!(live(&mut other).await.starts_with("HTTP/1.1 200"));
    // A slot comes back when a connection closes (the server notices the EOF a moment after the
    // client closed, so this polls, within the deadline).
    drop(held.pop());
    let deadline = Instant::now() + DEADLINE;
    loop {
        let mut again = connect_from(addr, "127.0.0.1").await;
        again
            .write_all(b"GET /api/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let (answer, _) = until_closed(&mut again).await;
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "the slot never came back: {answer}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn connections_are_capped_in_total_and_trusted_proxies_only_count_there() {
    let mut cfg = config();
    cfg.server.max_connections = 4;
    cfg.server.max_connections_per_ip = 1;
    cfg.auth.trusted_proxies = vec!["127.0.0.2/32".into()];
    let (addr, _stop) = start(cfg).await;
    let mut held = Vec::new();
    // The proxy is not held to the per-address cap of one...
    for _ in 0..3 {
        let mut s = connect_from(addr, "127.0.0.2").await;
        assert!(live(&mut s).await.starts_with("HTTP/1.1 200"));
        held.push(s);
    }
    let mut s = connect_from(addr, "127.0.0.1").await;
    assert!(live(&mut s).await.starts_with("HTTP/1.1 200"));
    held.push(s);
    // ...but the total of four holds for everyone.
    for source in ["127.0.0.2", "127.0.0.3"] {
        let mut s = connect_from(addr, source).await;
        let (answer, _) = until_closed(&mut s).await;
        assert!(answer.starts_with("HTTP/1.1 503"), "{source}: {answer}");
    }
}

#[tokio::test]
async fn oversized_targets_and_headers_get_json() {
    let (addr, _stop) = start(config()).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    let long = "a".repeat(10 * 1024);
    s.write_all(
        format!("GET /api/system?q={long} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let (answer, _) = until_closed(&mut s).await;
    assert!(answer.starts_with("HTTP/1.1 414"), "{}", &answer[..answer.len().min(200)]);
    assert_eq!(json_body(&answer)["error"], "uri_too_long", "{answer}");

    let mut s = TcpStream::connect(addr).await.unwrap();
    let headers: String = (0..150).map(|i| format!("X-Filler-{i}: x\r\n")).collect();
    s.write_all(
        format!("GET /api/system HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Connection: close\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let (answer, _) = until_closed(&mut s).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    assert_eq!(json_body(&answer)["error"], "headers_too_large", "{answer}");

    // Headers under the count but over 32 KiB in total.
    let mut s = TcpStream::connect(addr).await.unwrap();
    let big: String = (0..5).map(|i| format!("X-Big-{i}: {}\r\n", "b".repeat(8 * 1024))).collect();
    s.write_all(
        format!("GET /api/system HTTP/1.1\r\nHost: 127.0.0.1\r\n{big}Connection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let (answer, _) = until_closed(&mut s).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    assert_eq!(json_body(&answer)["error"], "headers_too_large", "{answer}");
}
