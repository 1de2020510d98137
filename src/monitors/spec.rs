//! A monitor definition, checked field by field: a bad URL, a port out of range, an interval under
//! the minimum each give the field's name and why, for a 400 that says what to fix.

use crate::model::monitor::{MonitorSpec, Target};

/// Checks are at least this far apart.
pub const MIN_INTERVAL_S: u64 = 10;
pub const MAX_INTERVAL_S: u64 = 86_400;
pub const MIN_TIMEOUT_MS: u64 = 100;
pub const MAX_TIMEOUT_MS: u64 = 60_000;
pub const MAX_RETRIES: u32 = 10;
const MAX_NAME: usize = 100;
const MAX_URL: usize = 2048;
const MAX_TEXT: usize = 200;
const MAX_CERT_WARN_DAYS: u32 = 365;

/// What is wrong with one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field's path in the request (`target.port`, `interval_s`).
    pub field: &'static str,
    pub message: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

fn bad(field: &'static str, message: impl Into<String>) -> FieldError {
    FieldError { field, message: message.into() }
}

/// A printable text of at most `max` characters, without control characters.
fn text(field: &'static str, v: &str, max: usize, required: bool) -> Result<(), FieldError> {
    if required && v.trim().is_empty() {
        return Err(bad(field, "must not be empty"));
    }
    if v.chars().count() > max {
        return Err(bad(field, format!("must be at most {max} characters")));
    }
    if v.chars().any(char::is_control) {
        return Err(bad(field, "must not contain control characters"));
    }
    Ok(())
}

/// A host name (RFC 1123 labels) or an IP address, as a probe target.
pub fn host(field: &'static str, v: &str) -> Result<(), FieldError> {
    let v = v.trim();
    if v.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let name = v.strip_suffix('.').unwrap_or(v);
    if name.is_empty() || name.len() > 253 || !name.split('.').all(label_ok) {
        return Err(bad(field, "must be a host name (letters, digits, dots, hyphens) or an IP address"));
    }
    Ok(())
}

