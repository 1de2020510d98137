//! fail2ban integration: requests from IPs that the `proxwatch` jail has banned are refused. The ban
//! list comes from `fail2ban-client status <jail>` through the host seam, cached for a minute and
//! refreshed in the background only while requests arrive (an idle host spawns nothing). Without
//! fail2ban the check is a no-op.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::host::{Host, ToolError};

const FRESH: Duration = Duration::from_secs(60);
const RETRY_MISSING: Duration = Duration::from_secs(600);

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

#[derive(Default)]
struct State {
    banned: HashSet<IpAddr>,
    fetched: Option<Instant>,
    refreshing: bool,
    missing_since: Option<Instant>,
}

#[derive(Clone)]
pub struct Bans {
    jail: String,
    host: Arc<Host>,
    state: Arc<Mutex<State>>,
}

impl Bans {
    pub fn new(jail: &str, host: Arc<Host>) -> Bans {
        Bans { jail: jail.to_string(), host, state: Arc::new(Mutex::new(State::default())) }
    }

    /// Whether `ip` is banned per the cached list; schedules a refresh when the list is stale.
    pub fn is_banned(&self, ip: IpAddr) -> bool {
        if self.jail.is_empty() {
            return false;
        }
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let missing = st.missing_since.is_some_and(|t| now.duration_since(t) < RETRY_MISSING);
        let stale = st.fetched.is_none_or(|t| now.duration_since(t) >= FRESH);
        // A replayed host has no fail2ban to ask.
        if stale && !missing && !st.refreshing && !self.host.is_replay() {
            st.refreshing = true;
            let me = self.clone();
            tokio::spawn(async move { me.refresh().await });
        }
        st.banned.contains(&super::canonical(ip))
    }

    async fn refresh(&self) {
        let result = self.host.run(&["fail2ban-client", "status", &self.jail]).await;
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.refreshing = false;
        st.fetched = Some(Instant::now());
        match result {
            Ok(out) if out.code == 0 => match parse_banned(&out.stdout) {
                Ok(b) => {
                    st.banned = b;
                    st.missing_since = None;
                }
                Err(e) => tracing::warn!(error = %e, "cannot read the fail2ban ban list"),
            },
            // Not installed, not running, or no such jail (exit 255): nothing to enforce.
            Ok(_) | Err(ToolError::Missing { .. }) => {
                st.banned.clear();
                st.missing_since = Some(Instant::now());
            }
            Err(e) => tracing::warn!(error = %e, "fail2ban-client failed"),
        }
    }

    /// Replaces the ban list (tests).
    pub fn set_for_test(&self, banned: HashSet<IpAddr>) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.banned = banned;
        st.fetched = Some(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_recorded_status_output() {
        let text = include_str!(
            "../../../shared/fixtures/fail2ban/local_fail2ban-1.0.2_client_status_sshd_1banned.txt"
        );
        let b = parse_banned(text).unwrap();
        assert!(b.contains(&"203.0.113.45".parse::<IpAddr>().unwrap()));
        let none = "Status for the jail: x\n`- Actions\n   `- Banned IP list:\t\n";
        assert!(parse_banned(none).unwrap().is_empty());
        assert!(parse_banned("garbage\n").is_err());
    }
}
