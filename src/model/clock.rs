//! The wall clock, injectable: production reads the system time; a test holds a manual clock and
//! moves it, so that nothing it checks depends on real elapsed time.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Unix milliseconds, from the system or from a hand a test moves. Cheap to clone; clones share.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    manual: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// The system's wall clock.
    pub fn system() -> Clock {
        Clock { manual: None }
    }

    /// A clock that stands at `ms` until [`Clock::set`] or [`Clock::advance`] moves it.
    pub fn manual(ms: i64) -> Clock {
        Clock { manual: Some(Arc::new(AtomicI64::new(ms))) }
    }

    /// Wall-clock milliseconds now.
    pub fn now_ms(&self) -> i64 {
        match &self.manual {
            Some(m) => m.load(Ordering::Relaxed),
            None => SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0),
        }
    }

    /// Sets a manual clock (a system clock ignores it).
    pub fn set(&self, ms: i64) {
        if let Some(m) = &self.manual {
            m.store(ms, Ordering::Relaxed);
        }
    }

    /// Moves a manual clock on by `ms` (a system clock ignores it).
    pub fn advance(&self, ms: i64) {
        if let Some(m) = &self.manual {
            m.fetch_add(ms, Ordering::Relaxed);
        }
    }

    pub fn is_manual(&self) -> bool {
        self.manual.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_clones_share_it() {
        let c = Clock::manual(1_000);
        let twin = c.clone();
        assert_eq!(c.now_ms(), 1_000);
        c.advance(500);
        assert_eq!(twin.now_ms(), 1_500);
        twin.set(7);
        assert_eq!(c.now_ms(), 7);
        let sys = Clock::system();
        sys.set(7);
        assert!(sys.now_ms() > 1_700_000_000_000, "the system clock reads the real time");
    }
}
