//! The gasless checkout: what a payer signs (`typed-data`), and the verification of a signed forward request
//! before any gas is spent (`gasless`).
//!
//! A payer holding no ETH signs, in the token's domain, an EIP-2612 permit for the gateway, then, in the
//! forwarder's domain, a ForwardRequest whose data is `payWithPermit(terms, serverSignature, permit...)` (or
//! `pay(terms, serverSignature)` when the payer already approved the gateway). Settle checks everything —
//! the signature (high-s refused), the signer, the forwarder nonce, the deadline, the target, the value, that
//! the data pays exactly this payment's signed terms, the gas — and simulates the call, then records a relay
//! request and moves the payment to PROCESSING; the relayer sends it.

use serde::Serialize;
use settle_chain::{
    Address, Bytes, U256,
    alloy_sol::{SolCall, SolStruct},
    contracts::{self, ForwardRequest, ForwardRequestData, PaymentTerms, Permit},
    eip712,
    primitives::aliases::U48,
};
use settle_domain::{PaymentId, PaymentStatus, Rail};
use settle_store::payments::{self as store, Changes, PaymentRow};

use super::{Chain, terms::terms_of};
use crate::{
    AppError, Context,
    idempotency::{self, Claim, IdemKey, Outcome, Reply},
    ledger::{Fact, after_transition, transition_in, views::PaymentView},
};

/// The least gas a forwarded payment may ask for.
const MIN_GAS: u64 = 60_000;

/// A forward request as a wallet signed it (integers as decimal strings, data as 0x hex).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForwardRequestView {
    pub from: String,
    pub to: String,
    pub value: String,
    pub gas: String,
    pub nonce: String,
    pub deadline: String,
    pub data: String,
}

/// EIP-712 typed data as `eth_signTypedData_v4` and viem's `signTypedData` take it: what the document says of the
/// JSON settle-chain builds (`eip712::forward_request_typed_data`, `eip712::permit_typed_data`).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Eip712TypedData {
    /// `EIP712Domain` and the primary type, each the list of its fields.
    pub types: std::collections::BTreeMap<String, Vec<Eip712Field>>,
    /// `ForwardRequest` or `Permit`.
    #[schema(example = "ForwardRequest")]
    pub primary_type: String,
    pub domain: Eip712Domain,
    /// The values signed: addresses and bytes as 0x hex, integers as decimal strings.
    pub message: std::collections::BTreeMap<String, String>,
}

/// A field of an EIP-712 type.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Eip712Field {
    #[schema(example = "from")]
    pub name: String,
    /// Its Solidity type.
    #[serde(rename = "type")]
    #[schema(example = "address")]
    pub kind: String,
}

/// An EIP-712 domain.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Eip712Domain {
    pub name: Option<String>,
    pub version: Option<String>,
    pub chain_id: Option<u64>,
    pub verifying_contract: Option<String>,
}

/// What `GET /v1/payments/{id}/typed-data` answers.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TypedData {
    /// The ForwardRequest, as `eth_signTypedData_v4` takes it.
    #[schema(value_type = Eip712TypedData)]
    pub forward_request: serde_json::Value,
    /// The same request, as `POST /gasless` takes it back with the signature.
    pub request: ForwardRequestView,
    /// The EIP-2612 permit to sign first (null when the token has none, or when a permit signature was given).
    #[schema(value_type = Option<Eip712TypedData>)]
    pub permit: Option<serde_json::Value>,
}

/// A permit the payer signed, given back to build the forward request that uses it.
#[derive(Clone, Debug)]
pub struct SignedPermit {
    pub signature: Vec<u8>,
    pub deadline: u64,
}

fn now_secs() -> u64 {
    (settle_store::now_ms() / 1000) as u64
}

fn chain_err(e: settle_chain::rpc::RpcError) -> AppError {
    tracing::warn!(error = %e, "chain RPC failed");
    AppError::ChainUnavailable
}

