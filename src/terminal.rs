//! The root terminal: a shell on a PTY, bridged to a websocket. proxwatch runs as root, so this is the
//! most dangerous thing it offers, and everything about it is bounded and audited: a session needs a
//! single-use, short-lived ticket bound to an admin user (issued by an authenticated, CSRF-checked
//! POST, so a cross-site page cannot open a socket with the victim's cookie), at most `max_sessions`
//! run at once, an idle session is closed, oversized messages close the socket, and each session's
//! user, address, start, end and duration go to the auth event log.
//!
//! The wire protocol (the web UI's xterm.js speaks exactly this):
//! - client → server **binary**: input bytes, written to the PTY unchanged (a UTF-8 character split
//!   across two frames arrives intact because nothing here decodes it);
//! - client → server **text**: a JSON control message, `{"type":"resize","cols":120,"rows":40}`
//!   (1..=1000 each); anything else is ignored;
//! - server → client **binary**: PTY output bytes, as read (never converted to text);
//! - server → client **text** `{"type":"exit","code":N}` when the shell exits, then close 1000;
//! - close 4000 "idle timeout" after `idle_timeout` without client input, 1009 "message too big"
//!   for a message over `max_frame_bytes`, 1001 when proxwatch stops, 1011 if the shell cannot start;
//! - close 4001 "authority revoked" (after a last output line saying why) when the login that opened
//!   the terminal loses its authority: logout, revocation, "log out everywhere", a password change,
//!   the user disabled, demoted below admin or deleted (at once, through [`crate::auth::Auth::changes`]),
//!   or the session expiring or idling out (re-checked every `recheck`; typing in the terminal does
//!   not keep the login alive).
//!
//! A terminal is opened by an interactive login only (never an API token), and its ticket is bound
//! to that login's session.
//!
//! The PTY is blocking, so each session has three small threads (reader, writer, waiter) joined to the
//! async bridge by bounded channels: a slow socket stalls the reader thread and, through the PTY, the
//! shell, and output is neither dropped nor buffered without bound. Processes are started and killed
//! only through [`crate::host::pty`].

use std::collections::{BTreeMap, HashMap};
use std::io::{ErrorKind, Read, Write};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use crate::auth::audit::Kind;
use crate::config::TerminalCfg;
use crate::host::pty::{Exit, PtySession, SessionKiller};

/// Outstanding (issued, unused, unexpired) tickets kept at most; more are refused.
const MAX_TICKETS: usize = 64;
/// PTY output is read (and sent) in chunks of at most this many bytes.
const READ_CHUNK: usize = 16 * 1024;
/// Chunks queued between the PTY reader thread and the socket: with [`READ_CHUNK`], at most 128 KiB
/// per session before the reader blocks.
const OUTPUT_QUEUE: usize = 8;
/// Input messages queued for the PTY writer thread before the socket is no longer read.
const INPUT_QUEUE: usize = 16;
/// Between SIGHUP and SIGKILL when a session ends.
const KILL_GRACE: Duration = Duration::from_millis(300);
/// After the shell exits, output still in flight is forwarded until none arrives for this long...
const DRAIN_GAP: Duration = Duration::from_millis(100);
/// ... or at most this long.
const DRAIN_MAX: Duration = Duration::from_secs(2);
/// Sending the last frames to, and hearing the close from, a client that may be gone.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

pub const CLOSE_NORMAL: u16 = 1000;
pub const CLOSE_GOING_AWAY: u16 = 1001;
pub const CLOSE_TOO_BIG: u16 = 1009;
pub const CLOSE_INTERNAL: u16 = 1011;
/// Application-defined (4000-4999): the client sent nothing for `idle_timeout`.
pub const CLOSE_IDLE: u16 = 4000;
/// The login behind the terminal lost its authority.
pub const CLOSE_REVOKED: u16 = 4001;

/// The terminal's bounds, as plain values (tests use a 200 ms idle timeout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub command: Vec<String>,
    pub max_sessions: usize,
    /// No client input for this long closes the session; zero: never.
    pub idle_timeout: Duration,
    pub max_frame_bytes: usize,
    pub ticket_ttl: Duration,
    /// How often an open session re-checks its login (changes through proxwatch are seen at once).
    pub recheck: Duration,
    /// Whether sessions start outside proxwatch's sandbox, as transient systemd units.
    pub outside: crate::host::pty::Outside,
}

