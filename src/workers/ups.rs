//! The UPS worker: every `nut.interval_s` it asks each upsd in `nut.servers` for its UPS list and each
//! UPS's variables (NUT's network protocol, no `upsc` process), publishes [`UpsSnapshot`] and records
//! `ups.<name>.charge`, `ups.<name>.load` and `ups.<name>.runtime_s` into the auxiliary history.
//!
//! One connection per server is kept open between polls. When upsd drops it (restart, crash) the
//! next poll reconnects at once; when that fails the server is retried with exponential backoff (one
//! poll interval doubling up to [`MAX_BACKOFF_MS`]). Nothing listening is the normal state of a host
//! without a UPS: the section says `unavailable` ("no upsd at 127.0.0.1:3493") and logs nothing but
//! one debug line. Driver problems (`ERR DRIVER-NOT-CONNECTED`, `ERR DATA-STALE`) are per-UPS states;
//! the last good reading stays next to them, marked with its age.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::config::NutCfg;
use crate::host::Host;
use crate::host::nut::NutTransport;
use crate::series::Series;
use crate::tools::nut::{self, Client, ErrCode, NutError};

/// Longest wait between reconnection attempts, ms.
pub const MAX_BACKOFF_MS: i64 = 60_000;
/// Status changes remembered per UPS.
const MAX_CHANGES: usize = 20;

pub use crate::model::ups::{Server, State, StatusChange, Ups, UpsSnapshot, UpsState};

struct Conn {
    transport: Option<NutTransport>,
    failures: u32,
    next_try_ms: i64,
    server: Server,
}

/// The poller behind the worker; tests drive it through [`UpsPoller::step`].
pub struct UpsPoller {
    cfg: NutCfg,
    conns: Vec<Conn>,
    upses: BTreeMap<String, Ups>,
}

impl UpsPoller {
    pub fn new(cfg: NutCfg) -> UpsPoller {
        let conns = cfg
            .servers
            .iter()
            .take(16)
            .map(|addr| Conn {
                transport: None,
                failures: 0,
                next_try_ms: 0,
                server: Server {
                    addr: addr.clone(),
                    state: State::Pending,
                    reason: None,
                    updated: None,
                    retry_at: None,
                },
            })
            .collect();
        UpsPoller { cfg, conns, upses: BTreeMap::new() }
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(self.cfg.timeout_ms.max(100))
    }

    /// Polls every server that is due at `now_ms` and returns the new snapshot.
    pub async fn step(&mut self, host: &Host, now_ms: i64) -> UpsSnapshot {
        let timeout = self.timeout();
        let interval_ms = self.cfg.interval_s.max(1) as i64 * 1000;
        for i in 0..self.conns.len() {
            if self.conns[i].next_try_ms > now_ms {
                continue;
            }
            let result = self.poll_server(i, host, timeout, now_ms).await;
            let conn = &mut self.conns[i];
            match result {
                Ok(()) => {
                    if conn.server.state != State::Ok && conn.failures > 0 {
                        tracing::info!(server = %conn.server.addr, "connected to upsd");
                    }
                    conn.failures = 0;
                    conn.next_try_ms = 0;
                    conn.server.state = State::Ok;
                    conn.server.reason = None;
                    conn.server.updated = Some(now_ms.div_euclid(1000));
                    conn.server.retry_at = None;
                }
                Err(e) => {
                    conn.transport = None;
                    let was = conn.server.state;
                    let (state, reason) = match &e {
                        NutError::NotListening { .. } => (State::Unavailable, e.to_string()),
                        NutError::Server(ErrCode::AccessDenied) => (
                            State::Error,
                            format!("{e}: upsd refused us (check nut.username and nut.password)"),
                        ),
                        _ => (State::Error, e.to_string()),
                    };
                    // Log a change of state once; "no upsd" is the normal case of a host without a UPS.
                    if was != state {
                        if state == State::Unavailable {
                            tracing::debug!(server = %conn.server.addr, "no upsd listening");
                        } else {
                            tracing::warn!(server = %conn.server.addr, error = %e, "UPS server failed");
                        }
                    }
                    conn.failures = conn.failures.saturating_add(1);
                    let backoff = (interval_ms << conn.failures.min(8).saturating_sub(1)).min(MAX_BACKOFF_MS);
                    conn.next_try_ms = now_ms + backoff;
                    conn.server.state = state;
                    conn.server.reason = Some(reason);
                    conn.server.retry_at = Some(conn.next_try_ms);
                    // The server's UPSes keep their last reading but say why it is old.
                    let addr = conn.server.addr.clone();
                    for ups in self.upses.values_mut().filter(|u| u.server == addr) {
                        ups.state = UpsState::Error;
                        ups.reason = Some(format!("upsd at {addr} is not reachable"));
                    }
                }
            }
        }
        self.snapshot(now_ms)
    }

