//! Signing a CHAIN payment's terms at creation.

use rand::RngCore;
use serde::Serialize;
use settle_chain::{Address, B256, U256, contracts::PaymentTerms, eip712};
use sha2::{Digest, Sha256};

use super::Chain;
use crate::AppError;

/// Bounds of `expiresInSecs`.
pub const DEFAULT_EXPIRY_SECS: u64 = 1800;
pub const MIN_EXPIRY_SECS: u64 = 60;
pub const MAX_EXPIRY_SECS: u64 = 7 * 24 * 3600;

/// The terms as the API shows them (and as `pay` takes them).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TermsView {
    pub payment_id: String,
    pub token: String,
    /// Exact integer in the token's base unit, as a decimal string.
    pub amount: String,
    pub recipient: String,
    pub fee_bps: u16,
    /// Epoch seconds.
    pub deadline: u64,
}

/// Signed terms, ready to store.
pub struct Signed {
    pub terms: PaymentTerms,
    pub signature: String,
    pub client_secret: String,
    pub client_secret_hash: String,
}

/// The terms of a payment as stored, rebuilt for the contract.
pub fn terms_of(payment_id: &str, token: &str, amount: &str, recipient: &str, fee_bps: i32, deadline: i64) -> Result<PaymentTerms, AppError> {
    let bad = |what: &str| AppError::InvalidState(format!("the payment's stored {what} is unreadable"));
    Ok(PaymentTerms {
        paymentId: payment_id.parse::<B256>().map_err(|_| bad("id"))?,
        token: token.parse::<Address>().map_err(|_| bad("token"))?,
        amount: U256::from_str_radix(amount, 10).map_err(|_| bad("amount"))?,
        recipient: recipient.parse::<Address>().map_err(|_| bad("recipient"))?,
        feeBps: u16::try_from(fee_bps).map_err(|_| bad("fee"))?,
        deadline: u64::try_from(deadline).map_err(|_| bad("deadline"))?,
    })
}

pub fn view(t: &PaymentTerms) -> TermsView {
    TermsView {
        payment_id: t.paymentId.to_string(),
        token: t.token.to_checksum(None),
        amount: t.amount.to_string(),
        recipient: t.recipient.to_checksum(None),
        fee_bps: t.feeBps,
        deadline: t.deadline,
    }
}

/// Signs the terms of a new payment with the chain's signer key, and makes its client secret.
pub fn sign(
    chain: &Chain,
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
    let sig = eip712::sign_terms(&chain.signer, &eip712::gateway_domain(chain.chain_id, chain.gateway), &terms)
        .map_err(|e| AppError::internal(std::io::Error::other(e)))?;
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let client_secret = format!("pcs_{}", hex::encode(secret));
    Ok(Signed { terms, signature: sig.to_string(), client_secret_hash: secret_hash(&client_secret), client_secret })
}

/// How a client secret is stored.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}
