//! Pseudo-terminals for the root terminal ([`crate::terminal`]): starting the shell on a PTY and
//! ending everything it started. This lives in `host/` because it spawns a process and reads `/proc`
//! (DESIGN.md §3.1); the websocket bridge itself knows nothing about processes.
//!
//! The child is started by `portable-pty`, which makes it a session leader (`setsid`) with the PTY as
//! its controlling terminal. Ending a session therefore means ending that *session*, not just the
//! child: an interactive shell with job control puts each job (`sleep 1000 &`) into a process group
//! of its own, so signalling the shell's process group alone would leave background jobs running as
//! root. [`SessionKiller`] signals the process group and every process whose session id is the
//! leader's. Only a process that deliberately left the session (`setsid`, a daemon) survives, as it
//! would survive an SSH logout.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use portable_pty::{Child, ChildKiller, CommandBuilder, MasterPty, PtySize};

/// The terminal type announced to the shell; xterm.js implements it.
const TERM: &str = "xterm-256color";

/// A shell running on a PTY. The master side stays here (for resizing); the byte streams are handed
/// out once each with [`PtySession::reader`] and [`PtySession::writer`].
pub struct PtySession {
    pid: u32,
    master: Box<dyn MasterPty + Send>,
    child: Option<Box<dyn Child + Send + Sync>>,
    killer: Box<dyn ChildKiller + Send + Sync>,
}

impl std::fmt::Debug for PtySession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PtySession").field("pid", &self.pid).finish_non_exhaustive()
    }
}

/// How the shell ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    pub code: u32,
    /// The signal's description when the shell was killed by one (`code` is then 1).
    pub signal: Option<String>,
}

/// Starts `argv` on a new PTY of `cols` x `rows` as a session leader, with `TERM=xterm-256color`, in
/// `/root` (or `/` where there is no `/root`). The environment is proxwatch's own, less its
/// `PROXWATCH_*` variables (configuration, possibly secrets, that a shell has no business seeing).
pub fn spawn_pty(argv: &[String], cols: u16, rows: u16) -> anyhow::Result<PtySession> {
    anyhow::ensure!(!argv.is_empty(), "the terminal command is empty");
    let pair = portable_pty::native_pty_system()
        .openpty(PtySize { rows, cols, pixel_width: 0, pixel_height: 0 })
        .context("opening a pseudo-terminal")?;
    let mut cmd = CommandBuilder::from_argv(argv.iter().map(OsString::from).collect());
    let dir = if Path::new("/root").is_dir() { "/root" } else { "/" };
    cmd.cwd(dir);
    cmd.env("TERM", TERM);
    // systemd does not set HOME for a root service without User=; a login shell wants one.
    if std::env::var_os("HOME").is_none() {
        cmd.env("HOME", dir);
    }
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PROXWATCH_") {
            cmd.env_remove(key);
        }
    }
    let child = pair.slave.spawn_command(cmd).with_context(|| format!("starting {argv:?} on a PTY"))?;
    // Our copy of the slave side must go: the reader sees EOF (EIO) only once no process holds it.
    drop(pair.slave);
    let pid = child.process_id().context("the PTY child has no pid")?;
    let killer = child.clone_killer();
    Ok(PtySession { pid, master: pair.master, child: Some(child), killer })
}

impl PtySession {
    /// The shell's pid, which is also its process group and session id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The PTY's output (blocking reads; an error, usually EIO, once every holder of the slave side
    /// is gone).
    pub fn reader(&self) -> anyhow::Result<Box<dyn Read + Send>> {
        self.master.try_clone_reader().context("cloning the PTY reader")
    }

    /// The PTY's input (blocking writes). Can be taken once.
    pub fn writer(&self) -> anyhow::Result<Box<dyn Write + Send>> {
        self.master.take_writer().context("taking the PTY writer")
    }

    /// Sets the window size; the kernel sends SIGWINCH to the foreground process group.
    pub fn resize(&self, cols: u16, rows: u16) -> anyhow::Result<()> {
        self.master
            .resize(PtySize { rows, cols, pixel_width: 0, pixel_height: 0 })
            .context("resizing the PTY")
    }

    /// The child, to be waited for on a thread of its own ([`PtyChild::wait`] blocks). `None` the
    /// second time.
    pub fn take_child(&mut self) -> Option<PtyChild> {
        self.child.take().map(|child| PtyChild { child })
    }

