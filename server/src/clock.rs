//! Time is read here and nowhere else: logic takes `now` as a parameter.

use std::time::{SystemTime, UNIX_EPOCH};

/// A source of the current time in seconds since the Unix epoch.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> i64;
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
        }
    }
}

/// A clock fixed at one instant, for tests and for `--now`.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub i64);

impl Clock for FixedClock {
    fn now(&self) -> i64 {
        self.0
    }
}

/// The operating system's clock moved by a fixed number of seconds: it starts at a chosen instant
/// and runs on in real time. For tests only (`kyukit serve --test-clock-start`), e.g. to see what a
/// person reads at 07:50 in Japan, when the UTC date is still the day before.
#[derive(Debug, Clone, Copy)]
pub struct OffsetClock {
    offset: i64,
}

impl OffsetClock {
    /// A clock that reads `start` now and runs on from there.
    pub fn starting_at(start: i64) -> Self {
        OffsetClock {
            offset: start.saturating_sub(SystemClock.now()),
        }
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> i64 {
        SystemClock.now().saturating_add(self.offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offset_clock_starts_where_asked_and_runs_on() {
        let c = OffsetClock::starting_at(1_796_597_400);
        let t = c.now();
        assert!((1_796_597_400..1_796_597_400 + 5).contains(&t), "{t}");
        assert!(c.now() >= t);
    }
}
