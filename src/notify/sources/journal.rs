//! Journal watchers: each new hit the health facts collector's journal scanner keeps
//! ([`LogHit`], sent on `health::Bus::log_hits`) becomes one event: an OOM kill (`guest.oom`), disk
//! I/O errors (`kernel.io_error`), filesystem errors (`kernel.fs_error`), a PVE daemon crash
//! (`pve.daemon_crash`) or failed logins on the host (`host.login_failed`).
//!
//! The fingerprint is the journal cursor of the (first) line, `journal:<cursor>`, which names one
//! entry for good, so a hit re-read after a restart is the same event. Cooldown keys are per object:
//! the guest, the device, the daemon, the address.

use super::guest_label;
use crate::health::facts::logscan::LogHit;
use crate::model::inventory::Inventory;
use crate::notify::Event;

/// The event of one hit, guests named by their id only (`CT 105`, `VM 104`); see [`event_in`].
pub fn event(hit: &LogHit) -> Option<Event> {
    build(hit, None)
}

/// [`event`] with guests named from the inventory (`104 (ha-app)`).
pub fn event_in(hit: &LogHit, inv: &Inventory) -> Option<Event> {
    build(hit, Some(inv))
}

fn fingerprint(hit: &LogHit, key: &str) -> String {
    match hit.cursor() {
        "" => format!("journal:{key}:{}", hit.ts_ms()),
        c => format!("journal:{c}"),
    }
}

/// A kernel device name the disk page knows (`sdc`, `nvme0n1`, `vda`): ATA ports (`ata3`), NVMe
/// controllers (`nvme0`) and device-mapper nodes (`dm-1`) have no page of their own.
fn disk_page(device: &str) -> Option<String> {
    let is_disk = |prefix: &str| {
        device
            .strip_prefix(prefix)
            .is_some_and(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_lowercase()))
    };
    let nvme_ns = device.strip_prefix("nvme").and_then(|r| r.split_once('n')).is_some_and(|(c, n)| {
        !c.is_empty() && !n.is_empty() && c.chars().chain(n.chars()).all(|x| x.is_ascii_digit())
    });
    (is_disk("sd") || is_disk("vd") || is_disk("hd") || nvme_ns).then(|| format!("/storage/disks/{device}"))
}

