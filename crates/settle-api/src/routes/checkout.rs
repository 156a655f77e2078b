//! Hosted checkout: `POST /v1/checkout-sessions` and `GET /v1/checkout-sessions/{sessionId}` (the merchant's key),
//! `GET /v1/checkout-secret` (the key of the success redirect's signature), and what the hosted page reads with
//! the session id alone: `GET /v1/checkout/{sessionId}` and, once paid, `GET /v1/checkout/{sessionId}/return`.

use axum::{
    Json,
    extract::{Path, Query, State},
    http::HeaderMap,
    response::Response,
};
use serde::{Deserialize, Serialize};
use settle_app::checkout::{self, CreateSession, PageView, SessionPayment, SessionView};
use utoipa::{IntoParams, ToSchema};

use crate::{
    ApiError, AppState,
    error::ErrorBody,
    extract::{Merchant, Mutation, reply},
    routes::payments::create::CreatePaymentRequest,
};

/// `POST /v1/checkout-sessions`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateSessionRequest {
    /// A PENDING payment of the merchant (0x + 64 hex); or, instead, `payment`.
    pub payment_id: Option<String>,
    /// The payment to create and open (the fields of `POST /v1/payments`), instead of `paymentId`. With an
    /// Idempotency-Key, a retry creates neither a second payment nor a second session.
    pub payment: Option<CreatePaymentRequest>,
    /// Where the page sends the payer once the payment is COMPLETED (https, on one of the merchant's
    /// `redirectHosts`; http only on localhost). Settle adds `session_id`, `payment_id`, `timestamp` and `signature`.
    #[schema(example = "https://shop.example/paid")]
    pub success_url: String,
    /// Where "Cancel" sends the payer (the same rules).
    #[schema(example = "https://shop.example/cart")]
    pub cancel_url: String,
    /// `en` or `ko`; absent: the payer's browser decides.
    pub locale: Option<String>,
}

/// Settle's origin as the caller reached it (`X-Forwarded-Proto: https` behind a proxy that ends TLS).
fn origin_of(headers: &HeaderMap) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.len() <= 255 && h.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b)))
        .unwrap_or("127.0.0.1:3000");
    let https = headers.get("x-forwarded-proto").and_then(|h| h.to_str().ok()) == Some("https");
    format!("{}://{host}", if https { "https" } else { "http" })
}

/// Open a PENDING payment to its payer on Settle's hosted page: the answer's `url` is the page (send the payer
/// there). The session's id opens that payment's checkout, and nothing else: treat it as the payer's key.
#[utoipa::path(
    post, path = "/v1/checkout-sessions", tag = "checkout",
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for the same key and body")),
    request_body = CreateSessionRequest,
    responses(
        (status = 201, body = SessionView),
        (status = 400, description = "Invalid input: a redirect URL not https or not on the merchant's redirectHosts, a bad locale", body = ErrorBody),
        (status = 404, description = "Unknown payment", body = ErrorBody),
        (status = 409, description = "invalid_state: the payment is not PENDING; a payment's conflict (its order already has one)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_session(State(st): State<AppState>, headers: HeaderMap, m: Mutation<CreateSessionRequest>) -> Result<Response, ApiError> {
    let b = m.body;
    let payment = match (b.payment_id, b.payment) {
        (Some(id), None) => SessionPayment::Existing(id),
        (None, Some(p)) => SessionPayment::New(Box::new(p.parse()?)),
        (Some(_), Some(_)) => return Err(ApiError::invalid("payment", "give paymentId or payment, not both")),
        (None, None) => return Err(ApiError::missing("paymentId")),
    };
    let input = CreateSession { payment, success_url: b.success_url, cancel_url: b.cancel_url, locale: b.locale };
    Ok(reply(checkout::create(&st.ctx, &m.merchant, &origin_of(&headers), input, m.idem).await?))
}

/// A checkout session.
#[utoipa::path(
    get, path = "/v1/checkout-sessions/{sessionId}", tag = "checkout",
    params(("sessionId" = String, Path, description = "cs_ + 32 hex")),
    responses((status = 200, body = SessionView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn get_session(
    State(st): State<AppState>,
    headers: HeaderMap,
    Merchant(m): Merchant,
    Path(id): Path<String>,
) -> Result<Json<SessionView>, ApiError> {
    Ok(Json(checkout::get(&st.ctx, &m, &origin_of(&headers), &id).await?))
}

/// The key of the success redirect's signature.
#[derive(Serialize, ToSchema)]
pub struct CheckoutSecret {
    /// `whsec_` + base64: `signature` is `v1,` + base64(HMAC-SHA256(key, "{session_id}.{payment_id}.{timestamp}")).
    pub secret: String,
}

/// The merchant's checkout secret: verify the `signature` of a success redirect with it (and check `timestamp` is
/// recent). Made on first use; the same for both modes.
#[utoipa::path(
    get, path = "/v1/checkout-secret", tag = "checkout",
    responses((status = 200, body = CheckoutSecret), (status = 401, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn checkout_secret(State(st): State<AppState>, Merchant(m): Merchant) -> Result<Json<CheckoutSecret>, ApiError> {
    Ok(Json(CheckoutSecret { secret: checkout::secret(&st.ctx, &m).await? }))
}

/// `GET /v1/checkout/{sessionId}`'s query.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// The origin of the merchant page embedding the checkout (`Settle.checkout`); answered back as `embedOrigin`
    /// when it is on the merchant's `redirectHosts`.
    pub origin: Option<String>,
}

/// What the hosted page shows of a session: the merchant's name, the amount, the payment's status, until when.
/// Needs no key: the session id is the payer's.
#[utoipa::path(
    get, path = "/v1/checkout/{sessionId}", tag = "checkout",
    params(("sessionId" = String, Path, description = "cs_ + 32 hex"), PageQuery),
    responses((status = 200, body = PageView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn page_session(State(st): State<AppState>, Path(id): Path<String>, Query(q): Query<PageQuery>) -> Result<Json<PageView>, ApiError> {
    Ok(Json(checkout::page(&st.ctx, &id, q.origin.as_deref()).await?))
}

/// Where the payer goes back to.
#[derive(Serialize, ToSchema)]
pub struct ReturnUrl {
    pub url: String,
}

/// The signed success URL, once the session's payment is COMPLETED (409 before).
#[utoipa::path(
    get, path = "/v1/checkout/{sessionId}/return", tag = "checkout",
    params(("sessionId" = String, Path, description = "cs_ + 32 hex")),
    responses((status = 200, body = ReturnUrl), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody))
)]
pub async fn session_return(State(st): State<AppState>, Path(id): Path<String>) -> Result<Json<ReturnUrl>, ApiError> {
    Ok(Json(ReturnUrl { url: checkout::success_redirect(&st.ctx, &id).await? }))
}
