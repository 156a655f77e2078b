//! Domain errors: a rejected value names the field it came from, so the HTTP edge can put it in `param`.

/// Why a value or a transition was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// A value failed to parse; `field` is the request field it came from.
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// A state transition the payment state machine does not allow.
    #[error("a {from} payment cannot become {to}")]
    InvalidTransition { from: crate::PaymentStatus, to: crate::PaymentStatus },
}

impl DomainError {
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid { field, reason: reason.into() }
    }
}