impl Limits {
    pub fn from_config(cfg: &TerminalCfg) -> Limits {
        Limits {
            command: cfg.command.clone(),
            max_sessions: cfg.max_sessions,
            idle_timeout: Duration::from_secs(cfg.idle_timeout_minutes.saturating_mul(60)),
            max_frame_bytes: cfg.max_frame_bytes,
            ticket_ttl: Duration::from_secs(cfg.ticket_ttl_s),
            recheck: Duration::from_secs(cfg.recheck_s.max(1)),
            outside: crate::host::pty::Outside::detect(&cfg.outside_sandbox),
        }
    }
}

/// Why a ticket or a session was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TerminalError {
    #[error("the terminal is disabled")]
    Disabled,
    #[error("all {0} terminal sessions are in use; close one first")]
    TooManySessions(usize),
    #[error("too many unused terminal tickets; retry in a few seconds")]
    TooManyTickets,
    #[error("unknown, used or expired terminal ticket")]
    BadTicket,
}

/// A live session, as listed for admins.
#[derive(Debug, Clone, Serialize)]
pub struct SessionInfo {
    pub id: u64,
    pub user: String,
    pub ip: Option<IpAddr>,
    /// Unix seconds.
    pub started: i64,
}

struct Ticket {
    user: String,
    session: String,
    expires: Instant,
}

/// The session manager: tickets, the live-session registry and the limits. One per process.
pub struct Terminal {
    enabled: bool,
    limits: Limits,
    tickets: Mutex<HashMap<String, Ticket>>,
    live: Mutex<BTreeMap<u64, SessionInfo>>,
    slots: Arc<Semaphore>,
    next_id: AtomicU64,
    /// Unix seconds when this manager was made: with the session id, a transient unit's unique name.
    started_unix: i64,
}

/// Permission to run one session: a redeemed ticket holding one of the `max_sessions` slots until the
/// session ends (or the upgrade fails and this is dropped).
#[derive(Debug)]
pub struct Grant {
    id: u64,
    user: String,
    /// The login session the ticket was issued to; the terminal lives only as long as it does.
    session: String,
    ip: Option<IpAddr>,
    cols: u16,
    rows: u16,
    _slot: OwnedSemaphorePermit,
}

impl Grant {
    /// The initial window size (the default is 80x24); out-of-range values are ignored.
    pub fn with_size(mut self, cols: Option<u16>, rows: Option<u16>) -> Grant {
        if let Some(c) = cols.filter(|c| valid_dim(*c)) {
            self.cols = c;
        }
        if let Some(r) = rows.filter(|r| valid_dim(*r)) {
            self.rows = r;
        }
        self
    }
}

fn valid_dim(n: u16) -> bool {
    (1..=1000).contains(&n)
}

impl Terminal {
    pub fn new(enabled: bool, limits: Limits) -> Terminal {
        Terminal {
            enabled,
            slots: Arc::new(Semaphore::new(limits.max_sessions)),
            limits,
            tickets: Mutex::new(HashMap::new()),
            live: Mutex::new(BTreeMap::new()),
            next_id: AtomicU64::new(1),
            started_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64),
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The sessions running now, oldest first.
    pub fn sessions(&self) -> Vec<SessionInfo> {
        self.live.lock().map(|l| l.values().cloned().collect()).unwrap_or_default()
    }

    /// Issues a single-use ticket for `user`'s login `session`.
    pub fn issue(&self, user: &str, session: &str) -> Result<String, TerminalError> {
        self.issue_at(user, session, Instant::now())
    }

    fn issue_at(&self, user: &str, session: &str, now: Instant) -> Result<String, TerminalError> {
        if !self.enabled {
            return Err(TerminalError::Disabled);
        }
        // Refused here already so the UI can say so before opening a socket; the slot itself is
        // taken only when the ticket is redeemed.
        if self.slots.available_permits() == 0 {
            return Err(TerminalError::TooManySessions(self.limits.max_sessions));
        }
        let mut tickets = self.tickets.lock().map_err(|_| TerminalError::TooManyTickets)?;
        tickets.retain(|_, t| t.expires > now);
        if tickets.len() >= MAX_TICKETS {
            return Err(TerminalError::TooManyTickets);
        }
        let id = data_encoding::HEXLOWER.encode(&crate::auth::random_bytes::<16>());
        tickets.insert(
            id.clone(),
            Ticket {
                user: user.to_string(),
                session: session.to_string(),
                expires: now + self.limits.ticket_ttl,
            },
        );
        Ok(id)
    }

    /// Redeems a ticket for `user`'s login `session`, taking a session slot. The ticket is spent
    /// whatever the outcome: one shown by another user or login, or too late, is burnt.
    pub fn redeem(
        &self,
        ticket: &str,
        user: &str,
        session: &str,
        ip: Option<IpAddr>,
    ) -> Result<Grant, TerminalError> {
        self.redeem_at(ticket, user, session, ip, Instant::now())
    }

    fn redeem_at(
        &self,
        ticket: &str,
        user: &str,
        session: &str,
        ip: Option<IpAddr>,
        now: Instant,
    ) -> Result<Grant, TerminalError> {
        if !self.enabled {
            return Err(TerminalError::Disabled);
        }
        let found = self.tickets.lock().map_err(|_| TerminalError::BadTicket)?.remove(ticket);
        match found {
            Some(t) if t.expires > now && t.user == user && t.session == session => {}
            _ => return Err(TerminalError::BadTicket),
        }
        let slot = self
            .slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| TerminalError::TooManySessions(self.limits.max_sessions))?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        Ok(Grant {
            id,
            user: user.to_string(),
            session: session.to_string(),
            ip,
            cols: 80,
            rows: 24,
            _slot: slot,
        })
    }

