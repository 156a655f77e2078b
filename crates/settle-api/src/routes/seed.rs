//! The seed documents' unversioned paths, kept with the seeds' exact shapes so that the systems the seeds describe
//! can point at Settle unchanged: seed 000/001's pay-server (`/payments/create`, `/payments/{id}/status`,
//! `/gasless`, `/relay`) and seed 002's purchase saga (`/purchase`, `/saga/{id}`, `/sagas`, `/sagas/stats`).
//! The seed paths that answer exactly as a /v1 route (`GET /events`, the gateway's callback) are listed in the
//! router's `SEED_ALIASES`. Settle's own conventions live under /v1.

use axum::{
    Json,
    extract::{Path, RawQuery, State},
    http::StatusCode,
    response::Response,
};
use serde::{Deserialize, Serialize};
use settle_app::{
    chain::checkout::{self, Relayed},
    orders::{self, SagaView},
    shop,
};
use utoipa::ToSchema;

use crate::{
    ApiError, AppState,
    error::ErrorBody,
    extract::{Checkout, Merchant, Mutation, query_pairs, reply},
    routes::payments::{create::CreatePaymentRequest, gasless::relay_and_wait},
    schemas,
};

/// Seed 000's create: `POST /v1/payments`'s body, and the `merchantId` seed 000 sends (it must be the caller's:
/// the API key says who the merchant is).
#[utoipa::path(
    post, path = "/payments/create", tag = "seed",
    request_body(content = CreatePaymentRequest, description = "As POST /v1/payments; seed 000's clients may add merchantId, which must be the caller's"),
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for the same key and body for 24 h")),
    responses(
        (status = 201, description = "Created", body = schemas::CreatedPayment),
        (status = 400, description = "Invalid input, or a merchantId that is not the caller's", body = ErrorBody),
        (status = 409, description = "duplicate_order", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_payment(State(st): State<AppState>, m: Mutation<SeedCreatePayment>) -> Result<Response, ApiError> {
    let b = m.body;
    if b.merchant_id.as_ref().is_some_and(|given| given != settle_domain::mode::merchant_of(&m.merchant)) {
        return Err(ApiError::invalid("merchantId", "merchantId must be the merchant of the API key"));
    }
    let input = CreatePaymentRequest {
        order_id: b.order_id,
        amount: b.amount,
        currency: b.currency,
        rail: b.rail,
        chain_id: b.chain_id,
        token_address: b.token_address,
        recipient_address: b.recipient_address,
        expires_in_secs: b.expires_in_secs,
        description: None,
        customer_email: None,
        metadata: None,
    };
    let (input, details) = input.parse()?;
    Ok(reply(settle_app::payments::create(&st.ctx, &m.merchant, input, details, m.idem).await?))
}

/// Seed 000's create body: `POST /v1/payments`'s fields and `merchantId`. A field given twice is refused, as on /v1.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedCreatePayment {
    merchant_id: Option<String>,
    order_id: String,
    amount: String,
    currency: String,
    rail: Option<String>,
    chain_id: Option<i64>,
    token_address: Option<String>,
    recipient_address: Option<String>,
    expires_in_secs: Option<u64>,
}

/// Seed 002's SagaState.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeedSaga {
    pub transaction_id: String,
    /// pending, in_progress, completed, failed, compensating or compensated.
    pub status: String,
    pub user_id: String,
    /// The order's (first) item.
    pub item_id: String,
    pub quantity: i64,
    /// Its unit price, in minor units.
    pub price: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    pub steps: Vec<SeedStep>,
    pub created_at: String,
    pub updated_at: String,
    /// When the saga ended COMPLETED.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
}

/// Seed 002's saga_step_results row.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeedStep {
    /// check_user, reserve_stock, deduct_points, ...
    pub step: String,
    /// completed, or compensated.
    pub status: String,
    pub executed_at: String,
}

