//! Refunds: money of a COMPLETED payment given back, whole or in parts, exactly once.
//!
//! A refund is recorded PENDING in the transaction that checks it: the payment's row is locked, the amounts of its
//! refunds that are not FAILED are summed, and a refund that would take the sum past what was paid is refused (409
//! `refund_exceeds_remaining`), so concurrent refunds can never overshoot. The same transaction writes the
//! `refund.created` event and binds the Idempotency-Key to the refund: from the commit on, a retry answers with that
//! refund and never makes another. The rail then carries it out ([`crate::card`]: the gateway's refund API, with a
//! charge's discipline) and the refund ends SUCCEEDED (the payment's `amountRefunded` grows in the same transaction)
//! or FAILED (its amount may be refunded again), each with its event.

use serde::Serialize;
use settle_domain::{Amount, Metadata, PaymentId, PaymentStatus, Rail, RefundId, RefundReason, RefundStatus, refund};
use settle_store::{
    StoreError,
    payments::{self as payments_store, PaymentRow},
    refunds::{self as store, RefundRow},
};

use crate::{
    AppError, Context,
    idempotency::{self, Claim, IdemKey, Outcome, Reply},
    ledger::views::body_of,
    time::rfc3339,
};

/// What a refund's Idempotency-Key is bound to: `refund:` and the refund id.
pub(crate) const REFUND_RESOURCE: &str = "refund:";

/// Refunds one payment takes at most (each is read, under the payment's lock, when another is made).
pub const MAX_REFUNDS: usize = 100;

pub const TOPIC_CREATED: &str = "refund.created";
pub const TOPIC_SUCCEEDED: &str = "refund.succeeded";
pub const TOPIC_FAILED: &str = "refund.failed";
/// A CHAIN refund waits on the merchant (its allowance or balance): `failureCode` and `failureMessage` say what.
pub const TOPIC_REQUIRES_ACTION: &str = "refund.requires_action";

/// A parsed `POST /v1/payments/{id}/refunds`.
#[derive(Clone, Debug, Default)]
pub struct CreateRefund {
    /// None: everything not yet refunded.
    pub amount: Option<Amount>,
    pub reason: Option<RefundReason>,
    pub metadata: Metadata,
}

/// A refund as the API shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefundView {
    #[schema(example = "re_0193a1b2c3d47e5f8a9b0c1d2e3f4a5b")]
    pub refund_id: String,
    pub payment_id: String,
    /// The merchant (the same id in both modes).
    pub merchant_id: String,
    pub livemode: bool,
    /// `CARD` or `CHAIN`.
    #[schema(value_type = String)]
    pub rail: Rail,
    /// Exact integer amount in minor units, as a decimal string.
    #[schema(example = "500")]
    pub amount: String,
    /// CHAIN: the part of `amount` the treasury pays back (the refund's share of the fee the payment paid), when the
    /// merchant returns fees (`returnFeeOnRefund`); the payment's recipient pays the rest. Absent: the recipient pays
    /// it all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fee_returned: Option<String>,
    pub currency: String,
    /// PENDING, REQUIRES_ACTION, SUCCEEDED or FAILED.
    #[schema(value_type = String)]
    pub status: RefundStatus,
    /// duplicate, fraudulent or requested_by_customer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// FAILED or REQUIRES_ACTION: why, as a stable code (`refund_refused`, `gateway_unreachable`, `not_recorded`,
    /// `expired`, `insufficient_allowance`, `insufficient_balance`, `treasury_allowance_required`, `relay_failed`, ...)
    /// and in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_message: Option<String>,
    /// Set when the gateway reported something Settle would not apply as it is (the refund recorded twice, another
    /// amount): an operator must look at this refund.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flag_reason: Option<String>,
    /// The merchant's key-value pairs (`{}` when none).
    #[schema(value_type = std::collections::BTreeMap<String, String>)]
    pub metadata: Metadata,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&RefundRow> for RefundView {
    fn from(r: &RefundRow) -> Self {
        Self {
            refund_id: r.refund_id.clone(),
            payment_id: r.payment_id.clone(),
            merchant_id: settle_domain::mode::merchant_of(&r.merchant_id).to_owned(),
            livemode: settle_domain::mode::is_live(&r.merchant_id),
            rail: r.rail,
            amount: r.amount.clone(),
            fee_returned: r.fee_returned.clone(),
            currency: r.currency.clone(),
            status: r.status,
            reason: r.reason.clone(),
            failure_code: r.failure_code.clone(),
            failure_message: r.failure_message.clone(),
            flag_reason: r.flag_reason.clone(),
            metadata: settle_store::payments::metadata_of(r.metadata.as_deref()),
            version: r.version,
            created_at: rfc3339(r.created_at),
            updated_at: rfc3339(r.updated_at),
        }
    }
}

