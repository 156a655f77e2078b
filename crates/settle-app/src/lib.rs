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
//! - [`outbox`]: the outbox relay worker (under a lease) and the event hub SSE streams read from.
//! - [`lease`]: [`lease::LeaseHolder`], a worker's hold on a named lease.
//! - [`worker`]: the `run_once` / loop shape of every background worker.
//! - [`error`]: [`AppError`], what a use case can answer besides success.

pub mod cache;
pub mod card;
pub mod chain;
pub mod context;
pub mod error;
pub mod idempotency;
pub mod lease;
pub mod merchants;
pub mod outbox;
pub mod payments;
pub mod worker;

pub use context::{CardSettings, Context, Settings};
pub use error::AppError;
