//! The admin's choices: per channel ([`Routing`]: toggles, minimum severity, detail, language,
//! quiet hours, digest, rate, AI) and for the whole engine ([`Global`]: cooldowns, bursts, expiry,
//! retention, time zone). Both are JSON in the database, validated before they are saved; unknown
//! keys are refused so a typo is a 400, not a silently ignored setting.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ai::Mode as AiMode;
use super::catalog::{self, EventDef};
use super::template::{Detail, LANGUAGES};
use super::{Group, Severity};

/// A daily window in local time, `HH:MM`; `start > end` spans midnight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "NotifyWindow"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "NotifyWindow"))]
#[serde(deny_unknown_fields)]
pub struct Window {
    #[cfg_attr(test, schemars(regex(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$")))]
    pub start: String,
    #[cfg_attr(test, schemars(regex(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$")))]
    pub end: String,
}

/// Per channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "NotifyRouting"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "NotifyRouting"))]
#[serde(default, deny_unknown_fields)]
pub struct Routing {
    pub min_severity: Severity,
    /// A group missing here is on.
    pub groups: BTreeMap<Group, bool>,
    /// Per-event overrides; an event missing here follows its group and the catalog's default.
    pub events: BTreeMap<String, bool>,
    pub detail: Detail,
    #[cfg_attr(test, schemars(extend("enum" = ["en"])))]
    pub language: String,
    /// Non-critical events are held during the window and sent as one summary when it ends.
    pub quiet: Option<Window>,
    /// `HH:MM` local: info-level events wait for one daily digest (with what is still open).
    pub digest: Option<String>,
    /// Messages a minute at most; more wait their turn (never dropped).
    #[cfg_attr(test, schemars(range(min = 1, max = 600)))]
    pub rate_per_minute: u32,
    pub ai: AiMode,
    /// The language the AI writes in (`English`, `Deutsch`, ...).
    #[cfg_attr(test, schemars(length(min = 1, max = 40)))]
    pub ai_language: String,
    /// Extra instruction to the AI (bounded).
    #[cfg_attr(test, schemars(length(max = 500)))]
    pub ai_instruction: String,
}

impl Default for Routing {
    fn default() -> Self {
        Routing {
            min_severity: Severity::Info,
            groups: BTreeMap::new(),
            events: BTreeMap::new(),
            detail: Detail::Full,
            language: "en".into(),
            quiet: None,
            digest: None,
            rate_per_minute: 20,
            ai: AiMode::Off,
            ai_language: "English".into(),
            ai_instruction: String::new(),
        }
    }
}

pub const MAX_INSTRUCTION: usize = 500;

impl Routing {
    /// Whether the channel takes events of this type at all (the toggle, not severity).
    pub fn wants(&self, def: &EventDef) -> bool {
        if def.internal {
            return true;
        }
        if let Some(&on) = self.events.get(def.id) {
            return on;
        }
        self.groups.get(&def.group).copied().unwrap_or(true) && def.default_on
    }

    pub fn validate(&self) -> Result<(), String> {
        for id in self.events.keys() {
            match catalog::find(id) {
                None => {
                    return Err(format!(
                        "events: unknown event type `{id}` (see GET /api/notifications/events)"
                    ));
                }
                Some(d) if d.internal => return Err(format!("events: `{id}` cannot be toggled")),
                _ => {}
            }
        }
        if !LANGUAGES.contains(&self.language.as_str()) {
            return Err(format!("language: `{}` is not one of {}", self.language, LANGUAGES.join(", ")));
        }
        if let Some(q) = &self.quiet {
            let s = parse_hhmm(&q.start).ok_or_else(|| format!("quiet.start: `{}` is not HH:MM", q.start))?;
            let e = parse_hhmm(&q.end).ok_or_else(|| format!("quiet.end: `{}` is not HH:MM", q.end))?;
            if s == e {
                return Err("quiet: start and end are the same time".into());
            }
        }
        if let Some(d) = &self.digest {
            parse_hhmm(d).ok_or_else(|| format!("digest: `{d}` is not HH:MM"))?;
        }
        if !(1..=600).contains(&self.rate_per_minute) {
            return Err("rate_per_minute: must be 1..=600".into());
        }
        if self.ai_instruction.chars().count() > MAX_INSTRUCTION {
            return Err(format!("ai_instruction: at most {MAX_INSTRUCTION} characters"));
        }
        if self.ai_language.trim().is_empty() || self.ai_language.chars().count() > 40 {
            return Err("ai_language: 1 to 40 characters".into());
        }
        Ok(())
    }
}

