//! EIP-712: the payment terms Settle signs, and the forward request and permit a payer signs, with the exact
//! typed-data JSON that wallets' `eth_signTypedData_v4` and viem's `signTypedData` take.

use alloy::{
    primitives::{Address, B256, Bytes, Signature, U256},
    signers::{SignerSync, local::PrivateKeySigner},
    sol_types::{Eip712Domain, SolCall, SolStruct},
};
use serde_json::{Value, json};

use crate::contracts::{self, ForwardRequest, PaymentTerms, Permit, RefundTerms, v2};

/// The gateway's domain on `chain_id`, for the gateway's `version` (what its `eip712Domain()` says: "1" before
/// refunds, "2" with them).
pub fn gateway_domain(chain_id: u64, gateway: Address, version: &str) -> Eip712Domain {
    Eip712Domain::new(Some("SettleGateway".into()), Some(version.to_owned().into()), Some(U256::from(chain_id)), Some(gateway), None)
}

/// The version of the gateway this Settle deploys.
pub const GATEWAY_VERSION: &str = "3";

/// The forwarder's domain on `chain_id` (OpenZeppelin's ERC2771Forwarder named "SettleForwarder").
pub fn forwarder_domain(chain_id: u64, forwarder: Address) -> Eip712Domain {
    Eip712Domain::new(Some("SettleForwarder".into()), Some("1".into()), Some(U256::from(chain_id)), Some(forwarder), None)
}

/// An EIP-2612 token's domain (its name, version "1").
pub fn token_domain(name: String, chain_id: u64, token: Address) -> Eip712Domain {
    Eip712Domain::new(Some(name.into()), Some("1".into()), Some(U256::from(chain_id)), Some(token), None)
}

/// Settle's signature over `terms` (65 bytes, low-s).
pub fn sign_terms(signer: &PrivateKeySigner, domain: &Eip712Domain, terms: &PaymentTerms) -> Result<Bytes, String> {
    let sig = signer.sign_hash_sync(&terms.eip712_signing_hash(domain)).map_err(|e| format!("signing terms: {e}"))?;
    Ok(Bytes::from(sig.as_bytes().to_vec()))
}

/// Signs any typed struct (a payer's forward request or permit; tests and `settle chain sign`).
pub fn sign_struct<T: SolStruct>(signer: &PrivateKeySigner, domain: &Eip712Domain, value: &T) -> Result<Signature, String> {
    signer.sign_hash_sync(&value.eip712_signing_hash(domain)).map_err(|e| format!("signing typed data: {e}"))
}

/// Why a signature is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureRejected {
    #[error("the signature is not 65 bytes")]
    Malformed,
    #[error("the signature's s is in the upper half of the curve order (malleable)")]
    HighS,
    #[error("the signature does not recover to an address")]
    Unrecoverable,
}

/// The address that signed `hash` with the 65-byte `signature`; malformed and high-s signatures are refused.
pub fn recover(hash: &B256, signature: &[u8]) -> Result<Address, SignatureRejected> {
    if signature.len() != 65 {
        return Err(SignatureRejected::Malformed);
    }
    let sig = Signature::from_raw(signature).map_err(|_| SignatureRejected::Malformed)?;
    if sig.normalize_s().is_some() {
        return Err(SignatureRejected::HighS);
    }
    sig.recover_address_from_prehash(hash).map_err(|_| SignatureRejected::Unrecoverable)
}

fn domain_json(d: &Eip712Domain) -> Value {
    json!({
        "name": d.name.as_deref(),
        "version": d.version.as_deref(),
        "chainId": d.chain_id.map(|c| c.to::<u64>()),
        "verifyingContract": d.verifying_contract,
    })
}

fn domain_type() -> Value {
    json!([
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ])
}

