//! The relayer of one chain and key, one instance at a time (lease `relayer:{chainId}`).
//!
//! Each step: (1) follows its sent transactions: a mined one settles its relay request (CONFIRMED, or FAILED
//! and the payment back to PENDING when it reverted and the contract shows it unpaid) and retires the others at
//! its nonce; one the node no longer knows is broadcast again, after checking it can still succeed (its deadline,
//! a fresh simulation; one that cannot is replaced by a 0-value transfer at its nonce); what a node answers to a
//! send is read for what it means ([`SendRefusal`]): a nonce used is reconciled, insufficient funds pause sending
//! until the relayer is funded (never a fee bump), a busy node is tried again later; only a transaction unmined for
//! the chain's `bump_after_blocks` is replaced at the same nonce with the configured fee step, at most
//! `max_replacements` times, never with a copy of the last; one nonce's trouble never stops the others; a nonce the chain has used is never sent again blindly: Settle
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
    alloy_sol::SolCall,
    contracts::getPaymentCall,
    rpc::{RpcError, SendRefusal, is_revert},
    tx::{Fees, sign_1559},
};
use settle_domain::PaymentStatus;
use settle_store::{StoreError, payments as payments_store, relay};

use super::Chain;
use crate::{
    Context,
    lease::LeaseHolder,
    ledger::{Fact, after_transition, transition_in},
    worker::Outcome,
};

/// A forward request is sent (or sent again) only while its deadline is at least this far ahead (seconds).
pub const DEADLINE_MARGIN_SECS: u64 = 30;
/// How long new relays wait after a node answered that it is busy.
const BUSY_BACKOFF_MS: i64 = 2_000;
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
    /// Until when (epoch ms) no new relay is sent: a node said it is busy.
    backoff_until: Arc<std::sync::atomic::AtomicI64>,
    /// Transactions an operator was already told are stuck for good (each is told once, whatever the poll).
    alerted: Arc<std::sync::Mutex<std::collections::HashSet<i64>>>,
}

/// A payment a relay did not pay, to be moved back to PENDING with this event data.
struct Revert {
    row: settle_store::payments::PaymentRow,
    data: serde_json::Value,
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
    #[error(transparent)]
    App(#[from] crate::AppError),
    /// The lease lapsed or passed to another instance during the step: nothing more is written.
    #[error("the relayer's lease was lost during the step")]
    LeaseLost,
}

impl Relayer {
    pub fn new(ctx: Context, chain: Chain) -> Self {
        let name = format!("relayer:{}", chain.chain_id);
        let address = chain.relayer.address().to_checksum(None);
        Self {
            lease: LeaseHolder::new(ctx.clone(), name),
            ctx,
            chain,
            address,
            holding: Arc::new(AtomicBool::new(false)),
            backoff_until: Default::default(),
            alerted: Default::default(),
        }
    }

    pub fn poll(&self) -> std::time::Duration {
        self.chain.poll
    }

    pub async fn release(&self) {
        self.lease.release().await;
    }

    /// Begins a database transaction whose writes are fenced by the lease: it is checked (row locked) before
    /// anything is written, so a relayer whose lease lapsed during a slow step writes nothing (another instance may
    /// be sending the same requests at the same nonces).
    async fn fenced(&self) -> Result<settle_store::Txn, RelayError> {
        let txn = settle_store::begin(&self.ctx.db).await?;
        if !self.lease.fence(&txn).await? {
            return Err(RelayError::LeaseLost);
        }
        Ok(txn)
    }

    /// Renews the lease between the items of a long step (each may wait on slow RPC calls); ends the step when it
    /// was lost.
    async fn keep_lease(&self) -> Result<(), RelayError> {
        if self.lease.keep().await? { Ok(()) } else { Err(RelayError::LeaseLost) }
    }

    /// True the first time a transaction is found stuck for good (an error line once, not once a poll).
    fn first_alert(&self, tx_id: i64) -> bool {
        let mut alerted = self.alerted.lock().unwrap_or_else(|p| p.into_inner());
        if alerted.len() > 10_000 {
            alerted.clear();
        }
        alerted.insert(tx_id)
    }

    fn rpc_err(&self, e: RpcError) -> RelayError {
        RelayError::Rpc(self.chain.chain_id, e)
    }

    pub async fn run_once(&self) -> Result<Outcome, RelayError> {
        if !self.lease.hold(settle_store::now_ms()).await? {
            if self.holding.swap(false, Ordering::Relaxed) {
                // What this instance saw as the holder is another's to see now.
                self.chain.observe(|st| {
                    st.funds_short = None;
                    st.stuck = None;
                });
            }
            return Ok(Outcome::Idle);
        }
        let taken = !self.holding.load(Ordering::Relaxed);
        if taken {
            self.chain.observe(|st| st.funds_short = None);
        }
        match self.lease.renewed_during(self.step(taken)).await {
            Err(RelayError::LeaseLost) => {
                // Another instance holds the lease (or will): this step's reads may be stale, so it ends here. The
                // next step takes the lease afresh, if it is free, and reads everything again.
                tracing::info!(chain = self.chain.chain_id, "the relayer's lease was lost during a step; the step ends without writing");
                metrics::counter!("settle_chain_relayer_lease_lost_total", "chain" => self.chain.chain_id.to_string()).increment(1);
                self.holding.store(false, Ordering::Relaxed);
                // What this instance saw as the holder is another's to see now.
                self.chain.observe(|st| {
                    st.funds_short = None;
                    st.stuck = None;
                });
                Ok(Outcome::Idle)
            }
            other => other,
        }
    }

