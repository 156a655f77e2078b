//! Refunds: `POST|GET /v1/payments/{paymentId}/refunds`, `GET /v1/refunds/{refundId}`, `GET /v1/refunds`, and for
//! a CHAIN refund waiting on the merchant `GET /v1/refunds/{refundId}/typed-data` and `POST .../submit`.

use axum::{
    Json,
    extract::{Path, RawQuery, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use settle_app::{
    chain::refunds::{self as chain_refunds, PermitInput, RefundTypedData, SubmitInput},
    refunds::{self, CreateRefund, ListQuery, RefundList, RefundView},
};
use settle_domain::{Amount, PaymentId, RefundId, RefundReason, RefundStatus};
use utoipa::ToSchema;

use crate::{
    ApiError, AppState,
    error::ErrorBody,
    extract::{Merchant, Mutation, one_cursor, query_limit, query_pairs, reply, rfc3339_ms, unknown_query},
    schemas,
};

/// `POST /v1/payments/{paymentId}/refunds` (an empty body refunds everything not yet refunded).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateRefundRequest {
    /// Exact integer amount in minor units, as a decimal string; default: everything not yet refunded.
    #[schema(example = "500")]
    pub amount: Option<String>,
    /// duplicate, fraudulent or requested_by_customer.
    #[schema(example = "requested_by_customer")]
    pub reason: Option<String>,
    /// Up to 50 keys (up to 40 characters each) with string values (up to 500 characters each).
    #[schema(value_type = Option<std::collections::BTreeMap<String, String>>)]
    pub metadata: Option<std::collections::BTreeMap<String, serde_json::Value>>,
}

impl CreateRefundRequest {
    fn parse(self) -> Result<CreateRefund, ApiError> {
        let amount = match self.amount {
            Some(a) => {
                let a = Amount::parse("amount", &a).map_err(ApiError::from_domain)?;
                if a.is_zero() {
                    return Err(ApiError::invalid("amount", "amount must be greater than zero"));
                }
                Some(a)
            }
            None => None,
        };
        let reason = self.reason.map(|r| RefundReason::parse("reason", &r)).transpose().map_err(ApiError::from_domain)?;
        let metadata = crate::details::create(None, None, self.metadata)?.metadata;
        Ok(CreateRefund { amount, reason, metadata })
    }
}

/// Refund a COMPLETED payment, whole (no amount) or in part; several partial refunds are allowed, and their sum never
/// exceeds what was paid. The refund is PENDING until the rail reports it SUCCEEDED or FAILED (`refund.*` events).
#[utoipa::path(
    post, path = "/v1/payments/{paymentId}/refunds", tag = "refunds",
    params(
        ("paymentId" = String, Path, description = "0x + 64 hex"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for the same key and body for 24 h; a retry never refunds twice"),
    ),
    request_body = CreateRefundRequest,
    responses(
        (status = 201, description = "The refund, PENDING (or already FAILED when the gateway refused it or could not be reached)", body = schemas::RefundView),
        (status = 400, description = "Invalid input, or the payment's rail is not configured", body = ErrorBody),
        (status = 404, description = "Unknown payment (or another merchant's, or another mode's)", body = ErrorBody),
        (status = 409, description = "invalid_state: the payment is not COMPLETED; refund_exceeds_remaining: more than is left to refund", body = ErrorBody),
        (status = 503, description = "circuit_open or gateway_busy: nothing was recorded; retry later", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_refund(State(st): State<AppState>, Path(id): Path<String>, m: Mutation<CreateRefundRequest>) -> Result<Response, ApiError> {
    let input = m.body.parse()?;
    Ok(reply(refunds::create(&st.ctx, &m.merchant, &id, input, m.idem).await?))
}

/// A payment's refunds, oldest first.
#[utoipa::path(
    get, path = "/v1/payments/{paymentId}/refunds", tag = "refunds",
    params(("paymentId" = String, Path, description = "0x + 64 hex")),
    responses((status = 200, body = schemas::RefundList), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn payment_refunds(State(st): State<AppState>, Merchant(m): Merchant, Path(id): Path<String>) -> Result<Json<RefundList>, ApiError> {
    Ok(Json(refunds::of_payment(&st.ctx, &m, &id).await?))
}

/// A refund.
#[utoipa::path(
    get, path = "/v1/refunds/{refundId}", tag = "refunds",
    params(("refundId" = String, Path, description = "re_ + 32 hex")),
    responses((status = 200, body = schemas::RefundView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn get_refund(State(st): State<AppState>, Merchant(m): Merchant, Path(id): Path<String>) -> Result<Json<RefundView>, ApiError> {
    Ok(Json(refunds::get(&st.ctx, &m, &id).await?))
}

fn parse_query(raw: Option<&str>) -> Result<ListQuery, ApiError> {
    let mut q = ListQuery { limit: 10, ..Default::default() };
    for (k, v) in query_pairs(raw)? {
        match k.as_str() {
            "status" => q.status = Some(RefundStatus::parse("status", &v).map_err(ApiError::from_domain)?),
            "paymentId" => q.payment_id = Some(PaymentId::parse("paymentId", &v).map_err(ApiError::from_domain)?),
            "createdFrom" => q.created_from = Some(rfc3339_ms("createdFrom", &v)?),
            "createdTo" => q.created_to = Some(rfc3339_ms("createdTo", &v)?),
            "limit" => q.limit = query_limit(&v)?,
            "startingAfter" => q.starting_after = Some(RefundId::parse("startingAfter", &v).map_err(ApiError::from_domain)?),
            "endingBefore" => q.ending_before = Some(RefundId::parse("endingBefore", &v).map_err(ApiError::from_domain)?),
            _ => return Err(unknown_query(&k)),
        }
    }
    one_cursor(q.starting_after.is_some(), q.ending_before.is_some())?;
    Ok(q)
}

/// A merchant's refunds, newest first.
#[utoipa::path(
    get, path = "/v1/refunds", tag = "refunds",
    params(
        ("status" = Option<String>, Query, description = "PENDING, REQUIRES_ACTION, SUCCEEDED or FAILED"),
        ("paymentId" = Option<String>, Query),
        ("createdFrom" = Option<String>, Query, description = "RFC 3339: created at or after"),
        ("createdTo" = Option<String>, Query, description = "RFC 3339: created at or before"),
        ("limit" = Option<u64>, Query, description = "1 to 100, default 10"),
        ("startingAfter" = Option<String>, Query, description = "refundId of the last item of the previous page: the next page"),
        ("endingBefore" = Option<String>, Query, description = "refundId of the first item of the next page: the previous page"),
    ),
    responses((status = 200, body = schemas::RefundList), (status = 400, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn list_refunds(State(st): State<AppState>, Merchant(m): Merchant, RawQuery(raw): RawQuery) -> Result<Json<RefundList>, ApiError> {
    let q = parse_query(raw.as_deref())?;
    Ok(Json(refunds::list(&st.ctx, &m, q).await?))
}

/// What a CHAIN refund waiting on the merchant (REQUIRES_ACTION) needs: the refund's terms for the payment's recipient
/// to sign (its authorization of this refund), the token's permit when its allowance is short, or the gateway
/// transaction to send from its own wallet. Each call gives terms with a fresh deadline (24 hours).
#[utoipa::path(
    get, path = "/v1/refunds/{refundId}/typed-data", tag = "refunds",
    params(("refundId" = String, Path, description = "re_ + 32 hex")),
    responses(
        (status = 200, body = schemas::RefundTypedData),
        (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "invalid_state: not a CHAIN refund, the refund is over, or its gateway predates refunds", body = ErrorBody),
        (status = 503, description = "chain_unavailable: the chain's node did not answer", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn refund_typed_data(State(st): State<AppState>, Merchant(m): Merchant, Path(id): Path<String>) -> Result<Json<RefundTypedData>, ApiError> {
    Ok(Json(chain_refunds::typed_data(&st.ctx, &m, &id).await?))
}

/// `POST /v1/refunds/{refundId}/submit`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubmitRefundRequest {
    /// The `deadline` of the terms `typed-data` gave (Unix seconds).
    #[schema(example = 1796390685)]
    pub deadline: u64,
    /// The recipient's signature of `refundTerms` (0x and 65 bytes of hex).
    #[schema(example = "0x…")]
    pub recipient_signature: String,
    /// The recipient's signature of the permit `typed-data` offered; absent when the allowance covers the refund.
    pub permit: Option<PermitRequest>,
}

/// A signed EIP-2612 permit: the `value` and `deadline` of the message signed, and the 65-byte signature.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PermitRequest {
    #[schema(example = "1500")]
    pub value: String,
    #[schema(example = "1796390685")]
    pub deadline: String,
    #[schema(example = "0x…")]
    pub signature: String,
}

impl PermitRequest {
    fn parse(self) -> Result<PermitInput, ApiError> {
        Ok(PermitInput::parse(&self.value, &self.deadline, &self.signature)?)
    }
}

/// Sends a REQUIRES_ACTION CHAIN refund through Settle's relayer (the merchant pays no gas), with the recipient's
/// signature of its terms and its signed permit when given. Refused, with nothing changed, when a signature is not the
/// recipient's or the call would revert; a PENDING refund is answered as it is.
#[utoipa::path(
    post, path = "/v1/refunds/{refundId}/submit", tag = "refunds",
    params(("refundId" = String, Path, description = "re_ + 32 hex")),
    request_body = SubmitRefundRequest,
    responses(
        (status = 202, description = "The refund, PENDING again", body = schemas::RefundView),
        (status = 400, description = "Invalid input, invalid_signature (not the recipient's), or simulation_failed: the refund would revert on chain", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "invalid_state: not a CHAIN refund, or the refund is over", body = ErrorBody),
        (status = 503, description = "chain_unavailable: the chain's node did not answer", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn submit_refund(State(st): State<AppState>, Path(id): Path<String>, m: Mutation<SubmitRefundRequest>) -> Result<Response, ApiError> {
    let body = m.body;
    let permit = body.permit.map(PermitRequest::parse).transpose()?;
    let input = SubmitInput::parse(body.deadline, &body.recipient_signature, permit)?;
    let view = chain_refunds::submit(&st.ctx, &m.merchant, &id, input).await?;
    Ok((StatusCode::ACCEPTED, Json(view)).into_response())
}
