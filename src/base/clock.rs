//! The wall clock that decides which day it is, for daily quotas: the system clock in
//! production, a manual one in tests, so a test can cross UTC midnight without waiting.
//! Days start at 00:00 UTC.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;

#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// `None`: the system clock; `Some`: a manual clock at this many unix milliseconds.
    manual: Option<Arc<AtomicI64>>,
}

impl Clock {
    pub fn system() -> Clock {
        Clock { manual: None }
    }

    /// A clock that stands still at `unix_ms` until moved with [`Clock::set`] or
    /// [`Clock::advance`].
    pub fn manual(unix_ms: i64) -> Clock {
        Clock { manual: Some(Arc::new(AtomicI64::new(unix_ms))) }
    }

    /// Unix milliseconds now.
    pub fn now_ms(&self) -> i64 {
        match &self.manual {
            Some(at) => at.load(Ordering::SeqCst),
            None => now_ms(),
        }
    }

    /// Moves a manual clock to `unix_ms`; the system clock cannot be moved (ignored).
    pub fn set(&self, unix_ms: i64) {
        if let Some(at) = &self.manual {
            at.store(unix_ms, Ordering::SeqCst);
        }
    }

    /// Moves a manual clock forward; the system clock cannot be moved (ignored).
    pub fn advance(&self, by: Duration) {
        if let Some(at) = &self.manual {
            at.fetch_add(by.as_millis() as i64, Ordering::SeqCst);
        }
    }

    /// When today (UTC) began, in unix milliseconds.
    pub fn day_start(&self) -> i64 {
        day_start(self.now_ms())
    }
}

/// The 00:00 UTC that starts the day containing `unix_ms`.
pub fn day_start(unix_ms: i64) -> i64 {
    unix_ms - unix_ms.rem_euclid(DAY_MS)
}

/// Milliseconds since the Unix epoch: the one clock format stored in the database.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_start_at_utc_midnight() {
        // 2024-03-05T17:30:00Z
        let t = 1_709_659_800_000;
        assert_eq!(day_start(t), 1_709_596_800_000, "2024-03-05T00:00:00Z");
        assert_eq!(day_start(day_start(t)), day_start(t));
        assert_eq!(day_start(day_start(t) - 1), day_start(t) - DAY_MS);
    }

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let c = Clock::manual(1_000);
        assert_eq!(c.now_ms(), 1_000);
        c.advance(Duration::from_secs(2));
        assert_eq!(c.now_ms(), 3_000);
        let shared = c.clone();
        shared.set(DAY_MS + 5);
        assert_eq!(c.now_ms(), DAY_MS + 5);
        assert_eq!(c.day_start(), DAY_MS);
    }
}