    /// One step under the lease: follow, then send.
    async fn step(&self, taken: bool) -> Result<Outcome, RelayError> {
        // Following one's transactions failing (a node down, one nonce in trouble) never stops sending new ones.
        let followed = match self.follow(taken).await {
            Ok(n) => {
                self.holding.store(true, Ordering::Relaxed);
                n
            }
            Err(RelayError::LeaseLost) => return Err(RelayError::LeaseLost),
            Err(e) => {
                tracing::warn!(chain = self.chain.chain_id, error = %e, "following the relayer's transactions failed; it is tried again next step");
                0
            }
        };
        let balance = self.read_balance().await;
        let backing_off = self.backoff_until.load(Ordering::Relaxed) > settle_store::now_ms();
        let sent = if self.sending_paused(balance) || backing_off { 0 } else { self.send_pending().await? };
        Ok(if followed + sent > 0 { Outcome::Worked(followed + sent) } else { Outcome::Idle })
    }

    /// The relayer's balance, recorded for /health and the metric (None: the node did not answer).
    async fn read_balance(&self) -> Option<u128> {
        let wei = self.chain.rpc.balance(self.chain.relayer.address()).await.ok()?.saturating_to::<u128>();
        metrics::gauge!("settle_chain_relayer_balance_wei", "chain" => self.chain.chain_id.to_string()).set(wei as f64);
        let was_low = self.chain.observed().relayer_balance_wei.is_some_and(|w| w < self.chain.low_balance_wei);
        if wei < self.chain.low_balance_wei && !was_low {
            tracing::warn!(chain = self.chain.chain_id, relayer = %self.address, balance_wei = %wei, "the relayer's balance is low: fund it before relays fail");
        }
        self.chain.observe(|st| st.relayer_balance_wei = Some(wei));
        Some(wei)
    }

    /// Whether sending waits for funds: a node refused a transaction for insufficient funds, and the balance read
    /// since neither covers that transaction nor has grown (a refusal before any balance was read waits for the
    /// first read). Sending resumes then, and on any send a node takes.
    fn sending_paused(&self, balance: Option<u128>) -> bool {
        let Some(short) = self.chain.observed().funds_short else { return false };
        let covered = |now: u128| short.needed_wei.is_some_and(|n| now >= n) || short.balance_wei.is_none_or(|then| now > then);
        if balance.is_some_and(covered) {
            tracing::info!(chain = self.chain.chain_id, relayer = %self.address, "the relayer was funded: sending resumes");
            self.chain.observe(|st| st.funds_short = None);
            return false;
        }
        true
    }

    /// A node took a transaction: whatever it said of funds before no longer holds.
    fn funds_fine(&self) {
        if self.chain.observed().funds_short.is_some() {
            tracing::info!(chain = self.chain.chain_id, relayer = %self.address, "a node took the relayer's transaction: sending resumes");
            self.chain.observe(|st| st.funds_short = None);
        }
    }

    /// A node refused a transaction for insufficient funds: sending pauses, an operator is told. Fees are never
    /// raised for it (that only makes the transaction cost more). `needed`: what the refused transaction may cost.
    fn short_of_funds(&self, nonce: i64, e: &RpcError, needed: Option<u128>) {
        let id = self.chain.chain_id;
        metrics::counter!("settle_chain_relayer_insufficient_funds_total", "chain" => id.to_string()).increment(1);
        if self.chain.observed().funds_short.is_none() {
            tracing::error!(chain = id, relayer = %self.address, nonce, error = %e, "the node refused a relayed transaction: the relayer cannot pay for its gas. Sending is paused until the relayer is funded");
        }
        let balance = self.chain.observed().relayer_balance_wei;
        self.chain.observe(|st| {
            st.funds_short.get_or_insert(super::settings::FundsShort {
                since_ms: settle_store::now_ms(),
                balance_wei: balance,
                needed_wei: needed,
                reason: e.message(),
            });
        });
    }

    /// Follows sent transactions and reconciles the recorded nonces with the chain's (one `eth_getTransactionCount`
    /// per step when nothing is in flight); returns how many changed.
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
        let recorded_next = relay::next_nonce(&self.ctx.db, id, &self.address).await?;
        let Some(recorded_next) = recorded_next else { return Ok(0) };
        // The mined count first: receipts read after it are at least as new.
        let mined = self.chain.rpc.nonce(self.chain.relayer.address(), "latest").await.map_err(|e| self.rpc_err(e))? as i64;
        // Nothing in flight and every recorded nonce mined: nothing to follow. (Below the recorded count, with nothing
        // in flight, a reorg has taken a mined transaction out, or a nonce was never filled: looked at below.)
        if txs.is_empty() && !after_taking_lease && mined >= recorded_next {
            return Ok(0);
        }
        let head = self.chain.rpc.block_number().await.map_err(|e| self.rpc_err(e))? as i64;
        let mut n = 0;
        let mut i = 0;
        let mut oldest: Option<super::settings::Stuck> = None;
        while i < txs.len() {
            let nonce = txs[i].nonce;
            let group: Vec<&relay::RelayTxRow> = txs[i..].iter().take_while(|t| t.nonce == nonce).collect();
            i += group.len();
            self.keep_lease().await?;
            match self.follow_nonce(&group, mined, head).await {
                Ok((k, stuck)) => {
                    n += k;
                    if oldest.is_none() {
                        oldest = stuck;
                    }
                }
                Err(RelayError::LeaseLost) => return Err(RelayError::LeaseLost),
                // One nonce's trouble (an unreadable row, a node refusing one call) never stops the others.
                Err(e) => {
                    metrics::counter!("settle_chain_relayer_nonce_errors_total", "chain" => id.to_string()).increment(1);
                    tracing::warn!(chain = id, nonce, error = %e, "following this nonce failed; the others go on, it is tried again next step");
                }
            }
        }
        metrics::gauge!("settle_chain_relayer_stuck_blocks", "chain" => id.to_string()).set(oldest.map_or(0, |s| s.blocks) as f64);
        self.chain.observe(|st| st.stuck = oldest);
        self.keep_lease().await?;
        n += self.fill_gaps(&txs, mined, recorded_next, head).await?;
        Ok(n)
    }