/// A page of refunds.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefundList {
    pub data: Vec<RefundView>,
    pub has_more: bool,
}

/// The outbox payload of a refund event.
pub(crate) fn event_payload(topic: &str, view: &RefundView) -> serde_json::Value {
    serde_json::json!({ "type": topic, "data": view })
}

/// Refunds a merchant's COMPLETED payment, whole (no amount) or in part.
pub async fn create(ctx: &Context, merchant_id: &str, payment_id: &str, input: CreateRefund, key: Option<IdemKey>) -> Result<Reply, AppError> {
    let id = PaymentId::parse("paymentId", payment_id)?;
    idempotency::once(ctx, merchant_id, key, |claim| async move {
        // The key was bound to a refund by a request that failed, or died, after recording it: that refund is the
        // answer (the rail's worker carries it out), never a second one.
        if let Some(refund_id) = claim.resumes().and_then(|r| r.strip_prefix(REFUND_RESOURCE)) {
            return reply_with_current(ctx, &claim, refund_id).await;
        }
        let payment = payments_store::find(&ctx.db, merchant_id, id.as_str()).await?.ok_or(AppError::NotFound("payment"))?;
        refundable(&payment)?;
        match payment.rail {
            Rail::Card => crate::card::refund(ctx, merchant_id, payment, input, claim).await,
            Rail::Chain => crate::chain::refunds::refund(ctx, merchant_id, payment, input, claim).await,
        }
    })
    .await
}

/// The sum of the amounts of the refunds `counts` takes.
fn sum(refunds: &[RefundRow], counts: impl Fn(&RefundRow) -> bool) -> Result<Amount, AppError> {
    let mut total = Amount::from_u128(0);
    for r in refunds.iter().filter(|r| counts(r)) {
        total = refund::add(&total, &Amount::parse("amount", &r.amount)?).ok_or_else(|| AppError::InvalidState("refund sum overflow".into()))?;
    }
    Ok(total)
}

/// Whether a payment can be refunded at all (its status; the amount is checked under its lock): a COMPLETED one, or
/// a CHAIN one Settle ended CANCELLED or EXPIRED, which its rail refunds only when the gateway shows it paid after all.
pub(crate) fn refundable(p: &PaymentRow) -> Result<(), AppError> {
    if p.status != PaymentStatus::Completed && !paid_late_maybe(p) {
        return Err(AppError::InvalidState(format!(
            "only a COMPLETED payment can be refunded (or a CHAIN payment the chain shows paid after it was CANCELLED or EXPIRED); this one is {}",
            p.status
        )));
    }
    Ok(())
}

/// A CHAIN payment Settle ended unpaid (CANCELLED, EXPIRED): refundable only if the chain shows it paid all the same.
pub(crate) fn paid_late_maybe(p: &PaymentRow) -> bool {
    p.rail == Rail::Chain && matches!(p.status, PaymentStatus::Cancelled | PaymentStatus::Expired)
}

