//! Card refunds through the gateway's refund API, with a charge's discipline: the circuit's permit and a bulkhead
//! place are taken before anything is recorded; only a real refusal is a FAILED refund; an unknown outcome is looked
//! up by the refund's request id (Settle's refund id), never sent again blindly; a refund the gateway recorded twice
//! is flagged and counted for an operator.
//!
//! - [`refund`]: `POST /v1/payments/{id}/refunds` for a CARD payment, run to its answer in a task of its own.
//! - [`sync`]: what the gateway holds for a payment's transaction, applied to its PENDING refunds (callbacks and
//!   the checker share it).
//! - [`RefundChecker`]: under a lease, asks about PENDING refunds no callback settled, with a per-refund backoff,
//!   and fails one the gateway never recorded after the deadline.

use futures::StreamExt;
use settle_card::{
    client::{GatewayClient, GatewayError, RefundOutcome, Slot},
    wire::{GatewayRefund, RefundRequest},
};
use settle_domain::RefundStatus;
use settle_store::{
    StoreError,
    payments::{self as payments_store, PaymentRow},
    refunds::{self as store, Changes, RefundRow},
};

use crate::{
    AppError, Context,
    idempotency::{Claim, Reply},
    lease::LeaseHolder,
    refunds::{CreateRefund, finish, record, reply_with_current},
    worker::Outcome,
};

pub const REFUND_LEASE: &str = "card-refunds";

/// The failure code of a refund the gateway never recorded (looked at again for [`FINAL_WINDOW`] times
/// `final_check_after`, in case the gateway records it late).
const NOT_RECORDED: &str = "not_recorded";
const FINAL_WINDOW: i64 = 4;

/// Refunds a CARD payment: the gateway slot, then the PENDING refund recorded (the payment locked, its remaining
/// amount checked), then the gateway asked; answers with the refund as it stands (PENDING until the gateway's result,
/// FAILED when it refused or certainly recorded nothing).
pub(crate) async fn refund(ctx: &Context, merchant_id: &str, payment: PaymentRow, input: CreateRefund, claim: Claim) -> Result<Reply, AppError> {
    let gateway = ctx.card_gateway(merchant_id).ok_or(AppError::CardRailNotConfigured)?;
    let Some(tx_key) = payment.external_payment_key.clone() else {
        return Err(AppError::InvalidState("the payment has no gateway transaction to refund".into()));
    };
    let (task_ctx, merchant) = (ctx.clone(), merchant_id.to_owned());
    // In a task of its own, as a charge: a request cancelled midway still records the gateway's answer.
    let task = ctx.charges.spawn(format!("refund:{}", payment.payment_id), async move {
        let ctx = &task_ctx;
        let mut slot = slot(&gateway).await?;
        let (_, row) = record(ctx, &merchant, &payment.payment_id, &input, &claim, first_check(ctx)).await?;
        send(ctx, &gateway, &mut slot, &tx_key, &row).await;
        drop(slot);
        reply_with_current(ctx, &claim, &row.refund_id).await
    });
    task.await.map_err(AppError::internal)?
}

/// A place in the gateway's bulkhead, taken before a refund is recorded (a full bulkhead or an open breaker refuses
/// with nothing written).
pub(crate) async fn slot(gateway: &GatewayClient) -> Result<Slot, AppError> {
    gateway.slot().await.map_err(|e| match e {
        GatewayError::BulkheadFull => AppError::GatewayBusy,
        _ => AppError::CircuitOpen,
    })
}

/// When the refund checker first asks about a refund recorded now.
pub(crate) fn first_check(ctx: &Context) -> i64 {
    settle_store::now_ms() + ctx.settings.card.reconcile_after.as_millis() as i64
}

