//! The receiver side of Proxmox VE's own notification system (PVE 8.3+ webhook target): [`parse`]
//! turns the body PVE renders from proxwatch's template ([`BODY_TEMPLATE`]) into an event, [`setup`]
//! writes what an admin adds to PVE (config blocks or `pvesh` commands), and [`install`] runs those
//! commands when the admin asks for it.
//!
//! Facts from `proxmox-notify/src/endpoints/webhook.rs` (proxmox-rs, read at f3305009): the body,
//! URL and header values are Handlebars templates over `{title, message, severity, timestamp,
//! fields, secrets}` with no escaping at all (hence the `json` helper in the template); `timestamp`
//! is epoch seconds; every field value is a string; the Test button sends no fields (`{}`); the
//! stored `body`, each `header` value and each `secret` value are base64, headers and secrets as
//! `name=<n>,value=<base64>` property strings; secrets live in `/etc/pve/priv/notifications.cfg`.
//! PVE sends no event id and retries nothing, so the fingerprint hashes what identifies a
//! notification: timestamp, type, job id and title. See also `/work/shared/reference`'s notes (A3–A7).

use std::collections::BTreeMap;
use std::time::Duration;

use data_encoding::BASE64;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::clip;
use crate::host::{Host, ToolError};
use crate::notify::{Event, Severity};

/// The body template PVE renders for proxwatch (stored base64 in the target's `body`).
pub const BODY_TEMPLATE: &str = r#"{"title":{{ json title }},"message":{{ json message }},"severity":{{ json severity }},"timestamp":{{ timestamp }},"fields":{{ json fields }}}"#;
/// The webhook target's name in PVE.
pub const TARGET: &str = "proxwatch";
/// The matcher's name. Not `proxwatch`: PVE's notification entities share one namespace across
/// types (`proxmox-notify/src/api/mod.rs` `ensure_unique`: "an entity with the same name already
/// exists"), so a matcher cannot be named like the target.
pub const MATCHER: &str = "proxwatch-all";
/// The secret's name, referenced from the header as `{{ secrets.token }}`.
pub const SECRET_NAME: &str = "token";
/// The header carrying the secret; the API's route compares it in constant time.
pub const TOKEN_HEADER: &str = "X-Proxwatch-Token";
/// How much of the message an event keeps (a vzdump message carries the task log: up to ~1 MiB).
pub const MAX_MESSAGE: usize = 16 * 1024;
const MAX_TITLE: usize = 512;
const MAX_FIELD: usize = 256;
/// The replay window: older or further ahead than this is refused.
pub const MAX_AGE_S: i64 = 15 * 60;
pub const MAX_AHEAD_S: i64 = 5 * 60;
/// The public notification config, read as a backup before [`install`] changes it.
pub const PUBLIC_CFG: &str = "/etc/pve/notifications.cfg";
const COMMENT: &str = "proxwatch: receives every notification";
const PVESH_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PveHookError {
    /// Not JSON at all (a target without proxwatch's body template sends an empty body).
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    /// JSON, but not the template's shape (a field missing or of the wrong type).
    #[error("the body is not proxwatch's template: {0}")]
    Shape(String),
    #[error(
        "the notification's timestamp {timestamp} is {} s from this host's clock (accepted: {MAX_AGE_S} s old to {MAX_AHEAD_S} s ahead)",
        .timestamp - .now
    )]
    Stale { timestamp: i64, now: i64 },
}

#[derive(Deserialize)]
struct Body {
    title: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    severity: Option<String>,
    timestamp: i64,
    #[serde(default)]
    fields: Option<serde_json::Map<String, Value>>,
}

/// The catalog id of a PVE notification `type` (pve-docs `notifications.adoc`; PVE/API2/Cluster/
/// Notifications.pm `matcher-field-values`). No fields at all is the Test button (`test_target`
/// sends no metadata).
fn kind_of(fields: &BTreeMap<String, String>) -> &'static str {
    if fields.is_empty() {
        return "pve.test";
    }
    match fields.get("type").map(String::as_str) {
        Some("vzdump") => "pve.vzdump",
        Some("replication") => "pve.replication",
        Some("fencing") => "pve.fencing",
        Some("package-updates") => "pve.package_updates",
        Some("system-mail") => "pve.system_mail",
        _ => "pve.other",
    }
}

