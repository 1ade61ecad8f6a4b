//! The sandbox's own clock, and the things derived from it: RFC 3339 timestamps and Discord
//! snowflakes.
//!
//! Discord's interaction deadlines (3 s for the first callback, 15 min for the token) are
//! checked against this clock rather than the wall clock, so a test can jump past a deadline
//! with [`Clock::advance`] instead of sleeping. It runs at real speed plus whatever offset the
//! tests have added, which keeps real slowness of the bot visible too.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Milliseconds between the Unix epoch and Discord's epoch (the first second of 2015).
const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

pub(crate) struct Clock {
    started: Instant,
    /// Unix time in ms when the sandbox started; timestamps shown to the bot count from here.
    wall_start_ms: u64,
    offset_ms: AtomicU64,
    last_snowflake: AtomicU64,
}

impl Clock {
    pub(crate) fn new() -> Clock {
        let wall_start_ms =
            SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
        Clock {
            started: Instant::now(),
            wall_start_ms: wall_start_ms.max(DISCORD_EPOCH_MS),
            offset_ms: AtomicU64::new(0),
            last_snowflake: AtomicU64::new(0),
        }
    }

    /// Time since the sandbox started, on the sandbox clock.
    pub(crate) fn now(&self) -> Duration {
        self.started.elapsed() + Duration::from_millis(self.offset_ms.load(Ordering::SeqCst))
    }

    pub(crate) fn advance(&self, by: Duration) {
        self.offset_ms.fetch_add(by.as_millis() as u64, Ordering::SeqCst);
    }

    /// Unix time in ms at `at` on the sandbox clock.
    pub(crate) fn unix_ms(&self, at: Duration) -> u64 {
        self.wall_start_ms + at.as_millis() as u64
    }

    pub(crate) fn timestamp(&self, at: Duration) -> String {
        rfc3339(self.unix_ms(at))
    }

    /// A fresh snowflake: its timestamp bits are the sandbox clock, so serenity's `created_at`
    /// is meaningful, and a counter in the low bits keeps ids strictly increasing.
    pub(crate) fn snowflake(&self) -> u64 {
        let stamp = (self.unix_ms(self.now()) - DISCORD_EPOCH_MS) << 22;
        let mut last = self.last_snowflake.load(Ordering::SeqCst);
        loop {
            let next = stamp.max(last + 1);
            match self.last_snowflake.compare_exchange(last, next, Ordering::SeqCst, Ordering::SeqCst) {
                Ok(_) => return next,
                Err(seen) => last = seen,
            }
        }
    }
}

/// Formats Unix milliseconds as `YYYY-MM-DDTHH:MM:SS.mmm+00:00`, the shape Discord sends.
pub(crate) fn rfc3339(unix_ms: u64) -> String {
    let at =
        i64::try_from(unix_ms).ok().and_then(chrono::DateTime::from_timestamp_millis).unwrap_or_default();
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000+00:00");
        assert_eq!(rfc3339(DISCORD_EPOCH_MS), "2015-01-01T00:00:00.000+00:00");
        assert_eq!(rfc3339(951_825_600_123), "2000-02-29T12:00:00.123+00:00");
        assert_eq!(rfc3339(1_767_225_599_999), "2025-12-31T23:59:59.999+00:00");
    }

    #[test]
    fn snowflakes_increase_and_advance_moves_time() {
        let clock = Clock::new();
        let a = clock.snowflake();
        let b = clock.snowflake();
        assert!(b > a);
        let before = clock.now();
        clock.advance(Duration::from_secs(900));
        assert!(clock.now() >= before + Duration::from_secs(900));
        assert!(clock.snowflake() >> 22 >= (a >> 22) + 900_000);
    }
}