    /// Follows the transactions at one nonce (oldest first); returns how many changed and, when the nonce is still
    /// waiting to be mined, how it stands.
    async fn follow_nonce(&self, group: &[&relay::RelayTxRow], mined: i64, head: i64) -> Result<(usize, Option<super::settings::Stuck>), RelayError> {
        let id = self.chain.chain_id as i64;
        let nonce = group[0].nonce;
        if self.settled_if_mined(group).await? {
            return Ok((1, None));
        }
        if nonce < mined {
            return Ok((self.resolve_used_nonce(nonce).await?, None));
        }
        // Only the newest transaction at a nonce is looked after; older ones are retired when any is mined.
        let tx = group[group.len() - 1];
        let replacements = group.len() - 1;
        let waited = head - tx.sent_block;
        let stuck = |exhausted: bool| Some(super::settings::Stuck { nonce, blocks: waited, replacements, exhausted });
        let mut known = self.chain.rpc.knows_transaction(Self::hash_of(tx, id)?).await.map_err(|e| self.rpc_err(e))?;
        if !known {
            // Not in the node's pool (dropped, or never taken: a send that failed). Before the same bytes go out
            // again, make sure they can still succeed; then read what the node answers.
            if let Some(why) = self.hopeless(tx).await? {
                if self.settled_if_mined(group).await? {
                    return Ok((1, None));
                }
                return Ok((self.retire(tx, &why, head, false).await?, stuck(false)));
            }
            let raw: Bytes = tx.raw_tx.parse().map_err(|_| RelayError::Sign(self.chain.chain_id, "a stored transaction is unreadable".into()))?;
            match self.chain.rpc.send_raw(&raw).await {
                Ok(_) => {
                    metrics::counter!("settle_chain_rebroadcasts_total", "chain" => id.to_string()).increment(1);
                    tracing::warn!(chain = id, nonce, tx = %tx.tx_hash, "relayed transaction not in the node's pool; broadcast it again");
                    self.funds_fine();
                    // Its stuck period counts from this broadcast the node took (not from when it was signed).
                    let txn = self.fenced().await?;
                    relay::set_tx_sent_block(&txn, tx.id, head).await?;
                    txn.commit().await.map_err(StoreError::from)?;
                    // Not progress: the worker waits its poll before the next step.
                    return Ok((0, stuck(false)));
                }
                Err(e) => match SendRefusal::of(&e) {
                    // A node that says it knows what another says it does not: replaced after its stuck period (a
                    // filler then has to outbid it).
                    SendRefusal::AlreadyKnown => known = true,
                    SendRefusal::NonceTooLow => {
                        let now_mined = self.chain.rpc.nonce(self.chain.relayer.address(), "latest").await.map_err(|e| self.rpc_err(e))? as i64;
                        if nonce < now_mined {
                            tracing::warn!(chain = id, nonce, tx = %tx.tx_hash, error = %e, "the node refused a rebroadcast: its nonce is used; finding which transaction used it");
                            return Ok((self.resolve_used_nonce(nonce).await?, None));
                        }
                        return Ok((0, stuck(false)));
                    }
                    SendRefusal::InsufficientFunds => {
                        self.short_of_funds(nonce, &e, Self::cost_of(tx));
                        return Ok((0, stuck(false)));
                    }
                    SendRefusal::Fatal => {
                        if self.settled_if_mined(group).await? {
                            return Ok((1, None));
                        }
                        let why = format!("the node refuses it as it is: {}", e.message());
                        return Ok((self.retire(tx, &why, head, false).await?, stuck(false)));
                    }
                    SendRefusal::Busy => {
                        tracing::debug!(chain = id, nonce, error = %e, "the node is busy; the transaction is sent again later");
                        return Ok((0, stuck(false)));
                    }
                    // Underpriced (the pool holds something at this nonce, which a filler must then outbid), or refused
                    // as it is: replaced once it has waited its stuck period, as below.
                    SendRefusal::Underpriced => {
                        known = true;
                        tracing::warn!(chain = id, nonce, tx = %tx.tx_hash, error = %e, "the node refused a rebroadcast as underpriced");
                    }
                    SendRefusal::Other => {
                        tracing::warn!(chain = id, nonce, tx = %tx.tx_hash, error = %e, "the node refused a rebroadcast");
                    }
                },
            }
        }
        if waited < self.chain.bump_after_blocks {
            return Ok((0, stuck(false)));
        }
        if replacements >= self.chain.max_replacements {
            if self.first_alert(tx.id) {
                tracing::error!(chain = id, nonce, tx = %tx.tx_hash, replacements, "a relayed transaction is still unmined after its last allowed replacement: it waits (check the relayer's funds and the network's fees)");
            }
            return Ok((0, stuck(true)));
        }
        if let Some(why) = self.hopeless(tx).await? {
            if self.settled_if_mined(group).await? {
                return Ok((1, None));
            }
            let retired = self.retire(tx, &why, head, known).await?;
            return Ok((retired, stuck(retired == 0)));
        }
        let replaced = self.bump(tx, head).await?;
        Ok((usize::from(replaced), stuck(!replaced)))
    }

