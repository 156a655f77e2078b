//! Cancelling a CHAIN payment so that it holds on chain: its signed terms stay payable until their deadline, so a
//! cancel is only real once the gateway refuses them. Settle signs a `Cancellation(paymentId)` with the chain's
//! signer key and its relayer sends `cancel(paymentId, signature)` to the gateway; meanwhile the payment is
//! CANCELLING. The watcher makes it CANCELLED once the gateway shows it cancelled at a confirmed block, or COMPLETED
//! when the payer's payment was mined first (the gateway then refuses the cancellation): never CANCELLED with the
//! money moved.

use settle_chain::{
    B256, Bytes,
    alloy_sol::{SolCall, SolStruct},
    contracts::{Cancellation, cancelCall, cancelledCall, getPaymentCall},
    eip712,
    rpc::is_revert,
};
use settle_store::{StoreError, payments::PaymentRow};

use super::Chain;
use crate::{
    AppError, Context,
    idempotency::{Claim, Outcome, Reply},
    ledger::{Fact, after_transition, transition_in},
};

/// Gas a cancellation may use.
pub const CANCEL_GAS: u64 = 80_000;

/// The gateway call that cancels `payment_id`, signed by the chain's signer.
pub fn cancel_call(chain: &Chain, domain: &settle_chain::alloy_sol::Eip712Domain, payment_id: B256) -> Result<Bytes, AppError> {
    let signature = eip712::sign_struct(&chain.signer, domain, &Cancellation { paymentId: payment_id })
        .map_err(|e| AppError::internal(std::io::Error::other(format!("signing a cancellation: {e}"))))?;
    Ok(cancelCall { paymentId: payment_id, signature: Bytes::from(signature.as_bytes().to_vec()) }.abi_encode().into())
}

/// Whether the payment's terms were signed by this chain's signer for its gateway (the ones `cancel` refuses).
pub(crate) fn signed_here(chain: &Chain, domain: &settle_chain::alloy_sol::Eip712Domain, row: &PaymentRow) -> bool {
    terms_signer(domain, row) == Some(chain.signer.address())
}

/// Who signed the payment's stored terms for the gateway of `domain` (None: no terms, or an unreadable signature).
pub(crate) fn terms_signer(domain: &settle_chain::alloy_sol::Eip712Domain, row: &PaymentRow) -> Option<settle_chain::Address> {
    let (Some(token), Some(recipient), Some(fee), Some(deadline), Some(sig)) =
        (&row.token_address, &row.recipient_address, row.fee_bps, row.deadline, &row.server_signature)
    else {
        return None;
    };
    let terms = super::terms::terms_of(&row.payment_id, token, &row.amount, recipient, fee, deadline).ok()?;
    let sig = hex::decode(sig.trim_start_matches("0x")).ok()?;
    eip712::recover(&terms.eip712_signing_hash(domain), &sig).ok()
}

/// Starts the cancel of a PENDING CHAIN payment: refused (409) when the gateway already shows it paid; otherwise the
/// payment becomes CANCELLING and the cancellation is queued for the relayer, in one transaction (with the answer
/// recorded for the Idempotency-Key).
pub async fn request(ctx: &Context, chain: &Chain, row: &PaymentRow, claim: &Claim) -> Result<Reply, AppError> {
    let pid: B256 = row.payment_id.parse().map_err(|_| AppError::internal(std::io::Error::other("a stored payment id is not 32 bytes")))?;
    // The gateway the payment was made on, which may be one the chain has since replaced.
    let chain = &chain.for_payment(row).await?;
    // Terms signed for another gateway (one since redeployed) or by another signer stay payable there: a
    // cancellation here would not hold, so none is pretended.
    let domain = chain.gateway_domain().await?;
    if !signed_here(chain, &domain, row) {
        return Err(AppError::InvalidState(
            "the payment's terms were signed for another gateway or signer of this chain: they stay payable there until their deadline, so it cannot be cancelled"
                .into(),
        ));
    }
    // Two questions to the gateway at once, half a second at most: a node that does not answer in time decides
    // nothing (a cancel is never held up by a slow node; the gateway itself refuses a cancellation of a payment made,
    // and the payment then completes).
    // - Paid already (mined, not yet seen by the watcher): the payment completes; cancelling it is refused.
    // - A gateway deployed before on-chain cancels has no `cancel`: refused rather than CANCELLING for good.
    let (paid_call, probe): (Bytes, Bytes) =
        (getPaymentCall { paymentId: pid }.abi_encode().into(), cancelledCall { paymentId: pid }.abi_encode().into());
    let asked = tokio::time::timeout(std::time::Duration::from_millis(500), async {
        tokio::join!(chain.rpc.eth_call(None, chain.gateway, &paid_call), chain.rpc.eth_call(None, chain.gateway, &probe))
    })
    .await;
    if let Ok((paid, cancellable)) = asked {
        if let Ok(out) = paid
            && getPaymentCall::abi_decode_returns(&out).is_ok_and(|p| !p.payer.is_zero())
        {
            return Err(AppError::InvalidState(
                "the payment was paid on chain; it completes at its confirmations and can no longer be cancelled".into(),
            ));
        }
        if let Err(e) = cancellable
            && is_revert(&e)
        {
            return Err(AppError::InvalidState(
                "this chain's gateway predates on-chain cancels: redeploy it (settle chain deploy) to cancel CHAIN payments".into(),
            ));
        }
    }
    let now = settle_store::now_ms();
    // Terms past their deadline can no longer be paid: no transaction is needed (the watcher makes the payment
    // CANCELLED once a confirmed block is past the deadline and the gateway shows it unpaid).
    let expired = row.deadline.is_some_and(|d| d * 1000 < now);
    let txn = settle_store::begin(&ctx.db).await?;
    let event = if expired {
        serde_json::json!({"message": "the terms' deadline has passed: cancelled once a confirmed block shows them unpaid"})
    } else {
        let data = cancel_call(chain, &domain, pid)?;
        let request = serde_json::json!({"cancel": format!("0x{}", hex::encode(&data)), "gas": CANCEL_GAS});
        let relay_request_id = format!("rr_{}", uuid::Uuid::now_v7().simple());
        settle_store::relay::insert_request(
            &txn,
            &relay_request_id,
            &row.payment_id,
            chain.chain_id as i64,
            &chain.relayer.address().to_checksum(None),
            &chain.gateway.to_checksum(None),
            &request.to_string(),
            now,
        )
        .await?;
        serde_json::json!({"relayRequestId": relay_request_id, "message": "the cancellation is on its way to the contract"})
    };
    let Some((next, Some(reply))) =
        transition_in(&txn, row, Fact::CancelRequested, Default::default(), Some(event), Some((claim, Outcome::Done))).await?
    else {
        return Err(AppError::InvalidState("the payment changed concurrently and can no longer be cancelled".into()));
    };
    txn.commit().await.map_err(StoreError::from)?;
    claim.committed();
    after_transition(ctx, &next).await;
    ctx.relay_wake.notify_one();
    metrics::counter!("settle_chain_cancels_requested_total", "chain" => chain.chain_id.to_string()).increment(1);
    Ok(reply)
}
