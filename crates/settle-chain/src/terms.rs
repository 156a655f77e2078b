//! A payment's terms as Settle stores them and as its API shows them, rebuilt for the gateway contract.

use serde::Serialize;

use crate::{Address, B256, U256, contracts::PaymentTerms};

/// The terms as the API shows them (and as `pay` takes them).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
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

/// The terms of a payment as stored, rebuilt for the contract; Err names the part that is unreadable.
pub fn of_stored(payment_id: &str, token: &str, amount: &str, recipient: &str, fee_bps: i32, deadline: i64) -> Result<PaymentTerms, &'static str> {
    Ok(PaymentTerms {
        paymentId: payment_id.parse::<B256>().map_err(|_| "id")?,
        token: token.parse::<Address>().map_err(|_| "token")?,
        amount: U256::from_str_radix(amount, 10).map_err(|_| "amount")?,
        recipient: recipient.parse::<Address>().map_err(|_| "recipient")?,
        feeBps: u16::try_from(fee_bps).map_err(|_| "fee")?,
        deadline: u64::try_from(deadline).map_err(|_| "deadline")?,
    })
}

/// The terms as the API shows them.
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
