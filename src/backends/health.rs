//! What Easel believes about each backend's health, from two sources: a background probe
//! (`Backend::health`, every `health.check_interval_secs`) and the outcomes of real tasks,
//! which drive a circuit breaker per backend. Routing avoids backends that are down; the
//! scheduler stops claiming work for a backend whose breaker is open and, once it has cooled
//! down, lets exactly one task through as the probe that closes it again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::base::FailureCode;
use crate::config::HealthConfig;

/// A circuit breaker: closed (work flows), open (no work until `until`), half-open (one
/// probe task in flight decides whether it closes or opens again).
#[derive(Debug, Clone, PartialEq)]
pub enum BreakerState {
    Closed,
    Open { until: Instant },
    HalfOpen { probing: bool },
}

#[derive(Debug, Clone)]
pub struct Breaker {
    threshold: u32,
    cooldown: Duration,
    consecutive: u32,
    state: BreakerState,
}

impl Breaker {
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Breaker { threshold: threshold.max(1), cooldown, consecutive: 0, state: BreakerState::Closed }
    }

    pub fn state(&self) -> &BreakerState {
        &self.state
    }

    /// Whether routing should send new work here: not while open, nor while the one probe of
    /// a half-open breaker is still out.
    pub fn accepts_work(&self, now: Instant) -> bool {
        match self.state {
            BreakerState::Closed => true,
            BreakerState::Open { until } => now >= until,
            BreakerState::HalfOpen { probing } => !probing,
        }
    }

    /// Asks to start one task now. Grants every request while closed, none while open, and
    /// exactly one (the probe) once an open breaker has cooled down.
    pub fn try_start(&mut self, now: Instant) -> bool {
        match self.state {
            BreakerState::Closed => true,
            BreakerState::Open { until } if now >= until => {
                self.state = BreakerState::HalfOpen { probing: true };
                true
            }
            BreakerState::Open { .. } => false,
            BreakerState::HalfOpen { probing: false } => {
                self.state = BreakerState::HalfOpen { probing: true };
                true
            }
            BreakerState::HalfOpen { probing: true } => false,
        }
    }

    pub fn on_success(&mut self) {
        self.consecutive = 0;
        self.state = BreakerState::Closed;
    }

    /// A failure that says something about the backend (see [`counts_against_backend`]).
    pub fn on_failure(&mut self, now: Instant) {
        self.consecutive = self.consecutive.saturating_add(1);
        let reopen = matches!(self.state, BreakerState::HalfOpen { .. });
        if reopen || self.consecutive >= self.threshold {
            self.state = BreakerState::Open { until: now + self.cooldown };
        }
    }

    /// A task that was granted by [`Breaker::try_start`] ended without telling anything about
    /// the backend (the member's prompt was refused, say): let another probe through.
    pub fn on_neutral(&mut self) {
        if self.state == (BreakerState::HalfOpen { probing: true }) {
            self.state = BreakerState::HalfOpen { probing: false };
        }
    }
}

/// Failures that mean the service is unwell, as opposed to a refusal of this one request.
pub fn counts_against_backend(code: FailureCode) -> bool {
    matches!(
        code,
        FailureCode::BackendTimeout
            | FailureCode::BackendUnavailable
            | FailureCode::BackendError
            | FailureCode::BackendBadResponse
            | FailureCode::BackendMalformed
            | FailureCode::WrongContentType
            | FailureCode::ImageTruncated
            | FailureCode::CredentialsRejected
    )
}

/// The last background probe of a backend.
#[derive(Debug, Clone)]
pub struct Probe {
    pub ok: bool,
    pub error: Option<String>,
    pub at: SystemTime,
}

#[derive(Debug)]
struct Status {
    probe: Option<Probe>,
    breaker: Breaker,
}

/// A backend's health as shown to admins (`/healthz`, `/info`).
#[derive(Debug, Clone)]
pub struct HealthView {
    pub name: String,
    pub probe: Option<Probe>,
    pub breaker: &'static str,
    pub available: bool,
}

/// Health of every configured backend; shared by the router, the scheduler and `/healthz`.
#[derive(Debug, Default)]
pub struct HealthBoard {
    by_name: HashMap<String, Mutex<Status>>,
    check_interval: Duration,
}

