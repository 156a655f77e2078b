//! What a gateway transaction means for its payment, decided in one place for callbacks, the reconciler and
//! the last look at finished payments.
//!
//! | the payment | the transaction | what Settle does |
//! |---|---|---|
//! | another order or amount than the transaction's | any | nothing applied; the payment is FLAGGED for an operator |
//! | PROCESSING, no key or this key | PENDING | records the key (ACCEPTED) |
//! | PROCESSING, no key or this key | SUCCESS / FAILED | COMPLETED / FAILED |
//! | any, with another key recorded | PENDING or SUCCESS | voids this one (VOIDED_DUPLICATE) |
//! | PENDING, FAILED or CANCELLED | PENDING or SUCCESS | voids it (VOIDED_LATE_SUCCESS) |
//! | COMPLETED with this key | anything (REFUNDED: refunds are their own rows) | nothing to do |
//! | PROCESSING, this key | REFUNDED | nothing applied; the payment is FLAGGED |
//! | any | a status Settle does not know | logged, counted; asked again later |

use settle_card::wire::{GatewayStatus, Transaction};
use settle_domain::{EventType, PaymentStatus, Rail};
use settle_store::payments::{self as store, Changes, PaymentRow};

use super::change;
use crate::{
    AppError, Context,
    ledger::{Fact, views::cached},
};

/// What applying a gateway transaction did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The payment reached a final status now.
    Settled,
    /// Nothing more to do now: already final, a repeat, or lost a race to another writer.
    NoOp,
    /// The gateway is still processing it.
    Pending,
    /// The gateway reports a status Settle does not know: ask again later.
    Unknown(String),
    /// The transaction disagrees with the payment (order or amount): not applied, the payment is flagged.
    Mismatch,
    /// The transaction holds money Settle may not keep: a void is queued.
    VoidQueued,
}

/// Why a transaction is voided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoidReason {
    /// A second transaction of one payment.
    Duplicate,
    /// A success for a payment that did not complete.
    LateSuccess,
}

impl VoidReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Duplicate => "DUPLICATE",
            Self::LateSuccess => "LATE_SUCCESS",
        }
    }

    pub fn event(reason: &str) -> EventType {
        if reason == Self::Duplicate.as_str() { EventType::VoidedDuplicate } else { EventType::VoidedLateSuccess }
    }
}

/// Queues a durable void of `tx_key` (a repeat is a no-op) and wakes nobody: the voider polls.
pub(crate) async fn void_later(ctx: &Context, row: &PaymentRow, tx_key: &str, reason: VoidReason) -> Result<(), AppError> {
    if settle_store::voids::enqueue(&ctx.db, &row.payment_id, &row.merchant_id, tx_key, reason.as_str(), settle_store::now_ms()).await? {
        tracing::warn!(payment_id = %row.payment_id, transaction_key = %tx_key, reason = reason.as_str(), status = %row.status, "money taken that Settle may not keep: voiding it through the gateway");
        metrics::counter!("settle_card_voids_queued_total", "reason" => reason.as_str()).increment(1);
    }
    Ok(())
}

/// Flags `row` for an operator: the gateway reported `tx` with another order or amount.
async fn flag(ctx: &Context, row: &PaymentRow, tx: &Transaction, why: &str) -> Result<(), AppError> {
    tracing::error!(payment_id = %row.payment_id, transaction_key = %tx.transaction_key, why, "the gateway's transaction disagrees with the payment; not applied");
    metrics::counter!("settle_card_mismatches_total").increment(1);
    if row.flag_reason.is_some() {
        return Ok(());
    }
    let changes = Changes { flag_reason: Some(why.chars().take(200).collect()), ..Default::default() };
    let data = serde_json::json!({"code": "gateway_mismatch", "transactionKey": tx.transaction_key, "message": why});
    if let Some(next) = store::annotate(&ctx.db, row, EventType::Flagged, changes, Some(data), settle_store::now_ms()).await? {
        ctx.cache.put_status(&cached(&next)).await;
    }
    Ok(())
}

