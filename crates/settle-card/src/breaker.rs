//! A count-window circuit breaker with Resilience4j's semantics and defaults.
//!
//! CLOSED: the outcomes of the last `window_size` calls are kept; once at least `minimum_calls` are recorded
//! and the failure rate (or the slow-call rate) reaches its threshold, the breaker OPENs. OPEN: every call is
//! rejected without being made until `open_wait` has passed, then HALF_OPEN. HALF_OPEN: `half_open_calls`
//! probe calls are let through; when they are all recorded, the breaker CLOSEs if their failure rate is under
//! the threshold and OPENs again otherwise.
//!
//! Defaults follow Resilience4j: window 100, minimum 100, failure rate 50 %, slow-call rate 100 % at 60 s,
//! 60 s open, 10 half-open calls.

use std::{
    collections::VecDeque,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Breaker settings.
#[derive(Clone, Debug)]
pub struct BreakerConfig {
    pub window_size: usize,
    pub minimum_calls: usize,
    /// Percent of failed calls that opens the breaker.
    pub failure_rate_threshold: f64,
    /// Percent of slow calls that opens the breaker.
    pub slow_call_rate_threshold: f64,
    pub slow_call_duration: Duration,
    pub open_wait: Duration,
    pub half_open_calls: usize,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            window_size: 100,
            minimum_calls: 100,
            failure_rate_threshold: 50.0,
            slow_call_rate_threshold: 100.0,
            slow_call_duration: Duration::from_secs(60),
            open_wait: Duration::from_secs(60),
            half_open_calls: 10,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CircuitState {
    Closed,
    Open,
    HalfOpen,
}

impl CircuitState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }

    /// 0 closed, 1 open, 2 half-open (the gauge's value).
    pub fn gauge(self) -> f64 {
        match self {
            Self::Closed => 0.0,
            Self::Open => 1.0,
            Self::HalfOpen => 2.0,
        }
    }
}

#[derive(Clone, Copy)]
struct Outcome {
    failed: bool,
    slow: bool,
}

struct Inner {
    state: CircuitState,
    window: VecDeque<Outcome>,
    opened_at: Instant,
    /// Probes let through in HALF_OPEN, and their outcomes.
    probes_started: usize,
    probes: Vec<Outcome>,
}

pub struct CircuitBreaker {
    cfg: BreakerConfig,
    inner: Mutex<Inner>,
}

/// Permission to make one call; report how it went with [`CircuitBreaker::record`].
#[must_use]
pub struct Permit {
    started: Instant,
    probe: bool,
}

/// The breaker refused the call: nothing was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejected;