/// The payment, its chain and its terms, for a checkout step; only a PENDING CHAIN payment can be paid.
async fn payable(ctx: &Context, merchant_id: &str, payment_id: &str) -> Result<(PaymentRow, Chain, PaymentTerms, Bytes), AppError> {
    let id = PaymentId::parse("paymentId", payment_id)?;
    let row = store::find(&ctx.db, merchant_id, id.as_str()).await?.ok_or(AppError::NotFound("payment"))?;
    if row.rail != Rail::Chain {
        return Err(AppError::InvalidState("this is not a CHAIN payment".into()));
    }
    if row.status != PaymentStatus::Pending {
        return Err(AppError::InvalidState(format!("the payment is {}; only a PENDING payment can be paid", row.status)));
    }
    // A chain declared of the other mode since the payment was made relays nothing for it.
    let chain = ctx
        .chains
        .get(row.chain_id.unwrap_or_default())
        .filter(|c| c.test_network != settle_domain::mode::is_live(&row.merchant_id))
        .cloned()
        .ok_or(AppError::ChainNotConfigured(row.chain_id.unwrap_or_default()))?
        .for_payment(&row)
        .await?;
    let (Some(token), Some(recipient), Some(fee), Some(deadline), Some(sig)) =
        (&row.token_address, &row.recipient_address, row.fee_bps, row.deadline, &row.server_signature)
    else {
        return Err(AppError::InvalidState("the payment has no signed terms".into()));
    };
    let terms = terms_of(&row.payment_id, token, &row.amount, recipient, fee, deadline)?;
    if now_secs() >= terms.deadline {
        return Err(AppError::RelayRefused { code: "request_expired", param: None, message: "the payment's terms have expired".into() });
    }
    let sig = hex::decode(sig.trim_start_matches("0x")).map_err(|_| AppError::InvalidState("the stored signature is unreadable".into()))?;
    Ok((row, chain, terms, sig.into()))
}

async fn call_u256(chain: &Chain, to: Address, data: Vec<u8>) -> Result<U256, AppError> {
    let out = chain.rpc.eth_call(None, to, &data.into()).await.map_err(chain_err)?;
    if out.len() < 32 {
        return Err(AppError::ChainUnavailable);
    }
    Ok(U256::from_be_slice(&out[..32]))
}

/// The forwarder's current nonce of `who`.
async fn forwarder_nonce(chain: &Chain, who: Address) -> Result<U256, AppError> {
    call_u256(chain, chain.forwarder, contracts::noncesCall { owner: who }.abi_encode()).await
}

fn split_signature(sig: &[u8]) -> Result<(u8, [u8; 32], [u8; 32]), AppError> {
    if sig.len() != 65 {
        return Err(AppError::invalid("permitSignature", "permitSignature must be 65 bytes"));
    }
    let mut r = [0u8; 32];
    let mut s = [0u8; 32];
    r.copy_from_slice(&sig[..32]);
    s.copy_from_slice(&sig[32..64]);
    let v = if sig[64] < 27 { sig[64] + 27 } else { sig[64] };
    Ok((v, r, s))
}

/// The call a payment's forward request must make: `pay`, or `payWithPermit` with the given permit.
fn pay_data(terms: &PaymentTerms, sig: &Bytes, permit: Option<&SignedPermit>) -> Result<Bytes, AppError> {
    Ok(match permit {
        None => contracts::payCall { terms: terms.clone(), serverSignature: sig.clone() }.abi_encode().into(),
        Some(p) => {
            let (v, r, s) = split_signature(&p.signature)?;
            contracts::payWithPermitCall {
                terms: terms.clone(),
                serverSignature: sig.clone(),
                permitDeadline: U256::from(p.deadline),
                v,
                r: r.into(),
                s: s.into(),
            }
            .abi_encode()
            .into()
        }
    })
}

fn view(r: &ForwardRequest) -> ForwardRequestView {
    ForwardRequestView {
        from: r.from.to_checksum(None),
        to: r.to.to_checksum(None),
        value: r.value.to_string(),
        gas: r.gas.to_string(),
        nonce: r.nonce.to_string(),
        deadline: r.deadline.to_string(),
        data: r.data.to_string(),
    }
}

