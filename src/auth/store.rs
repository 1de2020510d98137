//! Users, browser sessions and API tokens. SQLite is the truth; an in-memory copy answers the per-
//! request checks, and every change (logout, password change, disable, revoke) is written through to
//! both before the call returns, so revocation is immediate. Every change that can take authority
//! away also bumps [`Auth::changes`], so open terminals re-check their login at once.
//!
//! Every place a password, TOTP code or backup code is checked goes through one path: the attempt
//! is reserved against the limits first (per client IP, and per user name unless the address has
//! logged in as that user before), argon2 runs only with a permit from the [`Gate`], and a failure
//! is recorded once, in the auth log fail2ban reads and in the event table.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rusqlite::params;
use serde::{Deserialize, Serialize};
use tokio_util::task::TaskTracker;

use super::audit::{AuditLog, Kind};
use super::gate::{Gate, Permit};
use super::ratelimit::{Limiter, Reservation};
use super::seal::Keys;
use super::{Cidr, Level, Principal, Via, ct_eq, password, random_bytes, sha256_hex, totp};
use crate::config::AuthCfg;
use crate::db::Db;

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

/// What a credential check is for; named in the auth log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Login,
    PasswordChange,
    TokenCreation,
    TotpSetup,
    TotpEnable,
    TotpDisable,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Login => "login",
            Purpose::PasswordChange => "password change",
            Purpose::TokenCreation => "token creation",
            Purpose::TotpSetup => "2fa setup",
            Purpose::TotpEnable => "2fa enable",
            Purpose::TotpDisable => "2fa disable",
        }
    }
    fn failure(self) -> (Kind, &'static str) {
        match self {
            Purpose::Login => (Kind::LoginFailed, ""),
            other => (Kind::ReauthFailed, other.as_str()),
        }
    }
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    Invalid,
    /// Too many failed tokens from this address: retry after this long.
    Throttled(Duration),
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("invalid credentials")]
    Invalid,
    #[error("too many attempts; retry in {} s", .0.as_secs())]
    RateLimited(Duration),
    #[error("too many password checks at once; retry in {} s", .0.as_secs())]
    Busy(Duration),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("setup is already done")]
    AlreadySetUp,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

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

#[derive(Debug, Clone, Serialize)]
pub struct UserInfo {
    pub name: String,
    pub role: Level,
    pub disabled: bool,
    pub totp_enabled: bool,
    pub created: i64,
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

#[derive(Debug, Clone, Serialize)]
pub struct SessionInfo {
    pub id: String,
    pub user: String,
    pub created: i64,
    pub last_seen: i64,
    pub expires: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub current: bool,
}

#[derive(Debug, Clone)]
struct Token {
    user: String,
    name: String,
    scope: Level,
    hash: String,
    created: i64,
    expires: Option<i64>,
    last_used: Option<i64>,
    persisted_used: i64,
    last_ip: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    pub id: String,
    pub user: String,
    pub name: String,
    pub scope: &'static str,
    pub created: i64,
    pub expires: Option<i64>,
    pub last_used: Option<i64>,
    pub last_ip: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sid: String,
    sub: String,
    iat: u64,
    exp: u64,
}

/// A successful login.
#[derive(Debug)]
pub struct NewSession {
    pub id: String,
    pub jwt: String,
    pub csrf: String,
    pub user: String,
    pub role: Level,
    pub max_age_s: i64,
}

pub enum LoginOutcome {
    TotpRequired,
    Session(NewSession),
}

pub struct Auth {
    db: Db,
    keys: Keys,
    enc: EncodingKey,
    dec: DecodingKey,
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
    pub tasks: TaskTracker,
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
    /// Loads users, live sessions and tokens. `data_dir` holds `setup-code`; `None` (tests) keeps the
    /// setup code in memory only.
    pub fn load(
        db: Db,
        keys: Keys,
        cfg: AuthCfg,
        data_dir: Option<PathBuf>,
        audit: AuditLog,
    ) -> anyhow::Result<Auth> {
        let trusted =
            cfg.trusted_proxies.iter().map(|c| Cidr::parse(c)).collect::<anyhow::Result<Vec<_>>>()?;
        let jwt_key = keys.derive("session-jwt");
        let now = now_s();
        let (users, sessions, tokens) = db.call_blocking(|c| read_state(c, &keys, now))?;
        let known = db.call_blocking(|c| read_known(c, now))?;
        let window = Duration::from_secs(cfg.attempt_window_s);
        Ok(Auth {
            db,
            backup_key: keys.derive("backup-codes"),
            keys,
            enc: EncodingKey::from_secret(&jwt_key),
            dec: DecodingKey::from_secret(&jwt_key),
            limiter: Limiter::new(cfg.max_attempts, window),
            setup_ip: Limiter::new(cfg.max_attempts, window),
            setup_all: Limiter::new(cfg.setup_max_attempts_total, window),
            token_failures: Limiter::new(
                cfg.max_token_failures,
                Duration::from_secs(cfg.token_failure_window_s),
            ),
            gate: Gate::new(cfg.max_password_checks, Duration::from_millis(cfg.password_queue_ms)),
            known: Mutex::new(known),
            changes: tokio::sync::watch::Sender::new(0),
            cfg,
            trusted,
            users: RwLock::new(users),
            sessions: RwLock::new(sessions),
            tokens: RwLock::new(tokens),
            setup_code: Mutex::new(None),
            setup_lock: tokio::sync::Mutex::new(()),
            setup_code_path: data_dir.map(|d| d.join("setup-code")),
            dummy_phc: password::DUMMY_PHC.to_string(),
            audit,
            demo: false,
            tasks: TaskTracker::new(),
        })
    }

    /// Re-reads everything from the database after another process (the `proxwatch user` command)
    /// changed it. Sessions keep the later of the two last-seen times.
    pub async fn reload(&self) -> anyhow::Result<()> {
        let keys = self.keys.clone();
        let (users, sessions, tokens) = self.db.call(move |c| read_state(c, &keys, now_s())).await?;
        *self.users_w() = users;
        {
            let mut current = self.sessions_w();
            let mut merged = sessions;
            for (id, s) in merged.iter_mut() {
                if let Some(old) = current.get(id) {
                    s.last_seen = s.last_seen.max(old.last_seen);
                }
            }
            *current = merged;
        }
        *self.tokens_w() = tokens;
        self.changed();
        Ok(())
    }

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

