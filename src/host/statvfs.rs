//! Filesystem capacity through statvfs(3), for [`super::Host::statvfs`].
//!
//! On a live host the call runs on tokio's blocking pool under a timeout: statvfs on a hard-mounted
//! NFS export whose server is gone blocks in the kernel (uninterruptibly) until the server returns,
//! so a timeout is reported as [`ToolError::Timeout`] — the mount is *stale*. The blocked thread
//! cannot be cancelled; while it is still stuck, further calls for the same path answer `Timeout` at
//! once instead of parking another thread, so one dead server costs one thread, not one per cycle.
//!
//! A replayed host answers from the scenario's `statvfs.toml`: one table per mount point with sizes
//! in bytes, or `stale = true`.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;

use super::ToolError;

/// What statvfs says about a filesystem, in bytes and inodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FsStat {
    /// Total size (`f_blocks × f_frsize`).
    pub size: u64,
    /// Free, reserved blocks included (`f_bfree`).
    pub free: u64,
    /// Free to unprivileged users (`f_bavail`): what `df` calls Avail.
    pub avail: u64,
    /// Inodes in total and free (0 and 0 on filesystems without a fixed inode table: btrfs, vfat).
    pub files: u64,
    pub files_free: u64,
    /// `ST_RDONLY` is set.
    pub readonly: bool,
}

impl FsStat {
    /// Used space as `df` computes Use%: used ÷ (used + avail), so root-reserved blocks count as
    /// unavailable.
    pub fn used_pct(&self) -> f64 {
        let used = self.size.saturating_sub(self.free);
        let denom = used + self.avail;
        if denom == 0 { 0.0 } else { used as f64 * 100.0 / denom as f64 }
    }
    pub fn used(&self) -> u64 {
        self.size.saturating_sub(self.free)
    }
    pub fn inodes_used_pct(&self) -> Option<f64> {
        (self.files > 0)
            .then(|| self.files.saturating_sub(self.files_free) as f64 * 100.0 / self.files as f64)
    }
}

/// Paths whose statvfs has not returned yet (shared with the blocking threads).
pub(super) type Busy = Arc<Mutex<HashSet<String>>>;

fn tool(path: &str) -> String {
    format!("statvfs {path}")
}

pub(super) async fn live(path: &str, timeout: Duration, busy: &Busy) -> Result<FsStat, ToolError> {
    {
        let mut b = busy.lock().unwrap_or_else(|e| e.into_inner());
        if !b.insert(path.to_string()) {
            // The previous call is still blocked in the kernel.
            return Err(ToolError::Timeout { tool: tool(path), after: timeout });
        }
    }
    let (p, busy2) = (path.to_string(), busy.clone());
    let task = tokio::task::spawn_blocking(move || {
        let r = nix::sys::statvfs::statvfs(p.as_str());
        busy2.lock().unwrap_or_else(|e| e.into_inner()).remove(&p);
        r
    });
    match tokio::time::timeout(timeout, task).await {
        Err(_) => Err(ToolError::Timeout { tool: tool(path), after: timeout }),
        Ok(Err(join)) => Err(ToolError::Failed { tool: tool(path), code: None, stderr: join.to_string() }),
        Ok(Ok(Err(nix::errno::Errno::ENOENT))) => Err(ToolError::Missing { what: path.to_string() }),
        Ok(Ok(Err(errno))) => Err(ToolError::Failed {
            tool: tool(path),
            code: Some(errno as i32),
            stderr: errno.desc().to_string(),
        }),
        // fsblkcnt_t and fsfilcnt_t are 64-bit on the 64-bit Linux targets proxwatch ships for.
        Ok(Ok(Ok(st))) => {
            let frsize = st.fragment_size();
            Ok(FsStat {
                size: st.blocks() * frsize,
                free: st.blocks_free() * frsize,
                avail: st.blocks_available() * frsize,
                files: st.files(),
                files_free: st.files_free(),
                readonly: st.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY),
            })
        }
    }
}

