//! The watcher of one chain, one instance at a time (lease `chain-watcher:{chainId}`).
//!
//! Each step: (1) checks that the cursor's block is still canonical, and on a reorg rewinds to the highest
//! remembered block that is (forgetting the logs above it: a payment seen only through such a log goes back to
//! PENDING, a COMPLETED one whose log a reorg removed is reported as `payment.reorged`); (2) reads
//! `PaymentCompleted` logs of the gateway from the cursor towards the head (`logs_range` blocks, halved while a
//! node answers "range too large"), and puts the range behind the cursor only when its last block's hash is the
//! same before and after the read and every log is of the canonical block of its number (a reorg during the read
//! is read again); (3) applies each log: a PENDING payment
//! becomes PROCESSING (SUBMITTED, seen on chain) at once, and COMPLETED (CONFIRMED with txHash, block, payer,
//! fee) once the log has `confirmations` blocks on the canonical chain — re-checking its block hash first;
//! (4) expires payments whose deadline is before the timestamp of a confirmed block, after asking the gateway's
//! `getPayment` at that very block (the contract is the source of truth; a lagging node asked at "latest" could
//! say unpaid). A payment paid directly, without Settle, completes the same way; (5) decides open refunds at the
//! same confirmed block ([`super::refunds::follow`]).

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use settle_chain::{
    B256,
    alloy_sol::{SolCall, SolEvent},
    contracts::{PaymentCompleted, cancelledCall, getPaymentCall},
    rpc::{RpcError, is_range_too_large},
};
use settle_domain::PaymentStatus;
use settle_store::{
    StoreError,
    chain::{self as store, NewLog},
    payments::{self as payments_store, Changes},
};

use super::Chain;
use crate::{
    Context,
    lease::LeaseHolder,
    ledger::{Fact, apply_transition},
    worker::Outcome,
};

#[derive(Clone)]
pub struct Watcher {
    ctx: Context,
    chain: Chain,
    lease: LeaseHolder,
    /// Blocks per `eth_getLogs`: the chain's `logs_range`, halved while a node refuses a range as too large.
    span: Arc<AtomicU64>,
    /// Where the next step's look at open refunds starts ([`super::refunds::follow`]).
    refunds_cursor: Arc<std::sync::atomic::AtomicI64>,
    /// Where the next step's look at CANCELLING payments, and at payments past their deadline, starts: a page of
    /// payments the step leaves as they are (a gateway not listed, a paid one whose log is not found) never keeps the
    /// others waiting.
    cancel_cursor: Arc<std::sync::atomic::AtomicI64>,
    expire_cursor: Arc<std::sync::atomic::AtomicI64>,
}

/// Payments a watcher step looks at in one page, at most.
const PAGE: u64 = 100;

/// The row id a page starts after, and the next one's: the last row's when the page was full, else the start again.
fn page_from(cursor: &std::sync::atomic::AtomicI64) -> i64 {
    cursor.load(std::sync::atomic::Ordering::Relaxed)
}

fn page_read(cursor: &std::sync::atomic::AtomicI64, rows: &[settle_store::payments::PaymentRow]) {
    let next = if (rows.len() as u64) < PAGE { 0 } else { rows.last().map_or(0, |r| r.id) };
    cursor.store(next, std::sync::atomic::Ordering::Relaxed);
}

/// Why a step stopped.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("chain {0}: {1}")]
    Rpc(u64, RpcError),
    #[error(transparent)]
    App(#[from] crate::AppError),
    /// The lease lapsed or passed to another instance during the step: the cursor is not written.
    #[error("the watcher's lease was lost during the step")]
    LeaseLost,
}

/// How many pages of 256 remembered blocks a rewind looks through for the fork in one step.
const REWIND_PAGES: usize = 4;

fn hex_hash(h: &B256) -> String {
    format!("{h:#x}")
}

impl Watcher {
    pub fn new(ctx: Context, chain: Chain) -> Self {
        let name = format!("chain-watcher:{}", chain.chain_id);
        let span = Arc::new(AtomicU64::new(chain.logs_range));
        Self {
            lease: LeaseHolder::new(ctx.clone(), name),
            ctx,
            chain,
            span,
            refunds_cursor: Default::default(),
            cancel_cursor: Default::default(),
            expire_cursor: Default::default(),
        }
    }

