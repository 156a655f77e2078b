//! Refunds of CHAIN payments, without gas for the merchant.
//!
//! A refund is recorded like any other ([`crate::refunds::record_in`]: the payment locked, its remaining amount
//! checked, its amount held) and waits on the payment's recipient (REQUIRES_ACTION `recipient_signature_required`):
//! the gateway refunds only `RefundTerms{refundId, paymentId, amount, feeReturned, deadline}` (version 3; version 2's
//! have no `feeReturned`) that both Settle and the recipient signed (or that the recipient sends itself), paying the
//! payer back from the recipient's allowance, and `feeReturned` of it from the treasury's: a merchant that returns fees
//! (`returnFeeOnRefund`) gives back each refund's share of the fee the payment paid, which the treasury had kept. An
//! allowance alone never lets anyone refund out of it: a merchant who names another's address as a payment's
//! recipient cannot refund out of that address. `GET /v1/refunds/{id}/typed-data` gives the terms to sign (and the
//! token's permit when the allowance is short); `POST /v1/refunds/{id}/submit` checks the signatures, simulates, and
//! queues the gateway's `refund` (or `refundWithPermit`) for Settle's relayer: the merchant pays no gas. The contract
//! refuses a refund id twice, a sum above the paid amount and terms Settle or the recipient did not sign.
//!
//! The watcher decides each open CHAIN refund at the newest confirmed block ([`follow`]): the gateway's `getRefund`
//! there shows it made (SUCCEEDED: confirmed, and a reorg below the confirmations undoes nothing Settle said), or
//! its terms' deadline passed unused (FAILED `expired`: no transaction can use them any more), or its relay failed
//! (REQUIRES_ACTION with what is missing: the recipient's allowance or balance), to be signed and submitted again;
//! the recipient may also send the offered transaction from its own wallet. Either way the contract's state decides,
//! once.
//!
//! The latest deadline of any terms signed for a refund is kept in its `next_check_at` (milliseconds), written before
//! the terms are handed out: a refund is never FAILED while terms for it are still usable.

use serde::Serialize;
use settle_chain::{
    Address, B256, Bytes, U256,
    alloy_sol::{Eip712Domain, SolCall},
    contracts::{self, Permit, allowanceCall, balanceOfCall, getPaymentCall, getRefundCall, nameCall, noncesCall, treasuryCall},
    eip712::{self, GatewayRefundTerms},
    rpc::is_revert,
};
use settle_domain::{RefundId, RefundStatus};
use settle_store::{
    StoreError,
    payments::{self as payments_store, PaymentRow},
    refunds::{self as store, Changes, RefundRow},
    relay,
};

use super::Chain;
use crate::{
    AppError, Context,
    idempotency::{Claim, Reply},
    refunds::{self, CreateRefund, REFUND_RESOURCE, RefundView},
};

/// Gas a relayed refund may use (the permit, the checks and two token writes).
/// A payment's first refund through a permit measured 222,420 on anvil; a token with more checks (a proxy, a
/// blocklist) needs more.
pub const REFUND_GAS: u64 = 320_000;

/// How long signed refund terms stay usable (seconds): a refund whose terms all passed their deadline unused, at a
/// confirmed block, is FAILED `expired`.
pub const TERMS_SECS: u64 = 24 * 3600;

/// A refund's id on chain: its 16 id bytes, left-padded to 32.
pub fn key_of(refund_id: &str) -> Option<B256> {
    let bytes = hex::decode(refund_id.strip_prefix("re_")?).ok()?;
    (bytes.len() == 16).then(|| B256::left_padding_from(&bytes))
}

/// The chain and gateway domain that refund `payment` on chain: refused (409) when the chain's gateway predates
/// refunds, or the payment was made on another gateway of the chain.
async fn rail_of(ctx: &Context, payment: &PaymentRow) -> Result<(Chain, Eip712Domain), AppError> {
    let chain_id = payment.chain_id.ok_or_else(|| AppError::InvalidState("the CHAIN payment has no chain".into()))?;
    // The gateway the payment was made on: the chain's current one, or one it replaced.
    let chain = ctx.chains.get(chain_id).ok_or(AppError::ChainNotConfigured(chain_id))?.for_payment(payment).await?;
    let domain = chain.gateway_domain().await?;
    if domain.version.as_deref() == Some("1") {
        return Err(AppError::InvalidState(format!(
            "the payment was made on gateway {} of chain {chain_id}, which predates refunds (version 1): pay the payer back from the recipient's wallet",
            chain.gateway
        )));
    }
    // The gateway itself says whether the payment was made there (its signer may have been rotated since).
    let out = chain
        .rpc
        .eth_call(None, chain.gateway, &getPaymentCall { paymentId: made_payment_id(&payment.payment_id)? }.abi_encode().into())
        .await
        .map_err(|_| AppError::ChainUnavailable)?;
    if getPaymentCall::abi_decode_returns(&out).map_err(|_| AppError::ChainUnavailable)?.payer.is_zero() {
        if refunds::paid_late_maybe(payment) {
            return Err(AppError::InvalidState(format!("the payment is {} and the gateway shows it unpaid: nothing to refund", payment.status)));
        }
        return Err(AppError::InvalidState(format!(
            "the payment was made on another gateway of chain {chain_id} (one since replaced): list it in the chain's previous_gateways to refund through it, or pay the payer back from the recipient's wallet"
        )));
    }
    Ok((chain, domain))
}

