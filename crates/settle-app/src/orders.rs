//! Orders and the purchase saga, seeds 002 and 004: orchestration here, choreography in [`choreography`]
//! (the same step and compensation functions, run as handlers of outbox events).
//!
//! Orchestrated, placing an order is one local transaction: the user is checked, stock taken, the coupon used, points taken,
//! a CARD payment created PENDING for the remainder, the order PLACED and the saga recorded IN_PROGRESS with a
//! result per step, or none of it. The card is charged after that transaction, through the card rail. The
//! saga then ends in one transaction as well: COMPLETED (order PAID, transaction log, notification) once the
//! payment is COMPLETED, or COMPENSATED (points, coupon and stock given back in reverse order, order
//! CANCELLED, a PENDING payment FAILED) once it is known to have failed. An unknown outcome (PROCESSING) is
//! never compensated: the callback or the reconciler decides it, and [`SagaWorker`] ends the saga then, as it
//! does for a saga cut off by a crash. Both endings are compare-and-sets on the saga's version, so a saga ends
//! once, one way.
//!
//! A saga's steps, in order: CHECK_USER, RESERVE_STOCK, USE_COUPON, DEDUCT_POINTS, CREATE_PAYMENT, then
//! CHARGE_CARD; compensation runs them backwards, each giving back only what its recorded result took.

use serde::{Deserialize, Serialize};
use settle_domain::{CouponStatus, OrderStatus, PaymentId, PaymentStatus, SagaStep, StepOutcome, UserStatus};
use settle_store::{
    ConnectionTrait, StoreError,
    orders::{self as store, NewOrder, OrderRow, SagaRow},
    payments::{self as payments_store, Changes, NewPayment},
    shop,
};

use crate::{
    AppError, Context,
    card::charge::CardInput,
    idempotency::{self, Claim, IdemKey, Reply},
    lease::LeaseHolder,
    payments::{
        ledger::{after_transition, transition_in},
        views::{PaymentView, event_payload},
    },
    time::rfc3339,
    worker::Outcome,
};

pub mod choreography;

pub use choreography::{CHOREOGRAPHY, Choreographer, Consumer, progress, rewind};

pub use crate::settings::{ORCHESTRATION, Pattern};
use SagaStatus::{Compensated as COMPENSATED, Compensating as COMPENSATING, Completed as COMPLETED, Failed as FAILED, InProgress as IN_PROGRESS};
pub use settle_domain::SagaStatus;

/// How long an order placed with a card may keep a PENDING payment before its charge counts as never started.
const CHARGE_GRACE_MS: i64 = 10_000;
/// How long a choreographed `POST /orders` waits for the steps (and then the payment's end) before answering
/// with the saga as it stands.
const CHOREOGRAPHY_WAIT: std::time::Duration = std::time::Duration::from_secs(20);

pub use crate::error::Refusal;

/// A refusal recorded as `code: message` (a choreographed saga's error) as the error the request answers.
fn refusal_of(error: &str) -> AppError {
    let (code, message) = error.split_once(": ").unwrap_or((error, error));
    match Refusal::parse(code) {
        Some(reason) => refused(reason, message),
        None => AppError::InvalidState(error.to_owned()),
    }
}

/// The steps of the purchase, in order; compensation runs them backwards.
const STEPS: [SagaStep; 5] = [SagaStep::CheckUser, SagaStep::ReserveStock, SagaStep::UseCoupon, SagaStep::DeductPoints, SagaStep::CreatePayment];

/// Why an order was refused (nothing changed). `code` is the seed's error, lower-cased.
fn refused(reason: Refusal, message: impl Into<String>) -> AppError {
    AppError::OrderRefused { reason, message: message.into() }
}