    pub fn poll(&self) -> std::time::Duration {
        self.chain.poll
    }

    pub async fn release(&self) {
        self.lease.release().await;
    }

    fn rpc_err(&self, e: RpcError) -> WatchError {
        WatchError::Rpc(self.chain.chain_id, e)
    }

    /// A database transaction whose writes are fenced by the lease (see the relayer's).
    async fn fenced(&self) -> Result<settle_store::Txn, WatchError> {
        let txn = settle_store::begin(&self.ctx.db).await?;
        if !self.lease.fence(&txn).await? {
            return Err(WatchError::LeaseLost);
        }
        Ok(txn)
    }

    /// One step (see the module docs).
    pub async fn run_once(&self) -> Result<Outcome, WatchError> {
        match self.lease.renewed_during(self.step()).await {
            Err(WatchError::LeaseLost) => {
                tracing::info!(chain = self.chain.chain_id, "the watcher's lease was lost during a step; its cursor was not moved");
                Ok(Outcome::Idle)
            }
            other => other,
        }
    }

    async fn step(&self) -> Result<Outcome, WatchError> {
        // The head is read on every instance, lease or not: it is how each instance's /health knows whether the
        // chain's endpoints answer (one eth_blockNumber per poll).
        let id = self.chain.chain_id as i64;
        let rpc = &self.chain.rpc;
        let head = rpc.block_number().await.map_err(|e| self.rpc_err(e))?;
        metrics::gauge!("settle_chain_head", "chain" => id.to_string()).set(head as f64);
        self.chain.observe(|st| st.head = Some(head));
        if !self.lease.hold(settle_store::now_ms()).await? {
            return Ok(Outcome::Idle);
        }
        let from = match store::cursor(&self.ctx.db, id).await? {
            Some(c) => {
                // A node without the cursor's block is behind (a failover to a lagging node), not on another fork:
                // an error, and nothing is rewound.
                if self.block_hash(c.block_number as u64).await? == c.block_hash {
                    c.block_number as u64 + 1
                } else {
                    // The cursor's own block is not canonical: the fork is below it.
                    self.rewind(c.block_number - 1).await? + 1
                }
            }
            None => head.saturating_sub(1000),
        };
        let mut worked = 0;
        let mut more = false;
        if from <= head {
            let span = self.span.load(Ordering::Relaxed).max(1);
            let to = head.min(from + span - 1);
            // A node may answer for its newest block before it has indexed that block's logs: the head block is
            // read again on the next step, and only blocks below the head are put behind the cursor.
            let settled = if to == head { to.saturating_sub(1).max(from.saturating_sub(1)) } else { to };
            // The range's last block before and after its logs are read: a reorg in between shows, and nothing read
            // across two forks is put behind the cursor.
            let before = self.block_hash(settled).await?;
            let topic = PaymentCompleted::SIGNATURE_HASH;
            // Every gateway of the chain: payments made on one it replaced are still followed.
            let logs = match rpc.logs(&self.chain.gateways(), topic, from, to).await {
                Ok(logs) => logs,
                Err(e) if is_range_too_large(&e) && to > from => {
                    let smaller = (to - from).div_ceil(2).max(1);
                    self.span.store(smaller, Ordering::Relaxed);
                    metrics::counter!("settle_chain_logs_range_reduced_total", "chain" => id.to_string()).increment(1);
                    tracing::warn!(chain = id, from, to, blocks = smaller, error = %e, "the node refused the logs range as too large: reading fewer blocks at a time");
                    return Ok(Outcome::Worked(1));
                }
                Err(e) => return Err(self.rpc_err(e)),
            };
            let mut canonical: HashMap<u64, String> = HashMap::from([(settled, before.clone())]);
            for l in &logs {
                let n = l.block_number.to::<u64>();
                let hash = match canonical.get(&n) {
                    Some(h) => h.clone(),
                    None => {
                        let h = self.block_hash(n).await?;
                        canonical.insert(n, h.clone());
                        h
                    }
                };
                if hash != hex_hash(&l.block_hash) {
                    metrics::counter!("settle_chain_reads_across_reorg_total", "chain" => id.to_string()).increment(1);
                    tracing::warn!(
                        chain = id,
                        block = n,
                        "a log of a block that is no longer canonical (a reorg during the read): the range is read again"
                    );
                    return Ok(Outcome::Worked(1));
                }
            }
            if self.block_hash(settled).await? != before {
                metrics::counter!("settle_chain_reads_across_reorg_total", "chain" => id.to_string()).increment(1);
                tracing::warn!(chain = id, block = settled, "the chain reorganised during the read: the range is read again");
                return Ok(Outcome::Worked(1));
            }
            // The logs and the cursor are written together, under the lease (a watcher whose lease lapsed during a
            // slow read writes nothing: it may have read a fork another watcher has since rewound).
            let txn = self.fenced().await?;
            for l in &logs {
                if record_log(&txn, id, l).await? {
                    worked += 1;
                }
            }
            store::remember_block(&txn, id, settled as i64, &before).await?;
            store::set_cursor(&txn, id, settled as i64, &before, settle_store::now_ms()).await?;
            txn.commit().await.map_err(StoreError::from)?;
            metrics::gauge!("settle_chain_watcher_lag_blocks", "chain" => id.to_string()).set((head - to) as f64);
            self.chain.observe(|st| st.cursor = Some(to));
            more = to < head;
        }
        worked += self.apply_logs(head).await?;
        // Expiry and cancels are decided at the newest confirmed block (its number and its timestamp).
        let confirmed = head.saturating_sub(self.chain.confirmations.saturating_sub(1));
        if let Some(block) = self.chain.rpc.block(Some(confirmed)).await.map_err(|e| self.rpc_err(e))? {
            let at = block.timestamp.saturating_to::<u64>() as i64;
            worked += self.expire(confirmed, at).await?;
            worked += self.settle_cancellations(confirmed, at).await?;
            worked += super::refunds::follow(&self.ctx, &self.chain, confirmed, at, &self.refunds_cursor).await?;
        }
        Ok(if worked > 0 || more { Outcome::Worked(worked.max(1)) } else { Outcome::Idle })
    }

