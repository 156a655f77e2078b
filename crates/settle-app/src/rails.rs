//! The seam between the payment use cases and the rails. The use cases ask here what a rail adds to a payment at
//! its creation (a CHAIN payment: the chain's checks, the merchant's fee and the signed terms), what it observes when
//! a status read misses the cache (a CHAIN payment: the contract), and its part of a cancel (a CHAIN payment: the
//! on-chain cancellation); they never name a rail. The rails report what they observe to the ledger
//! ([`crate::ledger`]), never to the use cases.

use settle_domain::{Address, Amount, Currency, PaymentStatus, Rail};
use settle_store::payments::{ChainTerms, PaymentRow};

use crate::{
    AppError, Context,
    chain::terms::{DEFAULT_EXPIRY_SECS, MAX_EXPIRY_SECS, MIN_EXPIRY_SECS},
    idempotency::{Claim, Reply},
};

/// A new CHAIN payment, as its creation describes it.
pub(crate) struct ChainTermsInput<'a> {
    pub merchant_id: &'a str,
    pub payment_id: &'a str,
    pub chain_id: i64,
    pub token_address: &'a Address,
    pub currency: &'a Currency,
    pub amount: &'a Amount,
    pub recipient_address: &'a Address,
    pub expires_in_secs: Option<u64>,
    /// Epoch ms.
    pub now: i64,
}

/// What the chain rail adds to a new payment: its stored terms, and for the answer the checkout's client secret
/// (shown once) and the contracts to pay through.
pub(crate) struct ChainAddition {
    pub stored: ChainTerms,
    pub client_secret: String,
    pub gateway: String,
    pub forwarder: String,
}

/// The chain rail's part of a creation: the chain and token configured, the currency the token's symbol, the expiry
/// within bounds, the merchant's fee, and the terms signed with the chain's signer key.
pub(crate) async fn chain_terms(ctx: &Context, p: ChainTermsInput<'_>) -> Result<ChainAddition, AppError> {
    let chain_id = p.chain_id;
    let chain = ctx.chains.get(chain_id).ok_or_else(|| AppError::invalid("chainId", format!("chain {chain_id} is not configured on this server")))?;
    // A mode's payments use its own networks: a live payment on a test network would be paid with worthless tokens,
    // a test payment on a live one with real money.
    match (settle_domain::mode::is_live(p.merchant_id), chain.test_network) {
        (true, true) => return Err(AppError::invalid("chainId", format!("chain {chain_id} is a test network: only a test key may use it"))),
        (false, false) => {
            return Err(AppError::invalid("chainId", format!("chain {chain_id} is a live network: a test key may use only test networks")));
        }
        _ => {}
    }
    let token_addr: settle_chain::Address = p.token_address.to_string().parse().map_err(|_| AppError::invalid("tokenAddress", "not an address"))?;
    let token =
        chain.token(&token_addr).ok_or_else(|| AppError::invalid("tokenAddress", format!("this token is not configured for chain {chain_id}")))?;
    if p.currency.to_string() != token.symbol {
        return Err(AppError::invalid("currency", format!("currency must be the token's symbol, {}", token.symbol)));
    }
    let expires = p.expires_in_secs.unwrap_or(DEFAULT_EXPIRY_SECS);
    if !(MIN_EXPIRY_SECS..=MAX_EXPIRY_SECS).contains(&expires) {
        return Err(AppError::invalid("expiresInSecs", format!("expiresInSecs must be {MIN_EXPIRY_SECS} to {MAX_EXPIRY_SECS}")));
    }
    // A stored fee that is not a basis-point count is refused there, never signed as another (0).
    let fee = crate::merchants::fee_bps(ctx, p.merchant_id).await?;
    let recipient: settle_chain::Address =
        p.recipient_address.to_string().parse().map_err(|_| AppError::invalid("recipientAddress", "not an address"))?;
    // Settle's own addresses never receive a payment: the signer's or the relayer's would let Settle's keys authorize
    // refunds out of it, the contracts' would lock it.
    if chain.is_own(recipient) {
        return Err(AppError::invalid(
            "recipientAddress",
            "recipientAddress must be the merchant's address, not one of Settle's (its signer, relayer or contracts)",
        ));
    }
    let deadline = (p.now / 1000) as u64 + expires;
    let domain = chain.gateway_domain().await?;
    let signed = crate::chain::terms::sign(chain, &domain, p.payment_id, token_addr, &p.amount.to_string(), recipient, fee.get(), deadline)?;
    Ok(ChainAddition {
        stored: ChainTerms {
            deadline: deadline as i64,
            fee_bps: fee.stored(),
            server_signature: signed.signature,
            client_secret_hash: signed.client_secret_hash,
            gateway_address: chain.gateway.to_checksum(None),
        },
        client_secret: signed.client_secret,
        gateway: chain.gateway.to_checksum(None),
        forwarder: chain.forwarder.to_checksum(None),
    })
}

/// What the payment's rail observes of a PENDING payment on a status read's cache miss, recorded through the ledger;
/// the new row when it changed. A CHAIN payment: whether the contract shows it paid. A CARD payment: nothing (the
/// gateway's answers come through the charge, its callback and the reconciler).
pub(crate) async fn observe_pending(ctx: &Context, row: &PaymentRow) -> Option<PaymentRow> {
    match row.rail {
        Rail::Chain if row.status == PaymentStatus::Pending => crate::chain::watcher::reconcile_pending(ctx, row).await,
        _ => None,
    }
}

/// The rail's part of a merchant's cancel. A PENDING CHAIN payment's signed terms stay payable until their deadline,
/// so its cancel goes to the contract (the payment CANCELLING until it holds there): the answer. Otherwise None: the
/// ledger cancels the payment itself.
pub(crate) async fn cancel(ctx: &Context, row: &PaymentRow, claim: &Claim) -> Result<Option<Reply>, AppError> {
    if row.rail != Rail::Chain || row.status != PaymentStatus::Pending {
        return Ok(None);
    }
    // Never the direct way: without its chain nothing could make the terms unpayable.
    let chain = ctx.chains.get(row.chain_id.unwrap_or_default()).ok_or(AppError::ChainNotConfigured(row.chain_id.unwrap_or_default()))?;
    crate::chain::cancel::request(ctx, chain, row, claim).await.map(Some)
}
