//! Errors of the application layer.
//!
//! Policy: services return [`AppError`]; each variant is one stable outcome a caller can act on, and the HTTP
//! edge maps it to a status and code in one place. [`AppError::Internal`] carries the cause for the logs only;
//! it never reaches a client.

use settle_domain::DomainError;
use settle_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Bad input; `param` names the field.
    #[error("{message}")]
    Invalid { param: Option<String>, message: String },
    #[error("authentication required")]
    Unauthenticated,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("a payment for this orderId already exists")]
    DuplicateOrder,
    #[error("{0}")]
    InvalidState(String),
    #[error("this Idempotency-Key was used with another request")]
    IdempotencyMismatch,
    #[error("a request with this Idempotency-Key is still in progress")]
    IdempotencyInFlight,
    /// The database could not be reached (its cause kept for the log of whoever handles it).
    #[error("the database is unavailable: {0}")]
    DatabaseUnavailable(StoreError),
    /// The database rolled the transaction back (deadlock, serialization failure, lock-wait timeout); see
    /// [`crate::retrying`].
    #[error("the database rolled the transaction back: {0}")]
    Retryable(&'static str),
    /// The gateway circuit is open: nothing was sent, the payment is unchanged.
    #[error("the card gateway circuit is open")]
    CircuitOpen,
    /// Too many gateway calls at once: nothing was sent, the payment is unchanged.
    #[error("too many card gateway calls at once")]
    GatewayBusy,
    /// The gateway could not be reached; nothing was charged and the payment is PENDING again.
    #[error("the card gateway could not be reached")]
    GatewayUnavailable,
    /// The gateway refused Settle's credentials or URL; nothing was charged and the payment is PENDING again.
    #[error("the card gateway refused Settle's configuration")]
    GatewayMisconfigured,
    /// A payer's signature is not valid for what it claims to sign (400 `invalid_signature`; 401 on seed 001's paths).
    #[error("{0}")]
    InvalidSignature(String),
    /// A relay request that is refused before any gas is spent: `code` is `terms_mismatch`, `request_expired`
    /// or `simulation_failed` (400), `param` the field at fault.
    #[error("{message}")]
    RelayRefused { code: &'static str, param: Option<&'static str>, message: String },
    /// A chain's node could not be reached.
    #[error("the chain's RPC is unavailable")]
    ChainUnavailable,
    /// An order refused before anything changed, and why.
    #[error("{message}")]
    OrderRefused { reason: Refusal, message: String },
    /// No card gateway is configured (no SETTLE_PG_URL): nothing was sent.
    #[error("the card rail is not configured")]
    CardRailNotConfigured,
    /// A payment's chain is not (or no longer) configured on this server: nothing was sent.
    #[error("chain {0} is not configured")]
    ChainNotConfigured(i64),
    /// A refund larger than what is left to refund of its payment: nothing was recorded.
    #[error("{0}")]
    RefundExceedsRemaining(String),
    /// A test-mode helper called with a live key: nothing changed.
    #[error("test helpers take test keys only")]
    TestModeOnly,
    /// Settle is read-only (configured, set by the admin, or the database refuses writes): nothing was written.
    #[error("Settle is read-only")]
    ReadOnly,
    #[error("internal error")]
    Internal(#[source] anyhow_like::Error),
}

impl AppError {
    pub fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid { param: Some(param.into()), message: message.into() }
    }

    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(anyhow_like::Error(Box::new(e)))
    }
}

impl From<DomainError> for AppError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid { field, reason } => Self::invalid(field, format!("{field} {reason}")),
            DomainError::InvalidTransition { .. } => Self::InvalidState(e.to_string()),
        }
    }
}

impl From<settle_card::client::GatewayError> for AppError {
    /// A gateway read that could not be made or answered (nothing was changed at the gateway).
    fn from(e: settle_card::client::GatewayError) -> Self {
        use settle_card::client::GatewayError as G;
        match e {
            G::CircuitOpen => Self::CircuitOpen,
            G::BulkheadFull => Self::GatewayBusy,
            G::Misconfigured(_) => Self::GatewayMisconfigured,
            G::Unavailable(_) => Self::GatewayUnavailable,
        }
    }
}

impl From<StoreError> for AppError {
    /// No log here: an error is logged once, where it is handled (the HTTP edge, a worker's loop), with its cause.
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound("resource"),
            StoreError::ReadOnly => Self::ReadOnly,
            StoreError::Retryable(why) => Self::Retryable(why),
            // Said as what changed (the saga, the order, the payment), not always "the payment".
            StoreError::Conflict(why) => Self::InvalidState(format!("{why}; read it again")),
            e if e.is_unavailable() => Self::DatabaseUnavailable(e),
            other => Self::internal(other),
        }
    }
}

/// A boxed cause, so [`AppError`] stays `Send + Sync` without pulling anyhow into a library.
pub mod anyhow_like {
    #[derive(Debug)]
    pub struct Error(pub Box<dyn std::error::Error + Send + Sync>);

    impl std::fmt::Display for Error {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            std::fmt::Display::fmt(&self.0, f)
        }
    }

    impl std::error::Error for Error {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.0.source()
        }
    }
}

/// Why an order was refused before anything changed (the seed's errors, lower-cased as codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    UserNotFound,
    UserNotActive,
    PurchaseLimitExceeded,
    InsufficientBalance,
    OutOfStock,
    ItemNotFound,
    ItemNotAvailable,
    CouponNotUsable,
    /// `usePoints` is more than the order's amount.
    AmountMismatch,
}

impl Refusal {
    const ALL: [Self; 9] = [
        Self::UserNotFound,
        Self::UserNotActive,
        Self::PurchaseLimitExceeded,
        Self::InsufficientBalance,
        Self::OutOfStock,
        Self::ItemNotFound,
        Self::ItemNotAvailable,
        Self::CouponNotUsable,
        Self::AmountMismatch,
    ];

    /// Its error code.
    pub fn code(self) -> &'static str {
        match self {
            Self::UserNotFound => "user_not_found",
            Self::UserNotActive => "user_not_active",
            Self::PurchaseLimitExceeded => "purchase_limit_exceeded",
            Self::InsufficientBalance => "insufficient_balance",
            Self::OutOfStock => "out_of_stock",
            Self::ItemNotFound => "item_not_found",
            Self::ItemNotAvailable => "item_not_available",
            Self::CouponNotUsable => "coupon_not_usable",
            Self::AmountMismatch => "amount_mismatch",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }
}