/// PVE's severities (`proxmox-notify/src/lib.rs` `Severity`): `unknown` is what forwarded system
/// mail carries, so it is information, not an alarm.
fn severity_of(s: Option<&str>) -> Severity {
    match s {
        Some("warning") => Severity::Warning,
        Some("error") => Severity::Critical,
        _ => Severity::Info,
    }
}

/// Parses one webhook body received at `now_ms`.
pub fn parse(body: &[u8], now_ms: i64) -> Result<Event, PveHookError> {
    let b: Body = serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => PveHookError::Shape(e.to_string()),
        _ => PveHookError::NotJson(e.to_string()),
    })?;
    let now = now_ms.div_euclid(1000);
    if b.timestamp < now - MAX_AGE_S || b.timestamp > now + MAX_AHEAD_S {
        return Err(PveHookError::Stale { timestamp: b.timestamp, now });
    }
    // Every value PVE sends is a string; anything else is kept as its JSON text.
    let fields: BTreeMap<String, String> = b
        .fields
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            (k, v)
        })
        .collect();
    let kind = kind_of(&fields);
    let pve_type = fields.get("type").cloned().unwrap_or_default();
    let job = fields.get("job-id").cloned().unwrap_or_default();
    let node = fields.get("hostname").cloned().unwrap_or_default();
    let fingerprint = format!(
        "pve:{}",
        crate::auth::sha256_hex(&format!("{}\n{pve_type}\n{job}\n{}", b.timestamp, b.title))
    );
    let object = if !job.is_empty() { job.as_str() } else { node.as_str() };
    let cooldown = if object.is_empty() { kind.to_string() } else { format!("{kind}:{object}") };
    let mut ev = Event::new(kind, fingerprint, cooldown, b.timestamp.saturating_mul(1000))
        .field("title", clip(b.title.trim(), MAX_TITLE))
        .field("message", bounded_message(&b.message))
        .field("type", if pve_type.is_empty() { "test".to_string() } else { clip(&pve_type, MAX_FIELD) });
    if !node.is_empty() {
        ev = ev.field("node", clip(&node, MAX_FIELD));
    }
    if !job.is_empty() {
        ev = ev.field("job", clip(&job, MAX_FIELD));
    }
    ev.severity = severity_of(b.severity.as_deref());
    Ok(ev)
}

/// The message, at most [`MAX_MESSAGE`] bytes of it, with a note of what was cut.
fn bounded_message(m: &str) -> String {
    let m = m.trim_end();
    if m.len() <= MAX_MESSAGE {
        return m.to_string();
    }
    let mut cut = MAX_MESSAGE;
    while !m.is_char_boundary(cut) {
        cut -= 1;
    }
    // End on a whole line when one ends in the last quarter.
    let head = &m[..cut];
    let head = match head.rfind('\n') {
        Some(nl) if nl > MAX_MESSAGE * 3 / 4 => &head[..nl],
        _ => head,
    };
    format!("{head}\n… (truncated: {} more bytes; the full text is in PVE's task log)", m.len() - head.len())
}

/// What to add to PVE for proxwatch to receive its notifications.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "PveHookSetup"))]
pub struct Setup {
    /// The receiver's URL (on loopback: PVE's client verifies TLS against the system store only).
    pub url: String,
    /// The blocks to add to `/etc/pve/notifications.cfg`: the webhook target and a matcher with no
    /// rules (it matches every notification).
    pub public_cfg: String,
    /// The block to add to `/etc/pve/priv/notifications.cfg` (root only).
    pub private_cfg: String,
    /// The same through PVE's API, one `pvesh` command a line (preferred: validated, and locked).
    pub commands: Vec<String>,
    /// The body template, as stored (base64) in `public_cfg`.
    pub body_template: String,
    /// Notes for the admin.
    pub notes: Vec<String>,
}

