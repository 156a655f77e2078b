//! The card rail (seed 004), made so that no card is charged twice and no payment is left undecided.
//!
//! A charge: the card is checked at the edge; the circuit and the bulkhead are asked first, so that when
//! either refuses nothing is sent and the payment stays PENDING; the payment then becomes PROCESSING (a
//! compare-and-set, so two concurrent charges of one payment cannot both go out); the gateway is called
//! outside any transaction; its answer is recorded: accepted (the transaction key), declined (FAILED),
//! certainly not recorded (FAILED, nothing charged) or unknown (PROCESSING without a key).
//!
//! Results arrive by callback, which is not trusted: Settle asks the gateway for the transaction and applies
//! what the gateway says. The reconciler, under a lease, asks about PROCESSING payments that callbacks missed
//! (by key, or by order id when the key is unknown), backing off per payment, and fails a payment the gateway
//! never recorded after a deadline. Every change is a compare-and-set on the row version: when a callback and
//! the reconciler race, one applies and the other is a no-op.

use futures::StreamExt;
use settle_card::{
    client::{ChargeOutcome, PgError},
    wire::{ChargeRequest, Transaction},
};
use settle_domain::{CardNumber, CardType, PaymentId, PaymentStatus, Rail};
use settle_store::{
    StoreError,
    payments::{self as store, Changes, PaymentRow},
};

use crate::{
    AppError, Context,
    idempotency::{self, IdemKey, Reply, Start},
    lease::LeaseHolder,
    payments::{PaymentView, apply_transition, cached},
    worker::Outcome,
};

pub const LEASE: &str = "card-reconciler";

fn status_of(row: &PaymentRow) -> Result<PaymentStatus, AppError> {
    row.status.parse().map_err(|_| AppError::InvalidState(format!("unknown status {}", row.status)))
}

/// [`apply_transition`] for the card rail, counting payments that reach a final status.
async fn change(
    ctx: &Context,
    row: &PaymentRow,
    to: PaymentStatus,
    changes: Changes,
    data: serde_json::Value,
    idem: Option<(&str, &IdemKey, u16)>,
) -> Result<Option<(PaymentRow, Option<Reply>)>, AppError> {
    let res = apply_transition(ctx, row, to, changes, Some(data), idem.map(|(m, k, s)| (m, Some(k), s))).await?;
    if res.is_some() && to.is_terminal() {
        metrics::counter!("settle_card_payments_final_total", "status" => to.as_str()).increment(1);
    }
    Ok(res)
}

/// A parsed `POST /payments/{id}/card`.
#[derive(Debug)]
pub struct CardInput {
    pub card_type: CardType,
    pub card_no: CardNumber,
}

/// Charges a CARD payment. 202 (PROCESSING) when the gateway accepted it or the outcome is unknown, 402
/// (FAILED) when it declined, 503 when the circuit is open or the bulkhead is full (nothing sent, PENDING).
pub async fn charge(ctx: &Context, merchant_id: &str, payment_id: &str, input: CardInput, key: Option<&IdemKey>) -> Result<Reply, AppError> {
    let id = PaymentId::parse("paymentId", payment_id)?;
    let pg = ctx.pg.clone().ok_or(AppError::Unavailable("the card gateway"))?;
    if let Start::Replay(r) = idempotency::start(ctx, merchant_id, key).await? {
        return Ok(r);
    }
    // The charge runs in a task of its own: if the request is cancelled (timeout, client gone), the gateway's
    // answer is still recorded, and the Idempotency-Key still gets its response.
    let (ctx, merchant_id, key) = (ctx.clone(), merchant_id.to_owned(), key.cloned());
    let task = tokio::spawn(async move {
        let res = charge_inner(&ctx, &pg, &merchant_id, &id, input, key.as_ref()).await;
        if res.is_err() {
            idempotency::abandon(&ctx, &merchant_id, key.as_ref()).await;
        }
        res
    });
    task.await.map_err(AppError::internal)?
}