/// Records a PENDING refund of `payment_id` in one transaction: the payment locked, its remaining amount checked,
/// the refund, its `refund.created` event and the Idempotency-Key bound to it. `next_check_at` is when the rail's
/// worker first asks about it.
pub(crate) async fn record(
    ctx: &Context,
    merchant_id: &str,
    payment_id: &str,
    input: &CreateRefund,
    claim: &Claim,
    next_check_at: i64,
) -> Result<(PaymentRow, RefundRow), AppError> {
    let (payment, row) = crate::retrying(|| async {
        let txn = settle_store::begin(&ctx.db).await?;
        let payment = payments_store::find_locked(&txn, merchant_id, payment_id).await?.ok_or(AppError::NotFound("payment"))?;
        let row = record_in(&txn, &payment, input, next_check_at, None).await?;
        claim.bind_in(&txn, &format!("{REFUND_RESOURCE}{}", row.refund_id)).await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok((payment, row))
    })
    .await?;
    recorded(ctx, &row);
    Ok((payment, row))
}

/// What follows the commit of a recorded refund: the outbox woken, the refund counted.
pub(crate) fn recorded(ctx: &Context, row: &RefundRow) {
    ctx.outbox_wake.notify_one();
    metrics::counter!("settle_refunds_created_total", "rail" => row.rail.as_str()).increment(1);
}

/// What is left to refund of `payment` with its `refunds`: (paid, held, remaining). A refund failed as never recorded
/// still holds its amount while the gateway is asked about it again (a gateway that records it late must not let the
/// payment be refunded twice).
fn left_of(payment: &PaymentRow, refunds: &[RefundRow]) -> Result<(Amount, Amount, Amount), AppError> {
    let paid = Amount::parse("amount", &payment.amount)?;
    let held = sum(refunds, |r| r.status.holds_amount() || r.next_check_at.is_some())?;
    let remaining = refund::sub(&paid, &held).unwrap_or_else(|| Amount::from_u128(0));
    Ok((paid, held, remaining))
}

/// [`record`]'s check and insert in `txn`, for a `payment` read by `find_locked` in it: the refund PENDING with its
/// `refund.created` event (nothing bound to an Idempotency-Key). With `return_fee_bps`, the refund's share of that
/// fee is its `fee_returned` (none when it rounds to 0).
pub(crate) async fn record_in(
    txn: &impl settle_store::ConnectionTrait,
    payment: &PaymentRow,
    input: &CreateRefund,
    next_check_at: i64,
    return_fee_bps: Option<u16>,
) -> Result<RefundRow, AppError> {
    refundable(payment)?;
    let refunds = store::of_payment(txn, &payment.payment_id).await?;
    if refunds.len() >= MAX_REFUNDS {
        return Err(AppError::InvalidState(format!("a payment takes at most {MAX_REFUNDS} refunds")));
    }
    let (paid, held, remaining) = left_of(payment, &refunds)?;
    let amount = input.amount.clone().unwrap_or_else(|| remaining.clone());
    if remaining.is_zero() {
        return Err(AppError::RefundExceedsRemaining(format!(
            "nothing is left to refund: the payment's {paid} is refunded, or being refunded, in full"
        )));
    }
    if amount.is_zero() {
        return Err(AppError::invalid("amount", "amount must be at least 1"));
    }
    if amount > remaining {
        return Err(AppError::RefundExceedsRemaining(format!(
            "amount {amount} exceeds the {remaining} left to refund (paid {paid}; {held} refunded or being refunded)"
        )));
    }
    let now = settle_store::now_ms();
    let new = RefundRow {
        id: 0,
        refund_id: RefundId::generate().to_string(),
        merchant_id: payment.merchant_id.clone(),
        payment_id: payment.payment_id.clone(),
        rail: payment.rail,
        fee_returned: return_fee_bps.map(|bps| refund::fee_share(&amount, bps)).filter(|f| !f.is_zero()).map(|f| f.to_string()),
        amount: amount.to_string(),
        currency: payment.currency.clone(),
        status: RefundStatus::Pending,
        reason: input.reason.map(|r| r.as_str().to_owned()),
        metadata: settle_store::payments::stored_metadata(&input.metadata),
        failure_code: None,
        failure_message: None,
        gateway_refund_key: None,
        flag_reason: None,
        check_attempts: 0,
        next_check_at: Some(next_check_at),
        version: 1,
        created_at: now,
        updated_at: now,
    };
    let row = store::insert(txn, &new).await?;
    let view = RefundView::from(&row);
    settle_store::outbox::enqueue(txn, &row.merchant_id, TOPIC_CREATED, &row.refund_id, &event_payload(TOPIC_CREATED, &view), now).await?;
    Ok(row)
}

