//! Auth events: every success, failure, lockout, token use from a new IP, session change and terminal
//! open/close goes to the `auth_events` table (shown in the UI) and, one line each, to the auth log
//! in a format fail2ban matches (`packaging/fail2ban/filter.d/proxwatch.conf`):
//! `2026-11-22T10:00:00Z proxwatch[123]: authentication failure; rhost=203.0.113.5 user=root`.
//!
//! Failures are *coalesced*: a burst of identical failures (same kind, user, address and detail)
//! within a minute is one table row with a count and first/last seen, and the log gets the first
//! [`VERBATIM`] lines as they happen (enough for fail2ban's `maxretry`) and then one summary line
//! (`repeated=N`) when the burst's minute is over. A flood of bad tokens therefore writes a few
//! hundred bytes a minute per address, not megabytes. The log itself is rotated to `<log>.1` when
//! it passes its size bound.

use std::collections::HashMap;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::db::Db;

/// Rows kept in `auth_events`; older ones are pruned as new ones arrive.
const KEEP_EVENTS: i64 = 20_000;
/// Identical failures within this window are one burst.
const BURST_WINDOW: Duration = Duration::from_secs(60);
/// Lines of a burst written as they happen; the rest are summed up in one line.
pub const VERBATIM: u64 = 5;
/// Open bursts tracked at most (a flood from many addresses); the oldest are closed first.
const MAX_BURSTS: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
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
    /// A password or code check for an account action (password change, token creation, 2FA) failed.
    ReauthFailed,
    /// Too many password checks at once: the request was refused before checking.
    Busy,
    UserCreated,
    UserChanged,
    UserDeleted,
    Banned,
    HostRefused,
    TerminalOpen,
    TerminalClose,
    /// An open terminal was closed because its login lost its authority.
    TerminalRevoked,
    /// Settings stored on the Settings page, or a restart asked for there.
    SettingsChanged,
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
            Kind::ReauthFailed => "reauth_failed",
            Kind::Busy => "busy",
            Kind::UserCreated => "user_created",
            Kind::UserChanged => "user_changed",
            Kind::UserDeleted => "user_deleted",
            Kind::Banned => "banned",
            Kind::HostRefused => "host_refused",
            Kind::TerminalOpen => "terminal_open",
            Kind::TerminalClose => "terminal_close",
            Kind::TerminalRevoked => "terminal_revoked",
            Kind::SettingsChanged => "settings_changed",
        }
    }

    /// Failures are what fail2ban counts.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            Kind::LoginFailed | Kind::SetupFailed | Kind::TokenFailed | Kind::ReauthFailed | Kind::Lockout
        )
    }

    /// Kinds an attacker can repeat at will: coalesced into bursts.
    fn coalesces(self) -> bool {
        self.is_failure() || matches!(self, Kind::Busy | Kind::Banned | Kind::HostRefused)
    }
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "AuthEvent"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "AuthEvent"))]
pub struct Event {
    pub id: i64,
    /// First seen, unix seconds.
    pub ts: i64,
    pub kind: String,
    pub user: Option<String>,
    pub ip: Option<String>,
    pub detail: String,
    /// How many identical events this row stands for (a coalesced burst), and the last one's time.
    pub count: i64,
    pub last_ts: i64,
}

type BurstKey = (Kind, Option<String>, Option<IpAddr>, String);

struct Burst {
    started: Instant,
    first_ts: i64,
    last_ts: i64,
    count: u64,
    written: u64,
}

/// What one `record` must write, decided under the burst lock and done after it.
enum Action {
    /// A new row and a line.
    Insert,
    /// A verbatim line and the row's count.
    Line { first_ts: i64, count: u64 },
    /// Only counted; written when the burst closes.
    Quiet,
}

pub struct AuditLog {
    path: Option<PathBuf>,
    max_bytes: u64,
    file: Mutex<Option<std::fs::File>>,
    inserts: AtomicU64,
    bursts: Mutex<HashMap<BurstKey, Burst>>,
    failures: Arc<AtomicU64>,
}

/// User names come from the request: keep the log line parseable whatever they contain.
fn clean(s: &str) -> String {
    s.chars().map(|c| if c.is_whitespace() || c.is_control() { '_' } else { c }).take(64).collect()
}

fn open_file(p: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(p)
}

impl AuditLog {
    /// Opens (appending, 0600) the auth log; a log that cannot be opened is reported and skipped, the
    /// database table still records everything.
    pub fn open(path: Option<&Path>) -> AuditLog {
        Self::open_bounded(path, 10 * 1024 * 1024)
    }

