//! `POST /v1/payments/{paymentId}`: a merchant changes what it attached to a payment.

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

/// `POST /v1/payments/{paymentId}`: the fields to change; a field left out is kept.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdatePaymentRequest {
    /// A new description; null or "" removes it.
    #[serde(default, deserialize_with = "crate::details::present")]
    #[schema(value_type = Option<String>, nullable)]
    pub description: Option<serde_json::Value>,
    /// A new customer email; null or "" removes it.
    #[serde(default, deserialize_with = "crate::details::present")]
    #[schema(value_type = Option<String>, nullable)]
    pub customer_email: Option<serde_json::Value>,
    /// Keys to set (a string) or remove (null or ""); keys not named are kept. `null` removes every key.
    #[serde(default, deserialize_with = "crate::details::present")]
    #[schema(value_type = Option<std::collections::BTreeMap<String, Option<String>>>, nullable)]
    pub metadata: Option<serde_json::Value>,
}

/// Update a payment's description, customer email or metadata, in any status (nothing about the money changes).
/// A change is recorded in the payment's history and sent as a `payment.updated` event.
#[utoipa::path(
    post, path = "/v1/payments/{paymentId}", tag = "payments",
    request_body = UpdatePaymentRequest,
    params(
        ("paymentId" = String, Path, description = "0x + 64 hex"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for the same key and body for 24 h"),
    ),
    responses(
        (status = 200, description = "The payment as updated", body = schemas::PaymentView),
        (status = 400, description = "Invalid input (a field's bounds, more than 50 metadata keys)", body = ErrorBody),
        (status = 404, description = "Unknown payment", body = ErrorBody),
        (status = 409, description = "The same Idempotency-Key still in flight", body = ErrorBody),
        (status = 422, description = "Idempotency-Key reused with another body", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn update_payment(State(st): State<AppState>, Path(id): Path<String>, m: Mutation<UpdatePaymentRequest>) -> Result<Response, ApiError> {
    let b = m.body;
    let change = crate::details::update(b.description, b.customer_email, b.metadata)?;
    Ok(reply(payments::update(&st.ctx, &m.merchant, &id, change, m.idem).await?))
}
