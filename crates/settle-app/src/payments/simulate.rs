//! `POST /v1/test/payments/{id}/simulate`: test mode's helper. An outcome a rail would report (a decline, an
//! expiry, a reorganised block, ...) is recorded through the ledger exactly as the rail records it: the same
//! transition, history entry, event and webhook. Live mode refuses it.

use settle_domain::{PaymentStatus, Rail};
use settle_store::payments::{self as store, Changes};

use crate::{
    AppError, Context,
    idempotency::{self, IdemKey, Outcome, Reply},
    ledger::{Fact, after_transition, transition_in, views::PaymentView},
};

/// What a test payment is made to undergo.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Simulated {
    /// A CHAIN payment sent on its way (a relay sent, a payment seen before its confirmations): PENDING -> PROCESSING.
    Process,
    /// Paid for good (the gateway approved it, its block has its confirmations): -> COMPLETED (a PENDING payment
    /// through PROCESSING, as the rails report it). A CARD payment only before any charge was sent.
    Succeed,
    /// A CARD payment declined, before any charge was sent: PENDING -> PROCESSING -> FAILED.
    Decline,
    /// A CHAIN payment's terms ran out unpaid: PENDING -> EXPIRED. Its signed terms stay payable on chain until
    /// their own deadline: a payment made then is reported as `payment.paid_after_final`.
    Expire,
    /// A CHAIN payment's block reorganised away: PROCESSING -> PENDING (payable again); a COMPLETED payment stays
    /// COMPLETED and `payment.reorged` tells the merchant, as a reorganisation deeper than its confirmations does.
    /// Refused while the payment's relay is in flight.
    Reorg,
}

impl Simulated {
    fn name(self) -> &'static str {
        match self {
            Self::Process => "process",
            Self::Succeed => "succeed",
            Self::Decline => "decline",
            Self::Expire => "expire",
            Self::Reorg => "reorg",
        }
    }
}

/// Simulates `outcome` on one of a test tenant's payments; answers the payment as it now stands.
pub async fn simulate(ctx: &Context, tenant: &str, payment_id: &str, outcome: Simulated, key: Option<IdemKey>) -> Result<Reply, AppError> {
    if settle_domain::mode::is_live(tenant) {
        return Err(AppError::TestModeOnly);
    }
    let id = super::parse_id(payment_id)?;
    idempotency::once(ctx, tenant, key, |claim| async move {
        let mut row = store::find(&ctx.db, tenant, id.as_str()).await?.ok_or(AppError::NotFound("payment"))?;
        let refuse = |row: &store::PaymentRow, why: &str| {
            AppError::InvalidState(format!("a {} {} payment cannot be made to {}{why}", row.status, row.rail.as_str(), outcome.name()))
        };
        // A CARD payment is simulated only before any charge: once one moved it to PROCESSING, its outcome is the
        // gateway's (a simulated one could contradict the transaction the gateway holds). A charge racing the
        // simulation loses the compare-and-set on the PENDING row, or wins it and the simulation is refused.
        if row.rail == Rail::Card && (row.status != PaymentStatus::Pending || row.external_payment_key.is_some()) {
            return Err(refuse(&row, ": a charge was sent, and its outcome is the gateway's"));
        }
        if outcome == Simulated::Reorg
            && row.status == PaymentStatus::Processing
            && settle_store::relay::has_open_request(&ctx.db, &row.payment_id).await?
        {
            return Err(refuse(&row, ": its relay is still in flight"));
        }
        // A rail reports a payment sent before it reports it paid or declined: a PENDING payment is sent first, in
        // the same transaction as the outcome (all or nothing: a failure between them leaves it PENDING).
        let sends_first =
            row.status == PaymentStatus::Pending && (outcome == Simulated::Succeed || (outcome == Simulated::Decline && row.rail == Rail::Card));
        let status = if sends_first { PaymentStatus::Processing } else { row.status };
        let data = |code: &str, message: &str| Some(serde_json::json!({"code": code, "message": message, "simulated": true}));
        let (fact, changes, data) = match (outcome, row.rail, status) {
            (Simulated::Process, Rail::Chain, PaymentStatus::Pending) => (Fact::Submitted, Changes::default(), data("simulated", "sent on its way")),
            (Simulated::Succeed, _, PaymentStatus::Processing) => (Fact::Confirmed, Changes::default(), data("simulated", "paid")),
            (Simulated::Decline, Rail::Card, PaymentStatus::Processing) => {
                let message = "the card was declined (simulated)";
                (Fact::Failed, Changes { failure_message: Some(message.into()), ..Default::default() }, data("card_declined", message))
            }
            (Simulated::Expire, Rail::Chain, PaymentStatus::Pending) => {
                (Fact::Expired, Changes::default(), data("expired", "its terms ran out unpaid (simulated)"))
            }
            (Simulated::Reorg, Rail::Chain, PaymentStatus::Processing) => (
                Fact::Reopened,
                Changes::default(),
                data("reorged", "its transaction left the canonical chain (simulated); the payment waits to be paid"),
            ),
            (Simulated::Reorg, Rail::Chain, PaymentStatus::Completed) => return reorged_completed(ctx, &row, &claim).await,
            _ => return Err(refuse(&row, "")),
        };
        let changed = || AppError::InvalidState("the payment changed concurrently; simulate again".into());
        let txn = settle_store::begin(&ctx.db).await?;
        if sends_first {
            let sent = Some(serde_json::json!({"code": "simulated", "message": "sent on its way", "simulated": true}));
            row = transition_in(&txn, &row, Fact::Submitted, Changes::default(), sent, None).await?.ok_or_else(changed)?.0;
        }
        let (next, reply) = transition_in(&txn, &row, fact, changes, data, Some((&claim, Outcome::Done))).await?.ok_or_else(changed)?;
        txn.commit().await.map_err(settle_store::StoreError::from)?;
        claim.committed();
        after_transition(ctx, &next).await;
        reply.ok_or_else(|| AppError::internal(std::io::Error::other("a simulated transition recorded no answer")))
    })
    .await
}

/// A COMPLETED chain payment whose block left the canonical chain: the status stays (the payer's transfer may
/// still be mined again), and `payment.reorged` tells the merchant, as the chain watcher does.
async fn reorged_completed(ctx: &Context, row: &store::PaymentRow, claim: &idempotency::Claim) -> Result<Reply, AppError> {
    let view = PaymentView::from(row);
    let data = serde_json::json!({
        "paymentId": row.payment_id, "merchantId": view.merchant_id, "livemode": view.livemode, "chainId": row.chain_id,
        "txHash": row.tx_hash, "blockNumber": row.block_number, "stillPaid": null, "simulated": true,
    });
    let now = settle_store::now_ms();
    let txn = settle_store::begin(&ctx.db).await?;
    let payload = serde_json::json!({"type": "payment.reorged", "data": data});
    settle_store::outbox::enqueue(&txn, &row.merchant_id, "payment.reorged", &row.payment_id, &payload, now).await?;
    let reply = Reply { outcome: Outcome::Done, body: crate::ledger::views::body_of(&view)?, replayed: false };
    claim.complete_in(&txn, &reply).await?;
    txn.commit().await.map_err(settle_store::StoreError::from)?;
    claim.committed();
    ctx.outbox_wake.notify_one();
    Ok(reply)
}
