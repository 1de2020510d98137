//! The systemd journal as `journalctl -o json` prints it: the argv builder for bounded queries, the
//! parser of its JSON lines and of `--list-boots -o json`, and the same filtering, cursor and paging
//! logic applied in Rust to a recorded dump (replay scenarios and the demo, whose runner answers by
//! exact argv and so cannot answer arbitrary cursor/filter combinations), and to the live follow
//! stream's per-subscriber filters.
//!
//! Quirks of `journalctl -o json` (systemd 252, seen in `tests/fixtures/upstream/journalctl/`): every
//! value is a JSON string (`"PRIORITY":"3"`, timestamps in microseconds as strings); a field that
//! occurs more than once is an array of strings; a value that is not valid UTF-8 is an array of
//! byte numbers; a value over the data threshold is `null`; field order varies between entries.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use crate::host::ToolError;

/// The fields a query asks journalctl for (`--output-fields`); the cursor, timestamps and boot id
/// are always printed. Keeping the list short keeps a page small.
pub const OUTPUT_FIELDS: &str =
    "MESSAGE,PRIORITY,SYSLOG_IDENTIFIER,_COMM,_SYSTEMD_UNIT,UNIT,_PID,SYSLOG_PID,_HOSTNAME";

/// One journal entry, as served by the API.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "JournalEntry"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "JournalEntry"))]
pub struct Entry {
    pub cursor: String,
    /// `__REALTIME_TIMESTAMP`, microseconds since the epoch (served as `ts`, milliseconds).
    #[serde(rename = "ts", serialize_with = "us_as_ms")]
    pub ts_us: i64,
    /// 0 (emerg) .. 7 (debug); `None` when the entry has none.
    pub priority: Option<u8>,
    /// `_SYSTEMD_UNIT`: the unit that logged it.
    pub unit: Option<String>,
    /// `SYSLOG_IDENTIFIER`, else `_COMM`.
    pub identifier: Option<String>,
    pub pid: Option<u32>,
    pub hostname: Option<String>,
    /// Possibly multi-line; lossily decoded when the journal holds non-UTF-8 bytes.
    pub message: String,
    /// `_BOOT_ID`.
    pub boot: Option<String>,
    /// `UNIT`: the unit systemd (PID 1) logs *about*; `journalctl -u` matches it too.
    #[serde(skip)]
    pub about_unit: Option<String>,
}

fn us_as_ms<S: serde::Serializer>(us: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_i64(us.div_euclid(1000))
}

/// A field's value as text: a string as is, repeated values joined by newlines, byte arrays decoded
/// lossily, `null` (over the data threshold) as absent.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) if items.iter().all(Value::is_number) => {
            let bytes: Vec<u8> = items.iter().filter_map(Value::as_u64).map(|b| b.min(255) as u8).collect();
            Some(String::from_utf8_lossy(&bytes).into_owned())
        }
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().filter_map(text).collect();
            if parts.is_empty() { None } else { Some(parts.join("\n")) }
        }
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The first value of a possibly repeated field (identifiers, pids).
fn first(v: &Value) -> Option<String> {
    match v {
        Value::Array(items) if !items.iter().all(Value::is_number) => items.iter().find_map(text),
        _ => text(v),
    }
}

/// Parses one line of `journalctl -o json`. The error says what is wrong; the caller adds the line.
pub fn parse_entry(line: &str) -> Result<Entry, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(map) = v else { return Err("not a JSON object".into()) };
    let get = |k: &str| map.get(k).and_then(first);
    let cursor = get("__CURSOR").filter(|c| !c.is_empty()).ok_or("no __CURSOR")?;
    let ts = get("__REALTIME_TIMESTAMP").ok_or("no __REALTIME_TIMESTAMP")?;
    let ts_us: i64 = ts.trim().parse().map_err(|_| format!("__REALTIME_TIMESTAMP {ts:?} is not a number"))?;
    Ok(Entry {
        cursor,
        ts_us,
        priority: get("PRIORITY").and_then(|p| p.trim().parse::<u8>().ok()).filter(|p| *p <= 7),
        unit: get("_SYSTEMD_UNIT"),
        identifier: get("SYSLOG_IDENTIFIER").or_else(|| get("_COMM")),
        pid: get("_PID").or_else(|| get("SYSLOG_PID")).and_then(|p| p.trim().parse().ok()),
        hostname: get("_HOSTNAME"),
        message: map.get("MESSAGE").and_then(text).unwrap_or_default(),
        boot: get("_BOOT_ID"),
        about_unit: get("UNIT"),
    })
}