impl CircuitBreaker {
    pub fn new(cfg: BreakerConfig) -> Self {
        Self {
            cfg,
            inner: Mutex::new(Inner {
                state: CircuitState::Closed,
                window: VecDeque::new(),
                opened_at: Instant::now(),
                probes_started: 0,
                probes: Vec::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn state(&self) -> CircuitState {
        let mut g = self.lock();
        self.tick(&mut g);
        g.state
    }

    fn tick(&self, g: &mut Inner) {
        if g.state == CircuitState::Open && g.opened_at.elapsed() >= self.cfg.open_wait {
            g.state = CircuitState::HalfOpen;
            g.probes_started = 0;
            g.probes.clear();
            tracing::info!("gateway circuit half-open: probing");
        }
    }

    fn open(&self, g: &mut Inner) {
        g.state = CircuitState::Open;
        g.opened_at = Instant::now();
        g.window.clear();
        g.probes.clear();
        g.probes_started = 0;
        tracing::warn!(wait = ?self.cfg.open_wait, "gateway circuit OPEN: calls fail fast");
    }

    /// Asks to make a call.
    pub fn try_acquire(&self) -> Result<Permit, Rejected> {
        let mut g = self.lock();
        self.tick(&mut g);
        match g.state {
            CircuitState::Closed => Ok(Permit { started: Instant::now(), probe: false }),
            CircuitState::Open => Err(Rejected),
            CircuitState::HalfOpen => {
                if g.probes_started < self.cfg.half_open_calls {
                    g.probes_started += 1;
                    Ok(Permit { started: Instant::now(), probe: true })
                } else {
                    Err(Rejected)
                }
            }
        }
    }

    /// Whether a call would be let through now (without taking a half-open probe).
    pub fn would_allow(&self) -> bool {
        let mut g = self.lock();
        self.tick(&mut g);
        match g.state {
            CircuitState::Closed => true,
            CircuitState::Open => false,
            CircuitState::HalfOpen => g.probes_started < self.cfg.half_open_calls,
        }
    }

    fn rates(outcomes: impl Iterator<Item = Outcome> + Clone) -> (f64, f64) {
        let n = outcomes.clone().count().max(1) as f64;
        let failed = outcomes.clone().filter(|o| o.failed).count() as f64;
        let slow = outcomes.filter(|o| o.slow).count() as f64;
        (100.0 * failed / n, 100.0 * slow / n)
    }

    /// Records the outcome of a permitted call.
    pub fn record(&self, permit: Permit, success: bool) {
        let outcome = Outcome { failed: !success, slow: permit.started.elapsed() >= self.cfg.slow_call_duration };
        let mut g = self.lock();
        self.tick(&mut g);
        match (g.state, permit.probe) {
            (CircuitState::HalfOpen, true) => {
                g.probes.push(outcome);
                if g.probes.len() >= self.cfg.half_open_calls {
                    let (fail, slow) = Self::rates(g.probes.iter().copied());
                    if fail >= self.cfg.failure_rate_threshold || slow >= self.cfg.slow_call_rate_threshold {
                        self.open(&mut g);
                    } else {
                        g.state = CircuitState::Closed;
                        g.window.clear();
                        tracing::info!("gateway circuit closed");
                    }
                }
            }
            (CircuitState::Closed, false) => {
                g.window.push_back(outcome);
                while g.window.len() > self.cfg.window_size {
                    g.window.pop_front();
                }
                if g.window.len() >= self.cfg.minimum_calls.min(self.cfg.window_size) {
                    let (fail, slow) = Self::rates(g.window.iter().copied());
                    if fail >= self.cfg.failure_rate_threshold || slow >= self.cfg.slow_call_rate_threshold {
                        self.open(&mut g);
                    }
                }
            }
            // A call that started in another state: its outcome no longer counts.
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> CircuitBreaker {
        CircuitBreaker::new(BreakerConfig {
            window_size: 4,
            minimum_calls: 4,
            failure_rate_threshold: 50.0,
            open_wait: Duration::from_millis(50),
            half_open_calls: 2,
            ..Default::default()
        })
    }

    #[test]
    fn opens_at_the_threshold_then_half_opens_and_closes() {
        let b = small();
        for ok in [true, true, false] {
            b.record(b.try_acquire().unwrap(), ok);
        }
        assert_eq!(b.state(), CircuitState::Closed, "below the minimum number of calls");
        b.record(b.try_acquire().unwrap(), false);
        assert_eq!(b.state(), CircuitState::Open, "2 of 4 failed: 50 %");
        assert!(b.try_acquire().is_err());
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(b.state(), CircuitState::HalfOpen);
        let p1 = b.try_acquire().unwrap();
        let p2 = b.try_acquire().unwrap();
        assert!(b.try_acquire().is_err(), "only the permitted probes");
        b.record(p1, true);
        b.record(p2, true);
        assert_eq!(b.state(), CircuitState::Closed);
    }

    #[test]
    fn a_failed_probe_reopens() {
        let b = small();
        for _ in 0..4 {
            b.record(b.try_acquire().unwrap(), false);
        }
        std::thread::sleep(Duration::from_millis(60));
        let p1 = b.try_acquire().unwrap();
        let p2 = b.try_acquire().unwrap();
        b.record(p1, false);
        b.record(p2, true);
        assert_eq!(b.state(), CircuitState::Open);
    }

    #[test]
    fn defaults_are_resilience4j() {
        let d = BreakerConfig::default();
        assert_eq!((d.window_size, d.minimum_calls, d.half_open_calls), (100, 100, 10));
        assert_eq!(d.failure_rate_threshold, 50.0);
        assert_eq!(d.open_wait, Duration::from_secs(60));
    }
}