/// Seed 002's SagaState of a saga: its order's item, quantity and unit price (seed 002 buys one item; of an order of
/// several lines, the first: `GET /v1/sagas/{id}` and `/v1/orders/{id}` show them all).
fn seed_saga(s: SagaView, lines: &std::collections::HashMap<String, Vec<orders::OrderLineView>>) -> SeedSaga {
    let line = lines.get(&s.order_id).and_then(|l| l.first());
    let done = s.status == orders::SagaStatus::Completed;
    SeedSaga {
        transaction_id: s.transaction_id,
        status: s.status.as_str().to_ascii_lowercase(),
        user_id: s.user_id,
        item_id: line.map(|l| l.item_id.clone()).unwrap_or_default(),
        quantity: line.map_or(0, |l| l.quantity),
        price: line.map_or(0, |l| l.unit_price),
        error_message: s.error,
        steps: s
            .steps
            .into_iter()
            .map(|t| SeedStep {
                step: t.step.as_str().to_ascii_lowercase(),
                status: match t.outcome {
                    settle_domain::StepOutcome::Done => "completed".into(),
                    settle_domain::StepOutcome::Compensated => "compensated".into(),
                },
                executed_at: t.at,
            })
            .collect(),
        completed_at: done.then(|| s.updated_at.clone()),
        created_at: s.created_at,
        updated_at: s.updated_at,
    }
}

/// Seed 002's saga read: its SagaState.
#[utoipa::path(get, path = "/saga/{transactionId}", tag = "seed", params(("transactionId" = String, Path)),
    responses((status = 200, body = SeedSaga), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_saga(State(st): State<AppState>, Merchant(m): Merchant, Path(id): Path<String>) -> Result<Json<SeedSaga>, ApiError> {
    let s = orders::saga(&st.ctx, &m, &id).await?;
    let lines = orders::saga_lines(&st.ctx, std::slice::from_ref(&s)).await?;
    Ok(Json(seed_saga(s, &lines)))
}

/// Seed 002's page of sagas.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeedSagaPage {
    pub data: Vec<SeedSaga>,
    pub total: u64,
    pub page: u64,
    pub limit: u64,
    pub total_pages: u64,
}

fn saga_query(raw: Option<&str>) -> Result<orders::SagaQuery, ApiError> {
    let mut q = orders::SagaQuery { page: 1, limit: 20, ..Default::default() };
    for (k, v) in query_pairs(raw)? {
        let number = |name: &str| v.parse::<u64>().map_err(|_| ApiError::invalid(name.to_owned(), format!("{name} must be a positive integer")));
        match k.as_str() {
            // The seed's lowercase values, or Settle's.
            "status" => q.status = Some(v.to_ascii_uppercase()),
            "userId" => {
                shop::check_id("userId", &v)?;
                q.user_id = Some(v.clone());
            }
            "dateFrom" => q.date_from = Some(crate::extract::rfc3339_ms("dateFrom", &v)?),
            "page" => q.page = number("page")?,
            "limit" => q.limit = number("limit")?,
            _ => {}
        }
    }
    Ok(q)
}

/// Seed 002's saga list: newest first, filtered, by page number: `{data, total, page, limit, totalPages}`.
#[utoipa::path(get, path = "/sagas", tag = "seed",
    params(
        ("status" = Option<String>, Query, description = "pending, in_progress, completed, failed, compensating or compensated (either case)"),
        ("userId" = Option<String>, Query),
        ("dateFrom" = Option<String>, Query, description = "RFC 3339: sagas created at or after"),
        ("page" = Option<u64>, Query, description = "From 1 (default 1)"),
        ("limit" = Option<u64>, Query, description = "1 to 100 (default 20)"),
    ),
    responses((status = 200, body = SeedSagaPage), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_sagas(State(st): State<AppState>, Merchant(m): Merchant, RawQuery(raw): RawQuery) -> Result<Json<SeedSagaPage>, ApiError> {
    let q = saga_query(raw.as_deref())?;
    let page = orders::list_sagas(&st.ctx, &m, q).await?;
    // The lines of the page's orders in one read, not one per saga.
    let lines = orders::saga_lines(&st.ctx, &page.data).await?;
    let data = page.data.into_iter().map(|s| seed_saga(s, &lines)).collect();
    Ok(Json(SeedSagaPage { data, total: page.total, page: page.page, limit: page.limit, total_pages: page.total_pages }))
}

/// Seed 002's statistics: flat counts.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeedSagaStats {
    pub total: i64,
    pub pending: i64,
    pub in_progress: i64,
    pub completed: i64,
    pub failed: i64,
    pub compensating: i64,
    pub compensated: i64,
}

