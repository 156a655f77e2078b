//! The card rail (seed 004), made so that no card is charged twice, no payment is left undecided, and money
//! Settle may not keep is given back.
//!
//! - [`charge`]: `POST /v1/payments/{id}/card`. The circuit's permit and a bulkhead place are taken first, in one
//!   step; when either is refused nothing is sent and the payment stays PENDING. The payment then becomes
//!   PROCESSING (a compare-and-set, so two concurrent charges of one payment cannot both go out) and the
//!   gateway is called outside any transaction, in a task of its own that shutdown waits for. Its answer is
//!   recorded: accepted (ACCEPTED with the key), declined (FAILED), certainly not sent or not recorded, or
//!   refused for Settle's configuration (back to PENDING, nothing charged), or unknown (PROCESSING, settled by
//!   the reconciler).
//! - [`apply`]: what a gateway transaction means for its payment. It completes or fails a PROCESSING payment;
//!   it never applies a transaction whose order or amount disagree (the payment is flagged for an operator);
//!   and it queues a void for money Settle must not keep: a second transaction of a payment, or a success for
//!   a payment that did not complete.
//! - [`callback`]: `POST /v1/payments/callback`, confirmed with the gateway (in a task of its own) before applying.
//! - [`reconciler`]: under a lease, asks about PROCESSING payments callbacks missed (by key, or by order id
//!   without one), backing off per payment, and fails a payment the gateway never recorded after a deadline;
//!   it also looks once more at every finished card payment's order, to void what must not be kept.
//! - [`refunds`]: refunds through the gateway's refund API, and the checker that settles the ones no callback did.
//! - [`voids`]: the worker that voids queued transactions through the gateway, under a lease, until done.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
};

use settle_domain::PaymentStatus;
use settle_store::payments::{Changes, PaymentRow};

use crate::{
    AppError, Context,
    idempotency::{Claim, Outcome, Reply},
    ledger::{Fact, apply_transition},
};

mod apply;
mod callback;
pub(crate) mod charge;
mod reconciler;
pub(crate) mod refunds;
mod voids;

pub use apply::{Applied, apply_transaction};
pub use callback::callback;
pub use charge::{CardInput, charge};
pub use reconciler::{LEASE, Reconciler};
pub(crate) use refunds::refund;
pub use refunds::{REFUND_LEASE, RefundChecker, callback as refund_callback};
pub use voids::{VOID_LEASE, Voider};

/// When a payment's last look at the gateway is due if scheduled now: `final_check_after` from now.
fn final_check_due(ctx: &Context) -> i64 {
    settle_store::now_ms() + ctx.settings.card.final_check_after.as_millis() as i64
}

/// [`apply_transition`] for the card rail: counts payments that reach a final status, and schedules the last
/// look at the gateway for a charged payment that became final.
async fn change(
    ctx: &Context,
    row: &PaymentRow,
    fact: Fact,
    mut changes: Changes,
    data: serde_json::Value,
    idem: Option<(&Claim, Outcome)>,
) -> Result<Option<(PaymentRow, Option<Reply>)>, AppError> {
    let to = fact.status();
    if to.is_terminal() && row.status == PaymentStatus::Processing {
        changes.final_check_at = Some(final_check_due(ctx));
    }
    let res = apply_transition(ctx, row, fact, changes, Some(data), idem).await?;
    if res.is_some() && to.is_terminal() {
        metrics::counter!("settle_card_payments_final_total", "status" => to.as_str()).increment(1);
    }
    Ok(res)
}

pub use crate::handles::InFlight;

impl InFlight {
    fn ids(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.ids.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `fut` as the charge of `payment_id` in a task of its own.
    pub(crate) fn spawn<F>(&self, payment_id: String, fut: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.ids().insert(payment_id.clone());
        let ids = self.ids.clone();
        // The request's audit scope goes with it: the charge's changes are the request's.
        let scope = crate::audit::current();
        self.tasks.spawn(crate::audit::carry(scope, async move {
            struct Done(Arc<Mutex<HashSet<String>>>, String);
            impl Drop for Done {
                fn drop(&mut self) {
                    self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.1);
                }
            }
            let _done = Done(ids, payment_id);
            fut.await
        }))
    }

    /// Payments whose charge is still running.
    pub fn running(&self) -> Vec<String> {
        self.ids().iter().cloned().collect()
    }

    /// Refuses new charges and waits up to `limit` for the running ones; returns the payments still running.
    pub async fn drain(&self, limit: std::time::Duration) -> Vec<String> {
        self.tasks.close();
        let _ = tokio::time::timeout(limit, self.tasks.wait()).await;
        self.running()
    }
}

/// Records, at shutdown, that the charges of `ids` were abandoned with an unknown outcome: they stay
/// PROCESSING and the reconciler (of this or another instance) settles them.
pub async fn record_abandoned(ctx: &Context, ids: &[String]) {
    for id in ids {
        tracing::warn!(payment_id = %id, "shutdown abandons a running card charge; its outcome is unknown and the reconciler will settle it");
        metrics::counter!("settle_card_charges_abandoned_total").increment(1);
        let Ok(Some(row)) = settle_store::payments::find_any(&ctx.db, id).await else {
            continue;
        };
        if row.status != PaymentStatus::Processing {
            continue;
        }
        let data = serde_json::json!({"code": "shutdown", "message": "Settle stopped while the gateway was being asked; the outcome is settled by reconciliation"});
        let _ = settle_store::payments::annotate(
            &ctx.db,
            &row,
            settle_domain::EventType::OutcomeUnknown,
            Changes::default(),
            Some(data),
            settle_store::now_ms(),
        )
        .await;
    }
}
