//! Pending updates from `apt-get -s dist-upgrade` (a simulation: it changes nothing and never
//! refreshes the package lists — proxwatch never runs `apt-get update`). Each `Inst` line names a
//! package, its installed version in brackets (absent for a new package) and, in parentheses, the
//! candidate version with the origins that carry it (`Debian-Security:12/stable-security`).

use serde::Serialize;

use crate::host::{Host, ToolError};

const WHAT: &str = "apt-get -s dist-upgrade";

pub fn argv() -> [&'static str; 3] {
    ["apt-get", "-s", "dist-upgrade"]
}

/// One package the upgrade would install or replace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pending {
    pub name: String,
    /// `None` for a package that is new (e.g. a new kernel).
    pub installed: Option<String>,
    pub candidate: String,
    /// The `Origin:Version/suite` entries, e.g. `Debian-Security:12/oldstable-security`.
    pub origins: Vec<String>,
    pub security: bool,
    /// Part of the Proxmox VE stack (`pve-*`, `proxmox-*`, `qemu-server`, kernels).
    pub pve: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Upgrade {
    pub packages: Vec<Pending>,
    pub security: usize,
    pub pve: usize,
    /// A new kernel package would be installed (a reboot follows the upgrade).
    pub new_kernel: bool,
}

/// Whether a package belongs to the Proxmox VE stack.
pub fn is_pve_package(name: &str) -> bool {
    name.starts_with("pve-") || name.starts_with("proxmox-") || name == "qemu-server"
}

fn is_kernel(name: &str) -> bool {
    name.starts_with("proxmox-kernel-") || name.starts_with("pve-kernel-") || name.starts_with("linux-image-")
}

/// Parses the simulation's output; lines other than `Inst` are ignored.
pub fn parse(text: &str) -> Result<Upgrade, ToolError> {
    let mut up = Upgrade::default();
    for (i, line) in text.lines().enumerate() {
        let Some(rest) = line.strip_prefix("Inst ") else { continue };
        let err = |m: &str| ToolError::parse(WHAT, i + 1, line, m);
        let (name, rest) = rest.split_once(' ').ok_or_else(|| err("no version after the package name"))?;
        let rest = rest.trim_start();
        let (installed, rest) = match rest.strip_prefix('[') {
            Some(r) => {
                let (v, r) = r.split_once(']').ok_or_else(|| err("unclosed `[` of the installed version"))?;
                (Some(v.to_string()), r.trim_start())
            }
            None => (None, rest),
        };
        let inner = rest.strip_prefix('(').ok_or_else(|| err("expected `(candidate origins [arch])`"))?;
        let end = inner.find(')').ok_or_else(|| err("unclosed `(`"))?;
        let inner = &inner[..end];
        // `1.2-3 Debian:12.15/oldstable, Debian-Security:12/oldstable-security [amd64]`
        let inner = match inner.rfind(" [") {
            Some(p) => &inner[..p],
            None => inner,
        };
        let (candidate, origins) = inner.split_once(' ').unwrap_or((inner, ""));
        if candidate.is_empty() {
            return Err(err("empty candidate version"));
        }
        let origins: Vec<String> =
            origins.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect();
        let security = origins.iter().any(|o| o.to_ascii_lowercase().contains("-security"));
        let pve = is_pve_package(name);
        if installed.is_none() && is_kernel(name) {
            up.new_kernel = true;
        }
        up.security += usize::from(security);
        up.pve += usize::from(pve);
        up.packages.push(Pending {
            name: name.to_string(),
            installed,
            candidate: candidate.to_string(),
            origins,
            security,
            pve,
        });
    }
    Ok(up)
}

/// Runs the simulation. apt's lock being held (another apt run) exits 100: reported as a failure so
/// the caller keeps its last answer.
pub async fn pending(host: &Host) -> Result<Upgrade, ToolError> {
    let out = host.run_ok(&argv()).await?;
    parse(&out)
}

#[cfg(test)]
mod tests {
    // Tests read their fixtures and run their scripted peers directly (clippy.toml bans it elsewhere).
    #![allow(clippy::disallowed_methods)]

    use super::*;

    const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/upstream/apt");

    #[test]
    fn debian_fixture_counts_security_updates() {
        let text = std::fs::read_to_string(format!("{FIX}/local_debian12_apt-get_-s_upgrade.txt")).unwrap();
        let up = parse(&text).unwrap();
        assert_eq!(up.packages.len(), 122, "the summary says 122 upgraded");
        let bash = up.packages.iter().find(|p| p.name == "bash").unwrap();
        assert_eq!(bash.installed.as_deref(), Some("5.2.15-2+b8"));
        assert_eq!(bash.candidate, "5.2.15-2+b13");
        assert!(!bash.security);
        let lzma = up.packages.iter().find(|p| p.name == "liblzma5").unwrap();
        assert!(lzma.security, "{lzma:?}");
        let expected =
            up.packages.iter().filter(|p| p.origins.iter().any(|o| o.contains("security"))).count();
        assert_eq!(up.security, expected);
        assert!(up.security > 30 && up.security < 122, "{}", up.security);
        assert_eq!(up.pve, 0);
        assert!(!up.new_kernel);
    }

    #[test]
    fn demo_fixture_counts_pve_packages_and_the_new_kernel() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scenarios/demo/commands/apt-get_-s_dist-upgrade.txt"
        ))
        .unwrap();
        let up = parse(&text).unwrap();
        assert!(up.new_kernel);
        let k = up.packages.iter().find(|p| p.name == "proxmox-kernel-6.8.12-1-pve-signed").unwrap();
        assert_eq!(k.installed, None);
        assert!(up.packages.iter().any(|p| p.name == "pve-manager" && p.pve));
        assert!(up.packages.iter().any(|p| p.name == "qemu-server" && p.pve));
        assert!(!up.packages.iter().any(|p| p.name == "zfs-zed" && p.pve));
        assert!(up.pve >= 6, "{}", up.pve);
    }

    #[test]
    fn a_malformed_line_is_named() {
        let err = parse("Inst foo [1.0 (2.0 Debian:12/stable [amd64])\n").unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
        assert_eq!(parse("nothing to do\n").unwrap(), Upgrade::default());
    }
}