/// Asks the gateway to make the recorded refund `row` of the transaction `tx_key`, and applies its answer. Nothing
/// is returned: whatever happens, the refund is recorded, and one left PENDING is finished by the refund checker.
pub(crate) async fn send(ctx: &Context, gateway: &GatewayClient, slot: &mut Slot, tx_key: &str, row: &RefundRow) {
    let Ok(amount) = row.amount.parse::<u64>() else {
        let c = Changes {
            failure_code: Some("amount_too_large".into()),
            failure_message: Some("the amount is too large for the card gateway; nothing was refunded".into()),
            ..Default::default()
        };
        let _ = finish_or_reread(ctx, row, RefundStatus::Failed, c).await;
        return;
    };
    let req =
        RefundRequest { amount, refund_request_id: row.refund_id.clone(), callback_url: ctx.settings.card.callback_url.clone().unwrap_or_default() };
    let outcome = gateway.refund(slot, &row.merchant_id, tx_key, &req).await;
    let fail = |code: &str, message: &str| Changes { failure_code: Some(code.into()), failure_message: Some(message.into()), ..Default::default() };
    let _ = match outcome {
        Ok(RefundOutcome::Accepted { refund_key, status }) => {
            tracing::info!(refund_id = %row.refund_id, %refund_key, "card refund accepted");
            let found = GatewayRefund {
                refund_key,
                refund_request_id: row.refund_id.clone(),
                transaction_key: tx_key.to_owned(),
                amount,
                status,
                reason: None,
            };
            if let Err(e) = apply(ctx, row, &[&found]).await {
                tracing::warn!(refund_id = %row.refund_id, error = %e, "an accepted refund's key could not be recorded; the refund checker will");
            }
            Ok(())
        }
        Ok(RefundOutcome::Refused { code, message }) => {
            tracing::info!(refund_id = %row.refund_id, gateway_code = %code, "card refund refused by the gateway");
            let mut c = fail("refund_refused", &message);
            c.failure_message = Some(format!("{message} ({code})"));
            finish_or_reread(ctx, row, RefundStatus::Failed, c).await
        }
        Ok(RefundOutcome::NotRecorded { code, detail }) => {
            tracing::warn!(refund_id = %row.refund_id, code, %detail, "card refund reached no gateway; nothing was refunded");
            let c = fail("gateway_unreachable", "the card gateway could not be reached; nothing was refunded");
            finish_or_reread(ctx, row, RefundStatus::Failed, c).await
        }
        Ok(RefundOutcome::Misconfigured { detail }) => {
            tracing::error!(refund_id = %row.refund_id, %detail, "the card gateway refused Settle's credentials or URL; nothing was refunded");
            let c = fail("gateway_misconfigured", "the card gateway refused this server's configuration; nothing was refunded");
            finish_or_reread(ctx, row, RefundStatus::Failed, c).await
        }
        Err(e) => {
            tracing::warn!(refund_id = %row.refund_id, error = %e, "card refund not sent");
            finish_or_reread(ctx, row, RefundStatus::Failed, fail("circuit_open", "the card gateway was not called; nothing was refunded")).await
        }
        Ok(RefundOutcome::Unknown { code, detail }) => {
            // PENDING: the checker looks it up by its request id.
            tracing::warn!(refund_id = %row.refund_id, code, %detail, "card refund outcome unknown; the refund checker will ask the gateway");
            metrics::counter!("settle_card_refund_unknown_outcomes_total", "code" => code).increment(1);
            Ok(())
        }
    };
}

/// [`finish`] of a refund the gateway certainly did not make (refused, or never sent), read again when another writer
/// changed it first (a key recorded meanwhile); a refund that is final by then stands as it is. Errors are logged,
/// not answered: the refund is recorded, and a PENDING one is finished by the checker (after its deadline).
async fn finish_or_reread(ctx: &Context, row: &RefundRow, to: RefundStatus, changes: Changes) -> Result<(), AppError> {
    let mut current = row.clone();
    for _ in 0..5 {
        match finish(ctx, &current, to, changes.clone()).await {
            Ok(Some(_)) => return Ok(()),
            Ok(None) => match store::find_any(&ctx.db, &current.refund_id).await {
                Ok(Some(r)) if !r.status.is_final() => current = r,
                _ => return Ok(()),
            },
            Err(e) => {
                tracing::warn!(refund_id = %row.refund_id, error = %e, "a refund's failure could not be recorded; the refund checker will settle it");
                return Ok(());
            }
        }
    }
    Ok(())
}

