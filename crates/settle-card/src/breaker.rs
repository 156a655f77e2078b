//! A count-window circuit breaker with Resilience4j's semantics and defaults.
//!
//! CLOSED: the outcomes of the last `window_size` calls are kept; once at least `minimum_calls` are recorded
//! and the failure rate (or the slow-call rate) reaches its threshold, the breaker OPENs. OPEN: every call is
//! rejected without being made until `open_wait` has passed, then HALF_OPEN. HALF_OPEN: `half_open_calls`
//! probe calls are let through; when they are all recorded, the breaker CLOSEs if their failure rate is under
//! the threshold and OPENs again otherwise.
//!
//! Asking and taking are one step ([`CircuitBreaker::try_acquire`]), and a [`Permit`] is a guard: a call whose
//! future is dropped is still recorded, so a half-open round can never be left waiting for probes that are gone.
//!
//! Defaults follow Resilience4j: window 100, minimum 100, failure rate 50 %, slow-call rate 100 % at 60 s,
//! 60 s open, 10 half-open calls.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
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
    /// Bumped at every state change: a permit taken under an earlier generation no longer counts.
    generation: u64,
    window: VecDeque<Outcome>,
    opened_at: Instant,
    /// Probes let through in HALF_OPEN, and their outcomes.
    probes_started: usize,
    probes: Vec<Outcome>,
}

/// The breaker. Shared as an `Arc`: every [`Permit`] holds one so that it can record itself when dropped.
pub struct CircuitBreaker {
    cfg: BreakerConfig,
    inner: Mutex<Inner>,
}

/// Permission to make one call, taken in the same step as the question "may I call?".
///
/// It is a guard: report how the call went with [`Permit::success`] or [`Permit::failure`], or give it back
/// unused with [`Permit::release`]. A permit dropped without any of these (its future was cancelled: a client
/// gone, a request timeout, shutdown) is recorded as a failure, so a half-open round always concludes.
#[must_use]
pub struct Permit {
    breaker: Arc<CircuitBreaker>,
    started: Instant,
    probe: bool,
    /// A side call's success says nothing about the gateway's health (see [`CircuitBreaker::try_acquire_side`]).
    counts_success: bool,
    generation: u64,
    done: bool,
}

impl Permit {
    /// The call went through and the gateway behaved.
    pub fn success(mut self) {
        self.done = true;
        let ok = if self.counts_success { Some(true) } else { None };
        self.breaker.record(self.generation, self.probe, self.started, ok);
    }

    /// The call failed in a way that counts against the gateway.
    pub fn failure(mut self) {
        self.done = true;
        self.breaker.record(self.generation, self.probe, self.started, Some(false));
    }

    /// The permit was not used (nothing was sent): a half-open probe place is freed, nothing is counted.
    pub fn release(mut self) {
        self.done = true;
        self.breaker.record(self.generation, self.probe, self.started, None);
    }

    /// Records `ok`.
    pub fn record(self, ok: bool) {
        if ok { self.success() } else { self.failure() }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.done {
            tracing::debug!(probe = self.probe, "gateway call abandoned; recorded as a failure");
            self.breaker.record(self.generation, self.probe, self.started, Some(false));
        }
    }
}

impl std::fmt::Debug for Permit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Permit").field("probe", &self.probe).field("generation", &self.generation).finish()
    }
}

/// The breaker refused the call: nothing was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejected;

