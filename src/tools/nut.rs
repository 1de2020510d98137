//! NUT (Network UPS Tools): the upsd line protocol (port 3493) and the decoding of UPS variables.
//!
//! upsd speaks a tiny text protocol (see `docs/net-protocol.txt` in networkupstools/nut and the real
//! transcript in `tests/fixtures/upstream/nut/`): a command per line, a reply per line, lists framed by
//! `BEGIN LIST ...` / `END LIST ...`, failures as `ERR <CODE>`. Values are always double-quoted, with
//! `"` and `\` escaped by a backslash. This module builds the commands, splits and checks the replies
//! and decodes `ups.status` and the usual variables; the bytes travel through
//! [`crate::host::nut::NutTransport`] (TCP to upsd on a live host, a recorded file in a replay), so the
//! demo exercises exactly this parsing.
//!
//! Everything is bounded: a reply line longer than [`MAX_LINE`] or a list longer than [`MAX_LIST`] is
//! an error, never an allocation without end.

use std::collections::BTreeMap;

use serde::Serialize;

// The wire's framing bounds live with the wire (host/nut.rs reads the lines); re-exported here.
pub use crate::host::nut::{MAX_LINE, MAX_LIST, is_list_begin};
use crate::host::nut::{NutIoError, NutTransport};

pub use crate::model::nut::{Flag, Reading, Status};

/// Most UPSes monitored per server.
pub const MAX_UPS: usize = 64;

/// The `ERR <code>` replies of upsd (docs/net-protocol.txt, "Error responses").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrCode {
    AccessDenied,
    UnknownUps,
    VarNotSupported,
    CmdNotSupported,
    InvalidArgument,
    InstcmdFailed,
    SetFailed,
    Readonly,
    TooLong,
    FeatureNotSupported,
    FeatureNotConfigured,
    AlreadySslMode,
    DriverNotConnected,
    DataStale,
    AlreadyLoggedIn,
    InvalidPassword,
    AlreadySetPassword,
    InvalidUsername,
    AlreadySetUsername,
    UsernameRequired,
    PasswordRequired,
    UnknownCommand,
    InvalidValue,
    Other(String),
}

impl ErrCode {
    pub fn parse(code: &str) -> ErrCode {
        match code {
            "ACCESS-DENIED" => ErrCode::AccessDenied,
            "UNKNOWN-UPS" => ErrCode::UnknownUps,
            "VAR-NOT-SUPPORTED" => ErrCode::VarNotSupported,
            "CMD-NOT-SUPPORTED" => ErrCode::CmdNotSupported,
            "INVALID-ARGUMENT" => ErrCode::InvalidArgument,
            "INSTCMD-FAILED" => ErrCode::InstcmdFailed,
            "SET-FAILED" => ErrCode::SetFailed,
            "READONLY" => ErrCode::Readonly,
            "TOO-LONG" => ErrCode::TooLong,
            "FEATURE-NOT-SUPPORTED" => ErrCode::FeatureNotSupported,
            "FEATURE-NOT-CONFIGURED" => ErrCode::FeatureNotConfigured,
            "ALREADY-SSL-MODE" => ErrCode::AlreadySslMode,
            "DRIVER-NOT-CONNECTED" => ErrCode::DriverNotConnected,
            "DATA-STALE" => ErrCode::DataStale,
            "ALREADY-LOGGED-IN" => ErrCode::AlreadyLoggedIn,
            "INVALID-PASSWORD" => ErrCode::InvalidPassword,
            "ALREADY-SET-PASSWORD" => ErrCode::AlreadySetPassword,
            "INVALID-USERNAME" => ErrCode::InvalidUsername,
            "ALREADY-SET-USERNAME" => ErrCode::AlreadySetUsername,
            "USERNAME-REQUIRED" => ErrCode::UsernameRequired,
            "PASSWORD-REQUIRED" => ErrCode::PasswordRequired,
            "UNKNOWN-COMMAND" => ErrCode::UnknownCommand,
            "INVALID-VALUE" => ErrCode::InvalidValue,
            other => ErrCode::Other(other.chars().take(64).collect()),
        }
    }

