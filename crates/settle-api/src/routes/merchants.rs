//! Admin routes: merchants (`/v1/merchants`), API keys (`/v1/api-keys`), the cluster's read-only switch and the database report (`/v1/admin/*`).

use axum::{
    Json,
    extract::{Path, RawQuery, State},
    http::StatusCode,
    response::Response,
};
use serde::Deserialize;
use settle_app::merchants;
use utoipa::ToSchema;

use crate::{
    ApiError, AppState,
    error::ErrorBody,
    extract::{Admin, Merchant, Mutation, keyed_body, parse_json, parse_json_required, query_limit, query_pairs, reply},
    schemas,
};

/// `POST /v1/merchants`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[serde(rename_all = "camelCase")]
pub struct CreateMerchantRequest {
    #[schema(example = "Acme Shop")]
    pub name: String,
    /// Fee on chain payments in basis points, 0 to 10000 (default 0).
    #[schema(example = 250)]
    pub fee_bps: Option<u16>,
}

/// Create a merchant and its API key (shown once). Needs the admin token.
#[utoipa::path(
    post, path = "/v1/merchants", tag = "merchants",
    request_body = CreateMerchantRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for the same key and body for 24 h (the API key again only with SETTLE_MASTER_KEY set, and while it works; otherwise 409)")),
    responses(
        (status = 201, body = schemas::CreatedMerchant),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "Disabled: SETTLE_ADMIN_TOKEN is not set", body = ErrorBody),
        (status = 409, description = "The same Idempotency-Key still in flight, or its merchant's key cannot be shown again", body = ErrorBody),
        (status = 422, description = "Idempotency-Key reused with another body", body = ErrorBody),
    ),
    security(("admin" = []))
)]
pub async fn create_merchant(State(st): State<AppState>, _admin: Admin, req: axum::extract::Request) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    let (idem, raw) = keyed_body(parts, body, &st, merchants::ADMIN_SCOPE).await?;
    let req: CreateMerchantRequest = parse_json(&raw)?;
    Ok(reply(merchants::create_keyed(&st.ctx, &req.name, fee(req.fee_bps.unwrap_or(0))?, idem).await?))
}

/// `PATCH /v1/merchants/{merchantId}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[serde(rename_all = "camelCase")]
pub struct UpdateMerchantRequest {
    /// Fee on chain payments in basis points, 0 to 10000. Applies to payments created from now on; a payment's
    /// signed terms keep the fee they were signed with.
    #[schema(example = 150)]
    pub fee_bps: Option<u16>,
    /// Whether a CHAIN payment paid after it ended CANCELLED or EXPIRED is refunded in full automatically (default
    /// true); false only reports it (`payment.paid_after_final`) and leaves the refund to the merchant.
    pub refund_late_payments: Option<bool>,
    /// Whether a CHAIN refund gives back its share of the fee the payment paid (default false: the treasury keeps
    /// the fee, and the payment's recipient pays the whole refund). With true, the treasury pays that share, through
    /// the allowance the operator gave the gateway; at a gateway of version 2 the fee is never given back.
    pub return_fee_on_refund: Option<bool>,
    /// The hosts checkout sessions may send payers back to (host names; replaces the list). `localhost` allows http.
    #[schema(example = json!(["shop.example", "localhost"]))]
    pub redirect_hosts: Option<Vec<String>>,
}

