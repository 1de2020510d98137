//! The outgoing HTTP client against a real TLS server: a certificate no public root vouches for is
//! refused in the handshake, before a byte of the request (which may hold a token) is sent.

use std::time::Duration;

use proxwatch::httpc::{Client, Kind};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

#[tokio::test]
async fn a_self_signed_certificate_is_refused_before_the_request_is_sent() {
    let tmp = tempfile::tempdir().unwrap();
    let acceptor = crate::common::localhost_tls(tmp.path());

    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (tcp, _) = l.accept().await.unwrap();
        match acceptor.accept(tcp).await {
            // The client aborts the handshake: nothing decrypted ever arrives.
            Err(_) => Vec::new(),
            Ok(mut tls) => {
                let mut got = Vec::new();
                let _ = tls.read_to_end(&mut got).await;
                got
            }
        }
    });

    let c = Client::new("proxwatch/test", Duration::from_secs(10));
    let e = c
        .post(format!("https://localhost:{port}/bot123:SECRET/sendMessage"))
        .body("payload")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), Kind::Network);
    let text = e.to_string();
    assert!(text.starts_with("TLS handshake with localhost: "), "{text}");
    assert!(text.contains("invalid peer certificate") && text.contains("UnknownIssuer"), "{text}");
    assert!(!text.contains("SECRET"), "{text}");
    assert!(server.await.unwrap().is_empty(), "the server received application data");
}