fn b64(s: &str) -> String {
    BASE64.encode(s.as_bytes())
}

/// `name=<n>,value=<base64>` (proxmox-notify's `KeyAndBase64Val` property string).
fn property(name: &str, value_b64: &str) -> String {
    format!("name={name},value={value_b64}")
}

fn headers() -> [String; 2] {
    [
        property("Content-Type", &b64("application/json")),
        property(TOKEN_HEADER, &b64(&format!("{{{{ secrets.{SECRET_NAME} }}}}"))),
    ]
}

/// `pvesh create /cluster/notifications/endpoints/webhook …` with the secret's value (base64) as
/// given. The API takes every parameter from argv: the Perl schema (PVE/API2/Cluster/
/// Notifications.pm `$webhook_properties`) types `secret` as a plain string array, so pvesh has no
/// prompt or stdin for it, and the host seam runs programs with stdin closed anyway.
fn endpoint_argv(url: &str, secret_b64: &str) -> Vec<String> {
    let [ct, token] = headers();
    let mut v: Vec<String> =
        ["pvesh", "create", "/cluster/notifications/endpoints/webhook", "--name", TARGET]
            .map(String::from)
            .to_vec();
    for (k, val) in [
        ("--url", url.to_string()),
        ("--method", "post".to_string()),
        ("--header", ct),
        ("--header", token),
        ("--body", b64(BODY_TEMPLATE)),
        ("--secret", property(SECRET_NAME, secret_b64)),
        ("--comment", COMMENT.to_string()),
    ] {
        v.push(k.to_string());
        v.push(val);
    }
    v
}

fn matcher_argv() -> Vec<String> {
    [
        "pvesh",
        "create",
        "/cluster/notifications/matchers",
        "--name",
        MATCHER,
        "--target",
        TARGET,
        "--comment",
        COMMENT,
    ]
    .map(String::from)
    .to_vec()
}

/// A word as a POSIX shell reads it back.
fn shell_word(w: &str) -> String {
    let plain = !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || "_-/.,:=@%+".contains(c));
    if plain { w.to_string() } else { format!("'{}'", w.replace('\'', r"'\''")) }
}

fn shell_line(argv: &[String]) -> String {
    argv.iter().map(|w| shell_word(w)).collect::<Vec<_>>().join(" ")
}

/// The setup for `url`, the secret shown as `<secret>`.
pub fn setup(url: &str) -> Setup {
    setup_with_secret(url, None)
}

/// The setup for `url`, with the real secret when `secret` is given (the admin asked to see it).
pub fn setup_with_secret(url: &str, secret: Option<&str>) -> Setup {
    let secret_b64 = secret.map_or_else(|| "<secret>".to_string(), b64);
    let [ct, token] = headers();
    let body = b64(BODY_TEMPLATE);
    let public_cfg = format!(
        "webhook: {TARGET}\n\tbody {body}\n\tcomment {COMMENT}\n\theader {ct}\n\theader {token}\n\tmethod post\n\turl {url}\n\n\
         matcher: {MATCHER}\n\tcomment {COMMENT}\n\ttarget {TARGET}\n"
    );
    let private_cfg = format!("webhook: {TARGET}\n\tsecret {}\n", property(SECRET_NAME, &secret_b64));
    let mut notes = vec![
        "The matcher has no match rules, so it matches every notification, successful backups included; \
         proxwatch's own routing decides what reaches you."
            .to_string(),
        "In a cluster the configuration is shared: every node sends to this URL on its own loopback, so \
         nodes without proxwatch lose their notifications to this target."
            .to_string(),
    ];
    if secret.is_none() {
        notes.push("<secret> stands for the base64 of proxwatch's webhook token.".to_string());
    }
    Setup {
        url: url.to_string(),
        public_cfg,
        private_cfg,
        commands: vec![shell_line(&endpoint_argv(url, &secret_b64)), shell_line(&matcher_argv())],
        body_template: BODY_TEMPLATE.to_string(),
        notes,
    }
}

