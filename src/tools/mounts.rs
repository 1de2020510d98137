//! Host filesystems for the health monitor: `/proc/self/mountinfo` (proc(5)), `/etc/fstab` and
//! Proxmox's `/etc/pve/storage.cfg`, parsed without I/O, and [`select`], which keeps the mounts worth
//! checking: real filesystems only (no proc/sysfs/tmpfs/cgroup…), no bind-mount duplicates, no
//! container- or guest-internal paths, at most a bounded number.
//!
//! mountinfo is used rather than `/proc/mounts` because it tells a bind mount of a subdirectory
//! (field 4, `root`, is not `/`) from the filesystem itself, and it carries both the per-mount and
//! the superblock options: an ext4 that hit an error with `errors=remount-ro` shows `ro` in the
//! superblock options while the mount options may still say `rw` (fs/ext4/super.c,
//! `ext4_handle_error`), so both are read.

use std::collections::HashMap;

use crate::host::ToolError;

pub const MOUNTINFO: &str = "/proc/self/mountinfo";
pub const FSTAB: &str = "/etc/fstab";
pub const STORAGE_CFG: &str = "/etc/pve/storage.cfg";

/// One line of mountinfo.
#[derive(Debug, Clone, PartialEq)]
pub struct Mount {
    pub id: u32,
    pub parent: u32,
    /// `major:minor` of the filesystem; bind mounts of one filesystem share it.
    pub dev: String,
    /// The directory of the filesystem mounted here (`/` unless this is a bind of a subdirectory).
    pub root: String,
    pub mountpoint: String,
    pub options: Vec<String>,
    pub fstype: String,
    pub source: String,
    pub super_options: Vec<String>,
}

impl Mount {
    /// Mounted read-only, per mount or in the superblock (see the module comment).
    pub fn readonly(&self) -> bool {
        self.options.iter().chain(&self.super_options).any(|o| o == "ro")
    }

    /// A network filesystem, whose server can go away and leave the mount stale.
    pub fn is_network(&self) -> bool {
        NETWORK_FS.contains(&self.fstype.as_str())
    }

    /// `NFS`, `CIFS`, … for reasons.
    pub fn kind_label(&self) -> String {
        match self.fstype.as_str() {
            "nfs" | "nfs4" => "NFS".into(),
            "cifs" | "smb3" | "smbfs" => "CIFS".into(),
            other => other.to_string(),
        }
    }
}

/// Kernel and virtual filesystems: nothing to fill up or go read-only. `fuse` is Proxmox's pmxcfs
/// (`/etc/pve`, a fixed 128 MiB database image), `fuse.lxcfs` LXCFS; squashfs/erofs are images
/// (snaps) that are full and read-only by design; overlay is a container's root.
const PSEUDO_FS: &[&str] = &[
    "proc",
    "sysfs",
    "devtmpfs",
    "devpts",
    "tmpfs",
    "ramfs",
    "securityfs",
    "cgroup",
    "cgroup2",
    "pstore",
    "efivarfs",
    "bpf",
    "autofs",
    "mqueue",
    "hugetlbfs",
    "debugfs",
    "tracefs",
    "fusectl",
    "configfs",
    "rpc_pipefs",
    "nfsd",
    "nsfs",
    "binfmt_misc",
    "overlay",
    "squashfs",
    "erofs",
    "fuse",
    "fuse.lxcfs",
    "fuse.gvfsd-fuse",
    "fuse.portal",
    "fuse.snapfuse",
    "selinuxfs",
    "zonefs",
];

pub const NETWORK_FS: &[&str] = &[
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "smbfs",
    "ceph",
    "glusterfs",
    "fuse.glusterfs",
    "fuse.sshfs",
    "fuse.rclone",
];

/// Read-only by nature: optical images and UDF media.
const READONLY_FS: &[&str] = &["iso9660", "udf"];

