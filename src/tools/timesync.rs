//! Clock synchronisation: `chronyc -c tracking` (chrony, PVE 7+'s default) or, without chrony,
//! `timedatectl show` (systemd-timesyncd). chrony's CSV has 14 fields: reference id, name, stratum,
//! reference time, system time offset (seconds, signed), last offset, RMS offset, frequency, residual
//! frequency, skew, root delay, root dispersion, update interval and leap status
//! (chrony's `client.c`, `process_cmd_tracking`). timedatectl only says whether the clock is
//! synchronised; it carries no offset.

use serde::Serialize;

use crate::host::ToolError;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimeSync {
    /// `chrony` or `timesyncd`.
    pub daemon: String,
    pub synchronized: bool,
    /// The system clock's offset from true time, seconds (chrony only).
    pub offset_s: Option<f64>,
    pub stratum: Option<u32>,
    pub source: Option<String>,
}

pub const CHRONY_ARGV: [&str; 3] = ["chronyc", "-c", "tracking"];
pub const TIMEDATECTL_ARGV: [&str; 2] = ["timedatectl", "show"];

pub fn parse_chrony(text: &str) -> Result<TimeSync, ToolError> {
    const WHAT: &str = "chronyc -c tracking";
    let (n, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| !l.trim().is_empty())
        .ok_or_else(|| ToolError::parse(WHAT, 1, "", "empty output"))?;
    let f: Vec<&str> = line.trim().split(',').collect();
    if f.len() < 14 {
        return Err(ToolError::parse(WHAT, n + 1, line, format!("expected 14 fields, got {}", f.len())));
    }
    let offset: f64 = f[4]
        .parse()
        .map_err(|_| ToolError::parse(WHAT, n + 1, line, "system time offset is not a number"))?;
    let leap = f[13].trim();
    let stratum = f[2].parse().ok();
    // An unsynchronised chrony reports refid 0 / stratum 0 and leap "Not synchronised".
    let synchronized = !leap.starts_with("Not") && stratum.is_some_and(|s: u32| s > 0);
    Ok(TimeSync {
        daemon: "chrony".into(),
        synchronized,
        offset_s: Some(offset),
        stratum,
        source: Some(f[1].to_string()).filter(|s| !s.is_empty()),
    })
}

pub fn parse_timedatectl(text: &str) -> Result<TimeSync, ToolError> {
    let mut synced = None;
    for line in text.lines() {
        if let Some(v) = line.trim().strip_prefix("NTPSynchronized=") {
            synced = Some(v == "yes");
        }
    }
    let synchronized = synced.ok_or_else(|| {
        ToolError::parse("timedatectl show", 1, text.lines().next().unwrap_or(""), "no NTPSynchronized= line")
    })?;
    Ok(TimeSync { daemon: "timesyncd".into(), synchronized, offset_s: None, stratum: None, source: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chrony_csv() {
        let t = parse_chrony(
            "A29FC87B,162.159.200.123,3,1732250000.123456789,-0.000123456,0.000010,0.000200,-12.345,0.001,0.050,0.012345678,0.000456,64.2,Normal\n",
        )
        .unwrap();
        assert!(t.synchronized);
        assert_eq!(t.stratum, Some(3));
        assert!((t.offset_s.unwrap() + 0.000123456).abs() < 1e-12);
        let t =
            parse_chrony("00000000,,0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,1.0,1.0,0.0,Not synchronised\n").unwrap();
        assert!(!t.synchronized);
        assert!(parse_chrony("506 Cannot talk to daemon\n").unwrap_err().to_string().contains("line 1"));
    }

    #[test]
    fn timedatectl_show() {
        let t = parse_timedatectl("Timezone=Etc/UTC\nLocalRTC=no\nCanNTP=yes\nNTP=yes\nNTPSynchronized=no\n")
            .unwrap();
        assert!(!t.synchronized);
        assert!(parse_timedatectl("Timezone=UTC\n").is_err());
    }
}