/// The flag of a refund the gateway recorded more than once (`found` holds its copies), logged and counted; None
/// for one copy.
fn recorded_more_than_once(r: &RefundRow, found: &[&GatewayRefund]) -> Option<String> {
    if found.len() < 2 {
        return None;
    }
    let keys: Vec<&str> = found.iter().map(|g| g.refund_key.as_str()).collect();
    tracing::error!(refund_id = %r.refund_id, ?keys, "the gateway recorded one refund of Settle's more than once; an operator must look");
    metrics::counter!("settle_card_duplicate_refunds_total").increment(1);
    Some(format!("the gateway recorded this refund {} times ({})", found.len(), keys.join(", ")))
}

/// Applies what the gateway holds under a refund's request id (`found`: none, one, or, when it recorded the refund
/// twice, several). Returns whether the refund is final now.
async fn apply(ctx: &Context, row: &RefundRow, found: &[&GatewayRefund]) -> Result<bool, AppError> {
    let mut current = row.clone();
    for _ in 0..5 {
        if current.status.is_final() {
            return Ok(true);
        }
        // The copy that stands for the refund when the gateway recorded it more than once: money that left wins (a
        // SUCCEEDED copy), then one still in progress, then the recorded key's, then the first. A refund is FAILED only
        // when every copy failed.
        let recorded = current.gateway_refund_key.as_ref().and_then(|k| found.iter().find(|g| &g.refund_key == k));
        let Some(primary) = found
            .iter()
            .find(|g| g.status == "SUCCEEDED")
            .or_else(|| found.iter().find(|g| g.status != "FAILED"))
            .or(recorded)
            .or_else(|| found.first())
        else {
            return Ok(false);
        };
        let mut changes = Changes::default();
        if current.flag_reason.is_none() {
            changes.flag_reason = recorded_more_than_once(&current, found);
        }
        if current.amount.parse::<u64>().ok() != Some(primary.amount) {
            tracing::error!(refund_id = %current.refund_id, gateway_amount = primary.amount, "the gateway reports another amount for a refund; not applied");
            metrics::counter!("settle_card_mismatches_total").increment(1);
            if current.flag_reason.is_none() {
                changes.flag_reason = Some(format!("the gateway reports amount {} for a refund of {}", primary.amount, current.amount));
                store::update(&ctx.db, &current, changes, settle_store::now_ms()).await?;
            }
            return Ok(false);
        }
        if current.gateway_refund_key.is_none() {
            changes.gateway_refund_key = Some(primary.refund_key.clone());
        }
        let done = match primary.status.as_str() {
            "SUCCEEDED" => finish(ctx, &current, RefundStatus::Succeeded, changes).await?,
            "FAILED" => {
                changes.failure_code = Some("refund_refused".into());
                changes.failure_message = Some(primary.reason.clone().unwrap_or_else(|| "refused by the card gateway".into()));
                finish(ctx, &current, RefundStatus::Failed, changes).await?
            }
            other => {
                if other != "PENDING" {
                    tracing::warn!(refund_id = %current.refund_id, gateway_status = other, "the gateway reports a refund status Settle does not know; asking again later");
                    metrics::counter!("settle_card_unknown_gateway_status_total").increment(1);
                }
                if changes.gateway_refund_key.is_none() && changes.flag_reason.is_none() {
                    return Ok(false);
                }
                if store::update(&ctx.db, &current, changes, settle_store::now_ms()).await?.is_some() {
                    return Ok(false);
                }
                None
            }
        };
        if done.is_some() {
            return Ok(true);
        }
        current = store::find_any(&ctx.db, &current.refund_id).await?.ok_or(AppError::NotFound("refund"))?;
    }
    Ok(current.status.is_final())
}

