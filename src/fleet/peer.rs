//! One peer over the wire: the probe (the certificate shown before any token is sent), the
//! capability check (a checklist with a reason per row) and the poll of its summary. Every request
//! goes through `httpc` with the peer's certificate pinned by SHA-256 (self-signed Proxmox
//! certificates are the norm, so the web PKI proves nothing there) and a bounded time.

use std::time::Instant;

use crate::httpc::{self, Kind, Pin};
use crate::model::fleet::{Check, SUMMARY_API, Summary};

/// The largest summary read (a real one is ~2 KiB).
const SUMMARY_LIMIT: usize = 256 << 10;

/// What a probe saw: the peer's certificate and version, before the admin trusts it.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema, ts_rs::TS))]
#[cfg_attr(test, ts(rename = "FleetProbe"))]
#[cfg_attr(test, schemars(rename = "FleetProbe"))]
pub struct Probe {
    /// The URL as it will be stored.
    pub url: String,
    pub tls: bool,
    /// The certificate's SHA-256 (`AB:CD:…`), over HTTPS.
    pub fingerprint: Option<String>,
    pub rtt_ms: Option<f64>,
    /// The peer's proxwatch version (its public liveness answer).
    pub version: Option<String>,
    /// Why the probe failed, if it did.
    pub error: Option<String>,
}

/// A poll's outcome.
#[derive(Debug)]
pub enum Polled {
    Ok {
        summary: Box<Summary>,
        rtt_ms: f64,
    },
    /// Try again next interval.
    Failed(String),
    /// Stop polling until the admin re-tests: the token was refused, the certificate changed, the
    /// peer speaks another summary format.
    Hard {
        why: String,
        seen: Option<[u8; 32]>,
    },
}

/// The base URL as stored: `http(s)://host[:port][/base]`, no trailing slash, no query.
pub fn normalize(url: &str) -> Result<(String, bool), String> {
    let url = url.trim().trim_end_matches('/');
    if url.contains('?') || url.contains('#') {
        return Err("the URL must not carry a query or a fragment".into());
    }
    let t = httpc::Target::parse(url).map_err(|e| e.to_string())?;
    if url.len() > 512 {
        return Err("the URL is longer than 512 characters".into());
    }
    Ok((url.to_string(), t.is_tls()))
}

fn ms(since: Instant) -> f64 {
    (since.elapsed().as_secs_f64() * 10_000.0).round() / 10.0
}

/// The certificate and version a peer shows, no token sent (`GET /api/health/live`, public).
pub async fn probe(client: &httpc::Client, url: &str) -> Probe {
    let (url, tls) = match normalize(url) {
        Ok(u) => u,
        Err(e) => {
            return Probe {
                url: url.into(),
                tls: false,
                fingerprint: None,
                rtt_ms: None,
                version: None,
                error: Some(e),
            };
        }
    };
    let start = Instant::now();
    let r = client.get(format!("{url}/api/health/live")).pin(Pin(None)).limit(4096).send().await;
    let mut p = Probe { url, tls, fingerprint: None, rtt_ms: None, version: None, error: None };
    match r {
        Ok(resp) => {
            p.rtt_ms = Some(ms(start));
            p.fingerprint = resp.cert_sha256().map(|s| Pin::format(&s));
            let v: Option<serde_json::Value> = serde_json::from_slice(resp.body()).ok();
            p.version = v.as_ref().and_then(|v| v["version"].as_str()).map(str::to_string);
            if !resp.status().is_success() || p.version.is_none() {
                p.error = Some(format!(
                    "it answered {} to /api/health/live{}: is this a proxwatch?",
                    resp.status(),
                    if resp.status().is_success() { " without a version" } else { "" }
                ));
            }
        }
        Err(e) => {
            p.fingerprint = e.cert_sha256().map(|s| Pin::format(&s));
            p.error = Some(e.to_string());
        }
    }
    p
}

/// The pin for a peer: its fingerprint over HTTPS, or none over HTTP.
fn pin_of(tls: bool, pin: Option<[u8; 32]>) -> Option<Pin> {
    tls.then_some(Pin(pin))
}

fn get(client: &httpc::Client, url: &str, tls: bool, pin: Option<[u8; 32]>) -> httpc::RequestBuilder {
    let b = client.get(url);
    match pin_of(tls, pin) {
        Some(p) => b.pin(p),
        None => b,
    }
}

/// The peer's message in an error answer (`{"message": …}`), else its status line.
fn message(resp: &httpc::Response) -> String {
    let v: Option<serde_json::Value> = serde_json::from_slice(resp.body()).ok();
    let m = v.as_ref().and_then(|v| v["message"].as_str()).map(|m| m.chars().take(200).collect::<String>());
    match m {
        Some(m) => format!("{} ({m})", resp.status()),
        None => resp.status().to_string(),
    }
}