    /// The code as upsd spells it.
    pub fn as_str(&self) -> &str {
        match self {
            ErrCode::AccessDenied => "ACCESS-DENIED",
            ErrCode::UnknownUps => "UNKNOWN-UPS",
            ErrCode::VarNotSupported => "VAR-NOT-SUPPORTED",
            ErrCode::CmdNotSupported => "CMD-NOT-SUPPORTED",
            ErrCode::InvalidArgument => "INVALID-ARGUMENT",
            ErrCode::InstcmdFailed => "INSTCMD-FAILED",
            ErrCode::SetFailed => "SET-FAILED",
            ErrCode::Readonly => "READONLY",
            ErrCode::TooLong => "TOO-LONG",
            ErrCode::FeatureNotSupported => "FEATURE-NOT-SUPPORTED",
            ErrCode::FeatureNotConfigured => "FEATURE-NOT-CONFIGURED",
            ErrCode::AlreadySslMode => "ALREADY-SSL-MODE",
            ErrCode::DriverNotConnected => "DRIVER-NOT-CONNECTED",
            ErrCode::DataStale => "DATA-STALE",
            ErrCode::AlreadyLoggedIn => "ALREADY-LOGGED-IN",
            ErrCode::InvalidPassword => "INVALID-PASSWORD",
            ErrCode::AlreadySetPassword => "ALREADY-SET-PASSWORD",
            ErrCode::InvalidUsername => "INVALID-USERNAME",
            ErrCode::AlreadySetUsername => "ALREADY-SET-USERNAME",
            ErrCode::UsernameRequired => "USERNAME-REQUIRED",
            ErrCode::PasswordRequired => "PASSWORD-REQUIRED",
            ErrCode::UnknownCommand => "UNKNOWN-COMMAND",
            ErrCode::InvalidValue => "INVALID-VALUE",
            ErrCode::Other(s) => s,
        }
    }
}

/// Why a NUT request failed.
#[derive(Debug, thiserror::Error)]
pub enum NutError {
    /// Nothing accepts connections at the address: no upsd on this host (a state, not a fault).
    #[error("no upsd at {addr}")]
    NotListening { addr: String },
    /// The connection broke (upsd restarted or dropped us); the caller reconnects.
    #[error("connection to upsd at {addr} lost: {message}")]
    Io { addr: String, message: String },
    #[error("upsd at {addr} did not answer {command:?} within {after_ms} ms")]
    Timeout { addr: String, command: String, after_ms: u64 },
    /// upsd answered `ERR <code>`.
    #[error("upsd answered ERR {}", .0.as_str())]
    Server(ErrCode),
    /// A reply that does not follow the protocol; names the offending line.
    #[error("unexpected reply from upsd at line {line}: {message} (line: {text:?})")]
    Protocol { line: usize, text: String, message: String },
}

impl NutError {
    fn protocol(line: usize, text: &str, message: impl Into<String>) -> NutError {
        NutError::Protocol { line, text: text.chars().take(200).collect(), message: message.into() }
    }
    /// Whether the connection is unusable after this error (reconnect before the next request).
    pub fn breaks_connection(&self) -> bool {
        matches!(self, NutError::NotListening { .. } | NutError::Io { .. } | NutError::Timeout { .. })
            || matches!(self, NutError::Protocol { .. })
    }
}

impl From<NutIoError> for NutError {
    fn from(e: NutIoError) -> NutError {
        match e {
            NutIoError::Refused { addr } => NutError::NotListening { addr },
            NutIoError::Io { addr, message } => NutError::Io { addr, message },
            NutIoError::Timeout { addr, command, after_ms } => NutError::Timeout { addr, command, after_ms },
            NutIoError::LineTooLong { addr } => {
                NutError::Io { addr, message: format!("a reply line is longer than {MAX_LINE} bytes") }
            }
            NutIoError::ListTooLong { addr } => {
                NutError::Io { addr, message: format!("a list reply has more than {MAX_LIST} entries") }
            }
        }
    }
}