/// Applies what the gateway says of `tx`. `expected` is the payment the caller asked about (by key), when it
/// asked about one: a transaction of another order is then a mismatch, not an answer.
pub async fn apply_transaction(ctx: &Context, expected: Option<&PaymentRow>, tx: &Transaction) -> Result<Applied, AppError> {
    if let Some(p) = expected
        && p.payment_id != tx.order_id
    {
        flag(ctx, p, tx, &format!("the gateway reports transaction {} for another order", tx.transaction_key)).await?;
        return Ok(Applied::Mismatch);
    }
    let Some(mut row) = store::find_any(&ctx.db, &tx.order_id).await? else {
        return Err(AppError::NotFound("payment"));
    };
    for _ in 0..5 {
        if row.rail != Rail::Card {
            return Ok(Applied::NoOp);
        }
        if row.amount.parse::<u64>().ok() != Some(tx.amount) {
            flag(ctx, &row, tx, &format!("the gateway reports amount {} for a payment of {}", tx.amount, row.amount)).await?;
            return Ok(Applied::Mismatch);
        }
        let status = row.status;
        if let GatewayStatus::Unknown(s) = &tx.status {
            if settle_store::voids::find(&ctx.db, &tx.transaction_key).await?.is_some_and(|v| v.status == settle_store::voids::VOIDED) {
                return Ok(Applied::NoOp); // Settle voided it itself.
            }
            tracing::warn!(payment_id = %row.payment_id, transaction_key = %tx.transaction_key, gateway_status = %s, "the gateway reports a status Settle does not know; asking again later");
            metrics::counter!("settle_card_unknown_gateway_status_total").increment(1);
            return Ok(Applied::Unknown(s.clone()));
        }
        let ours = match &row.external_payment_key {
            Some(k) => k == &tx.transaction_key,
            None => status == PaymentStatus::Processing,
        };
        if !ours || matches!(status, PaymentStatus::Pending | PaymentStatus::Failed | PaymentStatus::Cancelled) {
            if !tx.status.holds_money() {
                return Ok(Applied::NoOp);
            }
            let reason = if row.external_payment_key.as_ref().is_some_and(|k| k != &tx.transaction_key) {
                VoidReason::Duplicate
            } else {
                VoidReason::LateSuccess
            };
            void_later(ctx, &row, &tx.transaction_key, reason).await?;
            return Ok(Applied::VoidQueued);
        }
        // `ours`, and the payment is PROCESSING or COMPLETED.
        if status == PaymentStatus::Completed {
            return Ok(Applied::NoOp);
        }
        let fact = match tx.status {
            GatewayStatus::Success => Fact::Confirmed,
            GatewayStatus::Failed => Fact::Failed,
            GatewayStatus::Refunded => {
                // Charged and refunded in full at the gateway before Settle saw it complete: not Settle's refund.
                flag(ctx, &row, tx, "the gateway reports the transaction refunded while the payment is not completed").await?;
                return Ok(Applied::Mismatch);
            }
            _ => {
                if row.external_payment_key.is_none() {
                    let changes = Changes { external_payment_key: Some(tx.transaction_key.clone()), ..Default::default() };
                    let data = serde_json::json!({"transactionKey": tx.transaction_key});
                    match store::annotate(&ctx.db, &row, EventType::Accepted, changes, Some(data), settle_store::now_ms()).await? {
                        Some(next) => ctx.cache.put_status(&cached(&next)).await,
                        None => {
                            row = store::find_any(&ctx.db, &tx.order_id).await?.ok_or(AppError::NotFound("payment"))?;
                            continue;
                        }
                    }
                }
                return Ok(Applied::Pending);
            }
        };
        let failure = (fact == Fact::Failed).then(|| tx.reason.clone().unwrap_or_else(|| "declined by the card gateway".into()));
        let changes = Changes {
            external_payment_key: row.external_payment_key.is_none().then(|| tx.transaction_key.clone()),
            failure_message: failure.as_deref().map(|r| r.chars().take(200).collect()),
            ..Default::default()
        };
        let data = match &failure {
            Some(msg) => {
                serde_json::json!({"code": "card_declined", "transactionKey": tx.transaction_key, "message": msg})
            }
            None => serde_json::json!({"transactionKey": tx.transaction_key}),
        };
        if change(ctx, &row, fact, changes, data, None).await?.is_some() {
            return Ok(Applied::Settled);
        }
        row = store::find_any(&ctx.db, &tx.order_id).await?.ok_or(AppError::NotFound("payment"))?;
    }
    Ok(Applied::NoOp)
}

/// Applies every transaction the gateway holds for `row`'s order: the one that stands for the payment first
/// (its recorded key, else a SUCCESS, else a PENDING one), then the others, which are voided when they hold
/// money. Returns what applying the first did.
pub(crate) async fn apply_order(ctx: &Context, row: &PaymentRow, txs: &[Transaction]) -> Result<Applied, AppError> {
    let primary =
        row.external_payment_key.as_ref().and_then(|k| txs.iter().find(|t| &t.transaction_key == k)).or_else(|| settle_card::client::pick(txs));
    let Some(primary) = primary else {
        return Ok(Applied::NoOp);
    };
    let first = apply_transaction(ctx, Some(row), primary).await?;
    for tx in txs.iter().filter(|t| t.transaction_key != primary.transaction_key) {
        apply_transaction(ctx, Some(row), tx).await?;
    }
    Ok(first)
}