fn build(hit: &LogHit, inv: Option<&Inventory>) -> Option<Event> {
    let count = hit.count().to_string();
    Some(match hit {
        LogHit::Oom { guest, guest_kind, process, message, ts_ms, .. } => {
            let (who, key, link) = match guest {
                Some(v) => {
                    let label = match (inv, guest_kind.as_deref()) {
                        (Some(inv), _) => guest_label(inv, *v),
                        (None, Some("lxc")) => format!("CT {v}"),
                        (None, _) => format!("VM {v}"),
                    };
                    (label, v.to_string(), Some(format!("/vms/{v}")))
                }
                None => ("the host".to_string(), format!("host:{process}"), None),
            };
            let ev = Event::new("guest.oom", fingerprint(hit, &key), format!("guest.oom:{key}"), *ts_ms)
                .field("guest", who)
                .field("process", process.clone())
                .field("message", message.clone())
                .field("count", count);
            match link {
                Some(l) => ev.linked(l),
                None => ev,
            }
        }
        LogHit::IoError { device, message, ts_ms, .. } => {
            let ev = Event::new(
                "kernel.io_error",
                fingerprint(hit, device),
                format!("kernel.io_error:{device}"),
                *ts_ms,
            )
            .field("device", device.clone())
            .field("message", message.clone())
            .field("count", count);
            ev.linked(disk_page(device).unwrap_or_else(|| "/storage".to_string()))
        }
        LogHit::FsError { device, message, ts_ms, .. } => {
            let device = if device.is_empty() { "an unnamed device" } else { device.as_str() };
            Event::new(
                "kernel.fs_error",
                fingerprint(hit, device),
                format!("kernel.fs_error:{device}"),
                *ts_ms,
            )
            .field("device", device)
            .field("message", message.clone())
            .field("count", count)
            .linked("/storage")
        }
        LogHit::DaemonCrash { daemon, message, ts_ms, .. } => Event::new(
            "pve.daemon_crash",
            fingerprint(hit, daemon),
            format!("pve.daemon_crash:{daemon}"),
            *ts_ms,
        )
        .field("daemon", daemon.clone())
        .field("message", message.clone())
        .field("count", count)
        .linked("/health"),
        LogHit::LoginFailed { service, user, ip, ts_ms, .. } => {
            // logscan's sources: `ssh` (sshd) and `pve` (pvedaemon/pveproxy, the web UI and API).
            let via = match service.as_str() {
                "ssh" => "SSH",
                "pve" => "the Proxmox VE web UI/API",
                other => other,
            };
            let ip = if ip.is_empty() { "an unknown address" } else { ip.as_str() };
            Event::new("host.login_failed", fingerprint(hit, ip), format!("host.login_failed:{ip}"), *ts_ms)
                .field("service", via)
                .field("user", user.clone())
                .field("ip", ip)
                .field("count", count)
                .linked("/security")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::facts::logscan::LogScanner;
    use crate::model::section::Section;
    use crate::notify::Severity;
    use crate::notify::template::{Detail, render};

    const NOISE: &str = include_str!("../../../tests/fixtures/health/journal_ata_oom_noise.jsonl");
    const PVE1: &str = include_str!(
        "../../../tests/fixtures/upstream/journalctl/generated_pve1_journalctl-252_-o_json.jsonl"
    );

    fn hits(text: &str) -> Vec<LogHit> {
        let mut s = LogScanner::default();
        s.hits_from_ms = Some(0);
        s.feed_text(text);
        s.take_hits()
    }

    #[test]
    fn journal_lines_become_events_per_object() {
        let evs: Vec<Event> = hits(NOISE).iter().filter_map(event).collect();
        let brief: Vec<(&str, &str)> =
            evs.iter().map(|e| (e.kind.as_str(), e.cooldown_key.as_str())).collect();
        assert_eq!(
            brief,
            vec![
                ("kernel.io_error", "kernel.io_error:ata3"),
                ("kernel.io_error", "kernel.io_error:sdc"),
                ("guest.oom", "guest.oom:104"),
                ("host.login_failed", "host.login_failed:203.0.113.45"),
                ("pve.daemon_crash", "pve.daemon_crash:pvestatd"),
                ("kernel.fs_error", "kernel.fs_error:dm-1"),
            ]
        );
        for e in &evs {
            assert!(
                e.fingerprint.starts_with("journal:s=") && e.fingerprint.contains(";i="),
                "{}",
                e.fingerprint
            );
        }
        let fps: std::collections::BTreeSet<&str> = evs.iter().map(|e| e.fingerprint.as_str()).collect();
        assert_eq!(fps.len(), evs.len(), "one cursor per event");

        let sdc = &evs[1];
        assert_eq!(sdc.fields["device"], "sdc");
        assert_eq!(sdc.fields["count"], "4");
        assert_eq!(sdc.link.as_deref(), Some("/storage/disks/sdc"));
        assert_eq!(evs[0].link.as_deref(), Some("/storage"), "an ATA port has no disk page");
        assert_eq!(sdc.ts_ms, 1_732_250_101_000);

        let oom = &evs[2];
        assert_eq!((oom.fields["guest"].as_str(), oom.fields["process"].as_str()), ("VM 104", "kvm"));
        assert_eq!(oom.link.as_deref(), Some("/vms/104"));
        assert_eq!(oom.severity, Severity::Warning);
        let (title, body) = render("guest.oom", "en", Detail::Full, &oom.fields);
        assert_eq!(title, "Out of memory: VM 104");
        assert!(body.starts_with("The kernel killed kvm in VM 104 for lack of memory."), "{body}");
        assert!(body.contains("Log: Out of memory: Killed process 4242 (kvm)"), "{body}");

        let login = &evs[3];
        let (_, body) = render("host.login_failed", "en", Detail::Full, &login.fields);
        assert_eq!(body, "12 failed logins via SSH from 203.0.113.45.\n\nUser: root, admin");

        assert_eq!(evs[4].fields["daemon"], "pvestatd");
        assert_eq!(evs[5].severity, Severity::Critical);
        assert!(evs[5].fields["message"].starts_with("EXT4-fs error (device dm-1)"));
    }

    #[test]
    fn an_oom_in_a_container_is_named_from_the_inventory_and_a_pve_login_by_its_service() {
        let hits = hits(PVE1);
        let oom = hits.iter().find(|h| matches!(h, LogHit::Oom { .. })).unwrap();
        assert_eq!(event(oom).unwrap().fields["guest"], "CT 105");
        let mut inv = Inventory::default();
        let mut resources = Section::default();
        let guests =
            r#"[{"type":"lxc","id":"lxc/105","vmid":105,"name":"tomcat","node":"pve1","status":"running"}]"#;
        resources.ok(crate::tools::pvesh::parse_cluster_resources(guests).unwrap(), 0);
        inv.resources = resources;
        let ev = event_in(oom, &inv).unwrap();
        assert_eq!((ev.fields["guest"].as_str(), ev.fields["process"].as_str()), ("105 (tomcat)", "java"));
        assert_eq!(ev.cooldown_key, "guest.oom:105");
        let login = hits.iter().find(|h| matches!(h, LogHit::LoginFailed { .. })).unwrap();
        let ev = event(login).unwrap();
        assert_eq!(ev.fields["service"], "the Proxmox VE web UI/API");
        assert_eq!(ev.fields["ip"], "198.51.100.23");
        assert_eq!(ev.fields["user"], "root@pam");
        assert_eq!(ev.fields["count"], "1");
        let io = hits.iter().find(|h| matches!(h, LogHit::IoError { .. })).unwrap();
        assert_eq!(event(io).unwrap().link.as_deref(), Some("/storage"), "nvme0 is a controller");
    }

    #[test]
    fn a_host_wide_oom_and_an_entry_without_a_cursor() {
        let hit = LogHit::Oom {
            guest: None,
            guest_kind: None,
            process: "pvestatd".into(),
            message: "Out of memory: Killed process 1502 (pvestatd)".into(),
            count: 1,
            ts_ms: 7,
            cursor: String::new(),
        };
        let ev = event(&hit).unwrap();
        assert_eq!(ev.fields["guest"], "the host");
        assert_eq!(ev.cooldown_key, "guest.oom:host:pvestatd");
        assert_eq!(ev.fingerprint, "journal:host:pvestatd:7");
        assert_eq!(ev.link, None);
        assert_eq!(disk_page("nvme0n1").as_deref(), Some("/storage/disks/nvme0n1"));
        assert_eq!(disk_page("nvme0"), None);
        assert_eq!(disk_page("sdc1"), None);
    }
}