async fn charge_inner(
    ctx: &Context,
    pg: &settle_card::client::PgClient,
    merchant_id: &str,
    id: &PaymentId,
    input: CardInput,
    key: Option<&IdemKey>,
) -> Result<Reply, AppError> {
    let row = store::find(&ctx.db, merchant_id, id.as_str()).await?.ok_or(AppError::NotFound("payment"))?;
    if row.rail != Rail::Card.as_str() {
        return Err(AppError::InvalidState("this is not a CARD payment".into()));
    }
    let from = status_of(&row)?;
    from.transition(PaymentStatus::Processing)?;
    let amount = row.amount.parse::<u64>().map_err(|_| AppError::InvalidState("amount too large for the card gateway".into()))?;
    // Nothing is touched unless the circuit and the bulkhead let the call through.
    let slot = pg.slot().await.map_err(|e| match e {
        PgError::BulkheadFull => AppError::GatewayBusy,
        _ => AppError::CircuitOpen,
    })?;
    let changes = Changes { card_type: Some(input.card_type.as_str().into()), card_last4: Some(input.card_no.last4().into()), ..Default::default() };
    let data = serde_json::json!({"cardType": input.card_type.as_str(), "cardLast4": input.card_no.last4()});
    let Some((row, _)) = change(ctx, &row, PaymentStatus::Processing, changes, data, None).await? else {
        return Err(AppError::InvalidState("the payment changed concurrently".into()));
    };
    let req = ChargeRequest {
        order_id: row.payment_id.clone(),
        card_type: input.card_type.as_str().into(),
        card_no: input.card_no.expose().into(),
        amount,
        callback_url: ctx.settings.card.callback_url.clone(),
    };
    let outcome = pg.charge(&slot, merchant_id, &req).await;
    drop(slot);
    tracing::info!(payment_id = %row.payment_id, outcome = ?outcome, "card charge");
    let outcome = outcome.unwrap_or_else(|e| ChargeOutcome::NotRecorded { reason: e.to_string() });
    match outcome {
        ChargeOutcome::Accepted { transaction_key } => accepted(ctx, merchant_id, key, row, &transaction_key).await,
        ChargeOutcome::Declined { reason } => {
            let changes = Changes { failure_message: Some(truncate(&reason)), ..Default::default() };
            let data = serde_json::json!({"reason": reason, "by": "gateway"});
            finish_or_reread(ctx, merchant_id, key, row, PaymentStatus::Failed, changes, data, 402).await
        }
        ChargeOutcome::NotRecorded { reason } => {
            let msg = "the card gateway could not be reached; nothing was charged";
            let changes = Changes { failure_message: Some(msg.into()), ..Default::default() };
            let data = serde_json::json!({"reason": reason, "by": "settle"});
            finish_or_reread(ctx, merchant_id, key, row, PaymentStatus::Failed, changes, data, 402).await
        }
        ChargeOutcome::Unknown { reason } => {
            tracing::warn!(payment_id = %row.payment_id, %reason, "card charge outcome unknown; the reconciler will ask the gateway");
            reply_with_current(ctx, merchant_id, key, &row.payment_id, 202).await
        }
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(250).collect()
}

/// The gateway took the charge: record its key (unless a callback got there first) and answer 202.
async fn accepted(ctx: &Context, merchant_id: &str, key: Option<&IdemKey>, row: PaymentRow, tx_key: &str) -> Result<Reply, AppError> {
    let mut current = row;
    for _ in 0..5 {
        if current.external_payment_key.is_some() {
            break;
        }
        let now = settle_store::now_ms();
        let txn = settle_store::begin(&ctx.db).await?;
        if let Some(next) = store::set_external_key(&txn, &current, tx_key, now).await? {
            txn.commit().await.map_err(StoreError::from)?;
            ctx.cache.put_status(&cached(&next)).await;
            break;
        }
        drop(txn);
        current = store::find_any(&ctx.db, &current.payment_id).await?.ok_or(AppError::NotFound("payment"))?;
    }
    reply_with_current(ctx, merchant_id, key, &current.payment_id, 202).await
}

/// Applies a final status; when a callback or the reconciler already did, answers with what is recorded.
#[allow(clippy::too_many_arguments)]
async fn finish_or_reread(
    ctx: &Context,
    merchant_id: &str,
    key: Option<&IdemKey>,
    row: PaymentRow,
    to: PaymentStatus,
    changes: Changes,
    data: serde_json::Value,
    status: u16,
) -> Result<Reply, AppError> {
    let idem = key.map(|k| (merchant_id, k, status));
    match change(ctx, &row, to, changes, data, idem).await? {
        Some((_, Some(reply))) => Ok(reply),
        Some((next, None)) => Ok(Reply { status, body: serde_json::to_string(&PaymentView::from(&next)).map_err(AppError::internal)?, replayed: false }),
        None => reply_with_current(ctx, merchant_id, key, &row.payment_id, 202).await,
    }
}

/// Answers with the payment as recorded now, storing the answer for the Idempotency-Key.
async fn reply_with_current(ctx: &Context, merchant_id: &str, key: Option<&IdemKey>, payment_id: &str, status: u16) -> Result<Reply, AppError> {
    let row = store::find_any(&ctx.db, payment_id).await?.ok_or(AppError::NotFound("payment"))?;
    let status = if row.status == PaymentStatus::Failed.as_str() && status == 202 { 402 } else { status };
    let reply = Reply { status, body: serde_json::to_string(&PaymentView::from(&row)).map_err(AppError::internal)?, replayed: false };
    if key.is_some() {
        let txn = settle_store::begin(&ctx.db).await?;
        idempotency::complete_in(&txn, merchant_id, key, &reply).await?;
        txn.commit().await.map_err(StoreError::from)?;
    }
    Ok(reply)
}

/// What applying a gateway transaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The payment reached a final status now.
    Settled,
    /// Nothing to do: already final, still pending at the gateway, or lost a race to another writer.
    NoOp,
}

