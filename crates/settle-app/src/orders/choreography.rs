//! The purchase saga by choreography (seed 002's second pattern), with an inbox (seed 003).
//!
//! The request writes the order PLACED, its saga IN_PROGRESS and a `saga.started` event, in one transaction.
//! From there each step is a handler of one event type, read from the outbox by seq: it makes its change,
//! records its step result and emits the next event (or `saga.refused`) in one transaction, which also claims
//! the event in the `inbox` for its consumer, so a handler runs at most once per event even when the outbox is
//! read again after a crash. The steps and their compensations are the orchestrator's own functions; the end
//! states are the same:
//!
//! ```text
//! saga.started ─users─▶ saga.user_checked ─stock─▶ saga.stock_reserved ─coupons─▶ saga.coupon_used
//!   ─points─▶ saga.points_deducted ─payments─▶ saga.payment_created ─(card charged by the request)─▶
//!   payment.completed ─orders─▶ order PAID, saga COMPLETED (saga.completed)
//!   payment.failed|cancelled|expired ─orders─▶ COMPENSATING ┐
//! a step's refusal: saga.refused ─orders─▶ COMPENSATING ────┤
//!   saga.compensating ─points─▶ saga.points_restored ─coupons─▶ saga.coupon_released ─stock─▶
//!   saga.stock_returned ─orders─▶ order CANCELLED, saga COMPENSATED (a payment failed) or FAILED (refused)
//! ```
//!
//! A compensation gives back only what its step's recorded result says was taken. One instance at a time
//! dispatches (lease `saga-choreography`); its read position is kept in `consumer_offsets`.
//!
//! The dispatcher also wakes the orchestrated sagas: the end of an orchestrated order's payment ends its saga
//! (`recovery`), so that it never waits for the recovery sweep.

use std::sync::{Arc, Mutex};

use futures::StreamExt;
use serde_json::{Value, json};
use settle_domain::{OrderStatus, PaymentStatus, SagaStep, StepOutcome};
use settle_store::{
    DatabaseTransaction, StoreError, TransactionTrait,
    orders::{self as store, NewOrder, OrderRow, SagaRow},
    outbox::{self, OutboxRow},
    payments::{self as payments_store, Changes},
    shop,
};

use super::{
    COMPENSATED, COMPENSATING, COMPLETED, FAILED, IN_PROGRESS, OrderInput, Refusal, SagaStatus, check_limit, check_user, create_payment,
    deduct_points, refused, release_coupon, reserve_stock, restore_points, return_stock, use_coupon,
};
use crate::{
    AppError, Context,
    lease::LeaseHolder,
    ledger::{Fact, after_transition, transition_in},
    worker::Outcome,
};

pub const CHOREOGRAPHY: &str = "choreography";
/// The dispatcher's lease and read position.
pub(crate) const NAME: &str = "saga-choreography";
const BATCH: u64 = 500;
/// When this many events past the stored read position hold none for the consumers, the position is stored.
const SKIP_STORED: i64 = 100;
/// Sagas handled at once by the dispatcher.
const PARALLEL: usize = 8;

const STARTED: &str = "saga.started";
const USER_CHECKED: &str = "saga.user_checked";
const STOCK_RESERVED: &str = "saga.stock_reserved";
const COUPON_USED: &str = "saga.coupon_used";
const POINTS_DEDUCTED: &str = "saga.points_deducted";
const PAYMENT_CREATED: &str = "saga.payment_created";
const REFUSED: &str = "saga.refused";
const COMPENSATE: &str = "saga.compensating";
const POINTS_RESTORED: &str = "saga.points_restored";
const COUPON_RELEASED: &str = "saga.coupon_released";
const STOCK_RETURNED: &str = "saga.stock_returned";
const PAYMENT_ENDS: [&str; 4] = ["payment.completed", "payment.failed", "payment.cancelled", "payment.expired"];

/// The consumers ("services") of the choreography and the events each handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consumer {
    Users,
    Stock,
    Coupons,
    Points,
    Payments,
    Orders,
}

impl Consumer {
    pub const ALL: [Consumer; 6] = [Self::Users, Self::Stock, Self::Coupons, Self::Points, Self::Payments, Self::Orders];

    pub fn name(self) -> &'static str {
        match self {
            Self::Users => "users",
            Self::Stock => "stock",
            Self::Coupons => "coupons",
            Self::Points => "points",
            Self::Payments => "payments",
            Self::Orders => "orders",
        }
    }

    fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    fn of(topic: &str) -> Option<Self> {
        Some(match topic {
            STARTED => Self::Users,
            USER_CHECKED | COUPON_RELEASED => Self::Stock,
            STOCK_RESERVED | POINTS_RESTORED => Self::Coupons,
            COUPON_USED | COMPENSATE => Self::Points,
            POINTS_DEDUCTED => Self::Payments,
            PAYMENT_CREATED | REFUSED | STOCK_RETURNED => Self::Orders,
            t if PAYMENT_ENDS.contains(&t) => Self::Orders,
            _ => return None,
        })
    }
}