    /// The hash of the canonical block `n`.
    async fn block_hash(&self, n: u64) -> Result<String, WatchError> {
        let block = self.chain.rpc.block(Some(n)).await.map_err(|e| self.rpc_err(e))?;
        block.map(|b| hex_hash(&b.hash)).ok_or_else(|| self.rpc_err(RpcError::Unavailable(format!("block {n} is missing"))))
    }

    /// A reorg at or below block `at`: back to the highest remembered block at or below both `at` and the cursor (never
    /// forward) that is still canonical, walking down the remembered blocks a page at a time. What the reorg took away
    /// is settled in one fenced transaction with the cursor's move: the logs whose block is no longer canonical are
    /// forgotten (logs still canonical above the fork are kept, so nothing is applied or reported twice), a payment
    /// seen only through a forgotten log (PROCESSING with that transaction, no relay of Settle's still able to pay it)
    /// goes back to PENDING with an event, so the payer can pay again (the contract never takes a payment twice), and
    /// a COMPLETED payment whose log is forgotten is reported (`payment.reorged`, with whether the contract still shows
    /// it paid). A block the node does not have is an error (the node is behind), not a reorg. Returns the fork.
    async fn rewind(&self, at: i64) -> Result<u64, WatchError> {
        let id = self.chain.chain_id as i64;
        let cursor = store::cursor(&self.ctx.db, id).await?.map_or(at, |c| c.block_number);
        let mut top = at.min(cursor);
        let mut fork = None;
        for _ in 0..REWIND_PAGES {
            let page = store::blocks_below(&self.ctx.db, id, top, 256).await?;
            let Some(lowest) = page.last().map(|(n, _)| *n) else {
                // Nothing remembered at or below: nothing stored there to doubt.
                fork = Some(top.max(0));
                break;
            };
            for (number, hash) in &page {
                if self.block_hash(*number as u64).await? == *hash {
                    fork = Some(*number);
                    break;
                }
            }
            if fork.is_some() {
                break;
            }
            top = lowest - 1;
            if top < 0 {
                fork = Some(0);
                break;
            }
        }
        let fork = fork.unwrap_or_else(|| {
            tracing::error!(
                chain = id,
                cursor,
                to = top,
                "no remembered block of the last {} pages is canonical: the watcher goes back to block {top} and reads on from there",
                REWIND_PAGES
            );
            top
        });
        let hash = self.block_hash(fork as u64).await?;
        // The logs above the fork whose block is no longer canonical, and what each took away.
        let mut canonical: HashMap<i64, String> = HashMap::new();
        let mut doomed = Vec::new();
        for log in store::logs_above(&self.ctx.db, id, fork).await? {
            let h = match canonical.get(&log.block_number) {
                Some(h) => h.clone(),
                None => {
                    let h = self.block_hash(log.block_number as u64).await?;
                    canonical.insert(log.block_number, h.clone());
                    h
                }
            };
            if h != log.block_hash {
                doomed.push(log);
            }
        }
        let mut reports = Vec::new();
        let mut unseen = Vec::new();
        for log in &doomed {
            let Some(row) = payments_store::find_any(&self.ctx.db, &log.payment_id).await? else { continue };
            if row.tx_hash.as_deref() != Some(log.tx_hash.as_str()) {
                continue;
            }
            match row.status {
                PaymentStatus::Completed => {
                    let still_paid = self.paid_on_chain(&row).await.ok().flatten();
                    reports.push((row, log, still_paid));
                }
                PaymentStatus::Processing if !settle_store::relay::has_open_request(&self.ctx.db, &row.payment_id).await? => unseen.push((row, log)),
                _ => {}
            }
        }
        let txn = self.fenced().await?;
        store::forget(&txn, id, fork, &doomed.iter().map(|l| l.id).collect::<Vec<_>>()).await?;
        store::set_cursor(&txn, id, fork, &hash, settle_store::now_ms()).await?;
        for (row, log, still_paid) in &reports {
            let data = serde_json::json!({
                "paymentId": row.payment_id, "merchantId": settle_domain::mode::merchant_of(&row.merchant_id), "livemode": settle_domain::mode::is_live(&row.merchant_id), "chainId": id, "txHash": log.tx_hash,
                "blockNumber": log.block_number, "blockHash": log.block_hash, "stillPaid": still_paid,
            });
            let payload = serde_json::json!({"type": "payment.reorged", "data": data});
            settle_store::outbox::enqueue(&txn, &row.merchant_id, "payment.reorged", &row.payment_id, &payload, settle_store::now_ms()).await?;
        }
        let mut moved = Vec::new();
        for (row, log) in &unseen {
            let data = serde_json::json!({"code": "reorged", "txHash": log.tx_hash, "blockNumber": log.block_number,
                "message": "its transaction left the canonical chain; the payment waits to be paid"});
            if let Some((next, _)) = crate::ledger::transition_in(&txn, row, Fact::Reopened, Changes::default(), Some(data), None).await? {
                moved.push(next);
            }
        }
        txn.commit().await.map_err(StoreError::from)?;
        for (row, log, still_paid) in &reports {
            metrics::counter!("settle_chain_completed_reorged_total", "chain" => id.to_string()).increment(1);
            tracing::error!(chain = id, payment_id = %row.payment_id, tx = %log.tx_hash, block = log.block_number, ?still_paid, "a COMPLETED payment's block left the canonical chain (a reorg deeper than its confirmations)");
        }
        if !reports.is_empty() {
            self.ctx.outbox_wake.notify_one();
        }
        for next in &moved {
            metrics::counter!("settle_chain_payments_unseen_total", "chain" => id.to_string()).increment(1);
            tracing::warn!(chain = id, payment_id = %next.payment_id, "a payment's transaction left the canonical chain: back to PENDING");
            crate::ledger::after_transition(&self.ctx, next).await;
        }
        tracing::warn!(chain = id, from = cursor, to = fork, forgotten_logs = doomed.len(), "chain reorganised: the watcher rewound");
        metrics::counter!("settle_chain_reorgs_total", "chain" => id.to_string()).increment(1);
        metrics::gauge!("settle_chain_reorg_depth_blocks", "chain" => id.to_string()).set((cursor - fork).max(0) as f64);
        Ok(fork as u64)
    }