/// The forward request as `eth_signTypedData_v4` takes it (integers as decimal strings).
pub fn forward_request_typed_data(domain: &Eip712Domain, r: &ForwardRequest) -> Value {
    json!({
        "types": {
            "EIP712Domain": domain_type(),
            "ForwardRequest": [
                {"name": "from", "type": "address"},
                {"name": "to", "type": "address"},
                {"name": "value", "type": "uint256"},
                {"name": "gas", "type": "uint256"},
                {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint48"},
                {"name": "data", "type": "bytes"},
            ],
        },
        "primaryType": "ForwardRequest",
        "domain": domain_json(domain),
        "message": {
            "from": r.from, "to": r.to, "value": r.value.to_string(), "gas": r.gas.to_string(),
            "nonce": r.nonce.to_string(), "deadline": r.deadline.to_string(), "data": r.data,
        },
    })
}

/// The permit as `eth_signTypedData_v4` takes it.
pub fn permit_typed_data(domain: &Eip712Domain, p: &Permit) -> Value {
    json!({
        "types": {
            "EIP712Domain": domain_type(),
            "Permit": [
                {"name": "owner", "type": "address"},
                {"name": "spender", "type": "address"},
                {"name": "value", "type": "uint256"},
                {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint256"},
            ],
        },
        "primaryType": "Permit",
        "domain": domain_json(domain),
        "message": {
            "owner": p.owner, "spender": p.spender, "value": p.value.to_string(), "nonce": p.nonce.to_string(),
            "deadline": p.deadline.to_string(),
        },
    })
}

/// A refund's terms at a gateway of either version: version 2's have no fee returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GatewayRefundTerms {
    V2(v2::RefundTerms),
    V3(RefundTerms),
}

impl GatewayRefundTerms {
    /// The terms for a gateway of `version` ("2" or "3"); a fee returned at a gateway of version 2 (which cannot
    /// return it), and a version Settle does not know, are refused.
    pub fn new(version: &str, refund_id: B256, payment_id: B256, amount: U256, fee_returned: U256, deadline: u64) -> Result<Self, String> {
        match version {
            "1" => Err("a gateway of version 1 has no refunds".into()),
            "2" if !fee_returned.is_zero() => Err("a gateway of version 2 cannot return the fee".into()),
            "2" => Ok(Self::V2(v2::RefundTerms { refundId: refund_id, paymentId: payment_id, amount, deadline })),
            "3" => Ok(Self::V3(RefundTerms { refundId: refund_id, paymentId: payment_id, amount, feeReturned: fee_returned, deadline })),
            v => Err(format!("gateway version {v:?} is not one this Settle knows (1, 2 or 3)")),
        }
    }

    /// The EIP-712 digest Settle and the recipient sign.
    pub fn signing_hash(&self, domain: &Eip712Domain) -> B256 {
        match self {
            Self::V2(t) => t.eip712_signing_hash(domain),
            Self::V3(t) => t.eip712_signing_hash(domain),
        }
    }

    /// `signer`'s signature of the terms (Settle's, or the recipient's in tests and `settle chain sign`).
    pub fn sign(&self, signer: &PrivateKeySigner, domain: &Eip712Domain) -> Result<Signature, String> {
        signer.sign_hash_sync(&self.signing_hash(domain)).map_err(|e| format!("signing refund terms: {e}"))
    }

    /// The terms as `eth_signTypedData_v4` takes them: what the payment's recipient signs (the gateway's domain) to
    /// authorize one refund.
    pub fn typed_data(&self, domain: &Eip712Domain) -> Value {
        let (t, fee) = match self {
            Self::V2(t) => ((t.refundId, t.paymentId, t.amount, t.deadline), None),
            Self::V3(t) => ((t.refundId, t.paymentId, t.amount, t.deadline), Some(t.feeReturned)),
        };
        let mut fields = vec![
            json!({"name": "refundId", "type": "bytes32"}),
            json!({"name": "paymentId", "type": "bytes32"}),
            json!({"name": "amount", "type": "uint256"}),
        ];
        let mut message = json!({"refundId": t.0, "paymentId": t.1, "amount": t.2.to_string(), "deadline": t.3.to_string()});
        if let Some(fee) = fee {
            fields.push(json!({"name": "feeReturned", "type": "uint256"}));
            message["feeReturned"] = json!(fee.to_string());
        }
        fields.push(json!({"name": "deadline", "type": "uint64"}));
        json!({
            "types": {"EIP712Domain": domain_type(), "RefundTerms": fields},
            "primaryType": "RefundTerms",
            "domain": domain_json(domain),
            "message": message,
        })
    }

    /// The gateway's `refund` with Settle's and the recipient's signatures (empty: the recipient sends it itself).
    pub fn refund_call(self, server_signature: Bytes, recipient_signature: Bytes) -> Bytes {
        match self {
            Self::V2(terms) => {
                v2::refundCall { terms, serverSignature: server_signature, recipientSignature: recipient_signature }.abi_encode().into()
            }
            Self::V3(terms) => {
                contracts::refundCall { terms, serverSignature: server_signature, recipientSignature: recipient_signature }.abi_encode().into()
            }
        }
    }

    /// The gateway's `refundWithPermit`: the recipient's EIP-2612 permit of `value` until `deadline`, then the refund.
    pub fn refund_with_permit_call(
        self,
        server_signature: Bytes,
        recipient_signature: Bytes,
        value: U256,
        deadline: U256,
        permit: &Signature,
    ) -> Bytes {
        let (v, r, s) = (27 + u8::from(permit.v()), permit.r().into(), permit.s().into());
        match self {
            Self::V2(terms) => v2::refundWithPermitCall {
                terms,
                serverSignature: server_signature,
                recipientSignature: recipient_signature,
                permitValue: value,
                permitDeadline: deadline,
                v,
                r,
                s,
            }
            .abi_encode()
            .into(),
            Self::V3(terms) => contracts::refundWithPermitCall {
                terms,
                serverSignature: server_signature,
                recipientSignature: recipient_signature,
                permitValue: value,
                permitDeadline: deadline,
                v,
                r,
                s,
            }
            .abi_encode()
            .into(),
        }
    }
}

/// Signs refund terms from their `eth_signTypedData_v4` JSON (development: `settle chain sign`; tests): version 3's
/// when they name a `feeReturned`, version 2's otherwise.
pub fn sign_refund_terms(signer: &PrivateKeySigner, typed: &Value) -> Result<Signature, String> {
    let m = field(typed, "message")?;
    let b32 = |path: &str| field(m, path)?.as_str().and_then(|s| s.parse::<B256>().ok()).ok_or_else(|| format!("{path} is not 32 bytes of hex"));
    let deadline: u64 = uint(m, "deadline")?.try_into().map_err(|_| "deadline is too large".to_owned())?;
    let version = if m.get("feeReturned").is_some() { "3" } else { "2" };
    let fee = if version == "3" { uint(m, "feeReturned")? } else { U256::ZERO };
    let t = GatewayRefundTerms::new(version, b32("refundId")?, b32("paymentId")?, uint(m, "amount")?, fee, deadline)?;
    t.sign(signer, &domain_of(typed, "refundTerms")?)
}

/// The body of `POST /v1/refunds/{id}/submit` from the answer of `GET /v1/refunds/{id}/typed-data`, signed with the
/// recipient's local key (development: `settle chain sign`; tests): the refund's terms, and the permit when one is
/// offered.
pub fn sign_refund_authorization(signer: &PrivateKeySigner, typed_data: &Value) -> Result<Value, String> {
    let terms = sign_refund_terms(signer, field(typed_data, "refundTerms")?)?;
    let mut body = json!({"deadline": field(typed_data, "deadline")?, "recipientSignature": format!("0x{}", hex::encode(terms.as_bytes()))});
    if typed_data.get("permit").is_some_and(|p| !p.is_null()) {
        let CheckoutSigned::Permit { signature, deadline } = sign_checkout_step(signer, typed_data)? else {
            return Err("permit: not a permit".into());
        };
        body["permit"] = json!({
            "value": field(typed_data, "permit.message.value")?, "deadline": deadline.to_string(),
            "signature": format!("0x{}", hex::encode(signature.as_bytes())),
        });
    }
    Ok(body)
}

/// A step of a checkout signed with a local key (development: `settle chain sign`; tests).
#[derive(Clone, Debug)]
pub enum CheckoutSigned {
    /// The token's permit; the next typed-data call takes it as `permitSignature` and `permitDeadline`.
    Permit { signature: Signature, deadline: U256 },
    /// The forward request; `{request, signature}` is the body of `POST /payments/{id}/gasless`.
    Request { request: Value, signature: Signature },
}

fn field<'a>(v: &'a Value, path: &str) -> Result<&'a Value, String> {
    let f = path.split('.').fold(v, |v, k| &v[k]);
    if f.is_null() { Err(format!("{path} is missing")) } else { Ok(f) }
}