/// Applies what the gateway says of `tx` to its payment.
pub async fn apply_transaction(ctx: &Context, tx: &Transaction) -> Result<Applied, AppError> {
    let Some(mut row) = store::find_any(&ctx.db, &tx.order_id).await? else {
        return Err(AppError::NotFound("payment"));
    };
    for _ in 0..5 {
        if row.rail != Rail::Card.as_str() {
            return Ok(Applied::NoOp);
        }
        let status = status_of(&row)?;
        if let Some(k) = &row.external_payment_key
            && k != &tx.transaction_key
        {
            tracing::error!(payment_id = %row.payment_id, recorded = %k, other = %tx.transaction_key, status = %tx.status, "a second gateway transaction for one payment; not applied");
            metrics::counter!("settle_card_foreign_transactions_total").increment(1);
            return Ok(Applied::NoOp);
        }
        if status.is_terminal() {
            if tx.status == "SUCCESS" && status != PaymentStatus::Completed {
                tracing::error!(payment_id = %row.payment_id, %status, "the gateway reports SUCCESS for a payment recorded as final otherwise: refund needed");
                metrics::counter!("settle_card_success_after_final_total").increment(1);
            }
            return Ok(Applied::NoOp);
        }
        let target = match tx.status.as_str() {
            "SUCCESS" => PaymentStatus::Completed,
            "FAILED" => PaymentStatus::Failed,
            _ => {
                if row.external_payment_key.is_none() {
                    let now = settle_store::now_ms();
                    let txn = settle_store::begin(&ctx.db).await?;
                    if let Some(next) = store::set_external_key(&txn, &row, &tx.transaction_key, now).await? {
                        txn.commit().await.map_err(StoreError::from)?;
                        ctx.cache.put_status(&cached(&next)).await;
                    }
                }
                return Ok(Applied::NoOp);
            }
        };
        if status != PaymentStatus::Processing {
            return Ok(Applied::NoOp);
        }
        let changes = Changes {
            external_payment_key: row.external_payment_key.is_none().then(|| tx.transaction_key.clone()),
            failure_message: tx.reason.as_deref().filter(|_| target == PaymentStatus::Failed).map(truncate),
            ..Default::default()
        };
        let data = serde_json::json!({"transactionKey": tx.transaction_key, "gatewayStatus": tx.status, "reason": tx.reason});
        if change(ctx, &row, target, changes, data, None).await?.is_some() {
            return Ok(Applied::Settled);
        }
        row = store::find_any(&ctx.db, &tx.order_id).await?.ok_or(AppError::NotFound("payment"))?;
    }
    Ok(Applied::NoOp)
}

/// `POST /payments/callback`: confirms the transaction with the gateway, then applies it.
pub async fn callback(ctx: &Context, transaction_key: &str) -> Result<Applied, AppError> {
    let pg = ctx.pg.clone().ok_or(AppError::Unavailable("the card gateway"))?;
    let tx = match pg.transaction(transaction_key).await {
        Ok(Some(tx)) => tx,
        Ok(None) => {
            tracing::warn!(%transaction_key, "callback for a transaction the gateway does not know");
            metrics::counter!("settle_card_callbacks_total", "result" => "unknown").increment(1);
            return Err(AppError::NotFound("transaction"));
        }
        Err(e) => {
            tracing::warn!(%transaction_key, error = %e, "callback could not be confirmed; the reconciler will settle it");
            return Err(AppError::Unavailable("the card gateway"));
        }
    };
    let applied = apply_transaction(ctx, &tx).await?;
    metrics::counter!("settle_card_callbacks_total", "result" => if applied == Applied::Settled { "applied" } else { "noop" }).increment(1);
    Ok(applied)
}