/// How one `pvesh create` went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "PveInstallStepStatus"))]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Done,
    /// An entity of that name exists: left as it was.
    AlreadyExists,
    Failed,
    /// Not run: the target it needs was not created.
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "PveInstallStep"))]
pub struct InstallStep {
    /// The command as run, the secret shown as `<secret>`.
    pub command: String,
    pub status: StepStatus,
    /// What pvesh said (its last lines), the secret masked.
    pub output: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "PveInstallReport"))]
pub struct InstallReport {
    /// `/etc/pve/notifications.cfg` as it was before; `None` when it did not exist (PVE's built-in
    /// default applied).
    pub backup: Option<String>,
    pub steps: Vec<InstallStep>,
}

/// Creates the target and the matcher through `pvesh` (only when the admin explicitly asks). Reads
/// the current public config first and returns it as a backup; an error before any change (the
/// config unreadable, pvesh missing) is `Err` with nothing changed.
///
/// The secret travels in pvesh's argv (see [`endpoint_argv`]): visible in `/proc/<pid>/cmdline` to
/// local users for the second pvesh runs, on hosts without `hidepid`. The least bad of the ways
/// open: editing the priv file by hand would bypass PVE's locking and validation on pmxcfs.
pub async fn install(host: &Host, url: &str, secret: &str) -> Result<InstallReport, String> {
    let backup = host
        .read_optional(PUBLIC_CFG)
        .map_err(|e| format!("cannot read {PUBLIC_CFG} for a backup, nothing was changed: {e}"))?;
    let secret_b64 = b64(secret);
    let mask = |s: &str| s.replace(&secret_b64, "<secret>").replace(secret, "<secret>");
    let display = |argv: &[String]| mask(&shell_line(argv));
    let mut steps = Vec::new();
    let endpoint = endpoint_argv(url, &secret_b64);
    let first = run(host, &endpoint).await;
    let (status, output) = match first {
        Err(ToolError::Missing { .. }) => {
            return Err("pvesh is not installed (not a Proxmox VE host): nothing was changed".to_string());
        }
        r => outcome(r),
    };
    steps.push(InstallStep { command: display(&endpoint), status, output: mask(&output) });
    let matcher = matcher_argv();
    if matches!(status, StepStatus::Done | StepStatus::AlreadyExists) {
        let (status, output) = outcome(run(host, &matcher).await);
        steps.push(InstallStep { command: display(&matcher), status, output: mask(&output) });
    } else {
        steps.push(InstallStep {
            command: display(&matcher),
            status: StepStatus::Skipped,
            output: format!("the target {TARGET} was not created"),
        });
    }
    Ok(InstallReport { backup, steps })
}

async fn run(host: &Host, argv: &[String]) -> Result<crate::host::Output, ToolError> {
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    host.run_with_timeout(&argv, PVESH_TIMEOUT).await
}