    /// Whether the payment's gateway shows it paid (at the latest block); None when the chain no longer lists it.
    async fn paid_on_chain(&self, row: &settle_store::payments::PaymentRow) -> Result<Option<bool>, WatchError> {
        let Ok(pid) = row.payment_id.parse::<B256>() else { return Ok(Some(false)) };
        let Some(gateway) = self.gateway_of(row).await else { return Ok(None) };
        let out =
            self.chain.rpc.eth_call(None, gateway, &getPaymentCall { paymentId: pid }.abi_encode().into()).await.map_err(|e| self.rpc_err(e))?;
        Ok(Some(getPaymentCall::abi_decode_returns(&out).is_ok_and(|p| !p.payer.is_zero())))
    }

    /// Applies logs: seen -> PROCESSING; confirmed and still canonical -> COMPLETED.
    async fn apply_logs(&self, head: u64) -> Result<usize, WatchError> {
        let id = self.chain.chain_id as i64;
        let mut n = 0;
        for log in store::unapplied_logs(&self.ctx.db, id, 200).await? {
            let Some(row) = payments_store::find_any(&self.ctx.db, &log.payment_id).await? else {
                // A payment of another Settle, or made up by a caller of the contract: not ours.
                store::mark_applied(&self.ctx.db, log.id).await?;
                continue;
            };
            let matches = row.chain_id == Some(id)
                && row.amount == log.amount
                && row.token_address.as_deref().map(str::to_ascii_lowercase) == Some(log.token.to_ascii_lowercase())
                && row.recipient_address.as_deref().map(str::to_ascii_lowercase) == Some(log.recipient.to_ascii_lowercase());
            if !matches {
                tracing::error!(chain = id, payment_id = %row.payment_id, tx = %log.tx_hash, "a PaymentCompleted log disagrees with the payment's terms; not applied");
                metrics::counter!("settle_chain_mismatches_total").increment(1);
                store::mark_applied(&self.ctx.db, log.id).await?;
                continue;
            }
            let status = row.status;
            let data = serde_json::json!({"txHash": log.tx_hash, "blockNumber": log.block_number, "payer": log.payer, "fee": log.fee});
            let confirmations = head as i64 - log.block_number + 1;
            if confirmations < self.chain.confirmations as i64 {
                if status == PaymentStatus::Pending {
                    let changes = Changes { tx_hash: Some(log.tx_hash.clone()), ..Default::default() };
                    if apply_transition(&self.ctx, &row, Fact::Submitted, changes, Some(data), None).await?.is_some() {
                        n += 1;
                    }
                }
                continue;
            }
            // Confirmed: its block must still be the canonical one.
            let canonical = self.chain.rpc.block(Some(log.block_number as u64)).await.map_err(|e| self.rpc_err(e))?;
            if canonical.map(|b| hex_hash(&b.hash)) != Some(log.block_hash.clone()) {
                self.rewind(log.block_number - 1).await?;
                return Ok(n + 1);
            }
            if status.is_terminal() {
                if status != PaymentStatus::Completed {
                    tracing::error!(chain = id, payment_id = %row.payment_id, %status, tx = %log.tx_hash, "the chain shows a payment Settle had finished otherwise");
                    metrics::counter!("settle_chain_paid_after_final_total").increment(1);
                    // The merchant sees it, and the payer is refunded in full unless the merchant turned that off
                    // (a refund waiting on the recipient's signature); a gateway that predates refunds is only
                    // reported. Asked before the transaction: a node that does not answer leaves the log for the
                    // next step.
                    let refunds_here = match self.chain.for_payment(&row).await {
                        Ok(made_on) => made_on.gateway_domain().await?.version.map(|v| v.into_owned()).filter(|v| v != "1"),
                        Err(e @ crate::AppError::ChainUnavailable) => return Err(e.into()),
                        Err(_) => None,
                    };
                    let mut data = serde_json::json!({
                        "paymentId": row.payment_id, "merchantId": settle_domain::mode::merchant_of(&row.merchant_id), "livemode": settle_domain::mode::is_live(&row.merchant_id), "status": status.as_str(), "chainId": id,
                        "txHash": log.tx_hash, "blockNumber": log.block_number, "payer": log.payer, "amount": log.amount, "token": log.token,
                        "refundId": null,
                    });
                    // Reported once: the event and the refund with the log's marking, whoever marks it first.
                    let txn = self.fenced().await?;
                    let mut started = None;
                    if store::mark_applied_once(&txn, log.id).await? {
                        if let Some(version) = &refunds_here
                            && let Some(refund) = super::refunds::refund_late_in(&txn, &row, version).await?
                        {
                            data["refundId"] = refund.refund_id.clone().into();
                            started = Some(refund);
                        }
                        let payload = serde_json::json!({"type": "payment.paid_after_final", "data": data});
                        settle_store::outbox::enqueue(
                            &txn,
                            &row.merchant_id,
                            "payment.paid_after_final",
                            &row.payment_id,
                            &payload,
                            settle_store::now_ms(),
                        )
                        .await?;
                    }
                    txn.commit().await.map_err(StoreError::from)?;
                    self.ctx.outbox_wake.notify_one();
                    if let Some(refund) = &started {
                        crate::refunds::recorded(&self.ctx, refund);
                    }
                    continue;
                }
                store::mark_applied(&self.ctx.db, log.id).await?;
                continue;
            }
            let mut current = row;
            if current.status == PaymentStatus::Pending {
                let changes = Changes { tx_hash: Some(log.tx_hash.clone()), ..Default::default() };
                match apply_transition(&self.ctx, &current, Fact::Submitted, changes, Some(data.clone()), None).await? {
                    Some((next, _)) => current = next,
                    None => continue,
                }
            }
            let changes = Changes {
                payer: Some(log.payer.clone()),
                tx_hash: Some(log.tx_hash.clone()),
                block_number: Some(log.block_number),
                ..Default::default()
            };
            if apply_transition(&self.ctx, &current, Fact::Confirmed, changes, Some(data), None).await?.is_some() {
                store::mark_applied(&self.ctx.db, log.id).await?;
                metrics::counter!("settle_chain_payments_completed_total", "chain" => id.to_string()).increment(1);
                n += 1;
            }
        }
        Ok(n)
    }

