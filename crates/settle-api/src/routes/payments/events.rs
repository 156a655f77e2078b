//! `GET /v1/payments/{paymentId}/events`: a payment's history.

use axum::{
    Json,
    extract::{Path, State},
};
use settle_app::payments::{self, EventList};

use crate::{ApiError, AppState, error::ErrorBody, extract::Merchant, schemas};

/// A payment's history, oldest first.
#[utoipa::path(
    get, path = "/v1/payments/{paymentId}/events", tag = "payments",
    params(("paymentId" = String, Path, description = "0x + 64 hex")),
    responses((status = 200, body = schemas::EventList), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn payment_events(State(st): State<AppState>, Merchant(m): Merchant, Path(id): Path<String>) -> Result<Json<EventList>, ApiError> {
    Ok(Json(payments::events(&st.ctx, &m, &id).await?))
}