/// Every topic a consumer handles.
const TOPICS: [&str; 15] = [
    STARTED,
    USER_CHECKED,
    STOCK_RESERVED,
    COUPON_USED,
    POINTS_DEDUCTED,
    PAYMENT_CREATED,
    REFUSED,
    COMPENSATE,
    POINTS_RESTORED,
    COUPON_RELEASED,
    STOCK_RETURNED,
    PAYMENT_ENDS[0],
    PAYMENT_ENDS[1],
    PAYMENT_ENDS[2],
    PAYMENT_ENDS[3],
];

/// The request's transaction: the order PLACED at the items' current prices (an unknown item is refused here,
/// with nothing written), its saga IN_PROGRESS and `saga.started`.
pub(crate) async fn start(ctx: &Context, merchant_id: &str, input: &OrderInput, claim: &crate::idempotency::Claim) -> Result<OrderRow, AppError> {
    let now = settle_store::now_ms();
    let txn = settle_store::begin(&ctx.db).await?;
    let (mut lines, mut total) = (Vec::new(), 0i64);
    for (item_id, quantity) in &input.items {
        let item =
            shop::find_item(&txn, merchant_id, item_id).await?.ok_or_else(|| refused(Refusal::ItemNotFound, format!("no such item: {item_id}")))?;
        total = item
            .price
            .checked_mul(*quantity)
            .and_then(|v| v.checked_add(total))
            .ok_or_else(|| AppError::invalid("items", "the order's total is too large"))?;
        lines.push((item_id.clone(), *quantity, item.price));
    }
    let (order_id, saga_id) = (format!("ord_{}", uuid::Uuid::now_v7().simple()), format!("saga_{}", uuid::Uuid::now_v7().simple()));
    let new = NewOrder {
        order_id: order_id.clone(),
        user_id: input.user_id.clone(),
        total_amount: total,
        used_points: 0,
        coupon_discount: 0,
        // Nothing taken off yet: each step moves its part from here, in the UPDATE that records it.
        paid_amount: total,
        issued_coupon_id: input.issued_coupon_id.clone(),
        payment_id: None,
        card_given: input.card.is_some(),
        saga_id: saga_id.clone(),
        pattern: CHOREOGRAPHY.into(),
        lines,
        details: input.details.clone(),
    };
    store::insert_order(&txn, merchant_id, &new, IN_PROGRESS, SagaStep::CheckUser, now).await?;
    claim.bind_in(&txn, &format!("{}{order_id}", super::ORDER_RESOURCE)).await?;
    let data = json!({
        "sagaId": saga_id, "orderId": order_id, "userId": input.user_id,
        "usePoints": input.use_points, "allInPoints": input.all_in_points,
    });
    outbox::enqueue(&txn, merchant_id, STARTED, &saga_id, &json!({"type": STARTED, "data": data}), now).await?;
    txn.commit().await.map_err(StoreError::from)?;
    ctx.outbox_wake.notify_one();
    store::find_order(&ctx.db, merchant_id, &order_id).await?.ok_or(AppError::NotFound("order"))
}

/// Fails an order's PENDING payment that was never charged (the circuit is open, or the request that held the
/// card was cut off); its `payment.failed` starts the compensation. False when the payment was not PENDING
/// (a charge started meanwhile).
pub(crate) async fn fail_uncharged(ctx: &Context, merchant_id: &str, payment_id: &str, code: &str, why: &str) -> Result<bool, AppError> {
    let txn = settle_store::begin(&ctx.db).await?;
    let Some(p) = payments_store::find(&txn, merchant_id, payment_id).await? else { return Ok(false) };
    if p.status != PaymentStatus::Pending {
        return Ok(false);
    }
    let data = json!({"code": code, "message": why});
    let changes = Changes { failure_message: Some(why.to_owned()), ..Default::default() };
    let Some((row, _)) = transition_in(&txn, &p, Fact::Failed, changes, Some(data), None).await? else { return Ok(false) };
    txn.commit().await.map_err(StoreError::from)?;
    after_transition(ctx, &row).await;
    Ok(true)
}

