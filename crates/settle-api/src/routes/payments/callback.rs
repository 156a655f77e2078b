//! `POST /v1/payments/callback`: the card gateway's result callback.

use axum::{Json, extract::State};
use serde::{Deserialize, Serialize};
use settle_app::card;
use utoipa::ToSchema;

use crate::{ApiError, AppState, error::ErrorBody, extract::parse_json};

/// What the gateway POSTs. Only the transaction key and the order (Settle's paymentId) are used: the rest is
/// asked of the gateway.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallbackRequest {
    pub transaction_key: String,
    pub order_id: String,
    pub status: Option<String>,
    pub reason: Option<String>,
    /// Set when the callback is about a refund of the transaction.
    pub refund_key: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CallbackAck {
    /// applied (the payment reached its final status now), noop (already final, still pending, or a repeat),
    /// void_queued (money Settle may not keep is being voided), mismatch (not applied; the payment is flagged)
    /// or unknown_status (asked again later); refund_checked (a refund callback: the payment's refunds were asked of
    /// the gateway and applied).
    pub result: &'static str,
}

/// The card gateway's webhook. Not trusted: Settle confirms the transaction with the gateway before applying
/// it; repeated and out-of-order callbacks change nothing.
#[utoipa::path(
    post, path = "/v1/payments/callback", tag = "payments",
    request_body = CallbackRequest,
    responses(
        (status = 200, body = CallbackAck),
        (status = 400, body = ErrorBody),
        (status = 404, description = "Settle has no such payment, or the gateway no such transaction for it", body = ErrorBody),
        (status = 503, description = "The gateway could not be asked; the reconciler will settle it", body = ErrorBody),
    )
)]
pub async fn gateway_callback(State(st): State<AppState>, body: axum::body::Bytes) -> Result<Json<CallbackAck>, ApiError> {
    let req: CallbackRequest = parse_json(&body)?;
    let key = req.transaction_key.trim();
    if !settle_card::wire::valid_transaction_key(key) {
        return Err(ApiError::invalid("transactionKey", "transactionKey must be 1 to 128 letters, digits, - or _"));
    }
    let order = req.order_id.trim();
    if settle_domain::PaymentId::parse("orderId", order).is_err() {
        return Err(ApiError::invalid("orderId", "orderId must be a paymentId of Settle's (0x + 64 hex)"));
    }
    if let Some(refund_key) = &req.refund_key {
        if !settle_card::wire::valid_transaction_key(refund_key.trim()) {
            return Err(ApiError::invalid("refundKey", "refundKey must be 1 to 128 letters, digits, - or _"));
        }
        card::refund_callback(&st.ctx, key, order).await?;
        return Ok(Json(CallbackAck { result: "refund_checked" }));
    }
    let result = match card::callback(&st.ctx, key, order).await? {
        card::Applied::Settled => "applied",
        card::Applied::VoidQueued => "void_queued",
        card::Applied::Mismatch => "mismatch",
        card::Applied::Unknown(_) => "unknown_status",
        card::Applied::NoOp | card::Applied::Pending => "noop",
    };
    Ok(Json(CallbackAck { result }))
}
