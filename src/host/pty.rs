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
//!
//! Under systemd the shell is not started inside proxwatch's own sandbox (a read-only `/etc`, a
//! reduced capability set and a system-call filter make a useless root shell): [`Outside`] wraps the
//! command in `systemd-run --pty`, so PID 1 starts it as a transient unit of its own, with the
//! system's full root, and `systemd-run` forwards between that unit's PTY and ours. Ending the
//! session ends `systemd-run` (the unit's PTY hangs up, its shell gets SIGHUP) and stops the unit.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
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
    unit: Option<String>,
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
    spawn_pty_in(argv, cols, rows, None)
}

/// How terminal sessions are started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outside {
    /// As a child of proxwatch (inheriting its sandbox, if any).
    Direct,
    /// As a transient systemd unit, through this `systemd-run`.
    SystemdRun(PathBuf),
}

/// Where `systemd-run` would be found.
const SYSTEMD_RUN: &[&str] = &["/usr/bin/systemd-run", "/bin/systemd-run"];

impl Outside {
    /// `mode` is `terminal.outside_sandbox`: "auto" starts sessions through `systemd-run` when
    /// proxwatch is itself a systemd service (`INVOCATION_ID` set, systemd is PID 1), runs as root and
    /// `systemd-run` exists; "always" insists (a session fails without systemd-run); "never" starts
    /// them directly.
    pub fn detect(mode: &str) -> Outside {
        let tool = SYSTEMD_RUN.iter().map(PathBuf::from).find(|p| p.is_file());
        match (mode, tool) {
            ("never", _) => Outside::Direct,
            ("always", tool) => Outside::SystemdRun(tool.unwrap_or_else(|| PathBuf::from(SYSTEMD_RUN[0]))),
            (_, Some(tool))
                if std::env::var_os("INVOCATION_ID").is_some()
                    && Path::new("/run/systemd/system").is_dir()
                    // /proc/self belongs to the effective user.
                    && std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) =>
            {
                Outside::SystemdRun(tool)
            }
            _ => Outside::Direct,
        }
    }

    /// The argv that starts `command` this way, and the transient unit's name when there is one.
    /// `tag` makes the unit name unique (proxwatch's start time and the session id).
    pub fn wrap(&self, command: &[String], tag: &str, user: &str) -> (Vec<String>, Option<String>) {
        match self {
            Outside::Direct => (command.to_vec(), None),
            Outside::SystemdRun(tool) => {
                let unit = format!("proxwatch-terminal-{tag}.service");
                // The login name is proxwatch's own (validated at creation), yet keep the
                // description to plain characters.
                let who: String = user
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || "._@-".contains(*c))
                    .take(64)
                    .collect();
                let mut argv = vec![
                    tool.display().to_string(),
                    "--quiet".into(),
                    "--pty".into(),
                    "--collect".into(),
                    format!("--unit={unit}"),
                    format!("--description=proxwatch root terminal of {who}"),
                    // A login environment: HOME, USER, LOGNAME and SHELL as for a root login, in /root.
                    "--uid=root".into(),
                    "--property=WorkingDirectory=~".into(),
                    // On stop, the shell gets SIGHUP like a hung-up terminal, then SIGTERM/SIGKILL.
                    "--property=SendSIGHUP=yes".into(),
                    "--".into(),
                ];
                argv.extend(command.iter().cloned());
                (argv, Some(unit))
            }
        }
    }
}

/// Like [`spawn_pty`]; `unit` is the transient unit the command starts (see [`Outside::wrap`]),
/// which ending the session stops too.
pub fn spawn_pty_in(
    argv: &[String],
    cols: u16,
    rows: u16,
    unit: Option<String>,
) -> anyhow::Result<PtySession> {
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
    Ok(PtySession { pid, master: pair.master, child: Some(child), killer, unit })
}

impl PtySession {
    /// Whether the command runs as a transient unit (`systemd-run --pty`).
    pub fn in_unit(&self) -> bool {
        self.unit.is_some()
    }

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
        SessionKiller { leader: self.pid, child: self.killer.clone_killer(), unit: self.unit.clone() }
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
    /// The transient unit the session runs in, stopped at the end (what outlived the hang-up, such
    /// as a `nohup` job, ends with it).
    unit: Option<String>,
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
        self.stop_unit();
    }

    /// `systemctl stop --no-block UNIT` (bounded: it only queues the job), for a session that ran
    /// as a transient unit.
    fn stop_unit(&self) {
        let Some(unit) = &self.unit else { return };
        #[allow(clippy::disallowed_methods)] // host/ is the one door to processes
        let child = std::process::Command::new("systemctl")
            .args(["stop", "--no-block", "--", unit])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        let Ok(mut child) = child else { return };
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    tracing::warn!(unit, "systemctl stop of the terminal's unit did not return in 5 s");
                    return;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            }
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
    fn a_session_outside_the_sandbox_is_a_transient_unit_with_a_login_environment() {
        let cmd = vec!["/bin/bash".to_string(), "-l".to_string()];
        assert_eq!(Outside::Direct.wrap(&cmd, "1-2", "root"), (cmd.clone(), None));
        let (argv, unit) =
            Outside::SystemdRun("/usr/bin/systemd-run".into()).wrap(&cmd, "1700000000-7", "ad min;x");
        assert_eq!(unit.as_deref(), Some("proxwatch-terminal-1700000000-7.service"));
        assert_eq!(argv[0], "/usr/bin/systemd-run");
        assert!(argv.contains(&"--pty".to_string()) && argv.contains(&"--uid=root".to_string()));
        assert!(argv.contains(&"--unit=proxwatch-terminal-1700000000-7.service".to_string()));
        assert!(argv.contains(&"--description=proxwatch root terminal of adminx".to_string()), "{argv:?}");
        // The command follows `--`, unchanged.
        let dashes = argv.iter().position(|a| a == "--").unwrap();
        assert_eq!(&argv[dashes + 1..], &cmd[..]);
        assert_eq!(Outside::detect("never"), Outside::Direct);
        assert!(matches!(Outside::detect("always"), Outside::SystemdRun(_)));
    }

    #[test]
    fn stat_ids_survive_odd_command_names() {
        let text = "4242 (a) b (c) S 4200 4242 4100 34816 4242 4194560 1 2 3 4 5 6 7 8 20 0 1 0 99 0 0\n";
        assert_eq!(parse_stat_ids(text), Some(StatIds { state: 'S', pgrp: 4242, session: 4100 }));
        assert_eq!(parse_stat_ids("4242 (sleep"), None);
        assert_eq!(parse_stat_ids("4242 (sleep) Z"), None);
    }
}