/// The recovery worker's part for a choreographed saga: the cut-off rule of orchestration (a card order whose
/// payment is still PENDING long after it was created was never charged: the request holding the card was cut
/// off), by failing the payment. The handlers do the rest.
pub(crate) async fn recover(ctx: &Context, s: &SagaRow) -> Result<SagaStatus, AppError> {
    let now = settle_store::now_ms();
    if s.status == IN_PROGRESS
        && now - s.created_at > super::CHARGE_GRACE_MS
        && let Some(o) = store::find_order(&ctx.db, &s.merchant_id, &s.order_id).await?
        && o.card_given
        && let Some(p) = &o.payment_id
        && let Some(row) = payments_store::find(&ctx.db, &s.merchant_id, p).await?
        && row.status == PaymentStatus::Pending
        && now - row.created_at > super::CHARGE_GRACE_MS
    {
        fail_uncharged(ctx, &s.merchant_id, p, "order_compensated", "the charge never started: the request was cut off").await?;
    }
    // An order placed without a card nobody paid in time: its payment FAILED, and the handlers give everything back.
    if s.status == IN_PROGRESS
        && let Some(o) = store::find_order(&ctx.db, &s.merchant_id, &s.order_id).await?
        && let Some(p) = &o.payment_id
        && let Some(row) = payments_store::find(&ctx.db, &s.merchant_id, p).await?
        && let Some(why) = super::recovery::unpaid_past_ttl(ctx, &o, Some(&row))
    {
        fail_uncharged(ctx, &s.merchant_id, p, "order_expired", &why).await?;
    }
    // A saga that never reached its payment within the unpaid TTL (an event of it parked in the dead letters, or the
    // dispatcher down that long): it gives everything back rather than hold it for ever. A parked event retried later
    // finds the saga compensating and does nothing.
    let ttl = ctx.settings.order_unpaid_ttl.as_millis() as i64;
    if s.status == IN_PROGRESS
        && now - s.created_at > ttl
        && let Some(o) = store::find_order(&ctx.db, &s.merchant_id, &s.order_id).await?
        && o.payment_id.is_none()
        && !store::step_recorded(&ctx.db, &s.saga_id, SagaStep::CreatePayment, StepOutcome::Done).await?
    {
        let why = "the order did not reach its payment in time".to_owned();
        let txn = settle_store::begin(&ctx.db).await?;
        if store::set_saga(&txn, s, COMPENSATING, SagaStep::Compensate, Some(&why), now).await?.is_some() {
            let data = json!({"sagaId": s.saga_id, "orderId": o.order_id, "userId": o.user_id});
            outbox::enqueue(&txn, &s.merchant_id, COMPENSATE, &s.saga_id, &json!({"type": COMPENSATE, "data": data}), now).await?;
            txn.commit().await.map_err(StoreError::from)?;
            ctx.outbox_wake.notify_one();
            return Ok(COMPENSATING);
        }
    }
    Ok(s.status)
}

/// What a handler decided: the saga's next status and step, and the event it emits.
struct Next {
    status: SagaStatus,
    step: SagaStep,
    error: Option<String>,
    topic: &'static str,
    data: Value,
}

/// Ends one step's change, made in the savepoint `sp`: kept and recorded DONE when it succeeded, undone when
/// it was refused (the inbox claim stays) and turned into `saga.refused`; any other error fails the handler.
async fn finish_step(
    txn: &DatabaseTransaction,
    sp: DatabaseTransaction,
    result: Result<Value, AppError>,
    name: SagaStep,
    data: &Value,
    next: Next,
) -> Result<Next, AppError> {
    match result {
        Ok(extra) => {
            sp.commit().await.map_err(StoreError::from)?;
            store::record_step(txn, data_saga(data), name, StepOutcome::Done, None, settle_store::now_ms()).await?;
            Ok(Next { data: merge(data, extra), ..next })
        }
        Err(AppError::OrderRefused { reason, message }) => {
            sp.rollback().await.map_err(StoreError::from)?;
            let data = merge(data, json!({"step": name, "code": reason.code(), "message": message}));
            Ok(Next { status: IN_PROGRESS, step: name, error: None, topic: REFUSED, data })
        }
        Err(e) => {
            let _ = sp.rollback().await;
            Err(e)
        }
    }
}

fn data_saga(data: &Value) -> &str {
    data["sagaId"].as_str().unwrap_or_default()
}

fn merge(data: &Value, extra: Value) -> Value {
    let mut d = data.clone();
    if let (Some(d), Value::Object(extra)) = (d.as_object_mut(), extra) {
        d.extend(extra);
    }
    d
}

