//! The e-mail channel against a real SMTP peer (PEERS.md §8): aiosmtpd, started by the test, checks
//! what arrived (headers, both MIME parts, escaping, a stable Message-ID on a resend) and refuses a
//! login with its own words. The peer is skipped only when aiosmtpd is missing and
//! `PROXWATCH_REQUIRE_PEERS` is unset (`scripts/test` installs it and sets it).

use std::time::Duration;

use proxwatch::notify::channels::email::fixture::{FINGERPRINT, config, message};
use proxwatch::notify::channels::{Channel, Ctx, SendError};
use serde_json::Value;

/// A real SMTP peer (PEERS.md §8): aiosmtpd on 127.0.0.1:`port`. Mode `sink` parses every
/// message it gets with Python's own `email` package and writes what it found as `N.json` in the
/// output folder before it answers 250; mode `refuse-auth` offers AUTH and refuses every login.
/// It stops when its stdin closes, that is, when the test drops it.
const PEER: &str = r#"
import email, email.policy, json, os, sys
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
mode, out, port = sys.argv[1], sys.argv[2], int(sys.argv[3])

class Sink:
    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        parts = [{"type": p.get_content_type(), "content": p.get_content()}
                 for p in msg.walk() if not p.is_multipart()]
        doc = {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
               "headers": [[k, str(v)] for k, v in msg.items()],
               "content_type": msg.get_content_type(), "parts": parts}
        n = len([f for f in os.listdir(out) if f.endswith(".json")])
        with open(os.path.join(out, ".tmp"), "w") as f:
            json.dump(doc, f)
        os.rename(os.path.join(out, ".tmp"), os.path.join(out, "%d.json" % n))
        return "250 2.0.0 Ok: queued as PW1"

def refuse(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=False, handled=False)

kw = {"authenticator": refuse, "auth_require_tls": False} if mode == "refuse-auth" else {}
c = Controller(Sink(), hostname="127.0.0.1", port=port, **kw)
c.start()
sys.stdin.read()
c.stop()
"#;

struct Peer {
    child: std::process::Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Peer {
    /// What the sink parsed of its `n`-th message.
    fn received(&self, n: usize) -> Value {
        let text = std::fs::read_to_string(self.dir.path().join(format!("{n}.json"))).unwrap();
        serde_json::from_str(&text).unwrap()
    }
}

/// A Python with aiosmtpd: Debian's (`/usr/bin/python3`; a pyenv shim in PATH may lack it).
fn python_with_aiosmtpd() -> Option<&'static str> {
    ["/usr/bin/python3", "python3"].into_iter().find(|py| {
        std::process::Command::new(py)
            .args(["-c", "import aiosmtpd"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts the aiosmtpd peer and waits until it accepts connections. `None` (the test skips)
/// only when aiosmtpd is missing and `PROXWATCH_REQUIRE_PEERS` is unset.
async fn peer(mode: &str) -> Option<Peer> {
    let Some(python) = python_with_aiosmtpd() else {
        assert!(
            std::env::var_os("PROXWATCH_REQUIRE_PEERS").is_none(),
            "python3-aiosmtpd is not installed and PROXWATCH_REQUIRE_PEERS is set"
        );
        eprintln!(
            "SKIPPED: python3-aiosmtpd is not installed (apt-get install python3-aiosmtpd); \
             set PROXWATCH_REQUIRE_PEERS=1 to make this a failure"
        );
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = std::process::Command::new(python)
        .args(["-c", PEER, mode, dir.path().to_str().unwrap(), &port.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut peer = Peer { child, dir, port };
    // Ready when it accepts a connection; polled, at most 10 s.
    for _ in 0..400 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Some(peer);
        }
        if let Some(status) = peer.child.try_wait().unwrap() {
            panic!("the aiosmtpd peer exited before it listened: {status}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the aiosmtpd peer did not listen on {port} within 10 s");
}

fn ctx(timeout: Duration) -> Ctx {
    Ctx::new(timeout).unwrap()
}

fn header<'a>(doc: &'a Value, name: &str) -> Vec<&'a str> {
    doc["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h[0].as_str().unwrap().eq_ignore_ascii_case(name))
        .map(|h| h[1].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_real_smtp_peer_receives_the_whole_message() {
    let Some(peer) = peer("sink").await else { return };
    let delivered = config(peer.port).send(&ctx(Duration::from_secs(10)), &message()).await.unwrap();
    assert_eq!(delivered.reply, "250 2.0.0 Ok: queued as PW1");

    let doc = peer.received(0);
    assert_eq!(doc["mail_from"], "alerts@example.org");
    assert_eq!(doc["rcpt_tos"], serde_json::json!(["ops@example.org", "admin@example.net"]));
    assert_eq!(header(&doc, "From"), ["Proxwatch <alerts@example.org>"]);
    assert_eq!(header(&doc, "To"), ["ops@example.org, Admin <admin@example.net>"]);
    assert_eq!(header(&doc, "Subject"), ["[proxwatch pve1] Disk <sdb> & \"tank\" failing"]);
    assert_eq!(header(&doc, "Message-ID"), ["<health.new=3Adisk/sdb=3A1712345678@pve1.proxwatch>"]);
    assert_eq!(header(&doc, "X-Proxwatch-Event"), [FINGERPRINT]);
    assert_eq!(header(&doc, "Date"), ["Fri, 05 Apr 2024 19:34:38 +0000"]);

    assert_eq!(doc["content_type"], "multipart/alternative");
    let parts = doc["parts"].as_array().unwrap();
    let types: Vec<&str> = parts.iter().map(|p| p["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["text/plain", "text/html"]);
    // The wire's CRLFs, as Python hands them over.
    let text = parts[0]["content"].as_str().unwrap().replace("\r\n", "\n");
    assert!(text.starts_with("Disk <sdb> & \"tank\" failing\n\n8 reallocated sectors"), "{text}");
    assert!(
        text.contains("Pool 'tank' is <DEGRADED>.")
            && text.contains("https://pve1.lan:8443/#/disk/sdb?a=1&b=2")
    );
    let html = parts[1]["content"].as_str().unwrap().replace("\r\n", "\n");
    assert!(html.contains("Disk &lt;sdb&gt; &amp; &quot;tank&quot; failing"), "{html}");
    assert!(html.contains("Pool &#39;tank&#39; is &lt;DEGRADED&gt;."), "{html}");
    assert!(!html.contains("<sdb>") && !html.contains("<DEGRADED>"), "nothing unescaped: {html}");
    assert!(html.contains("border-left:6px solid #dc2626"), "the critical colour bar: {html}");
    assert!(html.contains("href=\"https://pve1.lan:8443/#/disk/sdb?a=1&amp;b=2\""), "{html}");

    // A resend (after a crash) is the same message to the recipient.
    config(peer.port).send(&ctx(Duration::from_secs(10)), &message()).await.unwrap();
    assert_eq!(header(&peer.received(1), "Message-ID"), header(&doc, "Message-ID"));
}

#[tokio::test]
async fn a_refused_login_is_permanent_with_the_servers_words() {
    let Some(peer) = peer("refuse-auth").await else { return };
    let mut cfg = config(peer.port);
    cfg.username = Some("alerts".into());
    cfg.password = Some("hunter2-secret".into());
    let err = cfg.send(&ctx(Duration::from_secs(10)), &message()).await.unwrap_err();
    let SendError::Permanent { error } = &err else { panic!("{err:?}") };
    assert!(error.starts_with("535 5.7.8"), "{error}");
    assert!(!error.contains("hunter2"), "{error}");
}
