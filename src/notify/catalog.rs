//! Every event type proxwatch can notify about: a stable id, its group, whether it is on by
//! default, its default severity, and which cooldown applies unless a channel or the admin says
//! otherwise. The texts are in [`super::template`]. `GET /api/notifications/events` serves this list.

use serde::Serialize;

use super::{Group, Severity};

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "NotifyEventType"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "NotifyEventType"))]
pub struct EventDef {
    pub id: &'static str,
    pub group: Group,
    pub default_on: bool,
    pub severity: Severity,
    /// One line for the UI's matrix.
    pub label: &'static str,
    /// Where it comes from: `health`, `tasks`, `journal`, `auth`, `pve`, `system`, `engine`.
    pub source: &'static str,
    /// Only admins see it in the history (it names users and addresses).
    pub admins_only: bool,
    /// Not a row of the routing matrix: summaries and the test follow their channel.
    pub internal: bool,
}

const fn def(
    id: &'static str,
    group: Group,
    default_on: bool,
    severity: Severity,
    source: &'static str,
    label: &'static str,
) -> EventDef {
    EventDef { id, group, default_on, severity, label, source, admins_only: false, internal: false }
}

const fn admin(mut d: EventDef) -> EventDef {
    d.admins_only = true;
    d
}

const fn internal(mut d: EventDef) -> EventDef {
    d.internal = true;
    d
}

use Group::*;
use Severity::*;

/// The catalog. Ids are stable: they are stored in settings and history.
pub const CATALOG: &[EventDef] = &[
    // Health findings, from the health cycle's outbox (docs/health-events.md).
    def("health.new", Health, true, Warning, "health", "A health check found a new problem"),
    def("health.escalated", Health, true, Critical, "health", "A problem got worse"),
    def("health.deescalated", Health, true, Warning, "health", "A problem got less severe"),
    def("health.resolved", Health, true, Info, "health", "A problem is resolved"),
    // Proxmox tasks, from the inventory's task list and replication state.
    def("backup.ok", Backups, true, Info, "tasks", "A backup job finished without errors"),
    def("backup.warnings", Backups, true, Warning, "tasks", "A backup job finished with warnings"),
    def("backup.failed", Backups, true, Critical, "tasks", "A backup job failed (naming the guests)"),
    def("replication.failed", Backups, true, Critical, "tasks", "A replication job failed"),
    def("replication.recovered", Backups, true, Info, "tasks", "A failed replication job works again"),
    def("guest.start_failed", Guests, true, Warning, "tasks", "A guest failed to start"),
    def("guest.stop_failed", Guests, true, Warning, "tasks", "A guest failed to stop or shut down"),
    def("guest.migrate_failed", Guests, true, Warning, "tasks", "A guest migration failed"),
    def("guest.started", Guests, false, Info, "tasks", "A guest was started"),
    def("guest.stopped", Guests, false, Info, "tasks", "A guest was stopped or shut down"),
    def("guest.migrated", Guests, false, Info, "tasks", "A guest was migrated"),
    // Service monitors (monitors/): the `monitor_events` table.
    def("monitor.down", Guests, true, Critical, "monitors", "A service monitor is down"),
    def(
        "monitor.recovered",
        Guests,
        true,
        Info,
        "monitors",
        "A service monitor is up again (with the outage's length)",
    ),
    def(
        "monitor.degraded",
        Guests,
        false,
        Warning,
        "monitors",
        "A service monitor answers slower than its limit",
    ),
    def(
        "monitor.cert_expiring",
        Guests,
        true,
        Warning,
        "monitors",
        "A monitored HTTPS certificate expires soon",
    ),
    def(
        "monitor.flapping",
        Guests,
        true,
        Warning,
        "monitors",
        "A service monitor keeps changing state (flapping)",
    ),
    def("monitor.settled", Guests, true, Info, "monitors", "A flapping service monitor settled"),
    // Journal watchers (the health cycle's journal scan).
    def(
        "guest.oom",
        Guests,
        true,
        Warning,
        "journal",
        "The kernel killed a process for lack of memory (OOM)",
    ),
    def("kernel.io_error", Hardware, true, Warning, "journal", "Kernel I/O errors on a disk"),
    def("kernel.fs_error", Storage, true, Critical, "journal", "A filesystem reported errors"),
    def("pve.daemon_crash", System, true, Warning, "journal", "A Proxmox daemon crashed"),
    def(
        "host.login_failed",
        Security,
        true,
        Warning,
        "journal",
        "Failed logins on the host (sshd, Proxmox web UI)",
    ),
    // proxwatch's own security events (the auth log).
    admin(def(
        "security.new_ip_login",
        Security,
        true,
        Warning,
        "auth",
        "A user logged in from an address not seen before",
    )),
    admin(def(
        "security.totp_disabled",
        Security,
        true,
        Warning,
        "auth",
        "Two-factor authentication was disabled",
    )),
    admin(def(
        "security.admin_token_created",
        Security,
        true,
        Warning,
        "auth",
        "An API token with the admin scope was created",
    )),
    admin(def("security.user_added", Security, true, Info, "auth", "A proxwatch user was added")),
    // Proxmox VE's own notification system, through the webhook target.
    def("pve.vzdump", Backups, true, Info, "pve", "PVE: backup job notification"),
    def("pve.replication", Backups, true, Critical, "pve", "PVE: replication job failed"),
    def("pve.fencing", System, true, Critical, "pve", "PVE: a node was fenced"),
    def("pve.package_updates", System, true, Info, "pve", "PVE: package updates are available"),
    def("pve.system_mail", System, true, Info, "pve", "PVE: mail to root (smartd, zed, cron)"),
    def("pve.test", System, true, Info, "pve", "PVE: test notification from a target"),
    def("pve.other", System, true, Info, "pve", "PVE: another notification type"),
    // proxwatch itself.
    def("system.unclean_stop", System, true, Warning, "system", "proxwatch started after an unclean stop"),
    def("system.rebooted", System, true, Warning, "system", "The host rebooted"),
    internal(def("system.test", System, true, Info, "system", "A test message (Send test)")),
    internal(def("summary.burst", System, true, Info, "engine", "Summary of a burst of events")),
    internal(def("summary.quiet", System, true, Info, "engine", "Summary of events held during quiet hours")),
    internal(def("summary.digest", System, true, Info, "engine", "Daily digest")),
];

pub fn find(id: &str) -> Option<&'static EventDef> {
    CATALOG.iter().find(|d| d.id == id)
}

/// The default cooldown of a group in seconds: how long a repeat of the same condition on the same
/// channel is counted instead of sent. Health findings already have hysteresis; journal watchers
/// repeat at the rate of the log.
pub fn default_cooldown_s(group: Group) -> u32 {
    match group {
        Group::Health => 600,
        Group::Backups => 0,
        Group::Guests => 300,
        Group::Security => 900,
        Group::System => 0,
        Group::Hardware => 1800,
        Group::Storage => 1800,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_have_english_text() {
        let mut seen = std::collections::HashSet::new();
        for d in CATALOG {
            assert!(seen.insert(d.id), "duplicate id {}", d.id);
            assert!(super::super::template::texts("en", d.id).is_some(), "no text for {}", d.id);
        }
    }
}