/// The saga an event is about: its aggregate for the saga's own events; for a payment's end, the saga of the
/// order the payment pays (None: not an order's payment).
async fn saga_of(ctx: &Context, ev: &OutboxRow) -> Result<Option<String>, AppError> {
    if PAYMENT_ENDS.contains(&ev.topic.as_str()) {
        return Ok(store::find_order_by_payment(&ctx.db, &ev.merchant_id, &ev.aggregate_id).await?.map(|o| o.saga_id));
    }
    Ok(Some(ev.aggregate_id.clone()))
}

/// What makes one handling of an event happen at most once.
#[derive(Clone, Copy)]
enum Once {
    /// The consumer's inbox claim (the dispatcher).
    Inbox,
    /// Taking the dead letter away (an operator's retry): its inbox claim was made when it was parked.
    DeadLetter(i64),
}

/// Handles one event for its consumer, in one transaction with the consumer's inbox claim.
async fn handle(ctx: &Context, consumer: Consumer, ev: &OutboxRow, saga_id: &str) -> Result<(), AppError> {
    handle_once(ctx, consumer, ev, saga_id, Once::Inbox).await.map(drop)
}

/// Handles one event for its consumer, in one transaction with what makes it happen once (`once`). False when it
/// had happened already (claimed in the inbox, or the dead letter taken by another retry).
async fn handle_once(ctx: &Context, consumer: Consumer, ev: &OutboxRow, saga_id: &str, once: Once) -> Result<bool, AppError> {
    let now = settle_store::now_ms();
    let seq = ev.seq.unwrap_or_default();
    let payload: Value = serde_json::from_str(&ev.payload).unwrap_or(Value::Null);
    // Only a payment's end can be an orchestrated order's (a `saga.*` event is always a choreographed saga's).
    if PAYMENT_ENDS.contains(&ev.topic.as_str())
        && let Some(saga) = store::find_saga(&ctx.db, Some(&ev.merchant_id), saga_id).await?
        && saga.pattern != CHOREOGRAPHY
    {
        // An orchestrated order's payment ended: its saga ends now, woken by the event rather than by the sweep.
        // Nothing is claimed in the inbox: ending a saga is a compare-and-set on its version, safe to repeat.
        super::recovery::settle_saga(ctx, &saga, None).await?;
        return match once {
            Once::Inbox => Ok(true),
            Once::DeadLetter(id) => Ok(settle_store::dead_letters::take(&ctx.db, id).await?),
        };
    }
    let txn = settle_store::begin(&ctx.db).await?;
    let first = match once {
        Once::Inbox => store::claim_event(&txn, consumer.name(), seq, now).await?,
        Once::DeadLetter(id) => settle_store::dead_letters::take(&txn, id).await?,
    };
    if !first {
        return Ok(false);
    }
    let Some(saga) = store::find_saga(&txn, Some(&ev.merchant_id), saga_id).await? else {
        txn.commit().await.map_err(StoreError::from)?;
        return Ok(true);
    };
    let o = store::find_order(&txn, &saga.merchant_id, &saga.order_id).await?.ok_or(AppError::NotFound("order"))?;
    let data = match payload.get("data") {
        Some(d) if d.get("sagaId").is_some() => d.clone(),
        _ => json!({"sagaId": saga.saga_id, "orderId": o.order_id, "userId": o.user_id}),
    };
    let next = decide(&txn, consumer, ev, &saga, &o, &data, now).await?;
    if let Some(next) = next {
        let Some(_) = store::set_saga(&txn, &saga, next.status, next.step, next.error.as_deref(), now).await? else {
            return Err(AppError::from(StoreError::Conflict("the saga changed meanwhile")));
        };
        outbox::enqueue(&txn, &saga.merchant_id, next.topic, &saga.saga_id, &json!({"type": next.topic, "data": next.data}), now).await?;
    }
    txn.commit().await.map_err(StoreError::from)?;
    ctx.outbox_wake.notify_one();
    let _ = ctx.saga_changed.send(saga.saga_id.clone());
    Ok(true)
}