    /// Moves `user`'s sessions `secs` into the past without announcing it, as time passing does
    /// (tests of idle timeouts and expiry that do not wait for them).
    #[doc(hidden)]
    pub fn age_sessions_for_test(&self, user: &str, secs: i64) {
        for s in self.sessions_w().values_mut().filter(|s| s.user == user) {
            s.created -= secs;
            s.last_seen -= secs;
            s.persisted_seen -= secs;
            s.expires -= secs;
        }
    }

    /// Whether an open terminal's login still holds: its session is alive (not logged out, revoked,
    /// expired or idle past the timeout: the terminal's own traffic does not keep it alive) and its
    /// user exists, is enabled and is still an admin. `Err` says what ended it.
    pub fn session_authority(&self, sid: &str, user: &str) -> Result<(), &'static str> {
        let now = now_s();
        let idle = (self.cfg.session_idle_minutes * 60) as i64;
        {
            let sessions = self.sessions_r();
            let Some(s) = sessions.get(sid).filter(|s| s.user == user) else {
                return Err("the login session ended (logged out or revoked)");
            };
            if now >= s.expires {
                return Err("the login session expired");
            }
            if now - s.last_seen > idle {
                return Err("the login session timed out");
            }
        }
        match self.users_r().get(user) {
            None => Err("the user was deleted"),
            Some(u) if u.disabled => Err("the user was disabled"),
            Some(u) if u.role != Level::Admin => Err("the user is no longer an admin"),
            Some(_) => Ok(()),
        }
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

    /// True until an enabled admin exists.
    pub fn setup_required(&self) -> bool {
        !self.users_r().values().any(|u| u.role == Level::Admin && !u.disabled)
    }

    /// The one-time setup code: read from `<data-dir>/setup-code` or created there (0600). `None`
    /// once setup is done.
    // proxwatch's own file in its data dir, not the host's state: read directly.
    #[allow(clippy::disallowed_methods)]
    pub fn setup_code(&self) -> anyhow::Result<Option<String>> {
        if !self.setup_required() {
            return Ok(None);
        }
        let mut guard = self.setup_code.lock().map_err(|_| anyhow::anyhow!("setup code lock poisoned"))?;
        if let Some(code) = guard.as_ref() {
            return Ok(Some(code.clone()));
        }
        let existing = self
            .setup_code_path
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .map(|s| s.trim().to_string())
            .filter(|s| s.len() >= 12);
        let code = match existing {
            Some(c) => c,
            None => {
                let raw = data_encoding::BASE32_NOPAD.encode(&random_bytes::<10>());
                let code = format!("{}-{}-{}-{}", &raw[0..4], &raw[4..8], &raw[8..12], &raw[12..16]);
                if let Some(p) = &self.setup_code_path {
                    super::seal::write_private(p, format!("{code}\n").as_bytes())?;
                }
                code
            }
        };
        *guard = Some(code.clone());
        Ok(Some(code))
    }

    fn ip_key(ip: Option<IpAddr>) -> String {
        format!("ip:{}", ip.map(|i| i.to_string()).unwrap_or_else(|| "unknown".into()))
    }

    /// Whether `ip` has logged in as `user` within [`KNOWN_FOR_S`].
    fn is_known(&self, user: &str, ip: Option<IpAddr>) -> bool {
        let Some(ip) = ip else { return false };
        let known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        known.get(&(user.to_string(), ip)).is_some_and(|t| now_s() - t < KNOWN_FOR_S)
    }

    fn remember(&self, user: &str, ip: Option<IpAddr>) {
        let Some(ip) = ip else { return };
        let now = now_s();
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        if known.len() >= MAX_KNOWN {
            known.retain(|_, t| now - *t < KNOWN_FOR_S);
            if known.len() >= MAX_KNOWN {
                let mut times: Vec<i64> = known.values().copied().collect();
                times.sort_unstable();
                let cut = times[times.len() / 2];
                known.retain(|_, t| *t > cut);
            }
        }
        known.insert((user.to_string(), ip), now);
    }

    /// Reserves one attempt against the limits: the client's address always, the user name unless
    /// the address is known for that user (so a flood of guesses cannot lock the owner out of their
    /// usual place). Refusals are logged (coalesced) as lockouts.
    async fn reserve(
        &self,
        user: &str,
        ip: Option<IpAddr>,
        known: bool,
        purpose: Purpose,
    ) -> Result<Reservation<'_>, AuthError> {
        let mut keys = vec![Self::ip_key(ip)];
        if !known {
            keys.push(format!("user:{}", user.to_lowercase()));
        }
        match self.limiter.reserve(&keys, Instant::now()) {
            Ok(r) => Ok(r),
            Err(wait) => {
                self.audit.record(&self.db, Kind::Lockout, Some(user), ip, purpose.as_str()).await;
                Err(AuthError::RateLimited(wait))
            }
        }
    }

    /// A failed check: the reservation stays counted, the failure is logged once.
    async fn failed(
        &self,
        r: Reservation<'_>,
        user: &str,
        ip: Option<IpAddr>,
        purpose: Purpose,
    ) -> AuthError {
        drop(r);
        let (kind, detail) = purpose.failure();
        self.audit.record(&self.db, kind, Some(user), ip, detail).await;
        AuthError::Invalid
    }

    /// A permit to run argon2, or `Busy` (logged, coalesced) when none frees up within the queue time.
    async fn permit(&self, user: &str, ip: Option<IpAddr>, known: bool) -> Result<Permit, AuthError> {
        match self.gate.enter(known).await {
            Some(p) => Ok(p),
            None => {
                self.audit.record(&self.db, Kind::Busy, Some(user), ip, "password checks busy").await;
                Err(AuthError::Busy(BUSY_RETRY))
            }
        }
    }

