//! `proxwatch doctor` (issue 16): checks this host for what proxwatch needs and prints one row per
//! check with a verdict and, where something is wrong, the fix. Exit 0 when all pass, 1 with warnings,
//! 2 with failures; `--json` for scripts. Every read and run goes through the host seam, so a replayed
//! scenario answers it as the host it recorded.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::config::Config;
use crate::host::{Host, ToolError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Ok,
    Info,
    Warn,
    Fail,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub check: &'static str,
    pub verdict: Verdict,
    pub detail: String,
    /// What to do about it (absent when nothing needs doing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

fn row(check: &'static str, verdict: Verdict, detail: impl Into<String>, fix: Option<&str>) -> Check {
    Check { check, verdict, detail: detail.into(), fix: fix.map(str::to_string) }
}

/// The first line a tool prints for its version, or why it cannot.
async fn tool_version(host: &Host, argv: &[&str]) -> Result<String, String> {
    match host.run_with_timeout(argv, Duration::from_secs(5)).await {
        Ok(o) => {
            let text = if o.stdout.trim().is_empty() { &o.stderr } else { &o.stdout };
            Ok(text.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim().chars().take(120).collect())
        }
        Err(ToolError::Missing { .. }) => Err("not installed".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// smartctl's major version from `smartctl 7.3 2022-02-28 r5338 [...]`.
pub fn smartctl_major(line: &str) -> Option<u32> {
    line.strip_prefix("smartctl ")?.split(['.', ' ']).next()?.parse().ok()
}

/// Runs every check.
pub async fn run(host: &Host, cfg: &Config, now_s: i64) -> Vec<Check> {
    let mut out = Vec::new();
    // Proxmox VE.
    match crate::workers::inventory::read_pveversion(host) {
        Some(v) => out.push(row("Proxmox VE", Verdict::Ok, v, None)),
        None => out.push(row(
            "Proxmox VE",
            Verdict::Warn,
            "pve-manager is not installed (dpkg's database names none)",
            Some("proxwatch watches a Proxmox VE node; on another host its Proxmox pages stay empty"),
        )),
    }
    let mut fs = crate::workers::clusterfs::ClusterFs::new();
    match fs.refresh(host) {
        Ok(()) => out.push(row(
            "cluster filesystem",
            Verdict::Ok,
            format!("/etc/pve readable: {} guests, {} node(s)", fs.vmlist.len(), fs.members.nodes.len().max(1)),
            None,
        )),
        Err(why) => out.push(row(
            "cluster filesystem",
            Verdict::Warn,
            why,
            Some("is pve-cluster (pmxcfs) running? Without /etc/pve proxwatch falls back to the PVE API or pvesh"),
        )),
    }
    // Tools.
    match tool_version(host, &["smartctl", "--version"]).await {
        Ok(v) if smartctl_major(&v).is_some_and(|m| m >= 7) => {
            out.push(row("smartctl", Verdict::Ok, v, None))
        }
        Ok(v) => out.push(row(
            "smartctl",
            Verdict::Warn,
            v,
            Some("smartctl 7 or later is needed for its JSON output: upgrade smartmontools"),
        )),
        Err(e) => {
            out.push(row("smartctl", Verdict::Warn, e, Some("apt install smartmontools (disk health)")))
        }
    }
    for (name, argv, fix) in [
        ("zpool", &["zpool", "version"][..], "apt install zfsutils-linux (only where ZFS is used)"),
        ("ipmitool", &["ipmitool", "-V"][..], "apt install ipmitool (only on a server with a BMC)"),
        ("upsc", &["upsc", "-V"][..], "apt install nut-client (only with a UPS)"),
    ] {
        match tool_version(host, argv).await {
            Ok(v) => out.push(row(name, Verdict::Ok, v, None)),
            Err(e) => out.push(row(name, Verdict::Info, e, Some(fix))),
        }
    }
    out.push(if host.exists("/dev/ipmi0") {
        row("/dev/ipmi0", Verdict::Ok, "present: IPMI sensors and event log are read", None)
    } else {
        row(
            "/dev/ipmi0",
            Verdict::Info,
            "absent: no BMC, or ipmi_si/ipmi_devintf not loaded",
            Some("modprobe ipmi_si ipmi_devintf (on a server with a BMC)"),
        )
    });
    // NUT.
    for server in &cfg.nut.servers {
        let reached = match tokio::net::lookup_host(server.as_str()).await {
            Ok(mut addrs) => match addrs.next() {
                Some(a) => tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(a))
                    .await
                    .map_err(|_| "no answer within 2 s".to_string())
                    .and_then(|r| r.map(|_| ()).map_err(|e| e.to_string())),
                None => Err("no address".into()),
            },
            Err(e) => Err(e.to_string()),
        };
        out.push(match reached {
            Ok(()) => row("NUT upsd", Verdict::Ok, format!("{server} accepts connections"), None),
            Err(e) => row(
                "NUT upsd",
                Verdict::Info,
                format!("{server}: {e}"),
                Some("no UPS here? set nut.servers = [] in the config; else start nut-server"),
            ),
        });
    }
    // The journal.
    out.push(match tool_version(host, &["journalctl", "--version"]).await {
        Ok(v) => row("journal", Verdict::Ok, v, None),
        Err(e) => row(
            "journal",
            Verdict::Warn,
            format!("journalctl: {e}"),
            Some("the Logs page and the log checks need systemd's journal"),
        ),
    });
    // The PVE API token.
    let data_dir = &cfg.server.data_dir;
    out.push(pve_token(data_dir).await);
    // TLS.
    out.push(if cfg.tls.enabled {
        match crate::tls::load(host, &cfg.tls) {
            Ok(l) => match host
                .read_bytes(&l.cert_path)
                .ok()
                .and_then(|b| crate::tools::cert::parse_pem(&l.cert_path, &b).ok())
            {
                Some(c) => {
                    let days = (c.not_after - now_s) / 86_400;
                    let verdict = if days < 0 {
                        Verdict::Fail
                    } else if days < 14 {
                        Verdict::Warn
                    } else {
                        Verdict::Ok
                    };
                    row(
                        "TLS certificate",
                        verdict,
                        format!("{}: expires in {days} days", l.cert_path),
                        (verdict != Verdict::Ok)
                            .then_some("renew it (pvenode acme cert order, or replace tls.cert)"),
                    )
                }
                None => row("TLS certificate", Verdict::Ok, l.cert_path, None),
            },
            Err(e) => row(
                "TLS certificate",
                Verdict::Fail,
                format!("{e:#}"),
                Some("fix tls.cert / tls.key, or turn tls.enabled off"),
            ),
        }
    } else {
        row(
            "TLS certificate",
            Verdict::Info,
            "TLS is off (plain HTTP)",
            Some("turn on [tls] enabled = true (the Proxmox certificate is used by default)"),
        )
    });
    // The port.
    out.push(port(cfg).await);
    // The clock.
    out.push(match crate::health::facts::time_sync(host).await {
        Ok(t) if t.synchronized => row("clock", Verdict::Ok, format!("synchronised by {}", t.daemon), None),
        Ok(t) => row(
            "clock",
            Verdict::Warn,
            format!("{} reports the clock not synchronised", t.daemon),
            Some("check the time servers (chronyc sources); TOTP codes need a right clock"),
        ),
        Err(e) => row("clock", Verdict::Warn, e.to_string(), Some("install and start chrony")),
    });
    // The data directory and the database.
    out.extend(data(data_dir));
    out
}

async fn pve_token(data_dir: &Path) -> Check {
    let db_path = data_dir.join(crate::backup::DB_FILE);
    if !db_path.is_file() {
        return row("PVE API token", Verdict::Info, "no database yet", Some("proxwatch pve connect"));
    }
    let conn =
        match rusqlite::Connection::open_with_flags(&db_path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY) {
            Ok(c) => c,
            Err(e) => return row("PVE API token", Verdict::Warn, e.to_string(), None),
        };
    let id: Result<String, _> = conn.query_row("SELECT token_id FROM pve_api LIMIT 1", [], |r| r.get(0));
    match id {
        Ok(id) => row("PVE API token", Verdict::Ok, format!("connected as {id}"), None),
        Err(_) => row(
            "PVE API token",
            Verdict::Info,
            "not connected: reads come from the files, guest actions are off",
            Some("proxwatch pve connect [--actions]"),
        ),
    }
}

async fn port(cfg: &Config) -> Check {
    let ip = if cfg.server.bind.is_unspecified() { IpAddr::from([127, 0, 0, 1]) } else { cfg.server.bind };
    let addr = SocketAddr::new(ip, cfg.server.port);
    let taken = matches!(
        tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(addr)).await,
        Ok(Ok(_))
    );
    if !taken {
        return row("port", Verdict::Ok, format!("{addr} is free"), None);
    }
    let inodes: Vec<u64> = crate::host::live_tcp_tables()
        .iter()
        .flat_map(|t| crate::tools::procfs::listening_inodes(t, cfg.server.port))
        .collect();
    let holders = crate::host::socket_holders(&inodes);
    let named: Vec<String> = holders.iter().map(|(pid, comm)| format!("{comm} (pid {pid})")).collect();
    let ours = holders.iter().any(|(_, comm)| comm == "proxwatch");
    match crate::cli::healthcheck(cfg).await {
        Ok(()) => row("port", Verdict::Ok, format!("proxwatch answers on {addr}"), None),
        // With TLS on, the plain-HTTP health check cannot talk to it; the holder's name can.
        Err(_) if ours => row("port", Verdict::Ok, format!("{addr} is held by {}", named.join(", ")), None),
        Err(_) => row(
            "port",
            Verdict::Fail,
            if named.is_empty() {
                format!("{addr} is held by another program (which one is not visible to this user)")
            } else {
                format!("{addr} is held by {}", named.join(", "))
            },
            Some("stop that program, or move proxwatch with server.port"),
        ),
    }
}

fn data(dir: &Path) -> Vec<Check> {
    let mut out = Vec::new();
    let probe = dir.join(".doctor-write-test");
    let writable = std::fs::write(&probe, b"").and_then(|()| std::fs::remove_file(&probe));
    let size: u64 = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()?.metadata().ok()).filter(|m| m.is_file()).map(|m| m.len()).sum())
        .unwrap_or(0);
    out.push(match writable {
        Ok(()) => row(
            "data directory",
            Verdict::Ok,
            format!("{} writable, {} KiB", dir.display(), size / 1024),
            None,
        ),
        Err(e) => row(
            "data directory",
            Verdict::Fail,
            format!("{}: {e}", dir.display()),
            Some("run as root, or point server.data_dir at a writable directory"),
        ),
    });
    let db = dir.join(crate::backup::DB_FILE);
    if db.is_file() {
        let check = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .and_then(|c| c.query_row("PRAGMA quick_check", [], |r| r.get::<_, String>(0)));
        out.push(match check {
            Ok(s) if s == "ok" => row("database", Verdict::Ok, "integrity check passes", None),
            Ok(s) => {
                row("database", Verdict::Fail, s, Some("stop proxwatch and `proxwatch restore` a backup"))
            }
            Err(e) => row(
                "database",
                Verdict::Fail,
                e.to_string(),
                Some("stop proxwatch and `proxwatch restore` a backup"),
            ),
        });
    }
    out
}

