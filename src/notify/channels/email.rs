//! E-mail: over SMTP with lettre (no TLS, STARTTLS or implicit TLS; optional AUTH), or handed to the
//! host's own MTA (`/usr/sbin/sendmail -t -i`, which queues and retries: PVE hosts ship Postfix).
//!
//! One message is a `multipart/alternative` with a text part and an HTML part (escaped, with a
//! colour bar for the severity), Subject `[proxwatch <host>] <title>`, a Message-ID derived from
//! the event's fingerprint (`<fingerprint@host.proxwatch>`, so a resend after a crash is the same
//! message to the recipient's client and to a deduplicating MTA), an `X-Proxwatch-Event:
//! <fingerprint>` header and the event's time as Date.
//!
//! Security modes (notify-metrics.md §B "E-mail (SMTP)"): `tls` is implicit TLS (RFC 8314's
//! recommendation, PVE's default, port 465); `starttls` upgrades on 587 and, as lettre's
//! `Tls::Required` does, refuses to go on (no credentials, no mail) when the upgrade is not offered
//! or fails, so a stripped STARTTLS cannot downgrade it; `none` is plain SMTP on 25, for a local or
//! LAN relay (credentials configured with it do cross the network in the clear). lettre's pool is
//! not compiled in: each send is one connection, bounded as a whole by the channel's timeout.
//!
//! Replies: a 5xx (lettre's `is_permanent`) is [`SendError::Permanent`] with the server's own text
//! (`535 5.7.8 authentication failed`); lettre's client errors (no STARTTLS offered, no AUTH
//! mechanism in common) are config problems, permanent too; a 4xx, a refused connection, a TLS
//! failure or a timeout is [`SendError::Retry`] with the whole cause chain. The password never
//! appears in either.
//!
//! The sendmail transport needs the host seam (only `host/` spawns processes): the engine calls
//! [`send_via_sendmail`] with its `Host`; [`Channel::send`] cannot, and says so.

use std::time::{Duration, SystemTime};

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::{Deserialize, Serialize};

use super::{Channel, Ctx, Delivered, SendError};
use crate::notify::{Message, Severity};

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "NotifyEmail"))]
#[serde(deny_unknown_fields)]
pub struct Email {
    #[serde(default)]
    pub transport: Transport,
    #[serde(default)]
    pub host: String,
    /// None: 25, 587 or 465 by [`Security`].
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub security: Security,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    pub from: String,
    pub to: Vec<String>,
    /// Accept a self-signed server certificate (a LAN relay). Off by default.
    #[serde(default)]
    pub accept_invalid_certs: bool,
}

impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Email")
            .field("transport", &self.transport)
            .field("host", &self.host)
            .field("port", &self.port())
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("from", &self.from)
            .field("to", &self.to)
            .field("accept_invalid_certs", &self.accept_invalid_certs)
            .finish()
    }
}

impl Channel for Email {
    fn validate(&self) -> Result<(), String> {
        self.from.trim().parse::<Mailbox>().map_err(|e| format!("from: not an e-mail address ({e})"))?;
        if self.to.iter().all(|t| t.trim().is_empty()) {
            return Err("to: at least one recipient is required".into());
        }
        for to in &self.to {
            to.trim().parse::<Mailbox>().map_err(|e| format!("to: {to:?} is not an e-mail address ({e})"))?;
        }
        if self.transport == Transport::Smtp {
            let host = self.host.trim();
            if host.is_empty() {
                return Err("host: the SMTP server is required".into());
            }
            if host.contains(|c: char| c.is_whitespace() || c == '/' || c == ':')
                && host.parse::<std::net::Ipv6Addr>().is_err()
            {
                return Err("host: a host name or address only (the port is its own field)".into());
            }
            if self.port == Some(0) {
                return Err("port: must be between 1 and 65535".into());
            }
            if self.password.as_deref().is_some_and(|p| !p.is_empty()) && self.user().is_none() {
                return Err("username: required with a password".into());
            }
        }
        Ok(())
    }

    async fn send(&self, ctx: &Ctx, msg: &Message) -> Result<Delivered, SendError> {
        match self.transport {
            Transport::Smtp => self.send_smtp(ctx.timeout, msg).await,
            Transport::Sendmail => Err(SendError::permanent("sendmail needs the host: engine wires it")),
        }
    }
}

