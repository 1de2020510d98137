//! Which `Host` names proxwatch answers to, and which `Origin`s may change something or open a
//! websocket. Without this a page on any site can use DNS rebinding (its own name resolving to this
//! host's address) to talk to proxwatch from the victim's browser as a same-origin page: log in with
//! the demo's published password, take a ticket and open the root shell.
//!
//! Allowed: loopback names and addresses always (`localhost`, `*.localhost`, 127.0.0.0/8, ::1), the
//! machine's own names (hostname, and the names `/etc/hosts` gives it) and interface addresses, and
//! the configured `server.allowed_hosts` (exact names, `*.example.com` for subdomains, addresses,
//! or `*` to turn the check off, e.g. behind a proxy that rewrites `Host`). A request without a
//! `Host` (no browser sends one) is not a rebinding attack and passes.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::RwLock;

/// A `Host` value (or an `Origin`'s authority) without its port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HostName {
    Name(String),
    Ip(IpAddr),
}

impl HostName {
    /// Parses `name`, `name:port`, `1.2.3.4:port`, `[::1]:port`; `None` for anything malformed.
    pub fn parse(authority: &str) -> Option<HostName> {
        let a = authority.trim();
        let host = if let Some(rest) = a.strip_prefix('[') {
            let (inside, after) = rest.split_once(']')?;
            if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
                return None;
            }
            return inside
                .parse::<std::net::Ipv6Addr>()
                .ok()
                .map(|ip| HostName::Ip(super::canonical(ip.into())));
        } else {
            match a.rsplit_once(':') {
                Some((h, port)) if is_port(port) => h,
                Some(_) => return None,
                None => a,
            }
        };
        if host.is_empty() || host.contains(':') || host.contains('@') {
            return None;
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Some(HostName::Ip(super::canonical(ip)));
        }
        let name = host.trim_end_matches('.').to_ascii_lowercase();
        let ok = !name.is_empty()
            && name.len() <= 253
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
        ok.then_some(HostName::Name(name))
    }

    pub fn is_loopback(&self) -> bool {
        match self {
            HostName::Ip(ip) => ip.is_loopback(),
            HostName::Name(n) => n == "localhost" || n.ends_with(".localhost"),
        }
    }
}

fn is_port(s: &str) -> bool {
    !s.is_empty() && s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit())
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Any,
    Exact(HostName),
    /// `*.example.com`: any name ending in `.example.com`.
    Suffix(String),
}

fn pattern(s: &str) -> Option<Pattern> {
    let s = s.trim();
    if s == "*" {
        return Some(Pattern::Any);
    }
    if let Some(domain) = s.strip_prefix("*.") {
        return match HostName::parse(domain)? {
            HostName::Name(n) => Some(Pattern::Suffix(format!(".{n}"))),
            HostName::Ip(_) => None,
        };
    }
    HostName::parse(s).map(Pattern::Exact)
}

/// Checks a `server.allowed_hosts` entry (for config validation).
pub fn valid_pattern(s: &str) -> bool {
    pattern(s).is_some()
}

pub struct HostCheck {
    configured: Vec<Pattern>,
    machine: RwLock<HashSet<HostName>>,
}

impl HostCheck {
    /// `configured` entries that do not parse are skipped (config validation rejects them first).
    pub fn new(configured: &[String]) -> HostCheck {
        HostCheck {
            configured: configured.iter().filter_map(|s| pattern(s)).collect(),
            machine: RwLock::default(),
        }
    }

    /// Whether the check is off (`allowed_hosts = ["*"]`).
    pub fn any(&self) -> bool {
        self.configured.contains(&Pattern::Any)
    }

    /// Replaces the machine's own names and addresses (hostname, `/etc/hosts` names, interfaces).
    pub fn set_machine(&self, names: impl IntoIterator<Item = HostName>) {
        let set: HashSet<HostName> = names.into_iter().collect();
        *self.machine.write().unwrap_or_else(|p| p.into_inner()) = set;
    }