/// What `payer` signs to pay this payment without gas.
pub async fn typed_data(
    ctx: &Context,
    merchant_id: &str,
    payment_id: &str,
    payer: &str,
    permit: Option<SignedPermit>,
) -> Result<TypedData, AppError> {
    let payer: Address = payer.parse().map_err(|_| AppError::invalid("payer", "payer must be an address (0x + 40 hex)"))?;
    let (_, chain, terms, sig) = payable(ctx, merchant_id, payment_id).await?;
    let data = pay_data(&terms, &sig, permit.as_ref())?;
    let nonce = forwarder_nonce(&chain, payer).await?;
    let deadline = terms.deadline.min(now_secs() + 900);
    let req = ForwardRequest {
        from: payer,
        to: chain.gateway,
        value: U256::ZERO,
        gas: U256::from(chain.max_gas.min(300_000)),
        nonce,
        deadline: U48::from(deadline),
        data,
    };
    let forward_request = eip712::forward_request_typed_data(&eip712::forwarder_domain(chain.chain_id, chain.forwarder), &req);
    let permit = match permit {
        Some(_) => None,
        None => {
            // A token with EIP-2612 answers name() and nonces(owner).
            let name = chain
                .rpc
                .eth_call(None, terms.token, &contracts::nameCall {}.abi_encode().into())
                .await
                .ok()
                .and_then(|o| contracts::nameCall::abi_decode_returns(&o).ok());
            let token_nonce = call_u256(&chain, terms.token, contracts::noncesCall { owner: payer }.abi_encode()).await.ok();
            match (name, token_nonce) {
                (Some(name), Some(n)) => {
                    let p = Permit { owner: payer, spender: chain.gateway, value: terms.amount, nonce: n, deadline: U256::from(terms.deadline) };
                    Some(eip712::permit_typed_data(&eip712::token_domain(name, chain.chain_id, terms.token), &p))
                }
                _ => None,
            }
        }
    };
    Ok(TypedData { forward_request, request: view(&req), permit })
}

/// A signed forward request, as `POST /v1/payments/{id}/gasless` takes it.
#[derive(Clone, Debug, utoipa::ToSchema, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GaslessInput {
    pub request: ForwardRequestView,
    /// The payer's EIP-712 signature over the request (0x + 130 hex).
    pub signature: String,
}

/// What a verified relay request answers.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RelayAccepted {
    pub relay_request_id: String,
    pub payment_id: String,
    #[schema(value_type = String)]
    pub status: PaymentStatus,
}

fn refused(code: &'static str, param: Option<&'static str>, message: impl Into<String>) -> AppError {
    AppError::RelayRefused { code, param, message: message.into() }
}

fn parse_u256(field: &'static str, v: &str) -> Result<U256, AppError> {
    U256::from_str_radix(v, 10).map_err(|_| AppError::invalid(field, format!("{field} must be a decimal integer")))
}

/// Verifies a signed forward request for this payment, simulates it, records the relay request and moves the
/// payment to PROCESSING: a 202 whose body is a [`RelayAccepted`]. Nothing is recorded, and no gas spent, when
/// anything is wrong. With an Idempotency-Key the answer is recorded in the same transaction, so a retry answers
/// the first 202 (the same relay request) whatever failed after the commit.
pub async fn gasless(ctx: &Context, merchant_id: &str, payment_id: &str, input: GaslessInput, key: Option<IdemKey>) -> Result<Reply, AppError> {
    idempotency::once(ctx, merchant_id, key, |claim| async move { submit(ctx, merchant_id, payment_id, input, &claim).await }).await
}

