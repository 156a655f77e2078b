//! The chain rail (seeds 000 and 001): the gateway contract is the source of truth for whether a payment was
//! paid.
//!
//! - [`settings`]: a chain's configuration (RPC URLs, gateway, forwarder, keys, tokens, confirmations).
//! - [`terms`]: a CHAIN payment's terms (id, token, amount, recipient, fee, deadline), signed with the chain's
//!   signer key when the payment is created, and the checkout's client secret.
//! - [`checkout`]: what a payer signs (typed data), and the verification of a signed forward request before
//!   any gas is spent; a verified request is recorded and the payment goes PROCESSING.
//! - [`relayer`]: one per chain under a lease; sends relay requests with nonces allocated in the database,
//!   rebroadcasts dropped transactions and replaces stuck ones with higher fees.
//! - [`watcher`]: one per chain under a lease; follows `PaymentCompleted` logs from a persisted cursor, keeps
//!   the block hashes it relied on (a reorg rewinds it), completes a payment once its log has the configured
//!   confirmations, and expires payments whose deadline passed unpaid.

pub mod cancel;
pub mod checkout;
pub mod refunds;
pub mod relayer;
pub mod settings;
pub mod terms;
pub mod watcher;

pub use settings::{Chain, ChainSpec, Chains, Contracts, PreviousGateway, Token, TokenSpec};