    /// As [`Self::open`], rotating the log to `<path>.1` when it grows past `max_bytes`.
    pub fn open_bounded(path: Option<&Path>, max_bytes: u64) -> AuditLog {
        let file = path.and_then(|p| {
            if let Some(dir) = p.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            match open_file(p) {
                Ok(f) => Some(f),
                Err(e) => {
                    tracing::warn!(path = %p.display(), error = %e, "cannot open the auth log; events go to the database only");
                    None
                }
            }
        });
        AuditLog {
            path: path.map(Path::to_path_buf),
            max_bytes,
            file: Mutex::new(file),
            inserts: AtomicU64::new(0),
            bursts: Mutex::new(HashMap::new()),
            failures: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Counts failures recorded so far (the fail2ban worker re-reads bans when it moves).
    pub fn failure_counter(&self) -> Arc<AtomicU64> {
        self.failures.clone()
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

    fn write_line(&self, kind: Kind, line: &str) {
        if let Ok(mut guard) = self.file.lock() {
            if let Some(f) = guard.as_mut() {
                let ts = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
                if let Err(e) = writeln!(f, "{ts} proxwatch[{}]: {line}", std::process::id()) {
                    tracing::warn!(error = %e, "cannot write the auth log");
                }
                let full = f.metadata().map(|m| m.len() > self.max_bytes).unwrap_or(false);
                if let (true, Some(p)) = (full, &self.path) {
                    let mut old = p.as_os_str().to_owned();
                    old.push(".1");
                    match std::fs::rename(p, &old).and_then(|()| open_file(p)) {
                        Ok(new) => *f = new,
                        Err(e) => tracing::warn!(error = %e, "cannot rotate the auth log"),
                    }
                }
            }
        }
        if kind.is_failure() {
            tracing::warn!(target: "proxwatch::auth", "{line}");
        } else {
            tracing::info!(target: "proxwatch::auth", "{line}");
        }
    }

    /// Records an event in the table and the log file. Never fails the caller: a broken log is logged.
    pub async fn record(&self, db: &Db, kind: Kind, user: Option<&str>, ip: Option<IpAddr>, detail: &str) {
        let now = std::time::SystemTime::now();
        let ts = now.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
        if kind.is_failure() {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
        let action = if kind.coalesces() {
            let key: BurstKey = (kind, user.map(str::to_string), ip, detail.to_string());
            let (action, ended, full) = {
                let mut bursts = self.bursts.lock().unwrap_or_else(|p| p.into_inner());
                // This key's burst is over: it is summed up, and this event starts a new one.
                let ended = match bursts.get(&key) {
                    Some(b) if b.started.elapsed() >= BURST_WINDOW => {
                        bursts.remove(&key).map(|b| (key.clone(), b))
                    }
                    _ => None,
                };
                let full = bursts.len() >= MAX_BURSTS;
                (Self::count(&mut bursts, key, ts), ended, full)
            };
            if let Some((k, b)) = ended {
                self.summarize(db, &k, &b).await;
            }
            if full {
                self.close_bursts(db, false).await;
            }
            action
        } else {
            Action::Insert
        };
        match action {
            Action::Quiet => {}
            Action::Line { first_ts, count } => {
                self.write_line(kind, &Self::line(kind, user, ip, detail));
                let key = (kind, user.map(str::to_string), ip, detail.to_string());
                self.update_row(db, &key, first_ts, count, ts).await;
            }
            Action::Insert => {
                self.write_line(kind, &Self::line(kind, user, ip, detail));
                self.insert_row(db, kind, user, ip, detail, ts).await;
            }
        }
    }

    /// Counts one event into its burst (a new one if it has none) and says what to write.
    fn count(bursts: &mut HashMap<BurstKey, Burst>, key: BurstKey, ts: i64) -> Action {
        match bursts.get_mut(&key) {
            Some(b) => {
                b.count += 1;
                b.last_ts = ts;
                if b.written < VERBATIM {
                    b.written += 1;
                    Action::Line { first_ts: b.first_ts, count: b.count }
                } else {
                    Action::Quiet
                }
            }
            None => {
                bursts.insert(
                    key,
                    Burst { started: Instant::now(), first_ts: ts, last_ts: ts, count: 1, written: 1 },
                );
                Action::Insert
            }
        }
    }

    /// A closed burst's quiet part: one summary line and the row's final count.
    async fn summarize(&self, db: &Db, key: &BurstKey, b: &Burst) {
        if b.count <= b.written {
            return;
        }
        let (kind, user, ip, detail) = (key.0, key.1.as_deref(), key.2, key.3.as_str());
        let line = format!(
            "{} repeated={} first={} last={}",
            Self::line(kind, user, ip, detail),
            b.count - b.written,
            b.first_ts,
            b.last_ts
        );
        self.write_line(kind, &line);
        self.update_row(db, key, b.first_ts, b.count, b.last_ts).await;
    }

    async fn insert_row(
        &self,
        db: &Db,
        kind: Kind,
        user: Option<&str>,
        ip: Option<IpAddr>,
        detail: &str,
        ts: i64,
    ) {
        let (user, ip, detail) = (user.map(str::to_string), ip.map(|i| i.to_string()), detail.to_string());
        let prune = self.inserts.fetch_add(1, Ordering::Relaxed) % 500 == 0;
        let result = db
            .call(move |c| {
                c.execute(
                    "INSERT INTO auth_events (ts, kind, user, ip, detail, count, last_ts) VALUES (?1, ?2, ?3, ?4, ?5, 1, ?1)",
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

    async fn update_row(&self, db: &Db, key: &BurstKey, first_ts: i64, count: u64, last_ts: i64) {
        let (kind, user, ip, detail) = (key.0, key.1.clone(), key.2.map(|i| i.to_string()), key.3.clone());
        let result = db
            .call(move |c| {
                c.execute(
                    "UPDATE auth_events SET count = max(count, ?1), last_ts = max(last_ts, ?2)
                     WHERE id = (SELECT max(id) FROM auth_events
                                 WHERE ts = ?3 AND kind = ?4 AND user IS ?5 AND ip IS ?6 AND detail = ?7)",
                    rusqlite::params![count as i64, last_ts, first_ts, kind.as_str(), user, ip, detail],
                )?;
                Ok(())
            })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %format!("{e:#}"), "cannot update an auth event's count");
        }
    }

    /// Closes the bursts whose minute is over (all of them with `all`): the quiet part of each is
    /// written as one summary line and the row gets its final count. Called by the auth worker
    /// every few seconds, and by `record` only when the table of bursts is full (a flood from many
    /// addresses); a burst seen again after its minute is closed by `record` itself.
    pub async fn close_bursts(&self, db: &Db, all: bool) {
        let closed: Vec<(BurstKey, Burst)> = {
            let mut bursts = self.bursts.lock().unwrap_or_else(|p| p.into_inner());
            let overfull = bursts.len() >= MAX_BURSTS;
            if !all && !overfull && !bursts.values().any(|b| b.started.elapsed() >= BURST_WINDOW) {
                return;
            }
            let mut keys: Vec<(Instant, BurstKey)> = bursts
                .iter()
                .filter(|(_, b)| all || b.started.elapsed() >= BURST_WINDOW)
                .map(|(k, b)| (b.started, k.clone()))
                .collect();
            if overfull && keys.len() < bursts.len() / 2 {
                // A flood from many addresses: close the older half now.
                let mut all_keys: Vec<(Instant, BurstKey)> =
                    bursts.iter().map(|(k, b)| (b.started, k.clone())).collect();
                all_keys.sort_by_key(|(t, _)| *t);
                all_keys.truncate(bursts.len() / 2);
                keys = all_keys;
            }
            keys.into_iter().filter_map(|(_, k)| bursts.remove(&k).map(|b| (k, b))).collect()
        };
        for (key, b) in closed {
            self.summarize(db, &key, &b).await;
        }
    }

    /// The latest events, newest first.
    pub async fn list(db: &Db, limit: usize, user: Option<String>) -> anyhow::Result<Vec<Event>> {
        db.call(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, ts, kind, user, ip, detail, count, last_ts FROM auth_events
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
                    count: r.get(6)?,
                    last_ts: r.get(7)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_health_facts_read_the_failure_kinds_auth_writes() {
        use super::Kind;
        let written =
            [Kind::LoginFailed, Kind::SetupFailed, Kind::TokenFailed, Kind::ReauthFailed].map(Kind::as_str);
        assert_eq!(crate::health::facts::AUTH_FAILURE_KINDS, written);
    }

    use super::*;

    #[test]
    fn failure_lines_match_the_fail2ban_pattern() {
        let ip: IpAddr = "203.0.113.5".parse().unwrap();
        let line = AuditLog::line(Kind::LoginFailed, Some("ro ot"), Some(ip), "");
        assert_eq!(line, "authentication failure; rhost=203.0.113.5 user=ro_ot event=login_failed");
        let ok = AuditLog::line(Kind::LoginOk, Some("root"), Some(ip), "");
        assert!(!ok.contains("authentication failure"));
    }

    #[tokio::test]
    async fn the_log_rotates_itself_past_its_bound() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.log");
        let log = AuditLog::open_bounded(Some(&path), 8 * 1024);
        let db = crate::db::Db::open_in_memory().unwrap();
        for i in 0..400 {
            log.record(&db, Kind::LoginOk, Some(&format!("user{i}")), None, "").await;
        }
        let now = std::fs::metadata(&path).unwrap().len();
        let old = std::fs::metadata(dir.path().join("auth.log.1")).unwrap().len();
        assert!(now <= 8 * 1024 + 200, "{now}");
        assert!(old > 8 * 1024 && old <= 8 * 1024 + 200, "{old}");
    }
}
