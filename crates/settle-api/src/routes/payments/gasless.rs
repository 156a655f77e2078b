//! The gasless checkout of a CHAIN payment: what to sign, and the signed request.

use axum::{
    Json,
    extract::{Path, Query, State},
    http::StatusCode,
};
use serde::Deserialize;
use settle_app::chain::checkout::{self, RelayAccepted, RelayDone, Relayed, SignedPermit, TypedData};
use utoipa::IntoParams;

use crate::{
    ApiError, AppState,
    error::ErrorBody,
    extract::{PaymentCaller, parse_json},
    schemas,
};

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TypedDataQuery {
    /// The payer's address.
    pub payer: String,
    /// The payer's signature of the permit (0x + 130 hex), to get the forward request that uses it.
    pub permit_signature: Option<String>,
    /// The permit's deadline (epoch seconds), with `permitSignature`.
    pub permit_deadline: Option<u64>,
}

/// What a payer signs: the EIP-2612 permit (first), and the forwarder's ForwardRequest, in the form
/// `eth_signTypedData_v4` and viem's `signTypedData` take.
#[utoipa::path(
    get, path = "/payments/{paymentId}/typed-data", tag = "chain",
    params(("paymentId" = String, Path, description = "0x + 64 hex"), TypedDataQuery),
    responses(
        (status = 200, body = schemas::TypedData),
        (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "invalid_state: not a PENDING CHAIN payment", body = ErrorBody),
        (status = 503, description = "chain_unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn typed_data(
    State(st): State<AppState>,
    PaymentCaller(m): PaymentCaller,
    Path(id): Path<String>,
    Query(q): Query<TypedDataQuery>,
) -> Result<Json<TypedData>, ApiError> {
    let permit = match (q.permit_signature, q.permit_deadline) {
        (Some(sig), Some(deadline)) => Some(SignedPermit {
            signature: sig
                .strip_prefix("0x")
                .and_then(|h| hex::decode(h).ok())
                .ok_or_else(|| ApiError::invalid("permitSignature", "permitSignature must be 0x + 130 hex"))?,
            deadline,
        }),
        (None, None) => None,
        (Some(_), None) => return Err(ApiError::missing("permitDeadline")),
        (None, Some(_)) => return Err(ApiError::missing("permitSignature")),
    };
    Ok(Json(checkout::typed_data(&st.ctx, &m, &id, &q.payer, permit).await?))
}

/// Submit the payer's signed ForwardRequest: verified (signature, signer, nonce, deadline, target, value, the
/// exact terms, gas) and simulated before any gas is spent; then relayed by Settle, which pays the gas.
#[utoipa::path(
    post, path = "/payments/{paymentId}/gasless", tag = "chain",
    params(("paymentId" = String, Path, description = "0x + 64 hex")),
    request_body = schemas::GaslessInput,
    responses(
        (status = 202, description = "Verified and recorded; the payment is PROCESSING", body = schemas::RelayAccepted),
        (status = 400, description = "terms_mismatch, request_expired, simulation_failed or invalid input; nothing relayed", body = ErrorBody),
        (status = 401, description = "invalid_signature", body = ErrorBody),
        (status = 409, description = "invalid_state: not a PENDING CHAIN payment", body = ErrorBody),
        (status = 503, description = "chain_unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn gasless(
    State(st): State<AppState>,
    PaymentCaller(m): PaymentCaller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<RelayAccepted>), ApiError> {
    let input: schemas::GaslessInput = parse_json(&body)?;
    Ok((StatusCode::ACCEPTED, Json(checkout::gasless(&st.ctx, &m, &id, input).await?)))
}

/// Relay the payer's signed ForwardRequest (verified as `gasless` does) and wait until the payment is
/// COMPLETED, up to SETTLE_RELAY_WAIT_SECS: 200 with the transaction, or 504 `relay_timeout` (the relay goes on;
/// the payment's status shows it).
#[utoipa::path(
    post, path = "/payments/{paymentId}/relay", tag = "chain",
    params(("paymentId" = String, Path, description = "0x + 64 hex")),
    request_body = schemas::GaslessInput,
    responses(
        (status = 200, description = "COMPLETED", body = schemas::RelayDone),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 409, body = ErrorBody),
        (status = 504, description = "relay_timeout: still on its way", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn relay(
    State(st): State<AppState>,
    PaymentCaller(m): PaymentCaller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<RelayDone>, ApiError> {
    let input: schemas::GaslessInput = parse_json(&body)?;
    match checkout::relay_and_wait(&st.ctx, &m, &id, input, st.ctx.settings.relay_wait).await? {
        Relayed::Done(d) => Ok(Json(d)),
        Relayed::TimedOut(a) => Err(ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "relay_timeout",
            format!("relay {} is still on its way; the payment's status shows when it completes", a.relay_request_id),
        )),
    }
}
