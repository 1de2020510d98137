//! Users: creating them (from a password or an already hashed one), listing, changing role or
//! disabled state (never leaving no enabled admin), deleting, and password changes, which revoke the
//! user's other sessions.

use rusqlite::params;
use serde::Serialize;

use super::checks::Purpose;
use super::{Auth, AuthError, User, check_name, check_password_len, now_s};
use crate::auth::audit::Kind;
use crate::auth::{Level, Principal, Via, password};

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct UserInfo {
    pub name: String,
    #[cfg_attr(test, ts(as = "crate::auth::Role"))]
    pub role: Level,
    pub disabled: bool,
    pub totp_enabled: bool,
    pub created: i64,
}

impl Auth {
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

    /// Changes the caller's password (the current one is required); other sessions are revoked.
    pub async fn change_password(&self, p: &Principal, current: &str, new: &str) -> Result<(), AuthError> {
        check_password_len(new)?;
        password::check_policy(&p.user, new).map_err(AuthError::BadRequest)?;
        let r = self.check_password(&p.user, current, p.ip, true, Purpose::PasswordChange).await?;
        r.succeeded();
        self.set_password(&p.user, new).await?;
        let keep = match &p.via {
            Via::Session { id } => Some(id.as_str()),
            Via::Token { .. } | Via::Agent { .. } => None,
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
