//! Settle's EVM rail, knowing nothing of the database.
//!
//! - [`contracts`]: the gateway, forwarder and test-token Solidity types and calls (`sol!`), their compiled
//!   artifacts, and revert decoding.
//! - [`eip712`]: the terms Settle signs, the forward request and permit a payer signs (hashes, signatures with
//!   high-s refused, and the typed-data JSON wallets take).
//! - [`tx`]: EIP-1559 transactions signed with a local key, and fee bumps.
//! - [`rpc`]: JSON-RPC over HTTP with failover across a chain's URLs.
//! - [`deploy`]: deploying the contracts (`settle chain deploy`, tests).

pub mod contracts;
pub mod deploy;
pub mod eip712;
pub mod rpc;
pub mod terms;
pub mod tx;

pub use alloy::{
    primitives::{self, Address, B256, Bytes, U256},
    signers::local::PrivateKeySigner,
    sol_types as alloy_sol,
};
