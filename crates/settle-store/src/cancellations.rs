//! Cancellations of paid orders. Every merchant-facing query takes the tenant.
//!
//! Invariant (kept by the caller, under the order's row lock): the lines of an order's cancellations that are not
//! FAILED never add up to more than the order's lines, and their card and points parts never to more than it paid.
//! A cancellation's changes are compare-and-sets on `(id, version)`.

use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, sea_query::Expr};
use settle_domain::CancellationStatus;

use crate::{StoreError, entity::order_cancellation as oc};

pub use oc::Model as CancellationRow;

/// Inserts a new cancellation (its `id` is the database's to give); returns the row as stored.
pub async fn insert(conn: &impl ConnectionTrait, row: &CancellationRow) -> Result<CancellationRow, StoreError> {
    let mut am = oc::ActiveModel::from(row.clone()).reset_all();
    am.id = sea_orm::ActiveValue::NotSet;
    let id = oc::Entity::insert(am).exec(conn).await?.last_insert_id;
    Ok(CancellationRow { id, ..row.clone() })
}

/// A merchant's cancellation by its public id.
pub async fn find(conn: &impl ConnectionTrait, merchant_id: &str, cancellation_id: &str) -> Result<Option<CancellationRow>, StoreError> {
    Ok(oc::Entity::find().filter(oc::Column::CancellationId.eq(cancellation_id)).filter(oc::Column::MerchantId.eq(merchant_id)).one(conn).await?)
}

/// A cancellation by its public id, for workers that act for every merchant.
pub async fn find_any(conn: &impl ConnectionTrait, cancellation_id: &str) -> Result<Option<CancellationRow>, StoreError> {
    Ok(oc::Entity::find().filter(oc::Column::CancellationId.eq(cancellation_id)).one(conn).await?)
}

/// Every cancellation of an order, oldest first.
pub async fn of_order(conn: &impl ConnectionTrait, order_id: &str) -> Result<Vec<CancellationRow>, StoreError> {
    Ok(oc::Entity::find().filter(oc::Column::OrderId.eq(order_id)).order_by_asc(oc::Column::Id).all(conn).await?)
}

/// The cancellation whose card part the refund `refund_id` carries, if any.
pub async fn by_refund(conn: &impl ConnectionTrait, refund_id: &str) -> Result<Option<CancellationRow>, StoreError> {
    Ok(oc::Entity::find().filter(oc::Column::RefundId.eq(refund_id)).one(conn).await?)
}

/// Moves `current` to `to` (with a failure's code and message), as a compare-and-set on `(id, version)`; the new
/// row, or None when another writer changed it first.
pub async fn set_status(
    conn: &impl ConnectionTrait,
    current: &CancellationRow,
    to: CancellationStatus,
    failure: Option<(&str, &str)>,
    now: i64,
) -> Result<Option<CancellationRow>, StoreError> {
    let mut next = current.clone();
    next.version += 1;
    next.updated_at = now;
    next.status = to;
    let mut upd = oc::Entity::update_many()
        .col_expr(oc::Column::Status, Expr::value(to))
        .col_expr(oc::Column::Version, Expr::value(next.version))
        .col_expr(oc::Column::UpdatedAt, Expr::value(now));
    if let Some((code, message)) = failure {
        let message: String = message.chars().take(200).collect();
        upd = upd.col_expr(oc::Column::FailureCode, Expr::value(code)).col_expr(oc::Column::FailureMessage, Expr::value(message.clone()));
        next.failure_code = Some(code.to_owned());
        next.failure_message = Some(message);
    } else if to == CancellationStatus::Succeeded {
        // A cancellation failed and then revived (its refund made late) keeps no failure, and no flag.
        upd = upd
            .col_expr(oc::Column::FailureCode, Expr::value(Option::<String>::None))
            .col_expr(oc::Column::FailureMessage, Expr::value(Option::<String>::None))
            .col_expr(oc::Column::FlagReason, Expr::value(Option::<String>::None));
        next.failure_code = None;
        next.failure_message = None;
        next.flag_reason = None;
    }
    let res = upd.filter(oc::Column::Id.eq(current.id)).filter(oc::Column::Version.eq(current.version)).exec(conn).await?;
    Ok((res.rows_affected == 1).then_some(next))
}

/// Records that `current` closed its order (and whether the order's coupon came back with it), in the transaction
/// that made it SUCCEEDED.
pub async fn set_closing(conn: &impl ConnectionTrait, current: &CancellationRow, releases_coupon: bool) -> Result<CancellationRow, StoreError> {
    oc::Entity::update_many()
        .col_expr(oc::Column::ClosesOrder, Expr::value(true))
        .col_expr(oc::Column::ReleasesCoupon, Expr::value(releases_coupon))
        .filter(oc::Column::Id.eq(current.id))
        .exec(conn)
        .await?;
    Ok(CancellationRow { closes_order: true, releases_coupon, ..current.clone() })
}

/// Flags a cancellation for an operator (its version moves).
pub async fn flag(conn: &impl ConnectionTrait, current: &CancellationRow, reason: &str, now: i64) -> Result<Option<CancellationRow>, StoreError> {
    let reason: String = reason.chars().take(200).collect();
    let res = oc::Entity::update_many()
        .col_expr(oc::Column::FlagReason, Expr::value(reason.clone()))
        .col_expr(oc::Column::Version, Expr::value(current.version + 1))
        .col_expr(oc::Column::UpdatedAt, Expr::value(now))
        .filter(oc::Column::Id.eq(current.id))
        .filter(oc::Column::Version.eq(current.version))
        .exec(conn)
        .await?;
    Ok((res.rows_affected == 1).then(|| CancellationRow {
        flag_reason: Some(reason),
        version: current.version + 1,
        updated_at: now,
        ..current.clone()
    }))
}