    /// A handle that ends the whole session (see the module docs).
    pub fn killer(&self) -> SessionKiller {
        SessionKiller { leader: self.pid, child: self.killer.clone_killer() }
    }
}

/// The shell process, for waiting on.
pub struct PtyChild {
    child: Box<dyn Child + Send + Sync>,
}

impl PtyChild {
    /// Blocks until the shell exits and reaps it.
    pub fn wait(mut self) -> std::io::Result<Exit> {
        let status = self.child.wait()?;
        Ok(Exit { code: status.exit_code(), signal: status.signal().map(str::to_string) })
    }
}

/// Ends a PTY session: everything in the shell's session and process group.
pub struct SessionKiller {
    leader: u32,
    child: Box<dyn ChildKiller + Send + Sync>,
}

impl std::fmt::Debug for SessionKiller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionKiller").field("leader", &self.leader).finish_non_exhaustive()
    }
}

impl SessionKiller {
    /// SIGHUP to the session (what a terminal hang-up does, so shells save history and jobs may
    /// clean up), then, for whatever is still alive after `grace`, SIGKILL. Blocks for at most about
    /// `grace`; call it from a blocking thread.
    pub fn terminate(&mut self, grace: Duration) {
        // A shell that exited and was reaped has freed its pid (the kernel keeps a pid allocated
        // while it names a live process group or session, so a member left behind holds it): the
        // shell and its group are signalled by pid only while the shell is still running.
        if self.members().contains(&(self.leader as i32)) {
            // portable-pty's killer sends SIGHUP to the shell itself; the rest is ours.
            if let Err(e) = self.child.kill() {
                if e.raw_os_error() != Some(nix::errno::Errno::ESRCH as i32) {
                    tracing::debug!(pid = self.leader, error = %e, "SIGHUP to the shell failed");
                }
            }
        }
        self.signal_all(Signal::SIGHUP);
        // Stopped jobs (Ctrl-Z) act on SIGHUP only once continued.
        self.signal_all(Signal::SIGCONT);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if self.members().is_empty() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let left = self.signal_all(Signal::SIGKILL);
        if left > 0 {
            tracing::debug!(pid = self.leader, processes = left, "terminal session killed with SIGKILL");
        }
    }

    /// SIGKILL to the whole session at once, without waiting: for a session whose orderly end was
    /// cut short (its task dropped), where blocking is not an option.
    pub fn kill_now(&self) {
        self.signal_all(Signal::SIGKILL);
    }

    /// Signals the process group and each live member of the session; returns how many members
    /// there were.
    fn signal_all(&self, signal: Signal) -> usize {
        let Ok(leader) = i32::try_from(self.leader) else { return 0 };
        let members = self.members();
        if members.contains(&leader) {
            let _ = killpg(Pid::from_raw(leader), signal);
        }
        for pid in &members {
            let _ = kill(Pid::from_raw(*pid), signal);
        }
        members.len()
    }

    /// The live (not zombie) processes in the leader's session or process group.
    pub fn members(&self) -> Vec<i32> {
        let Ok(leader) = i32::try_from(self.leader) else { return Vec::new() };
        let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
        dir.filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
            .filter(|pid| {
                // A process may exit between the listing and the read: then it is no member.
                std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .ok()
                    .and_then(|text| parse_stat_ids(&text))
                    .is_some_and(|s| s.state != 'Z' && (s.session == leader || s.pgrp == leader))
            })
            .collect()
    }
}

/// The identity fields of `/proc/<pid>/stat` (proc(5)): state, process group and session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct StatIds {
    state: char,
    pgrp: i32,
    session: i32,
}

fn parse_stat_ids(text: &str) -> Option<StatIds> {
    // `comm` may contain spaces and parentheses: the fields start after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    let session = fields.next()?.parse().ok()?;
    Some(StatIds { state, pgrp, session })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_ids_survive_odd_command_names() {
        let text = "4242 (a) b (c) S 4200 4242 4100 34816 4242 4194560 1 2 3 4 5 6 7 8 20 0 1 0 99 0 0\n";
        assert_eq!(parse_stat_ids(text), Some(StatIds { state: 'S', pgrp: 4242, session: 4100 }));
        assert_eq!(parse_stat_ids("4242 (sleep"), None);
        assert_eq!(parse_stat_ids("4242 (sleep) Z"), None);
    }
}
