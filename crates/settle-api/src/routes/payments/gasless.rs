//! The gasless checkout of a CHAIN payment: what to sign, and the signed request.

use axum::{
    Json,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use settle_app::chain::checkout::{self, RelayView, Relayed, SignedPermit, TypedData};
use utoipa::IntoParams;

use crate::{
    ApiError, AppState,
    error::ErrorBody,
    extract::{Checkout, PaymentCaller, reply},
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
    get, path = "/v1/payments/{paymentId}/typed-data", tag = "chain",
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
    PaymentCaller(m, _): PaymentCaller,
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
    post, path = "/v1/payments/{paymentId}/gasless", tag = "chain",
    params(
        ("paymentId" = String, Path, description = "0x + 64 hex"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response (the same relay request) for the same key and body"),
    ),
    request_body = schemas::GaslessInput,
    responses(
        (status = 202, description = "Verified and recorded; the payment is PROCESSING", body = schemas::RelayAccepted),
        (status = 400, description = "invalid_signature, terms_mismatch, request_expired, simulation_failed, feature_not_enabled (the payment's chain is not configured) or invalid input; nothing relayed", body = ErrorBody),
        (status = 409, description = "invalid_state: not a PENDING CHAIN payment", body = ErrorBody),
        (status = 503, description = "chain_unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn gasless(State(st): State<AppState>, Path(id): Path<String>, c: Checkout<schemas::GaslessInput>) -> Result<Response, ApiError> {
    let r = checkout::gasless(&st.ctx, &c.merchant, &id, c.body, c.idem).await?;
    Ok(reply(if c.payer { crate::extract::for_payer(r) } else { r }))
}

/// Relay the payer's signed ForwardRequest (verified as `gasless` does) and wait until the payment is
/// COMPLETED, up to SETTLE_RELAY_WAIT_SECS: 200 with the payment, or 202 with the payment as it stands when the
/// wait ends first (the relay goes on; the payment's events and webhooks say when it completes).
#[utoipa::path(
    post, path = "/v1/payments/{paymentId}/relay", tag = "chain",
    params(
        ("paymentId" = String, Path, description = "0x + 64 hex"),
        ("Idempotency-Key" = Option<String>, Header, description = "A retry relays nothing again: it waits for the first request's relay"),
    ),
    request_body = schemas::GaslessInput,
    responses(
        (status = 200, description = "COMPLETED", body = schemas::RelayView),
        (status = 202, description = "Still on its way when the wait ended: the payment is PROCESSING", body = schemas::RelayView),
        (status = 400, description = "As gasless; or relay_reverted: the transaction reverted and nothing was paid (the payment is PENDING)", body = ErrorBody),
        (status = 409, body = ErrorBody),
        (status = 503, description = "chain_unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn relay(State(st): State<AppState>, Path(id): Path<String>, c: Checkout<schemas::GaslessInput>) -> Result<Response, ApiError> {
    let (how, view, replayed) = relay_and_wait(&st, &id, c).await?;
    let status = match how {
        Relayed::Done => StatusCode::OK,
        Relayed::StillGoing => StatusCode::ACCEPTED,
    };
    let mut res = (status, Json(view)).into_response();
    if replayed {
        res.headers_mut().insert("idempotent-replayed", axum::http::HeaderValue::from_static("true"));
    }
    Ok(res)
}

/// Submits (or, for a retried Idempotency-Key, finds) the relay request, then waits for its payment; and whether
/// the relay request is a replayed one.
pub(crate) async fn relay_and_wait(st: &AppState, id: &str, c: Checkout<schemas::GaslessInput>) -> Result<(Relayed, RelayView, bool), ApiError> {
    let accepted = checkout::gasless(&st.ctx, &c.merchant, id, c.body, c.idem).await?;
    let (how, mut view) = checkout::wait_for_relay(&st.ctx, &c.merchant, &accepted, st.ctx.settings.relay_wait).await?;
    if c.payer {
        view.payment = view.payment.for_payer();
    }
    Ok((how, view, accepted.replayed))
}