impl Email {
    /// The port: the configured one, or the mode's standard one.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.security {
            Security::None => 25,
            Security::Starttls => 587,
            Security::Tls => 465,
        })
    }

    fn user(&self) -> Option<&str> {
        self.username.as_deref().map(str::trim).filter(|u| !u.is_empty())
    }

    async fn send_smtp(&self, timeout: Duration, msg: &Message) -> Result<Delivered, SendError> {
        let email = build_message(self, msg)?;
        let transport = self.transport_for(timeout)?;
        // lettre's timeout is per command; the channel's bound is for the whole send.
        let sent = match tokio::time::timeout(timeout, transport.send(email)).await {
            Ok(sent) => sent,
            Err(_) => {
                return Err(SendError::retry(format!("the SMTP server did not finish within {timeout:?}")));
            }
        };
        match sent {
            Ok(response) => {
                let lines: Vec<&str> = response.message().collect();
                Ok(Delivered { reply: format!("{} {}", response.code(), lines.join(" ")).trim().to_string() })
            }
            Err(e) => Err(classify(&e, self.password.as_deref())),
        }
    }

    fn transport_for(&self, timeout: Duration) -> Result<AsyncSmtpTransport<Tokio1Executor>, SendError> {
        let host = self.host.trim();
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(self.port())
            .timeout(Some(timeout));
        if self.security != Security::None {
            let params = TlsParameters::builder(host.to_string())
                .dangerous_accept_invalid_certs(self.accept_invalid_certs)
                .build()
                .map_err(|e| SendError::permanent(format!("TLS settings: {}", chain(&e))))?;
            builder = builder.tls(match self.security {
                // What `starttls_relay` sets: no upgrade, no credentials and no mail.
                Security::Starttls => Tls::Required(params),
                // What `relay` sets: TLS from the first byte.
                _ => Tls::Wrapper(params),
            });
        }
        if let Some(user) = self.user() {
            builder = builder
                .credentials(Credentials::new(user.to_string(), self.password.clone().unwrap_or_default()));
        }
        Ok(builder.build())
    }
}

/// Sends `msg` through the host's MTA: `/usr/sbin/sendmail -t -i -f <from>` fed the formatted
/// message (`-t`: the recipients are the To header's; `-i`: a line with a lone `.` is not the end;
/// `-f`: bounces go to the configured sender). The MTA queues and retries, so "delivered" here
/// means queued. Exit codes are sysexits(3): 75 (`EX_TEMPFAIL`) and unknown ones are worth a retry;
/// usage, data, address and config errors are permanent.
pub async fn send_via_sendmail(
    host: &crate::host::Host,
    cfg: &Email,
    msg: &Message,
    timeout: Duration,
) -> Result<Delivered, SendError> {
    use crate::host::ToolError;
    let email = build_message(cfg, msg)?;
    let from = cfg.from.trim().parse::<Mailbox>().map_err(|e| SendError::permanent(format!("from: {e}")))?;
    let from = from.email.to_string();
    let argv = [SENDMAIL, "-t", "-i", "-f", from.as_str()];
    match host.run_with_stdin(&argv, &email.formatted(), timeout).await {
        Ok(out) if out.code == 0 => {
            let said = out.stdout.trim();
            Ok(Delivered {
                reply: if said.is_empty() { "sendmail: queued".into() } else { format!("sendmail: {said}") },
            })
        }
        Ok(out) => {
            let mut error = format!("sendmail exited with {}", out.code);
            let said = out.stderr.trim();
            if !said.is_empty() {
                error.push_str(": ");
                error.extend(said.chars().take(500));
            }
            // sysexits.h: 64 USAGE, 65 DATAERR, 67 NOUSER, 68 NOHOST, 77 NOPERM, 78 CONFIG.
            if matches!(out.code, 64 | 65 | 67 | 68 | 77 | 78) {
                Err(SendError::permanent(error))
            } else {
                Err(SendError::retry(error))
            }
        }
        Err(ToolError::Missing { .. }) => Err(SendError::permanent(format!(
            "{SENDMAIL} is not installed (install an MTA such as postfix, or use SMTP)"
        ))),
        Err(e) => Err(SendError::retry(e.to_string())),
    }
}

