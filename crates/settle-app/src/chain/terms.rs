//! Signing a CHAIN payment's terms at creation.

use rand::RngCore;
use settle_chain::{Address, B256, U256, contracts::PaymentTerms, eip712};
use sha2::{Digest, Sha256};

use super::Chain;
use crate::AppError;

/// Bounds of `expiresInSecs`.
pub const DEFAULT_EXPIRY_SECS: u64 = 1800;
pub const MIN_EXPIRY_SECS: u64 = 60;
pub const MAX_EXPIRY_SECS: u64 = 7 * 24 * 3600;

/// Signed terms, ready to store.
pub struct Signed {
    pub terms: PaymentTerms,
    pub signature: String,
    pub client_secret: String,
    pub client_secret_hash: String,
}

pub use settle_chain::terms::{TermsView, view};

/// The terms of a payment as stored, rebuilt for the contract ([`settle_chain::terms::of_stored`]); unreadable
/// stored terms are a 409 naming the part.
pub fn terms_of(payment_id: &str, token: &str, amount: &str, recipient: &str, fee_bps: i32, deadline: i64) -> Result<PaymentTerms, AppError> {
    settle_chain::terms::of_stored(payment_id, token, amount, recipient, fee_bps, deadline)
        .map_err(|what| AppError::InvalidState(format!("the payment's stored {what} is unreadable")))
}

/// Signs the terms of a new payment with the chain's signer key, and makes its client secret.
#[allow(clippy::too_many_arguments)]
pub fn sign(
    chain: &Chain,
    domain: &settle_chain::alloy_sol::Eip712Domain,
    payment_id: &str,
    token: Address,
    amount: &str,
    recipient: Address,
    fee_bps: u16,
    deadline: u64,
) -> Result<Signed, AppError> {
    let terms = PaymentTerms {
        paymentId: payment_id.parse::<B256>().map_err(|_| AppError::invalid("paymentId", "not a bytes32"))?,
        token,
        amount: U256::from_str_radix(amount, 10).map_err(|_| AppError::invalid("amount", "amount must fit in 256 bits"))?,
        recipient,
        feeBps: fee_bps,
        deadline,
    };
    let sig = eip712::sign_terms(&chain.signer, domain, &terms).map_err(|e| AppError::internal(std::io::Error::other(e)))?;
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let client_secret = format!("pcs_{}", hex::encode(secret));
    Ok(Signed { terms, signature: sig.to_string(), client_secret_hash: secret_hash(&client_secret), client_secret })
}

/// How a client secret is stored.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}