    /// The password check of every path: reserved, gated, and on failure logged. `Ok(reservation)`
    /// when the password is right (the caller decides when the whole attempt succeeded). The user
    /// name's limit applies unless the address is known for the user (a stolen session trying
    /// passwords from many addresses is held by it); `priority` (a logged-in caller) may use the
    /// gate's kept permit.
    async fn check_password(
        &self,
        user: &str,
        pw: &str,
        ip: Option<IpAddr>,
        priority: bool,
        purpose: Purpose,
    ) -> Result<Reservation<'_>, AuthError> {
        check_password_len(pw)?;
        let known = self.is_known(user, ip);
        let r = self.reserve(user, ip, known, purpose).await?;
        let permit = match self.permit(user, ip, priority || known).await {
            Ok(p) => p,
            Err(e) => {
                // Not a guess: it does not count.
                r.succeeded();
                return Err(e);
            }
        };
        if self.verify_password(user, pw, permit).await {
            Ok(r)
        } else {
            Err(self.failed(r, user, ip, purpose).await)
        }
    }

    /// A code check (TOTP or backup code) on a reservation from [`Self::check_password`] or a fresh
    /// one: consumes the code when right, counts and logs the attempt when wrong.
    async fn check_code<'a>(
        &'a self,
        r: Reservation<'a>,
        user: &str,
        code: &str,
        ip: Option<IpAddr>,
        purpose: Purpose,
    ) -> Result<Reservation<'a>, AuthError> {
        if code.len() <= 32 && self.verify_second_factor(user, code, ip).await {
            Ok(r)
        } else {
            Err(self.failed(r, user, ip, purpose).await)
        }
    }

    /// First-run setup: creates the first admin when the code matches. Wrong codes are limited per
    /// address, and for everyone together by a cap high enough that one address cannot reach it.
    pub async fn setup(&self, code: &str, user: &str, pw: &str, ip: Option<IpAddr>) -> Result<(), AuthError> {
        // One setup at a time: two racing requests with the right code must not create two admins.
        let _one = self.setup_lock.lock().await;
        let now = Instant::now();
        let by_ip = match self.setup_ip.reserve(&[Self::ip_key(ip)], now) {
            Ok(r) => r,
            Err(wait) => {
                self.audit.record(&self.db, Kind::Lockout, Some(user), ip, "setup").await;
                return Err(AuthError::RateLimited(wait));
            }
        };
        let all = match self.setup_all.reserve(&["all".to_string()], now) {
            Ok(r) => r,
            Err(wait) => {
                by_ip.succeeded();
                tracing::error!(
                    "first-run setup is refused for everyone: {} wrong setup codes within {} s. Wait {} s, or \
                     restart proxwatch to clear the count; the setup code is in {}",
                    self.cfg.setup_max_attempts_total,
                    self.cfg.attempt_window_s,
                    wait.as_secs(),
                    self.setup_code_path
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|| "<data-dir>/setup-code".into()),
                );
                self.audit.record(&self.db, Kind::Lockout, Some(user), ip, "setup, all addresses").await;
                return Err(AuthError::RateLimited(wait));
            }
        };
        let Some(expected) = self.setup_code()? else {
            by_ip.succeeded();
            all.succeeded();
            return Err(AuthError::AlreadySetUp);
        };
        let normalize = |s: &str| s.trim().to_uppercase().replace(' ', "");
        if !ct_eq(&normalize(code), &normalize(&expected)) {
            drop((by_ip, all));
            self.audit.record(&self.db, Kind::SetupFailed, Some(user), ip, "wrong setup code").await;
            return Err(AuthError::Forbidden(
                "wrong setup code (see the service log or <data-dir>/setup-code)".into(),
            ));
        }
        by_ip.succeeded();
        all.succeeded();
        check_name("username", user)?;
        check_password_len(pw)?;
        password::check_policy(user, pw).map_err(AuthError::BadRequest)?;
        self.create_user(user, pw, Level::Admin).await?;
        if let Some(p) = &self.setup_code_path {
            let _ = std::fs::remove_file(p);
        }
        if let Ok(mut g) = self.setup_code.lock() {
            *g = None;
        }
        self.audit.record(&self.db, Kind::Setup, Some(user), ip, "first admin created").await;
        Ok(())
    }

    /// Creates a user (no policy check: callers decide; the demo's `demo` user is the one exception).
    pub async fn create_user(&self, name: &str, pw: &str, role: Level) -> Result<(), AuthError> {
        check_name("username", name)?;
        if self.users_r().contains_key(name) {
            return Err(AuthError::Conflict(format!("user {name} already exists")));
        }
        let phc = self.hash(pw).await?;
        self.create_user_hashed(name, &phc, role).await
    }

    /// Creates a user from an already hashed password (PHC string).
    pub async fn create_user_hashed(&self, name: &str, phc: &str, role: Level) -> Result<(), AuthError> {
        check_name("username", name)?;
        if self.users_r().contains_key(name) {
            return Err(AuthError::Conflict(format!("user {name} already exists")));
        }
        let phc = phc.to_string();
        let now = now_s();
        let (n, p, r) = (name.to_string(), phc.clone(), role.role());
        self.db
            .call(move |c| {
                c.execute(
                    "INSERT INTO users (name, role, phc, created, password_changed) VALUES (?1, ?2, ?3, ?4, ?4)",
                    params![n, r, p, now],
                )?;
                Ok(())
            })
            .await?;
        self.users_w().insert(
            name.to_string(),
            User {
                role,
                phc,
                disabled: false,
                totp_secret: None,
                totp_enabled: false,
                totp_pending: None,
                totp_last_step: 0,
                created: now,
            },
        );
        Ok(())
    }

    /// Verifies a password; an unknown or disabled user costs the same as a wrong password. The
    /// permit moves into the blocking task: a client that hangs up does not free it while argon2
    /// still holds its memory.
    async fn verify_password(&self, user: &str, pw: &str, permit: Permit) -> bool {
        let stored = self.users_r().get(user).filter(|u| !u.disabled).map(|u| u.phc.clone());
        let phc = stored.clone().unwrap_or_else(|| self.dummy_phc.clone());
        let pw = pw.to_string();
        let ok = tokio::task::spawn_blocking(move || {
            let ok = password::verify(&pw, &phc);
            drop(permit);
            ok
        })
        .await
        .unwrap_or(false);
        ok && stored.is_some()
    }

    /// Hashes a new password under a gate permit (waiting as a known client: only logged-in admins,
    /// setup and the command line set passwords).
    async fn hash(&self, pw: &str) -> Result<String, AuthError> {
        let permit = self.gate.enter(true).await.ok_or(AuthError::Busy(BUSY_RETRY))?;
        let pw = pw.to_string();
        tokio::task::spawn_blocking(move || {
            let phc = password::hash(&pw);
            drop(permit);
            phc
        })
        .await
        .map_err(|e| AuthError::Internal(anyhow::anyhow!("hashing task: {e}")))?
        .map_err(AuthError::Internal)
    }

    /// Checks a TOTP or backup code for `user`, consuming it. Internal errors count as a wrong code.
    async fn verify_second_factor(&self, user: &str, code: &str, ip: Option<IpAddr>) -> bool {
        let (secret, last) = match self.users_r().get(user) {
            Some(User { totp_secret: Some(s), totp_enabled: true, totp_last_step, .. }) => {
                (s.clone(), *totp_last_step)
            }
            _ => return false,
        };
        if totp::looks_like_backup_code(code) {
            // Codes issued before schema 6 are plain SHA-256; both forms are tried.
            let mac = totp::backup_code_mac(&self.backup_key, user, code);
            let legacy = totp::backup_code_hash(code);
            let u = user.to_string();
            let used = self
                .db
                .call(move |c| {
                    Ok(c.execute(
                        "DELETE FROM backup_codes WHERE user = ?1 AND hash IN (?2, ?3)",
                        params![u, mac, legacy],
                    )?)
                })
                .await;
            if matches!(used, Ok(1)) {
                self.audit.record(&self.db, Kind::BackupCodeUsed, Some(user), ip, "").await;
                return true;
            }
            return false;
        }
        let Some(step) = totp::check(&secret, code, now_s() as u64, last) else { return false };
        let u = user.to_string();
        let stored = self
            .db
            .call(move |c| {
                // The compare-and-set in SQL makes two racing requests with one code accept only one.
                Ok(c.execute(
                    "UPDATE users SET totp_last_step = ?2 WHERE name = ?1 AND totp_last_step < ?2",
                    params![u, step as i64],
                )?)
            })
            .await;
        if !matches!(stored, Ok(1)) {
            return false;
        }
        if let Some(u) = self.users_w().get_mut(user) {
            u.totp_last_step = u.totp_last_step.max(step);
        }
        true
    }

    /// Password (and, when enabled, TOTP) login. Errors never say which factor failed.
    pub async fn login(
        &self,
        user: &str,
        pw: &str,
        code: Option<&str>,
        ip: Option<IpAddr>,
        user_agent: Option<&str>,
    ) -> Result<LoginOutcome, AuthError> {
        if user.len() > MAX_NAME {
            return Err(AuthError::BadRequest(format!("username must be at most {MAX_NAME} characters")));
        }
        // A stranger gets no priority at the gate (known addresses get it inside).
        let mut r = self.check_password(user, pw, ip, false, Purpose::Login).await?;
        let totp_on = self.users_r().get(user).is_some_and(|u| u.totp_enabled);
        if totp_on {
            match code.map(str::trim).filter(|c| !c.is_empty()) {
                // The password was right: the second step is a new attempt.
                None => {
                    r.succeeded();
                    return Ok(LoginOutcome::TotpRequired);
                }
                Some(c) => r = self.check_code(r, user, c, ip, Purpose::Login).await?,
            }
        }
        r.succeeded();
        let s = self.new_session(user, ip, user_agent).await?;
        self.remember(user, ip);
        self.audit.record(&self.db, Kind::LoginOk, Some(user), ip, "").await;
        Ok(LoginOutcome::Session(s))
    }

    async fn new_session(
        &self,
        user: &str,
        ip: Option<IpAddr>,
        ua: Option<&str>,
    ) -> Result<NewSession, AuthError> {
        let role = self.users_r().get(user).map(|u| u.role).ok_or(AuthError::Invalid)?;
        let now = now_s();
        let lifetime = (self.cfg.session_lifetime_hours * 3600) as i64;
        let id = random_id(16);
        let csrf = random_id(16);
        let session = Session {
            user: user.to_string(),
            csrf: csrf.clone(),
            created: now,
            last_seen: now,
            persisted_seen: now,
            expires: now + lifetime,
            ip: ip.map(|i| i.to_string()),
            user_agent: ua.map(|u| u.chars().take(200).collect()),
        };
        let (sid, s) = (id.clone(), session.clone());
        self.db
            .call(move |c| {
                c.execute(
                    "INSERT INTO sessions (id, user, csrf, created, last_seen, expires, ip, user_agent)
                     VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7)",
                    params![sid, s.user, s.csrf, s.created, s.expires, s.ip, s.user_agent],
                )?;
                Ok(())
            })
            .await?;
        self.sessions_w().insert(id.clone(), session);
        let claims =
            Claims { sid: id.clone(), sub: user.to_string(), iat: now as u64, exp: (now + lifetime) as u64 };
        let jwt = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.enc)
            .map_err(|e| AuthError::Internal(anyhow::anyhow!("signing session: {e}")))?;
        Ok(NewSession { id, jwt, csrf, user: user.to_string(), role, max_age_s: lifetime })
    }

    /// The principal behind a session cookie, and its CSRF token, if the session is alive.
    pub fn check_session(&self, jwt: &str, ip: Option<IpAddr>) -> Option<(Principal, String)> {
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = 0;
        let claims = jsonwebtoken::decode::<Claims>(jwt, &self.dec, &v).ok()?.claims;
        let now = now_s();
        let idle = (self.cfg.session_idle_minutes * 60) as i64;
        let role = {
            let users = self.users_r();
            let u = users.get(&claims.sub).filter(|u| !u.disabled)?;
            u.role
        };
        let (csrf, persist) = {
            let mut sessions = self.sessions_w();
            let s = sessions.get_mut(&claims.sid)?;
            if s.user != claims.sub || now >= s.expires || now - s.last_seen > idle {
                sessions.remove(&claims.sid);
                // Forget it on disk too, so it neither lists nor comes back on a reload.
                let (db, sid) = (self.db.clone(), claims.sid.clone());
                self.tasks.spawn(async move {
                    let _ =
                        db.call(move |c| Ok(c.execute("DELETE FROM sessions WHERE id = ?1", [sid])?)).await;
                });
                return None;
            }
            s.last_seen = now;
            let persist = now - s.persisted_seen >= TOUCH_EVERY_S;
            if persist {
                s.persisted_seen = now;
            }
            (s.csrf.clone(), persist)
        };
        if persist {
            let (db, sid) = (self.db.clone(), claims.sid.clone());
            self.tasks.spawn(async move {
                let _ = db
                    .call(move |c| {
                        Ok(c.execute("UPDATE sessions SET last_seen = ?2 WHERE id = ?1", params![sid, now])?)
                    })
                    .await;
            });
        }
        Some((Principal { user: claims.sub, level: role, via: Via::Session { id: claims.sid }, ip }, csrf))
    }

    /// The principal behind an API token (`pxw_<id>_<secret>`): its scope, capped by the owner's role.
    /// Failures are throttled per client address and logged with the token's id or a hash prefix,
    /// never its text (a mis-pasted password must not reach the log). A valid token never touches
    /// the limiter (the hot path of every script); an address over the limit gets 429 for any
    /// invalid one without it being logged again.
    pub async fn check_token(&self, token: &str, ip: Option<IpAddr>) -> Result<Principal, TokenRefusal> {
        if let Some(p) = self.token_principal(token, ip).await {
            return Ok(p);
        }
        let key = [Self::ip_key(ip)];
        if let Err(wait) = self.token_failures.check(&key, Instant::now()) {
            self.audit.record(&self.db, Kind::Lockout, None, ip, "api token").await;
            return Err(TokenRefusal::Throttled(wait));
        }
        self.token_failures.fail(&key, Instant::now());
        self.audit.record(&self.db, Kind::TokenFailed, None, ip, &token_label(token)).await;
        Err(TokenRefusal::Invalid)
    }

    async fn token_principal(&self, token: &str, ip: Option<IpAddr>) -> Option<Principal> {
        let rest = token.strip_prefix(TOKEN_PREFIX)?;
        let (id, _) = rest.split_once('_')?;
        let now = now_s();
        let hash = sha256_hex(token);
        let (user, scope, new_ip, persist) = {
            let mut tokens = self.tokens_w();
            let t = tokens.get_mut(id)?;
            if !ct_eq(&t.hash, &hash) || t.expires.is_some_and(|e| now >= e) {
                return None;
            }
            let ip_s = ip.map(|i| i.to_string());
            let new_ip = t.last_ip.is_some() && ip_s.is_some() && t.last_ip != ip_s;
            let persist = new_ip || t.last_ip.is_none() || now - t.persisted_used >= TOUCH_EVERY_S;
            t.last_used = Some(now);
            t.last_ip = ip_s;
            if persist {
                t.persisted_used = now;
            }
            (t.user.clone(), t.scope, new_ip, persist)
        };
        let role = self.users_r().get(&user).filter(|u| !u.disabled).map(|u| u.role)?;
        if persist {
            let (tid, ip_s) = (id.to_string(), ip.map(|i| i.to_string()));
            let _ = self
                .db
                .call(move |c| {
                    Ok(c.execute(
                        "UPDATE api_tokens SET last_used = ?2, last_ip = ?3 WHERE id = ?1",
                        params![tid, now, ip_s],
                    )?)
                })
                .await;
        }
        if new_ip {
            self.audit.record(&self.db, Kind::TokenNewIp, Some(&user), ip, id).await;
        }
        Some(Principal { user, level: scope.min(role), via: Via::Token { id: id.to_string() }, ip })
    }

    async fn delete_sessions(&self, ids: Vec<String>) -> Result<usize, AuthError> {
        if ids.is_empty() {
            return Ok(0);
        }
        {
            let mut sessions = self.sessions_w();
            for id in &ids {
                sessions.remove(id);
            }
        }
        self.changed();
        let n = ids.len();
        self.db
            .call(move |c| {
                let tx = c.transaction()?;
                for id in &ids {
                    tx.execute("DELETE FROM sessions WHERE id = ?1", [id])?;
                }
                tx.commit()?;
                Ok(())
            })
            .await?;
        Ok(n)
    }

    pub async fn logout(&self, p: &Principal) -> Result<(), AuthError> {
        if let Via::Session { id } = &p.via {
            self.delete_sessions(vec![id.clone()]).await?;
        }
        self.audit.record(&self.db, Kind::Logout, Some(&p.user), p.ip, "").await;
        Ok(())
    }

    /// Sessions of `user` (all users' when `None`).
    pub fn list_sessions(&self, user: Option<&str>, current: Option<&str>) -> Vec<SessionInfo> {
        let mut v: Vec<SessionInfo> = self
            .sessions_r()
            .iter()
            .filter(|(_, s)| user.is_none_or(|u| s.user == u))
            .map(|(id, s)| SessionInfo {
                id: id.clone(),
                user: s.user.clone(),
                created: s.created,
                last_seen: s.last_seen,
                expires: s.expires,
                ip: s.ip.clone(),
                user_agent: s.user_agent.clone(),
                current: current == Some(id.as_str()),
            })
            .collect();
        v.sort_by_key(|s| std::cmp::Reverse(s.last_seen));
        v
    }

    /// Revokes one session; a non-admin may only revoke their own.
    pub async fn revoke_session(&self, p: &Principal, id: &str) -> Result<(), AuthError> {
        let owner = self.sessions_r().get(id).map(|s| s.user.clone());
        match owner {
            Some(owner) if owner == p.user || p.level == Level::Admin => {
                self.delete_sessions(vec![id.to_string()]).await?;
                self.audit
                    .record(&self.db, Kind::SessionRevoked, Some(&owner), p.ip, &format!("by {}", p.user))
                    .await;
                Ok(())
            }
            _ => Err(AuthError::NotFound(format!("no session {id}"))),
        }
    }

    /// "Log out everywhere": all of `user`'s sessions except `keep`.
    pub async fn revoke_user_sessions(&self, user: &str, keep: Option<&str>) -> Result<usize, AuthError> {
        let ids: Vec<String> = self
            .sessions_r()
            .iter()
            .filter(|(id, s)| s.user == user && Some(id.as_str()) != keep)
            .map(|(id, _)| id.clone())
            .collect();
        self.delete_sessions(ids).await
    }

    /// Changes the caller's password (the current one is required); other sessions are revoked.
    pub async fn change_password(&self, p: &Principal, current: &str, new: &str) -> Result<(), AuthError> {
        check_password_len(new)?;
        password::check_policy(&p.user, new).map_err(AuthError::BadRequest)?;
        let r = self.check_password(&p.user, current, p.ip, true, Purpose::PasswordChange).await?;
        r.succeeded();
        self.set_password(&p.user, new).await?;
        let keep = match &p.via {
            Via::Session { id } => Some(id.as_str()),
            Via::Token { .. } => None,
        };
        self.revoke_user_sessions(&p.user, keep).await?;
        self.audit.record(&self.db, Kind::PasswordChanged, Some(&p.user), p.ip, "").await;
        Ok(())
    }

    /// Sets a password without the old one (admins, the CLI). All sessions of the user are revoked.
    pub async fn set_password(&self, user: &str, new: &str) -> Result<(), AuthError> {
        if !self.users_r().contains_key(user) {
            return Err(AuthError::NotFound(format!("no user {user}")));
        }
        let phc = self.hash(new).await?;
        let (u, p, now) = (user.to_string(), phc.clone(), now_s());
        self.db
            .call(move |c| {
                Ok(c.execute(
                    "UPDATE users SET phc = ?2, password_changed = ?3 WHERE name = ?1",
                    params![u, p, now],
                )?)
            })
            .await?;
        if let Some(u) = self.users_w().get_mut(user) {
            u.phc = phc;
        }
        Ok(())
    }

    /// Starts (or restarts) TOTP setup: needs the password, and a current code when TOTP is already on.
    pub async fn totp_setup(
        &self,
        p: &Principal,
        pw: &str,
        code: Option<&str>,
        host: &str,
    ) -> Result<(String, String), AuthError> {
        self.reauthenticate_for(p, pw, code, Purpose::TotpSetup).await?;
        let secret = totp::new_secret();
        let sealed = self.keys.seal(&secret)?;
        let u = p.user.clone();
        // A new secret waits as the pending one; an enabled TOTP stays as it is until a code from
        // the new secret is confirmed (turning it off here would let a password alone log in).
        self.db
            .call(move |c| {
                Ok(c.execute(
                    "UPDATE users SET totp_pending_sealed = ?2 WHERE name = ?1",
                    params![u, sealed],
                )?)
            })
            .await?;
        if let Some(u) = self.users_w().get_mut(&p.user) {
            u.totp_pending = Some(secret.to_vec());
        }
        let uri = totp::otpauth_uri(&secret, &p.user, host)?;
        let svg = totp::qr_svg(&uri)?;
        Ok((uri, svg))
    }

    /// Confirms the pending TOTP secret with a valid code from it: it becomes the enabled one
    /// (replacing an older one) and 10 new backup codes are returned (shown once).
    pub async fn totp_enable(&self, p: &Principal, code: &str) -> Result<Vec<String>, AuthError> {
        let Some(secret) = self.users_r().get(&p.user).and_then(|u| u.totp_pending.clone()) else {
            return Err(AuthError::BadRequest("start with /api/auth/totp/setup".into()));
        };
        let r = self.reserve(&p.user, p.ip, self.is_known(&p.user, p.ip), Purpose::TotpEnable).await?;
        // A new secret has no used steps yet.
        let Some(step) = totp::check(&secret, code, now_s() as u64, 0) else {
            return Err(self.failed(r, &p.user, p.ip, Purpose::TotpEnable).await);
        };
        r.succeeded();
        let codes = totp::new_backup_codes();
        let hashes: Vec<String> =
            codes.iter().map(|c| totp::backup_code_mac(&self.backup_key, &p.user, c)).collect();
        let u = p.user.clone();
        let sealed = self.keys.seal(&secret)?;
        self.db
            .call(move |c| {
                let tx = c.transaction()?;
                tx.execute(
                    "UPDATE users SET totp_sealed = ?3, totp_pending_sealed = NULL, totp_enabled = 1,
                     totp_last_step = ?2 WHERE name = ?1",
                    params![u, step as i64, sealed],
                )?;
                tx.execute("DELETE FROM backup_codes WHERE user = ?1", [&u])?;
                for h in &hashes {
                    tx.execute("INSERT INTO backup_codes (user, hash) VALUES (?1, ?2)", params![u, h])?;
                }
                tx.commit()?;
                Ok(())
            })
            .await?;
        if let Some(u) = self.users_w().get_mut(&p.user) {
            u.totp_secret = Some(secret);
            u.totp_pending = None;
            u.totp_enabled = true;
            u.totp_last_step = step;
        }
        self.audit.record(&self.db, Kind::TotpEnabled, Some(&p.user), p.ip, "").await;
        Ok(codes)
    }

    /// Turns TOTP off: needs the password and a current code.
    pub async fn totp_disable(&self, p: &Principal, pw: &str, code: &str) -> Result<(), AuthError> {
        if !self.totp_enabled(&p.user) {
            return Err(AuthError::Conflict("two-factor is not enabled".into()));
        }
        self.reauthenticate_for(p, pw, Some(code), Purpose::TotpDisable).await?;
        self.clear_totp(&p.user).await?;
        self.audit.record(&self.db, Kind::TotpDisabled, Some(&p.user), p.ip, "").await;
        Ok(())
    }

    async fn clear_totp(&self, user: &str) -> Result<(), AuthError> {
        let u = user.to_string();
        self.db
            .call(move |c| {
                c.execute(
                    "UPDATE users SET totp_sealed = NULL, totp_pending_sealed = NULL, totp_enabled = 0,
                     totp_last_step = 0 WHERE name = ?1",
                    [&u],
                )?;
                c.execute("DELETE FROM backup_codes WHERE user = ?1", [&u])?;
                Ok(())
            })
            .await?;
        if let Some(u) = self.users_w().get_mut(user) {
            u.totp_secret = None;
            u.totp_pending = None;
            u.totp_enabled = false;
            u.totp_last_step = 0;
        }
        Ok(())
    }

    /// Removes a user's TOTP and backup codes without a code (the command line, for a lost phone).
    pub async fn reset_totp(&self, user: &str) -> Result<(), AuthError> {
        if !self.users_r().contains_key(user) {
            return Err(AuthError::NotFound(format!("no user {user}")));
        }
        self.clear_totp(user).await?;
        self.audit
            .record(&self.db, Kind::TotpDisabled, Some(user), None, "reset from the command line")
            .await;
        Ok(())
    }

    pub fn totp_enabled(&self, user: &str) -> bool {
        self.users_r().get(user).is_some_and(|u| u.totp_enabled)
    }

    /// Re-authentication for sensitive actions (token creation): the password, and a code when TOTP
    /// is on; limited and logged like a login.
    pub async fn reauthenticate(&self, p: &Principal, pw: &str, code: Option<&str>) -> Result<(), AuthError> {
        self.reauthenticate_for(p, pw, code, Purpose::TokenCreation).await
    }

    async fn reauthenticate_for(
        &self,
        p: &Principal,
        pw: &str,
        code: Option<&str>,
        purpose: Purpose,
    ) -> Result<(), AuthError> {
        // The caller is logged in: it may use the gate's kept permit.
        let mut r = self.check_password(&p.user, pw, p.ip, true, purpose).await?;
        if self.totp_enabled(&p.user) {
            r = self.check_code(r, &p.user, code.unwrap_or("").trim(), p.ip, purpose).await?;
        }
        r.succeeded();
        Ok(())
    }

    /// Creates an API token for the caller; its scope may not exceed the caller's role.
    pub async fn create_token(
        &self,
        p: &Principal,
        name: &str,
        scope: Level,
        expires_in_days: Option<u32>,
    ) -> Result<(String, String), AuthError> {
        if name.trim().is_empty() || name.len() > MAX_NAME {
            return Err(AuthError::BadRequest(format!("name must be 1 to {MAX_NAME} characters")));
        }
        let role = self.users_r().get(&p.user).map(|u| u.role).ok_or(AuthError::Invalid)?;
        if scope > role {
            return Err(AuthError::Forbidden(format!(
                "a {} cannot create a token with scope {}",
                role.role(),
                scope.scope()
            )));
        }
        if expires_in_days.is_some_and(|d| d == 0 || d > 3650) {
            return Err(AuthError::BadRequest("expires_in_days must be 1 to 3650".into()));
        }
        let id = random_id(6);
        let secret = data_encoding::BASE32_NOPAD.encode(&random_bytes::<20>()).to_lowercase();
        let token = format!("{TOKEN_PREFIX}{id}_{secret}");
        let now = now_s();
        let t = Token {
            user: p.user.clone(),
            name: name.trim().to_string(),
            scope,
            hash: sha256_hex(&token),
            created: now,
            expires: expires_in_days.map(|d| now + d as i64 * 86400),
            last_used: None,
            persisted_used: 0,
            last_ip: None,
        };
        let (tid, row) = (id.clone(), t.clone());
        self.db
            .call(move |c| {
                c.execute(
                    "INSERT INTO api_tokens (id, user, name, scope, hash, created, expires) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![tid, row.user, row.name, row.scope.scope(), row.hash, row.created, row.expires],
                )?;
                Ok(())
            })
            .await?;
        self.tokens_w().insert(id.clone(), t);
        self.audit
            .record(&self.db, Kind::TokenCreated, Some(&p.user), p.ip, &format!("{id} {}", scope.scope()))
            .await;
        Ok((id, token))
    }

    /// Tokens of `user` (all when `None`).
    pub fn list_tokens(&self, user: Option<&str>) -> Vec<TokenInfo> {
        let tokens = self.tokens.read().unwrap_or_else(|p| p.into_inner());
        let mut v: Vec<TokenInfo> = tokens
            .iter()
            .filter(|(_, t)| user.is_none_or(|u| t.user == u))
            .map(|(id, t)| TokenInfo {
                id: id.clone(),
                user: t.user.clone(),
                name: t.name.clone(),
                scope: t.scope.scope(),
                created: t.created,
                expires: t.expires,
                last_used: t.last_used,
                last_ip: t.last_ip.clone(),
            })
            .collect();
        v.sort_by_key(|t| std::cmp::Reverse(t.created));
        v
    }

    /// Revokes a token: the owner's own, or any token for an admin.
    pub async fn revoke_token(&self, p: &Principal, id: &str) -> Result<(), AuthError> {
        let owner = self.tokens.read().unwrap_or_else(|e| e.into_inner()).get(id).map(|t| t.user.clone());
        match owner {
            Some(owner) if owner == p.user || p.level == Level::Admin => {
                self.tokens_w().remove(id);
                let tid = id.to_string();
                self.db.call(move |c| Ok(c.execute("DELETE FROM api_tokens WHERE id = ?1", [tid])?)).await?;
                self.audit.record(&self.db, Kind::TokenRevoked, Some(&owner), p.ip, id).await;
                Ok(())
            }
            _ => Err(AuthError::NotFound(format!("no token {id}"))),
        }
    }

    pub fn list_users(&self) -> Vec<UserInfo> {
        let mut v: Vec<UserInfo> = self
            .users_r()
            .iter()
            .map(|(n, u)| UserInfo {
                name: n.clone(),
                role: u.role,
                disabled: u.disabled,
                totp_enabled: u.totp_enabled,
                created: u.created,
            })
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    pub fn user_role(&self, user: &str) -> Option<Level> {
        self.users_r().get(user).map(|u| u.role)
    }

    fn would_leave_no_admin(&self, user: &str) -> bool {
        !self.users_r().iter().any(|(n, u)| n != user && u.role == Level::Admin && !u.disabled)
    }

    /// Changes role and/or disabled state. Disabling revokes the user's sessions at once; the last
    /// enabled admin cannot be demoted or disabled.
    pub async fn update_user(
        &self,
        name: &str,
        role: Option<Level>,
        disabled: Option<bool>,
    ) -> Result<(), AuthError> {
        let current = self.users_r().get(name).map(|u| (u.role, u.disabled));
        let Some((old_role, old_disabled)) = current else {
            return Err(AuthError::NotFound(format!("no user {name}")));
        };
        let new_role = role.unwrap_or(old_role);
        let new_disabled = disabled.unwrap_or(old_disabled);
        if old_role == Level::Admin
            && !old_disabled
            && (new_role != Level::Admin || new_disabled)
            && self.would_leave_no_admin(name)
        {
            return Err(AuthError::Conflict("this is the last enabled admin".into()));
        }
        let n = name.to_string();
        self.db
            .call(move |c| {
                Ok(c.execute(
                    "UPDATE users SET role = ?2, disabled = ?3 WHERE name = ?1",
                    params![n, new_role.role(), new_disabled],
                )?)
            })
            .await?;
        if let Some(u) = self.users_w().get_mut(name) {
            u.role = new_role;
            u.disabled = new_disabled;
        }
        self.changed();
        if new_disabled {
            self.revoke_user_sessions(name, None).await?;
        }
        Ok(())
    }

    pub async fn delete_user(&self, name: &str) -> Result<(), AuthError> {
        if !self.users_r().contains_key(name) {
            return Err(AuthError::NotFound(format!("no user {name}")));
        }
        if self.users_r().get(name).is_some_and(|u| u.role == Level::Admin && !u.disabled)
            && self.would_leave_no_admin(name)
        {
            return Err(AuthError::Conflict("this is the last enabled admin".into()));
        }
        self.revoke_user_sessions(name, None).await?;
        let n = name.to_string();
        self.db.call(move |c| Ok(c.execute("DELETE FROM users WHERE name = ?1", [n])?)).await?;
        self.users_w().remove(name);
        self.tokens_w().retain(|_, t| t.user != name);
        self.changed();
        Ok(())
    }
}

