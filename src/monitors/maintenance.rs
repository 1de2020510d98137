//! Maintenance windows: one-off (from, to) or weekly (on these weekdays, from this minute of the day,
//! for this long), for one monitor, the monitors of one guest, or all of them. During a window checks
//! still run and are recorded, but a failure notifies no one. Weekly windows are in the host's local
//! time, given as its offset from UTC, and may run past midnight and past the end of the week.

use serde::{Deserialize, Serialize};

const DAY_MIN: i64 = 1440;
const WEEK_MIN: i64 = 7 * DAY_MIN;

/// When a window is open.
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "MaintenanceWhen"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "MaintenanceWhen"))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum When {
    /// From `start` to `end` (unix ms).
    Once { start: i64, end: i64 },
    /// Every week on `days` (`mon` … `sun`) from `start` (`HH:MM`, local time) for `minutes`.
    Weekly { days: Vec<String>, start: String, minutes: u32 },
}

/// What a window covers.
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "MaintenanceScope"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "MaintenanceScope"))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Scope {
    All,
    Monitor { id: i64 },
    Guest { vmid: u64 },
}

/// One maintenance window.
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "MaintenanceWindow"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "MaintenanceWindow"))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Window {
    pub scope: Scope,
    pub when: When,
    #[serde(default)]
    pub note: String,
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// `HH:MM` -> minutes after midnight.
fn minute_of_day(s: &str) -> Option<i64> {
    let (h, m) = s.split_once(':')?;
    let (h, m) = (h.parse::<i64>().ok()?, m.parse::<i64>().ok()?);
    ((0..24).contains(&h) && (0..60).contains(&m) && s.len() == 5).then_some(h * 60 + m)
}

impl When {
    /// What is wrong with it, naming the field.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        match self {
            When::Once { start, end } => {
                // Unix ms from 1970 to the year 9999.
                const LAST_MS: i64 = 253_402_300_799_999;
                if !(0..=LAST_MS).contains(start) {
                    return Err(("when.start", "must be a time in unix milliseconds".into()));
                }
                if !(0..=LAST_MS).contains(end) {
                    return Err(("when.end", "must be a time in unix milliseconds".into()));
                }
                if end <= start {
                    return Err(("when.end", "must be after the start".into()));
                }
                if end - start > 366 * 86_400_000 {
                    return Err(("when.end", "a one-off window lasts at most a year".into()));
                }
            }
            When::Weekly { days, start, minutes } => {
                if days.is_empty() || days.iter().any(|d| !DAYS.contains(&d.as_str())) {
                    return Err((
                        "when.days",
                        "must list weekdays: mon, tue, wed, thu, fri, sat, sun".into(),
                    ));
                }
                if minute_of_day(start).is_none() {
                    return Err(("when.start", "must be a time of day as HH:MM (24 h)".into()));
                }
                if *minutes == 0 || i64::from(*minutes) > WEEK_MIN {
                    return Err(("when.minutes", format!("must be from 1 to {WEEK_MIN}")));
                }
            }
        }
        Ok(())
    }

    /// Whether the window is open at `now_ms`, on a host `utc_offset_s` seconds ahead of UTC.
    pub fn open(&self, now_ms: i64, utc_offset_s: i32) -> bool {
        match self {
            When::Once { start, end } => (*start..*end).contains(&now_ms),
            When::Weekly { days, start, minutes } => {
                let Some(start) = minute_of_day(start) else { return false };
                let local_min = (now_ms / 1000 + i64::from(utc_offset_s)).div_euclid(60);
                // 1970-01-01 was a Thursday: day 0 is Thursday, Monday is 3 days before it.
                let minute_of_week = (local_min + 3 * DAY_MIN).rem_euclid(WEEK_MIN);
                days.iter().filter_map(|d| DAYS.iter().position(|x| x == d)).any(|day| {
                    let opens = day as i64 * DAY_MIN + start;
                    (minute_of_week - opens).rem_euclid(WEEK_MIN) < i64::from(*minutes)
                })
            }
        }
    }
}

impl Window {
    /// Whether this window covers the monitor `id` of guest `vmid` at `now_ms`.
    pub fn covers(&self, id: i64, vmid: Option<u64>, now_ms: i64, utc_offset_s: i32) -> bool {
        let scoped = match self.scope {
            Scope::All => true,
            Scope::Monitor { id: m } => m == id,
            Scope::Guest { vmid: g } => vmid == Some(g),
        };
        scoped && self.when.open(now_ms, utc_offset_s)
    }
}

