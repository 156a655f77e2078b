//! The reconciler, one instance at a time (lease `card-reconciler`).
//!
//! - PROCESSING card payments that callbacks did not settle within `reconcile_after`: asked about by key, or by
//!   order id when the charge's answer was lost, with a per-payment backoff. A payment whose key the gateway
//!   gave is never failed for a missing answer; one the gateway never recorded is FAILED after the deadline.
//!   Every outcome, including a status Settle does not know, moves the payment's next check forward, so no
//!   row is asked about in a tight loop.
//! - Finished card payments, `final_check_after` after they became final: the gateway is asked about the
//!   order once more, and any transaction Settle may not keep (a duplicate, a late success) is voided. A charge
//!   answered "nothing was charged" after the gateway's error answer and empty lookups schedules the same check:
//!   it waits while the payment is PENDING (a later charge may still pay it, and could take up a transaction the
//!   check would void), and once the payment has ended (paid by another charge, given back with its order,
//!   cancelled) voids what the gateway recorded after all and showed late.

use futures::StreamExt;
use settle_store::{
    StoreError,
    payments::{self as store, Changes, PaymentRow},
};

use settle_domain::PaymentStatus;

use super::{
    apply::{Applied, apply_order},
    change,
};
use crate::{Context, lease::LeaseHolder, ledger::Fact, worker::Outcome};

pub const LEASE: &str = "card-reconciler";

/// Looks at a finished payment's order before an operator is asked to.
const FINAL_CHECKS: i32 = 10;

#[derive(Clone)]
pub struct Reconciler {
    ctx: Context,
    lease: LeaseHolder,
}

impl Reconciler {
    pub fn new(ctx: Context) -> Self {
        Self { lease: LeaseHolder::new(ctx.clone(), LEASE), ctx }
    }

    /// Asks the gateway about one batch of due payments (PROCESSING ones, then finished ones).
    async fn run_held(&self, now: i64) -> Result<Outcome, StoreError> {
        let s = &self.ctx.settings.card;
        let due = store::due_for_reconcile(&self.ctx.db, now - s.reconcile_after.as_millis() as i64, now, 50).await?;
        let finished = store::due_for_final_check(&self.ctx.db, now, 50).await?;
        if due.is_empty() && finished.is_empty() {
            return Ok(Outcome::Idle);
        }
        let n = due.len() + finished.len();
        let results: Vec<Result<(), StoreError>> =
            futures::stream::iter(due.into_iter().map(|row| self.reconcile_one(row))).buffer_unordered(10).collect().await;
        results.into_iter().collect::<Result<(), _>>()?;
        let results: Vec<Result<(), StoreError>> =
            futures::stream::iter(finished.into_iter().map(|row| self.final_check(row))).buffer_unordered(10).collect().await;
        results.into_iter().collect::<Result<(), _>>()?;
        Ok(Outcome::Worked(n))
    }

    fn pause(&self, attempt: i32) -> i64 {
        let b = &self.ctx.settings.card.backoff;
        b.get(attempt.max(0) as usize).or(b.last()).copied().unwrap_or_default().as_millis() as i64
    }

