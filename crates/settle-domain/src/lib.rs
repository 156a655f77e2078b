//! Settle's domain: the pure types and rules every other crate builds on.
//!
//! - [`amount`]: [`Amount`], an exact non-negative integer in minor units (up to 2^256-1), and [`Currency`].
//! - [`ids`]: [`PaymentId`] (0x + 64 hex, usable as an on-chain bytes32) and [`OrderId`].
//! - [`cancellation`]: [`CancellationStatus`], [`CancellationId`] and what cancelling an order's lines gives back.
//! - [`card`]: [`CardNumber`] (Luhn-checked, masking Debug) and [`CardType`].
//! - [`address`]: [`Address`], a 20-byte EVM address.
//! - [`details`]: what a merchant attaches to a payment or an order ([`Metadata`], description, email).
//! - [`mode`]: test and live modes, and the tenant of each.
//! - [`payment`]: [`PaymentStatus`], [`Rail`], [`EventType`] and the payment state machine.
//! - [`refund`]: [`RefundStatus`], [`RefundId`], [`RefundReason`] and exact sums of amounts.
//! - [`saga`]: [`SagaStatus`], where a purchase saga stands.
//! - [`names`]: how those enums are declared with the names they are stored and sent as.
//! - [`error`]: [`DomainError`], what a parse or a rule rejects, naming the field.
//!
//! Nothing here does I/O, awaits, or knows a framework: values are parsed once at the edge
//! ("parse, don't validate") and deeper code takes the typed value.

pub mod address;
pub mod amount;
pub mod cancellation;
pub mod card;
pub mod details;
pub mod error;
pub mod fee;
pub mod ids;
pub mod mode;
pub mod names;
pub mod payment;
pub mod refund;
pub mod saga;

pub use address::Address;
pub use amount::{Amount, Currency};
pub use cancellation::{CancellationId, CancellationStatus};
pub use card::{CardNumber, CardType};
pub use details::Metadata;
pub use error::DomainError;
pub use fee::FeeBps;
pub use ids::{OrderId, PaymentId};
pub use names::UnknownName;
pub use payment::{EventType, PaymentStatus, Rail, Transition};
pub use refund::{RefundId, RefundReason, RefundStatus};
pub use saga::{CouponStatus, OrderStatus, SagaStatus, SagaStep, StepOutcome, UserStatus};