    /// CANCELLING payments: CANCELLED once the gateway shows them cancelled at a confirmed block (or once their
    /// deadline passed there unpaid: the terms can no longer be paid either way). One the payer paid first completes
    /// from its log instead, and is left alone here.
    async fn settle_cancellations(&self, confirmed: u64, at: i64) -> Result<usize, WatchError> {
        let id = self.chain.chain_id as i64;
        // Only those whose cancellation was mined or whose deadline passed are asked about.
        let rows = store::cancelling(&self.ctx.db, id, &self.listed(), at, page_from(&self.cancel_cursor), PAGE).await?;
        page_read(&self.cancel_cursor, &rows);
        let mut n = 0;
        for row in rows {
            if store::has_log(&self.ctx.db, id, &row.payment_id).await? {
                continue;
            }
            let Ok(pid) = row.payment_id.parse::<B256>() else { continue };
            let Some(gateway) = self.gateway_of(&row).await else { continue };
            let ask = |call: Vec<u8>| {
                let rpc = self.chain.rpc.clone();
                async move { rpc.eth_call_at(None, gateway, &call.into(), Some(confirmed)).await }
            };
            // One row's trouble (a node failing this call) never holds up the others or the watcher's step.
            let made = match ask(getPaymentCall { paymentId: pid }.abi_encode()).await {
                Ok(out) => getPaymentCall::abi_decode_returns(&out),
                Err(e) => {
                    tracing::warn!(chain = id, payment_id = %row.payment_id, error = %e, "a cancelling payment could not be checked; next step");
                    continue;
                }
            };
            match &made {
                // Paid first, with no log read (its gateway listed late): it completes from its block's logs.
                Ok(p) if !p.payer.is_zero() => {
                    self.read_again(&row, gateway, p.blockNumber.saturating_to::<u64>()).await;
                    continue;
                }
                Ok(_) => {}
                Err(_) => continue,
            }
            let past_deadline = row.deadline.is_some_and(|d| d < at);
            // A gateway without `cancel` (one an earlier Settle deployed) reverts here: not cancelled, and the
            // deadline decides.
            let cancelled = !past_deadline
                && match ask(cancelledCall { paymentId: pid }.abi_encode()).await {
                    Ok(out) => cancelledCall::abi_decode_returns(&out).unwrap_or(false),
                    Err(_) => false,
                };
            if !cancelled && !past_deadline {
                continue;
            }
            let data = serde_json::json!({"confirmedBlock": confirmed, "source": if cancelled { "contract" } else { "deadline" }});
            if apply_transition(&self.ctx, &row, Fact::Cancelled, Changes::default(), Some(data), None).await?.is_some() {
                metrics::counter!("settle_chain_payments_cancelled_total", "chain" => id.to_string()).increment(1);
                n += 1;
            }
        }
        Ok(n)
    }

