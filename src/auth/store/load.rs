//! Reading the auth state from SQLite: users (opening their sealed TOTP secrets), live sessions, API
//! tokens and the (user, address) pairs that logged in lately, at start ([`Auth::load`]) and after
//! another process changed the database ([`Auth::reload`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use anyhow::Context;
use rusqlite::params;

use super::{Auth, KNOWN_FOR_S, MAX_KNOWN, Session, Token, User, now_s};
use crate::auth::audit::AuditLog;
use crate::auth::gate::Gate;
use crate::auth::ratelimit::Limiter;
use crate::auth::seal::Keys;
use crate::auth::{Cidr, Level, password};
use crate::config::AuthCfg;
use crate::db::Db;

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
            jwt_key,
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
            tasks: tokio_util::task::TaskTracker::new(),
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
        "SELECT id, user, name, scope, hash, created, expires, last_used, last_ip, description, allowed_ips
         FROM api_tokens",
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
            r.get::<_, String>(9)?,
            r.get::<_, String>(10)?,
        ))
    })?;
    for row in rows {
        let (id, user, name, scope, hash, created, expires, last_used, last_ip, description, allowed) = row?;
        let allowed = super::tokens::parse_allowed(&allowed)
            .with_context(|| format!("token {id} has an unreadable address list"))?;
        let ingest = scope == super::tokens::INGEST;
        let scope = if ingest {
            Level::Read
        } else {
            Level::from_scope(&scope).with_context(|| format!("token {id} has unknown scope"))?
        };
        tokens.insert(
            id,
            Token {
                user,
                name,
                scope,
                ingest,
                hash,
                created,
                expires,
                last_used,
                persisted_used: last_used.unwrap_or(0),
                last_ip,
                description,
                allowed,
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