/// Parses a page of JSON lines. A malformed line does not spoil the page: it is skipped and returned
/// as a [`ToolError::Parse`] naming its line number, next to the entries that did parse.
pub fn parse_entries(text: &str) -> (Vec<Entry>, Vec<ToolError>) {
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match parse_entry(line) {
            Ok(e) => entries.push(e),
            Err(msg) => errors.push(ToolError::parse("journalctl -o json", i + 1, line, msg)),
        }
    }
    (entries, errors)
}

/// One boot from `journalctl --list-boots -o json`.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Boot {
    /// 0 is the current (newest) boot, -1 the one before, ...
    pub index: i64,
    pub boot_id: String,
    /// Microseconds since the epoch.
    pub first_entry: i64,
    pub last_entry: i64,
}

/// Parses `journalctl --list-boots -o json` (systemd >= 251): one JSON array.
pub fn parse_boots(text: &str) -> Result<Vec<Boot>, ToolError> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let mut boots: Vec<Boot> = serde_json::from_str(text.trim()).map_err(|e| {
        let line = e.line();
        let at = text.lines().nth(line.saturating_sub(1)).unwrap_or("");
        ToolError::parse("journalctl --list-boots -o json", line, at, e.to_string())
    })?;
    boots.sort_by_key(|b| std::cmp::Reverse(b.index));
    Ok(boots)
}

/// The boots found in a set of entries, newest first, indexed as journalctl does.
pub fn boots_of(entries: &[Entry]) -> Vec<Boot> {
    let mut by_id: HashMap<&str, (i64, i64)> = HashMap::new();
    for e in entries {
        let Some(b) = e.boot.as_deref() else { continue };
        let span = by_id.entry(b).or_insert((e.ts_us, e.ts_us));
        span.0 = span.0.min(e.ts_us);
        span.1 = span.1.max(e.ts_us);
    }
    let mut boots: Vec<(&str, (i64, i64))> = by_id.into_iter().collect();
    boots.sort_by_key(|(id, (first, _))| (std::cmp::Reverse(*first), *id));
    boots
        .into_iter()
        .enumerate()
        .map(|(i, (id, (first_entry, last_entry)))| Boot {
            index: -(i as i64),
            boot_id: id.to_string(),
            first_entry,
            last_entry,
        })
        .collect()
}

/// Which boot a query is about: journalctl's `-b` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BootSel {
    /// A 128-bit boot id, 32 lowercase hex digits.
    Id(String),
    /// 0 = current, -1 = previous, ...
    Offset(i64),
}

impl BootSel {
    /// Parses `0`, `-1`, ... or a boot id (dashes allowed, as `journalctl --list-boots` once printed).
    pub fn parse(s: &str) -> Result<BootSel, String> {
        let s = s.trim();
        if let Ok(n) = s.parse::<i64>() {
            if (-10_000..=0).contains(&n) {
                return Ok(BootSel::Offset(n));
            }
            return Err(format!("a boot offset must be 0 or negative (got {s:?})"));
        }
        let id: String = s.chars().filter(|c| *c != '-').collect::<String>().to_ascii_lowercase();
        if id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()) {
            return Ok(BootSel::Id(id));
        }
        Err(format!("boot must be an offset (0, -1, ...) or a 32-hex-digit boot id (got {s:?})"))
    }

    pub fn arg(&self) -> String {
        match self {
            BootSel::Id(id) => id.clone(),
            BootSel::Offset(n) => n.to_string(),
        }
    }

    /// The boot id this selects among `boots` (newest first, as [`boots_of`] gives them).
    pub fn resolve<'a>(&'a self, boots: &'a [Boot]) -> Option<&'a str> {
        match self {
            BootSel::Id(id) => Some(id),
            BootSel::Offset(n) => boots.iter().find(|b| b.index == *n).map(|b| b.boot_id.as_str()),
        }
    }
}