/// Mount points under these belong to the kernel, containers or guests, not to the host's storage:
/// a CT's root seen from the host, Docker/Podman layers, vzdump's temporary snapshot mounts
/// (`/mnt/vzsnap0`, PVE's `PVE::VZDump::LXC`), per-user runtime dirs.
const SKIP_PREFIXES: &[&str] = &[
    "/proc/",
    "/sys/",
    "/dev/",
    "/run/",
    "/var/lib/lxc/",
    "/var/lib/lxcfs",
    "/var/lib/docker/",
    "/var/lib/containers/",
    "/var/lib/kubelet/",
    "/snap/",
    "/mnt/vzsnap",
];

/// Decodes mountinfo's and fstab's octal escapes (`\040` space, `\011` tab, `\012` newline,
/// `\134` backslash).
pub fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            let v = (b[i + 1] - b'0') as u32 * 64 + (b[i + 2] - b'0') as u32 * 8 + (b[i + 3] - b'0') as u32;
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn opts(s: &str) -> Vec<String> {
    s.split(',').filter(|o| !o.is_empty()).map(str::to_string).collect()
}

/// Parses `/proc/<pid>/mountinfo`:
/// `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue`
/// (optional fields up to the `-` separator).
pub fn parse_mountinfo(text: &str) -> Result<Vec<Mount>, ToolError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let err = |m: &str| ToolError::parse(MOUNTINFO, i + 1, line, m);
        let fields: Vec<&str> = line.split(' ').collect();
        let sep = fields.iter().position(|f| *f == "-").ok_or_else(|| err("no ' - ' separator"))?;
        if sep < 6 || fields.len() < sep + 3 {
            return Err(err("too few fields"));
        }
        let num = |s: &str, what: &str| s.parse::<u32>().map_err(|_| err(&format!("{what} is not a number")));
        if !fields[2].contains(':') {
            return Err(err("field 3 is not major:minor"));
        }
        out.push(Mount {
            id: num(fields[0], "mount id")?,
            parent: num(fields[1], "parent id")?,
            dev: fields[2].to_string(),
            root: unescape(fields[3]),
            mountpoint: unescape(fields[4]),
            options: opts(fields[5]),
            fstype: fields[sep + 1].to_string(),
            source: unescape(fields[sep + 2]),
            super_options: fields.get(sep + 3).map(|s| opts(s)).unwrap_or_default(),
        });
    }
    Ok(out)
}

/// One `/etc/fstab` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct FstabEntry {
    pub spec: String,
    pub file: String,
    pub fstype: String,
    pub options: Vec<String>,
}

/// Parses `/etc/fstab` leniently (a malformed line is skipped: fstab is advice here, not truth).
pub fn parse_fstab(text: &str) -> Vec<FstabEntry> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 3).then(|| FstabEntry {
                spec: unescape(f[0]),
                file: unescape(f[1]),
                fstype: f[2].to_string(),
                options: f.get(3).map(|o| opts(o)).unwrap_or_default(),
            })
        })
        .collect()
}

/// A storage of `/etc/pve/storage.cfg` and the directory it lives in, when it has one.
#[derive(Debug, Clone, PartialEq)]
pub struct StorageDir {
    pub id: String,
    pub kind: String,
    pub path: String,
}

/// Storage types that PVE mounts itself, under `/mnt/pve/<id>` unless `path` says otherwise
/// (`PVE::Storage::NFSPlugin` & co.).
const MOUNTED_BY_PVE: &[&str] = &["nfs", "cifs", "cephfs", "glusterfs"];