    fn register(&self, grant: &Grant) {
        let started = unix_now();
        if let Ok(mut live) = self.live.lock() {
            live.insert(
                grant.id,
                SessionInfo { id: grant.id, user: grant.user.clone(), ip: grant.ip, started },
            );
        }
    }

    fn unregister(&self, id: u64) {
        if let Ok(mut live) = self.live.lock() {
            live.remove(&id);
        }
    }
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// A client's control message.
#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Control {
    Resize { cols: u16, rows: u16 },
}

#[derive(Serialize)]
struct ExitMsg<'a> {
    r#type: &'static str,
    code: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    signal: Option<&'a str>,
}

/// How a session ended.
#[derive(Debug)]
enum End {
    Exited(Option<Exit>),
    NoShell,
    ClientClosed,
    Idle,
    TooBig,
    Shutdown,
    /// The login lost its authority (why).
    Revoked(&'static str),
}

impl End {
    fn describe(&self) -> String {
        match self {
            End::Exited(Some(e)) => match &e.signal {
                Some(s) => format!("shell killed ({s})"),
                None => format!("shell exited with code {}", e.code),
            },
            End::Exited(None) => "shell exited".into(),
            End::NoShell => "the shell could not start".into(),
            End::ClientClosed => "client closed".into(),
            End::Idle => "idle timeout".into(),
            End::TooBig => "message too big".into(),
            End::Shutdown => "proxwatch stopping".into(),
            End::Revoked(why) => format!("revoked: {why}"),
        }
    }
}

/// Runs one session on an upgraded socket until the shell exits, the client goes, the session idles
/// out or proxwatch stops; then ends every process of the session, closes the socket and audits.
/// Tracked by the app's task tracker, so a graceful stop waits for the cleanup.
/// What a terminal session uses: the session manager, the auth service (audit, revocation), and
/// the tracker and token of graceful shutdown.
#[derive(Clone)]
pub struct Ctx {
    pub terminal: Arc<Terminal>,
    pub auth: Arc<crate::auth::Auth>,
    pub tracker: tokio_util::task::TaskTracker,
    pub cancel: tokio_util::sync::CancellationToken,
}

pub async fn serve(app: Ctx, socket: WebSocket, grant: Grant) {
    let tracker = app.tracker.clone();
    tracker.track_future(serve_tracked(app, socket, grant)).await;
}

async fn serve_tracked(app: Ctx, mut socket: WebSocket, grant: Grant) {
    let started = Instant::now();
    app.terminal.register(&grant);
    let (id, user, ip) = (grant.id, grant.user.clone(), grant.ip);
    let limits = &app.terminal.limits;
    let (argv, unit) =
        limits.outside.wrap(&limits.command, &format!("{}-{id}", app.terminal.started_unix), &user);
    let opened = match &unit {
        Some(unit) => format!("session {id} (unit {unit})"),
        None => format!("session {id}"),
    };
    app.auth.audit.record(app.auth.db(), Kind::TerminalOpen, Some(&user), ip, &opened).await;

    let (cols, rows) = (grant.cols, grant.rows);
    // Forking and starting threads block (briefly); a failure may have to kill what it started.
    let bridge = tokio::task::spawn_blocking(move || {
        crate::host::pty::spawn_pty_in(&argv, cols, rows, unit).and_then(|pty| Bridge::start(pty, id))
    })
    .await
    .map_err(anyhow::Error::from)
    .and_then(|r| r);
    let end = match bridge {
        Ok(bridge) => bridge.run(&app, &mut socket, &grant.session, &user).await,
        Err(e) => {
            tracing::error!(session = id, error = %format!("{e:#}"), "cannot start the terminal shell");
            close(&mut socket, CLOSE_INTERNAL, "cannot start the shell").await;
            End::NoShell
        }
    };

    let secs = started.elapsed().as_secs();
    app.terminal.unregister(id);
    if let End::Revoked(why) = &end {
        let detail = format!("session {id} closed: {why}");
        app.auth.audit.record(app.auth.db(), Kind::TerminalRevoked, Some(&user), ip, &detail).await;
    }
    let detail = format!("session {id} duration {secs}s ({})", end.describe());
    app.auth.audit.record(app.auth.db(), Kind::TerminalClose, Some(&user), ip, &detail).await;
    drop(grant);
}

/// Sends a close frame and waits (briefly) for the client's answer, so that the close is clean and
/// the frame is not lost to a reset.
async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame { code, reason: Utf8Bytes::from_static(reason) };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
        if socket.send(Message::Close(Some(frame))).await.is_err() {
            return;
        }
        while let Some(Ok(msg)) = socket.recv().await {
            if matches!(msg, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

/// tungstenite refuses an oversized frame or message with a capacity error; axum does not expose the
/// type, so it is recognised by its text ("Space limit exceeded: Message too long: N > M"). The
/// integration test for close 1009 guards this against a tungstenite upgrade.
fn is_capacity_error(e: &axum::Error) -> bool {
    let text = e.to_string();
    text.contains("Space limit exceeded") || text.contains("Message too long")
}

/// One session's PTY and the threads around it.
struct Bridge {
    id: u64,
    pty: PtySession,
    /// Taken by the orderly end in [`Bridge::run`]; still here when the bridge is dropped midway.
    killer: Option<SessionKiller>,
    output: mpsc::Receiver<Bytes>,
    input: mpsc::Sender<Bytes>,
    exited: oneshot::Receiver<Option<Exit>>,
    /// The shell runs in a transient unit behind `systemd-run --pty`: client input waits for the
    /// first output (see [`FIRST_OUTPUT_WAIT`]).
    hold_input: bool,
}

/// Input that reaches `systemd-run --pty` before its forwarding is set up can leave the session
/// without output (seen with systemd 252 under systemd-nspawn: no prompt, ever). A person types
/// after the prompt; keystrokes sent earlier wait for the first output, or this long.
const FIRST_OUTPUT_WAIT: Duration = Duration::from_secs(5);

impl Bridge {
    fn start(mut pty: PtySession, id: u64) -> anyhow::Result<Bridge> {
        let killer = pty.killer();
        // From here on, a failure must not leave the shell running.
        let started = (|| -> anyhow::Result<_> {
            let mut reader = pty.reader()?;
            let mut writer = pty.writer()?;
            let child = pty.take_child().ok_or_else(|| anyhow::anyhow!("the PTY child was taken"))?;
            let (out_tx, out_rx) = mpsc::channel::<Bytes>(OUTPUT_QUEUE);
            let (in_tx, mut in_rx) = mpsc::channel::<Bytes>(INPUT_QUEUE);
            let (exit_tx, exit_rx) = oneshot::channel();
            std::thread::Builder::new().name(format!("pty-wait-{id}")).spawn(move || {
                let exit = child
                    .wait()
                    .map_err(|e| tracing::warn!(session = id, error = %e, "waiting for the shell"));
                let _ = exit_tx.send(exit.ok());
            })?;
            std::thread::Builder::new().name(format!("pty-read-{id}")).spawn(move || {
                let mut buf = vec![0u8; READ_CHUNK];
                loop {
                    match reader.read(&mut buf) {
                        Ok(0) => break,
                        // Blocks while the socket side is behind: that is the backpressure.
                        Ok(n) => {
                            if out_tx.blocking_send(Bytes::copy_from_slice(&buf[..n])).is_err() {
                                break;
                            }
                        }
                        Err(e) if e.kind() == ErrorKind::Interrupted => {}
                        // EIO: no process holds the PTY's slave side any more.
                        Err(_) => break,
                    }
                }
            })?;
            std::thread::Builder::new().name(format!("pty-write-{id}")).spawn(move || {
                while let Some(bytes) = in_rx.blocking_recv() {
                    if writer.write_all(&bytes).and_then(|()| writer.flush()).is_err() {
                        break;
                    }
                }
            })?;
            Ok((out_rx, in_tx, exit_rx))
        })();
        match started {
            Ok((output, input, exited)) => {
                let hold_input = pty.in_unit();
                Ok(Bridge { id, pty, killer: Some(killer), output, input, exited, hold_input })
            }
            Err(e) => {
                let mut killer = killer;
                killer.terminate(KILL_GRACE);
                Err(e)
            }
        }
    }

    async fn run(mut self, app: &Ctx, socket: &mut WebSocket, session: &str, user: &str) -> End {
        let end = tokio::select! {
            end = self.pump(socket, &app.terminal.limits) => end,
            () = app.cancel.cancelled() => End::Shutdown,
            why = revoked(app, session, user) => End::Revoked(why),
        };
        tracing::debug!(session = self.id, end = %end.describe(), "terminal session ending");
        // The client hears the end first; the processes go right after.
        match &end {
            End::Exited(exit) => {
                let msg = ExitMsg {
                    r#type: "exit",
                    code: exit.as_ref().map_or(0, |e| e.code),
                    signal: exit.as_ref().and_then(|e| e.signal.as_deref()),
                };
                if let Ok(text) = serde_json::to_string(&msg) {
                    let sent =
                        tokio::time::timeout(CLOSE_TIMEOUT, socket.send(Message::Text(text.into()))).await;
                    if matches!(sent, Ok(Ok(()))) {
                        close(socket, CLOSE_NORMAL, "shell exited").await;
                    }
                }
            }
            End::Idle => close(socket, CLOSE_IDLE, "idle timeout").await,
            End::TooBig => close(socket, CLOSE_TOO_BIG, "message too big").await,
            End::Shutdown => close(socket, CLOSE_GOING_AWAY, "proxwatch is stopping").await,
            End::Revoked(why) => {
                let line = format!("\r\n\x1b[1;31m[proxwatch] terminal closed: {why}\x1b[0m\r\n");
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, socket.send(Message::Binary(line.into()))).await;
                close(socket, CLOSE_REVOKED, "authority revoked").await;
            }
            // tungstenite queues the answer to the client's close; the next read sends it.
            End::NoShell => {}
            End::ClientClosed => {
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, socket.recv()).await;
            }
        }
        // A reader thread blocked on a full queue fails its send and ends.
        self.output.close();
        if let Some(mut killer) = self.killer.take() {
            if let Err(e) = tokio::task::spawn_blocking(move || killer.terminate(KILL_GRACE)).await {
                tracing::error!(error = %e, "ending the terminal session's processes");
            }
        }
        // Dropping the bridge drops the input queue (the writer thread ends) and the PTY.
        end
    }

    /// Moves bytes both ways until the session should end.
    async fn pump(&mut self, socket: &mut WebSocket, limits: &Limits) -> End {
        let idle_timeout = (!limits.idle_timeout.is_zero()).then_some(limits.idle_timeout);
        let idle = tokio::time::sleep(idle_timeout.unwrap_or(Duration::MAX / 4));
        tokio::pin!(idle);
        let mut output_open = true;
        // Input read from the socket but not yet queued for the PTY. While it waits the socket is not
        // read (backpressure to the client), but output keeps flowing: a shell that is blocked writing
        // output cannot read input, so stalling output here too would deadlock.
        let mut pending: Option<Bytes> = None;
        if self.hold_input {
            // The socket is not read meanwhile: what the client sends waits in its buffers.
            if let Ok(Some(bytes)) = tokio::time::timeout(FIRST_OUTPUT_WAIT, self.output.recv()).await {
                if socket.send(Message::Binary(bytes)).await.is_err() {
                    return End::ClientClosed;
                }
            }
        }
        loop {
            tokio::select! {
                exit = &mut self.exited => {
                    drain(&mut self.output, socket).await;
                    return End::Exited(exit.ok().flatten());
                }
                chunk = self.output.recv(), if output_open => match chunk {
                    Some(bytes) => {
                        if socket.send(Message::Binary(bytes)).await.is_err() {
                            return End::ClientClosed;
                        }
                    }
                    // The slave side is closed; the exit follows.
                    None => output_open = false,
                },
                permit = self.input.reserve(), if pending.is_some() => {
                    // An error: the writer is gone (the shell exited) and the input has nowhere to go.
                    if let (Ok(permit), Some(bytes)) = (permit, pending.take()) {
                        permit.send(bytes);
                    }
                }
                msg = socket.recv(), if pending.is_none() => {
                    let msg = match msg {
                        None | Some(Ok(Message::Close(_))) => return End::ClientClosed,
                        Some(Err(e)) if is_capacity_error(&e) => return End::TooBig,
                        Some(Err(e)) => {
                            tracing::debug!(session = self.id, error = %e, "terminal socket error");
                            return End::ClientClosed;
                        }
                        Some(Ok(msg)) => msg,
                    };
                    match msg {
                        Message::Binary(bytes) => {
                            if bytes.len() > limits.max_frame_bytes {
                                return End::TooBig;
                            }
                            if let Some(t) = idle_timeout {
                                idle.as_mut().reset(tokio::time::Instant::now() + t);
                            }
                            if !bytes.is_empty() {
                                pending = Some(bytes);
                            }
                        }
                        Message::Text(text) => {
                            if text.len() > limits.max_frame_bytes {
                                return End::TooBig;
                            }
                            if let Some(t) = idle_timeout {
                                idle.as_mut().reset(tokio::time::Instant::now() + t);
                            }
                            self.control(text.as_str());
                        }
                        // axum answers pings itself; neither counts as activity.
                        _ => {}
                    }
                }
                () = &mut idle => return End::Idle,
            }
        }
    }

    fn control(&self, text: &str) {
        match serde_json::from_str::<Control>(text) {
            Ok(Control::Resize { cols, rows }) if valid_dim(cols) && valid_dim(rows) => {
                if let Err(e) = self.pty.resize(cols, rows) {
                    tracing::debug!(session = self.id, error = %format!("{e:#}"), "terminal resize failed");
                }
            }
            Ok(other) => tracing::debug!(session = self.id, ?other, "terminal control out of range; ignored"),
            Err(e) => {
                tracing::debug!(session = self.id, error = %e, "invalid terminal control message; ignored")
            }
        }
    }
}

impl Drop for Bridge {
    /// A session whose task is dropped before its orderly end (the runtime shutting down without a
    /// graceful stop) still takes its processes with it.
    fn drop(&mut self) {
        if let Some(killer) = self.killer.take() {
            killer.kill_now();
        }
    }
}

/// Resolves when the login behind a terminal loses its authority, with the reason. Checked at once
/// on every change [`crate::auth::Auth`] announces, and every `recheck` for what no change announces
/// (a session expiring or idling out, a change made by another process before it is reloaded).
async fn revoked(app: &Ctx, session: &str, user: &str) -> &'static str {
    let mut changes = app.auth.changes();
    let mut tick = tokio::time::interval(app.terminal.limits.recheck);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut announcing = true;
    loop {
        if let Err(why) = app.auth.session_authority(session, user) {
            return why;
        }
        tokio::select! {
            r = changes.changed(), if announcing => announcing = r.is_ok(),
            _ = tick.tick() => {}
        }
    }
}

