//! The saga's steps and their compensations, shared by orchestration (one transaction) and choreography (one
//! handler per event): each takes or gives back exactly what its recorded result says.

use settle_domain::{CouponStatus, PaymentId, SagaStep, StepOutcome, UserStatus};
use settle_store::{
    ConnectionTrait,
    orders::{self as store, OrderRow},
    payments::{self as payments_store, NewPayment},
    shop,
};

use super::{Refusal, refused};
use crate::{
    AppError,
    ledger::views::{PaymentView, event_payload},
};

/// The steps of the purchase, in order; compensation runs them backwards.
pub(super) const STEPS: [SagaStep; 5] =
    [SagaStep::CheckUser, SagaStep::ReserveStock, SagaStep::UseCoupon, SagaStep::DeductPoints, SagaStep::CreatePayment];
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
    details: &settle_store::payments::Details,
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
        details: details.clone(),
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
