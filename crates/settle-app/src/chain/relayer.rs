//! The relayer of one chain and key, one instance at a time (lease `relayer:{chainId}`).
//!
//! Each step: (1) follows its sent transactions: a mined one settles its relay request (CONFIRMED, or FAILED
//! and the payment back to PENDING when it reverted) and retires the others at its nonce; one the node no
//! longer knows is broadcast again; one not mined after [`BUMP_AFTER_BLOCKS`] is replaced at the same nonce
//! with fees at least 12.5 % higher (capped); (2) sends pending relay requests, each with a nonce taken in the
//! same database transaction that records its signed transaction, so no nonce is ever shared or skipped. The
//! payment itself completes from the watcher, which reads the chain.

use settle_chain::{
    B256, Bytes, U256,
    rpc::RpcError,
    tx::{Fees, sign_1559},
};
use settle_domain::PaymentStatus;
use settle_store::{StoreError, payments as payments_store, relay};

use super::Chain;
use crate::{Context, lease::LeaseHolder, payments::apply_transition, worker::Outcome};

/// Blocks a transaction may stay unmined before it is replaced with higher fees.
pub const BUMP_AFTER_BLOCKS: i64 = 3;

#[derive(Clone)]
pub struct Relayer {
    ctx: Context,
    chain: Chain,
    lease: LeaseHolder,
    address: String,
}

/// Why a step stopped.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("chain {0}: {1}")]
    Rpc(u64, RpcError),
    #[error("chain {0}: {1}")]
    Sign(u64, String),
}

impl Relayer {
    pub fn new(ctx: Context, chain: Chain) -> Self {
        let name: &'static str = Box::leak(format!("relayer:{}", chain.chain_id).into_boxed_str());
        let address = chain.relayer.address().to_checksum(None);
        Self { lease: LeaseHolder::new(ctx.clone(), name), ctx, chain, address }
    }

    pub fn poll(&self) -> std::time::Duration {
        self.chain.poll
    }

    pub async fn release(&self) {
        self.lease.release().await;
    }

    fn rpc_err(&self, e: RpcError) -> RelayError {
        RelayError::Rpc(self.chain.chain_id, e)
    }

    pub async fn run_once(&self) -> Result<Outcome, RelayError> {
        if !self.lease.hold(settle_store::now_ms()).await? {
            return Ok(Outcome::Idle);
        }
        let followed = self.follow().await?;
        let sent = self.send_pending().await?;
        if let Ok(b) = self.chain.rpc.balance(self.chain.relayer.address()).await {
            let wei = b.saturating_to::<u128>();
            metrics::gauge!("settle_chain_relayer_balance_wei", "chain" => self.chain.chain_id.to_string()).set(wei as f64);
            let was_low = self.chain.observed().relayer_balance_wei.is_some_and(|w| w < self.chain.low_balance_wei);
            if wei < self.chain.low_balance_wei && !was_low {
                tracing::warn!(chain = self.chain.chain_id, relayer = %self.address, balance_wei = %wei, "the relayer's balance is low: fund it before relays fail");
            }
            self.chain.observe(|st| st.relayer_balance_wei = Some(wei));
        }
        Ok(if followed + sent > 0 { Outcome::Worked(followed + sent) } else { Outcome::Idle })
    }