/// The consumer's step for this event: None when there is nothing to do (the saga is past it).
async fn decide(
    txn: &DatabaseTransaction,
    consumer: Consumer,
    ev: &OutboxRow,
    saga: &SagaRow,
    o: &OrderRow,
    data: &Value,
    now: i64,
) -> Result<Option<Next>, AppError> {
    let forward = saga.status == IN_PROGRESS;
    let compensating = saga.status == COMPENSATING;
    let next = |topic, step| Next { status: IN_PROGRESS, step, error: None, topic, data: data.clone() };
    let back = |topic, step| Next { status: COMPENSATING, step, error: saga.error.clone(), topic, data: data.clone() };
    let (m, user) = (o.merchant_id.as_str(), o.user_id.as_str());
    let sp = || async { txn.begin().await.map_err(|e| AppError::from(StoreError::from(e))) };
    Ok(Some(match (consumer, ev.topic.as_str()) {
        (Consumer::Users, STARTED) if forward => {
            let sp = sp().await?;
            let r = async { check_limit(&check_user(&sp, m, user).await?, o.total_amount).map(|_| json!({})) }.await;
            finish_step(txn, sp, r, SagaStep::CheckUser, data, next(USER_CHECKED, SagaStep::ReserveStock)).await?
        }
        (Consumer::Stock, USER_CHECKED) if forward => {
            let sp = sp().await?;
            let r = async {
                let items: Vec<(String, i64)> = store::order_items(&sp, &o.order_id).await?.into_iter().map(|l| (l.item_id, l.quantity)).collect();
                reserve_stock(&sp, m, &items, now).await.map(|()| json!({}))
            }
            .await;
            finish_step(txn, sp, r, SagaStep::ReserveStock, data, next(STOCK_RESERVED, SagaStep::UseCoupon)).await?
        }
        (Consumer::Coupons, STOCK_RESERVED) if forward => {
            let sp = sp().await?;
            let r = async {
                let Some(issued) = &o.issued_coupon_id else { return Ok(json!({"couponDiscount": 0})) };
                let discount = use_coupon(&sp, m, user, issued, o.paid_amount, now).await?;
                if !store::apply_reduction(&sp, o.id, false, discount, now).await? {
                    return Err(AppError::from(StoreError::Conflict("the order's amounts changed meanwhile")));
                }
                Ok(json!({"couponDiscount": discount}))
            }
            .await;
            finish_step(txn, sp, r, SagaStep::UseCoupon, data, next(COUPON_USED, SagaStep::DeductPoints)).await?
        }
        (Consumer::Points, COUPON_USED) if forward => {
            let sp = sp().await?;
            let r = async {
                let points = if data["allInPoints"].as_bool() == Some(true) { o.paid_amount } else { data["usePoints"].as_i64().unwrap_or(0) };
                deduct_points(&sp, m, user, points, o.paid_amount, now).await?;
                if points > 0 && !store::apply_reduction(&sp, o.id, true, points, now).await? {
                    return Err(AppError::from(StoreError::Conflict("the order's amounts changed meanwhile")));
                }
                Ok(json!({"usedPoints": points}))
            }
            .await;
            finish_step(txn, sp, r, SagaStep::DeductPoints, data, next(POINTS_DEDUCTED, SagaStep::CreatePayment)).await?
        }
        (Consumer::Payments, POINTS_DEDUCTED) if forward => {
            let sp = sp().await?;
            let r = async {
                let details = settle_store::payments::Details {
                    description: o.description.clone(),
                    customer_email: o.customer_email.clone(),
                    metadata: settle_store::payments::metadata_of(o.metadata.as_deref()),
                };
                let payment_id = create_payment(&sp, m, &o.order_id, o.paid_amount, &details, now).await?;
                if let Some(p) = &payment_id {
                    store::set_order_payment(&sp, o.id, p, now).await?;
                }
                Ok(json!({"paymentId": payment_id}))
            }
            .await;
            finish_step(txn, sp, r, SagaStep::CreatePayment, data, next(PAYMENT_CREATED, SagaStep::Payment)).await?
        }
        // Nothing left to pay (points and coupon): the order is paid now.
        (Consumer::Orders, PAYMENT_CREATED) if forward && o.payment_id.is_none() => complete(txn, o, data, now).await?,
        (Consumer::Orders, "payment.completed") if forward => complete(txn, o, data, now).await?,
        (Consumer::Orders, t) if forward && PAYMENT_ENDS.contains(&t) => {
            let why = payments_store::find(txn, m, &ev.aggregate_id)
                .await?
                .and_then(|p| p.failure_message)
                .unwrap_or_else(|| format!("the payment ended: {t}"));
            store::record_step(txn, &saga.saga_id, SagaStep::CreatePayment, StepOutcome::Compensated, None, now).await?;
            Next { status: COMPENSATING, step: SagaStep::Compensate, error: Some(why), topic: COMPENSATE, data: data.clone() }
        }
        (Consumer::Orders, REFUSED) if forward => {
            let why = format!("{}: {}", data["code"].as_str().unwrap_or("refused"), data["message"].as_str().unwrap_or_default());
            Next { status: COMPENSATING, step: SagaStep::Compensate, error: Some(why), topic: COMPENSATE, data: data.clone() }
        }
        (Consumer::Points, COMPENSATE) if compensating => {
            restore_points(txn, o, now).await?;
            back(POINTS_RESTORED, SagaStep::UseCoupon)
        }
        (Consumer::Coupons, POINTS_RESTORED) if compensating => {
            release_coupon(txn, o, now).await?;
            back(COUPON_RELEASED, SagaStep::ReserveStock)
        }
        (Consumer::Stock, COUPON_RELEASED) if compensating => {
            return_stock(txn, o, now).await?;
            back(STOCK_RETURNED, SagaStep::CancelOrder)
        }
        (Consumer::Orders, STOCK_RETURNED) if compensating => {
            store::set_order_status(txn, o.id, OrderStatus::Placed, OrderStatus::Cancelled, now).await?;
            let why = saga.error.clone().unwrap_or_default();
            store::notify(txn, m, user, &saga.saga_id, &format!("Order {} was cancelled: {why}", o.order_id), now).await?;
            // A saga whose payment was created and then failed is compensated; one refused before is FAILED.
            let paid_step = store::step_recorded(txn, &saga.saga_id, SagaStep::CreatePayment, StepOutcome::Done).await?;
            let (status, topic) = if paid_step { (COMPENSATED, "saga.compensated") } else { (FAILED, "saga.failed") };
            metrics::counter!("settle_sagas_ended_total", "status" => status.as_str()).increment(1);
            Next { status, step: SagaStep::Done, error: saga.error.clone(), topic, data: data.clone() }
        }
        _ => return Ok(None),
    }))
}

