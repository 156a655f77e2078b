//! `GET /v1/payments/{paymentId}`: one payment.

use axum::{
    Json,
    extract::{Path, State},
};
use settle_app::payments::{self, PaymentView};

use crate::{ApiError, AppState, error::ErrorBody, extract::PaymentCaller, schemas};

/// Retrieve a payment: with the merchant's key, or with the payment's `clientSecret` (the payer's page: that one
/// payment, without what is the merchant's alone: its metadata, the customer's email and an operator's flag).
#[utoipa::path(
    get, path = "/v1/payments/{paymentId}", tag = "payments",
    params(("paymentId" = String, Path, description = "0x + 64 hex")),
    responses(
        (status = 200, body = schemas::PaymentView),
        (status = 400, body = ErrorBody),
        (status = 401, description = "No key, or a client secret of another payment", body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_payment(
    State(st): State<AppState>,
    PaymentCaller(m, payer): PaymentCaller,
    Path(id): Path<String>,
) -> Result<Json<PaymentView>, ApiError> {
    let view = payments::get(&st.ctx, &m, &id).await?;
    Ok(Json(if payer.is_some() { view.for_payer() } else { view }))
}
