//! `POST /v1/payments/{id}/card`: one charge, run to completion in a task of its own.

use settle_card::client::{ChargeOutcome, GatewayClient, GatewayError};
use settle_domain::{CardNumber, CardType, EventType, PaymentId, PaymentStatus, Rail};
use settle_store::{
    StoreError,
    payments::{self as store, Changes, PaymentRow},
};

use super::change;
use crate::{
    AppError, Context,
    idempotency::{self, Claim, IdemKey, Outcome, Reply},
    ledger::{
        Fact, after_transition, transition_in,
        views::{PaymentView, cached},
    },
};

/// What a charge's Idempotency-Key is bound to: `payment:` and the payment id.
pub(crate) const PAYMENT_RESOURCE: &str = "payment:";

/// A parsed `POST /v1/payments/{id}/card`.
#[derive(Debug)]
pub struct CardInput {
    pub card_type: CardType,
    pub card_no: CardNumber,
}

/// Charges a CARD payment. Accepted (PROCESSING) when the gateway accepted it or the outcome is unknown,
/// declined (FAILED) when it declined; an error with the payment PENDING when nothing was charged (circuit
/// open, bulkhead full, gateway unreachable or refusing Settle's configuration, no gateway configured).
pub async fn charge(ctx: &Context, merchant_id: &str, payment_id: &str, input: CardInput, key: Option<IdemKey>) -> Result<Reply, AppError> {
    let id = PaymentId::parse("paymentId", payment_id)?;
    let gateway = ctx.card_gateway(merchant_id).ok_or(AppError::CardRailNotConfigured)?;
    idempotency::once(ctx, merchant_id, key, |claim| async move {
        // The charge runs in a task of its own, holding the claim: if the request is cancelled (timeout, client
        // gone), the gateway's answer is still recorded and the Idempotency-Key still gets its response (or is
        // released when the charge fails); shutdown waits for it.
        let (task_ctx, merchant) = (ctx.clone(), merchant_id.to_owned());
        let task = ctx.charges.spawn(id.to_string(), async move {
            // The key was bound to this payment by a charge that then failed, or died, after moving it to
            // PROCESSING: answer with the payment as it stands, unless nothing was charged (PENDING again).
            if claim.resumes().is_some() {
                let row = store::find(&task_ctx.db, &merchant, id.as_str()).await?.ok_or(AppError::NotFound("payment"))?;
                if row.status != PaymentStatus::Pending {
                    return reply_with_current(&task_ctx, &claim, &row.payment_id, Outcome::Accepted).await;
                }
            }
            charge_inner(&task_ctx, &gateway, &merchant, &id, input, &claim).await
        });
        task.await.map_err(AppError::internal)?
    })
    .await
}