/// The errno values that mean "the server behind this mount is gone" rather than a local problem:
/// ESTALE (NFS file handle no longer valid), ENOTCONN (CIFS/FUSE transport closed), EHOSTDOWN,
/// ETIMEDOUT (soft NFS mounts give up with it). EIO is left out: it is a local disk error.
pub fn is_stale_errno(code: i32) -> bool {
    use nix::errno::Errno;
    [Errno::ESTALE, Errno::ENOTCONN, Errno::EHOSTDOWN, Errno::ETIMEDOUT].iter().any(|e| *e as i32 == code)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Recorded {
    #[serde(default)]
    size: u64,
    #[serde(default)]
    free: Option<u64>,
    #[serde(default)]
    avail: u64,
    #[serde(default)]
    files: u64,
    #[serde(default)]
    files_free: u64,
    #[serde(default)]
    readonly: bool,
    #[serde(default)]
    stale: bool,
}

/// Answers from `<scenario>/statvfs.toml`; a path it lacks is an error naming it (tests fail
/// loudly), a missing file is [`ToolError::Missing`].
pub(super) fn replay(dir: &Path, scenario: &str, path: &str, timeout: Duration) -> Result<FsStat, ToolError> {
    let file = dir.join("statvfs.toml");
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ToolError::Missing { what: format!("{scenario}/statvfs.toml") });
        }
        Err(e) => return Err(ToolError::Io { path: file.display().to_string(), source: e }),
    };
    let table: HashMap<String, Recorded> = toml::from_str(&text).map_err(|e| {
        let line = e.span().map(|s| text[..s.start].lines().count().max(1)).unwrap_or(0);
        let at = text.lines().nth(line.saturating_sub(1)).unwrap_or("");
        ToolError::parse("statvfs.toml", line, at, e.message())
    })?;
    let Some(r) = table.get(path) else {
        return Err(ToolError::Unrecorded {
            scenario: scenario.to_string(),
            argv: vec!["statvfs".into(), path.into()],
        });
    };
    if r.stale {
        return Err(ToolError::Timeout { tool: tool(path), after: timeout });
    }
    Ok(FsStat {
        size: r.size,
        free: r.free.unwrap_or(r.avail),
        avail: r.avail,
        files: r.files,
        files_free: r.files_free,
        readonly: r.readonly,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn live_root_answers_and_a_missing_path_is_missing() {
        let busy = Busy::default();
        let st = live("/", Duration::from_secs(5), &busy).await.unwrap();
        assert!(st.size > 0 && st.avail <= st.size, "{st:?}");
        let p = st.used_pct();
        assert!((0.0..=100.0).contains(&p), "{p}");
        assert!(busy.lock().unwrap().is_empty(), "the path is released once answered");
        let e = live("/proxwatch-no-such-dir", Duration::from_secs(5), &busy).await.unwrap_err();
        assert!(e.is_missing(), "{e}");
    }

    #[tokio::test]
    async fn a_path_still_blocked_answers_timeout_at_once() {
        let busy = Busy::default();
        busy.lock().unwrap().insert("/mnt/pve/dead".into());
        let e = live("/mnt/pve/dead", Duration::from_secs(5), &busy).await.unwrap_err();
        assert!(matches!(e, ToolError::Timeout { .. }), "{e}");
        assert!(busy.lock().unwrap().contains("/mnt/pve/dead"), "still owned by the stuck call");
    }

    #[test]
    fn replay_sizes_stale_and_unrecorded() {
        let dir = tempfile::tempdir().unwrap();
        let t = Duration::from_secs(2);
        assert!(replay(dir.path(), "s", "/", t).unwrap_err().is_missing());
        std::fs::write(
            dir.path().join("statvfs.toml"),
            "[\"/\"]\nsize = 1000\nfree = 300\navail = 200\nfiles = 100\nfiles_free = 5\n[\"/mnt/pve/nfs\"]\nstale = true\n",
        )
        .unwrap();
        let st = replay(dir.path(), "s", "/", t).unwrap();
        assert_eq!((st.used(), st.inodes_used_pct()), (700, Some(95.0)));
        assert!((st.used_pct() - 700.0 * 100.0 / 900.0).abs() < 1e-9);
        assert!(matches!(replay(dir.path(), "s", "/mnt/pve/nfs", t), Err(ToolError::Timeout { .. })));
        let e = replay(dir.path(), "s", "/boot", t).unwrap_err();
        assert!(e.to_string().contains("/boot"), "{e}");
        std::fs::write(dir.path().join("statvfs.toml"), "[\"/\"]\nsize = \"big\"\n").unwrap();
        let e = replay(dir.path(), "s", "/", t).unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
    }

    #[test]
    fn stale_errnos() {
        assert!(is_stale_errno(nix::errno::Errno::ESTALE as i32));
        assert!(is_stale_errno(nix::errno::Errno::ENOTCONN as i32));
        assert!(!is_stale_errno(nix::errno::Errno::EIO as i32));
    }
}
