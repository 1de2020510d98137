//! Connection bounds on the real server (a loopback socket, raw TCP clients): slow heads, slow
//! bodies, idle keep-alive connections, per-address and total caps, and oversized requests. Every
//! wait is on an event (bytes or EOF) with a deadline well above the configured bound.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use proxwatch::server::Limits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::common;

const DEADLINE: Duration = Duration::from_secs(8);

fn limits() -> Limits {
    Limits {
        header_timeout: Duration::from_secs(1),
        body_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(1),
        max_connections: 64,
        max_per_ip: 3,
        trusted: Vec::new(),
    }
}

async fn start(limits: Limits) -> (SocketAddr, CancellationToken) {
    let app = common::bare_app(common::test_config(), "pve-zfs");
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
    (addr, cancel)
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

#[tokio::test]
async fn a_slow_request_head_is_cut_off() {
    let (addr, _stop) = start(limits()).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /api/health/live HTTP/1.1\r\nHost: 127").await.unwrap();
    let (_, took) = until_closed(&mut s).await;
    assert!(took >= Duration::from_millis(900), "{took:?}");
}

#[tokio::test]
async fn a_slow_body_is_cut_off() {
    let (addr, _stop) = start(limits()).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(
        b"POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"username\"",
    )
    .await
    .unwrap();
    let (answer, _) = until_closed(&mut s).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("\"error\""), "{answer}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let (addr, _stop) = start(limits()).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /api/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
    let (answer, took) = until_closed(&mut s).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(took >= Duration::from_millis(900), "closed at once, not after the idle time: {took:?}");
    // A connection that never sends anything goes too.
    let mut quiet = TcpStream::connect(addr).await.unwrap();
    let (answer, _) = until_closed(&mut quiet).await;
    assert!(answer.is_empty(), "{answer}");
}

#[tokio::test]
async fn connections_are_capped_per_address() {
    let (addr, _stop) = start(limits()).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect_from(addr, "127.0.0.1").await);
    }
    let mut fourth = connect_from(addr, "127.0.0.1").await;
    let (answer, _) = until_closed(&mut fourth).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("Retry-After: 5") && answer.contains("too_many_connections"), "{answer}");
    // Another address is still served.
    let mut other = connect_from(addr, "127.0.0.2").await;
    other
        .write_all(b"GET /api/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let (answer, _) = until_closed(&mut other).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // A slot comes back when a connection closes.
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
async fn oversized_targets_and_headers_get_json() {
    let (addr, _stop) = start(limits()).await;
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
    assert!(answer.contains("\"error\":\"uri_too_long\""), "{answer}");

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
    assert!(answer.contains("\"error\":\"headers_too_large\""), "{answer}");
}