    /// Follows sent transactions; returns how many changed.
    async fn follow(&self) -> Result<usize, RelayError> {
        let id = self.chain.chain_id as i64;
        let txs = relay::sent_txs(&self.ctx.db, id, &self.address).await?;
        metrics::gauge!("settle_chain_relayer_pending", "chain" => id.to_string()).set(txs.len() as f64);
        self.chain.observe(|st| st.pending_relays = txs.len());
        if txs.is_empty() {
            return Ok(0);
        }
        let head = self.chain.rpc.block_number().await.map_err(|e| self.rpc_err(e))? as i64;
        let mut n = 0;
        let mut bumped = std::collections::HashSet::new();
        for tx in &txs {
            let hash: B256 = tx.tx_hash.parse().map_err(|_| RelayError::Sign(self.chain.chain_id, "a stored hash is unreadable".into()))?;
            let now = settle_store::now_ms();
            if let Some(receipt) = self.chain.rpc.receipt(hash).await.map_err(|e| self.rpc_err(e))? {
                for other in relay::txs_at(&self.ctx.db, id, &self.address, tx.nonce).await? {
                    let status = if other.id == tx.id { "MINED" } else { "REPLACED" };
                    relay::set_tx_status(&self.ctx.db, other.id, status, now).await?;
                }
                if let Some(rr_id) = &tx.relay_request_id
                    && let Some(rr) = relay::find_request(&self.ctx.db, rr_id).await?
                {
                    let ok = receipt.status == U256::from(1);
                    let to = if ok { relay::CONFIRMED } else { relay::FAILED };
                    relay::set_request_status(
                        &self.ctx.db,
                        rr.id,
                        relay::SENT,
                        to,
                        Some(&tx.tx_hash),
                        (!ok).then_some("the transaction reverted"),
                        now,
                    )
                    .await?;
                    if !ok {
                        self.revert_payment(&rr.payment_id, &tx.tx_hash).await?;
                    }
                }
                n += 1;
                continue;
            }
            // Only the newest transaction at a nonce is looked after; older ones are retired when any is mined.
            if bumped.contains(&tx.nonce) || txs.iter().any(|t| t.nonce == tx.nonce && t.id > tx.id) {
                continue;
            }
            let known = self.chain.rpc.knows_transaction(hash).await.map_err(|e| self.rpc_err(e))?;
            if !known {
                // Dropped from the pool: broadcast the same bytes again; if the node refuses them (its fees are
                // now too low to be included), replace it with higher fees.
                metrics::counter!("settle_chain_rebroadcasts_total", "chain" => id.to_string()).increment(1);
                let raw: Bytes = tx.raw_tx.parse().map_err(|_| RelayError::Sign(self.chain.chain_id, "a stored transaction is unreadable".into()))?;
                match self.chain.rpc.send_raw(&raw).await {
                    Ok(_) => tracing::warn!(chain = id, nonce = tx.nonce, tx = %tx.tx_hash, "relayed transaction dropped; broadcast it again"),
                    Err(e) => {
                        tracing::warn!(chain = id, nonce = tx.nonce, tx = %tx.tx_hash, error = %e, "a dropped relay was refused again; replacing it with higher fees");
                        self.bump(tx, head).await?;
                        bumped.insert(tx.nonce);
                    }
                }
                n += 1;
            } else if head - tx.sent_block >= BUMP_AFTER_BLOCKS {
                self.bump(tx, head).await?;
                bumped.insert(tx.nonce);
                n += 1;
            }
        }
        Ok(n)
    }

    /// A relay that reverted: the payer may try again.
    async fn revert_payment(&self, payment_id: &str, tx_hash: &str) -> Result<(), RelayError> {
        let Some(row) = payments_store::find_any(&self.ctx.db, payment_id).await? else { return Ok(()) };
        if row.status != PaymentStatus::Processing.as_str() {
            return Ok(());
        }
        let data = serde_json::json!({"code": "relay_reverted", "txHash": tx_hash, "message": "the relayed transaction reverted; nothing was paid"});
        let _ = apply_transition(&self.ctx, &row, PaymentStatus::Pending, Default::default(), Some(data), None).await;
        Ok(())
    }

    /// The relay request's execute call and gas.
    fn call_of(rr: &relay::RelayRequestRow) -> Option<(Bytes, u64)> {
        let v: serde_json::Value = serde_json::from_str(rr.request.as_deref()?).ok()?;
        Some((v["execute"].as_str()?.parse().ok()?, v["gas"].as_u64()?))
    }

    /// Replaces a stuck transaction at its nonce with fees at least 12.5 % higher.
    async fn bump(&self, tx: &relay::RelayTxRow, head: i64) -> Result<(), RelayError> {
        let id = self.chain.chain_id as i64;
        let rr = match &tx.relay_request_id {
            Some(r) => relay::find_request(&self.ctx.db, r).await?,
            None => None,
        };
        let Some(rr) = rr else { return Ok(()) };
        let Some((call, gas)) = Self::call_of(&rr) else { return Ok(()) };
        let old = Fees { max_fee_per_gas: tx.max_fee.parse().unwrap_or(0), max_priority_fee_per_gas: tx.max_priority_fee.parse().unwrap_or(0) };
        let now_fees = self.chain.rpc.fees().await.map_err(|e| self.rpc_err(e))?;
        let cap = 1_000_000_000_000u128; // 1000 gwei
        let mut fees = old.bumped(cap);
        fees.max_fee_per_gas = fees.max_fee_per_gas.max(now_fees.max_fee_per_gas.min(cap));
        let signed = self.sign_and_record(&self.ctx.db, tx.nonce, tx.relay_request_id.clone(), call, gas, fees, head).await?;
        tracing::warn!(chain = id, nonce = tx.nonce, old = %tx.tx_hash, new = %signed.hash, "relayed transaction stuck; replaced with higher fees");
        metrics::counter!("settle_chain_fee_bumps_total", "chain" => id.to_string()).increment(1);
        if let Err(e) = self.chain.rpc.send_raw(&signed.raw).await {
            tracing::debug!(chain = id, error = %e, "replacement refused for now");
        }
        Ok(())
    }

