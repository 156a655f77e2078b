//! EIP-1559 transactions signed with a local key.

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    eips::eip2718::Encodable2718,
    primitives::{Address, B256, Bytes, TxKind, U256},
    signers::{SignerSync, local::PrivateKeySigner},
};

/// What a transaction pays for gas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fees {
    pub max_fee_per_gas: u128,
    pub max_priority_fee_per_gas: u128,
}

impl Fees {
    /// At least 12.5 % more of both (what a node requires to replace a pending transaction), capped.
    pub fn bumped(self, cap: u128) -> Self {
        self.bumped_by(13, cap)
    }

    /// Both fees raised by `percent` (rounded up), capped at `cap` per gas (never lowered below what they were).
    pub fn bumped_by(self, percent: u128, cap: u128) -> Self {
        let up = |v: u128| (v + (v * percent).div_ceil(100)).max(v + 1).min(cap.max(v));
        let max_fee = up(self.max_fee_per_gas);
        Self { max_fee_per_gas: max_fee, max_priority_fee_per_gas: up(self.max_priority_fee_per_gas).min(max_fee) }
    }
}

/// The gas limit and max fee per gas of a signed EIP-1559 transaction (None: not one).
pub fn decode(raw: &[u8]) -> Option<(u64, u128)> {
    use alloy::{consensus::Transaction, eips::eip2718::Decodable2718};
    let env = TxEnvelope::decode_2718(&mut &raw[..]).ok()?;
    Some((env.gas_limit(), env.max_fee_per_gas()))
}

/// A signed transaction: its hash and its raw bytes for `eth_sendRawTransaction`.
#[derive(Clone, Debug)]
pub struct SignedTx {
    pub hash: B256,
    pub raw: Bytes,
}

/// Signs an EIP-1559 transaction (`to: None` deploys `data`).
#[allow(clippy::too_many_arguments)]
pub fn sign_1559(
    signer: &PrivateKeySigner,
    chain_id: u64,
    nonce: u64,
    to: Option<Address>,
    value: U256,
    data: Bytes,
    gas_limit: u64,
    fees: Fees,
) -> Result<SignedTx, String> {
    let tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit,
        max_fee_per_gas: fees.max_fee_per_gas,
        max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
        to: to.map(TxKind::Call).unwrap_or(TxKind::Create),
        value,
        access_list: Default::default(),
        input: data,
    };
    let sig = signer.sign_hash_sync(&tx.signature_hash()).map_err(|e| format!("signing a transaction: {e}"))?;
    let env = TxEnvelope::from(tx.into_signed(sig));
    Ok(SignedTx { hash: *env.tx_hash(), raw: Bytes::from(env.encoded_2718()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bump_is_at_least_an_eighth_and_capped() {
        let f = Fees { max_fee_per_gas: 800, max_priority_fee_per_gas: 80 };
        let b = f.bumped(10_000);
        assert!(b.max_fee_per_gas >= 900 && b.max_priority_fee_per_gas >= 90);
        assert_eq!(f.bumped(850).max_fee_per_gas, 850);
        // At the cap nothing moves: the caller sees a replacement identical to the last and does not build it.
        let at_cap = Fees { max_fee_per_gas: 1000, max_priority_fee_per_gas: 1000 };
        assert_eq!(at_cap.bumped_by(13, 1000), at_cap);
        let b = Fees { max_fee_per_gas: 1000, max_priority_fee_per_gas: 100 }.bumped_by(10, 1_000_000);
        assert_eq!((b.max_fee_per_gas, b.max_priority_fee_per_gas), (1100, 110));
        let key = PrivateKeySigner::random();
        let signed = sign_1559(&key, 1, 0, Some(Address::ZERO), U256::ZERO, Bytes::new(), 21_000, f).unwrap();
        assert_eq!(decode(&signed.raw), Some((21_000, 800)));
    }
}
