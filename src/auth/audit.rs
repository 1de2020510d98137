//! Auth events: every success, failure, lockout, token use from a new IP, session change and terminal
//! open/close goes to the `auth_events` table (shown in the UI) and, one line each, to the auth log
//! in a format fail2ban matches (`packaging/fail2ban/filter.d/proxwatch.conf`):
//! `2026-11-22T10:00:00Z proxwatch[123]: authentication failure; rhost=203.0.113.5 user=root`.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use crate::db::Db;

/// Rows kept in `auth_events`; older ones are pruned as new ones arrive.
const KEEP_EVENTS: i64 = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    LoginOk,
    LoginFailed,
    Lockout,
    Logout,
    Setup,
    SetupFailed,
    SessionRevoked,
    PasswordChanged,
    TotpEnabled,
    TotpDisabled,
    BackupCodeUsed,
    TokenCreated,
    TokenRevoked,
    TokenNewIp,
    TokenFailed,
    UserCreated,
    UserChanged,
    UserDeleted,
    Banned,
    TerminalOpen,
    TerminalClose,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::LoginOk => "login_ok",
            Kind::LoginFailed => "login_failed",
            Kind::Lockout => "lockout",
            Kind::Logout => "logout",
            Kind::Setup => "setup",
            Kind::SetupFailed => "setup_failed",
            Kind::SessionRevoked => "session_revoked",
            Kind::PasswordChanged => "password_changed",
            Kind::TotpEnabled => "totp_enabled",
            Kind::TotpDisabled => "totp_disabled",
            Kind::BackupCodeUsed => "backup_code_used",
            Kind::TokenCreated => "token_created",
            Kind::TokenRevoked => "token_revoked",
            Kind::TokenNewIp => "token_new_ip",
            Kind::TokenFailed => "token_failed",
            Kind::UserCreated => "user_created",
            Kind::UserChanged => "user_changed",
            Kind::UserDeleted => "user_deleted",
            Kind::Banned => "banned",
            Kind::TerminalOpen => "terminal_open",
            Kind::TerminalClose => "terminal_close",
        }
    }

    /// Failures are what fail2ban counts.
    fn is_failure(self) -> bool {
        matches!(self, Kind::LoginFailed | Kind::SetupFailed | Kind::TokenFailed | Kind::Lockout)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub id: i64,
    pub ts: i64,
    pub kind: String,
    pub user: Option<String>,
    pub ip: Option<String>,
    pub detail: String,
}

pub struct AuditLog {
    path: Option<PathBuf>,
    file: Mutex<Option<std::fs::File>>,
    inserts: AtomicU64,
}

/// User names come from the request: keep the log line parseable whatever they contain.
fn clean(s: &str) -> String {
    s.chars().map(|c| if c.is_whitespace() || c.is_control() { '_' } else { c }).take(64).collect()
}

impl AuditLog {
    /// Opens (appending, 0600) the auth log; a log that cannot be opened is reported and skipped, the
    /// database table still records everything.
    pub fn open(path: Option<&Path>) -> AuditLog {
        let file = path.and_then(|p| {
            if let Some(dir) = p.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            use std::os::unix::fs::OpenOptionsExt;
            match std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(p) {
                Ok(f) => Some(f),
                Err(e) => {
                    tracing::warn!(path = %p.display(), error = %e, "cannot open the auth log; events go to the database only");
                    None
                }
            }
        });
        AuditLog { path: path.map(Path::to_path_buf), file: Mutex::new(file), inserts: AtomicU64::new(0) }
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The auth log line (without the timestamp and tag).
    pub fn line(kind: Kind, user: Option<&str>, ip: Option<IpAddr>, detail: &str) -> String {
        let rhost = ip.map(|i| i.to_string()).unwrap_or_else(|| "-".into());
        let user = clean(user.unwrap_or("-"));
        let head = if kind.is_failure() {
            "authentication failure".to_string()
        } else {
            format!("auth event {}", kind.as_str())
        };
        let detail = if detail.is_empty() { String::new() } else { format!(" detail={}", clean(detail)) };
        format!("{head}; rhost={rhost} user={user} event={}{detail}", kind.as_str())
    }

    /// Records an event in the table and the log file. Never fails the caller: a broken log is logged.
    pub async fn record(&self, db: &Db, kind: Kind, user: Option<&str>, ip: Option<IpAddr>, detail: &str) {
        let now = std::time::SystemTime::now();
        let line = Self::line(kind, user, ip, detail);
        if let Ok(mut guard) = self.file.lock() {
            if let Some(f) = guard.as_mut() {
                let ts = humantime::format_rfc3339_seconds(now);
                if let Err(e) = writeln!(f, "{ts} proxwatch[{}]: {line}", std::process::id()) {
                    tracing::warn!(error = %e, "cannot write the auth log");
                }
            }
        }
        if kind.is_failure() {
            tracing::warn!(target: "proxwatch::auth", "{line}");
        } else {
            tracing::info!(target: "proxwatch::auth", "{line}");
        }
        let ts = now.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
        let (user, ip, detail) = (user.map(str::to_string), ip.map(|i| i.to_string()), detail.to_string());
        let prune = self.inserts.fetch_add(1, Ordering::Relaxed) % 500 == 0;
        let result = db
            .call(move |c| {
                c.execute(
                    "INSERT INTO auth_events (ts, kind, user, ip, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
                    rusqlite::params![ts, kind.as_str(), user, ip, detail],
                )?;
                if prune {
                    c.execute(
                        "DELETE FROM auth_events WHERE id <= (SELECT max(id) FROM auth_events) - ?1",
                        [KEEP_EVENTS],
                    )?;
                }
                Ok(())
            })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %format!("{e:#}"), "cannot store an auth event");
        }
    }

    /// The latest events, newest first.
    pub async fn list(db: &Db, limit: usize, user: Option<String>) -> anyhow::Result<Vec<Event>> {
        db.call(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, ts, kind, user, ip, detail FROM auth_events
                 WHERE ?1 IS NULL OR user = ?1 ORDER BY id DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(rusqlite::params![user, limit as i64], |r| {
                Ok(Event {
                    id: r.get(0)?,
                    ts: r.get(1)?,
                    kind: r.get(2)?,
                    user: r.get(3)?,
                    ip: r.get(4)?,
                    detail: r.get(5)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_lines_match_the_fail2ban_pattern() {
        let ip: IpAddr = "203.0.113.5".parse().unwrap();
        let line = AuditLog::line(Kind::LoginFailed, Some("ro ot"), Some(ip), "");
        assert_eq!(line, "authentication failure; rhost=203.0.113.5 user=ro_ot event=login_failed");
        let ok = AuditLog::line(Kind::LoginOk, Some("root"), Some(ip), "");
        assert!(!ok.contains("authentication failure"));
    }
}