fn uint(v: &Value, path: &str) -> Result<U256, String> {
    let f = field(v, path)?;
    match (f.as_str(), f.as_u64()) {
        (Some(s), _) => U256::from_str_radix(s, 10).map_err(|_| format!("{path} is not a decimal integer")),
        (None, Some(n)) => Ok(U256::from(n)),
        _ => Err(format!("{path} is not an integer")),
    }
}

fn address(v: &Value, path: &str) -> Result<Address, String> {
    field(v, path)?.as_str().and_then(|s| s.parse().ok()).ok_or_else(|| format!("{path} is not an address"))
}

/// The domain of `eth_signTypedData_v4` JSON.
fn domain_of(typed: &Value, at: &str) -> Result<Eip712Domain, String> {
    let d = field(typed, "domain").map_err(|e| format!("{at}.{e}"))?;
    let name = d["name"].as_str().map(|s| s.to_owned().into());
    let version = d["version"].as_str().map(|s| s.to_owned().into());
    let chain_id = uint(d, "chainId").map_err(|e| format!("{at}.domain.{e}"))?;
    let contract = address(d, "verifyingContract").map_err(|e| format!("{at}.domain.{e}"))?;
    Ok(Eip712Domain::new(name, version, Some(chain_id), Some(contract), None))
}

