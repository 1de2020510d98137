//! Network address values that configuration, the access layer and the server share: `Host`
//! names and patterns (`server.allowed_hosts`), CIDR networks (`auth.trusted_proxies`) and the
//! canonical form of a client address. Pure values with their parsers; the checks that use them
//! live in `auth`.

use std::net::IpAddr;

/// An IP network in CIDR notation (`10.0.0.0/8`, `::1/128`; a bare address is a host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    bits: u8,
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.net, self.bits)
    }
}

impl Cidr {
    pub fn parse(s: &str) -> anyhow::Result<Cidr> {
        let (addr, bits) = match s.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (s, None),
        };
        let net: IpAddr = addr.trim().parse().map_err(|_| anyhow::anyhow!("not an IP address: {addr:?}"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            Some(b) => b
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|b| *b <= max)
                .ok_or_else(|| anyhow::anyhow!("bad prefix /{b}"))?,
            None => max,
        };
        Ok(Cidr { net, bits })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = if self.bits == 0 { 0 } else { u32::MAX << (32 - self.bits) };
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = if self.bits == 0 { 0 } else { u128::MAX << (128 - self.bits) };
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// `::ffff:1.2.3.4` (what a dual-stack socket reports for IPv4 clients) as plain `1.2.3.4`.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

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
            return inside.parse::<std::net::Ipv6Addr>().ok().map(|ip| HostName::Ip(canonical(ip.into())));
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
            return Some(HostName::Ip(canonical(ip)));
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
pub enum Pattern {
    Any,
    Exact(HostName),
    /// `*.example.com`: any name ending in `.example.com`.
    Suffix(String),
}

/// Parses a `server.allowed_hosts` entry.
pub fn pattern(s: &str) -> Option<Pattern> {
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