/// The table as printed.
pub fn table(checks: &[Check]) -> String {
    let w = checks.iter().map(|c| c.check.len()).max().unwrap_or(5);
    let mut s = String::new();
    for c in checks {
        let mark = match c.verdict {
            Verdict::Ok => "ok  ",
            Verdict::Info => "info",
            Verdict::Warn => "WARN",
            Verdict::Fail => "FAIL",
        };
        s.push_str(&format!("{mark}  {:w$}  {}\n", c.check, c.detail));
        if let Some(f) = &c.fix {
            s.push_str(&format!("      {:w$}  → {f}\n", ""));
        }
    }
    s
}

/// 0 when everything passes (info rows included), 1 with warnings, 2 with failures.
pub fn exit_code(checks: &[Check]) -> u8 {
    match checks.iter().map(|c| c.verdict).max() {
        Some(Verdict::Fail) => 2,
        Some(Verdict::Warn) => 1,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smartctl_versions() {
        assert_eq!(
            smartctl_major("smartctl 7.3 2022-02-28 r5338 [x86_64-linux-6.8.12-4-pve] (local build)"),
            Some(7)
        );
        assert_eq!(
            smartctl_major("smartctl 6.6 2016-05-31 r4324 [x86_64-linux-4.9.0] (local build)"),
            Some(6)
        );
        assert_eq!(smartctl_major("bash: smartctl: not found"), None);
    }

    #[test]
    fn verdicts_make_the_exit_code() {
        let ok = row("a", Verdict::Ok, "", None);
        let info = row("b", Verdict::Info, "", Some("x"));
        let warn = row("c", Verdict::Warn, "", None);
        let fail = row("d", Verdict::Fail, "", None);
        assert_eq!(exit_code(&[ok.clone(), info.clone()]), 0);
        assert_eq!(exit_code(&[ok.clone(), warn.clone(), info]), 1);
        assert_eq!(exit_code(&[warn, fail, ok]), 2);
        let t = table(&[row("port", Verdict::Fail, "held", Some("move it"))]);
        assert_eq!(t, "FAIL  port  held\n            → move it\n");
    }
}
