//! Access control, the product's spine: proxwatch runs as root and offers a root shell.
//!
//! - [`password`]: argon2id hashing, the password policy, constant-cost verification.
//! - [`totp`]: RFC 6238 codes with replay refusal, QR codes, single-use backup codes.
//! - [`store`]: users, sessions (signed JWT cookies, see [`jwt`], checked against a session table)
//!   and API tokens,
//!   cached in memory and written through to SQLite so revocation is immediate.
//! - [`ratelimit`]: attempts per client IP and per user name, reserved before the check.
//! - [`gate`]: a bound on concurrent argon2 runs, with one permit kept for known clients.
//! - [`origin`]: the allowed `Host` names and `Origin`s (DNS rebinding, cross-site websockets).
//! - [`audit`]: the auth event table and the fail2ban-readable auth log.
//! - [`layer`]: the route-layer check every `/api` request passes (default deny).
//! - [`seal`]: the AEAD key, kept apart from the database, that seals secrets at rest.

pub mod audit;
pub mod fail2ban;
pub mod gate;
pub mod jwt;
pub mod layer;
pub mod origin;
pub mod password;
pub mod ratelimit;
pub mod seal;
pub mod store;
pub mod sync;
pub mod totp;

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

pub use store::Auth;

/// The three access levels. Roles (viewer, operator, admin) and token scopes (read, operate, admin)
/// are the same levels under two names; one table maps each route to the level it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Read = 1,
    Operate = 2,
    Admin = 3,
}

impl Level {
    pub const ALL: [Level; 3] = [Level::Read, Level::Operate, Level::Admin];

    pub fn role(self) -> &'static str {
        match self {
            Level::Read => "viewer",
            Level::Operate => "operator",
            Level::Admin => "admin",
        }
    }
    pub fn scope(self) -> &'static str {
        match self {
            Level::Read => "read",
            Level::Operate => "operate",
            Level::Admin => "admin",
        }
    }
    pub fn from_role(s: &str) -> Option<Level> {
        Self::ALL.into_iter().find(|l| l.role() == s)
    }
    pub fn from_scope(s: &str) -> Option<Level> {
        Self::ALL.into_iter().find(|l| l.scope() == s)
    }
}

/// A [`Level`] as the API writes it, by its role name: the generated TypeScript type only.
#[cfg(test)]
#[derive(ts_rs::TS, schemars::JsonSchema)]
#[ts(rename_all = "lowercase")]
#[schemars(rename_all = "lowercase")]
#[allow(dead_code)]
pub(crate) enum Role {
    Viewer,
    Operator,
    Admin,
}

/// Served as its role name; accepted as a role or a scope name.
#[cfg(test)]
impl schemars::JsonSchema for Level {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Role".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "enum": ["viewer", "operator", "admin"] })
    }
}

impl Serialize for Level {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.role())
    }
}

impl<'de> Deserialize<'de> for Level {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Level::from_role(&s).or_else(|| Level::from_scope(&s)).ok_or_else(|| {
            serde::de::Error::custom(format!("unknown role {s:?}; valid: viewer, operator, admin"))
        })
    }
}

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// On the public allow-list: no credentials needed (and none are checked).
    Public,
    /// Authenticated with at least this level (a session, or a token whose scope and owner's role
    /// both reach it).
    At(Level),
    /// An interactive login (a browser session, never an API token) with at least this level: the
    /// account's own routes (sessions, password, 2FA, tokens, users) and the root terminal, so a
    /// leaked token cannot mint stronger tokens, lock its owner out or open a shell.
    Session(Level),
    /// An agent's report: an `ingest` token only (and such a token reaches nothing else).
    Ingest,
}

impl Access {
    /// Whether a caller with `level`, authenticated `via`, may use a route with this access.
    pub fn allows(self, level: Level, via: &Via) -> bool {
        match self {
            Access::Public => true,
            Access::At(needed) => level >= needed && !matches!(via, Via::Agent { .. }),
            Access::Session(needed) => level >= needed && matches!(via, Via::Session { .. }),
            Access::Ingest => matches!(via, Via::Agent { .. }),
        }
    }
}

/// How the caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    Session {
        id: String,
    },
    Token {
        id: String,
    },
    /// An `ingest` token: an agent posting its reports.
    Agent {
        id: String,
    },
}

/// The authenticated caller, put into the request's extensions by the auth layer.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: String,
    pub level: Level,
    pub via: Via,
    pub ip: Option<IpAddr>,
}

pub use crate::model::addr::{Cidr, canonical};

/// The client's address: the peer, unless the peer is a trusted proxy, in which case the right-most
/// `X-Forwarded-For` entry that is not itself a trusted proxy.
pub fn client_ip(peer: Option<IpAddr>, forwarded_for: Option<&str>, trusted: &[Cidr]) -> Option<IpAddr> {
    let peer = peer.map(canonical)?;
    if !trusted.iter().any(|c| c.contains(peer)) {
        return Some(peer);
    }
    let Some(xff) = forwarded_for else { return Some(peer) };
    for hop in xff.rsplit(',') {
        let Ok(ip) = hop.trim().parse::<IpAddr>() else { return Some(peer) };
        let ip = canonical(ip);
        if !trusted.iter().any(|c| c.contains(ip)) {
            return Some(ip);
        }
    }
    Some(peer)
}

/// Random bytes from the OS.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    use rand::RngCore;
    let mut b = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b
}

/// Constant-time equality of two strings (lengths may leak; contents do not).
pub fn ct_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Hex SHA-256, for high-entropy secrets (API tokens, backup codes) where a slow hash adds nothing.
pub fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(s.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_and_forwarded_for() {
        let trusted = vec![Cidr::parse("127.0.0.1/32").unwrap(), Cidr::parse("10.0.0.0/8").unwrap()];
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        // An untrusted peer's header is ignored.
        assert_eq!(client_ip(ip("203.0.113.9"), Some("1.2.3.4"), &trusted), ip("203.0.113.9"));
        // Through trusted proxies: the right-most untrusted hop.
        assert_eq!(client_ip(ip("127.0.0.1"), Some("198.51.100.7, 10.1.2.3"), &trusted), ip("198.51.100.7"));
        assert_eq!(client_ip(ip("::ffff:127.0.0.1"), Some("198.51.100.7"), &trusted), ip("198.51.100.7"));
        assert_eq!(client_ip(ip("127.0.0.1"), Some("garbage"), &trusted), ip("127.0.0.1"));
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("::/0").unwrap().contains("2001:db8::1".parse().unwrap()));
    }

    #[test]
    fn levels_have_role_and_scope_names() {
        assert_eq!(Level::from_role("operator"), Some(Level::Operate));
        assert_eq!(Level::from_scope("read"), Some(Level::Read));
        assert!(Level::Admin > Level::Operate && Level::Operate > Level::Read);
        assert!(ct_eq("abc", "abc") && !ct_eq("abc", "abd") && !ct_eq("abc", "ab"));
    }
}
