//! `POST /v1/payments/{paymentId}/cancel`: a merchant cancels a payment not yet paid.

use axum::{
    extract::{Path, State},
    response::Response,
};
use serde::Deserialize;
use settle_app::payments;
use utoipa::ToSchema;

use crate::{
    ApiError, AppState,
    error::ErrorBody,
    extract::{Mutation, reply},
    schemas,
};

/// `POST /v1/payments/{paymentId}/cancel` takes an empty body or `{}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {}

/// Cancel a PENDING payment. A CARD payment becomes CANCELLED; a CHAIN payment CANCELLING (its cancellation goes to
/// the gateway), then CANCELLED once the gateway refuses its terms at a confirmed block, or COMPLETED if it was paid
/// first.
#[utoipa::path(
    post, path = "/v1/payments/{paymentId}/cancel", tag = "payments",
    params(
        ("paymentId" = String, Path, description = "0x + 64 hex"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for the same key"),
    ),
    responses(
        (status = 200, description = "CANCELLED (card) or CANCELLING (chain)", body = schemas::PaymentView),
        (status = 404, description = "Unknown payment", body = ErrorBody),
        (status = 409, description = "invalid_state: the payment is not PENDING, is paid on chain, or its terms cannot be cancelled on this chain's gateway", body = ErrorBody),
        (status = 503, description = "chain_unavailable: the payment's chain is not configured", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn cancel_payment(State(st): State<AppState>, Path(id): Path<String>, m: Mutation<CancelRequest>) -> Result<Response, ApiError> {
    let _ = m.body;
    Ok(reply(payments::cancel(&st.ctx, &m.merchant, &id, m.idem).await?))
}
