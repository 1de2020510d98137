//! The one path every password, TOTP code and backup code check takes: the attempt is reserved
//! against the limits first (per client IP, and per user name unless the address has logged in as
//! that user before), argon2 runs only with a permit from the gate, and a failure is recorded once,
//! in the auth log fail2ban reads and in the event table. Re-authentication for sensitive actions and
//! the hashing of new passwords go through here too.

use std::net::IpAddr;
use std::time::Instant;

use super::{Auth, AuthError, BUSY_RETRY, KNOWN_FOR_S, MAX_KNOWN, check_password_len, now_s};
use crate::auth::audit::Kind;
use crate::auth::gate::Permit;
use crate::auth::ratelimit::Reservation;
use crate::auth::{Principal, password};

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

impl Auth {
    pub(super) fn ip_key(ip: Option<IpAddr>) -> String {
        format!("ip:{}", ip.map(|i| i.to_string()).unwrap_or_else(|| "unknown".into()))
    }

    /// Whether `ip` has logged in as `user` within [`KNOWN_FOR_S`].
    pub(super) fn is_known(&self, user: &str, ip: Option<IpAddr>) -> bool {
        let Some(ip) = ip else { return false };
        let known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        known.get(&(user.to_string(), ip)).is_some_and(|t| now_s() - t < KNOWN_FOR_S)
    }

    pub(super) fn remember(&self, user: &str, ip: Option<IpAddr>) {
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
    pub(super) async fn reserve(
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
    pub(super) async fn failed(
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
    pub(super) async fn check_password(
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
    pub(super) async fn check_code<'a>(
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
    pub(super) async fn hash(&self, pw: &str) -> Result<String, AuthError> {
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

    /// Re-authentication for sensitive actions (token creation): the password, and a code when TOTP
    /// is on; limited and logged like a login.
    pub async fn reauthenticate(&self, p: &Principal, pw: &str, code: Option<&str>) -> Result<(), AuthError> {
        self.reauthenticate_for(p, pw, code, Purpose::TokenCreation).await
    }

    pub(super) async fn reauthenticate_for(
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
}
