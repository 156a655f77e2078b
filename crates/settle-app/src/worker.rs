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
    loop {
        if *stop.borrow() {
            break;
        }
        let pause = match step().await {
            Ok(Outcome::Worked(_)) => None,
            Ok(Outcome::Idle) => Some(idle),
            Err(e) => {
                tracing::warn!(worker = name, error = %e, "worker step failed");
                Some(idle)
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
