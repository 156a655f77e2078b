//! `GET /payments/{paymentId}/status`: a payment's status, from the cache when it can.

use axum::{
    Json,
    extract::{Path, State},
};
use settle_app::payments::{self, StatusView};

use crate::{ApiError, AppState, error::ErrorBody, extract::Merchant, schemas};

/// A payment's status, served from the cache when it holds it.
#[utoipa::path(
    get, path = "/payments/{paymentId}/status", tag = "payments",
    params(("paymentId" = String, Path, description = "0x + 64 hex")),
    responses((status = 200, body = schemas::StatusView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn payment_status(State(st): State<AppState>, Merchant(m): Merchant, Path(id): Path<String>) -> Result<Json<StatusView>, ApiError> {
    Ok(Json(payments::status(&st.ctx, &m, &id).await?))
}