/// Whether any of `windows` covers the monitor at `now_ms`.
pub fn in_maintenance(
    windows: &[Window],
    id: i64,
    vmid: Option<u64>,
    now_ms: i64,
    utc_offset_s: i32,
) -> bool {
    windows.iter().any(|w| w.covers(id, vmid, now_ms, utc_offset_s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_one_off_window_outside_time_is_refused_by_field() {
        let w = |start, end| When::Once { start, end }.check().map_err(|(f, _)| f);
        assert_eq!(w(i64::MIN, 0), Err("when.start"));
        assert_eq!(w(0, i64::MAX), Err("when.end"));
        assert_eq!(w(1000, 1000), Err("when.end"));
        assert_eq!(w(1000, 2000), Ok(()));
    }

    /// 2026-12-06 (a Sunday) at `hh:mm` UTC, in unix ms.
    fn sunday(hh: i64, mm: i64) -> i64 {
        let days = crate::civil::days_from_civil(2026, 12, 6);
        (days * 86_400 + hh * 3600 + mm * 60) * 1000
    }

    fn weekly(days: &[&str], start: &str, minutes: u32) -> When {
        When::Weekly { days: days.iter().map(|d| d.to_string()).collect(), start: start.into(), minutes }
    }

    #[test]
    fn a_weekly_window_runs_across_midnight_and_the_week_boundary() {
        // Sunday 23:00 for two hours: open Sunday 23:30 and Monday 00:30, closed at Monday 01:00.
        let w = weekly(&["sun"], "23:00", 120);
        assert!(!w.open(sunday(22, 59), 0));
        assert!(w.open(sunday(23, 0), 0));
        assert!(w.open(sunday(23, 30), 0));
        assert!(w.open(sunday(24, 30), 0), "Monday 00:30, the next week");
        assert!(!w.open(sunday(25, 0), 0), "Monday 01:00: closed");
        // A week later, again.
        assert!(w.open(sunday(23, 30) + 7 * 86_400_000, 0));
        // Not on Saturday at the same time.
        assert!(!w.open(sunday(23, 30) - 86_400_000, 0));
    }

    #[test]
    fn weekly_windows_are_in_local_time() {
        // 03:00 local on Mondays, on a host at UTC+1: that is 02:00 UTC.
        let w = weekly(&["mon"], "03:00", 30);
        let monday_0210_utc = sunday(24 + 2, 10);
        assert!(w.open(monday_0210_utc, 3600));
        assert!(!w.open(monday_0210_utc, 0), "03:00 UTC is not yet");
        assert!(w.open(monday_0210_utc + 3_600_000, 0));
    }

    #[test]
    fn one_off_windows_and_scopes() {
        let w = Window {
            scope: Scope::Guest { vmid: 104 },
            when: When::Once { start: 1000, end: 2000 },
            note: "reboot".into(),
        };
        assert!(w.covers(7, Some(104), 1000, 0));
        assert!(!w.covers(7, Some(104), 2000, 0), "the end is exclusive");
        assert!(!w.covers(7, Some(105), 1500, 0), "another guest's monitor");
        assert!(!w.covers(7, None, 1500, 0));
        let all = Window { scope: Scope::All, when: When::Once { start: 0, end: 10 }, note: String::new() };
        let one = Window {
            scope: Scope::Monitor { id: 3 },
            when: When::Once { start: 0, end: 10 },
            note: String::new(),
        };
        assert!(in_maintenance(std::slice::from_ref(&one), 3, None, 5, 0));
        assert!(!in_maintenance(&[one], 4, None, 5, 0));
        assert!(in_maintenance(&[all], 4, None, 5, 0));
    }

    #[test]
    fn bad_windows_name_their_field() {
        assert_eq!(When::Once { start: 5, end: 5 }.check().unwrap_err().0, "when.end");
        assert_eq!(weekly(&["mon", "funday"], "03:00", 30).check().unwrap_err().0, "when.days");
        assert_eq!(weekly(&["mon"], "3:00", 30).check().unwrap_err().0, "when.start");
        assert_eq!(weekly(&["mon"], "24:00", 30).check().unwrap_err().0, "when.start");
        assert_eq!(weekly(&["mon"], "03:00", 0).check().unwrap_err().0, "when.minutes");
        weekly(&["sat", "sun"], "22:30", 240).check().unwrap();
    }
}
