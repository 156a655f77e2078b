//! Cancelling a PAID order, whole or some of its lines (a partial order refund), as a saga whose one uncertain step
//! comes first.
//!
//! 1. One transaction records the cancellation PENDING: the order's card payment and then the order are locked
//!    (the order every writer of a payment's refunds takes its locks in), the lines asked for are checked against
//!    what earlier cancellations that are not FAILED hold, what it gives back is computed
//!    ([`settle_domain::cancellation::share`]: card and points; the card part never more than the payment has left
//!    to refund, so a direct refund of the payment counts toward it), and its card part, if any, is recorded as a
//!    PENDING refund of the payment.
//!    `order.cancellation.created` is written and the Idempotency-Key bound to it in the same transaction.
//! 2. The card refund is carried out by the card rail, with a refund's discipline (never resent once the gateway may
//!    have it; looked up by callbacks and the refund checker).
//! 3. The refund's end decides the cancellation in the refund's own transaction: SUCCEEDED gives back the points and
//!    the stock and, once every line is cancelled by cancellations that SUCCEEDED, makes the order CANCELLED and
//!    gives the coupon back (once: the order closes once); FAILED gives back nothing and frees the lines (the
//!    compensation: the only step before it is the hold itself). A refund failed as never
//!    recorded is looked at again for a while (the gateway may record it late), and the cancellation keeps its lines
//!    meanwhile; it fails in the transaction in which the refund checker gives up on the refund. A refund the gateway
//!    makes even later (seen by a callback) revives its cancellation if its lines and amounts are still free, and
//!    flags it for an operator if not.
//!
//! A cancellation with no card part (an order paid in points or by its coupon) gives everything back in step 1.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use settle_domain::{
    Amount, CancellationId, CancellationStatus, CouponStatus, Metadata, OrderStatus, Rail, RefundReason, RefundStatus,
    cancellation::{self, Paid, Taken},
};
use settle_store::{
    ConnectionTrait, StoreError,
    cancellations::{self as cstore, CancellationRow},
    orders::{self as store, OrderRow},
    payments::{self as payments_store},
    refunds::{self as refunds_store, RefundRow},
    shop,
};

use crate::{
    AppError, Context,
    idempotency::{self, Claim, IdemKey, Outcome, Reply},
    ledger::views::body_of,
    refunds::CreateRefund,
    time::rfc3339,
};

/// What a cancellation's Idempotency-Key is bound to: `cancellation:` and its id.
pub(crate) const CANCELLATION_RESOURCE: &str = "cancellation:";

/// Cancellations one order takes at most (each is read, under the order's lock, when another is made).
pub const MAX_CANCELLATIONS: usize = 100;

pub const TOPIC_CREATED: &str = "order.cancellation.created";
pub const TOPIC_SUCCEEDED: &str = "order.cancellation.succeeded";
pub const TOPIC_FAILED: &str = "order.cancellation.failed";
/// A cancellation whose refund was made after it had failed, waiting on or refunded twice by a later one.
pub const TOPIC_FLAGGED: &str = "order.cancellation.flagged";

/// A parsed `POST /v1/orders/{orderId}/cancel`.
#[derive(Clone, Debug, Default)]
pub struct CancelOrder {
    /// (item, quantity) to cancel; None: every line not yet cancelled.
    pub items: Option<Vec<(String, i64)>>,
    pub reason: Option<RefundReason>,
}

/// A line a cancellation takes back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CancellationLine {
    pub item_id: String,
    pub quantity: i64,
}

/// A cancellation of an order, whole or some of its lines.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CancellationView {
    #[schema(example = "oc_0193a1b2c3d47e5f8a9b0c1d2e3f4a5b")]
    pub cancellation_id: String,
    pub order_id: String,
    pub livemode: bool,
    /// PENDING (its card refund is under way), SUCCEEDED or FAILED.
    #[schema(value_type = String)]
    pub status: CancellationStatus,
    pub items: Vec<CancellationLine>,
    /// Refunded to the card, in minor units (by the refund `refundId`).
    pub card_amount: i64,
    /// Given back as points.
    pub points: i64,
    /// The order's coupon became usable again with it (when it closed the order).
    pub coupon_released: bool,
    /// The order became CANCELLED with it: every line is cancelled by cancellations that SUCCEEDED.
    pub closes_order: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refund_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// FAILED: the card refund's failure code and message (nothing was given back).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_message: Option<String>,
    /// Set when the gateway did something Settle could not apply as it is (a refund made after the cancellation had
    /// failed and its lines were cancelled again): an operator must look.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flag_reason: Option<String>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