/// Ends a refund SUCCEEDED or FAILED (with `changes`), as a compare-and-set, with its event; a success adds to the
/// payment's `amountRefunded` in the same transaction (the payment locked). None when another writer changed the
/// refund first (the caller reads it again).
pub(crate) async fn finish(ctx: &Context, row: &RefundRow, to: RefundStatus, changes: store::Changes) -> Result<Option<RefundRow>, AppError> {
    if row.status.is_final() {
        return Ok(None);
    }
    settle(ctx, row, to, changes).await
}

/// A refund FAILED as never recorded that the gateway made after all: SUCCEEDED, with its event, and counted in the
/// payment's `amountRefunded` (its amount was held meanwhile).
pub(crate) async fn correct_to_succeeded(ctx: &Context, row: &RefundRow, changes: store::Changes) -> Result<Option<RefundRow>, AppError> {
    settle(ctx, row, RefundStatus::Succeeded, store::Changes { clear_failure: true, ..changes }).await
}

async fn settle(ctx: &Context, row: &RefundRow, to: RefundStatus, mut changes: store::Changes) -> Result<Option<RefundRow>, AppError> {
    changes.status = Some(to);
    let next = crate::retrying(|| async {
        let txn = settle_store::begin(&ctx.db).await?;
        let now = settle_store::now_ms();
        // The payment first: the order every writer of a payment's refunds takes its locks in.
        let payment = payments_store::find_locked(&txn, &row.merchant_id, &row.payment_id).await?;
        let Some(next) = store::update(&txn, row, changes.clone(), now).await? else {
            return Ok(None);
        };
        if to == RefundStatus::Succeeded
            && let Some(p) = payment
        {
            let refunded = sum(&store::of_payment(&txn, &p.payment_id).await?, |r| r.status == RefundStatus::Succeeded)?;
            store::set_amount_refunded(&txn, p.id, refunded.as_str(), now).await?;
        }
        let topic = if to == RefundStatus::Succeeded { TOPIC_SUCCEEDED } else { TOPIC_FAILED };
        let view = RefundView::from(&next);
        settle_store::outbox::enqueue(&txn, &next.merchant_id, topic, &next.refund_id, &event_payload(topic, &view), now).await?;
        // An order's cancellation whose card part this refund carries ends with it, in this transaction.
        crate::orders::refund_moved(&txn, &next, now).await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(Some(next))
    })
    .await?;
    if let Some(n) = &next {
        ctx.outbox_wake.notify_one();
        metrics::counter!("settle_refunds_final_total", "rail" => n.rail.as_str(), "status" => n.status.as_str()).increment(1);
    }
    Ok(next)
}

/// Moves a PENDING refund to REQUIRES_ACTION (a CHAIN refund its relayer could not carry out), with why and its
/// event, as a compare-and-set; None when another writer changed it first.
pub(crate) async fn require_action(ctx: &Context, row: &RefundRow, code: &str, message: &str) -> Result<Option<RefundRow>, AppError> {
    let next = crate::retrying(|| async {
        let txn = settle_store::begin(&ctx.db).await?;
        let Some(next) = require_action_in(&txn, row, code, message).await? else { return Ok(None) };
        txn.commit().await.map_err(StoreError::from)?;
        Ok(Some(next))
    })
    .await?;
    if next.is_some() {
        ctx.outbox_wake.notify_one();
    }
    Ok(next)
}

