//! The text of each event type, per language (English now; a new language is one more table), at
//! two detail levels: `short` (one or two lines, for a phone's lock screen) and `full` (the facts an
//! admin needs to act). Placeholders are `{name}`, filled from the event's fields; a missing field
//! renders empty and a line left with nothing but its label is dropped.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How much a channel wants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "NotifyDetail"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "NotifyDetail"))]
#[serde(rename_all = "snake_case")]
pub enum Detail {
    Short,
    #[default]
    Full,
}

pub struct Texts {
    pub title: &'static str,
    pub short: &'static str,
    /// Appended to `short` at the full detail level.
    pub more: &'static str,
}

const fn t(title: &'static str, short: &'static str, more: &'static str) -> Texts {
    Texts { title, short, more }
}

/// The languages with a table.
pub const LANGUAGES: &[&str] = &["en"];

fn en(kind: &str) -> Option<Texts> {
    Some(match kind {
        "health.new" => t(
            "{severity_word}: {reason}",
            "{object}: {reason}",
            "Category: {category}\nCheck: {key}\nSince: {since}",
        ),
        "health.escalated" => t(
            "Worse ({previous} → {severity}): {reason}",
            "{object}: {reason}",
            "Category: {category}\nCheck: {key}",
        ),
        "health.deescalated" => t(
            "Better ({previous} → {severity}): {reason}",
            "{object}: {reason}",
            "Category: {category}\nCheck: {key}",
        ),
        "health.resolved" => t(
            "Resolved: {reason}",
            "{object} is fine again after {duration}.",
            "Category: {category}\nCheck: {key}",
        ),
        "monitor.down" => t(
            "DOWN: {monitor}",
            "{monitor} is down: {error}",
            "Target: {target}\nGuest: {guest}\nSince: {since}",
        ),
        "monitor.recovered" => t(
            "Up again: {monitor}",
            "{monitor} is up again after {duration}.",
            "Target: {target}\nGuest: {guest}\nFirst error: {error}",
        ),
        "monitor.degraded" => t(
            "Slow: {monitor}",
            "{monitor} answered in {latency}, over its limit.",
            "Target: {target}\nGuest: {guest}",
        ),
        "monitor.cert_expiring" => t(
            "Certificate expires in {days} days: {monitor}",
            "The certificate of {target} expires on {expires}.",
            "Monitor: {monitor}\nGuest: {guest}",
        ),
        "monitor.flapping" => t(
            "Flapping: {monitor}",
            "{monitor} changed state {changes} times within minutes; further changes are held until it settles.",
            "Target: {target}\nGuest: {guest}",
        ),
        "monitor.settled" => t(
            "Settled ({status}): {monitor}",
            "{monitor} stopped flapping and is {status}.",
            "Target: {target}\nGuest: {guest}",
        ),
        "backup.ok" => t(
            "Backup OK: {job}",
            "Backup job {job} finished without errors.",
            "Guests: {guests}\nTook: {duration}\nTask: {upid}",
        ),
        "backup.warnings" => t(
            "Backup with warnings: {job}",
            "Backup job {job} finished with warnings: {status}.",
            "Guests: {guests}\nTook: {duration}\nTask: {upid}",
        ),
        "backup.failed" => t(
            "Backup FAILED: {job}",
            "Backup job {job} failed: {status}.\nFailed guests: {failed_guests}",
            "Guests: {guests}\nTook: {duration}\nTask: {upid}",
        ),
        "replication.failed" => t(
            "Replication failed: {job}",
            "Replication job {job} failed ({fail_count} times): {error}",
            "Guest: {guest}\nTarget: {target}\nLast sync: {last_sync}",
        ),
        "replication.recovered" => t(
            "Replication recovered: {job}",
            "Replication job {job} works again.",
            "Guest: {guest}\nTarget: {target}",
        ),
        "guest.start_failed" => {
            t("Start failed: {guest}", "{guest} failed to start: {status}", "Task: {upid}\nUser: {user}")
        }
        "guest.stop_failed" => {
            t("Stop failed: {guest}", "{guest} failed to stop: {status}", "Task: {upid}\nUser: {user}")
        }
        "guest.migrate_failed" => t(
            "Migration failed: {guest}",
            "{guest} failed to migrate: {status}",
            "Task: {upid}\nUser: {user}",
        ),
        "guest.started" => t("Started: {guest}", "{guest} was started.", "Task: {upid}\nUser: {user}"),
        "guest.stopped" => t("Stopped: {guest}", "{guest} was stopped.", "Task: {upid}\nUser: {user}"),
        "guest.migrated" => t("Migrated: {guest}", "{guest} was migrated.", "Task: {upid}\nUser: {user}"),
        "guest.oom" => t(
            "Out of memory: {guest}",
            "The kernel killed {process} in {guest} for lack of memory.",
            "Log: {message}",
        ),
        "kernel.io_error" => {
            t("Disk I/O errors: {device}", "The kernel logged I/O errors on {device}.", "Log: {message}")
        }
        "kernel.fs_error" => {
            t("Filesystem errors: {device}", "A filesystem reported errors on {device}.", "Log: {message}")
        }
        "pve.daemon_crash" => t("Proxmox daemon crashed: {daemon}", "{daemon} crashed.", "Log: {message}"),
        "host.login_failed" => {
            t("Failed logins on the host", "{count} failed logins via {service} from {ip}.", "User: {user}")
        }
        "security.new_ip_login" => t(
            "Login from a new address: {user}",
            "{user} logged in to proxwatch from {ip}, not seen before for this user.",
            "When: {when}",
        ),
        "security.totp_disabled" => t(
            "Two-factor disabled: {user}",
            "Two-factor authentication was disabled for {user}.",
            "By: {actor}\nFrom: {ip}",
        ),
        "security.admin_token_created" => t(
            "Admin API token created: {user}",
            "An API token with the admin scope was created for {user}: {detail}.",
            "From: {ip}",
        ),
        "security.user_added" => {
            t("proxwatch user added: {user}", "The user {user} was added.", "By: {actor}\nFrom: {ip}")
        }
        "pve.vzdump"
        | "pve.replication"
        | "pve.fencing"
        | "pve.package_updates"
        | "pve.system_mail"
        | "pve.test"
        | "pve.other" => t("{title}", "{message}", "Type: {type}\nNode: {node}"),
        "system.unclean_stop" => t(
            "proxwatch restarted after an unclean stop",
            "proxwatch was not stopped cleanly (a crash, kill -9 or power loss) and is running again.",
            "Last seen running: {last_seen}",
        ),
        "system.rebooted" => {
            t("Host rebooted", "The host was rebooted (boot id changed).", "Up since: {boot_time}")
        }
        "system.test" => t(
            "proxwatch test message",
            "This is a test from proxwatch on {hostname}: the channel {channel} works.",
            "Sent by: {actor}",
        ),
        "summary.burst" => {
            t("{count} more {group} events", "{count} more {group} events within {window}:\n{lines}", "")
        }
        "summary.quiet" => t(
            "{count} events during quiet hours",
            "{count} events were held during quiet hours:\n{lines}",
            "",
        ),
        "summary.digest" => t(
            "Daily digest: {count} events",
            "{count} events since the last digest:\n{lines}\n\nStill open: {open}",
            "",
        ),
        _ => return None,
    })
}

