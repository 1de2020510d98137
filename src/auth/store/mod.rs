//! Users, browser sessions and API tokens. SQLite is the truth; an in-memory copy answers the per-
//! request checks, and every change (logout, password change, disable, revoke) is written through to
//! both before the call returns, so revocation is immediate. Every change that can take authority
//! away also bumps [`Auth::changes`], so open terminals re-check their login at once.
//!
//! Every place a password, TOTP code or backup code is checked goes through one path: the attempt
//! is reserved against the limits first (per client IP, and per user name unless the address has
//! logged in as that user before), argon2 runs only with a permit from the [`Gate`], and a failure
//! is recorded once, in the auth log fail2ban reads and in the event table.
//!
//! By concern, all re-exported here: `load` (reading the state from SQLite), `checks` (the one path
//! of every credential check), `setup` (the first admin), `users`, `sessions`, `tokens`, `two_factor`
//! (TOTP and backup codes) and `error` (the refusals and how the API answers them). The in-memory
//! records and the [`Auth`] handle that holds them are here.

mod checks;
mod error;
mod load;
mod sessions;
mod setup;
mod tokens;
mod two_factor;
mod users;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use super::audit::AuditLog;
use super::gate::Gate;
use super::ratelimit::Limiter;
use super::seal::Keys;
use super::{Cidr, Level, password, random_bytes};
use crate::config::AuthCfg;
use crate::db::Db;

pub use checks::Purpose;
pub use error::AuthError;
pub use sessions::{LoginOutcome, NewSession, SessionInfo};
pub use tokens::{INGEST, MAX_ALLOWED, MAX_DESCRIPTION, TokenInfo, TokenRefusal, TokenSpec, token_label};
pub use users::UserInfo;

pub const MAX_NAME: usize = 64;
pub const COOKIE: &str = "pxw_session";
pub const TOKEN_PREFIX: &str = "pxw_";
/// Persist a session's or token's last use at most this often (seconds).
const TOUCH_EVERY_S: i64 = 60;
/// An address that logged in as a user within this long is *known* for that user: the per-user
/// limit does not lock it out, and its password checks may use the gate's kept permit.
const KNOWN_FOR_S: i64 = 30 * 86_400;
/// (user, address) pairs remembered at most.
const MAX_KNOWN: usize = 10_000;
/// `Retry-After` when every password-check permit is taken.
const BUSY_RETRY: Duration = Duration::from_secs(2);

#[derive(Debug, Clone)]
struct User {
    role: Level,
    phc: String,
    disabled: bool,
    totp_secret: Option<Vec<u8>>,
    totp_enabled: bool,
    /// A secret being set up: it replaces `totp_secret` only once a code from it is confirmed.
    totp_pending: Option<Vec<u8>>,
    totp_last_step: u64,
    created: i64,
}

#[derive(Debug, Clone)]
struct Session {
    user: String,
    csrf: String,
    created: i64,
    last_seen: i64,
    persisted_seen: i64,
    expires: i64,
    ip: Option<String>,
    user_agent: Option<String>,
}

#[derive(Debug, Clone)]
struct Token {
    user: String,
    name: String,
    scope: Level,
    /// An `ingest` token: it may only post agent reports (its `scope` is unused).
    ingest: bool,
    hash: String,
    created: i64,
    expires: Option<i64>,
    last_used: Option<i64>,
    persisted_used: i64,
    last_ip: Option<String>,
    description: String,
    /// Client addresses the token is accepted from; empty accepts any.
    allowed: Vec<crate::model::addr::Cidr>,
}

pub struct Auth {
    db: Db,
    keys: Keys,
    /// The session cookie's HS256 key, derived from the sealing key.
    jwt_key: [u8; 32],
    cfg: AuthCfg,
    pub trusted: Vec<Cidr>,
    users: RwLock<HashMap<String, User>>,
    sessions: RwLock<HashMap<String, Session>>,
    tokens: RwLock<HashMap<String, Token>>,
    limiter: Limiter,
    setup_ip: Limiter,
    setup_all: Limiter,
    token_failures: Limiter,
    gate: Gate,
    /// (user, address) -> last successful login, unix seconds.
    known: Mutex<HashMap<(String, IpAddr), i64>>,
    backup_key: [u8; 32],
    changes: tokio::sync::watch::Sender<u64>,
    setup_code: Mutex<Option<String>>,
    setup_lock: tokio::sync::Mutex<()>,
    setup_code_path: Option<PathBuf>,
    dummy_phc: String,
    pub audit: AuditLog,
    pub demo: bool,
    /// Where the database writes a request leaves behind (a session's last-seen time, an expired
    /// session's row) run: the app hands over its own tracker, so that shutdown waits for them
    /// before the database closes.
    pub tasks: tokio_util::task::TaskTracker,
}

fn now_s() -> i64 {
    crate::workers::wall_ms() / 1000
}

fn random_id(bytes: usize) -> String {
    let raw = random_bytes::<32>();
    data_encoding::HEXLOWER.encode(&raw[..bytes])
}

fn check_name(kind: &str, name: &str) -> Result<(), AuthError> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(AuthError::BadRequest(format!("{kind} must be 1 to {MAX_NAME} characters")));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c)) {
        return Err(AuthError::BadRequest(format!("{kind} may contain only letters, digits and . _ - @")));
    }
    Ok(())
}

fn check_password_len(pw: &str) -> Result<(), AuthError> {
    if pw.len() > password::MAX_LEN {
        return Err(AuthError::BadRequest(format!("password must be at most {} bytes", password::MAX_LEN)));
    }
    Ok(())
}

impl Auth {
    /// Bumped whenever authority may have been taken away (a session ended, a user changed or went).
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn changed(&self) {
        self.changes.send_modify(|g| *g = g.wrapping_add(1));
    }

    /// The most argon2 runs at once (the bench and the docs quote it).
    pub fn password_checks(&self) -> usize {
        self.gate.total()
    }

    fn users_r(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, User>> {
        self.users.read().unwrap_or_else(|p| p.into_inner())
    }
    fn users_w(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, User>> {
        self.users.write().unwrap_or_else(|p| p.into_inner())
    }
    fn sessions_w(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Session>> {
        self.sessions.write().unwrap_or_else(|p| p.into_inner())
    }
    fn sessions_r(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Session>> {
        self.sessions.read().unwrap_or_else(|p| p.into_inner())
    }
    fn tokens_w(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Token>> {
        self.tokens.write().unwrap_or_else(|p| p.into_inner())
    }

    pub fn db(&self) -> &Db {
        &self.db
    }
}
