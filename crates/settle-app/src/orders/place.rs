//! `POST /v1/orders`: the order placed in one local transaction (orchestration) or started as events (choreography),
//! the card charged after it, and the answer recorded for the Idempotency-Key; a retry resumes where the saga stands.

use settle_domain::{OrderStatus, PaymentStatus, SagaStep};
use settle_store::{
    StoreError,
    orders::{self as store, NewOrder, OrderRow, SagaRow},
    payments::{self as payments_store},
};

use super::{
    CHOREOGRAPHY, COMPENSATED, COMPLETED, FAILED, IN_PROGRESS, ORCHESTRATION, ORDER_RESOURCE, OrderInput, Pattern, choreography, placed, refusal_of,
    settle,
    steps::{STEPS, check_limit, check_user, create_payment, deduct_points, price_lines, take_lines, use_coupon},
};
use crate::{
    AppError, Context,
    card::charge::CardInput,
    idempotency::{self, Claim, IdemKey, Reply},
};

/// How long a choreographed `POST /v1/orders` waits for the steps (and then the payment's end) before answering
/// with the saga as it stands.
const CHOREOGRAPHY_WAIT: std::time::Duration = std::time::Duration::from_secs(20);

/// `POST /v1/orders`: places the order (one transaction), charges the card when there is a remainder, and
/// answers with where the saga stands: COMPLETED, COMPENSATED (declined, with the body), or IN_PROGRESS
/// (the outcome is unknown, or no card was given and the payment waits for `POST /v1/payments/{id}/card`).
pub async fn place(ctx: &Context, merchant_id: &str, input: OrderInput, key: Option<IdemKey>) -> Result<Reply, AppError> {
    idempotency::once(ctx, merchant_id, key, |claim| async move { place_and_charge(ctx, merchant_id, input, &claim).await }).await
}

async fn place_and_charge(ctx: &Context, merchant_id: &str, input: OrderInput, claim: &Claim) -> Result<Reply, AppError> {
    if input.items.is_empty() {
        return Err(AppError::invalid("items", "items must list at least one item"));
    }
    // The key was bound to an order by a request that failed, or died, after placing it: that order is the
    // answer (its card charged at most once), never a second order.
    if let Some(order_id) = claim.resumes().and_then(|r| r.strip_prefix(ORDER_RESOURCE)) {
        return resume(ctx, merchant_id, order_id, input.card, claim).await;
    }
    if input.pattern.unwrap_or(ctx.settings.saga_pattern) == Pattern::Choreography {
        let order = crate::retrying(|| choreography::start(ctx, merchant_id, &input, claim)).await?;
        return choreographed(ctx, merchant_id, &order, input.card, claim).await;
    }
    let order = crate::retrying(|| place_in_txn(ctx, merchant_id, &input, claim)).await?;
    orchestrated(ctx, merchant_id, &order, input.card, claim).await
}

/// Answers a retried `POST /v1/orders` from the order its key was bound to: the saga goes on from where it stands
/// (the card is charged only if its payment is still PENDING, and a charge moves it to PROCESSING before it calls
/// the gateway, so a card is never charged twice).
async fn resume(ctx: &Context, merchant_id: &str, order_id: &str, card: Option<CardInput>, claim: &Claim) -> Result<Reply, AppError> {
    let order = store::find_order(&ctx.db, merchant_id, order_id).await?.ok_or(AppError::NotFound("order"))?;
    let saga = store::find_saga(&ctx.db, Some(merchant_id), &order.saga_id).await?.ok_or(AppError::NotFound("saga"))?;
    let pending = match &order.payment_id {
        Some(p) => payments_store::find(&ctx.db, merchant_id, p).await?.is_some_and(|p| p.status == PaymentStatus::Pending),
        None => false,
    };
    tracing::info!(order_id, saga = %order.saga_id, "a retried order answers from the order its Idempotency-Key made");
    if saga.pattern == CHOREOGRAPHY {
        // The handlers may not have made the payment yet: the card goes along, and is charged only once the saga
        // stands at a PENDING payment (a charge moves it to PROCESSING first, so only once).
        choreographed(ctx, merchant_id, &order, card, claim).await
    } else {
        orchestrated(ctx, merchant_id, &order, card.filter(|_| pending && !saga.status.is_ended()), claim).await
    }
}

