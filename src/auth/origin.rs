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
use std::sync::RwLock;

use crate::model::addr::pattern;
pub use crate::model::addr::{HostName, Pattern, valid_pattern};

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
