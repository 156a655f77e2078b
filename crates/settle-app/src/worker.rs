//! The shape of every background worker: a [`Worker`] is a single step that reports whether it found work, run by
//! a loop until shutdown, sleeping when idle, its lease (if it holds one) given up when it stops. Tests drive a
//! worker's step themselves, or drain it with [`run_until_idle`].

use std::{future::Future, time::Duration};

use tokio::sync::watch;

/// What one step of a worker did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Handled this many items; run again at once.
    Worked(usize),
    /// Nothing to do (or not our turn: another instance holds the lease).
    Idle,
}

/// A background worker: one step at a time.
pub trait Worker: Send + Sync + 'static {
    /// Its name in logs.
    const NAME: &'static str;
    /// Whether its steps write (a writer pauses while the cluster is read-only; a reader, the follower, goes on).
    const WRITES: bool = true;
    type Error: std::fmt::Display + Send;
    /// One step: what it handled, or that it found nothing to do (or it is another instance's turn).
    fn step(&self) -> impl Future<Output = Result<Outcome, Self::Error>> + Send;
    /// Gives up what it holds (its lease) so another instance takes over at once; run when it stops.
    fn release(&self) -> impl Future<Output = ()> + Send;
}

/// Implements [`Worker`] for a type with inherent `run_once` and `release` (the workers' shape): its name, whether it
/// writes, and its step's error type.
macro_rules! impl_worker {
    ($ty:ty, $name:literal, $writes:literal, $err:ty) => {
        impl $crate::worker::Worker for $ty {
            const NAME: &'static str = $name;
            const WRITES: bool = $writes;
            type Error = $err;
            fn step(&self) -> impl std::future::Future<Output = Result<$crate::worker::Outcome, $err>> + Send {
                self.run_once()
            }
            fn release(&self) -> impl std::future::Future<Output = ()> + Send {
                <$ty>::release(self)
            }
        }
    };
}
pub(crate) use impl_worker;

/// Implements [`Worker`] for a worker one instance at a time runs (the type's `lease` field): an inherent `run_once`
/// that runs the type's `run_held(now)` only while this instance holds the lease (with `able`, only when this instance
/// can do the work at all, so that it never takes the lease from one that can), and `release`, which gives the lease
/// up so another instance takes over at once. The lease preamble, written once.
macro_rules! leased_worker {
    ($ty:ty, $name:literal, $err:ty $(, able: |$w:ident| $able:expr)?) => {
        impl $ty {
            /// One step, if this instance holds the lease (else Idle).
            pub async fn run_once(&self) -> Result<$crate::worker::Outcome, $err> {
                $(
                    let $w = self;
                    if !$able {
                        return Ok($crate::worker::Outcome::Idle);
                    }
                )?
                let now = settle_store::now_ms();
                if !self.lease.hold(now).await? {
                    return Ok($crate::worker::Outcome::Idle);
                }
                self.run_held(now).await
            }

            /// Gives the lease up so another instance takes over at once.
            pub async fn release(&self) {
                self.lease.release().await;
            }
        }
        $crate::worker::impl_worker!($ty, $name, true, $err);
    };
}
pub(crate) use leased_worker;

/// Waits for stopped workers (each gives up its lease as it stops), all together, within `bound`.
pub async fn join(handles: Vec<tokio::task::JoinHandle<()>>, bound: Duration) {
    if tokio::time::timeout(bound, futures::future::join_all(handles)).await.is_err() {
        tracing::warn!(after = ?bound, "some workers did not stop in time; their leases lapse by themselves");
    }
}

/// Runs `worker` on `ctx` until `stop` turns true (woken by `wake`, else every `idle`), then releases it.
pub fn spawn<W: Worker>(
    ctx: &crate::Context,
    worker: W,
    wake: std::sync::Arc<tokio::sync::Notify>,
    idle: Duration,
    stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let ctx = ctx.clone();
    tokio::spawn(async move {
        let worker = std::sync::Arc::new(worker);
        let w = worker.clone();
        let step = move || {
            let (w, ctx) = (w.clone(), ctx.clone());
            async move {
                if W::WRITES && ctx.read_only().is_some() {
                    return Ok(Outcome::Idle);
                }
                w.step().await
            }
        };
        run_loop(W::NAME, step, wake, idle, stop).await;
        worker.release().await;
    })
}

/// Runs `step` until `stop` turns true. After an idle step it waits for `wake` or `idle` to pass; after an
/// error it logs and waits `idle`.
pub async fn run_loop<F, Fut, E>(
    name: &'static str,
    mut step: F,
    wake: std::sync::Arc<tokio::sync::Notify>,
    idle: Duration,
    mut stop: watch::Receiver<bool>,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Outcome, E>>,
    E: std::fmt::Display,
{
    // Consecutive failures: the pause doubles (up to a minute) and only the first of a streak is a warning,
    // so a dependency that stays down (an RPC node, the database) neither floods the log nor is hammered.
    let mut failures = 0u32;
    loop {
        if *stop.borrow() {
            break;
        }
        let pause = match step().await {
            Ok(Outcome::Worked(_)) => {
                failures = 0;
                None
            }
            Ok(Outcome::Idle) => {
                failures = 0;
                Some(idle)
            }
            Err(e) => {
                failures += 1;
                if failures == 1 {
                    tracing::warn!(worker = name, error = %e, "worker step failed; retrying with backoff");
                } else {
                    tracing::debug!(worker = name, error = %e, failures, "worker step failed again");
                }
                Some(idle.saturating_mul(1 << failures.min(6)).min(Duration::from_secs(60)).max(idle))
            }
        };
        if let Some(d) = pause {
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(d) => {}
                _ = stop.changed() => {}
            }
        }
    }
    tracing::debug!(worker = name, "worker stopped");
}

/// Runs `step` until it reports [`Outcome::Idle`]; returns the number of items handled.
pub async fn run_until_idle<F, Fut, E>(mut step: F) -> Result<usize, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Outcome, E>>,
{
    let mut total = 0;
    while let Outcome::Worked(n) = step().await? {
        total += n;
    }
    Ok(total)
}