    /// Whether a `Host` header value names this proxwatch.
    pub fn allows_host(&self, authority: &str) -> bool {
        if self.any() {
            return true;
        }
        let Some(h) = HostName::parse(authority) else { return false };
        if h.is_loopback() || self.machine.read().unwrap_or_else(|p| p.into_inner()).contains(&h) {
            return true;
        }
        self.configured.iter().any(|p| match (p, &h) {
            (Pattern::Any, _) => true,
            (Pattern::Exact(e), h) => e == h,
            (Pattern::Suffix(s), HostName::Name(n)) => n.ends_with(s.as_str()),
            (Pattern::Suffix(_), HostName::Ip(_)) => false,
        })
    }

    /// Whether an `Origin` header value (`https://name:port`) is one of ours. `null` (sandboxed
    /// frames, file: pages) never is.
    pub fn allows_origin(&self, origin: &str) -> bool {
        let Some((scheme, rest)) = origin.trim().split_once("://") else { return false };
        if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") {
            return false;
        }
        let authority = rest.split('/').next().unwrap_or("");
        self.allows_host(authority)
    }
}

/// The machine's names from `/etc/hosts`: every name on a line that also names `hostname`.
pub fn names_from_etc_hosts(text: &str, hostname: &str) -> Vec<String> {
    let short = hostname.split('.').next().unwrap_or(hostname).to_ascii_lowercase();
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut fields = line.split_whitespace();
        let Some(_addr) = fields.next() else { continue };
        let names: Vec<String> = fields.map(|f| f.to_ascii_lowercase()).collect();
        let ours = names.iter().any(|n| *n == short || n.split('.').next() == Some(short.as_str()));
        if ours && !short.is_empty() {
            out.extend(names.into_iter().filter(|n| !n.starts_with("localhost")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts_with_and_without_ports() {
        let ip = |s: &str| HostName::Ip(s.parse().unwrap());
        assert_eq!(HostName::parse("PVE.example.com.:8008"), Some(HostName::Name("pve.example.com".into())));
        assert_eq!(HostName::parse("127.0.0.1:8008"), Some(ip("127.0.0.1")));
        assert_eq!(HostName::parse("[::1]:8008"), Some(ip("::1")));
        assert_eq!(HostName::parse("[::ffff:10.0.0.1]"), Some(ip("10.0.0.1")));
        for bad in ["", ":8008", "::1", "a b", "host:port", "[::1", "user@host", "[::1]x"] {
            assert_eq!(HostName::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn loopback_machine_and_configured_names_are_allowed_others_not() {
        let c = HostCheck::new(&["pve.example.com".into(), "*.lab.example".into(), "203.0.113.7".into()]);
        c.set_machine([HostName::Name("pve1".into()), HostName::Ip("192.0.2.10".parse().unwrap())]);
        for ok in [
            "localhost:8008",
            "app.localhost",
            "127.0.0.1:8008",
            "127.8.9.10",
            "[::1]:8008",
            "pve1:8008",
            "192.0.2.10:8008",
            "PVE.example.com",
            "a.lab.example",
            "203.0.113.7:8443",
        ] {
            assert!(c.allows_host(ok), "{ok}");
        }
        for bad in
            ["evil.example:8008", "lab.example", "198.51.100.1", "pve1.evil.example", "pve.example.com.evil"]
        {
            assert!(!c.allows_host(bad), "{bad}");
        }
        assert!(c.allows_origin("http://127.0.0.1:8008"));
        assert!(c.allows_origin("https://pve.example.com"));
        assert!(!c.allows_origin("http://rebind.evil.example:8008"));
        assert!(!c.allows_origin("null"));
        assert!(!c.allows_origin("file://"));
        assert!(HostCheck::new(&["*".into()]).allows_host("anything.example"));
        assert!(!valid_pattern("*.") && !valid_pattern("a b") && valid_pattern("*"));
    }

    #[test]
    fn etc_hosts_names_of_this_machine() {
        let hosts = "127.0.0.1 localhost.localdomain localhost\n192.0.2.10 pve1.example.com pve1 # PVE\n\
                     192.0.2.11 pve2.example.com pve2\n";
        assert_eq!(names_from_etc_hosts(hosts, "pve1"), vec!["pve1.example.com", "pve1"]);
        assert!(names_from_etc_hosts(hosts, "nothere").is_empty());
    }
}