/// Fetches the summary with the token. A 401/403, a changed certificate or another summary format
/// are hard failures.
pub async fn poll(client: &httpc::Client, url: &str, token: &str, pin: Option<[u8; 32]>) -> Polled {
    let tls = url.starts_with("https://");
    if tls && pin.is_none() {
        return Polled::Hard {
            why: "no certificate is pinned: test the peer and accept its certificate".into(),
            seen: None,
        };
    }
    let start = Instant::now();
    let r = get(client, &format!("{url}/api/fleet/summary"), tls, pin)
        .bearer_auth(token)
        .limit(SUMMARY_LIMIT)
        .send()
        .await;
    let resp = match r {
        Ok(r) => r,
        Err(e) if e.kind() == Kind::PinMismatch => {
            return Polled::Hard { why: e.to_string(), seen: e.cert_sha256() };
        }
        Err(e) => return Polled::Failed(e.to_string()),
    };
    let rtt_ms = ms(start);
    let status = resp.status().as_u16();
    match status {
        200 => {}
        401 => {
            return Polled::Hard {
                why: format!("the peer refused the token: {}", message(&resp)),
                seen: None,
            };
        }
        403 => {
            return Polled::Hard {
                why: format!("the peer refused the token: {}", message(&resp)),
                seen: None,
            };
        }
        404 => {
            return Polled::Hard {
                why: "the peer has no /api/fleet/summary: it runs a proxwatch too old for the fleet".into(),
                seen: None,
            };
        }
        _ => return Polled::Failed(format!("the peer answered {}", message(&resp))),
    }
    if resp.truncated() {
        return Polled::Failed(format!("the summary is larger than {SUMMARY_LIMIT} bytes"));
    }
    let de = &mut serde_json::Deserializer::from_slice(resp.body());
    let summary: Summary = match serde_path_to_error::deserialize(de) {
        Ok(s) => s,
        Err(e) => {
            // A summary of another format version is a hard stop, anything else a bad answer.
            let api =
                serde_json::from_slice::<serde_json::Value>(resp.body()).ok().and_then(|v| v["api"].as_u64());
            if let Some(api) = api.filter(|a| *a != SUMMARY_API as u64) {
                return Polled::Hard { why: incompatible(api), seen: None };
            }
            return Polled::Failed(format!("the summary does not parse: {}: {}", e.path(), e.inner()));
        }
    };
    if summary.api != SUMMARY_API {
        return Polled::Hard { why: incompatible(summary.api as u64), seen: None };
    }
    Polled::Ok { summary: Box::new(summary), rtt_ms }
}

fn incompatible(api: u64) -> String {
    format!(
        "the peer's summary is format {api}; this proxwatch reads format {SUMMARY_API}: update the older one"
    )
}

fn row(id: &str, status: &str, detail: impl Into<String>) -> Check {
    Check { id: id.into(), status: status.into(), detail: detail.into() }
}

/// The capability check: reachable, TLS, token, version, domains. Returns the rows and the poll
/// (whose summary the caller keeps).
pub async fn check(
    client: &httpc::Client,
    url: &str,
    token: &str,
    pin: Option<[u8; 32]>,
) -> (Vec<Check>, Polled) {
    let tls = url.starts_with("https://");
    let mut rows = Vec::new();
    let start = Instant::now();
    let live = get(client, &format!("{url}/api/health/live"), tls, pin).limit(4096).send().await;
    let skip = |rows: &mut Vec<Check>, from: &[&str]| {
        for id in from {
            rows.push(row(id, "skip", "not checked: an earlier step failed"));
        }
    };
    match live {
        Err(e) if e.kind() == Kind::PinMismatch => {
            rows.push(row("reachable", "ok", "it answers (the TLS handshake reached the certificate)"));
            rows.push(row(
                "tls",
                "fail",
                format!("{e}; accept the new certificate if you expected this change"),
            ));
            skip(&mut rows, &["token", "version", "domains"]);
            let seen = e.cert_sha256();
            return (rows, Polled::Hard { why: e.to_string(), seen });
        }
        Err(e) => {
            rows.push(row("reachable", "fail", e.to_string()));
            skip(&mut rows, &["tls", "token", "version", "domains"]);
            return (rows, Polled::Failed(e.to_string()));
        }
        Ok(resp) => {
            rows.push(row("reachable", "ok", format!("answered in {:.1} ms", ms(start))));
            match (tls, resp.cert_sha256()) {
                (true, Some(sha)) => rows.push(row("tls", "ok", format!("certificate SHA-256 {} (pinned)", Pin::format(&sha)))),
                (true, None) => rows.push(row("tls", "fail", "no certificate was seen")),
                (false, _) => rows.push(row(
                    "tls",
                    "warn",
                    "plain HTTP: the token and the data travel unencrypted (serve proxwatch over HTTPS, [tls] in its config)",
                )),
            }
        }
    }
    let polled = poll(client, url, token, pin).await;
    match &polled {
        Polled::Ok { summary, .. } => {
            match summary.scope.as_deref() {
                Some("read") => rows.push(row("token", "ok", "accepted, scope read")),
                Some(s) => rows.push(row(
                    "token",
                    "warn",
                    format!("accepted, but its scope is {s}: a read token is enough"),
                )),
                None => rows.push(row("token", "ok", "accepted")),
            }
            rows.push(row(
                "version",
                "ok",
                format!("proxwatch {} (summary format {})", summary.version, summary.api),
            ));
            let d = if summary.domains.is_empty() {
                "the host only".to_string()
            } else {
                summary.domains.join(", ")
            };
            rows.push(row("domains", "ok", d));
        }
        Polled::Hard { why, .. } if why.contains("format") || why.contains("too old") => {
            rows.push(row("token", "skip", "not known: the version check failed"));
            rows.push(row("version", "fail", why.clone()));
            skip(&mut rows, &["domains"]);
        }
        Polled::Hard { why, .. } => {
            rows.push(row("token", "fail", why.clone()));
            skip(&mut rows, &["version", "domains"]);
        }
        Polled::Failed(why) => {
            rows.push(row("token", "fail", why.clone()));
            skip(&mut rows, &["version", "domains"]);
        }
    }
    (rows, polled)
}