impl HealthBoard {
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>, config: &HealthConfig) -> Arc<Self> {
        let by_name = names
            .into_iter()
            .map(|n| {
                let breaker =
                    Breaker::new(config.breaker_failures, Duration::from_secs(config.breaker_cooldown_secs));
                (n.to_string(), Mutex::new(Status { probe: None, breaker }))
            })
            .collect();
        Arc::new(HealthBoard { by_name, check_interval: Duration::from_secs(config.check_interval_secs) })
    }

    pub fn check_interval(&self) -> Duration {
        self.check_interval
    }

    fn with<T>(&self, name: &str, f: impl FnOnce(&mut Status) -> T) -> Option<T> {
        self.by_name.get(name).map(|s| f(&mut s.lock().expect("health status poisoned")))
    }

    /// Whether routing should pick this backend: its last probe did not fail and its breaker
    /// takes work. Unknown names (a backend added since) count as available.
    pub fn available(&self, name: &str) -> bool {
        let now = Instant::now();
        self.with(name, |s| s.probe.as_ref().is_none_or(|p| p.ok) && s.breaker.accepts_work(now))
            .unwrap_or(true)
    }

    /// The scheduler asks before claiming a task for `name`.
    pub fn try_start(&self, name: &str) -> bool {
        let now = Instant::now();
        self.with(name, |s| s.breaker.try_start(now)).unwrap_or(true)
    }

    /// The scheduler was granted a start but found nothing to run.
    pub fn cancel_start(&self, name: &str) {
        self.with(name, |s| s.breaker.on_neutral());
    }

    /// Whether the breaker is open and still cooling down: the scheduler then moves the
    /// backend's movable queue elsewhere.
    pub fn is_open(&self, name: &str) -> bool {
        let now = Instant::now();
        self.with(name, |s| matches!(s.breaker.state(), BreakerState::Open { until } if now < *until))
            .unwrap_or(false)
    }

    /// When an open breaker will let its probe through.
    pub fn reopens_at(&self, name: &str) -> Option<Instant> {
        self.with(name, |s| match s.breaker.state() {
            BreakerState::Open { until } => Some(*until),
            _ => None,
        })
        .flatten()
    }

    /// A task on `name` ended: `None` for success, `Some(code)` for a failure.
    pub fn record_task(&self, name: &str, failure: Option<FailureCode>) {
        let now = Instant::now();
        self.with(name, |s| match failure {
            None => s.breaker.on_success(),
            Some(code) if counts_against_backend(code) => s.breaker.on_failure(now),
            Some(_) => s.breaker.on_neutral(),
        });
    }

    pub fn record_probe(&self, name: &str, result: Result<(), String>) {
        self.with(name, |s| {
            s.probe = Some(Probe { ok: result.is_ok(), error: result.err(), at: SystemTime::now() });
        });
    }

    pub fn view(&self, name: &str) -> Option<HealthView> {
        let now = Instant::now();
        self.with(name, |s| HealthView {
            name: name.to_string(),
            probe: s.probe.clone(),
            breaker: match s.breaker.state() {
                BreakerState::Closed => "closed",
                BreakerState::Open { until } if now < *until => "open",
                BreakerState::Open { .. } | BreakerState::HalfOpen { .. } => "half-open",
            },
            available: s.probe.as_ref().is_none_or(|p| p.ok) && s.breaker.accepts_work(now),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOL: Duration = Duration::from_secs(30);

    #[test]
    fn opens_after_the_threshold_of_consecutive_failures_only() {
        let now = Instant::now();
        let mut b = Breaker::new(3, COOL);
        b.on_failure(now);
        b.on_failure(now);
        b.on_success();
        b.on_failure(now);
        b.on_failure(now);
        assert!(b.try_start(now), "a success in between resets the count");
        b.on_failure(now);
        assert_eq!(b.state(), &BreakerState::Open { until: now + COOL });
        assert!(!b.try_start(now + Duration::from_secs(29)));
        assert!(!b.accepts_work(now + Duration::from_secs(29)));
    }

    #[test]
    fn half_open_lets_exactly_one_probe_through() {
        let now = Instant::now();
        let mut b = Breaker::new(1, COOL);
        b.on_failure(now);
        let later = now + COOL;
        assert!(b.accepts_work(later));
        assert!(b.try_start(later), "the probe");
        assert!(!b.try_start(later), "only one probe at a time");
        assert!(!b.accepts_work(later));
        b.on_success();
        assert_eq!(b.state(), &BreakerState::Closed);
        assert!(b.try_start(later) && b.try_start(later));
    }

    #[test]
    fn a_failed_probe_opens_the_breaker_again() {
        let now = Instant::now();
        let mut b = Breaker::new(5, COOL);
        for _ in 0..5 {
            b.on_failure(now);
        }
        let later = now + COOL;
        assert!(b.try_start(later));
        b.on_failure(later);
        assert_eq!(
            b.state(),
            &BreakerState::Open { until: later + COOL },
            "one failure is enough when probing"
        );
    }

    #[test]
    fn a_neutral_outcome_frees_the_probe_slot() {
        let now = Instant::now();
        let mut b = Breaker::new(1, COOL);
        b.on_failure(now);
        assert!(b.try_start(now + COOL));
        b.on_neutral();
        assert!(b.try_start(now + COOL), "a refused prompt says nothing about the backend");
    }

    #[test]
    fn only_service_trouble_counts() {
        assert!(counts_against_backend(FailureCode::BackendUnavailable));
        assert!(counts_against_backend(FailureCode::BackendTimeout));
        assert!(!counts_against_backend(FailureCode::ContentBlocked));
        assert!(!counts_against_backend(FailureCode::BackendRejected));
        assert!(!counts_against_backend(FailureCode::RateLimited));
    }

    #[test]
    fn a_failed_probe_makes_a_backend_unavailable_until_one_succeeds() {
        let board = HealthBoard::new(["a", "b"], &HealthConfig::default());
        assert!(board.available("a"));
        board.record_probe("a", Err("connection refused".into()));
        assert!(!board.available("a"));
        assert!(board.available("b"));
        board.record_probe("a", Ok(()));
        assert!(board.available("a"));
        assert!(board.available("added-later"));
    }
}