/// Change a merchant's settings (at least one). Needs the admin token.
#[utoipa::path(
    patch, path = "/v1/merchants/{merchantId}", tag = "merchants",
    params(("merchantId" = String, Path, description = "The merchant")),
    request_body = UpdateMerchantRequest,
    responses(
        (status = 200, body = schemas::Merchant),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "No such merchant, or SETTLE_ADMIN_TOKEN is not set", body = ErrorBody),
    ),
    security(("admin" = []))
)]
pub async fn update_merchant(
    State(st): State<AppState>,
    _admin: Admin,
    Path(merchant_id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<merchants::Merchant>, ApiError> {
    let req: UpdateMerchantRequest = parse_json(&body)?;
    let changes = merchants::MerchantChanges {
        fee: req.fee_bps.map(fee).transpose()?,
        refund_late_payments: req.refund_late_payments,
        return_fee_on_refund: req.return_fee_on_refund,
        redirect_hosts: req.redirect_hosts,
    };
    if changes.is_empty() {
        return Err(settle_app::AppError::invalid("feeBps", "give feeBps, refundLatePayments, returnFeeOnRefund or redirectHosts").into());
    }
    Ok(Json(merchants::update(&st.ctx, &merchant_id, changes).await?))
}

/// Delete a merchant: its API keys stop authenticating at once (on every instance within a follower interval);
/// its payments and records stay. Needs the admin token.
#[utoipa::path(
    delete, path = "/v1/merchants/{merchantId}", tag = "merchants",
    params(("merchantId" = String, Path, description = "The merchant")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, body = ErrorBody),
        (status = 404, description = "No such merchant, or SETTLE_ADMIN_TOKEN is not set", body = ErrorBody),
    ),
    security(("admin" = []))
)]
pub async fn delete_merchant(State(st): State<AppState>, _admin: Admin, Path(merchant_id): Path<String>) -> Result<StatusCode, ApiError> {
    merchants::delete(&st.ctx, &merchant_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Add an API key to the caller's merchant, in the caller's mode (a live key may ask for a test key with
/// `livemode: false`; a test key makes test keys only); the key is in the answer and nowhere else (a retry with the same
/// Idempotency-Key answers the same key when Settle has a master key to keep it sealed, 409 otherwise). Rotate a key
/// by adding one, switching to it, then revoking the old one.
#[utoipa::path(
    post, path = "/v1/api-keys", tag = "merchants",
    request_body(content = Option<CreateApiKeyRequest>, description = "Nothing, {} or {\"livemode\": false}"),
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response: the same key, never a second one")),
    responses(
        (status = 201, body = schemas::CreatedApiKey),
        (status = 409, description = "invalid_state: the merchant holds its most active keys, or a replay without a master key to open the key", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_api_key(State(st): State<AppState>, m: Mutation<CreateApiKeyRequest>) -> Result<Response, ApiError> {
    Ok(reply(merchants::create_key(&st.ctx, &m.merchant, m.body.livemode, m.idem).await?))
}

/// `POST /v1/api-keys`: nothing, or the mode of the key.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    /// The new key's mode (default: the caller's). A live key may make a test key; a test key makes test keys only.
    pub livemode: Option<bool>,
}

/// The caller's API keys (prefixes only), revoked ones included.
#[utoipa::path(
    get, path = "/v1/api-keys", tag = "merchants",
    responses((status = 200, body = schemas::ApiKeyList)),
    security(("bearer" = []))
)]
pub async fn list_api_keys(State(st): State<AppState>, Merchant(m): Merchant) -> Result<Json<merchants::ApiKeyList>, ApiError> {
    Ok(Json(merchants::list_keys(&st.ctx, &m).await?))
}

/// Revoke one of the caller's keys: it fails authentication at once (on every instance within a follower
/// interval). The last active key cannot be revoked.
#[utoipa::path(
    delete, path = "/v1/api-keys/{keyId}", tag = "merchants",
    params(("keyId" = String, Path, description = "key_<n>")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, body = ErrorBody),
        (status = 409, description = "invalid_state: the merchant's last active key", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn revoke_api_key(State(st): State<AppState>, Merchant(m): Merchant, Path(key_id): Path<String>) -> Result<StatusCode, ApiError> {
    merchants::revoke_key(&st.ctx, &m, &key_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/admin/read-only`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadOnlyRequest {
    /// true: refuse writes (503 `read_only`) until set false; reads, SSE and /health go on.
    pub enabled: bool,
}

/// Whether Settle refuses writes, and why.
#[derive(serde::Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReadOnlyState {
    /// `configured`, `admin` or `detected`; absent when Settle takes writes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_only: Option<&'static str>,
}

/// Turn the admin's read-only mode on or off, for every instance: stored, and applied by each instance within a
/// second or so and across restarts (SETTLE_READ_ONLY and a database that refuses writes are not overridden).
/// Needs the admin token.
#[utoipa::path(
    post, path = "/v1/admin/read-only", tag = "health",
    request_body = ReadOnlyRequest,
    responses(
        (status = 200, body = ReadOnlyState),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "Disabled: SETTLE_ADMIN_TOKEN is not set", body = ErrorBody),
        (status = 503, description = "The database refused to store the switch: it holds on this instance only", body = ErrorBody),
    ),
    security(("admin" = []))
)]
pub async fn set_read_only(State(st): State<AppState>, _admin: Admin, body: axum::body::Bytes) -> Result<Json<ReadOnlyState>, ApiError> {
    let req: ReadOnlyRequest = parse_json_required(&body, "{\"enabled\": true} or {\"enabled\": false}")?;
    settle_app::audit::set_read_only(&st.ctx, req.enabled).await?;
    Ok(Json(ReadOnlyState { read_only: st.ctx.read_only() }))
}

/// The database: its backend, the pool's connections (in use, idle, the most it opens), and each table's rows
/// (PostgreSQL, MySQL: the planner's estimate; SQLite: counted) and bytes with its indexes. Needs the admin token.
#[utoipa::path(
    get, path = "/v1/admin/db", tag = "health",
    responses(
        (status = 200, body = schemas::DbStats),
        (status = 401, body = ErrorBody),
        (status = 404, description = "Disabled: SETTLE_ADMIN_TOKEN is not set", body = ErrorBody),
    ),
    security(("admin" = []))
)]
pub async fn db_stats(State(st): State<AppState>, _admin: Admin) -> Result<Json<settle_app::context::DbStats>, ApiError> {
    Ok(Json(st.ctx.db_stats().await.map_err(settle_app::AppError::from)?))
}

/// Events the saga dispatcher parked after their handler failed 5 times for a reason of its own (not the database
/// being unavailable), oldest first, each with its consumer and last error; `settle_dead_letters` counts them. Needs
/// the admin token.
#[utoipa::path(
    get, path = "/v1/admin/dead-letters", tag = "health",
    params(
        ("startingAfter" = Option<i64>, Query, description = "A dead letter's id: the page holds later ones"),
        ("limit" = Option<u64>, Query, description = "1 to 100, default 10"),
    ),
    responses(
        (status = 200, body = settle_app::orders::DeadLetterPage),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "Disabled: SETTLE_ADMIN_TOKEN is not set", body = ErrorBody),
    ),
    security(("admin" = []))
)]
pub async fn dead_letters(
    State(st): State<AppState>,
    _admin: Admin,
    RawQuery(raw): RawQuery,
) -> Result<Json<settle_app::orders::DeadLetterPage>, ApiError> {
    let (mut after, mut limit) = (0i64, 10u64);
    for (k, v) in query_pairs(raw.as_deref())? {
        match k.as_str() {
            "startingAfter" => {
                after =
                    v.parse().ok().filter(|n| *n >= 0).ok_or_else(|| settle_app::AppError::invalid("startingAfter", "must be a dead letter's id"))?
            }
            "limit" => limit = query_limit(&v)?,
            _ => return Err(crate::extract::unknown_query(&k)),
        }
    }
    Ok(Json(settle_app::orders::dead_letters(&st.ctx, after, limit).await?))
}

/// Handles a dead letter's event again. Handled: it leaves the dead letters (200). Failed again: it stays, with one
/// more attempt and the new error (409 `invalid_state` naming it; 503 when the database is unavailable). Retry a saga's
/// events in the order the list gives. Needs the admin token.
#[utoipa::path(
    post, path = "/v1/admin/dead-letters/{id}/retry", tag = "health",
    params(("id" = i64, Path, description = "The dead letter's id")),
    responses(
        (status = 200, body = RetriedDeadLetter),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The event failed again", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("admin" = []))
)]
pub async fn retry_dead_letter(State(st): State<AppState>, _admin: Admin, Path(id): Path<String>) -> Result<Json<RetriedDeadLetter>, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::from(settle_app::AppError::NotFound("dead letter")))?;
    settle_app::orders::retry_dead_letter(&st.ctx, id).await?;
    Ok(Json(RetriedDeadLetter { id, handled: true }))
}

/// A retried dead letter, handled and gone.
#[derive(serde::Serialize, ToSchema)]
pub struct RetriedDeadLetter {
    pub id: i64,
    pub handled: bool,
}

/// The merchant's audit log, newest first: every change its API keys, the admin or the CLI made to its data, with
/// who, from where, the request id and what changed. Append-only: no route changes or deletes an entry.
#[utoipa::path(
    get, path = "/v1/audit-log", tag = "merchants",
    params(
        ("action" = Option<String>, Query, description = "Only this action (an event type such as payment.cancelled, or webhook_endpoint.created)"),
        ("targetId" = Option<String>, Query, description = "Only changes to this id"),
        ("startingAfter" = Option<String>, Query, description = "An entry id: the page holds older entries"),
        ("endingBefore" = Option<String>, Query, description = "An entry id: the page holds newer entries"),
        ("limit" = Option<u64>, Query, description = "1 to 100, default 10"),
    ),
    responses((status = 200, body = schemas::AuditPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn audit_log(
    State(st): State<AppState>,
    Merchant(m): Merchant,
    RawQuery(raw): RawQuery,
) -> Result<Json<settle_app::audit::AuditPage>, ApiError> {
    let mut q = settle_app::audit::AuditQuery { limit: 10, ..Default::default() };
    for (k, v) in query_pairs(raw.as_deref())? {
        match k.as_str() {
            "action" => q.action = Some(v),
            "targetId" => q.target_id = Some(v),
            "startingAfter" => q.starting_after = Some(v),
            "endingBefore" => q.ending_before = Some(v),
            "limit" => q.limit = query_limit(&v)?,
            _ => return Err(crate::extract::unknown_query(&k)),
        }
    }
    crate::extract::one_cursor(q.starting_after.is_some(), q.ending_before.is_some())?;
    Ok(Json(settle_app::audit::list(&st.ctx, &m, q).await?))
}

/// `feeBps` as a fee, parsed once here (0 to 10000).
fn fee(bps: u16) -> Result<settle_domain::FeeBps, ApiError> {
    settle_domain::FeeBps::new("feeBps", bps).map_err(ApiError::from_domain)
}