/// A unit name as `journalctl -u` takes it: a bare name means `<name>.service`.
pub fn unit_name(u: &str) -> String {
    let u = u.trim();
    if u.contains('.') { u.to_string() } else { format!("{u}.service") }
}

/// Filters shared by queries and live follows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// Entries of this priority or more severe (`-p`).
    pub priority: Option<u8>,
    /// A unit (`-u`), already completed by [`unit_name`].
    pub unit: Option<String>,
    pub boot: Option<BootSel>,
    /// Microseconds since the epoch, inclusive.
    pub since_us: Option<i64>,
    pub until_us: Option<i64>,
    /// Case-insensitive literal text in the message (`-g`).
    pub text: Option<String>,
}

impl Filter {
    /// Whether an entry passes; `boot` must be resolved to an id first (see [`BootSel::resolve`]).
    pub fn matches(&self, e: &Entry, boot_id: Option<&str>) -> bool {
        if let Some(p) = self.priority
            && e.priority.is_none_or(|ep| ep > p)
        {
            return false;
        }
        if let Some(u) = &self.unit
            && e.unit.as_deref() != Some(u.as_str())
            && e.about_unit.as_deref() != Some(u.as_str())
        {
            return false;
        }
        if self.boot.is_some() && e.boot.as_deref() != boot_id {
            return false;
        }
        if self.since_us.is_some_and(|s| e.ts_us < s) || self.until_us.is_some_and(|u| e.ts_us > u) {
            return false;
        }
        if let Some(t) = &self.text
            && !e.message.to_lowercase().contains(&t.to_lowercase())
        {
            return false;
        }
        true
    }
}

/// A page request: filters, where to continue, how many.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    pub filter: Filter,
    /// Continue with the entries older than this one.
    pub cursor: Option<String>,
    pub limit: usize,
}

/// A page of entries, newest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Page {
    pub entries: Vec<Entry>,
    /// The cursor to ask for the next (older) page with; `None` when this page reached the end.
    pub next_cursor: Option<String>,
    /// The cursor asked for was not found (the journal rotated, or it never existed): the page starts
    /// again from the newest entry.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cursor_reset: bool,
}

/// Escapes a literal for journalctl's `-g` (a PCRE2 pattern).
pub fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if "\\.+*?()|[]{}^$#&-~ ".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn seconds_arg(us: i64) -> String {
    format!("@{}.{:06}", us.div_euclid(1_000_000), us.rem_euclid(1_000_000))
}

/// The common part of every journalctl argv: the journal to read (`files` empty = the system journal;
/// a directory is passed with `--directory`, anything else with `--file`) and JSON output.
fn base_argv(files: &[String]) -> Vec<String> {
    let mut argv: Vec<String> = vec!["journalctl".into(), "--no-pager".into(), "-q".into()];
    for f in files {
        if f.ends_with(".journal") || f.ends_with(".journal~") {
            argv.push(format!("--file={f}"));
        } else {
            argv.push(format!("--directory={f}"));
        }
    }
    argv
}

/// `journalctl -o json -r -n <n>` with the filters, from `--cursor=<c>` when given (newest first).
/// `n` is always passed: no query reads the whole journal.
pub fn query_argv(files: &[String], filter: &Filter, cursor: Option<&str>, n: usize) -> Vec<String> {
    let mut argv = base_argv(files);
    argv.extend(["-o".into(), "json".into(), format!("--output-fields={OUTPUT_FIELDS}"), "-r".into()]);
    argv.push(format!("-n{}", n.max(1)));
    if let Some(c) = cursor {
        argv.push(format!("--cursor={c}"));
    }
    push_filters(&mut argv, filter);
    argv
}

