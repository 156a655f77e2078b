//! The voider: gives back money Settle may not keep, through the gateway, one instance at a time (lease
//! `card-voider`). A queued void is retried with backoff until the gateway confirms it or says there is
//! nothing to void; a confirmed void is recorded on its payment (VOIDED_DUPLICATE / VOIDED_LATE_SUCCESS).

use settle_card::client::VoidOutcome;
use settle_store::{StoreError, payments as store, voids};

use super::apply::VoidReason;
use crate::{Context, lease::LeaseHolder, ledger::views::cached, worker::Outcome};

pub const VOID_LEASE: &str = "card-voider";

#[derive(Clone)]
pub struct Voider {
    ctx: Context,
    lease: LeaseHolder,
}

impl Voider {
    pub fn new(ctx: Context) -> Self {
        Self { lease: LeaseHolder::new(ctx.clone(), VOID_LEASE), ctx }
    }

    /// Attempts one batch of due voids.
    async fn run_held(&self, now: i64) -> Result<Outcome, StoreError> {
        let due = voids::due(&self.ctx.db, now, 20).await?;
        if due.is_empty() {
            return Ok(Outcome::Idle);
        }
        let n = due.len();
        for v in due {
            let Some(gateway) = self.ctx.card_gateway(&v.merchant_id) else {
                self.later(&v, "no card gateway is configured for the payment's mode", settle_store::now_ms()).await?;
                continue;
            };
            let outcome = gateway.void(&v.transaction_key, &v.merchant_id).await;
            let now = settle_store::now_ms();
            match outcome {
                Ok(VoidOutcome::Voided) => {
                    if voids::finish(&self.ctx.db, v.id, voids::VOIDED, now).await? {
                        metrics::counter!("settle_card_voids_total", "reason" => if v.reason == VoidReason::Duplicate.as_str() { "DUPLICATE" } else { "LATE_SUCCESS" }, "outcome" => "voided").increment(1);
                        tracing::info!(payment_id = %v.payment_id, transaction_key = %v.transaction_key, reason = %v.reason, "gateway transaction voided");
                        self.record(&v).await?;
                    }
                }
                Ok(VoidOutcome::NotVoidable) => {
                    voids::finish(&self.ctx.db, v.id, voids::NOT_VOIDABLE, now).await?;
                    metrics::counter!("settle_card_voids_total", "reason" => "any", "outcome" => "not_voidable").increment(1);
                    tracing::info!(payment_id = %v.payment_id, transaction_key = %v.transaction_key, "nothing to void: the gateway transaction holds no money");
                }
                Ok(VoidOutcome::NotFound) => self.later(&v, "the gateway does not know the transaction", now).await?,
                Err(e) => self.later(&v, &e.to_string(), now).await?,
            }
        }
        Ok(Outcome::Worked(n))
    }

    async fn later(&self, v: &voids::VoidRow, error: &str, now: i64) -> Result<(), StoreError> {
        tracing::warn!(payment_id = %v.payment_id, transaction_key = %v.transaction_key, attempts = v.attempts + 1, error, "void not done yet; trying again later");
        let backoff = &self.ctx.settings.card.backoff;
        let pause = backoff.get(v.attempts.max(0) as usize).or(backoff.last()).copied().unwrap_or_default();
        voids::retry_later(&self.ctx.db, v.id, v.attempts + 1, now + pause.as_millis() as i64, error, now).await
    }

    /// The VOIDED_* event on the payment (its version moves on; retried when another writer got there first).
    async fn record(&self, v: &voids::VoidRow) -> Result<(), StoreError> {
        for _ in 0..10 {
            let Some(row) = store::find_any(&self.ctx.db, &v.payment_id).await? else {
                return Ok(());
            };
            let data = serde_json::json!({"transactionKey": v.transaction_key, "reason": v.reason});
            if let Some(next) =
                store::annotate(&self.ctx.db, &row, VoidReason::event(&v.reason), Default::default(), Some(data), settle_store::now_ms()).await?
            {
                self.ctx.cache.put_status(&cached(&next)).await;
                return Ok(());
            }
        }
        Err(StoreError::Conflict("the payment kept changing while its void was recorded"))
    }
}

crate::worker::leased_worker!(Voider, "card-voider", settle_store::StoreError, able: |w| w.ctx.has_card_gateway());