    async fn reconcile_one(&self, row: PaymentRow) -> Result<(), StoreError> {
        let s = &self.ctx.settings.card;
        let now = settle_store::now_ms();
        // Asked of the gateway of the payment's mode; none configured now: asked again later.
        let Some(gateway) = self.ctx.card_gateway(&row.merchant_id) else {
            return store::schedule_check(&self.ctx.db, row.id, row.recon_attempts + 1, now + self.pause(row.recon_attempts)).await;
        };
        let found = match &row.external_payment_key {
            Some(k) => gateway.transaction(k, &row.merchant_id).await.map(|t| t.into_iter().collect::<Vec<_>>()),
            None => gateway.transactions_of_order(&row.payment_id, &row.merchant_id).await,
        };
        metrics::counter!("settle_card_reconcile_checks_total").increment(1);
        match found {
            Ok(txs) if txs.is_empty() && row.external_payment_key.is_some() => {
                // The gateway gave us this key, so it recorded the charge: a 404 now is its inconsistency,
                // never a reason to report the payment FAILED.
                tracing::error!(payment_id = %row.payment_id, key = ?row.external_payment_key, "the gateway no longer knows a transaction it accepted; asking again later");
                metrics::counter!("settle_card_missing_transactions_total").increment(1);
            }
            Ok(txs) if txs.is_empty() => {
                if now - row.updated_at > s.not_recorded_deadline.as_millis() as i64 {
                    let changes = Changes { failure_message: Some("the card gateway never recorded this charge".into()), ..Default::default() };
                    let data = serde_json::json!({"code": "not_recorded", "message": "the card gateway never recorded this charge"});
                    match change(&self.ctx, &row, Fact::Failed, changes, data, None).await {
                        Ok(_) => return Ok(()),
                        Err(e) => {
                            tracing::warn!(payment_id = %row.payment_id, error = %e, "reconcile: could not fail the payment")
                        }
                    }
                }
            }
            Ok(txs) => match apply_order(&self.ctx, &row, &txs).await {
                Ok(Applied::Settled) => return Ok(()),
                Ok(other) => {
                    tracing::debug!(payment_id = %row.payment_id, outcome = ?other, "reconcile: not final yet")
                }
                Err(e) => {
                    tracing::warn!(payment_id = %row.payment_id, error = %e, "reconcile: apply failed")
                }
            },
            Err(e) => {
                tracing::debug!(payment_id = %row.payment_id, error = %e, "reconcile: gateway unavailable")
            }
        }
        store::schedule_check(&self.ctx.db, row.id, row.recon_attempts + 1, now + self.pause(row.recon_attempts)).await
    }

    /// The last look at a finished payment's order: voids what must not be kept; asks again later while the
    /// gateway cannot answer or reports a status Settle does not know. A PENDING payment (its charge was answered
    /// "nothing was charged") is looked at once it has ended: asked about again later, `FINAL_CHECKS` times at
    /// most (about an hour with the default pauses).
    async fn final_check(&self, row: PaymentRow) -> Result<(), StoreError> {
        if row.status == PaymentStatus::Pending {
            let attempts = row.recon_attempts + 1;
            let wait = self.pause(attempts - 1).max(self.ctx.settings.card.final_check_after.as_millis() as i64);
            let next = (attempts < FINAL_CHECKS).then(|| settle_store::now_ms() + wait);
            return store::set_final_check(&self.ctx.db, &row, next, attempts).await;
        }
        if !row.status.is_terminal() {
            return store::set_final_check(&self.ctx.db, &row, None, row.recon_attempts).await;
        }
        // No gateway for the payment's mode now: the check counts as one that could not answer.
        let Some(gateway) = self.ctx.card_gateway(&row.merchant_id) else {
            let attempts = row.recon_attempts + 1;
            let next = (attempts < FINAL_CHECKS).then(|| settle_store::now_ms() + self.pause(attempts - 1).max(1000));
            return store::set_final_check(&self.ctx.db, &row, next, attempts).await;
        };
        metrics::counter!("settle_card_final_checks_total").increment(1);
        let again = match gateway.transactions_of_order(&row.payment_id, &row.merchant_id).await {
            Ok(txs) => {
                let mut unsure = false;
                for tx in &txs {
                    match super::apply_transaction(&self.ctx, Some(&row), tx).await {
                        Ok(Applied::Unknown(_)) => unsure = true,
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(payment_id = %row.payment_id, error = %e, "final check: apply failed");
                            unsure = true;
                        }
                    }
                }
                unsure
            }
            Err(e) => {
                tracing::debug!(payment_id = %row.payment_id, error = %e, "final check: gateway unavailable");
                true
            }
        };
        // For a finished payment, recon_attempts counts final checks (it counted charge checks before).
        let attempts = row.recon_attempts + 1;
        if again && attempts >= FINAL_CHECKS {
            tracing::error!(payment_id = %row.payment_id, "the gateway still reports an unsettled or unknown transaction for a finished payment; an operator must look");
            metrics::counter!("settle_card_final_checks_given_up_total").increment(1);
        }
        let next = (again && attempts < FINAL_CHECKS).then(|| settle_store::now_ms() + self.pause(attempts - 1).max(1000));
        store::set_final_check(&self.ctx.db, &row, next, attempts).await
    }
}

crate::worker::leased_worker!(Reconciler, "card-reconciler", settle_store::StoreError, able: |w| w.ctx.has_card_gateway());