    /// Records the `PaymentCompleted` logs of `gateway` in block `number`, where the gateway says `row` was paid
    /// (applied at their confirmations, on the canonical chain, like any other). One row's trouble (a node refusing
    /// old logs, a log not where the gateway said) is said and counted, and holds up nothing else.
    async fn read_again(&self, row: &settle_store::payments::PaymentRow, gateway: settle_chain::Address, number: u64) {
        let id = self.chain.chain_id as i64;
        let read = async {
            let logs = self.chain.rpc.logs(&[gateway], PaymentCompleted::SIGNATURE_HASH, number, number).await.map_err(|e| self.rpc_err(e))?;
            let txn = self.fenced().await?;
            let mut found = false;
            for l in &logs {
                record_log(&txn, id, l).await?;
                found |= l.topics.get(1).is_some_and(|t| hex_hash(t) == row.payment_id.to_ascii_lowercase());
            }
            txn.commit().await.map_err(StoreError::from)?;
            Ok::<bool, WatchError>(found)
        };
        match read.await {
            Ok(true) => {
                metrics::counter!("settle_chain_logs_read_again_total", "chain" => id.to_string()).increment(1);
                tracing::warn!(chain = id, block = number, %gateway, payment_id = %row.payment_id, "a payment paid with no log read: its block's logs were read again");
            }
            Ok(false) | Err(_) => {
                metrics::counter!("settle_chain_log_not_found_total", "chain" => id.to_string()).increment(1);
                tracing::error!(chain = id, block = number, %gateway, payment_id = %row.payment_id, "the gateway shows a payment paid with no log read, and its log could not be read again: left as it is");
            }
        }
    }