/// Quotes a value for a command: `"` and `\` are escaped with `\` (docs/net-protocol.txt, "Quoting").
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Whether a word can be sent bare (UPS and variable names): no spaces, quotes, control characters.
pub fn is_bare_word(word: &str) -> bool {
    !word.is_empty()
        && word.len() <= 256
        && word.chars().all(|c| c.is_ascii_graphic() && c != '"' && c != '\\')
}

/// Splits a reply line into words; a double-quoted word may hold spaces and `\"`, `\\` escapes.
pub fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
            chars.next();
        }
        let Some(&first) = chars.peek() else { break };
        let mut word = String::new();
        if first == '"' {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some(e) => word.push(e),
                        None => return Err("a backslash ends the line".into()),
                    },
                    '"' => {
                        closed = true;
                        break;
                    }
                    c => word.push(c),
                }
            }
            if !closed {
                return Err("unterminated quoted value".into());
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ' ' || c == '\t' {
                    break;
                }
                word.push(c);
                chars.next();
            }
        }
        words.push(word);
    }
    Ok(words)
}

/// Checks a single-line reply: `ERR <code>` becomes [`NutError::Server`].
pub fn check_reply(line: &str) -> Result<&str, NutError> {
    if let Some(code) = line.strip_prefix("ERR ") {
        let code = code.split_whitespace().next().unwrap_or("");
        return Err(NutError::Server(ErrCode::parse(code)));
    }
    Ok(line)
}

/// Parses the lines of a list reply (`BEGIN LIST <what>` ... `END LIST <what>`), checking the framing
/// and that each entry starts with `kind` followed by `prefix` words; returns each entry's remaining
/// words. `what` is e.g. `UPS` or `VAR cp1500`.
fn parse_list(
    lines: &[String],
    what: &str,
    kind: &str,
    prefix: &[&str],
) -> Result<Vec<Vec<String>>, NutError> {
    let Some(first) = lines.first() else {
        return Err(NutError::protocol(0, "", "empty reply"));
    };
    check_reply(first)?;
    if first.as_str() != format!("BEGIN LIST {what}") {
        return Err(NutError::protocol(1, first, format!("expected BEGIN LIST {what}")));
    }
    let Some(last) = lines.last().filter(|_| lines.len() >= 2) else {
        return Err(NutError::protocol(1, first, "list reply without END LIST"));
    };
    if last.as_str() != format!("END LIST {what}") {
        return Err(NutError::protocol(lines.len(), last, format!("expected END LIST {what}")));
    }
    if lines.len() - 2 > MAX_LIST {
        return Err(NutError::protocol(MAX_LIST + 2, &lines[MAX_LIST + 1], "list too long"));
    }
    let mut out = Vec::with_capacity(lines.len() - 2);
    for (i, line) in lines[1..lines.len() - 1].iter().enumerate() {
        let n = i + 2;
        let words = split_words(line).map_err(|m| NutError::protocol(n, line, m))?;
        let head_ok = words.first().is_some_and(|w| w == kind)
            && words.len() > prefix.len()
            && prefix.iter().zip(&words[1..]).all(|(p, w)| p == w);
        if !head_ok {
            return Err(NutError::protocol(n, line, format!("expected {kind} {}", prefix.join(" "))));
        }
        out.push(words[1 + prefix.len()..].to_vec());
    }
    Ok(out)
}

/// `LIST UPS` reply -> `(name, description)` pairs.
pub fn parse_list_ups(lines: &[String]) -> Result<Vec<(String, String)>, NutError> {
    parse_list(lines, "UPS", "UPS", &[])?
        .into_iter()
        .enumerate()
        .map(|(i, w)| match w.as_slice() {
            [name, desc] => Ok((name.clone(), desc.clone())),
            [name] => Ok((name.clone(), String::new())),
            _ => Err(NutError::protocol(i + 2, &lines[i + 1], "expected UPS <name> \"<description>\"")),
        })
        .collect()
}