/// Parses Proxmox's `storage.cfg` (`<type>: <id>` headers, indented `key value` lines) into the
/// directories of its storages: `path`, a zfspool's `mountpoint`, or `/mnt/pve/<id>` for the types
/// PVE mounts itself.
pub fn parse_storage_cfg(text: &str) -> Vec<StorageDir> {
    let mut out = Vec::new();
    let mut cur: Option<(String, String, Option<String>)> = None;
    let mut flush = |cur: &mut Option<(String, String, Option<String>)>| {
        if let Some((kind, id, path)) = cur.take() {
            let path =
                path.or_else(|| MOUNTED_BY_PVE.contains(&kind.as_str()).then(|| format!("/mnt/pve/{id}")));
            if let Some(path) = path {
                out.push(StorageDir { id, kind, path });
            }
        }
    };
    for line in text.lines() {
        let t = line.trim_end();
        if t.trim().is_empty() || t.trim_start().starts_with('#') {
            continue;
        }
        if !line.starts_with(char::is_whitespace) {
            flush(&mut cur);
            if let Some((kind, id)) = t.split_once(':') {
                cur = Some((kind.trim().to_string(), id.trim().to_string(), None));
            }
            continue;
        }
        let t = t.trim();
        let (key, value) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
        if let Some((_, _, path)) = cur.as_mut() {
            if key == "path" || (key == "mountpoint" && path.is_none()) {
                *path = Some(value.trim().to_string());
            }
        }
    }
    flush(&mut cur);
    out
}

/// The PVE storage living at `mountpoint`: its directory is the mount point or inside it (never `/`,
/// which would claim every directory storage on the root filesystem).
pub fn storage_at<'a>(storages: &'a [StorageDir], mountpoint: &str) -> Option<&'a StorageDir> {
    let exact = storages.iter().find(|s| s.path.trim_end_matches('/') == mountpoint);
    exact.or_else(|| {
        (mountpoint != "/").then_some(())?;
        let prefix = format!("{}/", mountpoint.trim_end_matches('/'));
        storages.iter().find(|s| s.path.starts_with(&prefix))
    })
}

/// Whether `m` is read-only on purpose: optical media, the EFI system partition (some mount it
/// `ro` and remount for updates), or `ro` in fstab.
pub fn expected_readonly(m: &Mount, fstab: &[FstabEntry]) -> bool {
    READONLY_FS.contains(&m.fstype.as_str())
        || m.mountpoint == "/boot/efi"
        || m.mountpoint == "/efi"
        || fstab.iter().any(|e| e.file == m.mountpoint && e.options.iter().any(|o| o == "ro"))
}

/// Why [`select`] left a mount out (for tests and the debug log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    Pseudo,
    InternalPath,
    BindDuplicate,
    OverBound,
}

/// The mounts worth checking, in mountinfo order, and what was left out and why.
#[derive(Debug, Default)]
pub struct Selection<'a> {
    pub mounts: Vec<&'a Mount>,
    pub skipped: Vec<(&'a Mount, Skip)>,
}

impl Selection<'_> {
    pub fn omitted(&self) -> usize {
        self.skipped.iter().filter(|(_, s)| *s == Skip::OverBound).count()
    }
}

/// A mount point of a CT volume on the host (`…/subvol-200-disk-0`, `basevol-…`): its usage is the
/// container's root disk, checked per guest.
fn is_guest_volume(mountpoint: &str) -> bool {
    let last = mountpoint.rsplit('/').next().unwrap_or("");
    let mut parts = last.split('-');
    matches!(parts.next(), Some("subvol" | "basevol"))
        && parts.next().is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
        && parts.next() == Some("disk")
}