/// Forwards the output the shell wrote just before it exited.
async fn drain(output: &mut mpsc::Receiver<Bytes>, socket: &mut WebSocket) {
    let deadline = tokio::time::Instant::now() + DRAIN_MAX;
    while tokio::time::Instant::now() < deadline {
        match tokio::time::timeout(DRAIN_GAP, output.recv()).await {
            Ok(Some(bytes)) => {
                if socket.send(Message::Binary(bytes)).await.is_err() {
                    return;
                }
            }
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terminal(max_sessions: usize) -> Terminal {
        Terminal::new(
            true,
            Limits {
                command: vec!["/bin/sh".into()],
                max_sessions,
                idle_timeout: Duration::from_millis(200),
                max_frame_bytes: 1024,
                ticket_ttl: Duration::from_secs(30),
                recheck: Duration::from_secs(10),
                outside: crate::host::pty::Outside::Direct,
            },
        )
    }

    #[test]
    fn tickets_are_random_hex_and_single_use() {
        let t = terminal(4);
        let now = Instant::now();
        let a = t.issue_at("admin", "s1", now).unwrap();
        let b = t.issue_at("admin", "s1", now).unwrap();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, b);
        let grant = t.redeem_at(&a, "admin", "s1", None, now).unwrap();
        assert_eq!((grant.cols, grant.rows), (80, 24));
        assert_eq!(t.redeem_at(&a, "admin", "s1", None, now).unwrap_err(), TerminalError::BadTicket);
        assert_eq!(t.redeem_at("", "admin", "s1", None, now).unwrap_err(), TerminalError::BadTicket);
    }

    #[test]
    fn tickets_expire_and_are_bound_to_their_user() {
        let t = terminal(4);
        let now = Instant::now();
        let a = t.issue_at("admin", "s1", now).unwrap();
        let late = now + Duration::from_secs(30);
        assert_eq!(t.redeem_at(&a, "admin", "s1", None, late).unwrap_err(), TerminalError::BadTicket);
        let b = t.issue_at("admin", "s1", now).unwrap();
        assert!(t.redeem_at(&b, "admin", "s1", None, now + Duration::from_secs(29)).is_ok());
        // Another user's attempt burns the ticket.
        let c = t.issue_at("admin", "s1", now).unwrap();
        assert_eq!(t.redeem_at(&c, "mallory", "s1", None, now).unwrap_err(), TerminalError::BadTicket);
        assert_eq!(t.redeem_at(&c, "admin", "s1", None, now).unwrap_err(), TerminalError::BadTicket);
        // So does the same user's attempt from another login session.
        let d = t.issue_at("admin", "s1", now).unwrap();
        assert_eq!(t.redeem_at(&d, "admin", "s2", None, now).unwrap_err(), TerminalError::BadTicket);
    }

    #[test]
    fn sessions_are_limited_and_slots_come_back() {
        let t = terminal(2);
        let now = Instant::now();
        let tickets: Vec<String> = (0..3).map(|_| t.issue_at("admin", "s1", now).unwrap()).collect();
        let g1 = t.redeem_at(&tickets[0], "admin", "s1", None, now).unwrap();
        let _g2 = t.redeem_at(&tickets[1], "admin", "s1", None, now).unwrap();
        assert_eq!(
            t.redeem_at(&tickets[2], "admin", "s1", None, now).unwrap_err(),
            TerminalError::TooManySessions(2)
        );
        assert_eq!(t.issue_at("admin", "s1", now).unwrap_err(), TerminalError::TooManySessions(2));
        drop(g1);
        assert!(t.issue_at("admin", "s1", now).is_ok());
    }

    #[test]
    fn outstanding_tickets_are_bounded_and_pruned() {
        let t = terminal(4);
        let now = Instant::now();
        for _ in 0..MAX_TICKETS {
            t.issue_at("admin", "s1", now).unwrap();
        }
        assert_eq!(t.issue_at("admin", "s1", now).unwrap_err(), TerminalError::TooManyTickets);
        assert!(t.issue_at("admin", "s1", now + Duration::from_secs(31)).is_ok());
    }

    #[test]
    fn a_disabled_terminal_refuses_everything() {
        let t = Terminal::new(false, terminal(4).limits.clone());
        assert_eq!(t.issue_at("admin", "s1", Instant::now()).unwrap_err(), TerminalError::Disabled);
        assert_eq!(t.redeem("x", "admin", "s1", None).unwrap_err(), TerminalError::Disabled);
    }

    #[test]
    fn control_messages_and_sizes() {
        let c: Control = serde_json::from_str(r#"{"type":"resize","cols":120,"rows":40}"#).unwrap();
        assert_eq!(c, Control::Resize { cols: 120, rows: 40 });
        assert!(serde_json::from_str::<Control>(r#"{"type":"paste"}"#).is_err());
        assert!(serde_json::from_str::<Control>(r#"{"type":"resize","cols":-1,"rows":40}"#).is_err());
        assert!(!valid_dim(0) && valid_dim(1) && valid_dim(1000) && !valid_dim(1001));
        let t = terminal(1);
        let tk = t.issue("admin", "s1").unwrap();
        let g = t.redeem(&tk, "admin", "s1", None).unwrap().with_size(Some(132), Some(0));
        assert_eq!((g.cols, g.rows), (132, 24));
    }
}