/// `LIST VAR <ups>` reply -> variables by name.
pub fn parse_list_var(ups: &str, lines: &[String]) -> Result<BTreeMap<String, String>, NutError> {
    let mut vars = BTreeMap::new();
    for (i, w) in parse_list(lines, &format!("VAR {ups}"), "VAR", &[ups])?.into_iter().enumerate() {
        match <[String; 2]>::try_from(w) {
            Ok([name, value]) => {
                vars.insert(name, value);
            }
            Err(_) => {
                return Err(NutError::protocol(
                    i + 2,
                    &lines[i + 1],
                    "expected VAR <ups> <name> \"<value>\"",
                ));
            }
        }
    }
    Ok(vars)
}

/// Parses a dummy-ups `.dev` file or `upsc` output (`name: value` per line). `#` comment lines (the
/// DDL's `# DEVICE:...` blocks) are skipped, and so are the DDL's trailing `#BAD:`/`#COMMENT:`
/// annotations after a value; `TIMER` lines of `.seq` files end the first state.
pub fn parse_dev(text: &str) -> Result<BTreeMap<String, String>, crate::host::ToolError> {
    let mut vars = BTreeMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with("TIMER ") {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(crate::host::ToolError::parse(
                "NUT device dump",
                i + 1,
                raw,
                "expected `name: value`",
            ));
        };
        let name = name.trim();
        if !is_bare_word(name) {
            return Err(crate::host::ToolError::parse("NUT device dump", i + 1, raw, "bad variable name"));
        }
        let value = match value.find(" #") {
            Some(at) => &value[..at],
            None => value,
        };
        vars.insert(name.to_string(), value.trim().to_string());
    }
    Ok(vars)
}

/// Decodes a space-separated `ups.status` (order varies: `LB OL CHRG`; empty exists).
pub fn decode_status(raw: &str) -> Status {
    let mut s = Status { raw: raw.trim().to_string(), ..Default::default() };
    for word in raw.split_whitespace().take(32) {
        match Flag::parse(word) {
            Some(f) if !s.flags.contains(&f) => s.flags.push(f),
            Some(_) => {}
            // upsd itself answers `WAIT` until the driver's first update (server/netget.c).
            None if word == "WAIT" => s.waiting = true,
            None => s.unknown.push(word.chars().take(32).collect()),
        }
    }
    s
}

fn num(vars: &BTreeMap<String, String>, key: &str) -> Option<f64> {
    vars.get(key).and_then(|v| v.trim().parse::<f64>().ok()).filter(|v| v.is_finite())
}

fn text(vars: &BTreeMap<String, String>, key: &str) -> Option<String> {
    vars.get(key).map(|v| v.trim()).filter(|v| !v.is_empty()).map(|v| v.chars().take(128).collect())
}

/// Decodes the variables of one UPS.
pub fn decode(vars: &BTreeMap<String, String>) -> Reading {
    // Some firmwares put a vendor name in battery.mfr.date (CyberPower: "CPS"); keep only date-like
    // values so the UI never shows "Battery date: CPS".
    let date_like = |v: String| v.chars().any(|c| c.is_ascii_digit()).then_some(v);
    Reading {
        status: decode_status(vars.get("ups.status").map(String::as_str).unwrap_or("")),
        alarm: text(vars, "ups.alarm"),
        charge_pct: num(vars, "battery.charge"),
        charge_low_pct: num(vars, "battery.charge.low"),
        runtime_s: num(vars, "battery.runtime"),
        load_pct: num(vars, "ups.load"),
        input_voltage: num(vars, "input.voltage"),
        input_voltage_nominal: num(vars, "input.voltage.nominal"),
        output_voltage: num(vars, "output.voltage"),
        battery_voltage: num(vars, "battery.voltage"),
        battery_date: text(vars, "battery.date")
            .and_then(date_like)
            .or_else(|| text(vars, "battery.mfr.date").and_then(date_like)),
        realpower_w: num(vars, "ups.realpower"),
        realpower_nominal_w: num(vars, "ups.realpower.nominal"),
        power_nominal_va: num(vars, "ups.power.nominal"),
        model: text(vars, "device.model").or_else(|| text(vars, "ups.model")),
        mfr: text(vars, "device.mfr").or_else(|| text(vars, "ups.mfr")),
        serial: text(vars, "device.serial").or_else(|| text(vars, "ups.serial")),
        test_result: text(vars, "ups.test.result"),
        driver: text(vars, "driver.name"),
    }
}