impl CircuitBreaker {
    pub fn new(cfg: BreakerConfig) -> Arc<Self> {
        Arc::new(Self {
            cfg,
            inner: Mutex::new(Inner {
                state: CircuitState::Closed,
                generation: 0,
                window: VecDeque::new(),
                opened_at: Instant::now(),
                probes_started: 0,
                probes: Vec::new(),
            }),
        })
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
            g.generation += 1;
            g.probes_started = 0;
            g.probes.clear();
            tracing::info!("gateway circuit half-open: probing");
        }
    }

    fn open(&self, g: &mut Inner) {
        g.state = CircuitState::Open;
        g.generation += 1;
        g.opened_at = Instant::now();
        g.window.clear();
        g.probes.clear();
        g.probes_started = 0;
        tracing::warn!(wait = ?self.cfg.open_wait, "gateway circuit OPEN: calls fail fast");
    }

    fn close(&self, g: &mut Inner) {
        g.state = CircuitState::Closed;
        g.generation += 1;
        g.window.clear();
        g.probes.clear();
        g.probes_started = 0;
        tracing::info!("gateway circuit closed");
    }

    /// Asks to make a call and, when allowed, takes the permit in the same step.
    pub fn try_acquire(self: &Arc<Self>) -> Result<Permit, Rejected> {
        let mut g = self.lock();
        self.tick(&mut g);
        let probe = match g.state {
            CircuitState::Closed => false,
            CircuitState::Open => return Err(Rejected),
            CircuitState::HalfOpen if g.probes_started < self.cfg.half_open_calls => {
                g.probes_started += 1;
                true
            }
            CircuitState::HalfOpen => return Err(Rejected),
        };
        Ok(Permit { breaker: self.clone(), started: Instant::now(), probe, counts_success: true, generation: g.generation, done: false })
    }

    /// Asks to make a side call: one that anyone outside can cause (a read for an unauthenticated callback).
    /// It runs only while the circuit is closed, never takes a half-open probe place, and its failures count
    /// but its successes do not: a flood of cheap reads can neither keep a failing gateway's circuit closed
    /// nor take the places of the probes that should decide it.
    pub fn try_acquire_side(self: &Arc<Self>) -> Result<Permit, Rejected> {
        let mut g = self.lock();
        self.tick(&mut g);
        if g.state != CircuitState::Closed {
            return Err(Rejected);
        }
        Ok(Permit { breaker: self.clone(), started: Instant::now(), probe: false, counts_success: false, generation: g.generation, done: false })
    }

    fn rates(outcomes: impl Iterator<Item = Outcome> + Clone) -> (f64, f64) {
        let n = outcomes.clone().count().max(1) as f64;
        let failed = outcomes.clone().filter(|o| o.failed).count() as f64;
        let slow = outcomes.filter(|o| o.slow).count() as f64;
        (100.0 * failed / n, 100.0 * slow / n)
    }

    /// Records a permit's outcome (`None`: unused). Only permits of the current generation count.
    fn record(&self, generation: u64, probe: bool, started: Instant, ok: Option<bool>) {
        let mut g = self.lock();
        self.tick(&mut g);
        if g.generation != generation {
            return;
        }
        let Some(ok) = ok else {
            if probe && g.state == CircuitState::HalfOpen {
                g.probes_started = g.probes_started.saturating_sub(1);
            }
            return;
        };
        let outcome = Outcome { failed: !ok, slow: started.elapsed() >= self.cfg.slow_call_duration };
        match (g.state, probe) {
            (CircuitState::HalfOpen, true) => {
                g.probes.push(outcome);
                if g.probes.len() >= self.cfg.half_open_calls {
                    let (fail, slow) = Self::rates(g.probes.iter().copied());
                    if fail >= self.cfg.failure_rate_threshold || slow >= self.cfg.slow_call_rate_threshold {
                        self.open(&mut g);
                    } else {
                        self.close(&mut g);
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
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Arc<CircuitBreaker> {
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
            b.try_acquire().unwrap().record(ok);
        }
        assert_eq!(b.state(), CircuitState::Closed, "below the minimum number of calls");
        b.try_acquire().unwrap().failure();
        assert_eq!(b.state(), CircuitState::Open, "2 of 4 failed: 50 %");
        assert!(b.try_acquire().is_err());
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(b.state(), CircuitState::HalfOpen);
        let p1 = b.try_acquire().unwrap();
        let p2 = b.try_acquire().unwrap();
        assert!(b.try_acquire().is_err(), "only the permitted probes");
        p1.success();
        p2.success();
        assert_eq!(b.state(), CircuitState::Closed);
    }

    #[test]
    fn a_failed_probe_reopens() {
        let b = small();
        for _ in 0..4 {
            b.try_acquire().unwrap().failure();
        }
        std::thread::sleep(Duration::from_millis(60));
        let p1 = b.try_acquire().unwrap();
        let p2 = b.try_acquire().unwrap();
        p1.failure();
        p2.success();
        assert_eq!(b.state(), CircuitState::Open);
    }

    #[test]
    fn dropped_probes_are_recorded_so_half_open_always_concludes() {
        let b = small();
        for _ in 0..4 {
            b.try_acquire().unwrap().failure();
        }
        std::thread::sleep(Duration::from_millis(60));
        // Both probes are taken, then their calls are cancelled: their futures (and permits) are dropped.
        let (p1, p2) = (b.try_acquire().unwrap(), b.try_acquire().unwrap());
        assert!(b.try_acquire().is_err());
        drop(p1);
        drop(p2);
        assert_eq!(b.state(), CircuitState::Open, "abandoned probes count as failures: the round concluded");
        std::thread::sleep(Duration::from_millis(60));
        b.try_acquire().unwrap().success();
        b.try_acquire().unwrap().success();
        assert_eq!(b.state(), CircuitState::Closed, "the next round closes it");
    }

    #[test]
    fn a_released_probe_frees_its_place_and_old_permits_do_not_count() {
        let b = small();
        for _ in 0..4 {
            b.try_acquire().unwrap().failure();
        }
        std::thread::sleep(Duration::from_millis(60));
        let p1 = b.try_acquire().unwrap();
        let p2 = b.try_acquire().unwrap();
        p1.release();
        let p3 = b.try_acquire().expect("the released place is free again");
        p2.success();
        p3.success();
        assert_eq!(b.state(), CircuitState::Closed);
        // A permit from the closed generation, recorded after the breaker opened and half-opened again, is ignored.
        let stale = b.try_acquire().unwrap();
        for _ in 0..4 {
            b.try_acquire().unwrap().failure();
        }
        assert_eq!(b.state(), CircuitState::Open);
        stale.failure();
        std::thread::sleep(Duration::from_millis(60));
        b.try_acquire().unwrap().success();
        b.try_acquire().unwrap().success();
        assert_eq!(b.state(), CircuitState::Closed);
    }

    #[test]
    fn side_calls_never_probe_and_their_successes_do_not_count() {
        let b = small();
        // Successful side calls do not fill the window: three real failures and a flood of side successes...
        for _ in 0..3 {
            b.try_acquire().unwrap().failure();
        }
        for _ in 0..100 {
            b.try_acquire_side().unwrap().success();
        }
        assert_eq!(b.state(), CircuitState::Closed);
        // ...and a side call's failure counts: 4 of 4 failed.
        b.try_acquire_side().unwrap().failure();
        assert_eq!(b.state(), CircuitState::Open);
        assert!(b.try_acquire_side().is_err(), "no side calls while open");
        std::thread::sleep(Duration::from_millis(60));
        assert!(b.try_acquire_side().is_err(), "nor while half-open: they take no probe place");
        let (p1, p2) = (b.try_acquire().unwrap(), b.try_acquire().unwrap());
        p1.success();
        p2.success();
        assert_eq!(b.state(), CircuitState::Closed, "the probes alone decided");
    }

    #[test]
    fn defaults_are_resilience4j() {
        let d = BreakerConfig::default();
        assert_eq!((d.window_size, d.minimum_calls, d.half_open_calls), (100, 100, 10));
        assert_eq!(d.failure_rate_threshold, 50.0);
        assert_eq!(d.open_wait, Duration::from_secs(60));
    }
}