/// Where the host's MTA takes mail (Postfix, Exim and msmtp-mta all install it here).
pub const SENDMAIL: &str = "/usr/sbin/sendmail";

/// The whole message, as it goes on the wire.
pub fn build_message(cfg: &Email, msg: &Message) -> Result<lettre::Message, SendError> {
    let from = cfg.from.trim().parse::<Mailbox>().map_err(|e| SendError::permanent(format!("from: {e}")))?;
    let hostname = one_line(&msg.hostname);
    let mut builder = lettre::Message::builder()
        .from(from)
        .subject(format!("[proxwatch {hostname}] {}", one_line(&msg.title)))
        .message_id(Some(message_id(&msg.fingerprint, &msg.hostname)))
        .date(SystemTime::UNIX_EPOCH + Duration::from_millis(u64::try_from(msg.ts_ms).unwrap_or(0)))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("X-Proxwatch-Event"),
            one_line(&msg.fingerprint),
        ))
        .user_agent(concat!("proxwatch/", env!("CARGO_PKG_VERSION")).to_string());
    let mut any = false;
    for to in cfg.to.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        let mbox = to.parse::<Mailbox>().map_err(|e| SendError::permanent(format!("to: {to:?}: {e}")))?;
        builder = builder.to(mbox);
        any = true;
    }
    if !any {
        return Err(SendError::permanent("to: no recipient"));
    }
    builder
        .multipart(MultiPart::alternative_plain_html(text_body(msg), html_body(msg)))
        .map_err(|e| SendError::permanent(format!("building the message: {e}")))
}

/// `<fingerprint@host.proxwatch>`: RFC 5322 §3.6.4 allows only dot-atom text on each side, so any
/// other byte (and `=` itself) is written `=XX`: two fingerprints never share an id.
fn message_id(fingerprint: &str, hostname: &str) -> String {
    fn part(s: &str, empty: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = String::with_capacity(s.len());
        for (i, &b) in bytes.iter().enumerate() {
            let atext = b.is_ascii_alphanumeric() || b"!#$%&'*+-/?^_`{|}~".contains(&b);
            // A dot may not start, end or double.
            let dot_ok = b == b'.' && i > 0 && i + 1 < bytes.len() && !out.ends_with('.');
            if atext || dot_ok {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("={b:02X}"));
            }
        }
        if out.is_empty() { empty.to_string() } else { out }
    }
    format!("<{}@{}.proxwatch>", part(fingerprint, "event"), part(hostname, "host"))
}

fn one_line(s: &str) -> String {
    s.split(['\r', '\n']).map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

fn text_body(msg: &Message) -> String {
    let mut t = format!("{}\n\n{}\n", msg.title.trim(), msg.body.trim_end());
    if let Some(url) = &msg.url {
        t.push_str(&format!("\n{url}\n"));
    }
    t.push_str(&format!("\n-- \nproxwatch on {} · {}\n", msg.hostname, msg.severity.as_str()));
    t
}

fn colour(s: Severity) -> &'static str {
    match s {
        Severity::Info => "#2563eb",
        Severity::Warning => "#d97706",
        Severity::Critical => "#dc2626",
    }
}

/// Escapes text for HTML content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A plain table layout with inline styles: what mail clients render alike (no `<style>`, no CSS
/// the Gmail and Outlook engines drop).
fn html_body(msg: &Message) -> String {
    let bar = colour(msg.severity);
    let mut lines = String::new();
    for line in msg.body.lines() {
        if line.trim().is_empty() {
            lines.push_str("<div style=\"height:8px\"></div>\n");
        } else {
            lines.push_str(&format!("<div style=\"margin:0 0 4px\">{}</div>\n", esc(line)));
        }
    }
    // Only a web link becomes a link; anything else stays text.
    let link = match &msg.url {
        Some(u) if u.starts_with("https://") || u.starts_with("http://") => format!(
            "<p style=\"margin:16px 0 0\"><a href=\"{0}\" style=\"color:{bar}\">Open in proxwatch</a></p>\n",
            esc(u)
        ),
        Some(u) => format!("<p style=\"margin:16px 0 0\">{}</p>\n", esc(u)),
        None => String::new(),
    };
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body style=\"margin:0;padding:16px;background:#f5f5f5;font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;color:#111\">\n\
         <table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" style=\"max-width:640px;background:#fff;border-left:6px solid {bar}\">\n\
         <tr><td style=\"padding:16px 20px\">\n\
         <div style=\"font-size:12px;color:#666;text-transform:uppercase;letter-spacing:.04em\">{severity} · {host}</div>\n\
         <h1 style=\"margin:6px 0 12px;font-size:18px;line-height:1.3\">{title}</h1>\n\
         <div style=\"font-size:14px;line-height:1.45\">\n{lines}</div>\n{link}\
         </td></tr></table>\n\
         <p style=\"font-size:11px;color:#888;margin:12px 0 0\">Sent by proxwatch on {host}.</p>\n\
         </body></html>\n",
        title = esc(msg.title.trim()),
        severity = msg.severity.as_str(),
        host = esc(&msg.hostname),
    )
}