/// For the whole engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "NotifyGlobal"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "NotifyGlobal"))]
#[serde(default, deny_unknown_fields)]
pub struct Global {
    /// Overrides of the groups' default cooldowns, seconds.
    pub group_cooldown_s: BTreeMap<Group, u32>,
    /// Overrides per event type, seconds.
    pub event_cooldown_s: BTreeMap<String, u32>,
    /// More than this many events of a group within the window: the rest become one summary.
    #[cfg_attr(test, schemars(range(min = 1, max = 1000)))]
    pub burst_threshold: u32,
    #[cfg_attr(test, schemars(range(min = 10, max = 3600)))]
    pub burst_window_s: u32,
    /// A message still undelivered after this long is marked expired (shown, never silent).
    #[cfg_attr(test, schemars(range(min = 1, max = 720)))]
    pub max_age_h: u32,
    #[cfg_attr(test, schemars(range(min = 1, max = 3650)))]
    pub retention_days: u32,
    /// History rows kept at most (oldest first).
    #[cfg_attr(test, schemars(range(min = 1000, max = 1_000_000)))]
    pub max_rows: u32,
    /// IANA zone for quiet hours and the digest; empty: the host's.
    pub timezone: String,
    /// The URL messages link to (`https://pve1.lan:8008`); empty: no links.
    pub public_url: String,
}

impl Default for Global {
    fn default() -> Self {
        Global {
            group_cooldown_s: BTreeMap::new(),
            event_cooldown_s: BTreeMap::new(),
            burst_threshold: 5,
            burst_window_s: 120,
            max_age_h: 48,
            retention_days: 90,
            max_rows: 50_000,
            timezone: String::new(),
            public_url: String::new(),
        }
    }
}

impl Global {
    pub fn cooldown_ms(&self, def: &EventDef) -> i64 {
        let s = self
            .event_cooldown_s
            .get(def.id)
            .or_else(|| self.group_cooldown_s.get(&def.group))
            .copied()
            .unwrap_or_else(|| catalog::default_cooldown_s(def.group));
        i64::from(s) * 1000
    }

    pub fn validate(&self) -> Result<(), String> {
        for id in self.event_cooldown_s.keys() {
            if catalog::find(id).is_none() {
                return Err(format!("event_cooldown_s: unknown event type `{id}`"));
            }
        }
        let week = 7 * 86_400;
        if self.group_cooldown_s.values().chain(self.event_cooldown_s.values()).any(|&s| s > week) {
            return Err("cooldowns: at most a week (604800 s)".into());
        }
        if !(1..=1000).contains(&self.burst_threshold) {
            return Err("burst_threshold: 1..=1000".into());
        }
        if !(10..=3600).contains(&self.burst_window_s) {
            return Err("burst_window_s: 10..=3600".into());
        }
        if !(1..=24 * 30).contains(&self.max_age_h) {
            return Err("max_age_h: 1..=720".into());
        }
        if !(1..=3650).contains(&self.retention_days) {
            return Err("retention_days: 1..=3650".into());
        }
        if !(1000..=1_000_000).contains(&self.max_rows) {
            return Err("max_rows: 1000..=1000000".into());
        }
        if !self.timezone.is_empty() && jiff::tz::TimeZone::get(&self.timezone).is_err() {
            return Err(format!("timezone: `{}` is not a known IANA time zone", self.timezone));
        }
        if !(self.public_url.is_empty()
            || self.public_url.starts_with("https://")
            || self.public_url.starts_with("http://"))
        {
            return Err("public_url: must start with http:// or https://".into());
        }
        Ok(())
    }

    pub fn tz(&self) -> jiff::tz::TimeZone {
        if self.timezone.is_empty() {
            jiff::tz::TimeZone::system()
        } else {
            jiff::tz::TimeZone::get(&self.timezone).unwrap_or(jiff::tz::TimeZone::UTC)
        }
    }
}