async fn submit(ctx: &Context, merchant_id: &str, payment_id: &str, input: GaslessInput, claim: &Claim) -> Result<Reply, AppError> {
    let (row, chain, terms, sig) = payable(ctx, merchant_id, payment_id).await?;
    let r = &input.request;
    let from: Address = r.from.parse().map_err(|_| AppError::invalid("request.from", "not an address"))?;
    let to: Address = r.to.parse().map_err(|_| AppError::invalid("request.to", "not an address"))?;
    let value = parse_u256("request.value", &r.value)?;
    let gas = parse_u256("request.gas", &r.gas)?;
    let nonce = parse_u256("request.nonce", &r.nonce)?;
    let deadline = parse_u256("request.deadline", &r.deadline)?;
    let data: Bytes = r.data.parse().map_err(|_| AppError::invalid("request.data", "request.data must be 0x hex"))?;
    let signature = hex::decode(input.signature.trim_start_matches("0x")).map_err(|_| AppError::invalid("signature", "signature must be 0x hex"))?;
    if deadline > U256::from(u64::MAX >> 16) {
        return Err(AppError::invalid("request.deadline", "request.deadline must fit in 48 bits"));
    }
    let req = ForwardRequest { from, to, value, gas, nonce, deadline: U48::from(deadline.to::<u64>()), data: data.clone() };
    // The signature first: nothing else is worth checking for a request the payer did not sign.
    let hash = req.eip712_signing_hash(&eip712::forwarder_domain(chain.chain_id, chain.forwarder));
    match eip712::recover(&hash, &signature) {
        Ok(signer) if signer == from => {}
        Ok(_) => return Err(AppError::InvalidSignature("the signature is not request.from's".into())),
        Err(e) => return Err(AppError::InvalidSignature(e.to_string())),
    }
    if to != chain.gateway {
        return Err(refused("terms_mismatch", Some("request.to"), "request.to must be the gateway"));
    }
    if !value.is_zero() {
        return Err(refused("terms_mismatch", Some("request.value"), "request.value must be 0"));
    }
    let gas_u = gas.saturating_to::<u64>();
    if gas_u < MIN_GAS || gas_u > chain.max_gas {
        return Err(refused("terms_mismatch", Some("request.gas"), format!("request.gas must be {MIN_GAS} to {}", chain.max_gas)));
    }
    let dl = deadline.to::<u64>();
    // The relayer sends a request only while its deadline is at least this far ahead: nearer, it is refused here.
    if dl <= now_secs() + super::relayer::DEADLINE_MARGIN_SECS {
        return Err(refused(
            "request_expired",
            Some("request.deadline"),
            format!("the request's deadline has passed or is within {} s: too near to relay it", super::relayer::DEADLINE_MARGIN_SECS),
        ));
    }
    if dl > terms.deadline {
        return Err(refused("terms_mismatch", Some("request.deadline"), "the request outlives the payment's terms"));
    }
    // The data must pay exactly this payment's signed terms.
    let pays_terms = match contracts::payCall::abi_decode(&data) {
        Ok(c) => c.terms == terms && c.serverSignature == sig,
        Err(_) => match contracts::payWithPermitCall::abi_decode(&data) {
            Ok(c) => c.terms == terms && c.serverSignature == sig,
            Err(_) => false,
        },
    };
    if !pays_terms {
        return Err(refused("terms_mismatch", Some("request.data"), "request.data must be pay or payWithPermit of this payment's signed terms"));
    }
    let current = forwarder_nonce(&chain, from).await?;
    if current != nonce {
        return Err(refused("terms_mismatch", Some("request.nonce"), format!("request.nonce must be the forwarder's current nonce, {current}")));
    }
    // Simulate before spending gas: the forwarder's execute, and the inner call (for a readable reason).
    let exec = contracts::executeCall {
        request: ForwardRequestData { from, to, value, gas, deadline: req.deadline, data: data.clone(), signature: signature.clone().into() },
    }
    .abi_encode();
    if let Err(e) = chain.rpc.eth_call(Some(chain.relayer.address()), chain.forwarder, &exec.clone().into()).await {
        let Some(revert) = e.revert_data().cloned() else { return Err(chain_err(e)) };
        let mut inner = data.to_vec();
        inner.extend_from_slice(from.as_slice());
        let reason = match chain.rpc.eth_call(Some(chain.forwarder), chain.gateway, &inner.into()).await {
            Err(e2) => e2.revert_data().map(|d| contracts::revert_reason(d)).unwrap_or_else(|| contracts::revert_reason(&revert)),
            Ok(_) => contracts::revert_reason(&revert),
        };
        return Err(refused("simulation_failed", None, format!("the payment would revert: {reason}")));
    }
    let relay_request_id = format!("rr_{}", uuid::Uuid::now_v7().simple());
    let request = serde_json::json!({"request": r, "signature": input.signature, "execute": format!("0x{}", hex::encode(&exec)), "gas": gas_u});
    // The relay request and the payment's move to PROCESSING commit together: the relayer never sees a request
    // whose payment is not PROCESSING yet, and a payment is never PROCESSING without its request.
    let now = settle_store::now_ms();
    let txn = settle_store::begin(&ctx.db).await?;
    settle_store::relay::insert_request(
        &txn,
        &relay_request_id,
        &row.payment_id,
        chain.chain_id as i64,
        &chain.relayer.address().to_checksum(None),
        &chain.forwarder.to_checksum(None),
        &request.to_string(),
        now,
    )
    .await?;
    let data = serde_json::json!({"relayRequestId": relay_request_id, "payer": from.to_checksum(None)});
    let Some((next, _)) = transition_in(&txn, &row, Fact::Submitted, Changes::default(), Some(data), None).await? else {
        return Err(AppError::InvalidState("the payment changed concurrently".into()));
    };
    let accepted = RelayAccepted { relay_request_id, payment_id: row.payment_id, status: PaymentStatus::Processing };
    let reply = Reply { outcome: Outcome::Accepted, body: serde_json::to_string(&accepted).map_err(AppError::internal)?, replayed: false };
    claim.complete_in(&txn, &reply).await?;
    txn.commit().await.map_err(settle_store::StoreError::from)?;
    claim.committed();
    after_transition(ctx, &next).await;
    ctx.relay_wake.notify_one();
    Ok(reply)
}

