//! The payment state machine: `PENDING -> PROCESSING -> COMPLETED | FAILED`, `PENDING -> FAILED | CANCELLED`,
//! and `PROCESSING -> PENDING` when a charge certainly reached no gateway (nothing was charged, the payer may
//! try again). A chain payment's cancel is `PENDING -> CANCELLING -> CANCELLED` once the contract refuses its
//! terms, or `CANCELLING -> COMPLETED` when the payer's payment won the race. Terminal states never change.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::DomainError;

crate::names::names! {
    /// Where a payment's status stands.
    pub enum PaymentStatus ("payment status") {
        Pending => "PENDING",
        Processing => "PROCESSING",
        Completed => "COMPLETED",
        Failed => "FAILED",
        Cancelled => "CANCELLED",
        /// A chain payment whose signed deadline passed unpaid (the contract refuses it from then on).
        Expired => "EXPIRED",
        /// A chain payment being cancelled: Settle's signed cancellation is on its way to the contract; CANCELLED
        /// once the contract refuses the terms, COMPLETED if the payment was made first.
        Cancelling => "CANCELLING",
    }
}

impl PaymentStatus {
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled | Self::Expired)
    }

    /// Whether the machine allows `self -> to`.
    pub fn can_become(self, to: PaymentStatus) -> bool {
        use PaymentStatus::*;
        matches!(
            (self, to),
            (Pending, Processing)
                | (Pending, Failed)
                | (Pending, Cancelled)
                | (Processing, Completed)
                | (Processing, Failed)
                | (Processing, Pending)
                | (Pending, Expired)
                | (Processing, Expired)
                | (Pending, Cancelling)
                | (Cancelling, Cancelled)
                | (Cancelling, Completed)
        )
    }

    /// The transition `self -> to`, or why it is not allowed.
    pub fn transition(self, to: PaymentStatus) -> Result<Transition, DomainError> {
        if self.can_become(to) { Ok(Transition { from: self, to }) } else { Err(DomainError::InvalidTransition { from: self, to }) }
    }

    /// Parses a status filter value (upper-case names only).
    pub fn parse(field: &'static str, s: &str) -> Result<Self, DomainError> {
        s.parse().map_err(|_| DomainError::invalid(field, "must be one of PENDING, PROCESSING, COMPLETED, FAILED, CANCELLED, EXPIRED, CANCELLING"))
    }
}

/// A stored name that is none of its type's (a database written by something other than Settle).
#[derive(Debug, thiserror::Error)]
#[error("unknown {kind} {value:?}")]
pub struct UnknownName {
    pub kind: &'static str,
    pub value: String,
}

/// An allowed status change; only [`PaymentStatus::transition`] makes one.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Transition {
    pub from: PaymentStatus,
    pub to: PaymentStatus,
}

impl Transition {
    /// The event recorded when this transition commits.
    pub fn event(self) -> EventType {
        match (self.from, self.to) {
            (PaymentStatus::Processing, PaymentStatus::Pending) => EventType::Reverted,
            (_, PaymentStatus::Pending) => EventType::Created,
            (_, PaymentStatus::Processing) => EventType::Submitted,
            (_, PaymentStatus::Completed) => EventType::Confirmed,
            (_, PaymentStatus::Failed) => EventType::Failed,
            (_, PaymentStatus::Cancelled) => EventType::Cancelled,
            (_, PaymentStatus::Expired) => EventType::Expired,
            (_, PaymentStatus::Cancelling) => EventType::CancelRequested,
        }
    }
}

crate::names::names! {
    /// How a payment is paid.
    pub enum Rail ("rail") {
        Chain => "CHAIN",
        Card => "CARD",
    }
}