/// `journalctl -o json -n <n> --cursor=<c>` (oldest first): what came since the entry `c` (which is
/// printed first, to prove it still exists). Without a cursor: the newest entry alone.
pub fn follow_argv(files: &[String], cursor: Option<&str>, n: usize) -> Vec<String> {
    let mut argv = base_argv(files);
    argv.extend(["-o".into(), "json".into(), format!("--output-fields={OUTPUT_FIELDS}")]);
    match cursor {
        Some(c) => argv.extend([format!("-n{}", n.max(1)), format!("--cursor={c}")]),
        None => argv.extend(["-r".into(), "-n1".into()]),
    }
    argv
}

pub fn boots_argv(files: &[String]) -> Vec<String> {
    let mut argv = base_argv(files);
    argv.extend(["--list-boots".into(), "-o".into(), "json".into()]);
    argv
}

fn push_filters(argv: &mut Vec<String>, f: &Filter) {
    if let Some(p) = f.priority {
        argv.push(format!("--priority={p}"));
    }
    if let Some(u) = &f.unit {
        argv.push(format!("--unit={u}"));
    }
    if let Some(b) = &f.boot {
        argv.push(format!("--boot={}", b.arg()));
    }
    if let Some(s) = f.since_us {
        argv.push(format!("--since={}", seconds_arg(s)));
    }
    if let Some(u) = f.until_us {
        argv.push(format!("--until={}", seconds_arg(u)));
    }
    if let Some(t) = &f.text {
        argv.push(format!("--grep={}", regex_escape(t)));
        argv.push("--case-sensitive=false".into());
    }
}

/// Turns the output of [`query_argv`] (run with `limit + 1` entries when a cursor was given) into a
/// page. Returns `None` when a cursor was given but its entry was not the first printed: the entry
/// is gone (rotation) or never matched these filters, and the caller starts again from the newest.
pub fn page_from_cursor_run(mut entries: Vec<Entry>, cursor: Option<&str>, limit: usize) -> Option<Page> {
    if let Some(c) = cursor {
        if entries.first().map(|e| e.cursor.as_str()) != Some(c) {
            return None;
        }
        entries.remove(0);
    }
    entries.truncate(limit);
    let next_cursor = (entries.len() == limit).then(|| entries.last().map(|e| e.cursor.clone())).flatten();
    Some(Page { entries, next_cursor, cursor_reset: false })
}

/// A recorded journal (a `journalctl -o json` dump) queried in memory: the same filters, cursors and
/// paging as journalctl, newest first.
#[derive(Debug, Clone, Default)]
pub struct Dump {
    /// Oldest first, as journalctl prints without `-r`.
    pub entries: Vec<Entry>,
    pub boots: Vec<Boot>,
}

impl Dump {
    /// Builds a dump from parsed entries, moving every timestamp by `shift_us` (the demo shifts its
    /// recording so that its newest entry is "now").
    pub fn new(mut entries: Vec<Entry>, shift_us: i64) -> Dump {
        for e in &mut entries {
            e.ts_us += shift_us;
        }
        entries.sort_by_key(|e| e.ts_us);
        let boots = boots_of(&entries);
        Dump { entries, boots }
    }

    pub fn newest_us(&self) -> Option<i64> {
        self.entries.last().map(|e| e.ts_us)
    }

    pub fn query(&self, q: &Query) -> Page {
        let boot = q.filter.boot.as_ref().map(|b| b.resolve(&self.boots));
        // An offset past the oldest boot selects nothing (journalctl fails the same way).
        if boot == Some(None) {
            return Page::default();
        }
        let boot = boot.flatten();
        let keep = |e: &&Entry| q.filter.matches(e, boot);
        let newest_first = || self.entries.iter().rev().filter(keep);
        // Skip to just past the cursor's entry; without it (rotated away), start again from the top.
        let mut cursor_reset = false;
        let skip = match &q.cursor {
            None => 0,
            Some(c) => match newest_first().position(|e| &e.cursor == c) {
                Some(i) => i + 1,
                None => {
                    cursor_reset = true;
                    0
                }
            },
        };
        let rest: Vec<&Entry> = newest_first().skip(skip).take(q.limit.max(1)).collect();
        let entries: Vec<Entry> = rest.into_iter().cloned().collect();
        let next_cursor =
            (entries.len() == q.limit.max(1)).then(|| entries.last().map(|e| e.cursor.clone())).flatten();
        Page { entries, next_cursor, cursor_reset }
    }
}