type State = (HashMap<String, User>, HashMap<String, Session>, HashMap<String, Token>);

/// Reads users (opening their sealed TOTP secrets), live sessions and tokens.
fn read_state(c: &mut rusqlite::Connection, keys: &Keys, now: i64) -> anyhow::Result<State> {
    c.execute("DELETE FROM sessions WHERE expires < ?1", [now])?;
    let mut users = HashMap::new();
    let mut stmt = c.prepare(
        "SELECT name, role, phc, disabled, totp_sealed, totp_enabled, totp_last_step, created, totp_pending_sealed
         FROM users",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, bool>(3)?,
            r.get::<_, Option<Vec<u8>>>(4)?,
            r.get::<_, bool>(5)?,
            r.get::<_, i64>(6)?,
            r.get::<_, i64>(7)?,
            r.get::<_, Option<Vec<u8>>>(8)?,
        ))
    })?;
    for row in rows {
        let (name, role, phc, disabled, sealed, totp_enabled, last_step, created, pending) = row?;
        let role = Level::from_role(&role).with_context(|| format!("user {name} has unknown role {role}"))?;
        let totp_secret = match sealed {
            Some(s) => Some(keys.open(&s).with_context(|| format!("opening the TOTP secret of {name}"))?),
            None => None,
        };
        let totp_pending = match pending {
            Some(s) => {
                Some(keys.open(&s).with_context(|| format!("opening the pending TOTP secret of {name}"))?)
            }
            None => None,
        };
        users.insert(
            name,
            User {
                role,
                phc,
                disabled,
                totp_secret,
                totp_enabled,
                totp_pending,
                totp_last_step: last_step as u64,
                created,
            },
        );
    }
    let mut sessions = HashMap::new();
    let mut stmt =
        c.prepare("SELECT id, user, csrf, created, last_seen, expires, ip, user_agent FROM sessions")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            Session {
                user: r.get(1)?,
                csrf: r.get(2)?,
                created: r.get(3)?,
                last_seen: r.get(4)?,
                persisted_seen: r.get(4)?,
                expires: r.get(5)?,
                ip: r.get(6)?,
                user_agent: r.get(7)?,
            },
        ))
    })?;
    for row in rows {
        let (id, s) = row?;
        sessions.insert(id, s);
    }
    let mut tokens = HashMap::new();
    let mut stmt = c.prepare(
        "SELECT id, user, name, scope, hash, created, expires, last_used, last_ip FROM api_tokens",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, i64>(5)?,
            r.get::<_, Option<i64>>(6)?,
            r.get::<_, Option<i64>>(7)?,
            r.get::<_, Option<String>>(8)?,
        ))
    })?;
    for row in rows {
        let (id, user, name, scope, hash, created, expires, last_used, last_ip) = row?;
        let scope = Level::from_scope(&scope).with_context(|| format!("token {id} has unknown scope"))?;
        tokens.insert(
            id,
            Token {
                user,
                name,
                scope,
                hash,
                created,
                expires,
                last_used,
                persisted_used: last_used.unwrap_or(0),
                last_ip,
            },
        );
    }
    Ok((users, sessions, tokens))
}