/// The merchant of a payment whose checkout client secret is `secret` (the secret opens that one payment).
pub async fn authorize_secret(ctx: &Context, payment_id: &str, secret: &str) -> Result<String, AppError> {
    let id = PaymentId::parse("paymentId", payment_id)?;
    let row = store::find_any(&ctx.db, id.as_str()).await?.ok_or(AppError::Unauthenticated)?;
    let want = row.client_secret_hash.ok_or(AppError::Unauthenticated)?;
    let got = super::terms::secret_hash(secret);
    let same = want.len() == got.len() && want.bytes().zip(got.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
    if same { Ok(row.merchant_id) } else { Err(AppError::Unauthenticated) }
}

/// How the wait for a relay ended.
pub enum Relayed {
    /// COMPLETED within the wait.
    Done,
    /// Still going when the wait ended (the relay goes on; the payment shows when it completes).
    StillGoing,
}

/// What a relay that was waited for answers (`POST /v1/payments/{id}/relay`): the relay request and the payment.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RelayView {
    pub relay_request_id: String,
    pub payment: PaymentView,
}

/// Waits (up to `wait`) until the payment of the relay request `accepted` (a [`gasless`] reply's body) is
/// COMPLETED. A relay whose transaction reverted or failed (its request FAILED or CANCELLED, the payment PENDING
/// again) is `relay_reverted`, also when another relay paid the payment since; a payment that ended otherwise
/// (EXPIRED, CANCELLED) is `invalid_state` at once, not a wait that ends "still on its way".
pub async fn wait_for_relay(ctx: &Context, merchant_id: &str, accepted: &Reply, wait: std::time::Duration) -> Result<(Relayed, RelayView), AppError> {
    let body: serde_json::Value = serde_json::from_str(&accepted.body).map_err(AppError::internal)?;
    let (Some(relay_request_id), Some(payment_id)) = (body["relayRequestId"].as_str(), body["paymentId"].as_str()) else {
        return Err(AppError::internal(std::io::Error::other("a recorded relay answer lacks its ids")));
    };
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let row = store::find(&ctx.db, merchant_id, payment_id).await?.ok_or(AppError::NotFound("payment"))?;
        let relay = settle_store::relay::find_request(&ctx.db, relay_request_id).await?.ok_or(AppError::NotFound("relay request"))?;
        let view = || RelayView { relay_request_id: relay_request_id.to_owned(), payment: PaymentView::from(&row) };
        let reverted = [settle_store::relay::FAILED, settle_store::relay::CANCELLED].contains(&relay.status.as_str());
        if reverted || row.status == PaymentStatus::Pending {
            return Err(AppError::RelayRefused {
                code: "relay_reverted",
                param: None,
                message: format!("relay {relay_request_id} did not pay: its transaction reverted or was given up; the payment is {}", row.status),
            });
        }
        if row.status == PaymentStatus::Completed {
            return Ok((Relayed::Done, view()));
        }
        if row.status.is_terminal() {
            return Err(AppError::InvalidState(format!("the payment is {}; relay {relay_request_id} did not pay it", row.status)));
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok((Relayed::StillGoing, view()));
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