    /// Signs the forwarder call at `nonce` and records the transaction (in the caller's database transaction,
    /// when it allocates the nonce); broadcasting is the caller's.
    #[allow(clippy::too_many_arguments)]
    async fn sign_and_record(
        &self,
        conn: &impl settle_store::ConnectionTrait,
        nonce: i64,
        relay_request_id: Option<String>,
        call: Bytes,
        gas: u64,
        fees: Fees,
        head: i64,
    ) -> Result<settle_chain::tx::SignedTx, RelayError> {
        let signed =
            sign_1559(&self.chain.relayer, self.chain.chain_id, nonce as u64, Some(self.chain.forwarder), U256::ZERO, call, gas + 120_000, fees)
                .map_err(|e| RelayError::Sign(self.chain.chain_id, e))?;
        let tx = relay::NewTx {
            chain_id: self.chain.chain_id as i64,
            relayer: self.address.clone(),
            nonce,
            relay_request_id,
            tx_hash: format!("{:#x}", signed.hash),
            raw_tx: signed.raw.to_string(),
            max_fee: fees.max_fee_per_gas.to_string(),
            max_priority_fee: fees.max_priority_fee_per_gas.to_string(),
            sent_block: head,
        };
        relay::insert_tx(conn, tx, settle_store::now_ms()).await?;
        Ok(signed)
    }

    /// Sends pending relay requests; returns how many.
    async fn send_pending(&self) -> Result<usize, RelayError> {
        let id = self.chain.chain_id as i64;
        let pending = relay::requests(&self.ctx.db, id, relay::PENDING, 20).await?;
        if pending.is_empty() {
            return Ok(0);
        }
        let chain_nonce = self.chain.rpc.nonce(self.chain.relayer.address(), "pending").await.map_err(|e| self.rpc_err(e))? as i64;
        relay::ensure_nonce(&self.ctx.db, id, &self.address, chain_nonce).await?;
        let head = self.chain.rpc.block_number().await.map_err(|e| self.rpc_err(e))? as i64;
        let fees = self.chain.rpc.fees().await.map_err(|e| self.rpc_err(e))?;
        let mut n = 0;
        for rr in pending {
            let now = settle_store::now_ms();
            let payment = payments_store::find_any(&self.ctx.db, &rr.payment_id).await?;
            let Some((call, gas)) = Self::call_of(&rr).filter(|_| payment.as_ref().is_some_and(|p| p.status == PaymentStatus::Processing.as_str()))
            else {
                relay::set_request_status(
                    &self.ctx.db,
                    rr.id,
                    relay::PENDING,
                    relay::CANCELLED,
                    None,
                    Some("the payment is no longer PROCESSING"),
                    now,
                )
                .await?;
                continue;
            };
            // Take the nonce and record the signed transaction in one database transaction.
            let txn = settle_store::begin(&self.ctx.db).await?;
            let Some(nonce) = relay::next_nonce(&txn, id, &self.address).await? else { continue };
            if !relay::take_nonce(&txn, id, &self.address, nonce).await? {
                continue;
            }
            let signed = self.sign_and_record(&txn, nonce, Some(rr.relay_request_id.clone()), call, gas, fees, head).await?;
            let hash = format!("{:#x}", signed.hash);
            relay::set_request_status(&txn, rr.id, relay::PENDING, relay::SENT, Some(&hash), None, now).await?;
            txn.commit().await.map_err(StoreError::from)?;
            if let Err(e) = self.chain.rpc.send_raw(&signed.raw).await {
                // Recorded: following it rebroadcasts it if the node did not take it.
                tracing::warn!(chain = id, nonce, error = %e, "broadcast failed; it will be sent again");
            }
            metrics::counter!("settle_chain_relays_sent_total", "chain" => id.to_string()).increment(1);
            n += 1;
        }
        Ok(n)
    }
}