/// Settles what callbacks missed, one instance at a time (lease `card-reconciler`).
#[derive(Clone)]
pub struct Reconciler {
    ctx: Context,
    lease: LeaseHolder,
}

impl Reconciler {
    pub fn new(ctx: Context) -> Self {
        Self { lease: LeaseHolder::new(ctx.clone(), LEASE), ctx }
    }

    pub async fn release(&self) {
        self.lease.release().await;
    }

    /// Asks the gateway about one batch of due payments.
    pub async fn run_once(&self) -> Result<Outcome, StoreError> {
        let Some(pg) = self.ctx.pg.clone() else { return Ok(Outcome::Idle) };
        let now = settle_store::now_ms();
        if !self.lease.hold(now).await? {
            return Ok(Outcome::Idle);
        }
        let s = &self.ctx.settings.card;
        let due = store::due_for_reconcile(&self.ctx.db, now - s.reconcile_after.as_millis() as i64, now, 50).await?;
        if due.is_empty() {
            return Ok(Outcome::Idle);
        }
        let n = due.len();
        let results: Vec<Result<(), StoreError>> =
            futures::stream::iter(due.into_iter().map(|row| self.reconcile_one(&pg, row))).buffer_unordered(10).collect().await;
        for r in results {
            r?;
        }
        Ok(Outcome::Worked(n))
    }

    async fn reconcile_one(&self, pg: &settle_card::client::PgClient, row: PaymentRow) -> Result<(), StoreError> {
        let s = &self.ctx.settings.card;
        let now = settle_store::now_ms();
        let found = match &row.external_payment_key {
            Some(k) => pg.transaction(k).await.map(|t| t.into_iter().collect::<Vec<_>>()),
            None => pg.transactions_of_order(&row.payment_id).await,
        };
        metrics::counter!("settle_card_reconcile_checks_total").increment(1);
        let pending_at_gateway = match found {
            Ok(txs) if txs.is_empty() && row.external_payment_key.is_some() => {
                // The gateway gave us this key, so it recorded the charge: a 404 now is its inconsistency,
                // never a reason to report the payment FAILED.
                tracing::error!(payment_id = %row.payment_id, key = ?row.external_payment_key, "the gateway no longer knows a transaction it accepted; asking again later");
                metrics::counter!("settle_card_missing_transactions_total").increment(1);
                true
            }
            Ok(txs) if txs.is_empty() => {
                if now - row.updated_at > s.not_recorded_deadline.as_millis() as i64 {
                    let changes = Changes { failure_message: Some("the card gateway never recorded this charge".into()), ..Default::default() };
                    let data = serde_json::json!({"reason": "not recorded by the gateway", "by": "reconciler"});
                    match change(&self.ctx, &row, PaymentStatus::Failed, changes, data, None).await {
                        Ok(_) => return Ok(()),
                        Err(e) => tracing::warn!(payment_id = %row.payment_id, error = %e, "reconcile: could not fail the payment"),
                    }
                }
                true
            }
            Ok(txs) => {
                // The payment's own transaction, or the successful one, or the first.
                let tx = txs
                    .iter()
                    .find(|t| Some(&t.transaction_key) == row.external_payment_key.as_ref())
                    .or_else(|| txs.iter().find(|t| t.status == "SUCCESS"))
                    .unwrap_or(&txs[0]);
                match apply_transaction(&self.ctx, tx).await {
                    Ok(Applied::Settled) => return Ok(()),
                    Ok(Applied::NoOp) => tx.status == "PENDING",
                    Err(e) => {
                        tracing::warn!(payment_id = %row.payment_id, error = %e, "reconcile: apply failed");
                        true
                    }
                }
            }
            Err(e) => {
                tracing::debug!(payment_id = %row.payment_id, error = %e, "reconcile: gateway unavailable");
                true
            }
        };
        if pending_at_gateway {
            let attempt = row.recon_attempts.max(0) as usize;
            let pause = s.backoff.get(attempt).or(s.backoff.last()).copied().unwrap_or_default();
            store::schedule_check(&self.ctx.db, row.id, row.recon_attempts + 1, now + pause.as_millis() as i64).await?;
        }
        Ok(())
    }
}
