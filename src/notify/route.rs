//! The routing decision for one event on one channel, as a pure function of the event, the
//! channel's settings, the engine's settings, the channel's recent state and the time. The order is
//! the admin's mental model: is the channel on and does it want this event (toggle, severity)? Was
//! the same condition just sent (cooldown)? Is it for the digest (info, when a digest is set: it waits
//! anyway)? Is it quiet time (hold, unless critical)? Is a burst under way (aggregate)? Otherwise: send.

use jiff::tz::TimeZone;

use super::Event;
use super::Severity;
use super::catalog::EventDef;
use super::settings::{Global, Local, Routing, parse_hhmm};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Into the channel's queue now.
    Send,
    /// Quiet hours: held until `until`, then part of one summary.
    Hold { until: i64 },
    /// Info-level with a digest set: waits for the digest at `at`.
    Digest { at: i64 },
    /// A burst is under way: part of the summary sent when the window ends at `until`.
    Aggregate { until: i64 },
    /// Not sent; the reason is shown in the history.
    Suppress(Suppressed),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Suppressed {
    ChannelDisabled,
    Toggle,
    Severity,
    /// The same condition was sent `ago_s` seconds ago (within the cooldown).
    Cooldown {
        ago_s: i64,
    },
}

impl Suppressed {
    pub fn describe(&self) -> String {
        match self {
            Suppressed::ChannelDisabled => "channel disabled".into(),
            Suppressed::Toggle => "event type off for this channel".into(),
            Suppressed::Severity => "below the channel's minimum severity".into(),
            Suppressed::Cooldown { ago_s } => format!("cooldown: the same condition was sent {ago_s} s ago"),
        }
    }
}

/// What the channel remembers between events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct State {
    /// When this event's cooldown key was last sent (or held/aggregated) on this channel.
    pub last_sent: Option<i64>,
    /// The event's group's burst window on this channel: (started, events sent in it).
    pub window: Option<(i64, u32)>,
}

pub struct Input<'a> {
    pub event: &'a Event,
    pub def: &'a EventDef,
    pub enabled: bool,
    pub routing: &'a Routing,
    pub global: &'a Global,
    pub tz: &'a TimeZone,
    pub state: State,
    pub now: i64,
}

pub fn decide(i: &Input) -> Decision {
    if !i.enabled {
        return Decision::Suppress(Suppressed::ChannelDisabled);
    }
    if i.def.internal {
        return Decision::Send;
    }
    if !i.routing.wants(i.def) {
        return Decision::Suppress(Suppressed::Toggle);
    }
    if i.event.severity < i.routing.min_severity {
        return Decision::Suppress(Suppressed::Severity);
    }
    let cooldown = i.global.cooldown_ms(i.def);
    if let Some(last) = i.state.last_sent {
        if cooldown > 0 && i.now >= last && i.now - last < cooldown {
            return Decision::Suppress(Suppressed::Cooldown { ago_s: (i.now - last) / 1000 });
        }
    }
    let local = Local(i.tz);
    if i.event.severity == Severity::Info {
        if let Some(at) =
            i.routing.digest.as_deref().and_then(parse_hhmm).and_then(|m| local.next_at(i.now, m))
        {
            return Decision::Digest { at };
        }
    }
    if i.event.severity < Severity::Critical {
        if let Some(until) = i.routing.quiet.as_ref().and_then(|w| local.window_end(i.now, w)) {
            return Decision::Hold { until };
        }
    }
    if let Some((started, sent)) = i.state.window {
        let end = started + i64::from(i.global.burst_window_s) * 1000;
        if i.now < end && sent >= i.global.burst_threshold {
            return Decision::Aggregate { until: end };
        }
    }
    Decision::Send
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::catalog;
    use super::super::settings::Window;
    use super::*;

    fn at(s: &str) -> i64 {
        s.parse::<jiff::Timestamp>().unwrap().as_millisecond()
    }

    fn decide_with(ev: &Event, r: &Routing, g: &Global, state: State, now: i64) -> Decision {
        let def = catalog::find(&ev.kind).unwrap();
        decide(&Input {
            event: ev,
            def,
            enabled: true,
            routing: r,
            global: g,
            tz: &TimeZone::UTC,
            state,
            now,
        })
    }

    #[test]
    fn order_of_checks() {
        let now = at("2026-12-05T12:00:00Z");
        let ev = Event::new("health.new", "f1", "health.new:k", now);
        let g = Global::default();
        let mut r = Routing::default();
        assert_eq!(decide_with(&ev, &r, &g, State::default(), now), Decision::Send);
        // Cooldown: 10 minutes for health.
        let recent = State { last_sent: Some(now - 60_000), window: None };
        assert_eq!(
            decide_with(&ev, &r, &g, recent, now),
            Decision::Suppress(Suppressed::Cooldown { ago_s: 60 })
        );
        let old = State { last_sent: Some(now - 700_000), window: None };
        assert_eq!(decide_with(&ev, &r, &g, old, now), Decision::Send);
        r.min_severity = Severity::Critical;
        assert_eq!(decide_with(&ev, &r, &g, State::default(), now), Decision::Suppress(Suppressed::Severity));
        r.min_severity = Severity::Info;
        r.events.insert("health.new".into(), false);
        assert_eq!(decide_with(&ev, &r, &g, State::default(), now), Decision::Suppress(Suppressed::Toggle));
    }

    #[test]
    fn quiet_hours_hold_all_but_critical() {
        let now = at("2026-12-05T23:00:00Z");
        let r = Routing {
            quiet: Some(Window { start: "22:00".into(), end: "07:00".into() }),
            ..Routing::default()
        };
        let g = Global::default();
        let warn = Event::new("health.new", "f1", "k", now);
        assert_eq!(
            decide_with(&warn, &r, &g, State::default(), now),
            Decision::Hold { until: at("2026-12-06T07:00:00Z") }
        );
        let crit = Event::new("backup.failed", "f2", "k2", now);
        assert_eq!(decide_with(&crit, &r, &g, State::default(), now), Decision::Send);
    }

    #[test]
    fn digest_takes_info_only_and_bursts_aggregate() {
        let now = at("2026-12-05T12:00:00Z");
        let r = Routing { digest: Some("08:00".into()), ..Routing::default() };
        let g = Global::default();
        let info = Event::new("backup.ok", "f1", "k", now);
        assert_eq!(
            decide_with(&info, &r, &g, State::default(), now),
            Decision::Digest { at: at("2026-12-06T08:00:00Z") }
        );
        let warn = Event::new("backup.warnings", "f2", "k2", now);
        assert_eq!(decide_with(&warn, &r, &g, State::default(), now), Decision::Send);
        let burst = State { last_sent: None, window: Some((now - 10_000, g.burst_threshold)) };
        assert_eq!(
            decide_with(&warn, &r, &g, burst, now),
            Decision::Aggregate { until: now - 10_000 + 120_000 }
        );
        let over = State { last_sent: None, window: Some((now - 200_000, 99)) };
        assert_eq!(decide_with(&warn, &r, &g, over, now), Decision::Send, "an ended window starts anew");
    }
}