/// Asks the gateway for every refund of `payment`'s transaction and applies them to its PENDING refunds; a refund
/// the gateway never recorded is FAILED once `not_recorded_deadline` passed since it was made. A gateway refund no
/// refund of Settle's asked for is reported. Returns the refunds still PENDING.
pub(crate) async fn sync(ctx: &Context, gateway: &GatewayClient, payment: &PaymentRow, from_callback: bool) -> Result<Vec<RefundRow>, AppError> {
    let ours = store::of_payment(&ctx.db, &payment.payment_id).await?;
    let pending: Vec<RefundRow> = ours.iter().filter(|r| r.status == RefundStatus::Pending).cloned().collect();
    let Some(tx_key) = &payment.external_payment_key else {
        return Ok(pending);
    };
    // A callback's read is a side call of the breaker (anyone can send a callback).
    let held = gateway.refunds_of(tx_key, &payment.merchant_id, from_callback).await?;
    for g in held.iter().filter(|g| !ours.iter().any(|r| r.refund_id == g.refund_request_id)) {
        tracing::error!(payment_id = %payment.payment_id, refund_key = %g.refund_key, "the gateway holds a refund no refund of Settle's asked for");
        metrics::counter!("settle_card_unknown_refunds_total").increment(1);
    }
    for r in ours.iter().filter(|r| r.status.is_final()) {
        let found: Vec<&GatewayRefund> = held.iter().filter(|g| g.refund_request_id == r.refund_id).collect();
        report_final(ctx, r, &found).await?;
    }
    let deadline = ctx.settings.card.not_recorded_deadline.as_millis() as i64;
    let mut still = Vec::new();
    for r in pending {
        let found: Vec<&GatewayRefund> = held.iter().filter(|g| g.refund_request_id == r.refund_id).collect();
        if found.is_empty() {
            if r.gateway_refund_key.is_some() {
                // The gateway gave us this key: a missing refund now is its inconsistency, never a reason to fail it.
                tracing::error!(refund_id = %r.refund_id, "the gateway no longer lists a refund it accepted; asking again later");
                metrics::counter!("settle_card_missing_transactions_total").increment(1);
            } else if settle_store::now_ms() - r.created_at > deadline {
                // Looked at again after `final_check_after`: a gateway that records it late is caught and reported.
                let again = super::final_check_due(ctx);
                let c = Changes {
                    failure_code: Some(NOT_RECORDED.into()),
                    failure_message: Some("the card gateway never recorded this refund; nothing was refunded".into()),
                    next_check_at: Some(again),
                    ..Default::default()
                };
                if finish(ctx, &r, RefundStatus::Failed, c).await?.is_some() {
                    continue;
                }
            }
            still.push(r);
            continue;
        }
        if !apply(ctx, &r, &found).await? {
            still.push(r);
        }
    }
    Ok(still)
}