    /// Connects if needed and polls one server; a broken kept-open connection is retried once fresh.
    async fn poll_server(
        &mut self,
        i: usize,
        host: &Host,
        timeout: Duration,
        now_ms: i64,
    ) -> Result<(), NutError> {
        let had_conn = self.conns[i].transport.is_some();
        match self.poll_once(i, host, timeout, now_ms).await {
            Err(e) if had_conn && e.breaks_connection() => {
                tracing::debug!(server = %self.conns[i].server.addr, error = %e, "upsd connection lost; reconnecting");
                self.conns[i].transport = None;
                self.poll_once(i, host, timeout, now_ms).await
            }
            r => r,
        }
    }

    async fn poll_once(
        &mut self,
        i: usize,
        host: &Host,
        timeout: Duration,
        now_ms: i64,
    ) -> Result<(), NutError> {
        let addr = self.conns[i].server.addr.clone();
        if self.conns[i].transport.is_none() {
            let mut t = NutTransport::connect(host, &addr, timeout).await?;
            if !self.cfg.username.is_empty() {
                Client { transport: &mut t }.login(&self.cfg.username, &self.cfg.password).await?;
            }
            self.conns[i].transport = Some(t);
        }
        let Some(transport) = self.conns[i].transport.as_mut() else {
            return Err(NutError::Io { addr, message: "not connected".into() });
        };
        let mut client = Client { transport };
        let list = client.list_ups().await?;
        let mut seen = Vec::with_capacity(list.len());
        for (name, description) in list {
            let id = format!("{name}@{addr}");
            let result = client.list_var(&name).await;
            let ups = self.upses.entry(id.clone()).or_insert_with(|| Ups {
                id: id.clone(),
                name: name.clone(),
                server: addr.clone(),
                description: String::new(),
                state: UpsState::Ok,
                reason: None,
                reading: None,
                updated: None,
                status_since: None,
                changes: VecDeque::new(),
            });
            ups.description = description;
            match result {
                Ok(vars)
                    if nut::decode_status(vars.get("ups.status").map(String::as_str).unwrap_or(""))
                        .waiting =>
                {
                    ups.state = UpsState::Waiting;
                    ups.reason = Some("the UPS driver has not sent data yet".into());
                }
                Ok(vars) => {
                    let reading = nut::decode(&vars);
                    let old = ups.reading.as_ref().map(|r| r.status.raw.clone());
                    match old {
                        Some(old) if old != reading.status.raw => {
                            tracing::info!(ups = %id, from = %old, to = %reading.status.raw, "UPS status changed");
                            ups.changes.push_front(StatusChange {
                                at: now_ms,
                                from: old,
                                to: reading.status.raw.clone(),
                            });
                            ups.changes.truncate(MAX_CHANGES);
                            ups.status_since = Some(now_ms);
                        }
                        Some(_) => {}
                        None => ups.status_since = Some(now_ms),
                    }
                    ups.state = UpsState::Ok;
                    ups.reason = None;
                    ups.reading = Some(reading);
                    ups.updated = Some(now_ms.div_euclid(1000));
                }
                Err(NutError::Server(code)) => {
                    let (state, reason) = match code {
                        ErrCode::DriverNotConnected => (
                            UpsState::DriverNotConnected,
                            "upsd has no connection to the UPS driver".to_string(),
                        ),
                        ErrCode::DataStale => {
                            (UpsState::DataStale, "the UPS driver stopped updating".to_string())
                        }
                        other => (UpsState::Error, format!("upsd answered ERR {}", other.as_str())),
                    };
                    if ups.state != state {
                        tracing::warn!(ups = %id, reason = %reason, "UPS not readable");
                    }
                    ups.state = state;
                    ups.reason = Some(reason);
                }
                Err(e) => return Err(e),
            }
            seen.push(id);
        }
        // UPSes the server no longer lists are dropped.
        self.upses.retain(|id, u| u.server != addr || seen.contains(id));
        Ok(())
    }

