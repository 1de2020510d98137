//! The one door to the OS (DESIGN.md §3.1). Every process spawn and every read of `/proc`, `/sys` or
//! `/etc` goes through [`Host`], so that the rest of the program can run against a live host or a
//! recorded scenario ([`Runner::Replay`]) and so that timeouts and kill-on-drop are enforced in one place.
//!
//! File reads resolve through an ordered list of *layers*: a live host has one layer (`/`), a replayed
//! scenario has its folder, and the demo has the scenario folder first and the live `/` behind it (its
//! identity comes from the scenario while its vitals are this machine's own `/proc`).

// This module is the one place allowed to build commands; clippy.toml bans it everywhere else.
#![allow(clippy::disallowed_methods)]

pub mod icmp;
pub mod nut;
pub mod pty;
pub mod record;
pub mod replay;
pub mod statvfs;
pub mod timeshift;

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use replay::Scenario;

/// Why a host tool or file could not give us what we asked for.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The tool or file does not exist on this host: a state to report, not a failure.
    #[error("{what} is not available on this host")]
    Missing { what: String },
    #[error("{tool} did not finish within {after:?}")]
    Timeout { tool: String, after: Duration },
    #[error("{tool} failed (exit code {code:?}): {stderr}")]
    Failed { tool: String, code: Option<i32>, stderr: String },
    #[error("cannot parse {what} at line {line}: {message} (line: {text:?})")]
    Parse { what: String, line: usize, text: String, message: String },
    /// A replayed scenario has no recording for this argv; tests must fail loudly on this.
    #[error("replay scenario {scenario} has no recording for argv {argv:?}")]
    Unrecorded { scenario: String, argv: Vec<String> },
    #[error("reading {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

impl ToolError {
    /// Builds a parse error naming the offending line (1-based) of `what`.
    pub fn parse(what: &str, line: usize, text: &str, message: impl Into<String>) -> Self {
        let mut text = text.to_string();
        text.truncate(200);
        ToolError::Parse { what: what.to_string(), line, text, message: message.into() }
    }
    pub fn is_missing(&self) -> bool {
        matches!(self, ToolError::Missing { .. })
    }
}

/// The captured result of a finished command. A non-zero exit is not an error here: several tools
/// (smartctl, sensors, promtool) report findings through their exit status.
#[derive(Debug, Clone)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

#[derive(Debug, Clone)]
pub enum Runner {
    /// Run the real programs on this machine.
    System,
    /// Answer from a recorded scenario.
    Replay(Arc<Scenario>),
}

#[derive(Debug)]
pub struct Host {
    runner: Runner,
    layers: Vec<PathBuf>,
    timeout: Duration,
    max_output: usize,
    spawns: AtomicU64,
    runs: AtomicU64,
    /// Paths whose statvfs is still blocked (see [`statvfs`]).
    statvfs_busy: statvfs::Busy,
}

impl Host {
    /// The live host: real programs, the real filesystem.
    pub fn system(timeout: Duration) -> Self {
        Self::new(Runner::System, vec![PathBuf::from("/")], timeout)
    }

    /// A recorded host: commands and files only from the scenario.
    pub fn replay(scenario: Scenario, timeout: Duration) -> Self {
        let root = scenario.dir.clone();
        Self::new(Runner::Replay(Arc::new(scenario)), vec![root], timeout)
    }

    /// The demo: commands and the files it has from the scenario, everything else (vitals) from `/`.
    pub fn demo(scenario: Scenario, timeout: Duration) -> Self {
        let root = scenario.dir.clone();
        Self::new(Runner::Replay(Arc::new(scenario)), vec![root, PathBuf::from("/")], timeout)
    }

    fn new(runner: Runner, layers: Vec<PathBuf>, timeout: Duration) -> Self {
        Host {
            runner,
            layers,
            timeout,
            max_output: 16 << 20,
            spawns: AtomicU64::new(0),
            runs: AtomicU64::new(0),
            statvfs_busy: statvfs::Busy::default(),
        }
    }

    pub fn runner(&self) -> &Runner {
        &self.runner
    }

    pub fn is_replay(&self) -> bool {
        matches!(self.runner, Runner::Replay(_))
    }

    /// How many processes this host handle has spawned (the benchmark reports spawns per minute).
    pub fn spawn_count(&self) -> u64 {
        self.spawns.load(Ordering::Relaxed)
    }

    /// How many programs were asked for, replayed ones included (on a real host each is a spawn).
    pub fn run_count(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }

