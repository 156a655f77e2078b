//! The relayer of one chain and key, one instance at a time (lease `relayer:{chainId}`).
//!
//! Each step: (1) follows its sent transactions: a mined one settles its relay request (CONFIRMED, or FAILED
//! and the payment back to PENDING when it reverted) and retires the others at its nonce; one the node no
//! longer knows is broadcast again; one not mined after [`BUMP_AFTER_BLOCKS`] is replaced at the same nonce
//! with fees at least 12.5 % higher (capped); a nonce the chain has used is never sent again blindly: Settle
//! finds which of its transactions took it, or learns that another sender with the relayer's key did and sends
//! the relay again at a new nonce; a nonce nothing of ours holds any more is filled with a 0-value transfer;
//! (2) sends pending relay requests, each with a nonce taken in the same database transaction that records its
//! signed transaction, so no nonce is ever shared or skipped. The payment itself completes from the watcher,
//! which reads the chain.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

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
/// The most a replacement offers per gas (1000 gwei).
const MAX_FEE_CAP: u128 = 1_000_000_000_000;
/// Gas a forwarder's `execute` adds to the request's own.
const EXECUTE_OVERHEAD_GAS: u64 = 120_000;
/// A 0-value transfer that fills a nonce.
const FILL_GAS: u64 = 21_000;