/// A session with one upsd: the commands this program sends, over any [`NutTransport`].
pub struct Client<'a> {
    pub transport: &'a mut NutTransport,
}

impl Client<'_> {
    /// Sends `USERNAME`/`PASSWORD` (values quoted; the password never reaches a log line).
    pub async fn login(&mut self, username: &str, password: &str) -> Result<(), NutError> {
        for (cmd, value) in [("USERNAME", username), ("PASSWORD", password)] {
            let reply = self.transport.request(&format!("{cmd} {}", quote(value)), cmd).await?;
            let line = reply.first().map(String::as_str).unwrap_or("");
            if check_reply(line)? != "OK" {
                return Err(NutError::protocol(1, line, format!("expected OK to {cmd}")));
            }
        }
        Ok(())
    }

    /// `LIST UPS`.
    pub async fn list_ups(&mut self) -> Result<Vec<(String, String)>, NutError> {
        let lines = self.transport.request("LIST UPS", "LIST UPS").await?;
        let mut list = parse_list_ups(&lines)?;
        list.truncate(MAX_UPS);
        Ok(list)
    }

    /// `LIST VAR <ups>`.
    pub async fn list_var(&mut self, ups: &str) -> Result<BTreeMap<String, String>, NutError> {
        if !is_bare_word(ups) {
            return Err(NutError::protocol(0, ups, "not a valid UPS name"));
        }
        let cmd = format!("LIST VAR {ups}");
        let lines = self.transport.request(&cmd, &cmd).await?;
        parse_list_var(ups, &lines)
    }
}

