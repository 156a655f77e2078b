//! `POST /v1/payments/callback`: the gateway's word is not trusted; Settle asks the gateway for the transaction
//! and applies what it says. The question runs in a task of its own, so a caller that hangs up never leaves a
//! gateway call (or its breaker permit) half done.

use settle_store::payments as store;

use super::apply::{Applied, apply_transaction};
use crate::{AppError, Context};

/// Confirms `transaction_key` with the gateway and applies it to the payment `order_id` names.
pub async fn callback(ctx: &Context, transaction_key: &str, order_id: &str) -> Result<Applied, AppError> {
    // A callback for no payment of Settle's is answered without asking the gateway.
    let Some(row) = store::find_any(&ctx.db, order_id).await? else {
        tracing::warn!(%transaction_key, "callback for an order Settle does not know");
        metrics::counter!("settle_card_callbacks_total", "result" => "unknown").increment(1);
        return Err(AppError::NotFound("transaction"));
    };
    // Asked of the gateway of the payment's mode: a test payment's callback is never confirmed by the live gateway.
    let gateway = ctx.card_gateway(&row.merchant_id).ok_or(AppError::CardRailNotConfigured)?;
    // Settle recorded the gateway's key for this payment: another key is none Settle ever received (a duplicate
    // transaction is found by the final check, which asks by order), and a final payment's own key changes
    // nothing. Neither costs a gateway read.
    if let Some(recorded) = &row.external_payment_key {
        let final_status = row.status.is_terminal();
        if recorded != transaction_key {
            metrics::counter!("settle_card_callbacks_total", "result" => "unknown_key").increment(1);
            return Err(AppError::NotFound("transaction"));
        }
        if final_status {
            metrics::counter!("settle_card_callbacks_total", "result" => "noop").increment(1);
            return Ok(Applied::NoOp);
        }
    }
    // Callbacks have their own few places: a flood of them never takes the gateway's bulkhead from charges.
    let Ok(_permit) = ctx.callback_permits.clone().try_acquire_owned() else {
        metrics::counter!("settle_card_callbacks_total", "result" => "busy").increment(1);
        return Err(AppError::GatewayBusy);
    };
    let (task_ctx, key) = (ctx.clone(), transaction_key.to_owned());
    crate::audit::set_actor(crate::audit::Actor::new("gateway", None));
    let scope = crate::audit::current();
    let task = tokio::spawn(crate::audit::carry(scope, async move {
        let tx = match gateway.transaction_for_callback(&key, &row.merchant_id).await {
            Ok(Some(tx)) if tx.order_id == row.payment_id => tx,
            Ok(_) => {
                tracing::warn!(transaction_key = %key, "callback for a transaction the gateway does not know for this order");
                metrics::counter!("settle_card_callbacks_total", "result" => "unknown").increment(1);
                return Err(AppError::NotFound("transaction"));
            }
            Err(e) => {
                tracing::warn!(transaction_key = %key, error = %e, "callback could not be confirmed; the reconciler will settle it");
                return Err(e.into());
            }
        };
        let applied = apply_transaction(&task_ctx, None, &tx).await?;
        let result = match applied {
            Applied::Settled => "applied",
            Applied::VoidQueued => "void_queued",
            Applied::Mismatch => "mismatch",
            Applied::Unknown(_) => "unknown_status",
            Applied::NoOp | Applied::Pending => "noop",
        };
        metrics::counter!("settle_card_callbacks_total", "result" => result).increment(1);
        Ok(applied)
    }));
    task.await.map_err(AppError::internal)?
}