/// [`require_action`]'s change and event in `txn` (the caller commits and wakes the outbox).
pub(crate) async fn require_action_in(
    txn: &impl settle_store::ConnectionTrait,
    row: &RefundRow,
    code: &str,
    message: &str,
) -> Result<Option<RefundRow>, AppError> {
    let changes = store::Changes {
        status: Some(RefundStatus::RequiresAction),
        failure_code: Some(code.to_owned()),
        failure_message: Some(message.to_owned()),
        ..Default::default()
    };
    let now = settle_store::now_ms();
    let Some(next) = store::update(txn, row, changes, now).await? else { return Ok(None) };
    let view = RefundView::from(&next);
    settle_store::outbox::enqueue(txn, &next.merchant_id, TOPIC_REQUIRES_ACTION, &next.refund_id, &event_payload(TOPIC_REQUIRES_ACTION, &view), now)
        .await?;
    Ok(Some(next))
}

/// The refund checker's last look at a refund FAILED as never recorded: it is not asked about again (its amount is
/// free from now on), and an order's cancellation it carries fails with it, in one transaction.
pub(crate) async fn stop_checking(ctx: &Context, row: &RefundRow, attempts: i32) -> Result<(), AppError> {
    let moved = crate::retrying(|| async {
        let txn = settle_store::begin(&ctx.db).await?;
        payments_store::find_locked(&txn, &row.merchant_id, &row.payment_id).await?;
        store::schedule_check(&txn, row.id, attempts, None).await?;
        let Some(now_row) = store::find_any(&txn, &row.refund_id).await? else { return Ok(false) };
        let moved = crate::orders::refund_moved(&txn, &now_row, settle_store::now_ms()).await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(moved)
    })
    .await?;
    if moved {
        ctx.outbox_wake.notify_one();
    }
    Ok(())
}

/// Answers with the refund as recorded now (201), storing the answer for the Idempotency-Key.
pub(crate) async fn reply_with_current(ctx: &Context, claim: &Claim, refund_id: &str) -> Result<Reply, AppError> {
    let row = store::find_any(&ctx.db, refund_id).await?.ok_or(AppError::NotFound("refund"))?;
    claim.complete(&ctx.db, Reply { outcome: Outcome::Created, body: body_of(&RefundView::from(&row))?, replayed: false }).await
}

/// A merchant's refund.
pub async fn get(ctx: &Context, merchant_id: &str, refund_id: &str) -> Result<RefundView, AppError> {
    let id = RefundId::parse("refundId", refund_id)?;
    let row = store::find(&ctx.db, merchant_id, id.as_str()).await?.ok_or(AppError::NotFound("refund"))?;
    Ok(RefundView::from(&row))
}

/// A payment's refunds, oldest first.
pub async fn of_payment(ctx: &Context, merchant_id: &str, payment_id: &str) -> Result<RefundList, AppError> {
    let id = PaymentId::parse("paymentId", payment_id)?;
    let p = payments_store::find(&ctx.db, merchant_id, id.as_str()).await?.ok_or(AppError::NotFound("payment"))?;
    let rows = store::of_payment(&ctx.db, &p.payment_id).await?;
    Ok(RefundList { data: rows.iter().map(RefundView::from).collect(), has_more: false })
}

/// Query of `GET /v1/refunds`, parsed.
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    pub status: Option<RefundStatus>,
    pub payment_id: Option<PaymentId>,
    pub created_from: Option<i64>,
    pub created_to: Option<i64>,
    pub limit: u64,
    pub starting_after: Option<RefundId>,
    pub ending_before: Option<RefundId>,
}

/// A merchant's refunds, newest first.
pub async fn list(ctx: &Context, merchant_id: &str, q: ListQuery) -> Result<RefundList, AppError> {
    let f = store::ListFilter {
        status: q.status,
        payment_id: q.payment_id.map(|p| p.to_string()),
        created_from: q.created_from,
        created_to: q.created_to,
        limit: q.limit,
        starting_after: q.starting_after.map(|r| r.to_string()),
        ending_before: q.ending_before.map(|r| r.to_string()),
    };
    let cursor = if f.starting_after.is_some() { "startingAfter" } else { "endingBefore" };
    let (rows, has_more) = store::list(&ctx.db, merchant_id, &f).await.map_err(|e| match e {
        StoreError::NotFound => AppError::invalid(cursor, format!("{cursor} names no refund of yours")),
        other => other.into(),
    })?;
    Ok(RefundList { data: rows.iter().map(RefundView::from).collect(), has_more })
}
