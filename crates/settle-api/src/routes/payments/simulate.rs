//! `POST /v1/test/payments/{paymentId}/simulate`: test mode's helper for what a rail would report.

use axum::{
    extract::{Path, State},
    response::Response,
};
use serde::Deserialize;
use settle_app::payments::simulate::{Simulated, simulate};
use utoipa::ToSchema;

use crate::{
    ApiError, AppState,
    error::ErrorBody,
    extract::{Mutation, reply},
    schemas,
};

/// What to simulate.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulateRequest {
    /// `process` (PENDING -> PROCESSING), `succeed` (-> COMPLETED), `decline` (a CARD payment -> FAILED), `expire`
    /// (a PENDING CHAIN payment -> EXPIRED) or `reorg` (a CHAIN payment's block reorganised away: PROCESSING ->
    /// PENDING; a COMPLETED one stays and `payment.reorged` is sent).
    pub outcome: Simulated,
}

/// Simulate what a rail would report of a test payment: the same transition, history entry, event and webhook as
/// the rail's own report. Test keys only.
#[utoipa::path(
    post, path = "/v1/test/payments/{paymentId}/simulate", tag = "test",
    params(
        ("paymentId" = String, Path, description = "0x + 64 hex"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for the same key"),
    ),
    request_body = SimulateRequest,
    responses(
        (status = 200, description = "The payment after the simulated outcome", body = schemas::PaymentView),
        (status = 400, description = "An unknown outcome", body = ErrorBody),
        (status = 403, description = "test_mode_only: a live key; nothing changed", body = ErrorBody),
        (status = 404, description = "Unknown payment (or another mode's)", body = ErrorBody),
        (status = 409, description = "invalid_state: the payment's rail or status does not allow this outcome", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn simulate_payment(State(st): State<AppState>, Path(id): Path<String>, m: Mutation<SimulateRequest>) -> Result<Response, ApiError> {
    Ok(reply(simulate(&st.ctx, &m.merchant, &id, m.body.outcome, m.idem).await?))
}