    /// The chain's gateways as payments store them.
    fn listed(&self) -> Vec<String> {
        self.chain.gateways().iter().map(|g| g.to_checksum(None)).collect()
    }

    /// The gateway payment `row` was made on; None (logged) when the chain no longer lists it: its payment is
    /// left as it is rather than judged by another contract.
    async fn gateway_of(&self, row: &settle_store::payments::PaymentRow) -> Option<settle_chain::Address> {
        self.chain.for_payment_or_skip(row).await.map(|c| c.gateway)
    }

    /// Expires unpaid payments whose deadline is before the timestamp of the newest confirmed block.
    async fn expire(&self, confirmed: u64, before: i64) -> Result<usize, WatchError> {
        let id = self.chain.chain_id as i64;
        let mut n = 0;
        let rows = store::past_deadline(&self.ctx.db, id, &self.listed(), before, page_from(&self.expire_cursor), PAGE).await?;
        page_read(&self.expire_cursor, &rows);
        for row in rows {
            if store::has_log(&self.ctx.db, id, &row.payment_id).await? {
                continue;
            }
            // The contract is the source of truth: never expire what it shows as paid (asked of the payment's own
            // gateway; one the chain no longer lists decides nothing).
            let Ok(pid) = row.payment_id.parse::<B256>() else { continue };
            let Some(gateway) = self.gateway_of(&row).await else { continue };
            let out = self
                .chain
                .rpc
                .eth_call_at(None, gateway, &getPaymentCall { paymentId: pid }.abi_encode().into(), Some(confirmed))
                .await
                .map_err(|e| self.rpc_err(e))?;
            let made = getPaymentCall::abi_decode_returns(&out);
            if let Ok(p) = &made
                && !p.payer.is_zero()
            {
                // Paid, with no log read: its gateway was not listed (on this instance, or on the one that held the
                // watcher) when the watcher passed its block. Its block's logs are read again: it completes from them.
                self.read_again(&row, gateway, p.blockNumber.saturating_to::<u64>()).await;
                continue;
            }
            if made.is_err() {
                continue;
            }
            let data = serde_json::json!({"deadline": row.deadline, "confirmedBlock": confirmed, "blockTimestamp": before});
            if apply_transition(&self.ctx, &row, Fact::Expired, Changes::default(), Some(data), None).await?.is_some() {
                metrics::counter!("settle_chain_payments_expired_total", "chain" => id.to_string()).increment(1);
                n += 1;
            }
        }
        Ok(n)
    }
}