async fn charge_inner(
    ctx: &Context,
    gateway: &GatewayClient,
    merchant_id: &str,
    id: &PaymentId,
    input: CardInput,
    claim: &Claim,
) -> Result<Reply, AppError> {
    let row = store::find(&ctx.db, merchant_id, id.as_str()).await?.ok_or(AppError::NotFound("payment"))?;
    if row.rail != Rail::Card {
        return Err(AppError::InvalidState("this is not a CARD payment".into()));
    }
    row.status.transition(PaymentStatus::Processing)?;
    let amount = row.amount.parse::<u64>().map_err(|_| AppError::InvalidState("amount too large for the card gateway".into()))?;
    // The circuit's permit and a bulkhead place, in one step, before the payment is touched: when either is
    // refused nothing was sent and the payment stays PENDING. An unused slot gives its permit back.
    let mut slot = gateway.slot().await.map_err(|e| match e {
        GatewayError::BulkheadFull => AppError::GatewayBusy,
        _ => AppError::CircuitOpen,
    })?;
    let changes = Changes { card_type: Some(input.card_type.as_str().into()), card_last4: Some(input.card_no.last4().into()), ..Default::default() };
    let data = serde_json::json!({"cardType": input.card_type.as_str(), "cardLast4": input.card_no.last4()});
    // PENDING -> PROCESSING, with the Idempotency-Key bound to the payment in the same commit: from here a retry
    // answers with this payment and never charges it again.
    let txn = settle_store::begin(&ctx.db).await?;
    let Some((row, _)) = transition_in(&txn, &row, Fact::Submitted, changes, Some(data), None).await? else {
        return Err(AppError::InvalidState("the payment changed concurrently".into()));
    };
    claim.bind_in(&txn, &format!("{PAYMENT_RESOURCE}{}", row.payment_id)).await?;
    txn.commit().await.map_err(StoreError::from)?;
    after_transition(ctx, &row).await;
    let req = settle_card::wire::ChargeRequest {
        order_id: row.payment_id.clone(),
        card_type: input.card_type.as_str().into(),
        card_no: input.card_no.expose().into(),
        amount,
        callback_url: ctx.settings.card.callback_url.clone().unwrap_or_default(),
    };
    let outcome = gateway.charge(&mut slot, merchant_id, &req).await;
    drop(slot);
    match outcome {
        Ok(ChargeOutcome::Accepted { transaction_key }) => {
            tracing::info!(payment_id = %row.payment_id, %transaction_key, "card charge accepted");
            accepted(ctx, claim, row, &transaction_key).await
        }
        Ok(ChargeOutcome::Declined { code, message }) => {
            tracing::info!(payment_id = %row.payment_id, gateway_code = %code, "card charge declined");
            let changes = Changes { failure_message: Some(message.clone()), ..Default::default() };
            let data = serde_json::json!({"code": "card_declined", "gatewayCode": code, "message": message});
            finish_or_reread(ctx, claim, row, Fact::Failed, changes, data, Outcome::Declined).await
        }
        Ok(ChargeOutcome::NotRecorded { code, detail }) => {
            tracing::warn!(payment_id = %row.payment_id, code, %detail, "card charge reached no gateway; nothing was charged");
            let message = "the card gateway could not be reached; nothing was charged";
            // Something was sent: were the gateway to show it to lookups later than the client assumes, and its
            // callback be lost, the payment's final check (once it has ended) finds and voids it.
            revert(ctx, claim, &row, code, message, Some(super::final_check_due(ctx)), AppError::GatewayUnavailable).await
        }
        Ok(ChargeOutcome::Misconfigured { detail }) => {
            tracing::error!(payment_id = %row.payment_id, %detail, "the card gateway refused Settle's credentials or URL; nothing was charged");
            let message = "the card gateway refused this server's configuration; nothing was charged";
            revert(ctx, claim, &row, settle_card::client::reason::MISCONFIGURED, message, None, AppError::GatewayMisconfigured).await
        }
        Err(e) => {
            tracing::warn!(payment_id = %row.payment_id, error = %e, "card charge not sent");
            let refusal = match e {
                GatewayError::BulkheadFull => AppError::GatewayBusy,
                _ => AppError::CircuitOpen,
            };
            let message = "the card gateway was not called; nothing was charged";
            revert(ctx, claim, &row, settle_card::client::reason::CIRCUIT_OPEN, message, None, refusal).await
        }
        Ok(ChargeOutcome::Unknown { code, detail }) => {
            tracing::warn!(payment_id = %row.payment_id, code, %detail, "card charge outcome unknown; the reconciler will ask the gateway");
            metrics::counter!("settle_card_unknown_outcomes_total", "code" => code).increment(1);
            let data = serde_json::json!({"code": code, "message": "the card gateway's answer was lost; the outcome is settled by reconciliation"});
            let _ = store::annotate(&ctx.db, &row, EventType::OutcomeUnknown, Changes::default(), Some(data), settle_store::now_ms()).await;
            reply_with_current(ctx, claim, &row.payment_id, Outcome::Accepted).await
        }
    }
}

