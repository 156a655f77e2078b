//! The shape of every background worker: a single step `run_once` that reports whether it found work, and a
//! loop that runs it until shutdown, sleeping when idle. Tests drain a worker with [`run_until_idle`].

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