/// The texts of `kind` in `lang`, falling back to English. A new language is one more table and one
/// more arm here: `"de" => de(kind).or_else(|| en(kind))`.
pub fn texts(lang: &str, kind: &str) -> Option<Texts> {
    let _ = lang;
    en(kind)
}

/// Fills `{name}` placeholders. Unknown names render empty; `{{` is a literal brace.
pub fn fill(template: &str, fields: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(stripped) = after.strip_prefix('{') {
            out.push('{');
            rest = stripped;
            continue;
        }
        match after.find('}') {
            Some(j) if after[..j].chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                if let Some(v) = fields.get(&after[..j]) {
                    out.push_str(v);
                }
                rest = &after[j + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Renders an event's title and body at a detail level. Lines of the `more` part whose value came out
/// empty ("Guests: ") are dropped.
/// The template's lines filled, without the lines whose placeholders all came out empty (a
/// "Guests: " with no guests); lines without placeholders stay.
fn filled_lines(template: &str, fields: &BTreeMap<String, String>) -> Vec<String> {
    template
        .lines()
        .filter_map(|line| {
            let filled = fill(line, fields);
            let bare = fill(line, &BTreeMap::new());
            (filled.trim() != bare.trim() || !line.contains('{')).then(|| filled.trim_end().to_string())
        })
        .collect()
}

pub fn render(kind: &str, lang: &str, detail: Detail, fields: &BTreeMap<String, String>) -> (String, String) {
    let Some(t) = texts(lang, kind) else {
        return (kind.to_string(), fill("{reason}{message}", fields));
    };
    let title = fill(t.title, fields).trim().to_string();
    let mut body = filled_lines(t.short, fields).join("\n");
    if detail == Detail::Full && !t.more.is_empty() {
        let more = filled_lines(t.more, fields);
        if !more.is_empty() {
            body.push_str("\n\n");
            body.push_str(&more.join("\n"));
        }
    }
    (title, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn fill_replaces_known_and_blanks_unknown() {
        let f = fields(&[("a", "1")]);
        assert_eq!(fill("x{a}y{b}z {{a}", &f), "x1yz {a}");
        assert_eq!(fill("{not a name}", &f), "{not a name}");
    }

    #[test]
    fn full_drops_empty_lines_and_short_has_none() {
        let f = fields(&[
            ("job", "nightly"),
            ("status", "job errors"),
            ("failed_guests", "101 (web)"),
            ("upid", "UPID:x"),
        ]);
        let (title, body) = render("backup.failed", "en", Detail::Full, &f);
        assert_eq!(title, "Backup FAILED: nightly");
        assert!(body.contains("Failed guests: 101 (web)"));
        assert!(body.contains("Task: UPID:x"));
        assert!(!body.contains("Guests:"), "{body}");
        let (_, short) = render("backup.failed", "en", Detail::Short, &f);
        assert!(!short.contains("Task:"));
    }
}
