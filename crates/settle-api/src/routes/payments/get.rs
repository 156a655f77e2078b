//! `GET /v1/payments/{paymentId}`: one payment.

use axum::{
    Json,
    extract::{Path, State},
};
use settle_app::payments::{self, PaymentView};

use crate::{ApiError, AppState, error::ErrorBody, extract::Merchant, schemas};

/// Retrieve a payment.
#[utoipa::path(
    get, path = "/v1/payments/{paymentId}", tag = "payments",
    params(("paymentId" = String, Path, description = "0x + 64 hex")),
    responses((status = 200, body = schemas::PaymentView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn get_payment(State(st): State<AppState>, Merchant(m): Merchant, Path(id): Path<String>) -> Result<Json<PaymentView>, ApiError> {
    Ok(Json(payments::get(&st.ctx, &m, &id).await?))
}
