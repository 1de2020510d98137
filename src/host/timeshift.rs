//! Moves a recording's timestamps forward so that a replayed host looks recorded just now: the demo
//! was "recorded" on 2024-08-01, and without this every backup, scrub and task would be years old.
//! Only the demo command shifts (tests replay exact recordings).
//!
//! What is shifted: JSON number (or numeric-string) values of the keys that hold epoch seconds in
//! pvesh and smartctl output ([`TIME_KEYS`]), and ctime-style dates (`Sun Jul 14 00:34:13 2024`, as in
//! `zpool status` scan lines and smartctl's `asctime`). UPIDs are left alone: they are also argv keys
//! of recorded task logs.

/// JSON keys whose values are unix seconds.
const TIME_KEYS: &[&str] =
    &["time", "starttime", "endtime", "time_t", "next-run", "last_sync", "last_try", "next_sync", "ctime"];

use crate::civil::{MONTHS, civil_from_days, days_from_civil};

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]; // 1970-01-01 was a Thursday

/// Returns `text` with its timestamps moved by `shift_s` seconds.
pub fn shift(text: &str, shift_s: i64) -> String {
    if shift_s == 0 {
        return text.to_string();
    }
    shift_ctime(&shift_json(text, shift_s), shift_s)
}

fn shift_json(text: &str, shift_s: i64) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    while let Some(q) = rest.find('"') {
        out.push_str(&rest[..q]);
        rest = &rest[q..];
        // A key: `"name"` followed by optional spaces and a colon.
        let Some(end) = rest[1..].find('"').map(|e| e + 1) else { break };
        let name = &rest[1..end];
        out.push_str(&rest[..=end]);
        rest = &rest[end + 1..];
        let after = rest.trim_start();
        if !TIME_KEYS.contains(&name) || !after.starts_with(':') {
            continue;
        }
        let ws = rest.len() - after.len();
        out.push_str(&rest[..ws + 1]);
        rest = &rest[ws + 1..];
        let value = rest.trim_start();
        out.push_str(&rest[..rest.len() - value.len()]);
        rest = value;
        let quoted = rest.starts_with('"');
        let digits_at = usize::from(quoted);
        let n = rest[digits_at..].bytes().take_while(u8::is_ascii_digit).count();
        let closes = !quoted || rest[digits_at + n..].starts_with('"');
        // Epoch seconds only (9–10 digits); counters, sizes and durations under that are left alone.
        if (9..=10).contains(&n)
            && closes
            && let Ok(v) = rest[digits_at..digits_at + n].parse::<i64>()
        {
            if quoted {
                out.push('"');
            }
            out.push_str(&(v + shift_s).to_string());
            rest = &rest[digits_at + n..];
            if quoted {
                out.push('"');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// `Www Mmm dd hh:mm:ss yyyy` (day space-padded or not), e.g. `Sun Jul 14 00:34:13 2024`.
fn shift_ctime(text: &str, shift_s: i64) -> String {
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let b = text.as_bytes();
    while i < text.len() {
        if let Some((len, unix)) = parse_ctime_at(&text[i..])
            && (i == 0 || !b[i - 1].is_ascii_alphanumeric())
        {
            out.push_str(&format_ctime(unix + shift_s));
            i += len;
            continue;
        }
        let ch = text[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&text[i..i + ch]);
        i += ch;
    }
    out
}

/// Parses a ctime date at the start of `s`: (its length, unix seconds as if UTC).
fn parse_ctime_at(s: &str) -> Option<(usize, i64)> {
    let day = s.get(..3)?;
    if !DAYS.contains(&day) || s.as_bytes().get(3) != Some(&b' ') {
        return None;
    }
    let month = MONTHS.iter().position(|m| s.get(4..7) == Some(*m))? as u32 + 1;
    let mut p = 7;
    let bytes = s.as_bytes();
    while bytes.get(p) == Some(&b' ') {
        p += 1;
    }
    let dlen = bytes[p..].iter().take_while(|c| c.is_ascii_digit()).count();
    if !(1..=2).contains(&dlen) {
        return None;
    }
    let dom: u32 = s[p..p + dlen].parse().ok()?;
    p += dlen;
    if bytes.get(p) != Some(&b' ') {
        return None;
    }
    p += 1;
    let hms = s.get(p..p + 8)?;
    let (h, m, sec) = (hms.get(0..2)?, hms.get(3..5)?, hms.get(6..8)?);
    if hms.as_bytes()[2] != b':' || hms.as_bytes()[5] != b':' {
        return None;
    }
    let (h, m, sec): (i64, i64, i64) = (h.parse().ok()?, m.parse().ok()?, sec.parse().ok()?);
    p += 8;
    if bytes.get(p) != Some(&b' ') {
        return None;
    }
    let year: i64 = s.get(p + 1..p + 5)?.parse().ok()?;
    p += 5;
    Some((p, days_from_civil(year, month, dom) * 86_400 + h * 3600 + m * 60 + sec))
}

/// ctime(3)'s layout: the day of the month is space-padded to two columns.
fn format_ctime(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let wd = DAYS[days.rem_euclid(7) as usize];
    format!(
        "{wd} {} {d:>2} {:02}:{:02}:{:02} {y}",
        MONTHS[(m - 1) as usize],
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    #[test]
    fn shifts_time_keys_only() {
        let json = r#"[{"endtime":1722477600,"starttime":"1722477000","time": 1722500000,"maxmem":1722500000,"upid":"UPID:pve:0024C794:0614C045:66A84920:vzdump::root@pam:","size":123,"time_t":1722500000}]"#;
        let out = shift(json, DAY);
        assert_eq!(
            out,
            r#"[{"endtime":1722564000,"starttime":"1722563400","time": 1722586400,"maxmem":1722500000,"upid":"UPID:pve:0024C794:0614C045:66A84920:vzdump::root@pam:","size":123,"time_t":1722586400}]"#
        );
        // Short numbers under a time key (durations, zero) are not epochs.
        assert_eq!(shift(r#"{"time":0,"ctime":"12"}"#, DAY), r#"{"time":0,"ctime":"12"}"#);
        assert_eq!(shift("no json at all", DAY), "no json at all");
    }

    #[test]
    fn shifts_ctime_dates() {
        let zpool = "  scan: scrub repaired 0B in 00:10:12 with 0 errors on Sun Jul 14 00:34:13 2024\n";
        // 140 days later: Sun Dec 1 2024.
        assert_eq!(
            shift(zpool, 140 * DAY),
            "  scan: scrub repaired 0B in 00:10:12 with 0 errors on Sun Dec  1 00:34:13 2024\n"
        );
        assert_eq!(
            shift("\"asctime\": \"Thu Aug  1 08:13:20 2024 UTC\"", DAY),
            "\"asctime\": \"Fri Aug  2 08:13:20 2024 UTC\""
        );
        // Across a year boundary, with a time of day that moves.
        assert_eq!(shift("Tue Dec 31 23:00:00 2024", 3600 * 2), "Wed Jan  1 01:00:00 2025");
        // Not a date: left as it is.
        assert_eq!(shift("Sunday Jul 14", DAY), "Sunday Jul 14");
    }
}