/// `HH:MM` as minutes after midnight.
pub fn parse_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60 && s.trim().len() <= 5).then_some(h * 60 + m)
}

/// Local clock arithmetic for quiet hours and digests, in a time zone.
pub struct Local<'a>(pub &'a jiff::tz::TimeZone);

impl Local<'_> {
    fn zoned(&self, ms: i64) -> Option<jiff::Zoned> {
        Some(jiff::Timestamp::from_millisecond(ms).ok()?.to_zoned(self.0.clone()))
    }

    /// The next time (unix ms, strictly after `ms`) the local clock shows `minute` (of the day).
    pub fn next_at(&self, ms: i64, minute: u32) -> Option<i64> {
        let z = self.zoned(ms)?;
        let time = jiff::civil::Time::new((minute / 60) as i8, (minute % 60) as i8, 0, 0).ok()?;
        let mut day = z.date();
        for _ in 0..3 {
            let at = day.to_datetime(time).to_zoned(self.0.clone()).ok()?.timestamp().as_millisecond();
            if at > ms {
                return Some(at);
            }
            day = day.tomorrow().ok()?;
        }
        None
    }

    /// If `ms` falls inside the daily window, when the window ends (unix ms).
    pub fn window_end(&self, ms: i64, w: &Window) -> Option<i64> {
        let (s, e) = (parse_hhmm(&w.start)?, parse_hhmm(&w.end)?);
        let z = self.zoned(ms)?;
        let now = z.hour() as u32 * 60 + z.minute() as u32;
        let inside = if s < e { now >= s && now < e } else { now >= s || now < e };
        if inside { self.next_at(ms, e) } else { None }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn utc() -> jiff::tz::TimeZone {
        jiff::tz::TimeZone::UTC
    }

    fn ms(s: &str) -> i64 {
        s.parse::<jiff::Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn windows_across_midnight() {
        let tz = utc();
        let l = Local(&tz);
        let w = Window { start: "22:00".into(), end: "07:00".into() };
        assert_eq!(l.window_end(ms("2026-12-05T23:30:00Z"), &w), Some(ms("2026-12-06T07:00:00Z")));
        assert_eq!(l.window_end(ms("2026-12-06T06:59:00Z"), &w), Some(ms("2026-12-06T07:00:00Z")));
        assert_eq!(l.window_end(ms("2026-12-06T07:00:00Z"), &w), None);
        assert_eq!(l.window_end(ms("2026-12-06T12:00:00Z"), &w), None);
        let day = Window { start: "09:00".into(), end: "17:00".into() };
        assert_eq!(l.window_end(ms("2026-12-06T12:00:00Z"), &day), Some(ms("2026-12-06T17:00:00Z")));
    }

    #[test]
    fn next_at_in_a_zone_with_dst() {
        let tz = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
        let l = Local(&tz);
        // 08:00 in Berlin in winter is 07:00 UTC.
        assert_eq!(l.next_at(ms("2026-12-05T10:00:00Z"), 8 * 60), Some(ms("2026-12-06T07:00:00Z")));
        assert_eq!(l.next_at(ms("2026-07-05T05:00:00Z"), 8 * 60), Some(ms("2026-07-05T06:00:00Z")));
    }

    #[test]
    fn toggles_and_validation() {
        let mut r = Routing::default();
        let started = catalog::find("guest.started").unwrap();
        let failed = catalog::find("backup.failed").unwrap();
        assert!(!r.wants(started), "off by default");
        assert!(r.wants(failed));
        r.groups.insert(Group::Backups, false);
        assert!(!r.wants(failed));
        r.events.insert("backup.failed".into(), true);
        assert!(r.wants(failed), "an event override beats its group");
        r.events.insert("nope".into(), true);
        assert!(r.validate().unwrap_err().contains("unknown event type `nope`"));
        let mut g = Global::default();
        assert!(g.validate().is_ok());
        g.timezone = "Mars/Olympus".into();
        assert!(g.validate().is_err());
        assert_eq!(parse_hhmm("7:05"), Some(425));
        assert_eq!(parse_hhmm("24:00"), None);
    }
}