    /// Settles the nonce if one of its transactions has a receipt. Asked first, and again just before a transaction is
    /// retired: a relay mined after its receipt was first read no longer simulates (its forward request's nonce is
    /// used) and is no longer in the pool, and must not be taken for one that can never succeed.
    async fn settled_if_mined(&self, group: &[&relay::RelayTxRow]) -> Result<bool, RelayError> {
        let id = self.chain.chain_id as i64;
        for tx in group {
            if let Some(receipt) = self.chain.rpc.receipt(Self::hash_of(tx, id)?).await.map_err(|e| self.rpc_err(e))? {
                self.settle_mined(tx, &receipt).await?;
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Why a relayed transaction can no longer succeed (None: it can, or it is a filler): its forward request's
    /// deadline is passed or too near, or the request no longer simulates. A node that does not answer decides
    /// nothing.
    async fn hopeless(&self, tx: &relay::RelayTxRow) -> Result<Option<String>, RelayError> {
        let Some(rr_id) = &tx.relay_request_id else { return Ok(None) };
        let Some(rr) = relay::find_request(&self.ctx.db, rr_id).await? else { return Ok(None) };
        if rr.status != relay::SENT {
            return Ok(None);
        }
        let Some((to, call, _)) = self.call_of(&rr) else { return Ok(Some("the stored request is unreadable".into())) };
        if Self::is_cancel(&rr) && payments_store::find_any(&self.ctx.db, &rr.payment_id).await?.is_none_or(|p| p.status != PaymentStatus::Cancelling)
        {
            return Ok(Some("its payment is no longer CANCELLING".into()));
        }
        if let Some(refund_id) = Self::refund_of(&rr)
            && let Some(why) = self.refund_unwanted(&rr, &refund_id).await?
        {
            return Ok(Some(why));
        }
        if let Some(deadline) = Self::deadline_of(&rr)
            && deadline <= now_secs() + DEADLINE_MARGIN_SECS
        {
            return Ok(Some(format!("its forward request's deadline ({deadline}) has passed or is too near")));
        }
        match self.chain.rpc.eth_call(Some(self.chain.relayer.address()), to, &call).await {
            Ok(_) => Ok(None),
            Err(e) if is_revert(&e) => Ok(Some(format!("it no longer simulates: {}", e.message()))),
            // Not a verdict (rate limited, a lagging or pruned node): decided on a later step.
            Err(e) => Err(self.rpc_err(e)),
        }
    }

    /// The most a recorded transaction may cost (its gas limit at its max fee), when readable.
    fn cost_of(tx: &relay::RelayTxRow) -> Option<u128> {
        let raw: Bytes = tx.raw_tx.parse().ok()?;
        let envelope = settle_chain::tx::decode(&raw)?;
        Some(u128::from(envelope.0).saturating_mul(envelope.1))
    }

    /// `fees` within the chain's cap (`max_fee_gwei`), the tip never above the max fee.
    fn capped(&self, fees: Fees) -> Fees {
        let max_fee_per_gas = fees.max_fee_per_gas.min(self.chain.max_fee);
        Fees { max_fee_per_gas, max_priority_fee_per_gas: fees.max_priority_fee_per_gas.min(max_fee_per_gas) }
    }

    /// Replaces a relayed transaction that can no longer succeed by a 0-value transfer at its nonce (cheap, and the
    /// later nonces are not held up). Its request is WITHDRAWING and its payment stays PROCESSING until something
    /// is mined at that nonce: the original may still be (it was in some pool), and then it paid. When `known` (the
    /// node holds the original) the filler must outbid it; otherwise it goes at the network's fees, capped. Returns
    /// 1 when the filler was made.
    async fn retire(&self, tx: &relay::RelayTxRow, why: &str, head: i64, known: bool) -> Result<usize, RelayError> {
        let id = self.chain.chain_id as i64;
        let fees =
            if known { self.replacement_fees(tx).await? } else { Some(self.capped(self.chain.rpc.fees().await.map_err(|e| self.rpc_err(e))?)) };
        let Some(fees) = fees else {
            if self.first_alert(tx.id) {
                tracing::error!(chain = id, nonce = tx.nonce, tx = %tx.tx_hash, "a relayed transaction that can no longer succeed cannot be outbid: its fees are at the cap");
            }
            return Ok(0);
        };
        let rr = match &tx.relay_request_id {
            Some(r) => relay::find_request(&self.ctx.db, r).await?,
            None => None,
        };
        let now = settle_store::now_ms();
        let me = self.chain.relayer.address();
        // The last look before a filler is made: a nonce the chain has used meanwhile (the original mined a moment
        // ago) needs none, and the next step settles it. (What is mined after this read leaves the filler REPLACED.)
        let used = self.chain.rpc.nonce(me, "latest").await.map_err(|e| self.rpc_err(e))? as i64;
        if used > tx.nonce {
            return Ok(0);
        }
        let txn = self.fenced().await?;
        if !Self::still_newest(&txn, tx).await? {
            return Ok(0);
        }
        let signed = self.sign_and_record(&txn, tx.nonce, None, me, Bytes::new(), FILL_GAS, fees, head).await?;
        if let Some(rr) = &rr {
            relay::set_request_status(&txn, rr.id, relay::SENT, relay::WITHDRAWING, None, Some(&format!("withdrawing: {why}")), now).await?;
        }
        txn.commit().await.map_err(StoreError::from)?;
        tracing::warn!(chain = id, nonce = tx.nonce, old = %tx.tx_hash, new = %signed.hash, "a relayed transaction can no longer succeed ({why}); replaced by a 0-value transfer at its nonce");
        if let Err(e) = self.chain.rpc.send_raw(&signed.raw).await {
            tracing::warn!(chain = id, nonce = tx.nonce, error = %e, "the filler's broadcast failed; it will be sent again");
        }
        Ok(1)
    }

    /// Fees for a replacement of `tx`: the configured step above its own, at least what the network asks now, at
    /// most the cap. None when that would be no higher than `tx`'s (at the cap): a copy is never built.
    async fn replacement_fees(&self, tx: &relay::RelayTxRow) -> Result<Option<Fees>, RelayError> {
        let old = Fees { max_fee_per_gas: tx.max_fee.parse().unwrap_or(0), max_priority_fee_per_gas: tx.max_priority_fee.parse().unwrap_or(0) };
        let now_fees = self.chain.rpc.fees().await.map_err(|e| self.rpc_err(e))?;
        let cap = self.chain.max_fee;
        let mut fees = old.bumped_by(self.chain.fee_bump_percent, cap);
        fees.max_fee_per_gas = fees.max_fee_per_gas.max(now_fees.max_fee_per_gas.min(cap));
        fees.max_priority_fee_per_gas = fees.max_priority_fee_per_gas.min(fees.max_fee_per_gas);
        // A node takes a replacement only when both fees rise (by 10 % or more).
        let raised = |new: u128, old: u128| new >= old + old.div_ceil(10) && new > old;
        if !raised(fees.max_fee_per_gas, old.max_fee_per_gas) || !raised(fees.max_priority_fee_per_gas, old.max_priority_fee_per_gas) {
            metrics::counter!("settle_chain_fee_cap_reached_total", "chain" => self.chain.chain_id.to_string()).increment(1);
            return Ok(None);
        }
        Ok(Some(fees))
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
        let mut reverts = Vec::new();
        if !ok && let Some(rr) = &rr {
            // Reverted: often because someone sent the same public calldata first, and then the payment is made.
            // The contract at the receipt's block says which.
            let at = Some(receipt.block_number.saturating_to::<u64>());
            reverts.extend(
                self.revert_verdict(&rr.payment_id, &tx.tx_hash, at, "relay_reverted", "the relayed transaction reverted; nothing was paid").await?,
            );
        }
        // Requests withdrawn at this nonce whose own transaction was not the one mined (a filler took the nonce):
        // they paid nothing, unless the contract says otherwise at this block.
        let at_block = Some(receipt.block_number.saturating_to::<u64>());
        let at_nonce = relay::txs_at(&self.ctx.db, id, &self.address, tx.nonce).await?;
        let mut withdrawn = Vec::new();
        for other in at_nonce.iter().filter(|o| o.relay_request_id.is_some() && o.relay_request_id != tx.relay_request_id) {
            let Some(orr) = relay::find_request(&self.ctx.db, other.relay_request_id.as_deref().unwrap_or_default()).await? else { continue };
            if orr.status == relay::WITHDRAWING && !withdrawn.iter().any(|w: &relay::RelayRequestRow| w.id == orr.id) {
                reverts.extend(
                    self.revert_verdict(
                        &orr.payment_id,
                        &other.tx_hash,
                        at_block,
                        "relay_expired",
                        "the relay was withdrawn before it was mined; nothing was paid",
                    )
                    .await?,
                );
                withdrawn.push(orr);
            }
        }
        // Everything the receipt settles, in one fenced transaction: its logs (the watcher need not have seen them in
        // its own reads; it still applies them only at their confirmations, on the canonical chain), the payments
        // that paid nothing back to PENDING, and the statuses. An error or a lost lease in between leaves it all to
        // be settled again on the next step.
        let now = settle_store::now_ms();
        let txn = self.fenced().await?;
        if ok {
            let gateways = self.chain.gateways();
            for l in receipt.logs.iter().filter(|l| gateways.contains(&l.address)) {
                super::watcher::record_log(&txn, id, l).await?;
            }
        }
        let moved = Self::apply_reverts(&txn, &reverts).await?;
        for other in &at_nonce {
            let status = if other.id == tx.id { relay::MINED } else { relay::REPLACED };
            relay::set_tx_status(&txn, other.id, status, now).await?;
        }
        if let Some(rr) = rr {
            let to = if ok { relay::CONFIRMED } else { relay::FAILED };
            let why = (!ok).then_some("the transaction reverted");
            // Sent, or being withdrawn when its own transaction was mined after all.
            if !relay::set_request_status(&txn, rr.id, relay::SENT, to, Some(&tx.tx_hash), why, now).await? {
                relay::set_request_status(&txn, rr.id, relay::WITHDRAWING, to, Some(&tx.tx_hash), why, now).await?;
            }
        }
        for w in &withdrawn {
            relay::set_request_status(&txn, w.id, relay::WITHDRAWING, relay::FAILED, None, Some("withdrawn: a 0-value transfer took its nonce"), now)
                .await?;
        }
        txn.commit().await.map_err(StoreError::from)?;
        self.after_reverts(&moved).await;
        if !withdrawn.is_empty() {
            metrics::counter!("settle_chain_relays_withdrawn_total", "chain" => id.to_string()).increment(withdrawn.len() as u64);
        }
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
        let mut reverts = Vec::new();
        for rr_id in ids {
            let Some(rr) = relay::find_request(&self.ctx.db, rr_id).await? else { continue };
            if rr.status == relay::WITHDRAWING {
                // Being withdrawn, and another transaction took its nonce: it paid nothing (unless the contract says so).
                reverts.extend(
                    self.revert_verdict(&rr.payment_id, "", None, "relay_expired", "the relay was withdrawn before it was mined; nothing was paid")
                        .await?,
                );
                verdicts.push((rr, Err("it was being withdrawn".to_owned())));
                continue;
            }
            if rr.status != relay::SENT {
                continue;
            }
            let verdict = match self.call_of(&rr) {
                None => Err("the stored request is unreadable".to_owned()),
                Some((to, call, _)) => match self.chain.rpc.eth_call(Some(self.chain.relayer.address()), to, &call).await {
                    Ok(_) => Ok(()),
                    Err(e) if is_revert(&e) => Err(e.message()),
                    // The node did not answer: decided on a later step, nothing changed.
                    Err(e) => return Err(self.rpc_err(e)),
                },
            };
            if verdict.is_err() {
                let hash = at.iter().rev().find(|t| t.relay_request_id.as_ref() == Some(rr_id)).map(|t| t.tx_hash.clone()).unwrap_or_default();
                reverts.extend(
                    self.revert_verdict(
                        &rr.payment_id,
                        &hash,
                        None,
                        "relay_reverted",
                        "the relay no longer simulates after its nonce was used by another transaction; nothing was paid",
                    )
                    .await?,
                );
            }
            verdicts.push((rr, verdict));
        }
        let now = settle_store::now_ms();
        let txn = self.fenced().await?;
        let moved = Self::apply_reverts(&txn, &reverts).await?;
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
            relay::set_request_status(&txn, rr.id, &rr.status, to, None, Some(&why), now).await?;
        }
        txn.commit().await.map_err(StoreError::from)?;
        self.after_reverts(&moved).await;
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
            if let Some(t) = relay::txs_at(&self.ctx.db, id, &self.address, nonce).await?.into_iter().find(|t| t.status == relay::MINED) {
                // Recorded mined, yet the chain's count is below it: a reorg took it out of its block. When no receipt
                // shows it any more it is followed again (broadcast again if it can still succeed, else replaced by a
                // filler), so its nonce is never left open.
                if self.chain.rpc.receipt(Self::hash_of(&t, id)?).await.map_err(|e| self.rpc_err(e))?.is_none() {
                    let now = settle_store::now_ms();
                    let txn = self.fenced().await?;
                    relay::set_tx_status(&txn, t.id, relay::SENT, now).await?;
                    if let Some(rr) = match &t.relay_request_id {
                        Some(r) => relay::find_request(&txn, r).await?,
                        None => None,
                    } {
                        relay::set_request_status(
                            &txn,
                            rr.id,
                            relay::CONFIRMED,
                            relay::SENT,
                            Some(&t.tx_hash),
                            Some("its transaction left the canonical chain"),
                            now,
                        )
                        .await?;
                    }
                    txn.commit().await.map_err(StoreError::from)?;
                    metrics::counter!("settle_chain_relays_reorged_total", "chain" => id.to_string()).increment(1);
                    tracing::warn!(chain = id, nonce, tx = %t.tx_hash, "a mined relay left the canonical chain: followed again");
                    n += 1;
                }
                continue;
            }
            let fees = match fees {
                Some(f) => f,
                None => *fees.insert(self.capped(self.chain.rpc.fees().await.map_err(|e| self.rpc_err(e))?)),
            };
            let me = self.chain.relayer.address();
            let txn = self.fenced().await?;
            // Read again under the fence: a transaction recorded at this nonce since the step began is not a gap.
            if relay::txs_at(&txn, id, &self.address, nonce).await?.iter().any(|t| t.status == relay::SENT || t.status == relay::MINED) {
                continue;
            }
            let signed = self.sign_and_record(&txn, nonce, None, me, Bytes::new(), FILL_GAS, fees, head).await?;
            txn.commit().await.map_err(StoreError::from)?;
            tracing::warn!(chain = id, nonce, tx = %signed.hash, "nonce {nonce} has no transaction of ours; filling it with a 0-value transfer so the later ones can be mined");
            metrics::counter!("settle_chain_nonce_fills_total", "chain" => id.to_string()).increment(1);
            if let Err(e) = self.chain.rpc.send_raw(&signed.raw).await {
                tracing::warn!(chain = id, nonce, error = %e, "broadcast failed; it will be sent again");
            }
            n += 1;
        }
        Ok(n)
    }

    /// A relay that will not pay: its payment is to go back to PENDING (the payer may try again), unless the contract
    /// (at block `at`, or the latest) shows it paid, by this or another transaction: then it stays PROCESSING and the
    /// watcher completes it from the payment's log. A node that does not answer changes nothing. The move itself is
    /// made by [`Self::apply_reverts`], in the transaction that settles the relay's statuses.
    async fn revert_verdict(
        &self,
        payment_id: &str,
        tx_hash: &str,
        at: Option<u64>,
        code: &str,
        message: &str,
    ) -> Result<Option<Revert>, RelayError> {
        let Some(row) = payments_store::find_any(&self.ctx.db, payment_id).await? else { return Ok(None) };
        if row.status != PaymentStatus::Processing {
            return Ok(None);
        }
        // Asked of the payment's own gateway. A node that does not answer decides nothing; a gateway the chain no
        // longer lists cannot say the payment unpaid: it stays PROCESSING.
        let gateway = match self.chain.for_payment(&row).await {
            Ok(c) => c.gateway,
            Err(crate::AppError::ChainUnavailable) => return Err(RelayError::App(crate::AppError::ChainUnavailable)),
            Err(_) => return Ok(None),
        };
        if let Ok(pid) = payment_id.parse::<B256>() {
            let call = getPaymentCall { paymentId: pid }.abi_encode();
            let call: Bytes = call.into();
            let out = match self.chain.rpc.eth_call_at(None, gateway, &call, at).await {
                Ok(out) => out,
                // A node that pruned (or has not reached) that block: the latest state says as much (a payment made
                // stays made).
                Err(RpcError::Node { .. }) if at.is_some() => self.chain.rpc.eth_call(None, gateway, &call).await.map_err(|e| self.rpc_err(e))?,
                Err(e) => return Err(self.rpc_err(e)),
            };
            if getPaymentCall::abi_decode_returns(&out).is_ok_and(|p| !p.payer.is_zero()) {
                metrics::counter!("settle_chain_relay_reverted_but_paid_total", "chain" => self.chain.chain_id.to_string()).increment(1);
                tracing::info!(chain = self.chain.chain_id, payment = %payment_id, tx = %tx_hash, "the relay did not pay, but the contract shows the payment made (by another transaction): it stays PROCESSING until its log is confirmed");
                return Ok(None);
            }
        }
        Ok(Some(Revert { row, data: serde_json::json!({"code": code, "txHash": tx_hash, "message": message}) }))
    }

    /// Moves the payments of `reverts` back to PENDING in the caller's fenced transaction (each a compare-and-set:
    /// one another writer moved first is left alone); returns those moved, for [`Self::after_reverts`] once committed.
    async fn apply_reverts(
        txn: &settle_store::DatabaseTransaction,
        reverts: &[Revert],
    ) -> Result<Vec<settle_store::payments::PaymentRow>, RelayError> {
        let mut moved = Vec::new();
        for r in reverts {
            if let Some((next, _)) = transition_in(txn, &r.row, Fact::Reopened, Default::default(), Some(r.data.clone()), None).await? {
                moved.push(next);
            }
        }
        Ok(moved)
    }

    async fn after_reverts(&self, moved: &[settle_store::payments::PaymentRow]) {
        for next in moved {
            after_transition(&self.ctx, next).await;
        }
    }

    /// The forward request's deadline (Unix seconds), when the stored request has it.
    fn deadline_of(rr: &relay::RelayRequestRow) -> Option<u64> {
        let v: serde_json::Value = serde_json::from_str(rr.request.as_deref()?).ok()?;
        let d = &v["request"]["deadline"];
        d.as_u64().or_else(|| d.as_str()?.parse().ok())
    }

    /// What a relay request sends, to the contract it was made for (recorded with it: the payment's forwarder or
    /// gateway, which may be one the chain has since replaced): a payer's forward request (the forwarder's `execute`,
    /// with its gas and the forwarder's overhead), Settle's cancellation of a payment (the gateway's `cancel`) or a
    /// refund (the gateway's `refund` or `refundWithPermit`). None for a contract that is not one of the chain's.
    fn call_of(&self, rr: &relay::RelayRequestRow) -> Option<(settle_chain::Address, Bytes, u64)> {
        let v: serde_json::Value = serde_json::from_str(rr.request.as_deref()?).ok()?;
        let gas = v["gas"].as_u64()?;
        let to: settle_chain::Address = rr.forwarder_address.parse().ok()?;
        if !self.chain.is_contract(to) {
            return None;
        }
        match v["cancel"].as_str().or_else(|| v["refund"].as_str()) {
            Some(call) => Some((to, call.parse().ok()?, gas)),
            None => Some((to, v["execute"].as_str()?.parse().ok()?, gas + EXECUTE_OVERHEAD_GAS)),
        }
    }

    /// The refund a relay request carries out, if it is one.
    fn refund_of(rr: &relay::RelayRequestRow) -> Option<String> {
        let v: serde_json::Value = serde_json::from_str(rr.request.as_deref()?).ok()?;
        v["refundId"].as_str().map(str::to_owned)
    }

    /// Why a refund's relay request is no longer wanted (None: its refund is PENDING and waits for this request).
    async fn refund_unwanted(&self, rr: &relay::RelayRequestRow, refund_id: &str) -> Result<Option<String>, RelayError> {
        let row = settle_store::refunds::find_any(&self.ctx.db, refund_id).await?;
        Ok(match row {
            Some(r) if r.status == settle_domain::RefundStatus::Pending && r.gateway_refund_key.as_deref() == Some(&rr.relay_request_id) => None,
            Some(r) => Some(format!("its refund is {} (or waits for another request)", r.status)),
            None => Some("its refund is not recorded".into()),
        })
    }

    /// Whether a relay request cancels its payment (rather than paying it).
    fn is_cancel(rr: &relay::RelayRequestRow) -> bool {
        rr.request.as_deref().and_then(|r| serde_json::from_str::<serde_json::Value>(r).ok()).is_some_and(|v| v["cancel"].is_string())
    }

    /// What a recorded transaction sends: the forwarder call of its relay request, or (a filler) nothing to the
    /// relayer itself.
    async fn payload_of(&self, tx: &relay::RelayTxRow) -> Result<Option<(settle_chain::Address, Bytes, u64)>, RelayError> {
        let Some(rr_id) = &tx.relay_request_id else { return Ok(Some((self.chain.relayer.address(), Bytes::new(), FILL_GAS))) };
        let Some(rr) = relay::find_request(&self.ctx.db, rr_id).await? else { return Ok(None) };
        Ok(self.call_of(&rr))
    }

    /// Replaces a stuck transaction at its nonce with the configured fee step; false when it cannot be (its request
    /// unreadable, or the fees at the cap: a copy of the last is never built).
    async fn bump(&self, tx: &relay::RelayTxRow, head: i64) -> Result<bool, RelayError> {
        let id = self.chain.chain_id as i64;
        let Some((to, data, gas)) = self.payload_of(tx).await? else {
            tracing::error!(chain = id, nonce = tx.nonce, tx = %tx.tx_hash, "a stuck transaction's request is unreadable; it cannot be replaced");
            return Ok(false);
        };
        let Some(fees) = self.replacement_fees(tx).await? else {
            if self.first_alert(tx.id) {
                tracing::error!(chain = id, nonce = tx.nonce, tx = %tx.tx_hash, "a stuck relayed transaction offers the most fee allowed (max_fee_gwei): it waits");
            }
            return Ok(false);
        };
        let txn = self.fenced().await?;
        if !Self::still_newest(&txn, tx).await? {
            return Ok(false);
        }
        let signed = self.sign_and_record(&txn, tx.nonce, tx.relay_request_id.clone(), to, data, gas, fees, head).await?;
        txn.commit().await.map_err(StoreError::from)?;
        tracing::warn!(chain = id, nonce = tx.nonce, old = %tx.tx_hash, new = %signed.hash, "relayed transaction stuck; replaced with higher fees");
        metrics::counter!("settle_chain_fee_bumps_total", "chain" => id.to_string()).increment(1);
        if let Err(e) = self.chain.rpc.send_raw(&signed.raw).await {
            match SendRefusal::of(&e) {
                SendRefusal::InsufficientFunds => self.short_of_funds(tx.nonce, &e, u128::from(gas).checked_mul(fees.max_fee_per_gas)),
                _ => tracing::debug!(chain = id, error = %e, "replacement refused for now"),
            }
        }
        Ok(true)
    }

    /// Whether `tx` is still the newest transaction recorded at its nonce and still SENT (read in the fenced
    /// transaction that would replace it): what the step read may have been settled or replaced since.
    async fn still_newest(txn: &settle_store::DatabaseTransaction, tx: &relay::RelayTxRow) -> Result<bool, RelayError> {
        let at = relay::txs_at(txn, tx.chain_id, &tx.relayer, tx.nonce).await?;
        Ok(at.last().is_some_and(|t| t.id == tx.id && t.status == relay::SENT))
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
        let fees = self.capped(self.chain.rpc.fees().await.map_err(|e| self.rpc_err(e))?);
        let mut n = 0;
        for rr in pending {
            self.keep_lease().await?;
            let now = settle_store::now_ms();
            let payment = payments_store::find_any(&self.ctx.db, &rr.payment_id).await?;
            // A payment's relay is sent while the payment is PROCESSING; its cancellation while it is CANCELLING; a
            // refund while the refund is PENDING and waits for this request (its payment is COMPLETED).
            let unwanted = match Self::refund_of(&rr) {
                Some(refund_id) => self.refund_unwanted(&rr, &refund_id).await?,
                None => {
                    let wanted = if Self::is_cancel(&rr) { PaymentStatus::Cancelling } else { PaymentStatus::Processing };
                    (!payment.as_ref().is_some_and(|p| p.status == wanted)).then(|| format!("the payment is no longer {wanted}"))
                }
            };
            if let Some(why) = unwanted {
                let txn = self.fenced().await?;
                relay::set_request_status(&txn, rr.id, relay::PENDING, relay::CANCELLED, None, Some(&why), now).await?;
                txn.commit().await.map_err(StoreError::from)?;
                continue;
            }
            let sendable = self.call_of(&rr);
            // Never send what cannot succeed: unreadable or for a contract the chain no longer lists, the deadline near
            // or passed, or the request no longer simulating. Its payment goes back to PENDING (unless paid).
            let hopeless = match (&sendable, Self::deadline_of(&rr)) {
                (None, _) => Some("the stored request is unreadable, or its contract is not one this chain lists".to_owned()),
                (_, Some(d)) if d <= now_secs() + DEADLINE_MARGIN_SECS => {
                    Some(format!("its forward request's deadline ({d}) has passed or is too near"))
                }
                (Some((to, call, _)), _) => match self.chain.rpc.eth_call(Some(self.chain.relayer.address()), *to, call).await {
                    Ok(_) => None,
                    Err(e) if is_revert(&e) => Some(format!("it no longer simulates: {}", e.message())),
                    Err(e) => return Err(self.rpc_err(e)),
                },
            };
            if let Some(why) = hopeless {
                let revert = self.revert_verdict(&rr.payment_id, "", None, "relay_expired", &format!("the relay was not sent: {why}")).await?;
                let txn = self.fenced().await?;
                let moved = Self::apply_reverts(&txn, revert.as_slice()).await?;
                relay::set_request_status(&txn, rr.id, relay::PENDING, relay::FAILED, None, Some(&format!("not sent: {why}")), now).await?;
                txn.commit().await.map_err(StoreError::from)?;
                self.after_reverts(&moved).await;
                tracing::warn!(chain = id, relay = %rr.relay_request_id, "a relay request was not sent: {why}");
                continue;
            }
            let Some((to, call, gas)) = sendable else { continue };
            // Take the nonce and record the signed transaction in one database transaction, fenced by the lease, and
            // only while the request is still PENDING (a compare-and-set: it is sent once, whoever sent it).
            let txn = self.fenced().await?;
            let Some(nonce) = relay::next_nonce(&txn, id, &self.address).await? else { continue };
            if !relay::take_nonce(&txn, id, &self.address, nonce).await? {
                continue;
            }
            let signed = self.sign_and_record(&txn, nonce, Some(rr.relay_request_id.clone()), to, call, gas, fees, head).await?;
            let hash = format!("{:#x}", signed.hash);
            if !relay::set_request_status(&txn, rr.id, relay::PENDING, relay::SENT, Some(&hash), None, now).await? {
                // Sent (or settled) by another writer since it was read: nothing of this one is kept.
                drop(txn);
                continue;
            }
            txn.commit().await.map_err(StoreError::from)?;
            metrics::counter!("settle_chain_relays_sent_total", "chain" => id.to_string()).increment(1);
            n += 1;
            if let Err(e) = self.chain.rpc.send_raw(&signed.raw).await {
                // Recorded: following it broadcasts it again (after checking it can still succeed).
                match SendRefusal::of(&e) {
                    SendRefusal::AlreadyKnown => self.funds_fine(),
                    SendRefusal::InsufficientFunds => {
                        self.short_of_funds(nonce, &e, u128::from(gas).checked_mul(fees.max_fee_per_gas));
                        break;
                    }
                    SendRefusal::Busy => {
                        // Nothing more is sent for a while (the recorded one goes again once the node takes it).
                        self.backoff_until.store(settle_store::now_ms() + BUSY_BACKOFF_MS, Ordering::Relaxed);
                        tracing::warn!(chain = id, nonce, error = %e, "the node is busy; sending waits a little");
                        break;
                    }
                    _ => tracing::warn!(chain = id, nonce, error = %e, "broadcast refused; it will be looked at again"),
                }
            } else {
                self.funds_fine();
            }
        }
        Ok(n)
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

crate::worker::impl_worker!(Relayer, "chain-relayer", true, RelayError);