/// A parsed `POST /orders`.
#[derive(Debug)]
pub struct OrderInput {
    pub user_id: String,
    /// (item, quantity)
    pub items: Vec<(String, i64)>,
    pub issued_coupon_id: Option<String>,
    pub use_points: i64,
    /// Pay everything left after the coupon with points (`POST /purchase`).
    pub all_in_points: bool,
    pub card: Option<CardInput>,
    /// None: the configured default.
    pub pattern: Option<Pattern>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderLineView {
    pub item_id: String,
    pub quantity: i64,
    pub unit_price: i64,
}

/// An order. Amounts are integer minor units: `usedPoints + couponDiscount + paidAmount == totalAmount`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderView {
    pub order_id: String,
    pub user_id: String,
    pub status: OrderStatus,
    pub total_amount: i64,
    pub used_points: i64,
    pub coupon_discount: i64,
    pub paid_amount: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_coupon_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    pub transaction_id: String,
    pub items: Vec<OrderLineView>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepView {
    pub step: SagaStep,
    pub outcome: StepOutcome,
    pub at: String,
}

/// A purchase saga (`transactionId`), its status and the results of its steps.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SagaView {
    pub transaction_id: String,
    pub order_id: String,
    pub user_id: String,
    pub pattern: String,
    /// PENDING, IN_PROGRESS, COMPLETED, FAILED, COMPENSATING or COMPENSATED.
    pub status: SagaStatus,
    pub current_step: SagaStep,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub version: i64,
    pub steps: Vec<StepView>,
    pub created_at: String,
    pub updated_at: String,
}

/// The answer of `POST /orders`: the order, its payment (when a remainder is paid by card) and the saga.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlacedOrder {
    pub order: OrderView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentView>,
    pub saga: SagaView,
}

async fn order_view(conn: &impl settle_store::ConnectionTrait, o: &OrderRow) -> Result<OrderView, AppError> {
    let items = store::order_items(conn, &o.order_id).await?;
    Ok(OrderView {
        order_id: o.order_id.clone(),
        user_id: o.user_id.clone(),
        status: o.status,
        total_amount: o.total_amount,
        used_points: o.used_points,
        coupon_discount: o.coupon_discount,
        paid_amount: o.paid_amount,
        issued_coupon_id: o.issued_coupon_id.clone(),
        payment_id: o.payment_id.clone(),
        transaction_id: o.saga_id.clone(),
        items: items.into_iter().map(|i| OrderLineView { item_id: i.item_id, quantity: i.quantity, unit_price: i.unit_price }).collect(),
        created_at: rfc3339(o.created_at),
        updated_at: rfc3339(o.updated_at),
    })
}

async fn saga_view(conn: &impl settle_store::ConnectionTrait, s: &SagaRow) -> Result<SagaView, AppError> {
    let steps = store::steps(conn, &s.saga_id).await?;
    Ok(SagaView {
        transaction_id: s.saga_id.clone(),
        order_id: s.order_id.clone(),
        user_id: s.user_id.clone(),
        pattern: s.pattern.clone(),
        status: s.status,
        current_step: s.current_step,
        error: s.error.clone(),
        version: s.version,
        steps: steps.into_iter().map(|r| StepView { step: r.step, outcome: r.outcome, at: rfc3339(r.created_at) }).collect(),
        created_at: rfc3339(s.created_at),
        updated_at: rfc3339(s.updated_at),
    })
}

/// `POST /orders`: places the order (one transaction), charges the card when there is a remainder, and
/// answers with where the saga stands: COMPLETED, COMPENSATED (declined, with the body), or IN_PROGRESS
/// (the outcome is unknown, or no card was given and the payment waits for `POST /payments/{id}/card`).
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

/// What an order's Idempotency-Key is bound to: `order:` and the order id.
pub(crate) const ORDER_RESOURCE: &str = "order:";

/// Answers a retried `POST /orders` from the order its key was bound to: the saga goes on from where it stands
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