/// Seed 002's saga statistics: how many sagas, in all and per status, as flat counts.
#[utoipa::path(get, path = "/sagas/stats", tag = "seed", responses((status = 200, body = SeedSagaStats)), security(("bearer" = [])))]
pub async fn saga_stats(State(st): State<AppState>, Merchant(m): Merchant) -> Result<Json<SeedSagaStats>, ApiError> {
    let s = orders::saga_stats(&st.ctx, &m).await?;
    let n = |k: &str| s.by_status.get(k).copied().unwrap_or(0);
    Ok(Json(SeedSagaStats {
        total: s.total,
        pending: n("PENDING"),
        in_progress: n("IN_PROGRESS"),
        completed: n("COMPLETED"),
        failed: n("FAILED"),
        compensating: n("COMPENSATING"),
        compensated: n("COMPENSATED"),
    }))
}

/// Seed 001 answers a bad payer signature with 401.
fn seed_status(e: impl Into<ApiError>) -> ApiError {
    let mut e = e.into();
    if e.code == "invalid_signature" {
        e.status = StatusCode::UNAUTHORIZED;
    }
    e
}

/// Seed 001's gasless route: as `POST /v1/payments/{paymentId}/gasless`, but a bad payer signature is a 401.
#[utoipa::path(
    post, path = "/payments/{paymentId}/gasless", tag = "seed",
    params(
        ("paymentId" = String, Path, description = "0x + 64 hex"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response (the same relay request) for the same key and body"),
    ),
    request_body = schemas::GaslessInput,
    responses(
        (status = 202, description = "Verified and recorded; the payment is PROCESSING", body = schemas::RelayAccepted),
        (status = 400, description = "terms_mismatch, request_expired, simulation_failed, feature_not_enabled or invalid input; nothing relayed", body = ErrorBody),
        (status = 401, description = "invalid_signature (or no valid API key)", body = ErrorBody),
        (status = 409, description = "invalid_state: not a PENDING CHAIN payment", body = ErrorBody),
        (status = 503, description = "chain_unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn gasless(State(st): State<AppState>, Path(id): Path<String>, c: Checkout<schemas::GaslessInput>) -> Result<Response, ApiError> {
    checkout::gasless(&st.ctx, &c.merchant, &id, c.body, c.idem).await.map(reply).map_err(seed_status)
}

/// What seed 001's relay route answers once the payment is COMPLETED.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RelayDone {
    pub relay_request_id: String,
    pub payment_id: String,
    /// COMPLETED.
    pub status: String,
    pub tx_hash: Option<String>,
    pub block_number: Option<i64>,
}

/// Seed 001's relay route: relay and wait until COMPLETED (SETTLE_RELAY_WAIT_SECS), 200 with the transaction, or
/// 504 `relay_timeout` when the wait ends first (the relay goes on; the payment's status shows it).
#[utoipa::path(
    post, path = "/payments/{paymentId}/relay", tag = "seed",
    params(
        ("paymentId" = String, Path, description = "0x + 64 hex"),
        ("Idempotency-Key" = Option<String>, Header, description = "A retry relays nothing again: it waits for the first request's relay"),
    ),
    request_body = schemas::GaslessInput,
    responses(
        (status = 200, description = "COMPLETED", body = RelayDone),
        (status = 400, body = ErrorBody),
        (status = 401, description = "invalid_signature (or no valid API key)", body = ErrorBody),
        (status = 409, body = ErrorBody),
        (status = 504, description = "relay_timeout: still on its way", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn relay(State(st): State<AppState>, Path(id): Path<String>, c: Checkout<schemas::GaslessInput>) -> Result<Json<RelayDone>, ApiError> {
    let (how, v, _) = relay_and_wait(&st, &id, c).await.map_err(seed_status)?;
    match how {
        Relayed::Done => Ok(Json(RelayDone {
            relay_request_id: v.relay_request_id,
            payment_id: v.payment.payment_id,
            status: v.payment.status.as_str().to_owned(),
            tx_hash: v.payment.tx_hash,
            block_number: v.payment.block_number,
        })),
        Relayed::StillGoing => Err(ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "relay_timeout",
            format!("relay {} is still on its way; the payment's status shows when it completes", v.relay_request_id),
        )),
    }
}