/// Checks every field of `spec`; the first problem found is the answer.
pub fn check(spec: &MonitorSpec) -> Result<(), FieldError> {
    text("name", &spec.name, MAX_NAME, true)?;
    if !(MIN_INTERVAL_S..=MAX_INTERVAL_S).contains(&spec.interval_s) {
        return Err(bad(
            "interval_s",
            format!("must be from {MIN_INTERVAL_S} to {MAX_INTERVAL_S} seconds (got {})", spec.interval_s),
        ));
    }
    if !(MIN_TIMEOUT_MS..=MAX_TIMEOUT_MS).contains(&spec.timeout_ms) {
        return Err(bad(
            "timeout_ms",
            format!("must be from {MIN_TIMEOUT_MS} to {MAX_TIMEOUT_MS} ms (got {})", spec.timeout_ms),
        ));
    }
    if spec.timeout_ms >= spec.interval_s * 1000 {
        return Err(bad("timeout_ms", "must be shorter than the interval"));
    }
    if spec.retries > MAX_RETRIES {
        return Err(bad("retries", format!("must be from 0 to {MAX_RETRIES} (got {})", spec.retries)));
    }
    if let Some(d) = spec.degraded_ms
        && (d == 0 || d >= spec.timeout_ms)
    {
        return Err(bad("degraded_ms", "must be more than 0 and less than the timeout"));
    }
    match &spec.target {
        Target::Http { url, status, keyword, json_path, json_expect, cert_warn_days, .. } => {
            if url.len() > MAX_URL {
                return Err(bad("target.url", format!("must be at most {MAX_URL} characters")));
            }
            crate::httpc::Target::parse(url).map_err(|e| bad("target.url", e.to_string()))?;
            if !(100..=599).contains(&status.min)
                || !(100..=599).contains(&status.max)
                || status.min > status.max
            {
                return Err(bad(
                    "target.status",
                    "must be a range of HTTP status codes from 100 to 599, min ≤ max",
                ));
            }
            if let Some(k) = keyword {
                text("target.keyword", k, MAX_TEXT, true)?;
            }
            match (json_path, json_expect) {
                (Some(p), Some(e)) => {
                    text("target.json_path", p, MAX_TEXT, true)?;
                    if !p.starts_with('/') {
                        return Err(bad(
                            "target.json_path",
                            "must be a JSON pointer starting with / (e.g. /status)",
                        ));
                    }
                    text("target.json_expect", e, MAX_TEXT, false)?;
                }
                (None, None) => {}
                (Some(_), None) => return Err(bad("target.json_expect", "is needed with json_path")),
                (None, Some(_)) => return Err(bad("target.json_path", "is needed with json_expect")),
            }
            if *cert_warn_days > MAX_CERT_WARN_DAYS {
                return Err(bad("target.cert_warn_days", format!("must be from 0 to {MAX_CERT_WARN_DAYS}")));
            }
        }
        Target::Tcp { host: h, port } => {
            host("target.host", h)?;
            if *port == 0 {
                return Err(bad("target.port", "must be from 1 to 65535"));
            }
        }
        Target::Ping { host: h } => host("target.host", h)?,
        Target::Dns { name, record, server, expect } => {
            host("target.name", name)?;
            if name.parse::<std::net::IpAddr>().is_ok() {
                return Err(bad("target.name", "must be a name to resolve, not an address"));
            }
            if record != "A" && record != "AAAA" {
                return Err(bad("target.record", "must be A or AAAA"));
            }
            if let Some(s) = server {
                let ok = s.parse::<std::net::SocketAddr>().is_ok() || s.parse::<std::net::IpAddr>().is_ok();
                if !ok {
                    return Err(bad("target.server", "must be an IP address, optionally with :port"));
                }
            }
            if let Some(e) = expect
                && e.parse::<std::net::IpAddr>().is_err()
            {
                return Err(bad("target.expect", "must be an IP address"));
            }
        }
        Target::Agent { vmid } => {
            if !(100..=999_999_999).contains(vmid) {
                return Err(bad("target.vmid", "must be a guest id from 100 to 999999999"));
            }
        }
    }
    if let Some(v) = spec.vmid
        && !(100..=999_999_999).contains(&v)
    {
        return Err(bad("vmid", "must be a guest id from 100 to 999999999"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::monitor::StatusRange;

    fn spec(target: Target) -> MonitorSpec {
        MonitorSpec {
            name: "web".into(),
            target,
            interval_s: 30,
            timeout_ms: 5000,
            retries: 1,
            degraded_ms: None,
            vmid: None,
        }
    }

    fn http(url: &str) -> Target {
        Target::http(url)
    }

    fn field(s: &MonitorSpec) -> &'static str {
        check(s).unwrap_err().field
    }

    #[test]
    fn good_monitors_pass() {
        check(&spec(http("https://cloud.example.lan/status.php"))).unwrap();
        check(&spec(Target::Tcp { host: "192.0.2.10".into(), port: 5432 })).unwrap();
        check(&spec(Target::Ping { host: "ha.lan".into() })).unwrap();
        let dns = Target::Dns {
            name: "nas.lan".into(),
            record: "A".into(),
            server: Some("127.0.0.1:5353".into()),
            expect: Some("192.0.2.5".into()),
        };
        check(&spec(dns)).unwrap();
        check(&spec(Target::Agent { vmid: 104 })).unwrap();
    }

    #[test]
    fn each_bad_field_is_named() {
        assert_eq!(field(&spec(http("ftp://x.lan/"))), "target.url");
        assert_eq!(field(&spec(http("https://user:pw@x.lan/"))), "target.url");
        assert_eq!(field(&spec(Target::Tcp { host: "db.lan".into(), port: 0 })), "target.port");
        assert_eq!(field(&spec(Target::Tcp { host: "bad host".into(), port: 22 })), "target.host");
        assert_eq!(field(&spec(Target::Ping { host: "-x.lan".into() })), "target.host");
        let mut s = spec(Target::Ping { host: "x.lan".into() });
        s.interval_s = 5;
        assert_eq!(field(&s), "interval_s");
        let e = check(&s).unwrap_err();
        assert!(e.message.contains("from 10"), "{e}");
        let mut s = spec(Target::Ping { host: "x.lan".into() });
        s.timeout_ms = 30_000;
        assert_eq!(field(&s), "timeout_ms", "a timeout as long as the interval");
        s.timeout_ms = 5000;
        s.degraded_ms = Some(6000);
        assert_eq!(field(&s), "degraded_ms");
        s.degraded_ms = None;
        s.retries = 11;
        assert_eq!(field(&s), "retries");
        s.retries = 0;
        s.name = "  ".into();
        assert_eq!(field(&s), "name");
        let dns = |name: &str, record: &str| Target::Dns {
            name: name.into(),
            record: record.into(),
            server: None,
            expect: None,
        };
        assert_eq!(field(&spec(dns("192.0.2.1", "A"))), "target.name");
        assert_eq!(field(&spec(dns("x.lan", "MX"))), "target.record");
        let mut t = http("https://x.lan/");
        if let Target::Http { status, .. } = &mut t {
            *status = StatusRange { min: 400, max: 200 };
        }
        assert_eq!(field(&spec(t)), "target.status");
        let mut t = http("https://x.lan/");
        if let Target::Http { json_path, .. } = &mut t {
            *json_path = Some("/status".into());
        }
        assert_eq!(field(&spec(t)), "target.json_expect");
    }

    #[test]
    fn requests_deserialize_with_defaults_and_refuse_unknown_fields() {
        let s: MonitorSpec =
            serde_json::from_str(r#"{"name":"nc","target":{"kind":"http","url":"https://nc.lan/"}}"#)
                .unwrap();
        assert_eq!((s.interval_s, s.timeout_ms, s.retries), (60, 10_000, 1));
        let Target::Http { status, follow_redirects, verify_tls, cert_warn_days, .. } = &s.target else {
            panic!()
        };
        assert_eq!(
            (*status, *follow_redirects, *verify_tls, *cert_warn_days),
            (StatusRange { min: 200, max: 399 }, true, true, 14)
        );
        assert!(
            serde_json::from_str::<MonitorSpec>(
                r#"{"name":"x","target":{"kind":"tcp","host":"x","port":1,"extra":1}}"#
            )
            .is_err()
        );
        assert!(
            serde_json::from_str::<MonitorSpec>(
                r#"{"name":"x","target":{"kind":"tcp","host":"x","port":70000}}"#
            )
            .is_err()
        );
    }
}