fn made_payment_id(payment_id: &str) -> Result<B256, AppError> {
    payment_id.parse().map_err(|_| AppError::InvalidState("the payment's stored id is not 32 bytes".into()))
}

/// A deadline (Unix seconds) in milliseconds, as `next_check_at` keeps it (saturating: never negative).
fn ms(deadline: u64) -> i64 {
    i64::try_from(deadline).unwrap_or(i64::MAX).saturating_mul(1000)
}

/// A 65-byte signature (r, s, v) given as 0x and hex; 400 naming `field` otherwise.
fn signature_bytes(field: &'static str, hex_sig: &str) -> Result<Vec<u8>, AppError> {
    hex_sig
        .strip_prefix("0x")
        .and_then(|h| hex::decode(h).ok())
        .filter(|b| b.len() == 65)
        .ok_or_else(|| AppError::invalid(field, format!("{field} must be 0x and 65 bytes of hex")))
}

/// The basis points of `payment`'s fee its refunds give back: the fee signed into its terms when its merchant returns
/// fees and its gateway can (version 3 and later); None otherwise.
fn fee_to_return(return_fee_on_refund: bool, fee_bps: Option<i32>, gateway_version: &str) -> Option<u16> {
    let bps = fee_bps.and_then(|b| u16::try_from(b).ok()).filter(|b| *b > 0)?;
    (return_fee_on_refund && gateway_version == "3").then_some(bps)
}

/// Whether `merchant_id` (a tenant) returns fees on refunds.
async fn returns_fee(conn: &impl settle_store::ConnectionTrait, merchant_id: &str) -> Result<bool, AppError> {
    let merchant = settle_store::merchants::find(conn, settle_domain::mode::merchant_of(merchant_id)).await?;
    Ok(merchant.is_some_and(|m| m.return_fee_on_refund))
}

/// A refund's amount and fee returned (0 when none), as the chain counts them.
fn amounts_of(row: &RefundRow) -> Result<(U256, U256), AppError> {
    let bad = |what: &str| AppError::InvalidState(format!("the refund's stored {what} is unreadable"));
    let amount = U256::from_str_radix(&row.amount, 10).map_err(|_| bad("amount"))?;
    let fee = match &row.fee_returned {
        Some(f) => U256::from_str_radix(f, 10).map_err(|_| bad("fee returned"))?,
        None => U256::ZERO,
    };
    if fee > amount {
        return Err(bad("fee returned"));
    }
    Ok((amount, fee))
}

/// `refund`'s terms for `row` at the gateway of `domain`, until `deadline` (Unix seconds), and Settle's signature
/// over them.
fn signed_terms(chain: &Chain, domain: &Eip712Domain, row: &RefundRow, deadline: u64) -> Result<(GatewayRefundTerms, Bytes), AppError> {
    let refund_id = key_of(&row.refund_id).ok_or_else(|| AppError::InvalidState("the refund's stored id is unreadable".into()))?;
    let (amount, fee) = amounts_of(row)?;
    let version = domain.version.as_deref().unwrap_or_default();
    let terms = GatewayRefundTerms::new(version, refund_id, made_payment_id(&row.payment_id)?, amount, fee, deadline)
        .map_err(|e| AppError::InvalidState(format!("the refund cannot be made at gateway {}: {e}", chain.gateway)))?;
    let sig = terms.sign(&chain.signer, domain).map_err(|e| AppError::internal(std::io::Error::other(e)))?;
    Ok((terms, Bytes::from(sig.as_bytes().to_vec())))
}

/// A merchant's EIP-2612 permit for the gateway, as `POST /v1/refunds/{id}/submit` takes it.
#[derive(Clone, Debug)]
pub struct PermitInput {
    pub value: U256,
    pub deadline: U256,
    pub signature: Vec<u8>,
}

