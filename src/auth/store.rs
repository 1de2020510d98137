//! Users, browser sessions and API tokens. SQLite is the truth; an in-memory copy answers the per-
//! request checks, and every change (logout, password change, disable, revoke) is written through to
//! both before the call returns, so revocation is immediate.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rusqlite::params;
use serde::{Deserialize, Serialize};

use super::audit::{AuditLog, Kind};
use super::ratelimit::Limiter;
use super::seal::Keys;
use super::{Cidr, Level, Principal, Via, ct_eq, password, random_bytes, sha256_hex, totp};
use crate::config::AuthCfg;
use crate::db::Db;

pub const MAX_NAME: usize = 64;
pub const COOKIE: &str = "pxw_session";
pub const TOKEN_PREFIX: &str = "pxw_";
/// Persist a session's or token's last use at most this often (seconds).
const TOUCH_EVERY_S: i64 = 60;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("invalid credentials")]
    Invalid,
    #[error("too many attempts; retry in {} s", .0.as_secs())]
    RateLimited(Duration),
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
    setup_code: Mutex<Option<String>>,
    setup_lock: tokio::sync::Mutex<()>,
    setup_code_path: Option<PathBuf>,
    dummy_phc: String,
    pub audit: AuditLog,
    pub demo: bool,
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
        Ok(Auth {
            db,
            keys,
            enc: EncodingKey::from_secret(&jwt_key),
            dec: DecodingKey::from_secret(&jwt_key),
            limiter: Limiter::new(cfg.max_attempts, Duration::from_secs(cfg.attempt_window_s)),
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
        Ok(())
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

    fn limit_keys(ip: Option<IpAddr>, user: &str) -> Vec<String> {
        let ip = ip.map(|i| i.to_string()).unwrap_or_else(|| "unknown".into());
        vec![format!("ip:{ip}"), format!("user:{}", user.to_lowercase())]
    }

    async fn refuse_if_limited(
        &self,
        keys: &[String],
        user: &str,
        ip: Option<IpAddr>,
    ) -> Result<(), AuthError> {
        if let Err(wait) = self.limiter.check(keys, Instant::now()) {
            self.audit.record(&self.db, Kind::Lockout, Some(user), ip, "").await;
            return Err(AuthError::RateLimited(wait));
        }
        Ok(())
    }

    /// First-run setup: creates the first admin when the code matches.
    pub async fn setup(&self, code: &str, user: &str, pw: &str, ip: Option<IpAddr>) -> Result<(), AuthError> {
        // One setup at a time: two racing requests with the right code must not create two admins.
        let _one = self.setup_lock.lock().await;
        let keys = Self::limit_keys(ip, "setup");
        self.refuse_if_limited(&keys, "setup", ip).await?;
        let Some(expected) = self.setup_code()? else { return Err(AuthError::AlreadySetUp) };
        let normalize = |s: &str| s.trim().to_uppercase().replace(' ', "");
        if !ct_eq(&normalize(code), &normalize(&expected)) {
            self.limiter.fail(&keys, Instant::now());
            self.audit.record(&self.db, Kind::SetupFailed, Some(user), ip, "wrong setup code").await;
            return Err(AuthError::Forbidden(
                "wrong setup code (see the service log or <data-dir>/setup-code)".into(),
            ));
        }
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
        let phc = hash_blocking(pw).await?;
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
                totp_last_step: 0,
                created: now,
            },
        );
        Ok(())
    }

    /// Verifies a password; an unknown or disabled user costs the same as a wrong password.
    async fn verify_password(&self, user: &str, pw: &str) -> bool {
        let stored = self.users_r().get(user).filter(|u| !u.disabled).map(|u| u.phc.clone());
        let phc = stored.clone().unwrap_or_else(|| self.dummy_phc.clone());
        let pw = pw.to_string();
        let ok = tokio::task::spawn_blocking(move || password::verify(&pw, &phc)).await.unwrap_or(false);
        ok && stored.is_some()
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
            let hash = totp::backup_code_hash(code);
            let u = user.to_string();
            let used = self
                .db
                .call(move |c| {
                    Ok(c.execute("DELETE FROM backup_codes WHERE user = ?1 AND hash = ?2", params![u, hash])?)
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
        check_password_len(pw)?;
        let keys = Self::limit_keys(ip, user);
        self.refuse_if_limited(&keys, user, ip).await?;
        let fail = |detail: &'static str| async move {
            self.limiter.fail(&keys, Instant::now());
            self.audit.record(&self.db, Kind::LoginFailed, Some(user), ip, detail).await;
            Err(AuthError::Invalid)
        };
        if !self.verify_password(user, pw).await {
            return fail("").await;
        }
        let totp_on = self.users_r().get(user).is_some_and(|u| u.totp_enabled);
        if totp_on {
            match code.map(str::trim).filter(|c| !c.is_empty()) {
                None => return Ok(LoginOutcome::TotpRequired),
                Some(c) if c.len() > 32 => return fail("").await,
                Some(c) => {
                    if !self.verify_second_factor(user, c, ip).await {
                        return fail("").await;
                    }
                }
            }
        }
        let s = self.new_session(user, ip, user_agent).await?;
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
                tokio::spawn(async move {
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
            tokio::spawn(async move {
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
    pub async fn check_token(&self, token: &str, ip: Option<IpAddr>) -> Option<Principal> {
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
        check_password_len(current)?;
        check_password_len(new)?;
        if !self.verify_password(&p.user, current).await {
            self.audit.record(&self.db, Kind::LoginFailed, Some(&p.user), p.ip, "password change").await;
            return Err(AuthError::Invalid);
        }
        password::check_policy(&p.user, new).map_err(AuthError::BadRequest)?;
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
        let phc = hash_blocking(new).await?;
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
        check_password_len(pw)?;
        if !self.verify_password(&p.user, pw).await {
            return Err(AuthError::Invalid);
        }
        let enabled = self.users_r().get(&p.user).is_some_and(|u| u.totp_enabled);
        if enabled && !self.verify_second_factor(&p.user, code.unwrap_or(""), p.ip).await {
            return Err(AuthError::Invalid);
        }
        let secret = totp::new_secret();
        let sealed = self.keys.seal(&secret)?;
        let u = p.user.clone();
        // A new secret replaces any pending one; an enabled TOTP stays enabled until confirmed.
        self.db
            .call(move |c| {
                Ok(c.execute(
                    "UPDATE users SET totp_sealed = ?2, totp_enabled = 0 WHERE name = ?1",
                    params![u, sealed],
                )?)
            })
            .await?;
        if let Some(u) = self.users_w().get_mut(&p.user) {
            u.totp_secret = Some(secret.to_vec());
            u.totp_enabled = false;
        }
        let uri = totp::otpauth_uri(&secret, &p.user, host)?;
        let svg = totp::qr_svg(&uri)?;
        Ok((uri, svg))
    }

    /// Confirms TOTP with a valid code; returns the 10 backup codes (shown once).
    pub async fn totp_enable(&self, p: &Principal, code: &str) -> Result<Vec<String>, AuthError> {
        let (secret, last) = match self.users_r().get(&p.user) {
            Some(User { totp_secret: Some(s), totp_enabled: false, totp_last_step, .. }) => {
                (s.clone(), *totp_last_step)
            }
            Some(User { totp_enabled: true, .. }) => {
                return Err(AuthError::Conflict("two-factor is already enabled".into()));
            }
            _ => return Err(AuthError::BadRequest("start with /api/auth/totp/setup".into())),
        };
        let Some(step) = totp::check(&secret, code, now_s() as u64, last) else {
            return Err(AuthError::Invalid);
        };
        let codes = totp::new_backup_codes();
        let hashes: Vec<String> = codes.iter().map(|c| totp::backup_code_hash(c)).collect();
        let u = p.user.clone();
        self.db
            .call(move |c| {
                let tx = c.transaction()?;
                tx.execute(
                    "UPDATE users SET totp_enabled = 1, totp_last_step = ?2 WHERE name = ?1",
                    params![u, step as i64],
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
            u.totp_enabled = true;
            u.totp_last_step = step;
        }
        self.audit.record(&self.db, Kind::TotpEnabled, Some(&p.user), p.ip, "").await;
        Ok(codes)
    }

    /// Turns TOTP off: needs the password and a current code.
    pub async fn totp_disable(&self, p: &Principal, pw: &str, code: &str) -> Result<(), AuthError> {
        check_password_len(pw)?;
        let pw_ok = self.verify_password(&p.user, pw).await;
        let code_ok = self.verify_second_factor(&p.user, code, p.ip).await;
        if !(pw_ok && code_ok) {
            return Err(AuthError::Invalid);
        }
        self.clear_totp(&p.user).await?;
        self.audit.record(&self.db, Kind::TotpDisabled, Some(&p.user), p.ip, "").await;
        Ok(())
    }

    async fn clear_totp(&self, user: &str) -> Result<(), AuthError> {
        let u = user.to_string();
        self.db
            .call(move |c| {
                c.execute(
                    "UPDATE users SET totp_sealed = NULL, totp_enabled = 0, totp_last_step = 0 WHERE name = ?1",
                    [&u],
                )?;
                c.execute("DELETE FROM backup_codes WHERE user = ?1", [&u])?;
                Ok(())
            })
            .await?;
        if let Some(u) = self.users_w().get_mut(user) {
            u.totp_secret = None;
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

    /// Re-authentication for sensitive actions: the password, and a code when TOTP is on.
    pub async fn reauthenticate(&self, p: &Principal, pw: &str, code: Option<&str>) -> Result<(), AuthError> {
        check_password_len(pw)?;
        let pw_ok = self.verify_password(&p.user, pw).await;
        let code_ok =
            !self.totp_enabled(&p.user) || self.verify_second_factor(&p.user, code.unwrap_or(""), p.ip).await;
        if pw_ok && code_ok { Ok(()) } else { Err(AuthError::Invalid) }
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
        Ok(())
    }
}

type State = (HashMap<String, User>, HashMap<String, Session>, HashMap<String, Token>);

/// Reads users (opening their sealed TOTP secrets), live sessions and tokens.
fn read_state(c: &mut rusqlite::Connection, keys: &Keys, now: i64) -> anyhow::Result<State> {
    c.execute("DELETE FROM sessions WHERE expires < ?1", [now])?;
    let mut users = HashMap::new();
    let mut stmt = c.prepare(
        "SELECT name, role, phc, disabled, totp_sealed, totp_enabled, totp_last_step, created FROM users",
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
        ))
    })?;
    for row in rows {
        let (name, role, phc, disabled, sealed, totp_enabled, last_step, created) = row?;
        let role = Level::from_role(&role).with_context(|| format!("user {name} has unknown role {role}"))?;
        let totp_secret = match sealed {
            Some(s) => Some(keys.open(&s).with_context(|| format!("opening the TOTP secret of {name}"))?),
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

async fn hash_blocking(pw: &str) -> Result<String, AuthError> {
    let pw = pw.to_string();
    tokio::task::spawn_blocking(move || password::hash(&pw))
        .await
        .map_err(|e| AuthError::Internal(anyhow::anyhow!("hashing task: {e}")))?
        .map_err(AuthError::Internal)
}