/// What the gateway holds for a refund Settle already finished, when it is not what Settle recorded: the refund
/// recorded more than once, or refunded after Settle recorded it FAILED (it answered after the deadline). Nothing
/// can undo a refund: the refund is flagged for an operator, logged and counted, once.
async fn report_final(ctx: &Context, r: &RefundRow, found: &[&GatewayRefund]) -> Result<(), AppError> {
    let not_recorded = r.status == RefundStatus::Failed && r.failure_code.as_deref() == Some(NOT_RECORDED);
    // Failed as never recorded, and the gateway made it after all: money left, so the refund SUCCEEDED (flagged), as
    // `apply` would have recorded it: the same amount (another is flagged, not applied), copies noted. Its amount was
    // held while it was looked at again, so the payment cannot be over-refunded by this.
    if not_recorded && let Some(g) = found.iter().find(|g| g.status == "SUCCEEDED") {
        metrics::counter!("settle_card_refunds_after_failure_total").increment(1);
        if r.amount != g.amount.to_string() {
            if r.flag_reason.is_none() {
                tracing::error!(refund_id = %r.refund_id, gateway_amount = g.amount, "the gateway made a refund late, of another amount; an operator must look");
                let why = format!("the gateway refunded {} after Settle's deadline had failed this refund of {}", g.amount, r.amount);
                store::update(&ctx.db, r, Changes { flag_reason: Some(why), ..Default::default() }, settle_store::now_ms()).await?;
            }
            return Ok(());
        }
        tracing::error!(refund_id = %r.refund_id, refund_key = %g.refund_key, "the gateway made a refund after Settle's deadline failed it; recorded as SUCCEEDED and flagged");
        let late = "the gateway made this refund after Settle's deadline had failed it".to_owned();
        let c = Changes {
            gateway_refund_key: r.gateway_refund_key.is_none().then(|| g.refund_key.clone()),
            flag_reason: Some(recorded_more_than_once(r, found).map_or(late.clone(), |dup| format!("{late}; {dup}"))),
            ..Default::default()
        };
        crate::refunds::correct_to_succeeded(ctx, r, c).await?;
        return Ok(());
    }
    // Failed as never recorded, and the gateway now lists it, not yet decided: it is looked at again from now on (its
    // amount held, an order's cancellation it carries kept PENDING), never given up on while the gateway is deciding.
    if not_recorded && found.iter().any(|g| g.status != "FAILED") {
        let again = super::final_check_due(ctx);
        tracing::warn!(refund_id = %r.refund_id, "the gateway lists a refund Settle failed as never recorded; looking at it again");
        store::update(&ctx.db, r, Changes { next_check_at: Some(again), ..Default::default() }, settle_store::now_ms()).await?;
        return Ok(());
    }
    if r.flag_reason.is_some() {
        return Ok(());
    }
    let why = if let Some(why) = recorded_more_than_once(r, found) {
        why
    } else if r.status == RefundStatus::Failed && found.iter().any(|g| g.status == "SUCCEEDED") {
        metrics::counter!("settle_card_refunds_after_failure_total").increment(1);
        "the gateway refunded this after Settle recorded it FAILED".to_owned()
    } else {
        return Ok(());
    };
    tracing::error!(refund_id = %r.refund_id, why, "a finished refund disagrees with the gateway; an operator must look");
    let c = Changes { flag_reason: Some(why), ..Default::default() };
    store::update(&ctx.db, r, c, settle_store::now_ms()).await?;
    Ok(())
}

/// A gateway callback naming a refund of `order_id`'s transaction `transaction_key`: the payment's refunds are asked
/// of the gateway and applied (the callback's own words are not trusted), in a task of its own.
pub async fn callback(ctx: &Context, transaction_key: &str, order_id: &str) -> Result<(), AppError> {
    let Some(payment) = payments_store::find_any(&ctx.db, order_id).await? else {
        metrics::counter!("settle_card_callbacks_total", "result" => "unknown").increment(1);
        return Err(AppError::NotFound("transaction"));
    };
    if payment.external_payment_key.as_deref() != Some(transaction_key) {
        metrics::counter!("settle_card_callbacks_total", "result" => "unknown_key").increment(1);
        return Err(AppError::NotFound("transaction"));
    }
    // Only a payment with a refund still open (PENDING, or failed as never recorded in the last day: the gateway may
    // have made it late, even after the checker stopped asking) has anything to learn: anything else costs no gateway
    // read.
    let day_ago = settle_store::now_ms() - 86_400_000;
    let open = |r: &RefundRow| {
        r.status == RefundStatus::Pending
            || r.next_check_at.is_some()
            || (r.failure_code.as_deref() == Some(NOT_RECORDED) && r.status == RefundStatus::Failed && r.updated_at > day_ago)
    };
    if !store::of_payment(&ctx.db, &payment.payment_id).await?.iter().any(open) {
        metrics::counter!("settle_card_callbacks_total", "result" => "noop").increment(1);
        return Ok(());
    }
    let gateway = ctx.card_gateway(&payment.merchant_id).ok_or(AppError::CardRailNotConfigured)?;
    let Ok(_permit) = ctx.callback_permits.clone().try_acquire_owned() else {
        metrics::counter!("settle_card_callbacks_total", "result" => "busy").increment(1);
        return Err(AppError::GatewayBusy);
    };
    crate::audit::set_actor(crate::audit::Actor::new("gateway", None));
    let scope = crate::audit::current();
    let c = ctx.clone();
    let task = tokio::spawn(crate::audit::carry(scope, async move { sync(&c, &gateway, &payment, true).await.map(|_| ()) }));
    task.await.map_err(AppError::internal)??;
    metrics::counter!("settle_card_callbacks_total", "result" => "refund").increment(1);
    Ok(())
}