/// PROCESSING -> PENDING: the charge recorded nothing, so the payer may try again; answered `refusal` ("nothing was
/// charged"). A payment another writer only annotated meanwhile (still PROCESSING, no transaction key: a void's
/// event, a flag) is reverted as it now stands. One the gateway's word moved (its callback recorded a key or an
/// outcome, or the reconciler asking it did) is answered as it stands, never "nothing was charged": the gateway
/// recorded this charge after all, whatever the client concluded (a gateway slower to show a transaction to order
/// lookups than the client assumes), and an order answered so would be given back and its key forgotten, and a
/// retry would charge the card again. `final_check`: when the payment is looked at once more at the gateway, once
/// it has ended (see the reconciler's final check).
async fn revert(
    ctx: &Context,
    claim: &Claim,
    row: &PaymentRow,
    code: &str,
    message: &str,
    final_check: Option<i64>,
    refusal: AppError,
) -> Result<Reply, AppError> {
    let data = serde_json::json!({"code": code, "message": message});
    let changes = Changes { final_check_at: final_check, ..Default::default() };
    let mut current = row.clone();
    for _ in 0..5 {
        if change(ctx, &current, Fact::Reopened, changes.clone(), data.clone(), None).await?.is_some() {
            return Err(refusal);
        }
        current = store::find_any(&ctx.db, &row.payment_id).await?.ok_or(AppError::NotFound("payment"))?;
        if current.status != PaymentStatus::Processing || current.external_payment_key.is_some() {
            break;
        }
    }
    tracing::warn!(payment_id = %row.payment_id, status = %current.status, "a charge judged unrecorded found its payment moved by another writer; answered as it stands");
    metrics::counter!("settle_card_unrecorded_but_changed_total").increment(1);
    reply_with_current(ctx, claim, &row.payment_id, Outcome::Accepted).await
}

/// The gateway took the charge: record its key (ACCEPTED), unless a callback got there first; a key other than
/// the recorded one is a second transaction and is voided.
async fn accepted(ctx: &Context, claim: &Claim, row: PaymentRow, tx_key: &str) -> Result<Reply, AppError> {
    let mut current = row;
    for _ in 0..5 {
        match &current.external_payment_key {
            Some(k) if k == tx_key => break,
            Some(_) => {
                super::apply::void_later(ctx, &current, tx_key, super::apply::VoidReason::Duplicate).await?;
                break;
            }
            None if current.status != PaymentStatus::Processing => {
                // Settled without this key (the reconciler failed it): the money must go back.
                super::apply::void_later(ctx, &current, tx_key, super::apply::VoidReason::LateSuccess).await?;
                break;
            }
            None => {}
        }
        let changes = Changes { external_payment_key: Some(tx_key.to_owned()), ..Default::default() };
        let data = serde_json::json!({"transactionKey": tx_key});
        if let Some(next) = store::annotate(&ctx.db, &current, EventType::Accepted, changes, Some(data), settle_store::now_ms()).await? {
            ctx.cache.put_status(&cached(&next)).await;
            break;
        }
        current = store::find_any(&ctx.db, &current.payment_id).await?.ok_or(AppError::NotFound("payment"))?;
    }
    reply_with_current(ctx, claim, &current.payment_id, Outcome::Accepted).await
}

/// Applies a final status; when a callback or the reconciler already did, answers with what is recorded.
async fn finish_or_reread(
    ctx: &Context,
    claim: &Claim,
    row: PaymentRow,
    fact: Fact,
    changes: Changes,
    data: serde_json::Value,
    outcome: Outcome,
) -> Result<Reply, AppError> {
    match change(ctx, &row, fact, changes, data, Some((claim, outcome))).await? {
        Some((_, Some(reply))) => Ok(reply),
        Some((next, None)) => {
            Ok(Reply { outcome, body: serde_json::to_string(&PaymentView::from(&next)).map_err(AppError::internal)?, replayed: false })
        }
        None => reply_with_current(ctx, claim, &row.payment_id, Outcome::Accepted).await,
    }
}

/// Answers with the payment as recorded now, storing the answer for the Idempotency-Key.
async fn reply_with_current(ctx: &Context, claim: &Claim, payment_id: &str, outcome: Outcome) -> Result<Reply, AppError> {
    let row = store::find_any(&ctx.db, payment_id).await?.ok_or(AppError::NotFound("payment"))?;
    let outcome = if row.status == PaymentStatus::Failed && outcome == Outcome::Accepted { Outcome::Declined } else { outcome };
    claim
        .complete(&ctx.db, Reply { outcome, body: serde_json::to_string(&PaymentView::from(&row)).map_err(AppError::internal)?, replayed: false })
        .await
}
