//! First-run setup: the one-time setup code (kept in `<data-dir>/setup-code`) and the creation of the
//! first admin with it, limited per address and for everyone together.

use std::net::IpAddr;
use std::time::Instant;

use super::{Auth, AuthError, check_name, check_password_len};
use crate::auth::audit::Kind;
use crate::auth::{Level, ct_eq, password, random_bytes, seal};

impl Auth {
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
                    seal::write_private(p, format!("{code}\n").as_bytes())?;
                }
                code
            }
        };
        *guard = Some(code.clone());
        Ok(Some(code))
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
}