/// Records a gateway log if it is a `PaymentCompleted` (with the block it relied on); true when it was new. The
/// watcher records what `eth_getLogs` returns; the relayer what its receipts show.
pub(super) async fn record_log(conn: &impl settle_store::ConnectionTrait, chain_id: i64, l: &settle_chain::rpc::Log) -> Result<bool, StoreError> {
    if l.removed || l.topics.first() != Some(&PaymentCompleted::SIGNATURE_HASH) {
        return Ok(false);
    }
    let Ok(ev) = PaymentCompleted::decode_raw_log(l.topics.iter().copied(), &l.data) else {
        tracing::warn!(chain = chain_id, tx = %l.transaction_hash, "an undecodable PaymentCompleted log; skipped");
        return Ok(false);
    };
    let number = l.block_number.to::<u64>() as i64;
    store::remember_block(conn, chain_id, number, &hex_hash(&l.block_hash)).await?;
    let log = NewLog {
        chain_id,
        payment_id: hex_hash(&ev.paymentId),
        tx_hash: hex_hash(&l.transaction_hash),
        log_index: l.log_index.to::<u64>() as i64,
        block_number: number,
        block_hash: hex_hash(&l.block_hash),
        payer: ev.payer.to_checksum(None),
        token: ev.token.to_checksum(None),
        amount: ev.amount.to_string(),
        fee: ev.fee.to_string(),
        recipient: ev.recipient.to_checksum(None),
    };
    store::insert_log(conn, log, settle_store::now_ms()).await
}

/// Asks the gateway's `getPayment` about a PENDING chain payment (the status read's cache miss). When the
/// contract shows it paid, the payment becomes PROCESSING (SUBMITTED, seen through `getPayment`); the watcher
/// completes it at its confirmations. Returns the new row; None when nothing changed or the chain did not
/// answer within two seconds.
pub async fn reconcile_pending(ctx: &Context, row: &settle_store::payments::PaymentRow) -> Option<settle_store::payments::PaymentRow> {
    let pid = row.payment_id.parse::<B256>().ok()?;
    let call = getPaymentCall { paymentId: pid }.abi_encode();
    // Two seconds for all of it, the payment's gateway placed (a version read) included.
    let ask = async {
        let chain = ctx.chains.get(row.chain_id?)?.for_payment(row).await.ok()?;
        chain.rpc.eth_call(None, chain.gateway, &call.into()).await.ok()
    };
    let out = tokio::time::timeout(std::time::Duration::from_secs(2), ask).await.ok()??;
    let paid = getPaymentCall::abi_decode_returns(&out).ok()?;
    if paid.payer.is_zero() {
        return None;
    }
    let data = serde_json::json!({"source": "getPayment", "payer": paid.payer.to_checksum(None), "blockNumber": paid.blockNumber.to::<u64>()});
    let changes = Changes { payer: Some(paid.payer.to_checksum(None)), ..Default::default() };
    metrics::counter!("settle_chain_status_reconciled_total").increment(1);
    match apply_transition(ctx, row, Fact::Submitted, changes, Some(data), None).await {
        Ok(moved) => moved.map(|(next, _)| next),
        // Said, not swallowed: the read answers the payment as stored, and the watcher records it from its log.
        Err(e) => {
            tracing::warn!(payment_id = %row.payment_id, error = %e, "the contract shows a PENDING payment paid, but recording it failed");
            None
        }
    }
}

crate::worker::impl_worker!(Watcher, "chain-watcher", true, WatchError);