/// The order is paid: PAID, its transaction log and notification, saga COMPLETED.
async fn complete(txn: &DatabaseTransaction, o: &OrderRow, data: &Value, now: i64) -> Result<Next, AppError> {
    store::set_order_status(txn, o.id, OrderStatus::Placed, OrderStatus::Paid, now).await?;
    store::record_step(txn, &o.saga_id, SagaStep::ChargeCard, StepOutcome::Done, None, now).await?;
    store::insert_log(txn, &o.merchant_id, o, "PURCHASE", now).await?;
    store::notify(txn, &o.merchant_id, &o.user_id, &o.saga_id, &format!("Order {} is paid", o.order_id), now).await?;
    metrics::counter!("settle_sagas_ended_total", "status" => COMPLETED.as_str()).increment(1);
    Ok(Next { status: COMPLETED, step: SagaStep::Done, error: None, topic: "saga.completed", data: data.clone() })
}

/// Delivers outbox events to the choreography's consumers, in seq order; one instance at a time.
#[derive(Clone)]
pub struct Choreographer {
    ctx: Context,
    lease: LeaseHolder,
    /// `(stored, upto)`: from the stored position `stored`, this instance read up to `upto` without finding an event
    /// for the consumers. Published seqs never change, so that stretch needs no second read; it is kept in memory
    /// only (a position is written when events were handled), and forgotten when the stored position moves.
    scanned: Arc<Mutex<Option<(i64, i64)>>>,
}

impl Choreographer {
    pub fn new(ctx: Context) -> Self {
        Self { lease: LeaseHolder::new(ctx.clone(), NAME), ctx, scanned: Default::default() }
    }

    async fn run_held(&self, now: i64) -> Result<Outcome, AppError> {
        let retried = retry_due(&self.ctx, now).await?;
        let stored = store::offset(&self.ctx.db, NAME).await?;
        let after = match *self.scanned.lock().expect("scanned") {
            Some((from, upto)) if from == stored => upto,
            _ => stored,
        };
        // Every seq up to the highest is committed (the relay assigns them in order, in one transaction a batch).
        let upto = outbox::max_seq(&self.ctx.db).await?;
        if upto <= after {
            return Ok(if retried > 0 { Outcome::Worked(retried) } else { Outcome::Idle });
        }
        let rows = outbox::read_topics_between(&self.ctx.db, &TOPICS, after, upto, BATCH).await?;
        let last = match rows.last().and_then(|r| r.seq) {
            // A long stretch is stored too, so that another instance taking the lease over need not read it again.
            None if upto - stored >= SKIP_STORED => {
                store::set_offset(&self.ctx.db, NAME, upto, now).await?;
                return Ok(Outcome::Idle);
            }
            None => {
                *self.scanned.lock().expect("scanned") = Some((stored, upto));
                return Ok(Outcome::Idle);
            }
            // A full batch: the rest of the stretch is read in the next pass.
            Some(seq) if rows.len() as u64 == BATCH => seq,
            Some(_) => upto,
        };
        let n = rows.len();
        // Events of one saga are handled in seq order; different sagas at once (a few at a time).
        let mut sagas: Vec<(String, Vec<(Consumer, OutboxRow)>)> = Vec::new();
        for ev in rows {
            let (Some(consumer), Some(saga_id)) = (Consumer::of(&ev.topic), saga_of(&self.ctx, &ev).await?) else { continue };
            match sagas.iter_mut().find(|(id, _)| *id == saga_id) {
                Some((_, evs)) => evs.push((consumer, ev)),
                None => sagas.push((saga_id, vec![(consumer, ev)])),
            }
        }
        let results: Vec<Result<(), Stuck>> =
            futures::stream::iter(sagas).map(|(saga_id, evs)| handle_all(self.ctx.clone(), saga_id, evs)).buffer_unordered(PARALLEL).collect().await;
        let stuck: Vec<Stuck> = results.into_iter().filter_map(Result::err).collect();
        // The database unavailable, busy or refusing writes says nothing of the events: they are read again.
        if let Some(first) = stuck.iter().filter(|s| transient(&s.error)).min_by_key(|s| s.events[0].1.seq) {
            let seq = first.events[0].1.seq.unwrap_or_default();
            let retry_from = stuck.into_iter().find(|s| s.events[0].1.seq == Some(seq)).expect("the stuck saga");
            // Everything before it is handled or parked.
            if seq - 1 > stored {
                store::set_offset(&self.ctx.db, NAME, seq - 1, now).await?;
            }
            return Err(retry_from.error);
        }
        for s in stuck {
            self.park(s, now).await?;
        }
        store::set_offset(&self.ctx.db, NAME, last, now).await?;
        Ok(Outcome::Worked(n))
    }