fn lines_of(c: &CancellationRow) -> Result<Vec<CancellationLine>, AppError> {
    serde_json::from_str(&c.lines).map_err(AppError::internal)
}

impl CancellationView {
    fn of(c: &CancellationRow) -> Result<Self, AppError> {
        Ok(Self {
            cancellation_id: c.cancellation_id.clone(),
            order_id: c.order_id.clone(),
            livemode: settle_domain::mode::is_live(&c.merchant_id),
            status: c.status,
            items: lines_of(c)?,
            card_amount: c.card_amount,
            points: c.points,
            coupon_released: c.releases_coupon,
            closes_order: c.closes_order,
            refund_id: c.refund_id.clone(),
            reason: c.reason.clone(),
            failure_code: c.failure_code.clone(),
            failure_message: c.failure_message.clone(),
            flag_reason: c.flag_reason.clone(),
            version: c.version,
            created_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
        })
    }
}

/// An order's cancellations, oldest first.
pub(crate) async fn of_order(conn: &impl ConnectionTrait, order_id: &str) -> Result<Vec<CancellationView>, AppError> {
    cstore::of_order(conn, order_id).await?.iter().map(CancellationView::of).collect()
}

/// Cancels a merchant's PAID order, whole (no items) or some of its lines.
pub async fn cancel(ctx: &Context, merchant_id: &str, order_id: &str, input: CancelOrder, key: Option<IdemKey>) -> Result<Reply, AppError> {
    idempotency::once(ctx, merchant_id, key, |claim| async move {
        // The key was bound to a cancellation by a request that failed, or died, after recording it: that one is the
        // answer, never a second.
        if let Some(id) = claim.resumes().and_then(|r| r.strip_prefix(CANCELLATION_RESOURCE)) {
            return reply_with_current(ctx, &claim, id).await;
        }
        let o = store::find_order(&ctx.db, merchant_id, order_id).await?.ok_or(AppError::NotFound("order"))?;
        cancellable(&o)?;
        let payment = match &o.payment_id {
            Some(p) if o.paid_amount > 0 => payments_store::find(&ctx.db, merchant_id, p).await?,
            _ => None,
        };
        let Some(payment) = payment.filter(|p| p.rail == Rail::Card) else {
            // Nothing paid by card: everything is given back in the recording transaction.
            let (c, _) = record(ctx, merchant_id, order_id, None, &input, &claim).await?;
            return reply_with_current(ctx, &claim, &c.cancellation_id).await;
        };
        let gateway = ctx.card_gateway(merchant_id).ok_or(AppError::CardRailNotConfigured)?;
        let Some(tx_key) = payment.external_payment_key.clone() else {
            return Err(AppError::InvalidState("the order's payment has no gateway transaction to refund".into()));
        };
        let (task_ctx, merchant, order) = (ctx.clone(), merchant_id.to_owned(), order_id.to_owned());
        // In a task of its own, as a refund: a request cancelled midway still records the gateway's answer.
        let task = ctx.charges.spawn(format!("cancellation:{order}"), async move {
            let ctx = &task_ctx;
            let mut slot = crate::card::refunds::slot(&gateway).await?;
            let (c, refund) = record(ctx, &merchant, &order, Some(&payment.payment_id), &input, &claim).await?;
            if let Some(r) = refund {
                crate::card::refunds::send(ctx, &gateway, &mut slot, &tx_key, &r).await;
            }
            drop(slot);
            reply_with_current(ctx, &claim, &c.cancellation_id).await
        });
        task.await.map_err(AppError::internal)?
    })
    .await
}

fn cancellable(o: &OrderRow) -> Result<(), AppError> {
    match o.status {
        OrderStatus::Paid => Ok(()),
        OrderStatus::Cancelled => Err(AppError::InvalidState("the order is CANCELLED: nothing is left to cancel".into())),
        s => Err(AppError::InvalidState(format!("only a PAID order can be cancelled; this one is {s} (its purchase saga is still deciding it)"))),
    }
}