/// After an orchestrated order is placed: charges its card (when it has a remainder and a card), ends the saga if
/// the payment is decided, and answers.
async fn orchestrated(ctx: &Context, merchant_id: &str, order: &OrderRow, card: Option<CardInput>, claim: &Claim) -> Result<Reply, AppError> {
    if let Some(payment_id) = &order.payment_id
        && let Some(card) = card
    {
        match crate::card::charge::charge(ctx, merchant_id, payment_id, card, None).await {
            Ok(_) => {}
            // Nothing was charged (circuit open, bulkhead full, gateway unreachable or misconfigured, no
            // gateway): the order is compensated at once and the caller gets the reason.
            Err(e) if nothing_charged(&e) => {
                compensate_now(ctx, merchant_id, &order.saga_id, &e.to_string()).await;
                // Given back whole, nothing charged: a retry with the key places the order afresh.
                claim.forget().await;
                return Err(e);
            }
            // The order is placed: whatever the charge answered, the saga goes on (the payment is PENDING for
            // another try, or being decided), and the caller gets the order.
            Err(e) => tracing::warn!(saga = %order.saga_id, error = %e, "charging an order's card failed"),
        }
    }
    // Ends the saga if the payment is decided (an order with nothing to pay ended in its own transaction); an
    // unknown outcome leaves it IN_PROGRESS. A failure here is the recovery worker's to finish: the order is
    // placed and is answered as it stands.
    if order.payment_id.is_some()
        && let Err(e) = settle(ctx, merchant_id, &order.saga_id, None).await
    {
        tracing::warn!(saga = %order.saga_id, error = %e, "ending a saga failed; the recovery worker will");
    }
    answer(ctx, merchant_id, &order.order_id, claim).await
}

/// The answer of a placed order: declined when it was compensated, created otherwise; recorded for its key.
async fn answer(ctx: &Context, merchant_id: &str, order_id: &str, claim: &Claim) -> Result<Reply, AppError> {
    let placed = placed(ctx, merchant_id, order_id).await?;
    let outcome = if placed.saga.status == COMPENSATED { idempotency::Outcome::Declined } else { idempotency::Outcome::Created };
    let reply = Reply { outcome, body: serde_json::to_string(&placed).map_err(AppError::internal)?, replayed: false };
    claim.complete_in(&ctx.db, &reply).await?;
    claim.committed();
    Ok(reply)
}

/// Whether an error from the card rail means nothing was charged (so the order can be given back at once).
fn nothing_charged(e: &AppError) -> bool {
    matches!(
        e,
        AppError::CircuitOpen
            | AppError::GatewayBusy
            | AppError::GatewayUnavailable
            | AppError::GatewayMisconfigured
            | AppError::CardRailNotConfigured
    )
}

/// `POST /v1/orders` by choreography: the request starts the saga, waits for the handlers to create the payment,
/// charges the card it holds (the card number is never stored), and waits for the saga to end (or for the
/// payment to wait on a card or on an unknown outcome). A refusal is answered as orchestration answers it.
async fn choreographed(ctx: &Context, merchant_id: &str, order: &OrderRow, card: Option<CardInput>, claim: &Claim) -> Result<Reply, AppError> {
    let saga_id = order.saga_id.as_str();
    let ended = |s: &SagaRow| s.status.is_ended();
    // One deadline for every wait of the request (two waits of the whole time each outlasted the request's timeout).
    let deadline = tokio::time::Instant::now() + CHOREOGRAPHY_WAIT;
    let (s, o, p) = wait_saga(ctx, merchant_id, saga_id, deadline, |s, o, _| ended(s) || o.payment_id.is_some()).await?;
    if s.status == IN_PROGRESS
        && p == Some(PaymentStatus::Pending)
        && let (Some(payment_id), Some(card)) = (&o.payment_id, card)
    {
        match crate::card::charge::charge(ctx, merchant_id, payment_id, card, None).await {
            Ok(_) => {}
            Err(e) if nothing_charged(&e) => {
                match choreography::fail_uncharged(ctx, merchant_id, payment_id, "order_compensated", &e.to_string()).await {
                    Ok(_) => drop(wait_saga(ctx, merchant_id, saga_id, deadline, |s, _, _| ended(s)).await),
                    Err(f) => tracing::warn!(saga = %saga_id, error = %f, "failing an uncharged payment failed; the recovery worker will"),
                }
                claim.forget().await;
                return Err(e);
            }
            Err(e) => tracing::warn!(saga = %saga_id, error = %e, "charging an order's card failed"),
        }
    }
    // Ended, or waiting on the payment: for a card (none was given) or for the gateway (an unknown outcome).
    let undecided = |p: Option<PaymentStatus>| matches!(p, Some(PaymentStatus::Pending | PaymentStatus::Processing));
    let (s, _, _) = wait_saga(ctx, merchant_id, saga_id, deadline, |s, _, p| ended(s) || (s.status == IN_PROGRESS && undecided(p))).await?;
    if s.status == FAILED {
        // Refused by a step, each step taken given back: a retry with the key runs afresh (points may have been
        // added since), as a refusal before anything is written does.
        claim.forget().await;
        return Err(refusal_of(s.error.as_deref().unwrap_or_default()));
    }
    answer(ctx, merchant_id, &order.order_id, claim).await
}

