//! The ledger: applies what a rail observed to a payment, knowing no rail. A rail reports a [`Fact`] (sent on its
//! way, confirmed, failed, ...); the ledger decides the status it means. Each change is one compare-and-set of
//! the payment's status with its payment_event, its outbox row and (when a request waits on it) the
//! Idempotency-Key's answer, in one database transaction (or inside the caller's); the cache is refreshed after the
//! commit, guarded by the row version.

pub mod views;

use settle_domain::PaymentStatus;
use settle_store::{
    StoreError,
    payments::{self as store, PaymentRow},
};

use crate::{
    AppError, Context,
    idempotency::{Claim, Outcome, Reply},
};
use views::{PaymentView, body_of, cached, event_payload};

/// What a rail observed of a payment, or what a use case decided of it: the ledger turns it into a status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fact {
    /// Sent on its way, its outcome not known yet: a charge sent to the gateway, a relay sent, a payment seen on
    /// chain before its confirmations.
    Submitted,
    /// Paid for good: the gateway approved it, its block has its confirmations.
    Confirmed,
    /// Not paid, for good: declined, or known never to have been charged.
    Failed,
    /// Its terms ran out unpaid.
    Expired,
    /// A cancel is under way on the rail (the on-chain cancellation).
    CancelRequested,
    /// Cancelled: on chain, or before anything was sent.
    Cancelled,
    /// What was submitted is known not to have gone through (a charge the gateway never recorded, a relay that will
    /// never mine, a block reorganised away): the payment can be paid again.
    Reopened,
}

impl Fact {
    /// The status this fact means.
    pub(crate) fn status(self) -> PaymentStatus {
        match self {
            Self::Submitted => PaymentStatus::Processing,
            Self::Confirmed => PaymentStatus::Completed,
            Self::Failed => PaymentStatus::Failed,
            Self::Expired => PaymentStatus::Expired,
            Self::CancelRequested => PaymentStatus::Cancelling,
            Self::Cancelled => PaymentStatus::Cancelled,
            Self::Reopened => PaymentStatus::Pending,
        }
    }
}

/// Applies `fact` to `row` in one transaction with its event, its outbox row and, when `reply` is given, the
/// response (stored for the Idempotency-Key if there is one); then wakes the relay and refreshes the cache.
/// Returns None when another writer changed the payment first.
pub(crate) async fn apply_transition(
    ctx: &Context,
    row: &PaymentRow,
    fact: Fact,
    changes: store::Changes,
    data: Option<serde_json::Value>,
    reply: Option<(&Claim, Outcome)>,
) -> Result<Option<(PaymentRow, Option<Reply>)>, AppError> {
    let txn = settle_store::begin(&ctx.db).await?;
    let Some((next, answer)) = transition_in(&txn, row, fact, changes, data, reply).await? else {
        return Ok(None);
    };
    txn.commit().await.map_err(StoreError::from)?;
    if let Some((claim, _)) = reply {
        claim.committed();
    }
    let reply = answer;
    after_transition(ctx, &next).await;
    Ok(Some((next, reply)))
}

/// [`apply_transition`]'s writes in the caller's database transaction (with the caller's own writes, which
/// then commit or roll back with it); the caller runs [`after_transition`] once it has committed.
pub(crate) async fn transition_in(
    txn: &settle_store::DatabaseTransaction,
    row: &PaymentRow,
    fact: Fact,
    changes: store::Changes,
    data: Option<serde_json::Value>,
    reply: Option<(&Claim, Outcome)>,
) -> Result<Option<(PaymentRow, Option<Reply>)>, AppError> {
    let t = row.status.transition(fact.status())?;
    let now = settle_store::now_ms();
    let Some(next) = store::transition(txn, row, t, changes, data, now).await? else {
        return Ok(None);
    };
    let view = PaymentView::from(&next);
    let topic = t.event().topic();
    settle_store::outbox::enqueue(txn, &next.merchant_id, topic, &next.payment_id, &event_payload(topic, &view), now).await?;
    let reply = match reply {
        Some((claim, outcome)) => {
            let r = Reply { outcome, body: body_of(&view)?, replayed: false };
            claim.complete_in(txn, &r).await?;
            Some(r)
        }
        None => None,
    };
    Ok(Some((next, reply)))
}

/// After a transition committed: wakes the outbox relay and refreshes the cache.
pub(crate) async fn after_transition(ctx: &Context, next: &PaymentRow) {
    ctx.outbox_wake.notify_one();
    ctx.cache.put_status(&cached(next)).await;
}