    fn snapshot(&self, now_ms: i64) -> UpsSnapshot {
        let servers: Vec<Server> = self.conns.iter().map(|c| c.server.clone()).collect();
        let (state, reason) = if servers.is_empty() {
            (State::Unavailable, Some("UPS monitoring is off (nut.servers is empty)".to_string()))
        } else if servers.iter().any(|s| s.state == State::Ok) {
            (State::Ok, None)
        } else if servers.iter().all(|s| s.state == State::Unavailable) {
            let reasons: Vec<String> = servers.iter().filter_map(|s| s.reason.clone()).collect();
            (State::Unavailable, Some(reasons.join("; ")))
        } else if servers.iter().all(|s| s.state == State::Pending) {
            (State::Pending, None)
        } else {
            let reasons: Vec<String> =
                servers.iter().filter(|s| s.state == State::Error).filter_map(|s| s.reason.clone()).collect();
            (State::Error, Some(reasons.join("; ")))
        };
        UpsSnapshot {
            state,
            reason,
            updated: Some(now_ms.div_euclid(1000)),
            servers,
            upses: self.upses.values().cloned().collect(),
        }
    }
}

/// The history key of a UPS metric: the UPS name alone for the first server, `name@host_port` for
/// others, with characters outside `[A-Za-z0-9_.-]` replaced.
pub fn series_key(ups: &Ups, first_server: Option<&str>, metric: &str) -> String {
    let base = if Some(ups.server.as_str()) == first_server { ups.name.clone() } else { ups.id.clone() };
    let safe: String = base
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') { c } else { '_' })
        .collect();
    format!("ups.{safe}.{metric}")
}

/// Records charge, load and runtime of every UPS read in this snapshot (at its reading's time).
pub fn record_series(series: &Series, snap: &UpsSnapshot) {
    let first = snap.servers.first().map(|s| s.addr.as_str());
    for ups in &snap.upses {
        let (Some(r), Some(at), UpsState::Ok) = (&ups.reading, ups.updated, ups.state) else { continue };
        if snap.updated != Some(at) {
            continue;
        }
        for (metric, value, label, unit) in [
            ("charge", r.charge_pct, "charge", "percent"),
            ("load", r.load_pct, "load", "percent"),
            ("runtime_s", r.runtime_s, "runtime", "seconds"),
        ] {
            let Some(v) = value else { continue };
            let key = series_key(ups, first, metric);
            if !series.has(&key) {
                series.describe(&key, &format!("UPS {} {label}", ups.name), unit);
            }
            series.record(&key, at * 1000, v);
        }
    }
}

/// The worker loop (wired by `app::run`): every UPS upsd knows into `out`, and their series.
pub async fn run(
    host: Arc<Host>,
    series: Arc<Series>,
    cfg: NutCfg,
    out: watch::Sender<Arc<UpsSnapshot>>,
    mut tick: super::Periodic,
) {
    let cancel = tick.cancel().clone();
    let mut poller = UpsPoller::new(cfg);
    while tick.next().await {
        let now = tick.now_ms();
        let snap = tokio::select! {
            _ = cancel.cancelled() => break,
            s = poller.step(&host, now) => s,
        };
        record_series(&series, &snap);
        out.send_replace(Arc::new(snap));
    }
}

#[cfg(test)]
mod tests {
    // Tests read their fixtures and run their scripted peers directly (clippy.toml bans it elsewhere).
    #![allow(clippy::disallowed_methods)]

    use super::*;