/// Reads a saga, its order and its payment's status until `done` says so or `deadline` passes,
/// waking when a handler of this instance changed the saga, and every second (a handler
/// of another instance).
async fn wait_saga(
    ctx: &Context,
    merchant_id: &str,
    saga_id: &str,
    deadline: tokio::time::Instant,
    done: impl Fn(&SagaRow, &OrderRow, Option<PaymentStatus>) -> bool,
) -> Result<(SagaRow, OrderRow, Option<PaymentStatus>), AppError> {
    let mut changed = ctx.saga_changed.subscribe();
    loop {
        let s = store::find_saga(&ctx.db, Some(merchant_id), saga_id).await?.ok_or(AppError::NotFound("saga"))?;
        let o = store::find_order(&ctx.db, merchant_id, &s.order_id).await?.ok_or(AppError::NotFound("order"))?;
        let p = match &o.payment_id {
            Some(p) => payments_store::find(&ctx.db, merchant_id, p).await?.map(|r| r.status),
            None => None,
        };
        if done(&s, &o, p) || tokio::time::Instant::now() >= deadline {
            return Ok((s, o, p));
        }
        let this_saga = async {
            loop {
                match changed.recv().await {
                    Ok(id) if id != saga_id => continue,
                    // This saga, or missed messages (any of them could be this saga's).
                    _ => return,
                }
            }
        };
        tokio::select! {
            _ = this_saga => {}
            _ = tokio::time::sleep(std::time::Duration::from_millis(1000)) => {}
        }
    }
}

/// Compensates an order nothing was charged for, now, so a retry (or another buyer) finds the stock; a busy
/// database is tried again a few times before the recovery worker is left to do it.
async fn compensate_now(ctx: &Context, merchant_id: &str, saga_id: &str, reason: &str) {
    for attempt in 0..5 {
        match settle(ctx, merchant_id, saga_id, Some(reason)).await {
            Ok(_) => return,
            Err(e) if attempt < 4 => {
                tracing::debug!(saga = %saga_id, error = %e, "compensating failed; trying again");
                tokio::time::sleep(std::time::Duration::from_millis(100 << attempt)).await;
            }
            Err(e) => tracing::warn!(saga = %saga_id, error = %e, "compensating an order nothing was charged for failed; the recovery worker will"),
        }
    }
}

/// The local transaction of orchestration: every check and change of the purchase, or none. The hot rows
/// (an item's stock, wanted by every buyer at once) are taken last, so their locks are held only until the
/// commit that follows. An order with nothing left to pay is completed in the same transaction.
async fn place_in_txn(ctx: &Context, merchant_id: &str, input: &OrderInput, claim: &Claim) -> Result<OrderRow, AppError> {
    let now = settle_store::now_ms();
    let txn = settle_store::begin(&ctx.db).await?;
    let user = check_user(&txn, merchant_id, &input.user_id).await?;
    let (lines, total) = price_lines(&txn, merchant_id, &input.items).await?;
    check_limit(&user, total)?;
    let discount = match &input.issued_coupon_id {
        Some(issued) => use_coupon(&txn, merchant_id, &input.user_id, issued, total, now).await?,
        None => 0,
    };
    let use_points = if input.all_in_points { total - discount } else { input.use_points };
    deduct_points(&txn, merchant_id, &input.user_id, use_points, total - discount, now).await?;
    let paid = total - discount - use_points;
    let order_id = format!("ord_{}", uuid::Uuid::now_v7().simple());
    let saga_id = format!("saga_{}", uuid::Uuid::now_v7().simple());
    let payment_id = create_payment(&txn, merchant_id, &order_id, paid, &input.details, now).await?;
    let new = NewOrder {
        order_id: order_id.clone(),
        user_id: input.user_id.clone(),
        total_amount: total,
        used_points: use_points,
        coupon_discount: discount,
        paid_amount: paid,
        issued_coupon_id: input.issued_coupon_id.clone(),
        payment_id,
        card_given: input.card.is_some(),
        saga_id: saga_id.clone(),
        pattern: ORCHESTRATION.into(),
        lines: lines.clone(),
        details: input.details.clone(),
    };
    let (status, step) = if paid == 0 { (COMPLETED, SagaStep::Done) } else { (IN_PROGRESS, SagaStep::Payment) };
    store::insert_order(&txn, merchant_id, &new, status, step, now).await?;
    claim.bind_in(&txn, &format!("{ORDER_RESOURCE}{order_id}")).await?;
    let mut steps = STEPS.to_vec();
    if paid == 0 {
        steps.push(SagaStep::ChargeCard);
    }
    store::record_new_steps(&txn, &saga_id, &steps, now).await?;
    let o = store::find_order(&txn, merchant_id, &order_id).await?.ok_or(AppError::NotFound("order"))?;
    take_lines(&txn, merchant_id, &lines, now).await?;
    if paid == 0 {
        store::set_order_status(&txn, o.id, OrderStatus::Placed, OrderStatus::Paid, now).await?;
        store::insert_log(&txn, merchant_id, &o, "PURCHASE", now).await?;
        store::notify(&txn, merchant_id, &o.user_id, &saga_id, &format!("Order {order_id} is paid"), now).await?;
    }
    txn.commit().await.map_err(StoreError::from)?;
    if paid == 0 {
        metrics::counter!("settle_sagas_ended_total", "status" => COMPLETED.as_str()).increment(1);
    }
    ctx.outbox_wake.notify_one();
    Ok(o)
}