/// A failed send as the channel's outcome: the server's 5xx text, or the whole chain to retry on.
fn classify(e: &lettre::transport::smtp::Error, password: Option<&str>) -> SendError {
    let scrub = |s: String| match password.filter(|p| p.len() >= 4) {
        Some(p) => s.replace(p, "***"),
        None => s,
    };
    // For a reply, lettre's own text is "permanent error (535): 5.7.8 ..."; the server's reads better.
    let text = match e.status() {
        Some(code) => {
            let said = std::error::Error::source(e).map(ToString::to_string).unwrap_or_default();
            format!("{code} {said}").trim().to_string()
        }
        None => chain(e),
    };
    if e.is_permanent() || e.is_client() {
        SendError::permanent(scrub(text))
    } else {
        SendError::retry(scrub(text))
    }
}

/// An error and its sources, `: `-joined, each said once: lettre's Display already prints its
/// direct source, and wraps its own errors (`Connection error: Connection error: tls ...`).
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let said = s.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = s.source();
    }
    let mut parts: Vec<&str> = text.split(": ").collect();
    parts.dedup();
    parts.join(": ")
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "NotifyEmailTransport"))]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    #[default]
    Smtp,
    /// The host's own MTA (`/usr/sbin/sendmail`): Postfix queues and retries.
    Sendmail,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "NotifyEmailSecurity"))]
#[serde(rename_all = "snake_case")]
pub enum Security {
    None,
    Starttls,
    /// Implicit TLS (port 465), what RFC 8314 recommends and PVE's default.
    #[default]
    Tls,
}

/// The e-mail channel's test fixture (an SMTP config on loopback and an alert whose title and body
/// need escaping), shared by the unit tests below and the real-peer test `tests/it/notify_email.rs`.
#[doc(hidden)]
pub mod fixture {
    use std::collections::BTreeMap;

    use super::{Email, Security, Transport};
    use crate::notify::{Group, Message, Severity};

    pub fn config(port: u16) -> Email {
        Email {
            transport: Transport::Smtp,
            host: "127.0.0.1".into(),
            port: Some(port),
            security: Security::None,
            username: None,
            password: None,
            from: "Proxwatch <alerts@example.org>".into(),
            to: vec!["ops@example.org".into(), "Admin <admin@example.net>".into()],
            accept_invalid_certs: false,
        }
    }

    pub const FINGERPRINT: &str = "health.new:disk/sdb:1712345678";