    fn demo_like_host(files: &[(&str, &str)]) -> (tempfile::TempDir, Host) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("manifest.toml"), "[scenario]\nname = \"t\"\n").unwrap();
        for (path, text) in files {
            let p = dir.path().join(path.trim_start_matches('/'));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let s = crate::host::Scenario::load(dir.path()).unwrap();
        (dir, Host::replay(s, Duration::from_secs(1)))
    }

    const RECORDED: &str = "BEGIN LIST UPS\nUPS cp1500 \"CyberPower\"\nUPS gone \"driver away\"\nEND LIST UPS\n\
        BEGIN LIST VAR cp1500\nVAR cp1500 battery.charge \"100\"\nVAR cp1500 ups.load \"25\"\n\
        VAR cp1500 battery.runtime \"1530\"\nVAR cp1500 ups.status \"OL\"\nEND LIST VAR cp1500\n";

    #[tokio::test]
    async fn replayed_upsd_is_read_and_recorded() {
        let (_d, host) = demo_like_host(&[("/nut/127.0.0.1_3493.txt", RECORDED)]);
        let mut p = UpsPoller::new(NutCfg::default());
        let snap = p.step(&host, 1_000_000).await;
        assert_eq!(snap.state, State::Ok, "{snap:?}");
        assert_eq!(snap.upses.len(), 2);
        let cp = snap.upses.iter().find(|u| u.name == "cp1500").unwrap();
        assert_eq!(cp.state, UpsState::Ok);
        assert_eq!(cp.reading.as_ref().unwrap().charge_pct, Some(100.0));
        assert_eq!(cp.status_since, Some(1_000_000));
        // The recording has no VAR block for `gone`: upsd's UNKNOWN-UPS, reported per UPS.
        let gone = snap.upses.iter().find(|u| u.name == "gone").unwrap();
        assert_eq!(gone.state, UpsState::Error);
        let series = Series::new(10);
        record_series(&series, &snap);
        assert!(
            series.has("ups.cp1500.charge")
                && series.has("ups.cp1500.load")
                && series.has("ups.cp1500.runtime_s")
        );
        assert!(!series.has("ups.gone.charge"));
    }

    #[tokio::test]
    async fn no_upsd_is_unavailable_with_backoff() {
        let (_d, host) = demo_like_host(&[]);
        let mut p = UpsPoller::new(NutCfg::default());
        let snap = p.step(&host, 0).await;
        assert_eq!(snap.state, State::Unavailable);
        assert_eq!(snap.reason.as_deref(), Some("no upsd at 127.0.0.1:3493"));
        assert_eq!(snap.servers[0].retry_at, Some(5_000));
        let snap = p.step(&host, 5_000).await;
        assert_eq!(snap.servers[0].retry_at, Some(15_000), "backoff doubles");
        let snap = p.step(&host, 6_000).await;
        assert_eq!(snap.servers[0].retry_at, Some(15_000), "not retried before it is due");
        for t in 0..20 {
            p.step(&host, 1_000_000 * (t + 1)).await;
        }
        let snap = p.step(&host, 100_000_000).await;
        assert_eq!(snap.servers[0].retry_at, Some(100_000_000 + MAX_BACKOFF_MS), "backoff is capped");

        let off = UpsPoller::new(NutCfg { servers: vec![], ..NutCfg::default() }).step(&host, 0).await;
        assert_eq!(off.state, State::Unavailable);
        assert!(off.reason.unwrap().contains("off"));
    }

    /// A scripted upsd over real TCP: one UPS whose driver went stale, then a server that denies
    /// access. Each answer line is looked up by the command received.
    async fn scripted_upsd(answers: &'static [(&'static str, &'static str)]) -> String {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (r, mut w) = sock.into_split();
                    let mut lines = tokio::io::BufReader::new(r).lines();
                    while let Ok(Some(cmd)) = lines.next_line().await {
                        let reply = answers
                            .iter()
                            .find(|(c, _)| *c == cmd)
                            .map(|(_, a)| *a)
                            .unwrap_or("ERR UNKNOWN-COMMAND\n");
                        if w.write_all(reply.as_bytes()).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn data_stale_and_access_denied_over_tcp() {
        let host = Host::system(Duration::from_secs(5));
        let addr = scripted_upsd(&[
            ("LIST UPS", "BEGIN LIST UPS\nUPS old \"stalled\"\nEND LIST UPS\n"),
            ("LIST VAR old", "ERR DATA-STALE\n"),
        ])
        .await;
        let cfg = NutCfg { servers: vec![addr], ..NutCfg::default() };
        let snap = UpsPoller::new(cfg).step(&host, 0).await;
        assert_eq!(snap.state, State::Ok);
        assert_eq!(snap.upses[0].state, UpsState::DataStale);
        assert_eq!(snap.upses[0].reason.as_deref(), Some("the UPS driver stopped updating"));

        let addr =
            scripted_upsd(&[("USERNAME \"mon\"", "OK\n"), ("PASSWORD \"s3cret\"", "ERR ACCESS-DENIED\n")])
                .await;
        let cfg = NutCfg {
            servers: vec![addr],
            username: "mon".into(),
            password: "s3cret".into(),
            ..NutCfg::default()
        };
        let snap = UpsPoller::new(cfg).step(&host, 0).await;
        assert_eq!(snap.state, State::Error);
        let reason = snap.reason.unwrap();
        assert!(reason.contains("ACCESS-DENIED") && reason.contains("nut.password"), "{reason}");
        assert!(!reason.contains("s3cret"));
    }

    #[test]
    fn series_keys_are_safe() {
        let ups = |name: &str, server: &str| Ups {
            id: format!("{name}@{server}"),
            name: name.into(),
            server: server.into(),
            description: String::new(),
            state: UpsState::Ok,
            reason: None,
            reading: None,
            updated: None,
            status_since: None,
            changes: VecDeque::new(),
        };
        assert_eq!(series_key(&ups("cp1500", "a:1"), Some("a:1"), "charge"), "ups.cp1500.charge");
        assert_eq!(series_key(&ups("cp1500", "b:2"), Some("a:1"), "load"), "ups.cp1500_b_2.load");
    }
}