/// (user, address) pairs that logged in within [`KNOWN_FOR_S`], from the event table.
fn read_known(c: &mut rusqlite::Connection, now: i64) -> anyhow::Result<HashMap<(String, IpAddr), i64>> {
    let mut stmt = c.prepare(
        "SELECT user, ip, max(ts) FROM auth_events WHERE kind = 'login_ok' AND ts >= ?1
         AND user IS NOT NULL AND ip IS NOT NULL GROUP BY user, ip ORDER BY max(ts) DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![now - KNOWN_FOR_S, MAX_KNOWN as i64], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
    })?;
    let mut known = HashMap::new();
    for row in rows {
        let (user, ip, ts) = row?;
        if let Ok(ip) = ip.parse::<IpAddr>() {
            known.insert((user, ip), ts);
        }
    }
    Ok(known)
}

/// How a refused bearer value is named in the log: a proxwatch token by its id (public), anything
/// else by a short hash (it may be a password pasted into the wrong field).
pub fn token_label(token: &str) -> String {
    let id = token.strip_prefix(TOKEN_PREFIX).and_then(|r| r.split_once('_')).map(|(id, _)| id);
    match id {
        Some(id) if id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit()) => format!("token id={id}"),
        _ => format!("sha256={}", &sha256_hex(token)[..12]),
    }
}

/// How an auth refusal is answered (the mapping lives with the error, below `error.rs`).
impl From<AuthError> for crate::error::ApiError {
    fn from(e: AuthError) -> Self {
        use AuthError as E;
        use axum::http::StatusCode;
        match e {
            E::Invalid => crate::error::ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "invalid credentials",
            ),
            E::RateLimited(wait) => crate::error::ApiError::retry_later(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many attempts",
                wait,
            ),
            E::Busy(wait) => crate::error::ApiError::retry_later(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "too many password checks at once",
                wait,
            ),
            E::BadRequest(m) => crate::error::ApiError::bad_request(m),
            E::Forbidden(m) => crate::error::ApiError::new(StatusCode::FORBIDDEN, "forbidden", m),
            E::NotFound(m) => crate::error::ApiError::not_found(m),
            E::Conflict(m) => crate::error::ApiError::new(StatusCode::CONFLICT, "conflict", m),
            E::AlreadySetUp => {
                crate::error::ApiError::new(StatusCode::CONFLICT, "already_set_up", "setup is already done")
            }
            E::Internal(e) => crate::error::ApiError::internal(format!("{e:#}")),
        }
    }
}
