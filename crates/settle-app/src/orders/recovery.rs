//! How a saga ends: COMPLETED once its payment is, COMPENSATED once it is known to have failed, a compare-and-set
//! on its version. A payment's end wakes its saga (see `choreography`); [`SagaWorker`] sweeps for what time decides
//! (a crash, an unpaid order).

use std::sync::{Arc, Mutex};

use settle_domain::{OrderStatus, PaymentStatus, SagaStep, StepOutcome};
use settle_store::{
    StoreError,
    orders::{self as store, SagaRow},
    payments::{self as payments_store, Changes},
};

use super::{
    CHARGE_GRACE_MS, CHOREOGRAPHY, COMPENSATED, COMPENSATING, COMPLETED, IN_PROGRESS, SagaStatus, choreography,
    steps::{release_coupon, restore_points, return_stock},
};
use crate::{
    AppError, Context,
    lease::LeaseHolder,
    ledger::{Fact, after_transition, transition_in},
    worker::Outcome,
};

/// Ends a saga whose payment is decided (or that has none): COMPLETED, or COMPENSATED. `nothing_charged` (a
/// reason) compensates a saga whose payment is still PENDING because the charge was never sent. Returns the
/// saga's status afterwards. Safe to call any number of times, from anywhere.
pub async fn settle(ctx: &Context, merchant_id: &str, saga_id: &str, nothing_charged: Option<&str>) -> Result<SagaStatus, AppError> {
    let s = store::find_saga(&ctx.db, Some(merchant_id), saga_id).await?.ok_or(AppError::NotFound("saga"))?;
    settle_saga(ctx, &s, nothing_charged).await
}

/// [`settle`] for a saga row already read.
pub(super) async fn settle_saga(ctx: &Context, s: &SagaRow, nothing_charged: Option<&str>) -> Result<SagaStatus, AppError> {
    let (merchant_id, saga_id) = (s.merchant_id.as_str(), s.saga_id.as_str());
    if s.pattern == CHOREOGRAPHY {
        return choreography::recover(ctx, s).await;
    }
    if s.status != IN_PROGRESS && s.status != COMPENSATING {
        return Ok(s.status);
    }
    let o = store::find_order(&ctx.db, merchant_id, &s.order_id).await?.ok_or(AppError::NotFound("order"))?;
    let payment = match &o.payment_id {
        Some(p) => payments_store::find(&ctx.db, merchant_id, p).await?,
        None => None,
    };
    let status = payment.as_ref().map(|p| p.status);
    // An order placed with a card whose payment is still PENDING long after: the request that was to charge it
    // was cut off (Settle stopped) before the charge started, and the card number is gone. Nothing was charged
    // (a charge moves the payment to PROCESSING before it calls the gateway, by a compare-and-set the
    // compensation below also needs), so the order is given back.
    let cut_off =
        (o.card_given && settle_store::now_ms() - s.created_at > CHARGE_GRACE_MS).then_some("the charge never started: the request was cut off");
    // An order placed without a card whose payment is still PENDING past the unpaid TTL: nobody paid it, and it
    // must not hold its stock, coupon and points for ever. Nothing was charged (a charge starting meanwhile wins the
    // payment's compare-and-set below, and the order waits for it).
    let unpaid = unpaid_past_ttl(ctx, &o, payment.as_ref());
    let nothing_charged = nothing_charged.or(cut_off).or(unpaid.as_deref());
    let complete = match status {
        None => true,
        Some(PaymentStatus::Completed) => true,
        Some(PaymentStatus::Failed | PaymentStatus::Cancelled | PaymentStatus::Expired) => false,
        Some(PaymentStatus::Pending) if nothing_charged.is_some() => false,
        // PENDING (waiting for a card) or PROCESSING (unknown outcome): not decided yet.
        Some(_) => return Ok(s.status),
    };
    let now = settle_store::now_ms();
    let txn = settle_store::begin(&ctx.db).await?;
    let mut moved_payment = None;
    if complete {
        let Some(_) = store::set_saga(&txn, s, COMPLETED, SagaStep::Done, None, now).await? else { return reload(ctx, saga_id).await };
        store::set_order_status(&txn, o.id, OrderStatus::Placed, OrderStatus::Paid, now).await?;
        store::record_step(&txn, saga_id, SagaStep::ChargeCard, StepOutcome::Done, None, now).await?;
        store::insert_log(&txn, merchant_id, &o, "PURCHASE", now).await?;
        store::notify(&txn, merchant_id, &o.user_id, saga_id, &format!("Order {} is paid", o.order_id), now).await?;
    } else {
        let why = nothing_charged
            .map(str::to_owned)
            .or_else(|| payment.as_ref().and_then(|p| p.failure_message.clone()))
            .unwrap_or_else(|| "the payment failed".into());
        let Some(_) = store::set_saga(&txn, s, COMPENSATED, SagaStep::Done, Some(&why), now).await? else { return reload(ctx, saga_id).await };
        // Reverse order: the payment, points, coupon, stock, then the order.
        if let Some(p) = payment.as_ref().filter(|p| p.status == PaymentStatus::Pending) {
            let code = if unpaid.is_some() { "order_expired" } else { "order_compensated" };
            let data = serde_json::json!({"code": code, "message": why});
            let changes = Changes { failure_message: Some(why.clone()), ..Default::default() };
            match transition_in(&txn, p, Fact::Failed, changes, Some(data), None).await? {
                Some((row, _)) => moved_payment = Some(row),
                // The charge started meanwhile: nothing is compensated (the transaction is dropped).
                None => return reload(ctx, saga_id).await,
            }
        }
        store::record_step(&txn, saga_id, SagaStep::CreatePayment, StepOutcome::Compensated, None, now).await?;
        restore_points(&txn, &o, now).await?;
        release_coupon(&txn, &o, now).await?;
        return_stock(&txn, &o, now).await?;
        store::set_order_status(&txn, o.id, OrderStatus::Placed, OrderStatus::Cancelled, now).await?;
        store::notify(&txn, merchant_id, &o.user_id, saga_id, &format!("Order {} was cancelled: {why}", o.order_id), now).await?;
    }
    txn.commit().await.map_err(StoreError::from)?;
    if let Some(row) = moved_payment {
        after_transition(ctx, &row).await;
    }
    metrics::counter!("settle_sagas_ended_total", "status" => if complete { COMPLETED } else { COMPENSATED }.as_str()).increment(1);
    Ok(if complete { COMPLETED } else { COMPENSATED })
}