#[cfg(test)]
mod tests {
    // Tests read their fixtures and run their scripted peers directly (clippy.toml bans it elsewhere).
    #![allow(clippy::disallowed_methods)]

    use super::*;

    const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/upstream/journalctl");

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{DIR}/{name}")).unwrap()
    }

    fn all() -> Vec<Entry> {
        let (entries, errors) = parse_entries(&fixture("generated_pve1_journalctl-252_-o_json.jsonl"));
        assert!(errors.is_empty(), "{errors:?}");
        entries
    }

    #[test]
    fn parses_every_json_fixture_without_errors() {
        let mut seen = 0;
        for f in std::fs::read_dir(DIR).unwrap() {
            let name = f.unwrap().file_name().into_string().unwrap();
            if !name.ends_with(".jsonl") {
                continue;
            }
            let text = fixture(&name);
            let (entries, errors) = parse_entries(&text);
            assert!(errors.is_empty(), "{name}: {errors:?}");
            assert_eq!(entries.len(), text.lines().count(), "{name}");
            for e in &entries {
                assert!(e.cursor.starts_with("s="), "{name}: {}", e.cursor);
                assert!(e.ts_us > 1_700_000_000_000_000, "{name}");
                assert!(e.boot.as_deref().is_some_and(|b| b.len() == 32), "{name}");
            }
            seen += 1;
        }
        assert_eq!(seen, 3, "the three json fixtures");
    }

    #[test]
    fn fields_arrays_bytes_and_multi_line_messages() {
        let entries = all();
        assert_eq!(entries.len(), 32);
        // A non-UTF-8 MESSAGE is an array of bytes: decoded lossily, the rest kept.
        let bin = entries.iter().find(|e| e.message.contains("wait_for_agent_lock")).unwrap();
        assert!(bin.message.starts_with("status change wait_for_agent_lock => active "), "{:?}", bin.message);
        assert!(bin.message.contains('\u{FFFD}') && bin.message.ends_with("(binary tail)"));
        assert_eq!(bin.identifier.as_deref(), Some("pve-ha-lrm"));
        // The OOM kill inside LXC 105, from the kernel.
        let oom = entries.iter().find(|e| e.message.contains("Killed process 231877 (java)")).unwrap();
        assert_eq!((oom.identifier.as_deref(), oom.priority), (Some("kernel"), Some(3)));
        assert_eq!(oom.hostname.as_deref(), Some("pve1"));
        // Numbers arrive as strings.
        let pvestatd = entries.iter().find(|e| e.message.contains("backup-nfs")).unwrap();
        assert!(pvestatd.pid.is_some() && pvestatd.unit.as_deref() == Some("pvestatd.service"));
        // systemd messages about a unit carry UNIT=.
        assert!(entries.iter().any(|e| e.about_unit.is_some() && e.unit.as_deref() == Some("init.scope")));
        // Newest entry's timestamp, served in ms.
        let json = serde_json::to_value(entries.last().unwrap()).unwrap();
        assert_eq!(json["ts"], 1_732_250_900_000i64);
        assert!(json.get("about_unit").is_none());
    }

    #[test]
    fn repeated_fields_become_arrays_and_are_joined_or_first() {
        let line = r#"{"__CURSOR":"s=1;i=1","__REALTIME_TIMESTAMP":"1700000000000000","MESSAGE":["one","two"],"SYSLOG_IDENTIFIER":["a","b"],"PRIORITY":"4","_PID":["12","13"],"TAG":["alpha","beta"]}"#;
        let e = parse_entry(line).unwrap();
        assert_eq!(e.message, "one\ntwo");
        assert_eq!((e.identifier.as_deref(), e.pid, e.priority), (Some("a"), Some(12), Some(4)));
        // The fixture's repeated TAG field parses too (it is just ignored).
        let text = fixture("generated_pve1_journalctl-252_-o_json.jsonl");
        assert!(text.contains(r#""TAG":["alpha","beta"]"#));
        // Multi-line messages are kept as they are.
        let e = parse_entry(r#"{"__CURSOR":"c","__REALTIME_TIMESTAMP":"1","MESSAGE":"a\nb\n  c"}"#).unwrap();
        assert_eq!(e.message, "a\nb\n  c");
        // null (over the data threshold) is an empty message, not an error.
        let e = parse_entry(r#"{"__CURSOR":"c","__REALTIME_TIMESTAMP":"1","MESSAGE":null}"#).unwrap();
        assert_eq!(e.message, "");
    }

    #[test]
    fn a_malformed_line_is_named_and_the_rest_is_served() {
        let text = fixture("generated_pve1_journalctl-252_-o_json_-p_warning.jsonl");
        let mut lines: Vec<&str> = text.lines().collect();
        let n = lines.len();
        lines.insert(2, "{\"__CURSOR\": broken");
        lines.insert(4, r#"{"MESSAGE":"no cursor","__REALTIME_TIMESTAMP":"1"}"#);
        let (entries, errors) = parse_entries(&lines.join("\n"));
        assert_eq!(entries.len(), n);
        assert_eq!(errors.len(), 2);
        let msg = errors[0].to_string();
        assert!(msg.contains("line 3") && msg.contains("broken"), "{msg}");
        assert!(errors[1].to_string().contains("line 5") && errors[1].to_string().contains("__CURSOR"));
    }

    #[test]
    fn warning_fixture_is_the_priority_filter_of_the_full_output() {
        let (warn, _) = parse_entries(&fixture("generated_pve1_journalctl-252_-o_json_-p_warning.jsonl"));
        let f = Filter { priority: Some(4), ..Default::default() };
        let all = all();
        let ours: Vec<&str> = all.iter().filter(|e| f.matches(e, None)).map(|e| e.cursor.as_str()).collect();
        assert!(!ours.is_empty());
        assert_eq!(ours, warn.iter().map(|e| e.cursor.as_str()).collect::<Vec<_>>());
    }

    #[test]
    fn previous_boot_fixture_matches_boot_offset_minus_one() {
        let (prev, _) = parse_entries(&fixture("generated_pve1_journalctl-252_-o_json_-b_-1.jsonl"));
        let dump = Dump::new(all(), 0);
        assert_eq!(dump.boots.len(), 2);
        assert_eq!(dump.boots[0].index, 0);
        let q = Query {
            filter: Filter { boot: Some(BootSel::Offset(-1)), ..Default::default() },
            cursor: None,
            limit: 50,
        };
        let page = dump.query(&q);
        let mut got: Vec<&str> = page.entries.iter().map(|e| e.cursor.as_str()).collect();
        got.reverse();
        assert_eq!(got, prev.iter().map(|e| e.cursor.as_str()).collect::<Vec<_>>());
        assert_eq!(page.next_cursor, None, "short page: the end");
        let q2 = Query { filter: Filter { boot: Some(BootSel::Offset(-2)), ..Default::default() }, ..q };
        assert!(dump.query(&q2).entries.is_empty());
    }

    #[test]
    fn boots_json_parses_newest_first() {
        let text = r#"[{"index":-1,"boot_id":"1a2b3c4d5e6f40718293a4b5c6d7e8f9","first_entry":1732077200000000,"last_entry":1732077205000000},{"index":0,"boot_id":"7c1e4a9b2f3d4e5f8a9b0c1d2e3f4a5b","first_entry":1732250010000000,"last_entry":1732250900000000}]"#;
        let boots = parse_boots(text).unwrap();
        assert_eq!(boots[0].boot_id, "7c1e4a9b2f3d4e5f8a9b0c1d2e3f4a5b");
        assert_eq!(boots_of(&all()), boots, "computed from entries as journalctl lists them");
        assert!(parse_boots("[{\"index\":0}").unwrap_err().to_string().contains("line 1"));
        assert!(parse_boots("").unwrap().is_empty());
    }

    #[test]
    fn dump_pages_by_cursor_without_gaps_or_duplicates() {
        let dump = Dump::new(all(), 0);
        let mut q = Query { limit: 5, ..Default::default() };
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let page = dump.query(&q);
            assert!(!page.cursor_reset);
            seen.extend(page.entries.iter().map(|e| e.cursor.clone()));
            pages += 1;
            match page.next_cursor {
                Some(c) => q.cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(pages, 7, "32 entries in pages of 5");
        let mut all_cursors: Vec<String> = dump.entries.iter().rev().map(|e| e.cursor.clone()).collect();
        assert_eq!(seen, all_cursors);
        all_cursors.dedup();
        assert_eq!(all_cursors.len(), 32);
        // A cursor that is not there starts again from the newest entry, and says so.
        let page = dump.query(&Query { cursor: Some("s=gone".into()), limit: 3, ..Default::default() });
        assert!(page.cursor_reset);
        assert_eq!(page.entries[0].cursor, dump.entries.last().unwrap().cursor);
    }

    #[test]
    fn filters_by_unit_text_time_and_shift() {
        let dump = Dump::new(all(), 0);
        let q = |filter: Filter| dump.query(&Query { filter, cursor: None, limit: 100 }).entries;
        let unit = q(Filter { unit: Some(unit_name("pvestatd")), ..Default::default() });
        assert!(!unit.is_empty() && unit.iter().all(|e| e.unit.as_deref() == Some("pvestatd.service")));
        let oom = q(Filter { text: Some("KILLED PROCESS".into()), ..Default::default() });
        assert_eq!(oom.len(), 1);
        let newest = dump.newest_us().unwrap();
        let recent = q(Filter { since_us: Some(newest - 200_000_000), ..Default::default() });
        assert!(recent.iter().all(|e| e.ts_us >= newest - 200_000_000) && !recent.is_empty());
        let shifted = Dump::new(all(), 1_000_000);
        assert_eq!(shifted.newest_us(), Some(newest + 1_000_000));
    }

    #[test]
    fn argv_is_bounded_and_escaped() {
        let f = Filter {
            priority: Some(3),
            unit: Some("pveproxy.service".into()),
            boot: Some(BootSel::Offset(-1)),
            since_us: Some(1_700_000_000_500_000),
            until_us: None,
            text: Some("a.b (c)".into()),
        };
        let argv = query_argv(&["/tmp/x.journal".into()], &f, Some("s=1"), 51);
        let s = argv.join(" ");
        assert!(s.starts_with("journalctl --no-pager -q --file=/tmp/x.journal -o json"), "{s}");
        for want in ["-r", "-n51", "--cursor=s=1", "--priority=3", "--unit=pveproxy.service", "--boot=-1"] {
            assert!(argv.iter().any(|a| a == want), "{want} in {s}");
        }
        assert!(argv.contains(&"--since=@1700000000.500000".to_string()));
        assert!(argv.contains(&r"--grep=a\.b\ \(c\)".to_string()), "{s}");
        assert!(follow_argv(&[], None, 10).contains(&"-n1".to_string()));
        assert!(boots_argv(&["/var/log/journal".into()]).contains(&"--directory=/var/log/journal".into()));
    }

    #[test]
    fn boot_and_unit_arguments_are_validated() {
        assert_eq!(BootSel::parse("-1"), Ok(BootSel::Offset(-1)));
        assert_eq!(
            BootSel::parse("7C1E4A9B-2F3D-4E5F-8A9B-0C1D2E3F4A5B"),
            Ok(BootSel::Id("7c1e4a9b2f3d4e5f8a9b0c1d2e3f4a5b".into()))
        );
        assert!(BootSel::parse("3").is_err());
        assert!(BootSel::parse("; rm -rf").is_err());
        assert_eq!(unit_name("pveproxy"), "pveproxy.service");
        assert_eq!(unit_name("cron.timer"), "cron.timer");
    }
}