/// Records a cancellation in one transaction (see the module's step 1); with no card part it is SUCCEEDED at once.
async fn record(
    ctx: &Context,
    merchant_id: &str,
    order_id: &str,
    payment_id: Option<&str>,
    input: &CancelOrder,
    claim: &Claim,
) -> Result<(CancellationRow, Option<RefundRow>), AppError> {
    let (row, refund) = crate::retrying(|| async {
        let txn = settle_store::begin(&ctx.db).await?;
        let payment = match payment_id {
            Some(p) => Some(payments_store::find_locked(&txn, merchant_id, p).await?.ok_or(AppError::NotFound("payment"))?),
            None => None,
        };
        let o = store::find_order_locked(&txn, merchant_id, order_id).await?.ok_or(AppError::NotFound("order"))?;
        cancellable(&o)?;
        let earlier = cstore::of_order(&txn, &o.order_id).await?;
        if earlier.len() >= MAX_CANCELLATIONS {
            return Err(AppError::InvalidState(format!("an order takes at most {MAX_CANCELLATIONS} cancellations")));
        }
        let held: Vec<&CancellationRow> = earlier.iter().filter(|c| holds(c)).collect();
        let left = lines_left(&txn, &o, &held).await?;
        let wanted = wanted_lines(&left, input.items.as_deref())?;
        let value = wanted.iter().try_fold(0i64, |sum, l| left[&l.item_id].1.checked_mul(l.quantity).and_then(|v| v.checked_add(sum)));
        let value = value.ok_or_else(|| AppError::invalid("items", "the lines' value is too large"))?;
        let last = left.iter().all(|(item, (n, _))| *n == wanted.iter().find(|l| &l.item_id == item).map_or(0, |l| l.quantity));
        let taken = Taken { card: held.iter().map(|c| c.card_amount).sum(), points: held.iter().map(|c| c.points).sum() };
        let paid = Paid { total: o.total_amount, coupon_discount: o.coupon_discount, used_points: o.used_points, paid_amount: o.paid_amount };
        let mut share = cancellation::share(&paid, taken, value, last);
        if let Some(p) = &payment {
            // Refunds of the payment made directly (not by a cancellation) count toward the card part once they
            // SUCCEEDED; while one is under way what is left is not known, and the cancellation waits.
            let ours: Vec<&str> = earlier.iter().filter_map(|c| c.refund_id.as_deref()).collect();
            let direct: Vec<RefundRow> =
                refunds_store::of_payment(&txn, &p.payment_id).await?.into_iter().filter(|r| !ours.contains(&r.refund_id.as_str())).collect();
            if direct.iter().any(|r| !r.status.is_final() || r.next_check_at.is_some()) {
                return Err(AppError::InvalidState("a refund of this order's payment is under way: cancel once it has ended".into()));
            }
            let directly = direct
                .iter()
                .filter(|r| r.status == RefundStatus::Succeeded)
                .fold(0i64, |sum, r| sum.saturating_add(r.amount.parse::<i64>().unwrap_or(i64::MAX)));
            share.card = share.card.min(o.paid_amount.saturating_sub(directly).saturating_sub(taken.card).max(0));
        }
        let id = CancellationId::generate().to_string();
        let refund = match (&payment, share.card) {
            (_, 0) => None,
            (Some(p), card) => {
                let metadata = Metadata::new("metadata", [("orderId".to_owned(), o.order_id.clone()), ("cancellationId".to_owned(), id.clone())])?;
                let refund = CreateRefund {
                    amount: Some(Amount::from_u128(card as u128)),
                    reason: Some(input.reason.unwrap_or(RefundReason::RequestedByCustomer)),
                    metadata,
                };
                Some(crate::refunds::record_in(&txn, p, &refund, crate::card::refunds::first_check(ctx), None).await?)
            }
            (None, _) => return Err(AppError::InvalidState("the order's card part has no payment to refund".into())),
        };
        let now = settle_store::now_ms();
        let new = CancellationRow {
            id: 0,
            cancellation_id: id,
            merchant_id: o.merchant_id.clone(),
            order_id: o.order_id.clone(),
            lines: serde_json::to_string(&wanted).map_err(AppError::internal)?,
            card_amount: share.card,
            points: share.points,
            releases_coupon: false,
            closes_order: false,
            refund_id: refund.as_ref().map(|r| r.refund_id.clone()),
            status: CancellationStatus::Pending,
            reason: input.reason.map(|r| r.as_str().to_owned()),
            failure_code: None,
            failure_message: None,
            flag_reason: None,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let mut row = cstore::insert(&txn, &new).await?;
        event(&txn, &row, TOPIC_CREATED, now).await?;
        if refund.is_none() {
            row = give_back(&txn, &o, &row, now).await?;
        }
        claim.bind_in(&txn, &format!("{CANCELLATION_RESOURCE}{}", row.cancellation_id)).await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok((row, refund))
    })
    .await?;
    if let Some(r) = &refund {
        crate::refunds::recorded(ctx, r);
    }
    ctx.outbox_wake.notify_one();
    metrics::counter!("settle_order_cancellations_total", "card" => if refund.is_some() { "yes" } else { "no" }).increment(1);
    Ok((row, refund))
}

/// What is left of each of the order's lines, (quantity, unit price) by item: ordered, less what the cancellations
/// `held` hold.
async fn lines_left(conn: &impl ConnectionTrait, o: &OrderRow, held: &[&CancellationRow]) -> Result<BTreeMap<String, (i64, i64)>, AppError> {
    let mut left: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for line in store::order_items(conn, &o.order_id).await? {
        let e = left.entry(line.item_id).or_insert((0, line.unit_price));
        e.0 += line.quantity;
    }
    for c in held {
        for l in lines_of(c)? {
            if let Some(e) = left.get_mut(&l.item_id) {
                e.0 -= l.quantity;
            }
        }
    }
    Ok(left)
}

/// The lines a cancellation takes: every line left (no `items`), or the ones asked for, each within what is left.
fn wanted_lines(left: &BTreeMap<String, (i64, i64)>, items: Option<&[(String, i64)]>) -> Result<Vec<CancellationLine>, AppError> {
    let Some(items) = items else {
        let all: Vec<CancellationLine> =
            left.iter().filter(|(_, (n, _))| *n > 0).map(|(item, (n, _))| CancellationLine { item_id: item.clone(), quantity: *n }).collect();
        if all.is_empty() {
            return Err(AppError::InvalidState("nothing is left to cancel: every line is cancelled, or being cancelled".into()));
        }
        return Ok(all);
    };
    let mut wanted: BTreeMap<&str, i64> = BTreeMap::new();
    for (item, quantity) in items {
        let Some((n, _)) = left.get(item) else {
            return Err(AppError::invalid("items", format!("{item} is not a line of this order")));
        };
        if wanted.insert(item, *quantity).is_some() {
            return Err(AppError::invalid("items", format!("{item} is named twice")));
        }
        if quantity > n {
            return Err(AppError::InvalidState(format!(
                "{quantity} of {item} asked, {n} left to cancel (the rest is cancelled, or being cancelled)"
            )));
        }
    }
    Ok(wanted.into_iter().map(|(item, quantity)| CancellationLine { item_id: item.to_owned(), quantity }).collect())
}

async fn event(conn: &impl ConnectionTrait, c: &CancellationRow, topic: &str, now: i64) -> Result<(), AppError> {
    let payload = serde_json::json!({ "type": topic, "data": CancellationView::of(c)? });
    settle_store::outbox::enqueue(conn, &c.merchant_id, topic, &c.cancellation_id, &payload, now).await?;
    Ok(())
}

/// SUCCEEDED: the points and the stock given back and, once every line of the order is cancelled by cancellations
/// that SUCCEEDED, the order CANCELLED and its coupon given back (once: the order closes once); the user told. `o`
/// and `c` are read under the order's lock in `txn`.
async fn give_back(txn: &impl ConnectionTrait, o: &OrderRow, c: &CancellationRow, now: i64) -> Result<CancellationRow, AppError> {
    let mut next = cstore::set_status(txn, c, CancellationStatus::Succeeded, None, now)
        .await?
        .ok_or_else(|| AppError::InvalidState("a cancellation changed under its order's lock".into()))?;
    if c.points > 0 {
        shop::give_points(txn, &o.merchant_id, &o.user_id, c.points, now).await?;
    }
    for l in lines_of(c)? {
        shop::return_stock(txn, &o.merchant_id, &l.item_id, l.quantity, now).await?;
    }
    let succeeded: Vec<CancellationRow> =
        cstore::of_order(txn, &o.order_id).await?.into_iter().filter(|x| x.status == CancellationStatus::Succeeded).collect();
    let all_cancelled = lines_left(txn, o, &succeeded.iter().collect::<Vec<_>>()).await?.values().all(|(n, _)| *n <= 0);
    let what = if all_cancelled && store::set_order_status(txn, o.id, OrderStatus::Paid, OrderStatus::Cancelled, now).await? {
        let mut coupon = false;
        if let Some(issued) = &o.issued_coupon_id
            && let Some(ic) = shop::find_issued(txn, &o.merchant_id, issued).await?
            && ic.status == CouponStatus::Used
        {
            coupon = shop::set_coupon_status(txn, &ic, CouponStatus::Available, now).await?;
        }
        next = cstore::set_closing(txn, &next, coupon).await?;
        format!("Order {} was cancelled", o.order_id)
    } else {
        format!("Part of order {} was refunded", o.order_id)
    };
    store::notify(txn, &o.merchant_id, &o.user_id, &o.saga_id, &what, now).await?;
    event(txn, &next, TOPIC_SUCCEEDED, now).await?;
    Ok(next)
}

/// FAILED with the refund's failure: nothing was given back, and its lines are free again.
async fn fail(txn: &impl ConnectionTrait, c: &CancellationRow, refund: &RefundRow, now: i64) -> Result<CancellationRow, AppError> {
    let code = refund.failure_code.as_deref().unwrap_or("refund_failed");
    let message = refund.failure_message.as_deref().unwrap_or("the card refund failed; nothing was given back");
    let next = cstore::set_status(txn, c, CancellationStatus::Failed, Some((code, message)), now)
        .await?
        .ok_or_else(|| AppError::InvalidState("a cancellation changed under its order's lock".into()))?;
    event(txn, &next, TOPIC_FAILED, now).await?;
    Ok(next)
}

/// Where the refund `refund` (just changed in `txn`, its payment locked there) leaves the cancellation it carries,
/// if any: SUCCEEDED with it, FAILED once it is FAILED for good (not while the gateway is asked again about one
/// failed as never recorded), revived when the gateway made it after all. A cancellation that waited on this one
/// (its own refund made late while this one held its lines) is looked at again. Returns whether a cancellation
/// moved.
pub(crate) async fn refund_moved(txn: &impl ConnectionTrait, refund: &RefundRow, now: i64) -> Result<bool, AppError> {
    let Some(c) = cstore::by_refund(txn, &refund.refund_id).await? else { return Ok(false) };
    let o = store::find_order_locked(txn, &c.merchant_id, &c.order_id).await?.ok_or(AppError::NotFound("order"))?;
    // Read again under the order's lock.
    let Some(c) = cstore::find_any(txn, &c.cancellation_id).await? else { return Ok(false) };
    let moved = match (c.status, refund.status) {
        (CancellationStatus::Pending, RefundStatus::Succeeded) => {
            give_back(txn, &o, &c, now).await?;
            true
        }
        (CancellationStatus::Pending, RefundStatus::Failed) if refund.next_check_at.is_none() => {
            fail(txn, &c, refund, now).await?;
            true
        }
        (CancellationStatus::Failed, RefundStatus::Succeeded) if c.flag_reason.as_deref() != Some(REFUNDED_TWICE) => revive(txn, &o, &c, now).await?,
        _ => false,
    };
    if moved {
        for w in cstore::of_order(txn, &o.order_id)
            .await?
            .iter()
            .filter(|w| w.status == CancellationStatus::Failed && w.flag_reason.as_deref() == Some(WAITING))
        {
            let o = store::find_order(txn, &o.merchant_id, &o.order_id).await?.ok_or(AppError::NotFound("order"))?;
            revive(txn, &o, w, now).await?;
        }
    }
    Ok(moved)
}

/// The flag of a cancellation whose refund was made late while later cancellations of its items are still deciding:
/// it holds its lines meanwhile, and is looked at again when one of them ends.
const WAITING: &str =
    "the card refund was made after this cancellation had failed; it gives its lines back once the later cancellation of its items ends";
/// The flag of a cancellation whose refund was made late after its items were cancelled again (the merchant's retry):
/// those items' value went back twice. It holds its lines; an operator must look.
const REFUNDED_TWICE: &str = "the card refund was made after this cancellation had failed, and its items were cancelled and refunded again since";

/// Whether a cancellation holds its lines and amounts: every one but a FAILED one, and a FAILED one whose refund was
/// made after all (flagged: its money went back).
fn holds(c: &CancellationRow) -> bool {
    c.status.holds() || c.flag_reason.is_some()
}

/// A FAILED cancellation whose refund the gateway made after all (recorded after the refund checker gave up, seen by a
/// callback): money went back. With no later cancellation of its items, and its lines and amounts still free, it
/// SUCCEEDS and gives back its points and stock; while a later cancellation of its items is PENDING it waits (and
/// holds its lines); when one SUCCEEDED (the merchant's retry was refunded too) or its lines are gone, it is flagged
/// for an operator. Returns whether it SUCCEEDED.
async fn revive(txn: &impl ConnectionTrait, o: &OrderRow, c: &CancellationRow, now: i64) -> Result<bool, AppError> {
    let all = cstore::of_order(txn, &o.order_id).await?;
    let items: Vec<String> = lines_of(c)?.into_iter().map(|l| l.item_id).collect();
    let mut later = Vec::new();
    for x in all.iter().filter(|x| x.id > c.id && holds(x)) {
        if lines_of(x)?.iter().any(|l| items.contains(&l.item_id)) {
            later.push(x);
        }
    }
    if later.iter().any(|x| x.status == CancellationStatus::Pending) {
        if c.flag_reason.as_deref() != Some(WAITING) {
            tracing::warn!(cancellation_id = %c.cancellation_id, "a failed cancellation's refund was made late; it waits on a later cancellation of its items");
            flag(txn, c, WAITING, now).await?;
        }
        return Ok(false);
    }
    let held: Vec<&CancellationRow> = all.iter().filter(|x| holds(x) && x.id != c.id).collect();
    let left = lines_left(txn, o, &held).await?;
    let lines_free = lines_of(c)?.iter().all(|l| left.get(&l.item_id).is_some_and(|(n, _)| *n >= l.quantity));
    let card: i64 = held.iter().map(|x| x.card_amount).sum::<i64>() + c.card_amount;
    let points: i64 = held.iter().map(|x| x.points).sum::<i64>() + c.points;
    if later.is_empty() && o.status == OrderStatus::Paid && lines_free && card <= o.paid_amount && points <= o.used_points {
        tracing::warn!(cancellation_id = %c.cancellation_id, "a failed cancellation's refund was made late; the cancellation SUCCEEDS now");
        metrics::counter!("settle_order_cancellations_revived_total").increment(1);
        give_back(txn, o, c, now).await?;
        return Ok(true);
    }
    tracing::error!(cancellation_id = %c.cancellation_id, order_id = %o.order_id,
        "a failed cancellation's refund was made late and its items were cancelled again since; an operator must look");
    metrics::counter!("settle_order_cancellations_refunded_after_failure_total").increment(1);
    flag(txn, c, REFUNDED_TWICE, now).await?;
    Ok(false)
}

/// Flags `c` (FAILED, its refund made late) with `why`, with `order.cancellation.flagged`.
async fn flag(txn: &impl ConnectionTrait, c: &CancellationRow, why: &str, now: i64) -> Result<(), AppError> {
    let next = cstore::flag(txn, c, why, now).await?.ok_or_else(|| AppError::InvalidState("a cancellation changed under its order's lock".into()))?;
    event(txn, &next, TOPIC_FLAGGED, now).await
}

/// Answers with the cancellation as recorded now (200, or 202 while its refund is under way), storing the answer for
/// the Idempotency-Key.
async fn reply_with_current(ctx: &Context, claim: &Claim, cancellation_id: &str) -> Result<Reply, AppError> {
    let row = cstore::find_any(&ctx.db, cancellation_id).await?.ok_or(AppError::NotFound("cancellation"))?;
    let outcome = if row.status == CancellationStatus::Pending { Outcome::Accepted } else { Outcome::Done };
    claim.complete(&ctx.db, Reply { outcome, body: body_of(&CancellationView::of(&row)?)?, replayed: false }).await
}
