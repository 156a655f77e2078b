//! `/v1/webhook-endpoints`, `/v1/webhook-deliveries` and `GET /v1/events`: a merchant's webhook endpoints, their
//! deliveries, and its events by seq.

use axum::{
    Json,
    extract::{Path, RawQuery, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use settle_app::webhooks::{
    self, DeliveryList, DeliveryQuery, DeliveryView, EndpointList, EndpointPatch, EndpointView, EndpointWithSecret, EventPage,
};
use utoipa::ToSchema;

use crate::{
    ApiError, AppState,
    error::ErrorBody,
    extract::{Merchant, Mutation, parse_json_required, query_limit, query_pairs},
    schemas,
};

/// `POST /v1/webhook-endpoints`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[serde(rename_all = "camelCase")]
pub struct CreateEndpointRequest {
    /// https (plain http only for hosts on SETTLE_WEBHOOK_ALLOW_HOSTS); its host must resolve to public addresses.
    #[schema(example = "https://shop.example/webhooks/settle")]
    pub url: String,
    /// Event types: a type (`payment.completed`), a prefix (`payment.*`) or `*`; 1 to 32.
    #[schema(example = json!(["payment.*"]))]
    pub events: Vec<String>,
    pub description: Option<String>,
}

/// Register an endpoint. The answer carries its signing secret, shown this once.
#[utoipa::path(
    post, path = "/v1/webhook-endpoints", tag = "webhooks",
    request_body = CreateEndpointRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key and body answers the endpoint the first request made, with its current secret")),
    responses(
        (status = 201, body = schemas::WebhookEndpointWithSecret),
        (status = 400, body = ErrorBody),
        (status = 409, description = "invalid_state: the merchant has its most endpoints; or the same Idempotency-Key still in flight", body = ErrorBody),
        (status = 422, description = "Idempotency-Key reused with another body", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_endpoint(State(st): State<AppState>, req: Mutation<CreateEndpointRequest>) -> Result<Response, ApiError> {
    let Mutation { merchant: m, idem, body: req } = req;
    let (e, replayed) = webhooks::create_endpoint(&st.ctx, &m, &req.url, &req.events, req.description.as_deref(), idem).await?;
    Ok(with_secret(StatusCode::CREATED, e, replayed))
}

/// An endpoint with its secret; a replay of an Idempotency-Key says so (`Idempotent-Replayed: true`).
fn with_secret(status: StatusCode, e: EndpointWithSecret, replayed: bool) -> Response {
    let mut res = (status, Json(e)).into_response();
    if replayed {
        res.headers_mut().insert("idempotent-replayed", axum::http::HeaderValue::from_static("true"));
    }
    res
}

/// `POST /v1/webhook-endpoints/{endpointId}/rotate-secret` takes no fields.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSecretRequest {}

/// The merchant's endpoints, oldest first.
#[utoipa::path(
    get, path = "/v1/webhook-endpoints", tag = "webhooks",
    responses((status = 200, body = schemas::WebhookEndpointList)),
    security(("bearer" = []))
)]
pub async fn list_endpoints(State(st): State<AppState>, Merchant(m): Merchant) -> Result<Json<EndpointList>, ApiError> {
    Ok(Json(webhooks::list_endpoints(&st.ctx, &m).await?))
}

/// One endpoint (without its secret).
#[utoipa::path(
    get, path = "/v1/webhook-endpoints/{endpointId}", tag = "webhooks",
    params(("endpointId" = String, Path)),
    responses((status = 200, body = schemas::WebhookEndpoint), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn get_endpoint(State(st): State<AppState>, Merchant(m): Merchant, Path(id): Path<String>) -> Result<Json<EndpointView>, ApiError> {
    Ok(Json(webhooks::get_endpoint(&st.ctx, &m, &id).await?))
}

/// `PATCH /v1/webhook-endpoints/{endpointId}`: what is given changes.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[serde(rename_all = "camelCase")]
pub struct UpdateEndpointRequest {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    /// An empty string clears it.
    pub description: Option<String>,
    /// false stops deliveries (they wait); true resumes them and clears Settle's reason for disabling it.
    pub enabled: Option<bool>,
}

/// Change an endpoint's url, events, description, or whether it is enabled.
#[utoipa::path(
    patch, path = "/v1/webhook-endpoints/{endpointId}", tag = "webhooks",
    params(("endpointId" = String, Path)),
    request_body = UpdateEndpointRequest,
    responses((status = 200, body = schemas::WebhookEndpoint), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn update_endpoint(
    State(st): State<AppState>,
    Merchant(m): Merchant,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<EndpointView>, ApiError> {
    let req: UpdateEndpointRequest = parse_json_required(&body, "the fields to change")?;
    let patch = EndpointPatch { url: req.url, events: req.events, description: req.description.map(Some), enabled: req.enabled };
    Ok(Json(webhooks::update_endpoint(&st.ctx, &m, &id, patch).await?))
}

/// Delete an endpoint and its deliveries.
#[utoipa::path(
    delete, path = "/v1/webhook-endpoints/{endpointId}", tag = "webhooks",
    params(("endpointId" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn delete_endpoint(State(st): State<AppState>, Merchant(m): Merchant, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    webhooks::delete_endpoint(&st.ctx, &m, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replace the signing secret. The previous one keeps signing alongside the new one for 24 hours (two
/// signatures in `webhook-signature`), so a receiver can switch without missing a delivery.
#[utoipa::path(
    post, path = "/v1/webhook-endpoints/{endpointId}/rotate-secret", tag = "webhooks",
    params(
        ("endpointId" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key rotates nothing and answers the endpoint's current secret (the one the first request rotated to, unless it was rotated again since)"),
    ),
    responses(
        (status = 200, body = schemas::WebhookEndpointWithSecret),
        (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The same Idempotency-Key still in flight", body = ErrorBody),
        (status = 422, description = "Idempotency-Key reused with another request", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn rotate_secret(State(st): State<AppState>, Path(id): Path<String>, req: Mutation<RotateSecretRequest>) -> Result<Response, ApiError> {
    let (e, replayed) = webhooks::rotate_secret(&st.ctx, &req.merchant, &id, req.idem).await?;
    Ok(with_secret(StatusCode::OK, e, replayed))
}

/// Send the endpoint a signed test event (`webhook_endpoint.test`): delivered to this endpoint only, signed and
/// retried as every event is, so that a receiver can be checked end to end. It shows in the endpoint's deliveries.
#[utoipa::path(
    post, path = "/v1/webhook-endpoints/{endpointId}/test", tag = "webhooks",
    params(("endpointId" = String, Path)),
    responses(
        (status = 202, description = "The test event is on its way", body = schemas::WebhookTestSent),
        (status = 404, body = ErrorBody),
        (status = 409, description = "invalid_state: the endpoint is disabled", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn send_test(
    State(st): State<AppState>,
    Merchant(m): Merchant,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<webhooks::TestEventSent>), ApiError> {
    Ok((StatusCode::ACCEPTED, Json(webhooks::send_test(&st.ctx, &m, &id).await?)))
}

/// An endpoint's deliveries, newest first, each with its attempts.
#[utoipa::path(
    get, path = "/v1/webhook-endpoints/{endpointId}/deliveries", tag = "webhooks",
    params(
        ("endpointId" = String, Path),
        ("status" = Option<String>, Query, description = "PENDING, SUCCEEDED or FAILED"),
        ("limit" = Option<u64>, Query, description = "1 to 100, default 10"),
        ("startingAfter" = Option<String>, Query, description = "id of the last delivery of the previous page: the next page"),
        ("endingBefore" = Option<String>, Query, description = "id of the first delivery of the next page: the previous page"),
    ),
    responses((status = 200, body = schemas::WebhookDeliveryList), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn list_deliveries(
    State(st): State<AppState>,
    Merchant(m): Merchant,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<DeliveryList>, ApiError> {
    let mut q = DeliveryQuery { limit: 10, ..Default::default() };
    for (k, v) in query_pairs(raw.as_deref())? {
        match k.as_str() {
            "status" => q.status = Some(v),
            "limit" => q.limit = query_limit(&v)?,
            "startingAfter" => q.starting_after = Some(v),
            "endingBefore" => q.ending_before = Some(v),
            _ => return Err(crate::extract::unknown_query(&k)),
        }
    }
    crate::extract::one_cursor(q.starting_after.is_some(), q.ending_before.is_some())?;
    Ok(Json(webhooks::list_deliveries(&st.ctx, &m, &id, q).await?))
}

/// Send a delivery again now (also one that succeeded, or failed after its last retry).
#[utoipa::path(
    post, path = "/v1/webhook-deliveries/{deliveryId}/retry", tag = "webhooks",
    params(("deliveryId" = String, Path)),
    responses(
        (status = 202, body = schemas::WebhookDelivery),
        (status = 404, body = ErrorBody),
        (status = 409, description = "invalid_state: the delivery is being sent right now", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn retry_delivery(
    State(st): State<AppState>,
    Merchant(m): Merchant,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<DeliveryView>), ApiError> {
    Ok((StatusCode::ACCEPTED, Json(webhooks::retry_delivery(&st.ctx, &m, &id).await?)))
}

/// The merchant's events after `startingAfter` (an event id or a seq), oldest first (a feed to catch up with): what webhooks and SSE carry, kept for 30 days, so a
/// merchant can catch up after an outage without a stream.
#[utoipa::path(
    get, path = "/v1/events", tag = "events",
    params(
        ("type" = Option<String>, Query, description = "Event types, comma-separated: a type, a prefix (payment.*) or *"),
        ("startingAfter" = Option<String>, Query, description = "Events after this one: the id of the last event you have (evt_…), or its seq (default: from the oldest kept). An id this database does not hold (lost to a restore of an older backup) gives every event published from a minute before that id was made"),
        ("after" = Option<String>, Query, description = "The same as startingAfter (its name before v1)"),
        ("limit" = Option<u64>, Query, description = "1 to 100, default 10"),
    ),
    responses((status = 200, body = schemas::WebhookEventPage), (status = 400, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn list_events(State(st): State<AppState>, Merchant(m): Merchant, RawQuery(raw): RawQuery) -> Result<Json<EventPage>, ApiError> {
    let (mut types, mut cursor, mut n) = (Vec::new(), None::<String>, 10u64);
    for (k, v) in query_pairs(raw.as_deref())? {
        match k.as_str() {
            "type" => types.extend(v.split(',').map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())),
            "startingAfter" | "after" => cursor = Some(v),
            "limit" => n = query_limit(&v)?,
            _ => return Err(crate::extract::unknown_query(&k)),
        }
    }
    // Read once, after the query (a repeated `after` is the last one).
    let after = match cursor {
        Some(c) => webhooks::resume_after(&st.ctx, &m, "after", &c).await?,
        None => 0,
    };
    Ok(Json(webhooks::list_events(&st.ctx, &m, &types, after, n).await?))
}
