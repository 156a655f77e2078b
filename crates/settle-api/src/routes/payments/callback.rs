use axum::{Json, extract::State};
use serde::{Deserialize, Serialize};
use settle_app::card;
use utoipa::ToSchema;

use crate::{ApiError, AppState, error::ErrorBody, extract::parse_json};

/// What the gateway POSTs. Only the transaction key is used: the rest is asked of the gateway.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallbackRequest {
    pub transaction_key: String,
    pub order_id: Option<String>,
    pub status: Option<String>,
    pub reason: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CallbackAck {
    /// applied (the payment reached its final status now) or noop (already final, still pending, or a repeat).
    pub result: &'static str,
}

/// The card gateway's webhook. Not trusted: Settle confirms the transaction with the gateway before applying
/// it; repeated and out-of-order callbacks change nothing.
#[utoipa::path(
    post, path = "/payments/callback", tag = "payments",
    request_body = CallbackRequest,
    responses(
        (status = 200, body = CallbackAck),
        (status = 400, body = ErrorBody),
        (status = 404, description = "The gateway does not know the transaction", body = ErrorBody),
        (status = 503, description = "The gateway could not be asked; the reconciler will settle it", body = ErrorBody),
    )
)]
pub async fn gateway_callback(State(st): State<AppState>, body: axum::body::Bytes) -> Result<Json<CallbackAck>, ApiError> {
    let req: CallbackRequest = parse_json(&body)?;
    let key = req.transaction_key.trim();
    if key.is_empty() || key.len() > 128 || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(ApiError::invalid("transactionKey", "transactionKey must be 1 to 128 letters, digits, - or _"));
    }
    let applied = card::callback(&st.ctx, key).await?;
    Ok(Json(CallbackAck { result: if applied == card::Applied::Settled { "applied" } else { "noop" } }))
}
