//! Settle's application layer: the services the HTTP edge calls and the background workers, composed over
//! the store (and later the card and chain rails).
//!
//! - [`context`]: [`Context`], everything a request or a worker needs, built once at startup.
//! - [`payments`]: [`payments::PaymentService`], the payment use cases and their JSON views.
//! - [`card`]: the card rail: charge through the gateway, confirmed callbacks, the reconciler, voids.
//! - [`chain`]: the chain rail: chain settings, signed payment terms, the watcher.
//! - [`merchants`]: merchants, API keys, the demo seed, authentication.
//! - [`idempotency`]: Idempotency-Key handling (claim, wait, replay) around a business transaction.
//! - [`cache`]: the version-guarded payment cache over Redis or in-process memory.
//! - [`nats`]: the NATS JetStream publisher of every event (under a lease).
//! - [`outbox`]: the outbox relay worker (under a lease).
//! - [`follower`]: every instance's follower of the outbox: cache updates and the SSE fan-out.
//! - [`janitor`]: the lease-held purge of what outlived its retention.
//! - [`lease`]: [`lease::LeaseHolder`], a worker's hold on a named lease.
//! - [`webhooks`]: outgoing webhooks (endpoints, signed deliveries with retries, the sender) and the events API.
//! - [`worker`]: the `run_once` / loop shape of every background worker.
//! - [`crypto`]: secrets at rest, sealed with AES-256-GCM under the master keys.
//! - [`error`]: [`AppError`], what a use case can answer besides success.

pub mod audit;
pub mod backup;
pub mod cache;
pub mod card;
pub mod chain;
pub mod checkout;
pub mod context;
pub mod crypto;
pub mod error;
pub mod fanout;
pub mod follower;
pub mod handles;
pub mod idempotency;
pub mod janitor;
pub mod lease;
pub mod ledger;
pub mod merchants;
pub mod nats;
pub mod orders;
pub mod outbox;
pub mod payments;
pub mod rails;
pub mod refunds;
pub mod settings;
pub mod shop;
pub mod time;
pub mod webhooks;
pub mod worker;

pub use context::Context;
pub use error::AppError;
pub use settings::{CardSettings, Settings};

/// Runs a transaction again, up to three tries in all with a short pause, while the database rolls it back for
/// a reason a retry can cure (a deadlock victim, a serialization failure, a lock-wait timeout). The last such
/// failure is answered 503 with Retry-After, never 409 or 500. `attempt` must be a whole transaction: nothing
/// of a rolled-back try remains.
pub async fn retrying<T, F, Fut>(mut attempt: F) -> Result<T, AppError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, AppError>>,
{
    for pause_ms in [20u64, 80] {
        match attempt().await {
            // A write that already waited its whole turn (10 s) is not queued again: the caller hears 503 now.
            Err(AppError::Retryable(why)) if why != settle_store::connect::TURN_LATE => {
                metrics::counter!("settle_db_retries_total").increment(1);
                tracing::debug!(why, pause_ms, "trying the transaction again");
                tokio::time::sleep(std::time::Duration::from_millis(pause_ms)).await;
            }
            other => return other,
        }
    }
    attempt().await
}
