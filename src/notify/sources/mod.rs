//! The event sources: pure-as-possible functions that turn what proxwatch already reads into
//! [`Event`](super::Event)s for the engine. Each gives every occurrence a stable `fingerprint` (the same
//! occurrence seen again after a restart, a re-read or a retry has the same one, and the engine's
//! UNIQUE column takes it once) and a `cooldown_key` naming the condition (`guest.oom:101`), so
//! repeats of one condition are counted rather than sent.
//!
//! - [`tasks`]: Proxmox tasks (backups, guest start/stop/migrate) and replication state from the
//!   inventory snapshot; a [`tasks::TaskWatch`] keeps its baseline between steps.
//! - [`journal`]: the health facts collector's journal hits ([`crate::health::facts::logscan::LogHit`]).
//! - [`monitors`]: the service monitors' `monitor_events` table, read past a stored row id.
//! - [`security`]: proxwatch's own `auth_events` table, read past a stored row id.
//! - [`system`]: proxwatch's lifecycle (unclean stop, host reboot) with a marker in `notify_cursors`.
//! - [`pve`]: the body of Proxmox VE's webhook target, and the text or commands that set it up.
//!
//! State a source keeps between steps (de)serialises with serde so the engine can store it as JSON
//! in its cursors table. Links are the SPA's app paths (history routing, `web/src/lib/router.svelte.ts`
//! and `web/src/App.svelte`): `/vms/101`, `/storage/disks/sdb`, `/health`, `/logs`, `/security`.

pub mod journal;
pub mod monitors;
pub mod pve;
pub mod security;
pub mod system;
pub mod tasks;

use crate::civil::civil_from_days;
use crate::model::inventory::Inventory;

/// `101 (web)`, or `101` when the guest's name is unknown (cluster resources first, then its config).
pub fn guest_label(inv: &Inventory, vmid: u64) -> String {
    let from_resources = inv
        .resources
        .data
        .iter()
        .flatten()
        .filter_map(|r| r.as_guest())
        .find(|g| g.vmid == vmid)
        .map(|g| g.name.clone())
        .filter(|n| !n.is_empty());
    let name = from_resources.or_else(|| inv.configs.get(&vmid).and_then(|c| c.name.clone()));
    match name {
        Some(n) if !n.is_empty() => format!("{vmid} ({n})"),
        _ => vmid.to_string(),
    }
}

/// A unix-ms instant as `2024-08-01 02:00:00 UTC` (messages go to people in any time zone; the
/// channel shows its own receive time next to it).
pub fn utc(ms: i64) -> String {
    let s = ms.div_euclid(1000);
    let (y, m, d) = civil_from_days(s.div_euclid(86_400));
    let t = s.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC", t / 3600, t % 3600 / 60, t % 60)
}

/// Seconds as `45s`, `9m 07s`, `1h 02m`, `2d 03h`.
pub fn duration(s: u64) -> String {
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// `s` cut to at most `max` bytes (on a char boundary), with `…` when anything was cut.
pub fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &s[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_durations_read_well() {
        assert_eq!(utc(1_722_477_600_000), "2024-08-01 02:00:00 UTC");
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(duration(41), "41s");
        assert_eq!(duration(547), "9m 07s");
        assert_eq!(duration(1843), "30m 43s");
        assert_eq!(duration(3720), "1h 02m");
        assert_eq!(duration(183_600), "2d 03h");
        assert_eq!(clip("abc", 5), "abc");
        assert_eq!(clip("abcdef", 3), "abc…");
        assert_eq!(clip("aé", 2), "a…", "never inside a character");
    }
}