    fn resolve(&self, path: &str) -> impl Iterator<Item = PathBuf> + '_ {
        let rel = path.trim_start_matches('/').to_string();
        self.layers.iter().map(move |layer| layer.join(&rel))
    }

    /// Reads a whole text file such as `/proc/stat`. Missing in every layer is [`ToolError::Missing`].
    /// (Kernel pseudo-files answer from memory; no timeout is needed for them.)
    pub fn read(&self, path: &str) -> Result<String, ToolError> {
        let bytes = self.read_bytes(path)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Reads a file as bytes (for `cmdline` and other NUL-separated files).
    pub fn read_bytes(&self, path: &str) -> Result<Vec<u8>, ToolError> {
        for candidate in self.resolve(path) {
            match std::fs::read(&candidate) {
                Ok(b) => return Ok(b),
                Err(e) if e.kind() == ErrorKind::NotFound || e.kind() == ErrorKind::NotADirectory => {}
                Err(e) => return Err(ToolError::Io { path: path.to_string(), source: e }),
            }
        }
        Err(ToolError::Missing { what: path.to_string() })
    }

    /// Reads a file if it exists: `Ok(None)` when it is absent (e.g. `/proc/pressure` on old kernels).
    pub fn read_optional(&self, path: &str) -> Result<Option<String>, ToolError> {
        match self.read(path) {
            Ok(s) => Ok(Some(s)),
            Err(ToolError::Missing { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn exists(&self, path: &str) -> bool {
        self.resolve(path).any(|p| p.exists())
    }

    /// A file's modification time (unix ms) from the first layer that has it; `None` when absent.
    pub fn modified_ms(&self, path: &str) -> Option<i64> {
        self.resolve(path)
            .find_map(|p| std::fs::metadata(p).ok())
            .and_then(|m| m.modified().ok())
            .map(|t| t.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0))
    }

    /// Lists the entry names of a directory, merged over all layers, sorted and deduplicated.
    pub fn list_dir(&self, path: &str) -> Result<Vec<String>, ToolError> {
        let mut names = Vec::new();
        let mut found = false;
        for candidate in self.resolve(path) {
            match std::fs::read_dir(&candidate) {
                Ok(rd) => {
                    found = true;
                    names.extend(
                        rd.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()),
                    );
                }
                Err(e) if e.kind() == ErrorKind::NotFound || e.kind() == ErrorKind::NotADirectory => {}
                Err(e) => return Err(ToolError::Io { path: path.to_string(), source: e }),
            }
        }
        if !found {
            return Err(ToolError::Missing { what: path.to_string() });
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// Runs a program with the default timeout. See [`Host::run_with_timeout`].
    pub async fn run(&self, argv: &[&str]) -> Result<Output, ToolError> {
        self.run_with_timeout(argv, self.timeout).await
    }

    /// Runs a program (no shell), stdin closed, killed when the timeout passes or the future is dropped.
    pub async fn run_with_timeout(&self, argv: &[&str], timeout: Duration) -> Result<Output, ToolError> {
        let Some(program) = argv.first() else {
            return Err(ToolError::Failed { tool: String::new(), code: None, stderr: "empty argv".into() });
        };
        self.runs.fetch_add(1, Ordering::Relaxed);
        match &self.runner {
            Runner::Replay(scenario) => scenario.answer(argv),
            Runner::System => {
                let mut cmd = tokio::process::Command::new(program);
                cmd.args(&argv[1..])
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .env("LC_ALL", "C")
                    .kill_on_drop(true);
                let child = match cmd.spawn() {
                    Ok(c) => c,
                    Err(e) if e.kind() == ErrorKind::NotFound => {
                        return Err(ToolError::Missing { what: (*program).to_string() });
                    }
                    Err(e) => return Err(ToolError::Io { path: (*program).to_string(), source: e }),
                };
                self.spawns.fetch_add(1, Ordering::Relaxed);
                let out = match tokio::time::timeout(timeout, child.wait_with_output()).await {
                    Ok(Ok(out)) => out,
                    Ok(Err(e)) => return Err(ToolError::Io { path: (*program).to_string(), source: e }),
                    Err(_) => {
                        return Err(ToolError::Timeout { tool: (*program).to_string(), after: timeout });
                    }
                };
                let clip =
                    |b: &[u8]| String::from_utf8_lossy(&b[..b.len().min(self.max_output)]).into_owned();
                Ok(Output {
                    // A signal-killed child has no code; report it as -1.
                    code: out.status.code().unwrap_or(-1),
                    stdout: clip(&out.stdout),
                    stderr: clip(&out.stderr),
                })
            }
        }
    }

    /// Runs a program and treats a non-zero exit as [`ToolError::Failed`].
    pub async fn run_ok(&self, argv: &[&str]) -> Result<String, ToolError> {
        let out = self.run(argv).await?;
        if out.code != 0 {
            let mut stderr = out.stderr.trim().to_string();
            stderr.truncate(500);
            return Err(ToolError::Failed { tool: argv.join(" "), code: Some(out.code), stderr });
        }
        Ok(out.stdout)
    }

    /// Sends `count` ICMP echoes to `target` with a native socket ([`icmp`]); a replayed host sends
    /// nothing and answers from the scenario's `icmp.toml` (`seed` varies the replayed jitter).
    pub async fn ping(
        &self,
        target: std::net::IpAddr,
        count: u16,
        timeout: Duration,
        seed: u64,
    ) -> Result<icmp::Probe, ToolError> {
        match &self.runner {
            Runner::Replay(scenario) => icmp::replay(&scenario.dir, target, count, seed),
            Runner::System => icmp::probe(target, count, timeout).await,
        }
    }

    /// Capacity and inodes of the filesystem mounted at `path` (statvfs(3) on the blocking pool; a
    /// call that does not return within `timeout`, e.g. on a dead NFS server, is
    /// [`ToolError::Timeout`]). A replayed host answers from the scenario's `statvfs.toml`.
    pub async fn statvfs(&self, path: &str, timeout: Duration) -> Result<statvfs::FsStat, ToolError> {
        match &self.runner {
            Runner::Replay(scenario) => statvfs::replay(&scenario.dir, &scenario.name, path, timeout),
            Runner::System => statvfs::live(path, timeout, &self.statvfs_busy).await,
        }
    }

    /// The first layer (the scenario folder or `/`), for diagnostics.
    pub fn root(&self) -> &Path {
        self.layers.first().map(PathBuf::as_path).unwrap_or(Path::new("/"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn system_runner_reports_missing_tools_and_exit_codes() {
        let host = Host::system(Duration::from_secs(5));
        let err = host.run(&["proxwatch-no-such-tool-xyz"]).await.unwrap_err();
        assert!(err.is_missing(), "{err}");
        let out = host.run(&["sh", "-c", "echo hi; echo oops >&2; exit 3"]).await.unwrap();
        assert_eq!((out.code, out.stdout.as_str(), out.stderr.as_str()), (3, "hi\n", "oops\n"));
        assert!(matches!(host.run_ok(&["false"]).await, Err(ToolError::Failed { code: Some(1), .. })));
        assert_eq!(host.spawn_count(), 2, "a tool that is not installed was never spawned");
    }

    #[tokio::test]
    async fn system_runner_times_out_and_kills() {
        let host = Host::system(Duration::from_secs(5));
        let err = host.run_with_timeout(&["sleep", "10"], Duration::from_millis(50)).await.unwrap_err();
        assert!(matches!(err, ToolError::Timeout { .. }), "{err}");
    }

    #[test]
    fn layered_reads_prefer_the_first_layer() {
        let top = tempfile::tempdir().unwrap();
        let bottom = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(top.path().join("proc/sys/kernel")).unwrap();
        std::fs::write(top.path().join("proc/sys/kernel/hostname"), "scenario\n").unwrap();
        std::fs::create_dir_all(bottom.path().join("proc/sys/kernel")).unwrap();
        std::fs::write(bottom.path().join("proc/sys/kernel/hostname"), "live\n").unwrap();
        std::fs::write(bottom.path().join("proc/stat"), "cpu 1 2 3 4\n").unwrap();
        let host = Host::new(
            Runner::System,
            vec![top.path().to_path_buf(), bottom.path().to_path_buf()],
            Duration::from_secs(1),
        );
        assert_eq!(host.read("/proc/sys/kernel/hostname").unwrap(), "scenario\n");
        assert_eq!(host.read("/proc/stat").unwrap(), "cpu 1 2 3 4\n");
        assert_eq!(host.list_dir("/proc").unwrap(), vec!["stat".to_string(), "sys".to_string()]);
        assert!(host.read("/proc/nope").unwrap_err().is_missing());
        assert_eq!(host.read_optional("/proc/pressure/cpu").unwrap(), None);
    }
}
