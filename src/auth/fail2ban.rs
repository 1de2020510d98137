//! fail2ban integration: requests from IPs that the `proxwatch` jail has banned are refused. The ban
//! list comes from `fail2ban-client status <jail>` through the host seam, read by a tracked
//! background worker ([`Bans::run`]): every `interval` while proxwatch has been logging failures
//! (the only thing that makes this jail ban), every [`QUIET_INTERVAL`] otherwise, and every
//! [`RETRY_MISSING`] while fail2ban is not there. Requests only read the cached list: no request,
//! anonymous or not, can make proxwatch start a process. Without fail2ban the check is a no-op.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::host::{Host, ToolError};
use crate::workers::Periodic;

/// Between reads while no failures were logged (manual bans and unbans show up within this).
pub const QUIET_INTERVAL: Duration = Duration::from_secs(600);
/// Between tries while fail2ban is not installed or not running.
pub const RETRY_MISSING: Duration = Duration::from_secs(600);

/// The `Banned IP list:` of `fail2ban-client status <jail>`.
pub fn parse_banned(text: &str) -> Result<HashSet<IpAddr>, ToolError> {
    for (i, line) in text.lines().enumerate() {
        if let Some((_, list)) = line.split_once("Banned IP list:") {
            return list
                .split_whitespace()
                .map(|s| {
                    s.parse::<IpAddr>().map(super::canonical).map_err(|_| {
                        ToolError::parse("fail2ban-client status", i + 1, line, format!("{s:?} is not an IP"))
                    })
                })
                .collect();
        }
    }
    Err(ToolError::parse(
        "fail2ban-client status",
        1,
        text.lines().next().unwrap_or(""),
        "no `Banned IP list:` line",
    ))
}

/// `fail2ban-client status <jail>`.
fn status_argv(jail: &str) -> [&str; 3] {
    ["fail2ban-client", "status", jail]
}

/// What a refresh found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    Read,
    /// fail2ban is missing, not running, or has no such jail.
    Missing,
    Failed,
}

#[derive(Clone)]
pub struct Bans {
    jail: String,
    host: Arc<Host>,
    banned: Arc<RwLock<HashSet<IpAddr>>>,
}

impl Bans {
    pub fn new(jail: &str, host: Arc<Host>) -> Bans {
        Bans { jail: jail.to_string(), host, banned: Arc::default() }
    }

    /// Whether `ip` is banned per the last list read. Never does any I/O.
    pub fn is_banned(&self, ip: IpAddr) -> bool {
        !self.jail.is_empty()
            && self.banned.read().unwrap_or_else(|p| p.into_inner()).contains(&super::canonical(ip))
    }

    /// Reads the ban list once (the worker's step).
    pub async fn step(&self) -> Refresh {
        if self.jail.is_empty() {
            return Refresh::Missing;
        }
        match self.host.run(&status_argv(&self.jail)).await {
            Ok(out) if out.code == 0 => match parse_banned(&out.stdout) {
                Ok(b) => {
                    *self.banned.write().unwrap_or_else(|p| p.into_inner()) = b;
                    Refresh::Read
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the fail2ban ban list");
                    Refresh::Failed
                }
            },
            // Not installed, not running, or no such jail (exit 255): nothing to enforce.
            Ok(_) | Err(ToolError::Missing { .. }) => {
                self.banned.write().unwrap_or_else(|p| p.into_inner()).clear();
                Refresh::Missing
            }
            Err(e) => {
                tracing::warn!(error = %e, "fail2ban-client failed");
                Refresh::Failed
            }
        }
    }

    /// The worker: re-reads the list every `interval` while `failures` (the auth log's failure
    /// count) moves, else every [`QUIET_INTERVAL`]. A host that cannot answer the query (a replayed
    /// scenario that did not record it) has no fail2ban to ask.
    pub async fn run(self, interval: Duration, failures: Arc<AtomicU64>, cancel: CancellationToken) {
        if self.jail.is_empty() || !self.host.can_answer(&status_argv(&self.jail)) {
            return;
        }
        let mut tick = Periodic::new(interval, cancel);
        let mut seen = failures.load(Ordering::Relaxed);
        let mut last: Option<(tokio::time::Instant, Refresh)> = None;
        while tick.next().await {
            let count = failures.load(Ordering::Relaxed);
            let due = match last {
                None => true,
                Some((t, Refresh::Missing)) => t.elapsed() >= RETRY_MISSING,
                Some((t, _)) => count != seen || t.elapsed() >= QUIET_INTERVAL,
            };
            if due {
                seen = count;
                last = Some((tokio::time::Instant::now(), self.step().await));
            }
        }
    }

    /// Replaces the ban list (tests).
    pub fn set_for_test(&self, banned: HashSet<IpAddr>) {
        *self.banned.write().unwrap_or_else(|p| p.into_inner()) = banned;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_recorded_status_output() {
        let text = include_str!(
            "../../tests/fixtures/upstream/fail2ban/local_fail2ban-1.0.2_client_status_sshd_1banned.txt"
        );
        let b = parse_banned(text).unwrap();
        assert!(b.contains(&"203.0.113.45".parse::<IpAddr>().unwrap()));
        let none = "Status for the jail: x\n`- Actions\n   `- Banned IP list:\t\n";
        assert!(parse_banned(none).unwrap().is_empty());
        assert!(parse_banned("garbage\n").is_err());
    }
}