/// Keeps real filesystems of the host: pseudo filesystems, container/guest-internal paths and bind
/// duplicates (the same `dev` seen again, a mount of its whole root preferred) are skipped; at most
/// `max` mounts are kept.
pub fn select(all: &[Mount], max: usize) -> Selection<'_> {
    let mut sel = Selection::default();
    // Per device, the mount that represents it: the first mounting its whole root, else the first.
    let mut owner: HashMap<&str, usize> = HashMap::new();
    for (i, m) in all.iter().enumerate() {
        match owner.get(m.dev.as_str()) {
            Some(&j) if !(all[j].root != "/" && m.root == "/") => {}
            _ => {
                owner.insert(&m.dev, i);
            }
        }
    }
    for (i, m) in all.iter().enumerate() {
        let skip = if PSEUDO_FS.contains(&m.fstype.as_str()) {
            Some(Skip::Pseudo)
        } else if m.mountpoint != "/"
            && (SKIP_PREFIXES
                .iter()
                .any(|p| m.mountpoint.starts_with(p) || m.mountpoint == p.trim_end_matches('/'))
                || is_guest_volume(&m.mountpoint))
        {
            Some(Skip::InternalPath)
        } else if owner.get(m.dev.as_str()) != Some(&i) {
            Some(Skip::BindDuplicate)
        } else if sel.mounts.len() >= max {
            Some(Skip::OverBound)
        } else {
            None
        };
        match skip {
            Some(s) => sel.skipped.push((m, s)),
            None => sel.mounts.push(m),
        }
    }
    sel
}

#[cfg(test)]
mod tests {
    // Tests read their fixtures and run their scripted peers directly (clippy.toml bans it elsewhere).
    #![allow(clippy::disallowed_methods)]

    use super::*;

    fn fixture(name: &str) -> String {
        let p = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/mounts/");
        std::fs::read_to_string(format!("{p}{name}")).unwrap()
    }

    fn points<'a>(sel: &'a Selection<'a>) -> Vec<&'a str> {
        sel.mounts.iter().map(|m| m.mountpoint.as_str()).collect()
    }

    #[test]
    fn this_machines_mountinfo_keeps_only_the_root() {
        let all = parse_mountinfo(&fixture("debian12-vm.mountinfo")).unwrap();
        assert_eq!(all.len(), 21);
        let root = all.iter().find(|m| m.mountpoint == "/").unwrap();
        assert_eq!(
            (root.fstype.as_str(), root.source.as_str(), root.dev.as_str()),
            ("ext4", "/dev/vda", "254:0")
        );
        assert!(!root.readonly());
        let sel = select(&all, 64);
        assert_eq!(points(&sel), ["/"]);
        // /run/netns is a bind of a subdirectory of the root filesystem (same 254:0).
        let netns = sel.skipped.iter().find(|(m, _)| m.mountpoint == "/run/netns").unwrap();
        assert_eq!(netns.0.root, "/run/netns");
        // The read-only tmpfs under /mnt is a pseudo filesystem, not a read-only disk.
        let ro_tmpfs = sel.skipped.iter().find(|(m, _)| m.fstype == "tmpfs" && m.readonly()).unwrap();
        assert_eq!(ro_tmpfs.1, Skip::Pseudo);
    }