/// Signs the next step of a checkout from the answer of `GET /payments/{id}/typed-data`: the permit when one is
/// asked for, else the forward request.
pub fn sign_checkout_step(signer: &PrivateKeySigner, typed_data: &Value) -> Result<CheckoutSigned, String> {
    if let Some(permit) = typed_data.get("permit").filter(|p| !p.is_null()) {
        let m = field(permit, "message").map_err(|e| format!("permit.{e}"))?;
        let p = Permit {
            owner: address(m, "owner")?,
            spender: address(m, "spender")?,
            value: uint(m, "value")?,
            nonce: uint(m, "nonce")?,
            deadline: uint(m, "deadline")?,
        };
        if p.owner != signer.address() {
            return Err(format!("the permit is for {}, not this key's address {}", p.owner, signer.address()));
        }
        let signature = sign_struct(signer, &domain_of(permit, "permit")?, &p)?;
        return Ok(CheckoutSigned::Permit { signature, deadline: p.deadline });
    }
    let typed = field(typed_data, "forwardRequest")?;
    let m = field(typed, "message").map_err(|e| format!("forwardRequest.{e}"))?;
    let deadline: u64 = uint(m, "deadline")?.try_into().map_err(|_| "deadline is too large".to_owned())?;
    let r = ForwardRequest {
        from: address(m, "from")?,
        to: address(m, "to")?,
        value: uint(m, "value")?,
        gas: uint(m, "gas")?,
        nonce: uint(m, "nonce")?,
        deadline: alloy::primitives::aliases::U48::from(deadline),
        data: field(m, "data")?.as_str().and_then(|s| s.parse().ok()).ok_or("data is not hex")?,
    };
    if r.from != signer.address() {
        return Err(format!("the request is from {}, not this key's address {}", r.from, signer.address()));
    }
    let signature = sign_struct(signer, &domain_of(typed, "forwardRequest")?, &r)?;
    Ok(CheckoutSigned::Request { request: field(typed_data, "request")?.clone(), signature })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_recovers_its_signer_and_high_s_is_refused() {
        let signer = PrivateKeySigner::random();
        let domain = forwarder_domain(31337, Address::repeat_byte(7));
        let req = ForwardRequest {
            from: signer.address(),
            to: Address::repeat_byte(8),
            value: U256::ZERO,
            gas: U256::from(200_000),
            nonce: U256::ZERO,
            deadline: alloy::primitives::aliases::U48::from(1_000_000u64),
            data: Bytes::from(vec![1, 2, 3]),
        };
        let sig = sign_struct(&signer, &domain, &req).unwrap();
        let hash = req.eip712_signing_hash(&domain);
        assert_eq!(recover(&hash, &sig.as_bytes()), Ok(signer.address()));
        // The same signature with s' = n - s (and the parity flipped) is valid ECDSA but malleable.
        let n = U256::from_str_radix("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", 16).unwrap();
        let high = Signature::new(sig.r(), n - sig.s(), !sig.v());
        assert_eq!(recover(&hash, &high.as_bytes()), Err(SignatureRejected::HighS));
        assert_eq!(recover(&hash, &[0u8; 64]), Err(SignatureRejected::Malformed));
        let td = forward_request_typed_data(&domain, &req);
        assert_eq!(td["primaryType"], "ForwardRequest");
        assert_eq!(td["message"]["gas"], "200000");
        assert_eq!(td["domain"]["chainId"], 31337);
    }
}