impl PermitInput {
    /// Parses a permit's decimal `value` and `deadline` and its 0x-hex 65-byte `signature`.
    pub fn parse(value: &str, deadline: &str, signature: &str) -> Result<Self, AppError> {
        let uint = |field: &'static str, v: &str| {
            U256::from_str_radix(v, 10).map_err(|_| AppError::invalid(field, format!("{field} must be a decimal integer")))
        };
        Ok(Self {
            value: uint("permit.value", value)?,
            deadline: uint("permit.deadline", deadline)?,
            signature: signature_bytes("permit.signature", signature)?,
        })
    }
}

/// The gateway call that carries out `terms` signed by Settle, with the recipient's signature of them (empty: the
/// recipient sends it itself) and the recipient's permit when given.
fn call_for(terms: GatewayRefundTerms, server_signature: Bytes, recipient_signature: &[u8], permit: Option<&PermitInput>) -> Result<Bytes, AppError> {
    let recipient_signature = Bytes::from(recipient_signature.to_vec());
    Ok(match permit {
        None => terms.refund_call(server_signature, recipient_signature),
        Some(p) => {
            let sig = settle_chain::primitives::Signature::from_raw(&p.signature)
                .map_err(|_| AppError::InvalidSignature("permit.signature must be 65 bytes (r, s, v)".into()))?;
            terms.refund_with_permit_call(server_signature, recipient_signature, p.value, p.deadline, &sig)
        }
    })
}

/// Queues the relayer's transaction carrying `data` for `row` and records it on the refund (PENDING, its failure
/// cleared, its terms' deadline kept), in the caller's transaction.
async fn queue(txn: &impl settle_store::ConnectionTrait, chain: &Chain, row: &RefundRow, data: &Bytes, deadline: u64) -> Result<RefundRow, AppError> {
    let now = settle_store::now_ms();
    let relay_request_id = format!("rr_{}", uuid::Uuid::now_v7().simple());
    let request = serde_json::json!({"refund": format!("0x{}", hex::encode(data)), "refundId": row.refund_id, "gas": REFUND_GAS});
    relay::insert_request(
        txn,
        &relay_request_id,
        &row.payment_id,
        chain.chain_id as i64,
        &chain.relayer.address().to_checksum(None),
        &chain.gateway.to_checksum(None),
        &request.to_string(),
        now,
    )
    .await?;
    let changes = Changes {
        status: Some(RefundStatus::Pending),
        gateway_refund_key: Some(relay_request_id),
        next_check_at: Some(row.next_check_at.unwrap_or(0).max(ms(deadline))),
        clear_failure: true,
        ..Default::default()
    };
    store::update(txn, row, changes, now).await?.ok_or_else(|| AppError::InvalidState("the refund changed concurrently; read it again".into()))
}

/// Records a refund of a COMPLETED CHAIN payment, waiting on the recipient's signature (REQUIRES_ACTION
/// `recipient_signature_required`): its amount is held from now on.
pub(crate) async fn refund(ctx: &Context, merchant_id: &str, payment: PaymentRow, input: CreateRefund, claim: Claim) -> Result<Reply, AppError> {
    let (_, domain) = rail_of(ctx, &payment).await?;
    let return_fee = fee_to_return(returns_fee(&ctx.db, merchant_id).await?, payment.fee_bps, domain.version.as_deref().unwrap_or_default());
    // A refund nobody authorizes within this time is FAILED `expired` (each typed-data answer extends it).
    let until = (settle_store::now_ms() as u64 / 1000 + TERMS_SECS) as i64 * 1000;
    let row = crate::retrying(|| async {
        let txn = settle_store::begin(&ctx.db).await?;
        let payment = payments_store::find_locked(&txn, merchant_id, &payment.payment_id).await?.ok_or(AppError::NotFound("payment"))?;
        let row = refunds::record_in(&txn, &payment, &input, until, return_fee).await?;
        let message = format!(
            "the recipient {} must sign the refund's terms: GET /v1/refunds/{{id}}/typed-data, then POST /v1/refunds/{{id}}/submit",
            payment.recipient_address.as_deref().unwrap_or_default()
        );
        let row = refunds::require_action_in(&txn, &row, "recipient_signature_required", &message)
            .await?
            .ok_or_else(|| AppError::InvalidState("the refund changed concurrently; read it again".into()))?;
        claim.bind_in(&txn, &format!("{REFUND_RESOURCE}{}", row.refund_id)).await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(row)
    })
    .await?;
    refunds::recorded(ctx, &row);
    refunds::reply_with_current(ctx, &claim, &row.refund_id).await
}

