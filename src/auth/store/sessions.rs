//! Browser sessions: login (password, then TOTP when enabled), the signed JWT cookie checked against
//! the session table on every request (idle timeout and lifetime), whether an open terminal's login
//! still holds, listing, logout and revocation.

use std::net::IpAddr;

use rusqlite::params;
use serde::{Deserialize, Serialize};

use super::checks::Purpose;
use super::{Auth, AuthError, MAX_NAME, Session, TOUCH_EVERY_S, now_s, random_id};
use crate::auth::audit::Kind;
use crate::auth::{Level, Principal, Via};

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
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

impl Auth {
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
        let jwt = crate::auth::jwt::sign(&self.jwt_key, &claims)
            .map_err(|e| AuthError::Internal(anyhow::anyhow!("signing session: {e}")))?;
        Ok(NewSession { id, jwt, csrf, user: user.to_string(), role, max_age_s: lifetime })
    }

    /// The principal behind a session cookie, and its CSRF token, if the session is alive.
    pub fn check_session(&self, jwt: &str, ip: Option<IpAddr>) -> Option<(Principal, String)> {
        let claims = crate::auth::jwt::verify::<Claims>(&self.jwt_key, jwt)?;
        let now = now_s();
        if claims.exp <= now as u64 {
            return None;
        }
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
}