    #[test]
    fn proxmox_mounts_selected_with_storages_and_expected_read_only() {
        let all = parse_mountinfo(&fixture("pve8-composed.mountinfo")).unwrap();
        let sel = select(&all, 64);
        assert_eq!(
            points(&sel),
            [
                "/",
                "/boot/efi",
                "/rpool",
                "/rpool/data",
                "/tank",
                "/tank/nextcloud",
                "/mnt/pve/backup-nfs",
                "/mnt/pve/iso-smb",
                "/mnt/data disk",
                "/mnt/archive",
                "/mnt/iso",
            ]
        );
        let why = |p: &str| sel.skipped.iter().find(|(m, _)| m.mountpoint == p).map(|(_, s)| *s);
        assert_eq!(why("/srv/dump"), Some(Skip::BindDuplicate), "bind of /var/lib/vz/dump");
        assert_eq!(why("/rpool/data/subvol-200-disk-0"), Some(Skip::InternalPath));
        assert_eq!(why("/var/lib/lxc/200/rootfs"), Some(Skip::InternalPath));
        assert_eq!(why("/mnt/vzsnap0"), Some(Skip::InternalPath));
        assert_eq!(why("/etc/pve"), Some(Skip::Pseudo), "pmxcfs");
        assert_eq!(why("/var/lib/lxcfs"), Some(Skip::Pseudo));
        assert_eq!(why("/snap/core22/1380"), Some(Skip::Pseudo));
        assert_eq!(why("/var/lib/docker/overlay2/5f1e/merged"), Some(Skip::Pseudo));
        assert_eq!(why("/run/user/0"), Some(Skip::Pseudo));

        let get = |p: &str| all.iter().find(|m| m.mountpoint == p).unwrap();
        let nfs = get("/mnt/pve/backup-nfs");
        assert!(nfs.is_network() && !nfs.readonly());
        assert_eq!((nfs.kind_label().as_str(), nfs.source.as_str()), ("NFS", "192.168.10.20:/export/backup"));
        assert_eq!(get("/mnt/pve/iso-smb").kind_label(), "CIFS");
        // A remount after an error: the superblock says ro, the mount options still rw.
        let data = get("/mnt/data disk");
        assert_eq!(data.options[0], "rw");
        assert!(data.readonly());

        let fstab = parse_fstab(&fixture("pve8-composed.fstab"));
        assert!(!expected_readonly(data, &fstab), "fstab mounts it read-write");
        assert!(expected_readonly(get("/mnt/archive"), &fstab), "ro in fstab");
        assert!(expected_readonly(get("/mnt/iso"), &fstab), "iso9660");
        assert!(get("/mnt/iso").readonly());
        assert!(expected_readonly(get("/boot/efi"), &fstab));
        assert!(!expected_readonly(get("/"), &fstab));

        let storages = parse_storage_cfg(&fixture("pve8-composed.storage.cfg"));
        let ids: Vec<(&str, &str)> = storages.iter().map(|s| (s.id.as_str(), s.path.as_str())).collect();
        assert_eq!(
            ids,
            [
                ("local", "/var/lib/vz"),
                ("tank-ct", "/tank"),
                ("backup-nfs", "/mnt/pve/backup-nfs"),
                ("iso-smb", "/mnt/pve/iso-smb"),
                ("data", "/mnt/data disk/pve"),
            ]
        );
        let at = |p: &str| storage_at(&storages, p).map(|s| s.id.as_str());
        assert_eq!(at("/mnt/pve/backup-nfs"), Some("backup-nfs"));
        assert_eq!(at("/mnt/pve/iso-smb"), Some("iso-smb"), "default /mnt/pve/<id>");
        assert_eq!(at("/mnt/data disk"), Some("data"), "a storage directory inside the mount");
        assert_eq!(at("/tank"), Some("tank-ct"));
        assert_eq!(at("/"), None, "local lives on / but does not own it");
        assert_eq!(at("/mnt/archive"), None);
    }

    #[test]
    fn selection_is_bounded_and_escapes_are_decoded() {
        let all = parse_mountinfo(&fixture("pve8-composed.mountinfo")).unwrap();
        let sel = select(&all, 3);
        assert_eq!(points(&sel), ["/", "/boot/efi", "/rpool"]);
        assert_eq!(sel.omitted(), 8);
        assert_eq!(unescape(r"/mnt/a\040b\011c\134d"), "/mnt/a b\tc\\d");
        assert_eq!(unescape(r"/mnt/trailing\04"), r"/mnt/trailing\04");
    }

    #[test]
    fn malformed_lines_are_named() {
        let err =
            parse_mountinfo("22 28 0:21 / /sys rw - sysfs sysfs rw\n22 28 0:21 / /x rw sysfs\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("line 2") && msg.contains("separator"), "{msg}");
        let err = parse_mountinfo("x 28 0:21 / /sys rw - sysfs sysfs rw\n").unwrap_err();
        assert!(err.to_string().contains("mount id"), "{err}");
        assert!(parse_mountinfo("").unwrap().is_empty());
    }
}