/// `POST /orders` by choreography: the request starts the saga, waits for the handlers to create the payment,
/// charges the card it holds (the card number is never stored), and waits for the saga to end (or for the
/// payment to wait on a card or on an unknown outcome). A refusal is answered as orchestration answers it.
async fn choreographed(ctx: &Context, merchant_id: &str, order: &OrderRow, card: Option<CardInput>, claim: &Claim) -> Result<Reply, AppError> {
    let saga_id = order.saga_id.as_str();
    let ended = |s: &SagaRow| s.status.is_ended();
    let (s, o, p) = wait_saga(ctx, merchant_id, saga_id, |s, o, _| ended(s) || o.payment_id.is_some()).await?;
    if s.status == IN_PROGRESS
        && p == Some(PaymentStatus::Pending)
        && let (Some(payment_id), Some(card)) = (&o.payment_id, card)
    {
        match crate::card::charge::charge(ctx, merchant_id, payment_id, card, None).await {
            Ok(_) => {}
            Err(e) if nothing_charged(&e) => {
                match choreography::fail_uncharged(ctx, merchant_id, payment_id, &e.to_string()).await {
                    Ok(_) => drop(wait_saga(ctx, merchant_id, saga_id, |s, _, _| ended(s)).await),
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
    let (s, _, _) = wait_saga(ctx, merchant_id, saga_id, |s, _, p| ended(s) || (s.status == IN_PROGRESS && undecided(p))).await?;
    if s.status == FAILED {
        // Refused by a step, each step taken given back: a retry with the key runs afresh (points may have been
        // added since), as a refusal before anything is written does.
        claim.forget().await;
        return Err(refusal_of(s.error.as_deref().unwrap_or_default()));
    }
    answer(ctx, merchant_id, &order.order_id, claim).await
}

/// Reads a saga, its order and its payment's status until `done` says so or [`CHOREOGRAPHY_WAIT`] passes,
/// waking when a handler of this instance changed the saga, and every second (a handler
/// of another instance).
async fn wait_saga(
    ctx: &Context,
    merchant_id: &str,
    saga_id: &str,
    done: impl Fn(&SagaRow, &OrderRow, Option<PaymentStatus>) -> bool,
) -> Result<(SagaRow, OrderRow, Option<PaymentStatus>), AppError> {
    let deadline = tokio::time::Instant::now() + CHOREOGRAPHY_WAIT;
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

/// CHECK_USER: the user exists and is active.
pub(crate) async fn check_user(conn: &impl ConnectionTrait, merchant_id: &str, user_id: &str) -> Result<shop::UserRow, AppError> {
    let user = shop::find_user(conn, merchant_id, user_id).await?.ok_or_else(|| refused(Refusal::UserNotFound, "no such user"))?;
    if user.status != UserStatus::Active {
        return Err(refused(Refusal::UserNotActive, format!("the user is {}", user.status)));
    }
    Ok(user)
}

/// CHECK_USER, continued: the order is within the user's purchase limit (0: none).
pub(crate) fn check_limit(user: &shop::UserRow, total: i64) -> Result<(), AppError> {
    if user.purchase_limit > 0 && total > user.purchase_limit {
        return Err(refused(Refusal::PurchaseLimitExceeded, format!("the order totals {total}, above the user's limit of {}", user.purchase_limit)));
    }
    Ok(())
}

/// The lines of an order with their unit prices, in item-id order, and the total: every item exists and is
/// available. Nothing is locked.
pub(crate) async fn price_lines(
    conn: &impl ConnectionTrait,
    merchant_id: &str,
    items: &[(String, i64)],
) -> Result<(Vec<(String, i64, i64)>, i64), AppError> {
    let mut wanted: Vec<&(String, i64)> = items.iter().collect();
    wanted.sort();
    let (mut lines, mut total) = (Vec::new(), 0i64);
    for (item_id, quantity) in wanted {
        let item =
            shop::find_item(conn, merchant_id, item_id).await?.ok_or_else(|| refused(Refusal::ItemNotFound, format!("no such item: {item_id}")))?;
        if !item.available {
            return Err(refused(Refusal::ItemNotAvailable, format!("{item_id} is not available")));
        }
        total = item
            .price
            .checked_mul(*quantity)
            .and_then(|v| v.checked_add(total))
            .ok_or_else(|| AppError::invalid("items", "the order's total is too large"))?;
        lines.push((item_id.clone(), *quantity, item.price));
    }
    Ok((lines, total))
}

/// Takes every line's quantity from stock, never below zero, in item-id order (two orders for the same items
/// never wait on each other in a cycle).
pub(crate) async fn take_lines(conn: &impl ConnectionTrait, merchant_id: &str, lines: &[(String, i64, i64)], now: i64) -> Result<(), AppError> {
    for (item_id, quantity, _) in lines {
        if !shop::take_stock(conn, merchant_id, item_id, *quantity, now).await? {
            return Err(refused(Refusal::OutOfStock, format!("{item_id} has fewer than {quantity} in stock")));
        }
    }
    Ok(())
}

/// RESERVE_STOCK: every item available and its quantity taken from stock.
pub(crate) async fn reserve_stock(conn: &impl ConnectionTrait, merchant_id: &str, items: &[(String, i64)], now: i64) -> Result<(), AppError> {
    let (lines, _) = price_lines(conn, merchant_id, items).await?;
    take_lines(conn, merchant_id, &lines, now).await
}

/// USE_COUPON: the user's AVAILABLE coupon becomes USED (a compare-and-set on its version); returns the
/// discount, at most `left`.
pub(crate) async fn use_coupon(
    conn: &impl ConnectionTrait,
    merchant_id: &str,
    user_id: &str,
    issued_id: &str,
    left: i64,
    now: i64,
) -> Result<i64, AppError> {
    let usable = match shop::find_issued(conn, merchant_id, issued_id).await? {
        Some(c) if c.user_id == user_id && c.status == CouponStatus::Available => match shop::find_coupon(conn, merchant_id, &c.coupon_id).await? {
            Some(coupon) if shop::set_coupon_status(conn, &c, CouponStatus::Used, now).await? => Some(coupon.discount.min(left)),
            _ => None,
        },
        _ => None,
    };
    usable.ok_or_else(|| refused(Refusal::CouponNotUsable, "the coupon is not this user's, or was used"))
}

/// DEDUCT_POINTS: `points` (at most `left`) taken from the user, never below zero.
pub(crate) async fn deduct_points(
    conn: &impl ConnectionTrait,
    merchant_id: &str,
    user_id: &str,
    points: i64,
    left: i64,
    now: i64,
) -> Result<(), AppError> {
    if points > left {
        return Err(refused(Refusal::AmountMismatch, format!("usePoints ({points}) is more than the amount left to pay ({left})")));
    }
    if points > 0 && !shop::take_points(conn, merchant_id, user_id, points, now).await? {
        let has = shop::find_user(conn, merchant_id, user_id).await?.map(|u| u.points).unwrap_or(0);
        return Err(refused(Refusal::InsufficientBalance, format!("the user has {has} points, {points} are needed")));
    }
    Ok(())
}

/// CREATE_PAYMENT: a PENDING CARD payment for what is left to pay (none when nothing is), with its
/// `payment.created` event.
pub(crate) async fn create_payment(
    conn: &impl ConnectionTrait,
    merchant_id: &str,
    order_id: &str,
    paid: i64,
    now: i64,
) -> Result<Option<String>, AppError> {
    if paid <= 0 {
        return Ok(None);
    }
    let new = NewPayment {
        payment_id: PaymentId::generate().to_string(),
        merchant_id: merchant_id.to_owned(),
        order_id: order_id.to_owned(),
        rail: settle_domain::Rail::Card,
        amount: paid.to_string(),
        currency: "KRW".to_owned(),
        chain_id: None,
        token_address: None,
        recipient_address: None,
        chain_terms: None,
    };
    let row = payments_store::insert(conn, new, now).await?;
    let view = PaymentView::from(&row);
    settle_store::outbox::enqueue(conn, merchant_id, "payment.created", &row.payment_id, &event_payload("payment.created", &view), now).await?;
    Ok(Some(row.payment_id))
}

/// The compensations of DEDUCT_POINTS, USE_COUPON and RESERVE_STOCK. Each acts only on a step recorded DONE
/// and not yet COMPENSATED, and records its COMPENSATED result with its change: running one twice gives back
/// nothing twice, and a step that never ran (a saga refused before it) has nothing given back and no result.
async fn to_compensate(conn: &impl ConnectionTrait, saga_id: &str, step: SagaStep) -> Result<bool, AppError> {
    let outcomes = store::step_outcomes(conn, saga_id, step).await?;
    Ok(outcomes.contains(&StepOutcome::Done) && !outcomes.contains(&StepOutcome::Compensated))
}

pub(crate) async fn restore_points(conn: &impl ConnectionTrait, o: &OrderRow, now: i64) -> Result<(), AppError> {
    if to_compensate(conn, &o.saga_id, SagaStep::DeductPoints).await? {
        if o.used_points > 0 {
            shop::give_points(conn, &o.merchant_id, &o.user_id, o.used_points, now).await?;
        }
        store::record_step(conn, &o.saga_id, SagaStep::DeductPoints, StepOutcome::Compensated, None, now).await?;
    }
    Ok(())
}

pub(crate) async fn release_coupon(conn: &impl ConnectionTrait, o: &OrderRow, now: i64) -> Result<(), AppError> {
    if to_compensate(conn, &o.saga_id, SagaStep::UseCoupon).await? {
        if let Some(issued) = &o.issued_coupon_id
            && let Some(c) = shop::find_issued(conn, &o.merchant_id, issued).await?
            && c.status == CouponStatus::Used
        {
            shop::set_coupon_status(conn, &c, CouponStatus::Available, now).await?;
        }
        store::record_step(conn, &o.saga_id, SagaStep::UseCoupon, StepOutcome::Compensated, None, now).await?;
    }
    Ok(())
}

pub(crate) async fn return_stock(conn: &impl ConnectionTrait, o: &OrderRow, now: i64) -> Result<(), AppError> {
    if to_compensate(conn, &o.saga_id, SagaStep::ReserveStock).await? {
        for line in store::order_items(conn, &o.order_id).await? {
            shop::return_stock(conn, &o.merchant_id, &line.item_id, line.quantity, now).await?;
        }
        store::record_step(conn, &o.saga_id, SagaStep::ReserveStock, StepOutcome::Compensated, None, now).await?;
    }
    Ok(())
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
    let payment_id = create_payment(&txn, merchant_id, &order_id, paid, now).await?;
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

/// The order, its payment and its saga, as of one moment (one snapshot: an order is never shown PLACED beside
/// the saga that made it PAID).
pub async fn placed(ctx: &Context, merchant_id: &str, order_id: &str) -> Result<PlacedOrder, AppError> {
    // One snapshot transaction, in a task of its own so that a read cut off never leaves it open.
    let (c, m, o) = (ctx.clone(), merchant_id.to_owned(), order_id.to_owned());
    tokio::spawn(async move { placed_in_snapshot(&c, &m, &o).await }).await.map_err(AppError::internal)?
}

async fn placed_in_snapshot(ctx: &Context, merchant_id: &str, order_id: &str) -> Result<PlacedOrder, AppError> {
    let txn = settle_store::begin_snapshot(&ctx.db).await?;
    let o = store::find_order(&txn, merchant_id, order_id).await?.ok_or(AppError::NotFound("order"))?;
    let payment = match &o.payment_id {
        Some(p) => payments_store::find(&txn, merchant_id, p).await?.map(|r| PaymentView::from(&r)),
        None => None,
    };
    let s = store::find_saga(&txn, Some(merchant_id), &o.saga_id).await?.ok_or(AppError::NotFound("saga"))?;
    let placed = PlacedOrder { order: order_view(&txn, &o).await?, payment, saga: saga_view(&txn, &s).await? };
    txn.commit().await.map_err(StoreError::from)?;
    Ok(placed)
}

fn cache_key(merchant_id: &str, saga_id: &str) -> String {
    format!("saga:{merchant_id}:{saga_id}")
}

/// `GET /saga/{transactionId}`, read through the cache. Only an ended saga is cached: it never changes again,
/// so its entry can never be stale, and its version guards the write all the same. A saga still running is
/// read from the database: caching it would mean re-reading and re-writing the entry after every step.
pub async fn saga(ctx: &Context, merchant_id: &str, saga_id: &str) -> Result<SagaView, AppError> {
    let key = cache_key(merchant_id, saga_id);
    if let Some(v) = ctx.cache.get_doc(&key).await.and_then(|body| serde_json::from_str::<SagaView>(&body).ok()) {
        metrics::counter!("settle_saga_reads_total", "source" => "cache").increment(1);
        return Ok(v);
    }
    let s = store::find_saga(&ctx.db, Some(merchant_id), saga_id).await?.ok_or(AppError::NotFound("saga"))?;
    let view = saga_view(&ctx.db, &s).await?;
    metrics::counter!("settle_saga_reads_total", "source" => "database").increment(1);
    if view.status.is_ended()
        && let Ok(body) = serde_json::to_string(&view)
    {
        ctx.cache.put_doc(&key, view.version, body).await;
    }
    Ok(view)
}

/// Ends a saga whose payment is decided (or that has none): COMPLETED, or COMPENSATED. `nothing_charged` (a
/// reason) compensates a saga whose payment is still PENDING because the charge was never sent. Returns the
/// saga's status afterwards. Safe to call any number of times, from anywhere.
pub async fn settle(ctx: &Context, merchant_id: &str, saga_id: &str, nothing_charged: Option<&str>) -> Result<SagaStatus, AppError> {
    let s = store::find_saga(&ctx.db, Some(merchant_id), saga_id).await?.ok_or(AppError::NotFound("saga"))?;
    settle_saga(ctx, &s, nothing_charged).await
}

/// [`settle`] for a saga row already read.
async fn settle_saga(ctx: &Context, s: &SagaRow, nothing_charged: Option<&str>) -> Result<SagaStatus, AppError> {
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
    let nothing_charged = nothing_charged.or(cut_off);
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
            let data = serde_json::json!({"code": "order_compensated", "message": why});
            let changes = Changes { failure_message: Some(why.clone()), ..Default::default() };
            match transition_in(&txn, p, PaymentStatus::Failed, changes, Some(data), None).await? {
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

async fn reload(ctx: &Context, saga_id: &str) -> Result<SagaStatus, AppError> {
    Ok(store::find_saga(&ctx.db, None, saga_id).await?.map_or(SagaStatus::Pending, |s| s.status))
}

/// Ends sagas whose payment was decided later (a callback, the reconciler, a card paid afterwards) and sagas
/// cut off by a crash; one instance at a time (lease `saga-recovery`).
#[derive(Clone)]
pub struct SagaWorker {
    ctx: Context,
    lease: LeaseHolder,
}

impl SagaWorker {
    pub fn new(ctx: Context) -> Self {
        Self { lease: LeaseHolder::new(ctx.clone(), "saga-recovery"), ctx }
    }

    pub async fn release(&self) {
        self.lease.release().await;
    }

    pub async fn run_once(&self) -> Result<Outcome, AppError> {
        let now = settle_store::now_ms();
        if !self.lease.hold(now).await? {
            return Ok(Outcome::Idle);
        }
        // Sagas a request is still driving are left alone for a moment.
        let open = store::open_sagas(&self.ctx.db, &[IN_PROGRESS, COMPENSATING], now - 500, 100).await?;
        let mut n = 0;
        for s in open {
            let status = settle_saga(&self.ctx, &s, None).await?;
            if status != s.status {
                n += 1;
            } else {
                store::touch_saga(&self.ctx.db, s.id, now).await?;
            }
        }
        Ok(if n > 0 { Outcome::Worked(n) } else { Outcome::Idle })
    }
}

/// `GET /sagas`: a page of the merchant's sagas, newest first (seed 002's shape).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SagaPage {
    pub data: Vec<SagaView>,
    pub total: u64,
    pub page: u64,
    pub limit: u64,
    pub total_pages: u64,
}

/// Filters of `GET /sagas`.
#[derive(Debug, Default)]
pub struct SagaQuery {
    pub status: Option<String>,
    pub user_id: Option<String>,
    /// Epoch milliseconds: sagas created at or after.
    pub date_from: Option<i64>,
    pub page: u64,
    pub limit: u64,
}

pub async fn list_sagas(ctx: &Context, merchant_id: &str, q: SagaQuery) -> Result<SagaPage, AppError> {
    let status = match q.status.as_deref() {
        Some(s) => Some(s.parse::<SagaStatus>().map_err(|()| {
            let names: Vec<&str> = SagaStatus::ALL.iter().map(|s| s.as_str()).collect();
            AppError::invalid("status", format!("status must be one of {}", names.join(", ")))
        })?),
        None => None,
    };
    if !(1..=100).contains(&q.limit) {
        return Err(AppError::invalid("limit", "limit must be 1 to 100"));
    }
    if !(1..=100_000).contains(&q.page) {
        return Err(AppError::invalid("page", "page must be 1 to 100000"));
    }
    let (rows, total) = store::list_sagas(&ctx.db, merchant_id, status, q.user_id.as_deref(), q.date_from, (q.page - 1) * q.limit, q.limit).await?;
    let mut data = Vec::with_capacity(rows.len());
    for r in &rows {
        data.push(saga_view(&ctx.db, r).await?);
    }
    Ok(SagaPage { data, total, page: q.page, limit: q.limit, total_pages: total.div_ceil(q.limit) })
}

/// `GET /sagas/stats`: how many sagas there are, in all and per status (every status listed, zeros included).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SagaStats {
    pub total: i64,
    pub by_status: std::collections::BTreeMap<String, i64>,
}

pub async fn saga_stats(ctx: &Context, merchant_id: &str) -> Result<SagaStats, AppError> {
    let mut by_status: std::collections::BTreeMap<String, i64> = SagaStatus::ALL.iter().map(|s| (s.as_str().to_owned(), 0)).collect();
    for (status, n) in store::saga_counts(&ctx.db, merchant_id).await? {
        by_status.insert(status.as_str().to_owned(), n);
    }
    Ok(SagaStats { total: by_status.values().sum(), by_status })
}

crate::worker::impl_worker!(SagaWorker, "saga-recovery", true, crate::AppError);
