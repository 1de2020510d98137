//! Two-factor login: TOTP (RFC 6238, via `auth::totp`) set up with a pending secret that replaces
//! the enabled one only once a code from it is confirmed, enabled with 10 single-use backup codes,
//! disabled or reset; and the check of a TOTP or backup code, which consumes it.

use std::net::IpAddr;

use rusqlite::params;

use super::checks::Purpose;
use super::{Auth, AuthError, User, now_s};
use crate::auth::audit::Kind;
use crate::auth::{Principal, totp};

impl Auth {
    /// Checks a TOTP or backup code for `user`, consuming it. Internal errors count as a wrong code.
    pub(super) async fn verify_second_factor(&self, user: &str, code: &str, ip: Option<IpAddr>) -> bool {
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
}
