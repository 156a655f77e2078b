//! Orders and the purchase saga, seeds 002 and 004: the request in [`place`], the steps and compensations in
//! `steps`, choreography in [`choreography`] (the same steps, run as handlers of outbox events), how a saga ends
//! in `recovery`, and what a merchant reads in `views`.
//!
//! Orchestrated, placing an order is one local transaction: the user is checked, stock taken, the coupon used, points taken,
//! a CARD payment created PENDING for the remainder, the order PLACED and the saga recorded IN_PROGRESS with a
//! result per step, or none of it. The card is charged after that transaction, through the card rail. The
//! saga then ends in one transaction as well: COMPLETED (order PAID, transaction log, notification) once the
//! payment is COMPLETED, or COMPENSATED (points, coupon and stock given back in reverse order, order
//! CANCELLED, a PENDING payment FAILED) once it is known to have failed. An unknown outcome (PROCESSING) is
//! never compensated: the callback or the reconciler decides it, and [`SagaWorker`] ends the saga then, as it
//! does for a saga cut off by a crash. Both endings are compare-and-sets on the saga's version, so a saga ends
//! once, one way.
//!
//! A saga's steps, in order: CHECK_USER, RESERVE_STOCK, USE_COUPON, DEDUCT_POINTS, CREATE_PAYMENT, then
//! CHARGE_CARD; compensation runs them backwards, each giving back only what its recorded result took.
//!
//! A PAID order is cancelled, whole or some of its lines, by [`cancel`] (see `cancellation`).

use crate::{AppError, card::charge::CardInput};

mod cancellation;
pub mod choreography;
mod place;
mod recovery;
mod steps;
mod views;

pub(crate) use cancellation::refund_moved;
pub use cancellation::{CancelOrder, CancellationLine, CancellationView, MAX_CANCELLATIONS, cancel};
pub use choreography::{CHOREOGRAPHY, Choreographer, Consumer, progress, retry_dead_letter, rewind};
pub use place::place;
pub use recovery::{SagaWorker, settle};
pub use settle_store::orders::SagaFilter;
pub(crate) use steps::*;
pub use views::{
    DeadLetterPage, DeadLetterView, OrderLineView, OrderView, PlacedOrder, SagaList, SagaListQuery, SagaPage, SagaQuery, SagaStats, SagaView,
    StepView, dead_letters, list_sagas, placed, saga, saga_lines, saga_list, saga_stats,
};

pub use crate::settings::{ORCHESTRATION, Pattern};
use SagaStatus::{Compensated as COMPENSATED, Compensating as COMPENSATING, Completed as COMPLETED, Failed as FAILED, InProgress as IN_PROGRESS};
pub use settle_domain::SagaStatus;

/// How long an order placed with a card may keep a PENDING payment before its charge counts as never started.
const CHARGE_GRACE_MS: i64 = 10_000;

/// What an order's Idempotency-Key is bound to: `order:` and the order id.
pub(crate) const ORDER_RESOURCE: &str = "order:";

pub use crate::error::Refusal;

/// A refusal recorded as `code: message` (a choreographed saga's error) as the error the request answers.
fn refusal_of(error: &str) -> AppError {
    let (code, message) = error.split_once(": ").unwrap_or((error, error));
    match Refusal::parse(code) {
        Some(reason) => refused(reason, message),
        None => AppError::InvalidState(error.to_owned()),
    }
}

/// Why an order was refused (nothing changed). `code` is the seed's error, lower-cased.
fn refused(reason: Refusal, message: impl Into<String>) -> AppError {
    AppError::OrderRefused { reason, message: message.into() }
}

/// A parsed `POST /v1/orders`.
#[derive(Debug)]
pub struct OrderInput {
    pub user_id: String,
    /// (item, quantity)
    pub items: Vec<(String, i64)>,
    pub issued_coupon_id: Option<String>,
    pub use_points: i64,
    /// Pay everything left after the coupon with points (`POST /purchase`).
    pub all_in_points: bool,
    pub card: Option<CardInput>,
    /// None: the configured default.
    pub pattern: Option<Pattern>,
    /// What the merchant attaches to the order (and its card payment).
    pub details: settle_store::payments::Details,
}
