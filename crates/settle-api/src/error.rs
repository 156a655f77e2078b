//! The one error envelope: `{"error": {"type", "code", "message", "param"?, "requestId"}}`.
//!
//! Policy: every failure a client sees goes through [`ApiError`], with a stable `code` (`payment_not_found`,
//! `duplicate_order`, `idempotency_key_reused`, ...). An internal error is logged with its whole cause chain
//! and the request id; the client gets `internal_error` and the request id, never the cause.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use settle_app::AppError;
use utoipa::ToSchema;

tokio::task_local! {
    /// The id of the request being served, for error bodies and logs.
    pub static REQUEST_ID: String;
}

fn request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub param: Option<String>,
    pub retry_after: Option<u64>,
}

/// The body of every error response.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    /// invalid_request_error, authentication_error, idempotency_error, rate_limit_error or api_error.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// A stable machine-readable code.
    pub code: &'static str,
    pub message: String,
    /// The request field at fault, for 400s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
    pub request_id: String,
}

/// The body of a declined charge (402): the error, and what was declined as it now stands (Stripe's
/// `error.payment_intent`).
#[derive(Serialize, ToSchema)]
pub struct DeclineBody {
    pub error: DeclineDetail,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeclineDetail {
    /// card_error.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// card_declined.
    pub code: &'static str,
    /// The gateway's reason.
    pub message: String,
    pub request_id: String,
    /// A card payment's charge: the payment, FAILED.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::schemas::PaymentView>)]
    pub payment: Option<serde_json::Value>,
    /// An order's charge: the order, its saga COMPENSATED and everything given back.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::schemas::PlacedOrder>)]
    pub order: Option<serde_json::Value>,
}

/// What a declined charge was for.
#[derive(Clone, Copy)]
pub enum Declined {
    Payment,
    Order,
}

/// A 402 in the error envelope, `body` (the payment or the order, as stored for the Idempotency-Key) inside it.
pub fn declined(body: &str, what: Declined) -> Response {
    let value: serde_json::Value = serde_json::from_str(body).unwrap_or(serde_json::Value::Null);
    let reason = match what {
        Declined::Payment => &value["failureMessage"],
        Declined::Order => &value["payment"]["failureMessage"],
    };
    let message = reason.as_str().map_or_else(|| "the card was declined".to_owned(), |r| format!("the card was declined: {r}"));
    let (payment, order) = match what {
        Declined::Payment => (Some(value), None),
        Declined::Order => (None, Some(value)),
    };
    let error = DeclineDetail { kind: "card_error", code: "card_declined", message, request_id: request_id(), payment, order };
    (StatusCode::PAYMENT_REQUIRED, Json(DeclineBody { error })).into_response()
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), param: None, retry_after: None }
    }

    pub fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self { param: Some(param.into()), ..Self::new(StatusCode::BAD_REQUEST, "parameter_invalid", message) }
    }

    pub fn missing(param: impl Into<String>) -> Self {
        let p = param.into();
        Self { message: format!("{p} is required"), param: Some(p), ..Self::new(StatusCode::BAD_REQUEST, "parameter_missing", "") }
    }

    pub fn not_found(what: &str) -> Self {
        let code = match what {
            "payment" => "payment_not_found",
            _ => "not_found",
        };
        Self::new(StatusCode::NOT_FOUND, code, format!("no such {what}"))
    }

    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "a valid API key is required: Authorization: Bearer <apiKey>")
    }

    fn kind(&self) -> &'static str {
        match (self.status.as_u16(), self.code) {
            // Seed 001 answers a bad payer signature with 401; it is still the request at fault, not the key.
            (401, "invalid_signature") => "invalid_request_error",
            (401, _) => "authentication_error",
            (_, "idempotency_key_reused" | "idempotency_in_flight") => "idempotency_error",
            (429, _) => "rate_limit_error",
            (s, _) if s >= 500 => "api_error",
            _ => "invalid_request_error",
        }
    }
}