/// The refund checker, one instance at a time (lease `card-refunds`).
#[derive(Clone)]
pub struct RefundChecker {
    ctx: Context,
    lease: LeaseHolder,
}

impl RefundChecker {
    pub fn new(ctx: Context) -> Self {
        Self { lease: LeaseHolder::new(ctx.clone(), REFUND_LEASE), ctx }
    }

    fn pause(&self, attempt: i32) -> i64 {
        let b = &self.ctx.settings.card.backoff;
        b.get(attempt.max(0) as usize).or(b.last()).copied().unwrap_or_default().as_millis() as i64
    }

    /// Asks the gateway about one payment's refunds and moves the next check of its `due` ones forward.
    async fn check_payment(&self, payment_id: String, due: &[RefundRow]) -> Result<(), StoreError> {
        let result = match payments_store::find_any(&self.ctx.db, &payment_id).await? {
            Some(payment) => match self.ctx.card_gateway(&payment.merchant_id) {
                Some(gateway) => sync(&self.ctx, &gateway, &payment, false).await,
                None => Err(AppError::CardRailNotConfigured),
            },
            None => Err(AppError::NotFound("payment")),
        };
        metrics::counter!("settle_card_refund_checks_total").increment(1);
        if let Err(e) = &result {
            tracing::debug!(payment_id = %payment_id, error = %e, "refund check: the gateway could not answer");
        }
        let synced = result.is_ok();
        for r in due.iter().filter(|r| r.payment_id == payment_id) {
            // Moved forward whatever happened, from the refund as it is now: no refund is asked about in a tight loop.
            // A PENDING one backs off; one this check failed as never recorded keeps the time its failure set; a FAILED
            // one is looked at until FINAL_WINDOW times `final_check_after` passed since it failed and a look at the
            // gateway succeeded, then never again (its amount is free from then on, and an order's cancellation it
            // carries fails with it); a SUCCEEDED one is done.
            let Some(now_row) = store::find_any(&self.ctx.db, &r.refund_id).await? else { continue };
            let (attempts, now) = (r.check_attempts + 1, settle_store::now_ms());
            let window = FINAL_WINDOW * self.ctx.settings.card.final_check_after.as_millis() as i64;
            let again = now + self.pause(r.check_attempts).min(self.ctx.settings.card.final_check_after.as_millis() as i64);
            let next = match now_row.status {
                RefundStatus::Pending => Some(now + self.pause(r.check_attempts)),
                RefundStatus::Failed if r.status == RefundStatus::Pending => continue,
                RefundStatus::Failed if now_row.next_check_at.is_some() && (now - now_row.updated_at < window || !synced) => Some(again),
                RefundStatus::Failed if now_row.next_check_at.is_some() => match crate::refunds::stop_checking(&self.ctx, &now_row, attempts).await {
                    Ok(()) => continue,
                    Err(e) => {
                        tracing::warn!(refund_id = %now_row.refund_id, error = %e, "a refund's last check could not be recorded; it is looked at again");
                        Some(again)
                    }
                },
                _ => None,
            };
            store::schedule_check(&self.ctx.db, now_row.id, attempts, next).await?;
        }
        Ok(())
    }

    /// Asks the gateway about one batch of due refunds, ten payments at a time.
    async fn run_held(&self, now: i64) -> Result<Outcome, StoreError> {
        let due = store::due(&self.ctx.db, now, 50).await?;
        if due.is_empty() {
            return Ok(Outcome::Idle);
        }
        let n = due.len();
        let mut payments: Vec<String> = due.iter().map(|r| r.payment_id.clone()).collect();
        payments.sort();
        payments.dedup();
        // Ten payments at a time, as the reconciler asks: one slow gateway read never holds up the batch.
        let results: Vec<Result<(), StoreError>> =
            futures::stream::iter(payments.into_iter().map(|p| self.check_payment(p, &due))).buffer_unordered(10).collect().await;
        results.into_iter().collect::<Result<(), _>>()?;
        Ok(Outcome::Worked(n))
    }
}

crate::worker::leased_worker!(RefundChecker, "card-refunds", settle_store::StoreError, able: |w| w.ctx.has_card_gateway());