fn outcome(r: Result<crate::host::Output, ToolError>) -> (StepStatus, String) {
    match r {
        Ok(out) => {
            let text = format!("{}\n{}", out.stdout.trim(), out.stderr.trim());
            let text: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
            let text = clip(&text[text.len().saturating_sub(5)..].join("\n"), 1000);
            if out.code == 0 {
                (StepStatus::Done, text)
            } else if text.contains("already exists") {
                // proxmox-notify `ensure_unique`: "Cannot create '<name>', an entity with the same
                // name already exists".
                (StepStatus::AlreadyExists, text)
            } else {
                (StepStatus::Failed, text)
            }
        }
        Err(e) => (StepStatus::Failed, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    // The test writes its scenario's files itself (clippy.toml bans host file access elsewhere).
    #![allow(clippy::disallowed_methods)]

    use super::*;
    use crate::notify::template::{Detail, render};

    const NOW_S: i64 = 1_722_477_700;
    const NOW: i64 = NOW_S * 1000;

    /// What PVE's Handlebars renders from [`BODY_TEMPLATE`] (the `json` helper is serde_json's
    /// `to_string`, `timestamp` an integer).
    fn render_pve(title: &str, message: &str, severity: &str, ts: i64, fields: &[(&str, &str)]) -> Vec<u8> {
        let fields: serde_json::Map<String, Value> =
            fields.iter().map(|(k, v)| (k.to_string(), Value::String(v.to_string()))).collect();
        let json = |v: &Value| serde_json::to_string(v).unwrap();
        BODY_TEMPLATE
            .replace("{{ json title }}", &json(&title.into()))
            .replace("{{ json message }}", &json(&message.into()))
            .replace("{{ json severity }}", &json(&severity.into()))
            .replace("{{ timestamp }}", &ts.to_string())
            .replace("{{ json fields }}", &json(&Value::Object(fields)))
            .into_bytes()
    }

    const VZDUMP_MESSAGE: &str = "Details\n=======\n\
        VMID    Name      Status    Time       Size           Filename\n\
        100     router    ok        41s        2.147 GiB      vm/100/2024-08-01T00:00:00Z\n\
        101     web       ok        9min 7s    31.514 GiB     vm/101/2024-08-01T00:00:41Z\n\
        102     win11     err       19min 42s  0 B            null\n\n\
        Total running time: 29min 57s\nTotal size: 33.661 GiB\n\n\
        Logs\n====\n\
        vzdump --all 1 --storage pbs --mode snapshot --notes-template '{{guestname}}'\n\n\
        102: 2024-08-01 02:09:50 INFO: Starting Backup of VM 102 (qemu)\n\
        102: 2024-08-01 02:29:32 ERROR: Backup of VM 102 failed - VM 102 qmp command 'backup' failed - got timeout\n";

    #[test]
    fn a_vzdump_notification() {
        let body = render_pve(
            "vzdump backup status (pve1.example.com): backup failed",
            VZDUMP_MESSAGE,
            "error",
            NOW_S - 30,
            &[("type", "vzdump"), ("hostname", "pve1"), ("job-id", "backup-5a2c9e41-7d3b")],
        );
        let ev = parse(&body, NOW).unwrap();
        assert_eq!((ev.kind.as_str(), ev.severity), ("pve.vzdump", Severity::Critical));
        assert_eq!(ev.ts_ms, (NOW_S - 30) * 1000);
        assert_eq!(ev.fields["type"], "vzdump");
        assert_eq!(ev.fields["node"], "pve1");
        assert_eq!(ev.fields["job"], "backup-5a2c9e41-7d3b");
        assert_eq!(ev.fields["message"], VZDUMP_MESSAGE.trim_end());
        assert_eq!(ev.cooldown_key, "pve.vzdump:backup-5a2c9e41-7d3b");
        assert!(ev.fingerprint.starts_with("pve:") && ev.fingerprint.len() == 4 + 64);
        let (title, text) = render(&ev.kind, "en", Detail::Full, &ev.fields);
        assert_eq!(title, "vzdump backup status (pve1.example.com): backup failed");
        assert!(text.starts_with("Details\n=======\nVMID"), "{text}");
        assert!(text.ends_with("Type: vzdump\nNode: pve1"), "{text}");

        // The same notification delivered twice is one fingerprint; another run is another.
        assert_eq!(parse(&body, NOW + 5_000).unwrap().fingerprint, ev.fingerprint);
        let ok = render_pve(
            "vzdump backup status (pve1.example.com): backup successful",
            "Details\n=======\n",
            "info",
            NOW_S - 30,
            &[("type", "vzdump"), ("hostname", "pve1"), ("job-id", "backup-5a2c9e41-7d3b")],
        );
        let ok = parse(&ok, NOW).unwrap();
        assert_ne!(ok.fingerprint, ev.fingerprint);
        assert_eq!(ok.severity, Severity::Info);
    }

    #[test]
    fn the_test_button_sends_no_fields() {
        let body = render_pve(
            "Test notification",
            "This is a test of the notification target 'proxwatch'.",
            "info",
            NOW_S,
            &[],
        );
        let ev = parse(&body, NOW).unwrap();
        assert_eq!(ev.kind, "pve.test");
        assert_eq!(ev.fields["type"], "test");
        assert!(!ev.fields.contains_key("node"));
        assert_eq!(ev.cooldown_key, "pve.test");
        // A body without the fields key at all reads the same.
        let bare =
            format!(r#"{{"title":"Test notification","message":"x","severity":"info","timestamp":{NOW_S}}}"#);
        assert_eq!(parse(bare.as_bytes(), NOW).unwrap().kind, "pve.test");
    }

    #[test]
    fn types_and_severities() {
        let cases = [
            ("replication", "error", "pve.replication", Severity::Critical),
            ("fencing", "error", "pve.fencing", Severity::Critical),
            ("package-updates", "info", "pve.package_updates", Severity::Info),
            ("system-mail", "unknown", "pve.system_mail", Severity::Info),
            ("gc", "notice", "pve.other", Severity::Info),
            ("acme", "warning", "pve.other", Severity::Warning),
        ];
        for (t, sev, kind, want) in cases {
            let body = render_pve("t", "m", sev, NOW_S, &[("type", t), ("hostname", "pve1")]);
            let ev = parse(&body, NOW).unwrap();
            assert_eq!((ev.kind.as_str(), ev.severity), (kind, want), "{t}");
            assert_eq!(ev.fields["type"], t);
        }
        let body = render_pve(
            "Replication Job: '100-0' failed",
            "m",
            "error",
            NOW_S,
            &[("type", "replication"), ("hostname", "pve1"), ("job-id", "100-0")],
        );
        assert_eq!(parse(&body, NOW).unwrap().cooldown_key, "pve.replication:100-0");
        let body = render_pve(
            "New software packages available (pve1.example.com)",
            "m",
            "info",
            NOW_S,
            &[("type", "package-updates"), ("hostname", "pve1")],
        );
        assert_eq!(parse(&body, NOW).unwrap().cooldown_key, "pve.package_updates:pve1");
    }

    #[test]
    fn bad_bodies_say_what_is_wrong() {
        let e = parse(b"", NOW).unwrap_err();
        assert!(matches!(e, PveHookError::NotJson(_)), "{e}");
        let e = parse(b"{\"title\": \"x\",", NOW).unwrap_err();
        assert!(matches!(e, PveHookError::NotJson(_)), "{e}");
        let e = parse(br#"{"message":"no title","timestamp":1}"#, NOW).unwrap_err();
        assert!(matches!(&e, PveHookError::Shape(m) if m.contains("missing field `title`")), "{e}");
        let e = parse(br#"{"title":"x","timestamp":"soon"}"#, NOW).unwrap_err();
        assert!(matches!(&e, PveHookError::Shape(m) if m.contains("invalid type")), "{e}");
    }

    #[test]
    fn stale_and_future_timestamps_are_refused() {
        let at = |ts: i64| parse(&render_pve("t", "m", "info", ts, &[("type", "vzdump")]), NOW);
        assert!(at(NOW_S - MAX_AGE_S).is_ok());
        assert!(at(NOW_S + MAX_AHEAD_S).is_ok());
        let e = at(NOW_S - MAX_AGE_S - 1).unwrap_err();
        assert_eq!(e, PveHookError::Stale { timestamp: NOW_S - 901, now: NOW_S });
        assert!(e.to_string().contains("-901 s from this host's clock"), "{e}");
        assert!(matches!(at(NOW_S + MAX_AHEAD_S + 1), Err(PveHookError::Stale { .. })));
    }

    #[test]
    fn a_huge_message_is_cut_with_a_note() {
        let line = "102: 2024-08-01 02:09:50 INFO: transferred 1.2 GiB of 32.0 GiB (3.75%)\n";
        let log = line.repeat(15_000); // ~1 MiB, as a long vzdump log
        let ev = parse(&render_pve("t", &log, "info", NOW_S, &[("type", "vzdump")]), NOW).unwrap();
        let m = &ev.fields["message"];
        assert!(m.len() <= MAX_MESSAGE + 100, "{}", m.len());
        let (head, note) = m.rsplit_once('\n').unwrap();
        assert!(head.ends_with("(3.75%)"), "cut at a line end");
        assert!(note.starts_with("… (truncated: ") && note.contains("more bytes"), "{note}");
        let kept = head.len();
        assert!(note.contains(&format!("{} more bytes", log.trim_end().len() - kept)), "{note}");
    }

    #[test]
    fn setup_text_is_pves_format_and_round_trips() {
        let url = "http://127.0.0.1:8008/api/notify/pve";
        let s = setup(url);
        let lines: Vec<&str> = s.public_cfg.lines().collect();
        assert_eq!(lines[0], "webhook: proxwatch");
        let value = |key: &str| {
            lines
                .iter()
                .filter_map(|l| l.strip_prefix('\t')?.strip_prefix(key)?.strip_prefix(' '))
                .collect::<Vec<_>>()
        };
        assert_eq!(value("url"), [url]);
        assert_eq!(value("method"), ["post"]);
        let decode = |b: &str| String::from_utf8(BASE64.decode(b.as_bytes()).unwrap()).unwrap();
        assert_eq!(decode(value("body")[0]), BODY_TEMPLATE);
        let headers: Vec<(String, String)> = value("header")
            .iter()
            .map(|h| {
                let (name, val) = h.strip_prefix("name=").unwrap().split_once(",value=").unwrap();
                (name.to_string(), decode(val))
            })
            .collect();
        assert_eq!(
            headers,
            [
                ("Content-Type".to_string(), "application/json".to_string()),
                ("X-Proxwatch-Token".to_string(), "{{ secrets.token }}".to_string())
            ]
        );
        assert!(s.public_cfg.contains("\n\nmatcher: proxwatch-all\n\tcomment "));
        assert!(s.public_cfg.ends_with("\ttarget proxwatch\n"));
        assert!(!s.public_cfg.contains("match-"), "no match rules: everything");
        assert_eq!(s.private_cfg, "webhook: proxwatch\n\tsecret name=token,value=<secret>\n");
        assert!(s.commands[0].starts_with(
            "pvesh create /cluster/notifications/endpoints/webhook --name proxwatch --url http://127.0.0.1:8008/api/notify/pve --method post --header name=Content-Type,value=YXBwbGljYXRpb24vanNvbg== --header name=X-Proxwatch-Token,value=e3sgc2VjcmV0cy50b2tlbiB9fQ== --body "
        ), "{}", s.commands[0]);
        assert!(s.commands[0].contains(" --secret 'name=token,value=<secret>' "), "{}", s.commands[0]);
        assert_eq!(
            s.commands[1],
            "pvesh create /cluster/notifications/matchers --name proxwatch-all --target proxwatch --comment 'proxwatch: receives every notification'"
        );
        assert!(s.notes.iter().any(|n| n.contains("<secret>")));
        // With the real secret on request.
        let s = setup_with_secret(url, Some("s3cr3t-t0ken"));
        let v = s.private_cfg.trim_end().rsplit_once("value=").unwrap().1.to_string();
        assert_eq!(decode(&v), "s3cr3t-t0ken");
        assert!(s.commands[0].contains(&format!("--secret name=token,value={v} ")));
        // A template PVE renders parses back.
        let body = render_pve("Test notification", "m", "info", NOW_S, &[]);
        assert!(serde_json::from_slice::<Value>(&body).is_ok());
    }

    #[test]
    fn shell_words_are_quoted_back() {
        assert_eq!(shell_word("plain/word=1,a+b"), "plain/word=1,a+b");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word(""), "''");
        assert_eq!(shell_word("http://h/p?a=1&b=2"), "'http://h/p?a=1&b=2'");
    }

    fn scenario(dir: &std::path::Path, entries: &[(Vec<String>, i32, &str)], cfg: Option<&str>) -> Host {
        let mut m = String::from("[scenario]\nname = \"pve-notify\"\n");
        for (argv, exit, stderr) in entries {
            let argv: Vec<String> = argv.iter().map(|a| serde_json::to_string(a).unwrap()).collect();
            m.push_str(&format!(
                "\n[[command]]\nargv = [{}]\nexit = {exit}\nstderr = {}\n",
                argv.join(", "),
                serde_json::to_string(stderr).unwrap()
            ));
        }
        std::fs::write(dir.join("manifest.toml"), m).unwrap();
        if let Some(cfg) = cfg {
            std::fs::create_dir_all(dir.join("etc/pve")).unwrap();
            std::fs::write(dir.join("etc/pve/notifications.cfg"), cfg).unwrap();
        }
        let s = crate::host::replay::Scenario::load(dir).unwrap();
        Host::replay(s, Duration::from_secs(5))
    }

    const CURRENT: &str = "sendmail: mail-to-root\n\tcomment Send mails to root@pam's email address\n\tmailto-user root@pam\n\nmatcher: default-matcher\n\tmode all\n\ttarget mail-to-root\n";

    #[tokio::test]
    async fn install_backs_up_then_creates_the_target_and_matcher() {
        let url = "http://127.0.0.1:8008/api/notify/pve";
        let secret = "s3cr3t-t0ken";
        let dir = tempfile::tempdir().unwrap();
        let host = scenario(
            dir.path(),
            &[
                (endpoint_argv(url, &b64(secret)), 0, ""),
                (
                    matcher_argv(),
                    255,
                    "Cannot create 'proxwatch-all', an entity with the same name already exists\n",
                ),
            ],
            Some(CURRENT),
        );
        let r = install(&host, url, secret).await.unwrap();
        assert_eq!(r.backup.as_deref(), Some(CURRENT));
        let st: Vec<StepStatus> = r.steps.iter().map(|s| s.status).collect();
        assert_eq!(st, [StepStatus::Done, StepStatus::AlreadyExists]);
        let shown = serde_json::to_string(&r).unwrap();
        assert!(!shown.contains(secret) && !shown.contains(&b64(secret)), "{shown}");
        assert!(r.steps[0].command.contains("value=<secret>"), "{}", r.steps[0].command);
        assert!(r.steps[1].output.contains("already exists"));
    }

    #[tokio::test]
    async fn a_failed_target_skips_the_matcher_and_no_pvesh_changes_nothing() {
        let url = "http://127.0.0.1:8008/api/notify/pve";
        let dir = tempfile::tempdir().unwrap();
        let host = scenario(
            dir.path(),
            &[(
                endpoint_argv(url, &b64("x")),
                2,
                "400 Parameter verification failed.\nurl: invalid format\n",
            )],
            None,
        );
        let r = install(&host, url, "x").await.unwrap();
        assert_eq!(r.backup, None, "no file: PVE's built-in default applied");
        assert_eq!(r.steps[0].status, StepStatus::Failed);
        assert!(r.steps[0].output.contains("url: invalid format"));
        assert_eq!(r.steps[1].status, StepStatus::Skipped);

        let dir = tempfile::tempdir().unwrap();
        let mut m = String::from("[scenario]\nname = \"no-pve\"\n\n[[command]]\nargv = [");
        let argv: Vec<String> =
            endpoint_argv(url, &b64("x")).iter().map(|a| serde_json::to_string(a).unwrap()).collect();
        m.push_str(&argv.join(", "));
        m.push_str("]\nmissing = true\n");
        std::fs::write(dir.path().join("manifest.toml"), m).unwrap();
        let host =
            Host::replay(crate::host::replay::Scenario::load(dir.path()).unwrap(), Duration::from_secs(5));
        let e = install(&host, url, "x").await.unwrap_err();
        assert!(e.contains("pvesh is not installed"), "{e}");
    }
}