/// 503 `read_only`: nothing was written; reads go on.
pub fn read_only() -> ApiError {
    let mut e = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "read_only",
        "Settle is read-only for now (see /health): nothing was written; retry later, with the same Idempotency-Key to be safe",
    );
    e.retry_after = Some(5);
    e
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Invalid { param, message } => Self { param, ..Self::new(StatusCode::BAD_REQUEST, "parameter_invalid", message) },
            AppError::Unauthenticated => Self::unauthorized(),
            AppError::NotFound(what) => Self::not_found(what),
            AppError::DuplicateOrder => Self {
                param: Some("orderId".into()),
                ..Self::new(StatusCode::CONFLICT, "duplicate_order", "a payment for this orderId already exists")
            },
            AppError::InvalidState(m) => Self::new(StatusCode::CONFLICT, "invalid_state", m),
            AppError::RefundExceedsRemaining(m) => {
                Self { param: Some("amount".into()), ..Self::new(StatusCode::CONFLICT, "refund_exceeds_remaining", m) }
            }
            AppError::IdempotencyMismatch => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused", "this Idempotency-Key was already used with another request")
            }
            AppError::IdempotencyInFlight => {
                Self::new(StatusCode::CONFLICT, "idempotency_in_flight", "a request with this Idempotency-Key is still in progress; retry later")
            }
            AppError::ReadOnly => {
                tracing::warn!("the database refuses writes: read-only until it accepts them again");
                read_only()
            }
            AppError::Retryable(why) => {
                tracing::info!(why, "transaction rolled back by the database");
                let mut e = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database_busy",
                    "the database rolled the request back under contention; retry it (with the same Idempotency-Key to be safe)",
                );
                e.retry_after = Some(1);
                e
            }
            AppError::DatabaseUnavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable");
                let mut e = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database_unavailable",
                    "the database is unavailable; retry later (with the same Idempotency-Key to be safe)",
                );
                e.retry_after = Some(1);
                e
            }
            AppError::CircuitOpen => {
                let mut e = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "circuit_open",
                    "the card gateway is failing; nothing was sent and the payment is unchanged. Retry later",
                );
                e.retry_after = Some(5);
                e
            }
            AppError::GatewayBusy => {
                let mut e = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "gateway_busy",
                    "too many card gateway calls at once; nothing was sent and the payment is unchanged. Retry later",
                );
                e.retry_after = Some(1);
                e
            }
            AppError::GatewayUnavailable => {
                let mut e = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "gateway_unavailable",
                    "the card gateway could not be reached; nothing was charged and the payment is PENDING. Retry later",
                );
                e.retry_after = Some(5);
                e
            }
            AppError::GatewayMisconfigured => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "gateway_misconfigured",
                "the card gateway refused this server's configuration; nothing was charged and the payment is PENDING. The operator has been alerted",
            ),
            AppError::OrderRefused { reason, message } => {
                use settle_app::orders::Refusal;
                let status = match reason {
                    Refusal::UserNotFound | Refusal::ItemNotFound => StatusCode::NOT_FOUND,
                    Refusal::AmountMismatch => StatusCode::BAD_REQUEST,
                    _ => StatusCode::CONFLICT,
                };
                Self::new(status, reason.code(), message)
            }
            // The caller's key was fine; the payer's signature was not: a bad request, not an authentication failure.
            AppError::InvalidSignature(m) => Self::new(StatusCode::BAD_REQUEST, "invalid_signature", m),
            AppError::RelayRefused { code, param, message } => {
                Self { param: param.map(Into::into), ..Self::new(StatusCode::BAD_REQUEST, code, message) }
            }
            AppError::ChainUnavailable => {
                let mut e = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "chain_unavailable",
                    "the chain's RPC could not be reached; nothing was relayed. Retry later",
                );
                e.retry_after = Some(2);
                e
            }
            // A permanent fault of this server's configuration: a 4xx without Retry-After, so that a generic client
            // does not retry it for ever.
            AppError::TestModeOnly => Self::new(
                StatusCode::FORBIDDEN,
                "test_mode_only",
                "test helpers work in test mode only: call them with a test key (sk_test_...); nothing changed",
            ),
            AppError::CardRailNotConfigured => Self::new(
                StatusCode::BAD_REQUEST,
                "feature_not_enabled",
                "card payments are not configured on this server in this mode (SETTLE_PG_URL for live payments, SETTLE_PG_TEST_URL for test ones); nothing was sent and the payment is unchanged",
            ),
            AppError::ChainNotConfigured(chain_id) => Self::new(
                StatusCode::BAD_REQUEST,
                "feature_not_enabled",
                format!("chain {chain_id} is no longer configured on this server; nothing was sent and the payment is unchanged"),
            ),
            AppError::Internal(cause) => {
                let mut chain = cause.to_string();
                let mut src = std::error::Error::source(&cause);
                while let Some(s) = src {
                    chain.push_str(": ");
                    chain.push_str(&s.to_string());
                    src = s.source();
                }
                tracing::error!(error = %chain, "internal error");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "an internal error occurred; quote the request id when reporting it")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_client_error() {
            tracing::debug!(status = self.status.as_u16(), code = self.code, "request refused");
        }
        let body = ErrorBody {
            error: ErrorDetail { kind: self.kind(), code: self.code, message: self.message, param: self.param, request_id: request_id() },
        };
        let mut res = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(s) = self.retry_after {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        res
    }
}

impl ApiError {
    /// A rejected domain value (names its field in `param`).
    pub fn from_domain(e: settle_domain::DomainError) -> Self {
        AppError::from(e).into()
    }
}
