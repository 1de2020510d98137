//! Service monitors (issue 18) against real peers: an HTTPS service with a self-signed certificate
//! that expires in two days, checked with and without verification.

use std::time::Duration;

use proxwatch::httpc::Client;
use proxwatch::model::monitor::StatusRange;
use proxwatch::monitors::probe::{HttpExpect, http};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[tokio::test]
async fn https_with_a_self_signed_certificate_near_its_expiry() {
    let tmp = tempfile::tempdir().unwrap();
    // Valid for two more days.
    let acceptor = crate::common::localhost_tls(tmp.path());
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let serve = async move {
        loop {
            let Ok((tcp, _)) = l.accept().await else { break };
            let Ok(mut tls) = acceptor.accept(tcp).await else { continue };
            let mut buf = [0u8; 2048];
            let _ = tls.read(&mut buf).await;
            let body = "<title>Home Assistant</title>";
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = tls.write_all(answer.as_bytes()).await;
            let _ = tls.shutdown().await;
        }
    };
    let mut server = tokio::task::JoinSet::new();
    server.spawn(serve);

    let client = Client::new("proxwatch/test", Duration::from_secs(5));
    let url = format!("https://localhost:{port}/");
    let mut expect = HttpExpect {
        status: StatusRange::default(),
        keyword: Some("Home Assistant"),
        json: None,
        follow_redirects: true,
        verify_tls: true,
    };
    // Verified: refused in the handshake, with rustls' reason.
    let o = http(1, &client, &url, &expect, Duration::from_secs(3)).await;
    assert!(!o.ok);
    let e = o.error.unwrap();
    assert!(e.contains("invalid peer certificate") && e.contains("UnknownIssuer"), "{e}");
    // Not verified: up, and the certificate's expiry is read (about two days from now).
    expect.verify_tls = false;
    let o = http(2, &client, &url, &expect, Duration::from_secs(3)).await;
    assert!(o.ok, "{o:?}");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let left = o.cert_expires.unwrap() - now;
    assert!((86_400..=2 * 86_400 + 60).contains(&left), "expires in {left} s");
    server.abort_all();
}