    /// A saga whose handler failed for a reason of its own: its event, and the saga's later events of the batch, are
    /// parked in the dead letters with the error, each claimed in its consumer's inbox in the same transaction (so the
    /// dispatcher never handles it again, and a retry handles it once), fenced by the lease. The dispatcher moves on at
    /// once: one bad event never holds up the others. [`retry_due`] tries it again on a schedule.
    async fn park(&self, s: Stuck, now: i64) -> Result<(), AppError> {
        let txn = settle_store::begin(&self.ctx.db).await?;
        if !self.lease.fence(&txn).await? {
            return Err(AppError::InvalidState("the saga-choreography lease was lost".into()));
        }
        let mut parked = Vec::new();
        for (i, (consumer, ev)) in s.events.iter().enumerate() {
            let seq = ev.seq.unwrap_or_default();
            if !store::claim_event(&txn, consumer.name(), seq, now).await? {
                // Handled already (the saga's later events are still parked: the position moves past them).
                continue;
            }
            let why = if i == 0 { detail(&s.error) } else { "an earlier event of its saga was parked".to_owned() };
            let next = now + retry_pause(&self.ctx, 0);
            settle_store::dead_letters::park(&txn, consumer.name(), ev, &why, i64::from(i == 0), Some(next), now).await?;
            parked.push((consumer.name(), seq, ev.topic.clone(), why));
        }
        txn.commit().await.map_err(StoreError::from)?;
        for (consumer, seq, topic, why) in parked {
            metrics::counter!("settle_dead_letters_total", "consumer" => consumer).increment(1);
            tracing::warn!(consumer, seq, topic = %topic, error = %why, "an event was parked in the dead letters; it is tried again on a schedule");
        }
        Ok(())
    }
}

/// The pause before a parked event's next automatic try, after `attempts` tries: 1 s, then doubling, at most a fifth
/// of [`Settings::park_after`](crate::settings::Settings::park_after).
fn retry_pause(ctx: &Context, attempts: i64) -> i64 {
    let cap = (ctx.settings.park_after.as_millis() as i64 / PARK_AFTER).max(1);
    (1000i64 << attempts.clamp(0, 20)).min(cap)
}

/// Tries again the parked events that are due, oldest first (a saga's events in their order: one that fails keeps its
/// saga's later ones for the next round). One that has failed [`PARK_AFTER`] times over at least `park_after` stays
/// parked for the operator (`settle_dead_letters`, `POST /v1/admin/dead-letters/{id}/retry`). Returns how many were
/// handled.
async fn retry_due(ctx: &Context, now: i64) -> Result<usize, AppError> {
    use settle_store::dead_letters;
    let due = dead_letters::due(&ctx.db, now, 50).await?;
    let (mut handled, mut held) = (0, Vec::<String>::new());
    for d in due {
        if held.contains(&d.aggregate_id) {
            continue;
        }
        match handle_parked(ctx, &d).await {
            Ok(_) => handled += 1,
            Err(e) => {
                held.push(d.aggregate_id.clone());
                let attempts = if transient(&e) { d.attempts } else { d.attempts + 1 };
                let exhausted = attempts >= PARK_AFTER && now - d.created_at >= ctx.settings.park_after.as_millis() as i64;
                let next = (!exhausted).then(|| now + retry_pause(ctx, attempts));
                dead_letters::failed_again(&ctx.db, d.id, &detail(&e), attempts, next, now).await?;
                if exhausted {
                    tracing::error!(consumer = %d.consumer, seq = d.event_seq, error = %e, "a parked event keeps failing; it waits for an operator");
                }
            }
        }
    }
    Ok(handled)
}

