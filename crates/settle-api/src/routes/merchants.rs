use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use serde::Deserialize;
use settle_app::merchants::{self, CreatedMerchant, Merchant};
use utoipa::ToSchema;

use crate::{
    ApiError, AppState,
    error::ErrorBody,
    extract::{Admin, parse_json},
    schemas,
};

/// `POST /merchants`.
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
    post, path = "/merchants", tag = "merchants",
    request_body = CreateMerchantRequest,
    responses(
        (status = 201, body = schemas::CreatedMerchant),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "Disabled: SETTLE_ADMIN_TOKEN is not set", body = ErrorBody),
    ),
    security(("admin" = []))
)]
pub async fn create_merchant(
    State(st): State<AppState>,
    _admin: Admin,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<CreatedMerchant>), ApiError> {
    let req: CreateMerchantRequest = parse_json(&body)?;
    Ok((StatusCode::CREATED, Json(merchants::create(&st.ctx, &req.name, req.fee_bps.unwrap_or(0)).await?)))
}

/// `PATCH /merchants/{merchantId}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[serde(rename_all = "camelCase")]
pub struct UpdateMerchantRequest {
    /// Fee on chain payments in basis points, 0 to 10000. Applies to payments created from now on; a payment's
    /// signed terms keep the fee they were signed with.
    #[schema(example = 150)]
    pub fee_bps: u16,
}

/// Change a merchant's fee. Needs the admin token.
#[utoipa::path(
    patch, path = "/merchants/{merchantId}", tag = "merchants",
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
) -> Result<Json<Merchant>, ApiError> {
    let req: UpdateMerchantRequest = parse_json(&body)?;
    Ok(Json(merchants::set_fee(&st.ctx, &merchant_id, req.fee_bps).await?))
}