    pub fn message() -> Message {
        Message {
            title: "Disk <sdb> & \"tank\" failing".into(),
            body: "8 reallocated sectors on /dev/sdb (was 0).\nPool 'tank' is <DEGRADED>.".into(),
            severity: Severity::Critical,
            kind: "health.new".into(),
            group: Group::Health,
            fingerprint: FINGERPRINT.into(),
            ts_ms: 1_712_345_678_000,
            hostname: "pve1".into(),
            fields: BTreeMap::new(),
            url: Some("https://pve1.lan:8443/#/disk/sdb?a=1&b=2".into()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
// The real SMTP peer (aiosmtpd, a process) is in tests/it/notify_email.rs; the scripted servers here
// are tasks of the test's own runtime.
mod tests {
    use std::sync::{Arc, Mutex};

    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    use super::fixture::{config, message};
    use super::*;

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    }

    fn ctx(timeout: Duration) -> Ctx {
        Ctx::new(timeout).unwrap()
    }

    #[tokio::test]
    async fn a_refused_connection_is_retried() {
        let port = free_port();
        let err = config(port).send(&ctx(Duration::from_secs(5)), &message()).await.unwrap_err();
        let SendError::Retry { error, .. } = &err else { panic!("{err:?}") };
        assert!(error.to_lowercase().contains("refused"), "{error}");
    }

    /// A scripted SMTP server for one connection: the greeting (none: it never speaks), then each
    /// command line answered by its verb (`None`: hang up). Every line the client sent is kept.
    // A scripted SMTP server: a task of the test's own runtime, not a loop of the product.
    #[allow(clippy::disallowed_methods)]
    async fn scripted(
        greeting: Option<&'static str>,
        answer: fn(&str) -> Option<&'static str>,
    ) -> (u16, Arc<Mutex<Vec<String>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            let (sock, _) = listener.accept().await.unwrap();
            let (r, mut w) = sock.into_split();
            let mut lines = BufReader::new(r).lines();
            let Some(greeting) = greeting else {
                // Silent: keep the connection open until the test is over.
                let _keep = (lines, w);
                std::future::pending::<()>().await;
                return;
            };
            w.write_all(greeting.as_bytes()).await.unwrap();
            while let Ok(Some(line)) = lines.next_line().await {
                log.lock().unwrap().push(line.clone());
                let verb = line.split(' ').next().unwrap_or_default().to_ascii_uppercase();
                match answer(&verb) {
                    Some(reply) if w.write_all(reply.as_bytes()).await.is_ok() => {}
                    _ => break,
                }
            }
        });
        (port, seen)
    }

    #[tokio::test]
    async fn a_4xx_is_retried_with_the_servers_words() {
        let (port, _) = scripted(Some("220 fake ESMTP\r\n"), |verb| match verb {
            "EHLO" => Some("250-fake\r\n250 8BITMIME\r\n"),
            "MAIL" => Some("451 4.3.0 mailbox busy, try again later\r\n"),
            "QUIT" => None,
            _ => Some("250 ok\r\n"),
        })
        .await;
        let err = config(port).send(&ctx(Duration::from_secs(5)), &message()).await.unwrap_err();
        let SendError::Retry { error, .. } = &err else { panic!("{err:?}") };
        assert_eq!(error, "451 4.3.0 mailbox busy, try again later");
    }

    #[tokio::test]
    async fn a_silent_server_is_retried_within_the_timeout() {
        let (port, _) = scripted(None, |_| None).await;
        let started = std::time::Instant::now();
        let err = config(port).send(&ctx(Duration::from_millis(500)), &message()).await.unwrap_err();
        assert!(matches!(err, SendError::Retry { .. }), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    }

    #[tokio::test]
    async fn starttls_never_sends_credentials_without_tls() {
        let mut cfg = config(0);
        cfg.security = Security::Starttls;
        cfg.username = Some("alerts".into());
        cfg.password = Some("hunter2-secret".into());

        // Not offered: a config problem, and nothing but EHLO was said.
        let (port, seen) = scripted(Some("220 fake ESMTP\r\n"), |verb| match verb {
            "EHLO" => Some("250-fake\r\n250 AUTH PLAIN LOGIN\r\n"),
            _ => Some("250 ok\r\n"),
        })
        .await;
        cfg.port = Some(port);
        let err = cfg.send(&ctx(Duration::from_secs(5)), &message()).await.unwrap_err();
        assert!(matches!(&err, SendError::Permanent { error } if error.contains("STARTTLS")), "{err:?}");
        assert!(seen.lock().unwrap().iter().all(|l| !l.starts_with("AUTH") && !l.starts_with("MAIL")));

        // Offered but the handshake fails: retried, and still no AUTH.
        let (port, seen) = scripted(Some("220 fake ESMTP\r\n"), |verb| match verb {
            "EHLO" => Some("250-fake\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n"),
            "STARTTLS" => Some("220 2.0.0 go ahead\r\nthis is not TLS at all\r\n"),
            _ => Some("250 ok\r\n"),
        })
        .await;
        cfg.port = Some(port);
        let err = cfg.send(&ctx(Duration::from_secs(5)), &message()).await.unwrap_err();
        let SendError::Retry { error, .. } = &err else { panic!("{err:?}") };
        assert!(error.to_lowercase().contains("tls"), "{error}");
        assert!(!error.contains("hunter2"));
        assert!(seen.lock().unwrap().iter().all(|l| !l.starts_with("AUTH")), "{:?}", seen.lock().unwrap());
    }

    #[test]
    fn validate_names_the_field() {
        let ok = config(25);
        assert_eq!(ok.validate(), Ok(()));
        let bad = |f: fn(&mut Email)| {
            let mut c = config(25);
            f(&mut c);
            c.validate().unwrap_err()
        };
        assert!(bad(|c| c.from = "not an address".into()).starts_with("from:"));
        assert!(bad(|c| c.to = vec![]).starts_with("to:"));
        assert!(bad(|c| c.to.push("nope".into())).starts_with("to:"));
        assert!(bad(|c| c.host = " ".into()).starts_with("host:"));
        assert!(bad(|c| c.host = "smtp.example.org:587".into()).starts_with("host:"));
        assert!(bad(|c| c.password = Some("x".into())).starts_with("username:"));
        let mut sendmail = config(25);
        sendmail.transport = Transport::Sendmail;
        sendmail.host.clear();
        assert_eq!(sendmail.validate(), Ok(()), "sendmail needs no server");
        // Ports by mode.
        let mut c = config(25);
        c.port = None;
        for (security, port) in [(Security::None, 25), (Security::Starttls, 587), (Security::Tls, 465)] {
            c.security = security;
            assert_eq!(c.port(), port);
        }
        assert!(
            !format!("{:?}", Email { password: Some("hunter2-secret".into()), ..config(25) })
                .contains("hunter2")
        );
    }

    #[test]
    fn message_ids_are_stable_and_valid() {
        assert_eq!(message_id("a.b:c d=e", "pve1.lan"), "<a.b=3Ac=20d=3De@pve1.lan.proxwatch>");
        assert_eq!(message_id(".x..y.", ""), "<=2Ex.=2Ey=2E@host.proxwatch>");
        assert_ne!(message_id("a:b", "h"), message_id("a_b", "h"));
    }

    /// A replayed host stands in for the MTA: the argv proxwatch runs, and how each exit reads.
    #[tokio::test]
    async fn sendmail_through_the_host_seam() {
        let cfg = Email { transport: Transport::Sendmail, ..config(25) };
        let argv = r#"["/usr/sbin/sendmail", "-t", "-i", "-f", "alerts@example.org"]"#;
        let host_with = |entry: &str| {
            let dir = tempfile::tempdir().unwrap();
            let manifest = format!("[scenario]\nname = \"mta\"\n[[command]]\nargv = {argv}\n{entry}\n");
            std::fs::write(dir.path().join("manifest.toml"), manifest).unwrap();
            let scenario = crate::host::Scenario::load(dir.path()).unwrap();
            (crate::host::Host::replay(scenario, Duration::from_secs(5)), dir)
        };
        let t = Duration::from_secs(5);
        let (host, _dir) = host_with("exit = 0");
        assert_eq!(send_via_sendmail(&host, &cfg, &message(), t).await.unwrap().reply, "sendmail: queued");
        let (host, _dir) = host_with("exit = 75\nstderr = \"queue file write error\"");
        let err = send_via_sendmail(&host, &cfg, &message(), t).await.unwrap_err();
        assert_eq!(err, SendError::retry("sendmail exited with 75: queue file write error"));
        let (host, _dir) = host_with("exit = 67");
        assert!(matches!(
            send_via_sendmail(&host, &cfg, &message(), t).await,
            Err(SendError::Permanent { .. })
        ));
        let (host, _dir) = host_with("missing = true");
        let err = send_via_sendmail(&host, &cfg, &message(), t).await.unwrap_err();
        assert!(matches!(&err, SendError::Permanent { error } if error.contains("not installed")), "{err:?}");
        // The channel itself cannot reach the host.
        let err = cfg.send(&ctx(t), &message()).await.unwrap_err();
        assert_eq!(err, SendError::permanent("sendmail needs the host: engine wires it"));
    }
}