/// Automatic tries of a parked event before it waits for an operator (with at least `park_after` since it was parked).
const PARK_AFTER: i64 = 5;

/// A saga whose handler failed: the event it failed on first, then the saga's later events of the batch.
struct Stuck {
    error: AppError,
    events: Vec<(Consumer, OutboxRow)>,
}

/// An error as a dead letter keeps it for the operator: with its causes (an internal error's cause is otherwise for
/// the logs only).
fn detail(e: &AppError) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

/// An error that says nothing of the event: the database unavailable, busy or refusing writes.
fn transient(e: &AppError) -> bool {
    matches!(e, AppError::DatabaseUnavailable(_) | AppError::Retryable(_) | AppError::ReadOnly)
}

/// One saga's events, in order.
async fn handle_all(ctx: Context, saga_id: String, mut evs: Vec<(Consumer, OutboxRow)>) -> Result<(), Stuck> {
    for i in 0..evs.len() {
        let (consumer, ev) = &evs[i];
        if let Err(error) = handle(&ctx, *consumer, ev, &saga_id).await {
            return Err(Stuck { error, events: evs.split_off(i) });
        }
    }
    Ok(())
}

/// Handles a parked event from its own copy, in one transaction with taking its dead letter away (false: another
/// retry took it first). An event of no saga (a payment of no order) has nothing to do: its letter is taken away.
async fn handle_parked(ctx: &Context, d: &settle_store::dead_letters::DeadLetterRow) -> Result<bool, AppError> {
    let consumer = Consumer::named(&d.consumer).ok_or(AppError::NotFound("dead letter's consumer"))?;
    let ev = settle_store::dead_letters::as_event(d);
    match saga_of(ctx, &ev).await? {
        Some(saga_id) => handle_once(ctx, consumer, &ev, &saga_id, Once::DeadLetter(d.id)).await,
        None => Ok(settle_store::dead_letters::take(&ctx.db, d.id).await?),
    }
}

/// Handles a parked event again (the operator's retry, in the order the events happened): once handled, in the same
/// transaction as its handling, it leaves the dead letters; else it stays, with one more attempt and the new error,
/// and that error is returned. A retry that finds it taken by another is NotFound.
pub async fn retry_dead_letter(ctx: &Context, id: i64) -> Result<(), AppError> {
    use settle_store::dead_letters;
    let d = dead_letters::find(&ctx.db, id).await?.ok_or(AppError::NotFound("dead letter"))?;
    match handle_parked(ctx, &d).await {
        Ok(true) => {
            metrics::counter!("settle_dead_letters_retried_total").increment(1);
            // The operator's retry is the merchant's audit entry (who, from where: the request's actor).
            let changes = json!({"consumer": d.consumer, "eventSeq": d.event_seq, "topic": d.topic, "aggregateId": d.aggregate_id});
            let txn = settle_store::begin(&ctx.db).await?;
            settle_store::audit::record(&txn, Some(&d.merchant_id), "dead_letter.retried", &id.to_string(), &changes).await?;
            txn.commit().await.map_err(StoreError::from)?;
            Ok(())
        }
        Ok(false) => Err(AppError::NotFound("dead letter")),
        Err(e) => {
            // An operator's retry that fails leaves the letter for the operator (no more automatic tries).
            dead_letters::failed_again(&ctx.db, id, &detail(&e), d.attempts + 1, None, settle_store::now_ms()).await?;
            Err(if transient(&e) { e } else { AppError::InvalidState(format!("the event failed again: {e}")) })
        }
    }
}

/// How far the dispatcher has read the outbox, and how many events each consumer has handled.
pub async fn progress(ctx: &Context) -> Result<(i64, Vec<(&'static str, u64)>), AppError> {
    let mut handled = Vec::new();
    for c in Consumer::ALL {
        handled.push((c.name(), store::handled_count(&ctx.db, c.name()).await?));
    }
    Ok((store::offset(&ctx.db, NAME).await?, handled))
}

/// Reads the outbox again from the start, as after a crash that lost the read position (tests and operators):
/// the inbox keeps every handler from running twice.
pub async fn rewind(ctx: &Context) -> Result<(), AppError> {
    store::set_offset(&ctx.db, NAME, 0, settle_store::now_ms()).await?;
    Ok(())
}

crate::worker::leased_worker!(Choreographer, "saga-choreography", crate::AppError);