/// Records, in the watcher's `txn`, the full refund of `payment`, which the chain shows paid after Settle ended it
/// CANCELLED or EXPIRED (a confirmed `PaymentCompleted` of this chain's gateway), unless its merchant turned that off
/// (`refundLatePayments`): REQUIRES_ACTION `recipient_signature_required` like any CHAIN refund, its amount held (and
/// its share of the fee returned when the merchant returns fees and the payment's gateway, of `gateway_version`, can).
/// None when turned off or when nothing is left to refund (the merchant refunded it already).
pub(crate) async fn refund_late_in(
    txn: &impl settle_store::ConnectionTrait,
    payment: &PaymentRow,
    gateway_version: &str,
) -> Result<Option<RefundRow>, AppError> {
    let merchant = settle_store::merchants::find(txn, settle_domain::mode::merchant_of(&payment.merchant_id)).await?;
    let Some(merchant) = merchant.filter(|m| m.refund_late_payments) else { return Ok(None) };
    let return_fee = fee_to_return(merchant.return_fee_on_refund, payment.fee_bps, gateway_version);
    let Some(payment) = payments_store::find_locked(txn, &payment.merchant_id, &payment.payment_id).await? else { return Ok(None) };
    let until = (settle_store::now_ms() as u64 / 1000 + TERMS_SECS) as i64 * 1000;
    let input = CreateRefund { amount: None, reason: Some(settle_domain::RefundReason::PaidAfterFinal), metadata: Default::default() };
    // The merchant refunded it already, or as many times as a payment takes: reported without a refund (the watcher
    // never stops on it). A database error is the watcher's to retry.
    let row = match refunds::record_in(txn, &payment, &input, until, return_fee).await {
        Ok(row) => row,
        Err(e @ (AppError::RefundExceedsRemaining(_) | AppError::InvalidState(_) | AppError::Invalid { .. })) => {
            tracing::warn!(payment_id = %payment.payment_id, error = %e, "a payment paid after it ended is not refunded automatically");
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let message = format!(
        "the payment was paid after it was {}: the recipient {} must sign the refund's terms (GET /v1/refunds/{{id}}/typed-data, then POST /v1/refunds/{{id}}/submit)",
        payment.status,
        payment.recipient_address.as_deref().unwrap_or_default()
    );
    refunds::require_action_in(txn, &row, "recipient_signature_required", &message).await
}

/// A merchant's open CHAIN refund, its payment, chain and gateway domain (404 for another merchant's; 409 when it is
/// over or not on chain).
async fn open_refund(ctx: &Context, merchant_id: &str, refund_id: &str) -> Result<(RefundRow, PaymentRow, Chain, Eip712Domain), AppError> {
    let id = RefundId::parse("refundId", refund_id)?;
    let row = store::find(&ctx.db, merchant_id, id.as_str()).await?.ok_or(AppError::NotFound("refund"))?;
    if row.rail != settle_domain::Rail::Chain {
        return Err(AppError::InvalidState("only a CHAIN refund is signed for or submitted on chain".into()));
    }
    if row.status.is_final() {
        return Err(AppError::InvalidState(format!("the refund is {}", row.status)));
    }
    let payment = payments_store::find_any(&ctx.db, &row.payment_id).await?.ok_or(AppError::NotFound("payment"))?;
    let (chain, domain) = rail_of(ctx, &payment).await?;
    Ok((row, payment, chain, domain))
}

/// Records `deadline` (Unix seconds) as the refund's latest terms' deadline, as a compare-and-set read again on a
/// conflict; the refund as it is now (a final one is left alone).
async fn extend(ctx: &Context, row: &RefundRow, deadline: u64) -> Result<RefundRow, AppError> {
    let mut row = row.clone();
    for _ in 0..5 {
        if row.status.is_final() {
            return Ok(row);
        }
        let until = row.next_check_at.unwrap_or(0).max(ms(deadline));
        if let Some(next) = store::update(&ctx.db, &row, Changes { next_check_at: Some(until), ..Default::default() }, settle_store::now_ms()).await?
        {
            return Ok(next);
        }
        row = store::find_any(&ctx.db, &row.refund_id).await?.ok_or(AppError::NotFound("refund"))?;
    }
    Err(AppError::InvalidState("the refund changed concurrently; read it again".into()))
}

/// The recipient's allowance to the gateway and balance of the payment's token, at the latest block.
async fn funds(chain: &Chain, token: Address, owner: Address) -> Result<(U256, U256), AppError> {
    let rpc = &chain.rpc;
    let (a, b): (Bytes, Bytes) =
        (allowanceCall { owner, spender: chain.gateway }.abi_encode().into(), balanceOfCall { account: owner }.abi_encode().into());
    let (allowance, balance) = tokio::join!(rpc.eth_call(None, token, &a), rpc.eth_call(None, token, &b));
    let read = |r: Result<Bytes, settle_chain::rpc::RpcError>, f: fn(&[u8]) -> Option<U256>| match r {
        Ok(out) => f(&out).ok_or(AppError::ChainUnavailable),
        Err(_) => Err(AppError::ChainUnavailable),
    };
    Ok((read(allowance, |o| allowanceCall::abi_decode_returns(o).ok())?, read(balance, |o| balanceOfCall::abi_decode_returns(o).ok())?))
}

/// The treasury of the chain's gateway (`chain` placed on the payment's): what pays a refund's fee returned.
async fn treasury_of(chain: &Chain) -> Result<Address, AppError> {
    let out = chain.rpc.eth_call(None, chain.gateway, &treasuryCall {}.abi_encode().into()).await.map_err(|_| AppError::ChainUnavailable)?;
    treasuryCall::abi_decode_returns(&out).map_err(|_| AppError::ChainUnavailable)
}

/// What the treasury lacks to pay `fee` of the payment's token back; None when it covers it.
async fn treasury_shortfall(chain: &Chain, token: Address, fee: U256) -> Result<Option<String>, AppError> {
    if fee.is_zero() {
        return Ok(None);
    }
    let treasury = treasury_of(chain).await?;
    let (allowance, balance) = funds(chain, token, treasury).await?;
    Ok((allowance < fee || balance < fee).then(|| {
        format!(
            "the refund gives back {fee} of the payment's fee from the treasury {treasury}, which holds {balance} of the token and allows the gateway {} {allowance}: the operator must fund the treasury and approve the gateway from it",
            chain.gateway
        )
    }))
}

fn token_and_owner(payment: &PaymentRow) -> Result<(Address, Address), AppError> {
    let bad = |what: &str| AppError::InvalidState(format!("the payment's stored {what} is unreadable"));
    let token = payment.token_address.as_deref().and_then(|t| t.parse().ok()).ok_or_else(|| bad("token"))?;
    let owner = payment.recipient_address.as_deref().and_then(|t| t.parse().ok()).ok_or_else(|| bad("recipient"))?;
    Ok((token, owner))
}

/// What `GET /v1/refunds/{id}/typed-data` answers.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefundTypedData {
    pub refund_id: String,
    #[schema(value_type = String)]
    pub status: RefundStatus,
    pub chain_id: u64,
    pub gateway: String,
    pub token: String,
    /// The payment's recipient: the refund's source, whose allowance to the gateway pays it.
    pub owner: String,
    /// Decimal strings, in the token's minor units.
    pub amount: String,
    /// The part of `amount` the treasury pays back (the refund's share of the fee; "0" when none): the owner pays
    /// `amount` less this.
    pub fee_returned: String,
    pub allowance: String,
    pub balance: String,
    /// Until when (Unix seconds) the terms, the permit and the transaction below are usable; `submit` takes it back.
    pub deadline: u64,
    /// The refund's terms for the owner to sign (`eth_signTypedData_v4`, the gateway's domain): its authorization of
    /// this one refund. Post the signature to `POST /v1/refunds/{id}/submit` as `recipientSignature`.
    #[schema(value_type = Object)]
    pub refund_terms: serde_json::Value,
    /// When the allowance is short: the token's EIP-2612 permit for the owner to sign, raising the gateway's
    /// allowance by the refund's amount (post it as `permit`). Null when the allowance covers the refund, or the
    /// token has no permit.
    #[schema(value_type = Option<Object>)]
    pub permit: Option<serde_json::Value>,
    /// Or: the owner sends this transaction itself (paying its gas; its allowance must cover the refund).
    #[schema(value_type = Object)]
    pub transaction: serde_json::Value,
}

/// Signs fresh terms for an open CHAIN refund and offers the merchant's wallet what it can sign or send. The terms'
/// deadline is recorded before they are handed out.
pub async fn typed_data(ctx: &Context, merchant_id: &str, refund_id: &str) -> Result<RefundTypedData, AppError> {
    let (row, payment, chain, domain) = open_refund(ctx, merchant_id, refund_id).await?;
    let (token, owner) = token_and_owner(&payment)?;
    let deadline = settle_store::now_ms() as u64 / 1000 + TERMS_SECS;
    let row = extend(ctx, &row, deadline).await?;
    if row.status.is_final() {
        return Err(AppError::InvalidState(format!("the refund is {}", row.status)));
    }
    let (terms, server_signature) = signed_terms(&chain, &domain, &row, deadline)?;
    let typed_terms = terms.typed_data(&domain);
    let data = call_for(terms, server_signature, &[], None)?;
    let (allowance, balance) = funds(&chain, token, owner).await?;
    let (amount, fee) = amounts_of(&row)?;
    // What the owner pays: the refund less what the treasury gives back.
    let amount = amount - fee;
    // The permit needs the token's name (its domain) and the owner's nonce; a token without them has no permit.
    let (a, b): (Bytes, Bytes) = (nameCall {}.abi_encode().into(), noncesCall { owner }.abi_encode().into());
    let (name, nonce) = tokio::join!(chain.rpc.eth_call(None, token, &a), chain.rpc.eth_call(None, token, &b));
    let permit =
        match (name.ok().and_then(|o| nameCall::abi_decode_returns(&o).ok()), nonce.ok().and_then(|o| noncesCall::abi_decode_returns(&o).ok())) {
            (Some(name), Some(nonce)) if allowance < amount => {
                let p = Permit { owner, spender: chain.gateway, value: allowance.saturating_add(amount), nonce, deadline: U256::from(deadline) };
                Some(eip712::permit_typed_data(&eip712::token_domain(name, chain.chain_id, token), &p))
            }
            _ => None,
        };
    Ok(RefundTypedData {
        refund_id: row.refund_id.clone(),
        status: row.status,
        chain_id: chain.chain_id,
        gateway: chain.gateway.to_checksum(None),
        token: token.to_checksum(None),
        owner: owner.to_checksum(None),
        amount: row.amount.clone(),
        fee_returned: fee.to_string(),
        allowance: allowance.to_string(),
        balance: balance.to_string(),
        deadline,
        refund_terms: typed_terms,
        permit,
        transaction: serde_json::json!({"from": owner.to_checksum(None), "to": chain.gateway.to_checksum(None), "data": data, "gas": REFUND_GAS}),
    })
}

/// What `POST /v1/refunds/{id}/submit` takes: the terms' `deadline` (from typed-data), the recipient's signature of
/// them, and its permit when the allowance was short.
#[derive(Clone, Debug)]
pub struct SubmitInput {
    pub deadline: u64,
    pub recipient_signature: Vec<u8>,
    pub permit: Option<PermitInput>,
}

impl SubmitInput {
    /// Parses the recipient's 0x-hex 65-byte signature.
    pub fn parse(deadline: u64, recipient_signature: &str, permit: Option<PermitInput>) -> Result<Self, AppError> {
        Ok(Self { deadline, recipient_signature: signature_bytes("recipientSignature", recipient_signature)?, permit })
    }
}

/// Sends a REQUIRES_ACTION refund through the relayer with the recipient's signature of its terms (and its permit
/// when given): refused (400) when the signature is not the recipient's, the deadline is not one typed-data gave or
/// is too near, or the call would revert (`simulation_failed`); a PENDING refund is answered as it is.
pub async fn submit(ctx: &Context, merchant_id: &str, refund_id: &str, input: SubmitInput) -> Result<RefundView, AppError> {
    let (row, payment, chain, domain) = open_refund(ctx, merchant_id, refund_id).await?;
    if row.status == RefundStatus::Pending {
        return Ok(RefundView::from(&row));
    }
    // Only terms whose deadline Settle recorded are signed (a refund is never FAILED while terms are usable).
    let deadline = input.deadline;
    if ms(deadline) > row.next_check_at.unwrap_or(0) || deadline > settle_store::now_ms() as u64 / 1000 + TERMS_SECS + 60 {
        return Err(AppError::invalid("deadline", "deadline must be the one GET /v1/refunds/{id}/typed-data gave"));
    }
    if deadline <= settle_store::now_ms() as u64 / 1000 + 60 {
        return Err(AppError::invalid("deadline", "the terms' deadline has passed or is too near: get typed-data again and sign anew"));
    }
    let (terms, server_signature) = signed_terms(&chain, &domain, &row, deadline)?;
    let (token, owner) = token_and_owner(&payment)?;
    if eip712::recover(&terms.signing_hash(&domain), &input.recipient_signature) != Ok(owner) {
        return Err(AppError::InvalidSignature(format!("recipientSignature is not {owner}'s signature of the refund's terms")));
    }
    // The fee returned comes from the treasury: its shortfall is the operator's to fix, not the merchant's. The
    // refund says so (REQUIRES_ACTION `treasury_allowance_required`, with its event), and nothing is sent.
    if let Some(why) = treasury_shortfall(&chain, token, amounts_of(&row)?.1).await? {
        if row.failure_code.as_deref() != Some("treasury_allowance_required") {
            refunds::require_action(ctx, &row, "treasury_allowance_required", &format!("{why}; then submit the refund again")).await?;
        }
        return Err(AppError::InvalidState(format!("{why}; then submit again")));
    }
    // The contract takes v as 27 or 28; some wallets sign with 0 or 1.
    let recipient_signature = settle_chain::primitives::Signature::from_raw(&input.recipient_signature)
        .map_err(|_| AppError::InvalidSignature("recipientSignature must be 65 bytes (r, s, v)".into()))?
        .as_bytes()
        .to_vec();
    let permit = input.permit;
    let data = call_for(terms, server_signature, &recipient_signature, permit.as_ref())?;
    match chain.rpc.eth_call(Some(chain.relayer.address()), chain.gateway, &data).await {
        Ok(_) => {}
        Err(e) if is_revert(&e) => {
            let why = e.revert_data().map(|d| contracts::revert_reason(d)).unwrap_or_else(|| e.message());
            return Err(AppError::RelayRefused {
                code: "simulation_failed",
                param: permit.is_some().then_some("permit"),
                message: format!("the refund would revert on chain ({why}): raise the recipient's allowance or balance, or sign the permit again"),
            });
        }
        Err(_) => return Err(AppError::ChainUnavailable),
    }
    let row = crate::retrying(|| async {
        let txn = settle_store::begin(&ctx.db).await?;
        payments_store::find_locked(&txn, &row.merchant_id, &row.payment_id).await?;
        let now_row = store::find_any(&txn, &row.refund_id).await?.ok_or(AppError::NotFound("refund"))?;
        if now_row.status != RefundStatus::RequiresAction {
            return Ok(now_row);
        }
        let next = queue(&txn, &chain, &now_row, &data, deadline).await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(next)
    })
    .await?;
    ctx.relay_wake.notify_one();
    Ok(RefundView::from(&row))
}

/// What the recipient lacks for `row`, as a failure code and message; None when nothing is missing (or the node did
/// not say).
async fn shortfall(chain: &Chain, payment: &PaymentRow, row: &RefundRow) -> Option<(&'static str, String)> {
    let (token, owner) = token_and_owner(payment).ok()?;
    let (allowance, balance) = funds(chain, token, owner).await.ok()?;
    let (amount, fee) = amounts_of(row).ok()?;
    if let Some(why) = treasury_shortfall(chain, token, fee).await.ok()? {
        return Some(("treasury_allowance_required", format!("{why}; then submit the refund again")));
    }
    // The owner pays the refund less the fee returned.
    let amount = amount - fee;
    let next = "GET /v1/refunds/{id}/typed-data offers a permit to sign, or the transaction to send".replace("{id}", &row.refund_id);
    if balance < amount {
        Some(("insufficient_balance", format!("the recipient {owner} holds {balance} of the token; the refund needs {amount}")))
    } else if allowance < amount {
        Some((
            "insufficient_allowance",
            format!("the recipient {owner} allows the gateway {allowance}; the refund needs {amount}: approve the gateway, or {next}"),
        ))
    } else {
        None
    }
}

/// Open refunds the watcher looks at in one step, at most; the next step goes on after the last one (a cursor that
/// wraps around), so every open refund is looked at in turn however many there are.
const FOLLOW_PAGE: u64 = 100;

/// Leaves an open refund to a person (`flagReason`): the watcher no longer looks at it.
async fn hand_over(ctx: &Context, row: &RefundRow, why: &str) -> Result<(), AppError> {
    tracing::error!(refund = %row.refund_id, "{why}");
    store::update(&ctx.db, row, Changes { flag_reason: Some(why.to_owned()), ..Default::default() }, settle_store::now_ms()).await?;
    Ok(())
}

/// The watcher's look at a page of the open CHAIN refunds of `chain` (those after `cursor`, which moves on), at its
/// newest confirmed block (`confirmed`, whose timestamp is `at`, Unix seconds); returns how many changed.
pub(super) async fn follow(ctx: &Context, chain: &Chain, confirmed: u64, at: i64, cursor: &std::sync::atomic::AtomicI64) -> Result<usize, AppError> {
    use std::sync::atomic::Ordering;
    let mut n = 0;
    let page = store::open_on_chain(&ctx.db, chain.chain_id as i64, cursor.load(Ordering::Relaxed), FOLLOW_PAGE).await?;
    cursor.store(if (page.len() as u64) < FOLLOW_PAGE { 0 } else { page.last().map_or(0, |r| r.id) }, Ordering::Relaxed);
    for row in page {
        let Some(payment) = payments_store::find_any(&ctx.db, &row.payment_id).await? else { continue };
        let Some(key) = key_of(&row.refund_id) else { continue };
        // Asked of the gateway the payment was made on (one the chain replaced is still asked); a gateway the chain
        // no longer lists decides nothing, and the refund waits until it is listed again.
        let Some(chain) = &chain.for_payment_or_skip(&payment).await else { continue };
        let out = match chain.rpc.eth_call_at(None, chain.gateway, &getRefundCall { refundId: key }.abi_encode().into(), Some(confirmed)).await {
            Ok(out) => out,
            // One refund's trouble never holds up the others or the watcher's step.
            Err(e) => {
                tracing::warn!(chain = chain.chain_id, refund = %row.refund_id, error = %e, "an open refund could not be checked; next step");
                continue;
            }
        };
        // An answer that does not decode (no code at the gateway on a lagging backend) decides nothing.
        let Ok(made) = getRefundCall::abi_decode_returns(&out) else {
            tracing::warn!(chain = chain.chain_id, refund = %row.refund_id, "the gateway's getRefund answer is unreadable; next step");
            continue;
        };
        if !made.blockNumber.is_zero() {
            // The gateway refunds an id only with terms Settle signed for it (its payment, its amount).
            if row.payment_id.parse::<B256>().ok() != Some(made.paymentId) || made.amount.to_string() != row.amount {
                metrics::counter!("settle_chain_mismatches_total").increment(1);
                hand_over(ctx, &row, "the gateway shows this refund id made with other terms: not applied").await?;
                continue;
            }
            if refunds::finish(ctx, &row, RefundStatus::Succeeded, Changes::default()).await?.is_some() {
                metrics::counter!("settle_chain_refunds_total", "chain" => chain.chain_id.to_string(), "status" => "SUCCEEDED").increment(1);
                n += 1;
            }
            continue;
        }
        if row.next_check_at.unwrap_or(0) < at * 1000 {
            // Only the gateway the payment was made on decides that nothing was refunded (after a switch of the chain's
            // gateway, the new one would read "not made" of a refund the old one made).
            let paid_here = match chain
                .rpc
                .eth_call_at(
                    None,
                    chain.gateway,
                    &getPaymentCall { paymentId: made_payment_id(&row.payment_id)? }.abi_encode().into(),
                    Some(confirmed),
                )
                .await
            {
                Ok(out) => getPaymentCall::abi_decode_returns(&out).ok().map(|p| !p.payer.is_zero()),
                Err(_) => None,
            };
            match paid_here {
                Some(true) => {}
                // A payment paid after it ended whose payment a reorg took away: nothing to refund any more.
                Some(false) if refunds::paid_late_maybe(&payment) => {}
                Some(false) => {
                    hand_over(ctx, &row, "the refund's payment was made on another gateway of this chain (since switched): settle it by hand")
                        .await?;
                    continue;
                }
                None => continue,
            }
            let changes = Changes {
                failure_code: Some("expired".into()),
                failure_message: Some(
                    "the refund's signed terms passed their deadline unused (at a confirmed block): nothing was refunded; refund again".into(),
                ),
                ..Default::default()
            };
            if refunds::finish(ctx, &row, RefundStatus::Failed, changes).await?.is_some() {
                metrics::counter!("settle_chain_refunds_total", "chain" => chain.chain_id.to_string(), "status" => "FAILED").increment(1);
                n += 1;
            }
            continue;
        }
        if row.status != RefundStatus::Pending {
            continue;
        }
        let relay = match &row.gateway_refund_key {
            Some(k) => relay::find_request(&ctx.db, k).await?,
            None => None,
        };
        let Some(rr) = relay.filter(|r| r.status == relay::FAILED || r.status == relay::CANCELLED) else { continue };
        // Its relay failed because the refund was made by another transaction (the merchant's own, or a copy of the
        // calldata), not yet confirmed: it stays PENDING and succeeds at its confirmations.
        match chain.rpc.eth_call(None, chain.gateway, &getRefundCall { refundId: key }.abi_encode().into()).await {
            Ok(out) if getRefundCall::abi_decode_returns(&out).is_ok_and(|m| m.blockNumber.is_zero()) => {}
            _ => continue,
        }
        let (code, message) = match shortfall(chain, &payment, &row).await {
            Some(s) => s,
            None => (
                "relay_failed",
                format!("the relayer could not carry the refund out ({}); submit it again", rr.last_error.as_deref().unwrap_or("no reason given")),
            ),
        };
        if refunds::require_action(ctx, &row, code, &message).await?.is_some() {
            n += 1;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fee_is_returned_only_when_the_merchant_asks_and_the_gateway_can() {
        assert_eq!(fee_to_return(true, Some(250), "3"), Some(250));
        assert_eq!(fee_to_return(true, Some(250), "4"), None, "a version Settle does not know");
        assert_eq!(fee_to_return(false, Some(250), "3"), None, "off by default");
        assert_eq!(fee_to_return(true, Some(250), "2"), None, "version 2 cannot return it");
        assert_eq!(fee_to_return(true, Some(250), "1"), None);
        assert_eq!(fee_to_return(true, Some(0), "3"), None, "no fee, nothing to return");
        assert_eq!(fee_to_return(true, None, "3"), None);
    }
}