/// Why an order placed without a card is given back: its payment still PENDING past the unpaid TTL.
pub(super) fn unpaid_past_ttl(ctx: &Context, o: &store::OrderRow, payment: Option<&payments_store::PaymentRow>) -> Option<String> {
    let ttl = ctx.settings.order_unpaid_ttl;
    let p = payment.filter(|p| p.status == PaymentStatus::Pending)?;
    let overdue = !o.card_given && settle_store::now_ms() - p.created_at > ttl.as_millis() as i64;
    let within = match ttl.as_secs() {
        60 => "a minute".to_owned(),
        s if s % 60 == 0 => format!("{} minutes", s / 60),
        s => format!("{s} seconds"),
    };
    overdue.then(|| format!("the order was not paid within {within}"))
}

async fn reload(ctx: &Context, saga_id: &str) -> Result<SagaStatus, AppError> {
    Ok(store::find_saga(&ctx.db, None, saga_id).await?.map_or(SagaStatus::Pending, |s| s.status))
}

/// Sagas whose payment ends are ended by the payment's event (the choreography's dispatcher reads it); this sweep
/// ends what time decides: a saga cut off by a crash (its card charge never started), an unpaid order past its TTL,
/// and any saga whose event could not end it. It reads every open saga, a page at a time by id from a cursor, every
/// [`Settings::saga_sweep`](crate::settings::Settings::saga_sweep), and writes only the sagas it ends. One saga's
/// error is logged and counted, and the sweep goes on to the next. One instance at a time (lease `saga-recovery`).
#[derive(Clone)]
pub struct SagaWorker {
    ctx: Context,
    lease: LeaseHolder,
    /// Where the sweep stands: the status it reads (an index in [`SWEPT`]) and the last saga id read.
    cursor: Arc<Mutex<(usize, i64)>>,
}

/// The statuses of open sagas, in the order the sweep reads them.
const SWEPT: [SagaStatus; 2] = [IN_PROGRESS, COMPENSATING];
/// Sagas read per step.
const PAGE: u64 = 100;

impl SagaWorker {
    pub fn new(ctx: Context) -> Self {
        Self { lease: LeaseHolder::new(ctx.clone(), "saga-recovery"), ctx, cursor: Default::default() }
    }

    async fn run_held(&self, now: i64) -> Result<Outcome, AppError> {
        let (i, after) = *self.cursor.lock().expect("cursor");
        let page = store::sagas_after(&self.ctx.db, SWEPT[i], after, PAGE).await?;
        let mut ended = 0;
        for s in &page {
            // A request is still driving it.
            if now - s.updated_at < 500 {
                continue;
            }
            match settle_saga(&self.ctx, s, None).await {
                Ok(status) if status != s.status => ended += 1,
                Ok(_) => {}
                Err(e) => {
                    metrics::counter!("settle_saga_sweep_errors_total").increment(1);
                    tracing::warn!(saga = %s.saga_id, error = %e, "the sweep could not settle a saga; it tries again on its next pass");
                }
            }
        }
        let next = match page.last() {
            Some(last) if page.len() as u64 == PAGE => (i, last.id),
            _ if i + 1 < SWEPT.len() => (i + 1, 0),
            // Every open saga was read: the sweep rests until its next pass.
            _ => {
                *self.cursor.lock().expect("cursor") = (0, 0);
                return Ok(Outcome::Idle);
            }
        };
        *self.cursor.lock().expect("cursor") = next;
        Ok(Outcome::Worked(ended))
    }
}

crate::worker::leased_worker!(SagaWorker, "saga-recovery", crate::AppError);