#[derive(Clone)]
pub struct Relayer {
    ctx: Context,
    chain: Chain,
    lease: LeaseHolder,
    address: String,
    /// Whether the last step held the lease (the first step after taking it reconciles in full).
    holding: Arc<AtomicBool>,
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
        Self { lease: LeaseHolder::new(ctx.clone(), name), ctx, chain, address, holding: Arc::new(AtomicBool::new(false)) }
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
            self.holding.store(false, Ordering::Relaxed);
            return Ok(Outcome::Idle);
        }
        let taken = !self.holding.load(Ordering::Relaxed);
        let followed = self.follow(taken).await?;
        self.holding.store(true, Ordering::Relaxed);
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

    /// Follows sent transactions and reconciles the recorded nonces with the chain's; returns how many changed.
    ///
    /// A nonce below the chain's mined count that none of our transactions holds was used by someone else with
    /// the relayer's key: the relay is sent again at a new nonce (if it still simulates). A nonce between the
    /// mined count and the next recorded one that no transaction of ours holds any more (a database restored
    /// from a backup, a transaction nothing can rebuild) blocks every later one: it is filled with a 0-value
    /// transfer to the relayer itself. Gaps are looked for whenever transactions are in flight, and once after
    /// taking the lease.
    async fn follow(&self, after_taking_lease: bool) -> Result<usize, RelayError> {
        let id = self.chain.chain_id as i64;
        let txs = relay::sent_txs(&self.ctx.db, id, &self.address).await?;
        metrics::gauge!("settle_chain_relayer_pending", "chain" => id.to_string()).set(txs.len() as f64);
        self.chain.observe(|st| st.pending_relays = txs.len());
        if txs.is_empty() && !after_taking_lease {
            return Ok(0);
        }
        let recorded_next = relay::next_nonce(&self.ctx.db, id, &self.address).await?;
        let Some(recorded_next) = recorded_next else { return Ok(0) };
        // The mined count first: receipts read after it are at least as new.
        let mined = self.chain.rpc.nonce(self.chain.relayer.address(), "latest").await.map_err(|e| self.rpc_err(e))? as i64;
        let head = self.chain.rpc.block_number().await.map_err(|e| self.rpc_err(e))? as i64;
        let mut n = 0;
        let mut i = 0;
        while i < txs.len() {
            let nonce = txs[i].nonce;
            let group: Vec<&relay::RelayTxRow> = txs[i..].iter().take_while(|t| t.nonce == nonce).collect();
            i += group.len();
            let mut settled = false;
            for tx in &group {
                if let Some(receipt) = self.chain.rpc.receipt(Self::hash_of(tx, id)?).await.map_err(|e| self.rpc_err(e))? {
                    self.settle_mined(tx, &receipt).await?;
                    settled = true;
                    break;
                }
            }
            if settled {
                n += 1;
                continue;
            }
            if nonce < mined {
                n += self.resolve_used_nonce(nonce).await?;
                continue;
            }
            // Only the newest transaction at a nonce is looked after; older ones are retired when any is mined.
            let tx = group[group.len() - 1];
            let known = self.chain.rpc.knows_transaction(Self::hash_of(tx, id)?).await.map_err(|e| self.rpc_err(e))?;
            if !known {
                // Dropped from the pool: broadcast the same bytes again. When the node refuses them, ask the chain
                // why before doing anything else: a nonce it has used is never sent again blindly; otherwise the
                // fees are too low now, and the transaction is replaced with higher ones.
                metrics::counter!("settle_chain_rebroadcasts_total", "chain" => id.to_string()).increment(1);
                let raw: Bytes = tx.raw_tx.parse().map_err(|_| RelayError::Sign(self.chain.chain_id, "a stored transaction is unreadable".into()))?;
                match self.chain.rpc.send_raw(&raw).await {
                    Ok(_) => tracing::warn!(chain = id, nonce, tx = %tx.tx_hash, "relayed transaction dropped; broadcast it again"),
                    Err(e) => {
                        let now_mined = self.chain.rpc.nonce(self.chain.relayer.address(), "latest").await.map_err(|e| self.rpc_err(e))? as i64;
                        if nonce < now_mined {
                            tracing::warn!(chain = id, nonce, tx = %tx.tx_hash, error = %e, "the node refused a rebroadcast: its nonce is used; finding which transaction used it");
                            self.resolve_used_nonce(nonce).await?;
                        } else {
                            tracing::warn!(chain = id, nonce, tx = %tx.tx_hash, error = %e, "a dropped relay was refused again; replacing it with higher fees");
                            self.bump(tx, head).await?;
                        }
                    }
                }
                n += 1;
            } else if head - tx.sent_block >= BUMP_AFTER_BLOCKS {
                self.bump(tx, head).await?;
                n += 1;
            }
        }
        n += self.fill_gaps(&txs, mined, recorded_next, head).await?;
        Ok(n)
    }

    fn hash_of(tx: &relay::RelayTxRow, chain: i64) -> Result<B256, RelayError> {
        tx.tx_hash.parse().map_err(|_| RelayError::Sign(chain as u64, "a stored hash is unreadable".into()))
    }

    /// A transaction of ours was mined: it settles its relay request (CONFIRMED, or FAILED with the payment back
    /// to PENDING when it reverted) and retires the others at its nonce. What may be repeated (the receipt's logs,
    /// the payment) is done first; the statuses that end the following change in one database transaction, so
    /// a crash or an error in between leaves the transaction to be settled again on the next step.
    async fn settle_mined(&self, tx: &relay::RelayTxRow, receipt: &settle_chain::rpc::Receipt) -> Result<(), RelayError> {
        let id = self.chain.chain_id as i64;
        let ok = receipt.status == U256::from(1);
        let rr = match &tx.relay_request_id {
            Some(r) => relay::find_request(&self.ctx.db, r).await?,
            None => None,
        };
        if ok {
            // The receipt shows the payment's log: recorded now, the watcher need not have seen it in its own
            // reads (it still applies it only at its confirmations, on the canonical chain).
            for l in receipt.logs.iter().filter(|l| l.address == self.chain.gateway) {
                super::watcher::record_log(&self.ctx, id, l).await?;
            }
        } else if let Some(rr) = &rr {
            self.revert_payment(&rr.payment_id, &tx.tx_hash).await?;
        }
        let now = settle_store::now_ms();
        let txn = settle_store::begin(&self.ctx.db).await?;
        for other in relay::txs_at(&txn, id, &self.address, tx.nonce).await? {
            let status = if other.id == tx.id { relay::MINED } else { relay::REPLACED };
            relay::set_tx_status(&txn, other.id, status, now).await?;
        }
        if let Some(rr) = rr {
            let to = if ok { relay::CONFIRMED } else { relay::FAILED };
            relay::set_request_status(&txn, rr.id, relay::SENT, to, Some(&tx.tx_hash), (!ok).then_some("the transaction reverted"), now).await?;
        }
        txn.commit().await.map_err(StoreError::from)?;
        Ok(())
    }

    /// The chain has used `nonce`: finds which of our transactions (any recorded at it, replaced ones included)
    /// took it. When none did, another sender used the relayer's key: our transactions there are DISPLACED and
    /// their relay is queued again for a new nonce if it still simulates, or failed (payment back to PENDING).
    /// The statuses change together, in one database transaction, after everything that may be repeated.
    async fn resolve_used_nonce(&self, nonce: i64) -> Result<usize, RelayError> {
        let id = self.chain.chain_id as i64;
        let at = relay::txs_at(&self.ctx.db, id, &self.address, nonce).await?;
        for tx in &at {
            if let Some(receipt) = self.chain.rpc.receipt(Self::hash_of(tx, id)?).await.map_err(|e| self.rpc_err(e))? {
                self.settle_mined(tx, &receipt).await?;
                return Ok(1);
            }
        }
        let mut ids: Vec<&String> = at.iter().filter_map(|t| t.relay_request_id.as_ref()).collect();
        ids.sort();
        ids.dedup();
        // Each request still SENT: sent again (it still simulates) or failed (it no longer does).
        let mut verdicts = Vec::new();
        for rr_id in ids {
            let Some(rr) = relay::find_request(&self.ctx.db, rr_id).await? else { continue };
            if rr.status != relay::SENT {
                continue;
            }
            let verdict = match Self::call_of(&rr) {
                None => Err("the stored request is unreadable".to_owned()),
                Some((call, _)) => match self.chain.rpc.eth_call(Some(self.chain.relayer.address()), self.chain.forwarder, &call).await {
                    Ok(_) => Ok(()),
                    Err(e @ RpcError::Node { .. }) => Err(e.message()),
                    // The node did not answer: decided on a later step, nothing changed.
                    Err(e) => return Err(self.rpc_err(e)),
                },
            };
            if verdict.is_err() {
                let hash = at.iter().rev().find(|t| t.relay_request_id.as_ref() == Some(rr_id)).map(|t| t.tx_hash.clone()).unwrap_or_default();
                self.revert_payment(&rr.payment_id, &hash).await?;
            }
            verdicts.push((rr, verdict));
        }
        let now = settle_store::now_ms();
        let txn = settle_store::begin(&self.ctx.db).await?;
        for tx in &at {
            relay::set_tx_status(&txn, tx.id, relay::DISPLACED, now).await?;
        }
        for (rr, verdict) in &verdicts {
            let (to, why) = match verdict {
                Ok(()) => {
                    (relay::PENDING, format!("nonce {nonce} was used by another transaction from the relayer's key; sending again at a new nonce"))
                }
                Err(reason) => (
                    relay::FAILED,
                    format!("nonce {nonce} was used by another transaction from the relayer's key, and the request no longer simulates: {reason}"),
                ),
            };
            tracing::warn!(chain = id, nonce, relay = %rr.relay_request_id, "{why}");
            relay::set_request_status(&txn, rr.id, relay::SENT, to, None, Some(&why), now).await?;
        }
        txn.commit().await.map_err(StoreError::from)?;
        metrics::counter!("settle_chain_nonces_displaced_total", "chain" => id.to_string()).increment(1);
        Ok(1)
    }

    /// Fills each nonce in `[mined, recorded_next)` that no transaction of ours holds with a 0-value transfer to
    /// the relayer itself, so the later ones can be mined.
    async fn fill_gaps(&self, txs: &[relay::RelayTxRow], mined: i64, recorded_next: i64, head: i64) -> Result<usize, RelayError> {
        let id = self.chain.chain_id as i64;
        let mut n = 0;
        let mut fees = None;
        for nonce in mined..recorded_next.min(mined + 64) {
            if txs.iter().any(|t| t.nonce == nonce) {
                continue;
            }
            if relay::txs_at(&self.ctx.db, id, &self.address, nonce).await?.iter().any(|t| t.status == relay::MINED) {
                continue; // mined as far as we know (a reorg may have undone it; the chain will say).
            }
            let fees = match fees {
                Some(f) => f,
                None => *fees.insert(self.chain.rpc.fees().await.map_err(|e| self.rpc_err(e))?),
            };
            let me = self.chain.relayer.address();
            let signed = self.sign_and_record(&self.ctx.db, nonce, None, me, Bytes::new(), FILL_GAS, fees, head).await?;
            tracing::warn!(chain = id, nonce, tx = %signed.hash, "nonce {nonce} has no transaction of ours; filling it with a 0-value transfer so the later ones can be mined");
            metrics::counter!("settle_chain_nonce_fills_total", "chain" => id.to_string()).increment(1);
            if let Err(e) = self.chain.rpc.send_raw(&signed.raw).await {
                tracing::warn!(chain = id, nonce, error = %e, "broadcast failed; it will be sent again");
            }
            n += 1;
        }
        Ok(n)
    }

    /// A relay that reverted: the payer may try again.
    async fn revert_payment(&self, payment_id: &str, tx_hash: &str) -> Result<(), RelayError> {
        let Some(row) = payments_store::find_any(&self.ctx.db, payment_id).await? else { return Ok(()) };
        if row.status != PaymentStatus::Processing {
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

    /// What a recorded transaction sends: the forwarder call of its relay request, or (a filler) nothing to the
    /// relayer itself.
    async fn payload_of(&self, tx: &relay::RelayTxRow) -> Result<Option<(settle_chain::Address, Bytes, u64)>, RelayError> {
        let Some(rr_id) = &tx.relay_request_id else { return Ok(Some((self.chain.relayer.address(), Bytes::new(), FILL_GAS))) };
        let Some(rr) = relay::find_request(&self.ctx.db, rr_id).await? else { return Ok(None) };
        Ok(Self::call_of(&rr).map(|(call, gas)| (self.chain.forwarder, call, gas + EXECUTE_OVERHEAD_GAS)))
    }

    /// Replaces a stuck transaction at its nonce with fees at least 12.5 % higher.
    async fn bump(&self, tx: &relay::RelayTxRow, head: i64) -> Result<(), RelayError> {
        let id = self.chain.chain_id as i64;
        let Some((to, data, gas)) = self.payload_of(tx).await? else {
            tracing::error!(chain = id, nonce = tx.nonce, tx = %tx.tx_hash, "a stuck transaction's request is unreadable; it cannot be replaced");
            return Ok(());
        };
        let old = Fees { max_fee_per_gas: tx.max_fee.parse().unwrap_or(0), max_priority_fee_per_gas: tx.max_priority_fee.parse().unwrap_or(0) };
        let now_fees = self.chain.rpc.fees().await.map_err(|e| self.rpc_err(e))?;
        let mut fees = old.bumped(MAX_FEE_CAP);
        fees.max_fee_per_gas = fees.max_fee_per_gas.max(now_fees.max_fee_per_gas.min(MAX_FEE_CAP));
        let signed = self.sign_and_record(&self.ctx.db, tx.nonce, tx.relay_request_id.clone(), to, data, gas, fees, head).await?;
        tracing::warn!(chain = id, nonce = tx.nonce, old = %tx.tx_hash, new = %signed.hash, "relayed transaction stuck; replaced with higher fees");
        metrics::counter!("settle_chain_fee_bumps_total", "chain" => id.to_string()).increment(1);
        if let Err(e) = self.chain.rpc.send_raw(&signed.raw).await {
            tracing::debug!(chain = id, error = %e, "replacement refused for now");
        }
        Ok(())
    }

    /// Signs a 0-value transaction at `nonce` and records it (in the caller's database transaction, when it
    /// allocates the nonce); broadcasting is the caller's.
    #[allow(clippy::too_many_arguments)]
    async fn sign_and_record(
        &self,
        conn: &impl settle_store::ConnectionTrait,
        nonce: i64,
        relay_request_id: Option<String>,
        to: settle_chain::Address,
        data: Bytes,
        gas_limit: u64,
        fees: Fees,
        head: i64,
    ) -> Result<settle_chain::tx::SignedTx, RelayError> {
        let signed = sign_1559(&self.chain.relayer, self.chain.chain_id, nonce as u64, Some(to), U256::ZERO, data, gas_limit, fees)
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
            let Some((call, gas)) = Self::call_of(&rr).filter(|_| payment.as_ref().is_some_and(|p| p.status == PaymentStatus::Processing)) else {
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
            let (to, gas) = (self.chain.forwarder, gas + EXECUTE_OVERHEAD_GAS);
            let signed = self.sign_and_record(&txn, nonce, Some(rr.relay_request_id.clone()), to, call, gas, fees, head).await?;
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