/// Entries of a payment's append-only history.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventType {
    Created,
    Submitted,
    Confirmed,
    Failed,
    Cancelled,
    /// The chain payment's deadline passed unpaid.
    Expired,
    /// PROCESSING -> PENDING: the charge certainly reached no gateway; nothing was charged.
    Reverted,
    /// The gateway accepted the charge: its transaction key is recorded (no status change).
    Accepted,
    /// A second gateway transaction of a payment was voided (no status change).
    VoidedDuplicate,
    /// A gateway success for a payment that did not complete was voided (no status change).
    VoidedLateSuccess,
    /// The gateway reported something Settle will not apply (another amount or order): an operator must look.
    Flagged,
    /// A charge went out but its outcome is not known yet (timeout, lost answer, shutdown): reconciliation
    /// settles it (no status change).
    OutcomeUnknown,
    /// PENDING -> CANCELLING: a chain payment's signed cancellation is on its way to the contract.
    CancelRequested,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "CREATED",
            Self::Submitted => "SUBMITTED",
            Self::Confirmed => "CONFIRMED",
            Self::Failed => "FAILED",
            Self::Cancelled => "CANCELLED",
            Self::Expired => "EXPIRED",
            Self::Reverted => "REVERTED",
            Self::Accepted => "ACCEPTED",
            Self::VoidedDuplicate => "VOIDED_DUPLICATE",
            Self::VoidedLateSuccess => "VOIDED_LATE_SUCCESS",
            Self::Flagged => "FLAGGED",
            Self::OutcomeUnknown => "OUTCOME_UNKNOWN",
            Self::CancelRequested => "CANCEL_REQUESTED",
        }
    }

    pub const ALL: [EventType; 13] = [
        Self::Created,
        Self::Submitted,
        Self::Confirmed,
        Self::Failed,
        Self::Cancelled,
        Self::Expired,
        Self::Reverted,
        Self::Accepted,
        Self::VoidedDuplicate,
        Self::VoidedLateSuccess,
        Self::Flagged,
        Self::OutcomeUnknown,
        Self::CancelRequested,
    ];

    /// The name of the outbox / SSE event for this entry (`payment.created`, ...).
    pub fn topic(self) -> &'static str {
        match self {
            Self::Created => "payment.created",
            Self::Submitted => "payment.processing",
            Self::Confirmed => "payment.completed",
            Self::Failed => "payment.failed",
            Self::Cancelled => "payment.cancelled",
            Self::Expired => "payment.expired",
            Self::Reverted => "payment.reverted",
            Self::Accepted => "payment.accepted",
            Self::VoidedDuplicate | Self::VoidedLateSuccess => "payment.voided",
            Self::Flagged => "payment.flagged",
            Self::OutcomeUnknown => "payment.outcome_unknown",
            Self::CancelRequested => "payment.cancelling",
        }
    }
}

impl FromStr for EventType {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Self::ALL.into_iter().find(|e| e.as_str() == s).ok_or(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn status() -> impl Strategy<Value = PaymentStatus> {
        proptest::sample::select(PaymentStatus::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn terminal_states_never_change(from in status(), to in status()) {
            if from.is_terminal() {
                prop_assert!(from.transition(to).is_err());
            }
        }

        #[test]
        fn any_walk_ends_or_stays_consistent(steps in proptest::collection::vec(status(), 0..20)) {
            let mut cur = PaymentStatus::Pending;
            for to in steps {
                if let Ok(t) = cur.transition(to) {
                    prop_assert_eq!(t.from, cur);
                    prop_assert!(!cur.is_terminal());
                    cur = t.to;
                }
            }
        }
    }

    #[test]
    fn the_machine() {
        use PaymentStatus::*;
        assert!(Pending.can_become(Cancelled));
        assert!(!Processing.can_become(Cancelled));
        assert!(!Pending.can_become(Completed));
        assert!(!Pending.can_become(Pending));
        assert_eq!(Processing.transition(Pending).unwrap().event(), EventType::Reverted);
        assert_eq!(Pending.transition(Processing).unwrap().event(), EventType::Submitted);
        for e in EventType::ALL {
            assert_eq!(e.as_str().parse::<EventType>(), Ok(e));
        }
        assert_eq!(PaymentStatus::parse("s", "PENDING").unwrap(), Pending);
        assert!(PaymentStatus::parse("s", "pending").is_err());
    }
}