#[cfg(test)]
mod tests {
    // Tests read their fixtures and run their scripted peers directly (clippy.toml bans it elsewhere).
    #![allow(clippy::disallowed_methods)]

    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/upstream/nut");

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap()
    }

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_string).collect()
    }

    /// The server lines of one command's reply in the recorded transcript.
    fn transcript_reply(command: &str) -> Vec<String> {
        let t = fixture("upsd-2.8.0_dummy-ups_protocol_transcript.txt");
        let mut out = Vec::new();
        let mut on = false;
        for line in t.lines() {
            if let Some(c) = line.strip_prefix("C: ") {
                if on {
                    break;
                }
                on = c == command;
            } else if let Some(s) = line.strip_prefix("S: ")
                && on
            {
                out.push(s.to_string());
            }
        }
        assert!(!out.is_empty(), "transcript has no reply to {command}");
        out
    }

    #[test]
    fn quoting_round_trips_through_the_word_splitter() {
        let nasty = r#"say "hi" \ bye"#;
        let q = quote(nasty);
        assert_eq!(q, r#""say \"hi\" \\ bye""#);
        assert_eq!(split_words(&format!("VAR ups x {q}")).unwrap(), vec!["VAR", "ups", "x", nasty]);
        assert_eq!(split_words(r#"UPS a """#).unwrap(), vec!["UPS", "a", ""]);
        assert!(split_words(r#"VAR a b "open"#).is_err());
        assert!(split_words(r#"VAR a b "x\"#).is_err());
        assert!(is_bare_word("cp1500") && !is_bare_word("a b") && !is_bare_word("") && !is_bare_word("a\"b"));
    }

    #[test]
    fn transcript_list_ups_and_list_var() {
        let ups = parse_list_ups(&transcript_reply("LIST UPS")).unwrap();
        assert_eq!(
            ups,
            vec![
                ("cp1500".to_string(), "CyberPower replay".to_string()),
                ("evo".to_string(), "sequence replay".to_string())
            ]
        );
        let vars = parse_list_var("evo", &transcript_reply("LIST VAR evo")).unwrap();
        assert_eq!(vars.len(), 52);
        assert_eq!(vars["ups.status"], "OL CHRG");
        assert_eq!(vars["outlet.1.desc"], "PowerShare Outlet 1");
        let r = decode(&vars);
        assert_eq!(r.status.flags, vec![Flag::OL, Flag::CHRG]);
        assert_eq!((r.charge_pct, r.runtime_s, r.load_pct), (Some(90.0), Some(3690.0), Some(10.0)));
        assert_eq!(r.power_nominal_va, Some(500.0));
        assert_eq!(r.model.as_deref(), Some("Pulsar Evolution 500"));
        // A VAR list asked for one UPS must not accept another UPS's lines.
        assert!(matches!(
            parse_list_var("cp1500", &transcript_reply("LIST VAR evo")),
            Err(NutError::Protocol { line: 1, .. })
        ));
    }

    #[test]
    fn errors_are_mapped_and_framing_is_checked() {
        for (reply, code) in [
            ("ERR DRIVER-NOT-CONNECTED", ErrCode::DriverNotConnected),
            ("ERR DATA-STALE", ErrCode::DataStale),
            ("ERR UNKNOWN-UPS", ErrCode::UnknownUps),
            ("ERR ACCESS-DENIED", ErrCode::AccessDenied),
            ("ERR VAR-NOT-SUPPORTED", ErrCode::VarNotSupported),
            ("ERR SOMETHING-NEW extra", ErrCode::Other("SOMETHING-NEW".into())),
        ] {
            match parse_list_var("x", &lines(reply)) {
                Err(NutError::Server(c)) => assert_eq!(c, code),
                other => panic!("{reply}: {other:?}"),
            }
            assert_eq!(ErrCode::parse(code.as_str()), code);
        }
        // The transcript's real error replies.
        assert!(matches!(
            check_reply(&transcript_reply("GET VAR nosuchups ups.status")[0]),
            Err(NutError::Server(ErrCode::UnknownUps))
        ));
        assert!(matches!(
            check_reply(&transcript_reply("GET VAR cp1500 no.such.var")[0]),
            Err(NutError::Server(ErrCode::VarNotSupported))
        ));
        let truncated = lines("BEGIN LIST VAR x\nVAR x a \"1\"");
        let err = parse_list_var("x", &truncated).unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        let bad = lines("BEGIN LIST VAR x\nVAR x a \"1\nEND LIST VAR x");
        let err = parse_list_var("x", &bad).unwrap_err();
        assert!(err.to_string().contains("line 2") && err.to_string().contains("unterminated"), "{err}");
        assert!(matches!(parse_list_ups(&lines("OK")), Err(NutError::Protocol { line: 1, .. })));
        let mut long = vec!["BEGIN LIST UPS".to_string()];
        long.extend((0..=MAX_LIST).map(|i| format!("UPS u{i} \"\"")));
        long.push("END LIST UPS".into());
        assert!(parse_list_ups(&long).is_err(), "a list over the bound is refused");
    }

    #[test]
    fn status_flags_decode_in_any_order() {
        let s = decode_status("LB OL CHRG");
        assert_eq!(s.flags, vec![Flag::LB, Flag::OL, Flag::CHRG]);
        assert!(s.has(Flag::LB) && !s.has(Flag::OB));
        let all = "OL OB LB HB RB CHRG DISCHRG BYPASS CAL OFF OVER TRIM BOOST FSD ALARM";
        assert_eq!(decode_status(all).flags.len(), 15);
        let odd = decode_status("  OL WEIRD OL ");
        assert_eq!(
            (odd.flags, odd.unknown, odd.raw.as_str()),
            (vec![Flag::OL], vec!["WEIRD".into()], "OL WEIRD OL")
        );
        assert!(decode_status("").flags.is_empty());
        let wait = decode_status("WAIT");
        assert!(wait.waiting && wait.unknown.is_empty() && wait.flags.is_empty());
        assert_eq!(Flag::LB.severity(), "crit");
        assert_eq!(Flag::OB.label(), "on battery");
    }

    /// Every DDL dump parses; the case named in its file name is decoded.
    #[test]
    fn every_device_dump_decodes() {
        let mut seen = 0;
        for entry in std::fs::read_dir(FIXTURES).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !(name.ends_with(".dev") || name.ends_with(".seq")) {
                continue;
            }
            let vars =
                parse_dev(&std::fs::read_to_string(&path).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"));
            let r = decode(&vars);
            // apc_modbus reports `HE` (high-efficiency mode), a word outside the classic flag set: kept
            // as an unknown word rather than dropped.
            let expected_unknown: &[&str] = if name.contains("apc_modbus") { &["HE"] } else { &[] };
            assert_eq!(r.status.unknown, expected_unknown, "{name}");
            // Every flag named in upper case in the file name is in the status.
            let stem = name.split('.').next().unwrap();
            for word in stem.split('_').filter(|w| Flag::parse(w).is_some()) {
                assert!(r.status.has(Flag::parse(word).unwrap()), "{name}: {word} missing in {:?}", r.status);
            }
            assert!(r.charge_pct.is_some() || name.contains("no_battery"), "{name}: no charge");
            seen += 1;
        }
        assert_eq!(seen, 14);
    }

    #[test]
    fn device_dump_values_and_quirks() {
        let cp = decode(&parse_dev(&fixture("cyberpower_cp1500pfclcd_OL.dev")).unwrap());
        assert_eq!(cp.status.flags, vec![Flag::OL]);
        assert_eq!((cp.charge_pct, cp.runtime_s, cp.load_pct), (Some(100.0), Some(1530.0), Some(25.0)));
        assert_eq!((cp.input_voltage, cp.output_voltage), (Some(116.0), Some(140.0)));
        assert_eq!(cp.realpower_nominal_w, Some(900.0));
        assert_eq!(cp.battery_date, None, "CyberPower's battery.mfr.date `CPS` is not a date");
        assert_eq!(cp.model.as_deref(), Some("CP1500PFCLCD"));

        let snmp = decode(&parse_dev(&fixture("apc_smartups1000_snmp_OB.dev")).unwrap());
        assert!(snmp.status.has(Flag::OB));
        assert_eq!(snmp.runtime_s, Some(70680.0));

        let rb = decode(&parse_dev(&fixture("eaton_5px2000_ALARM_RB_replace_battery.dev")).unwrap());
        assert_eq!(rb.alarm.as_deref(), Some("Replace battery!"));
        assert!(rb.status.has(Flag::RB) && rb.status.has(Flag::ALARM));

        let apc = decode(&parse_dev(&fixture("apc_smartups750_usbhid_OL.dev")).unwrap());
        assert_eq!(apc.mfr.as_deref(), Some("American Power Conversion"), "trailing spaces trimmed");
        let modbus = decode(&parse_dev(&fixture("apc_smartups750_apc_modbus_OL.dev")).unwrap());
        assert_eq!(modbus.battery_date.as_deref(), Some("2021-04-15"));
        assert_eq!(modbus.charge_pct, Some(100.0), "`100.00` parses");

        let cp900 = decode(&parse_dev(&fixture("cyberpower_cp900avr_OB_DISCHRG.dev")).unwrap());
        assert_eq!(cp900.input_voltage, Some(0.0));

        let seq = parse_dev(&fixture("nut_dummy_evolution500_power_events.seq")).unwrap();
        assert_eq!(decode(&seq).status.flags, vec![Flag::OL, Flag::CHRG], "first state of the sequence");

        let err = parse_dev("battery.charge: 1\nno colon here\n").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }
}
