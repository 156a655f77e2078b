//! Refunds of payments. Every merchant-facing query takes the tenant: another merchant's refund is not found.
//!
//! Invariant (kept by the caller, under the payment's row lock): the amounts of a payment's refunds that are not
//! FAILED never sum to more than the payment's amount. A refund's changes are compare-and-sets on `(id, version)`.

use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr};
use settle_domain::{Rail, RefundStatus};

use crate::{
    StoreError,
    entity::{payment, refund},
};

pub use refund::Model as RefundRow;

/// Inserts a new refund (its `id` is the database's to give); returns the row as stored.
pub async fn insert(conn: &impl ConnectionTrait, row: &RefundRow) -> Result<RefundRow, StoreError> {
    let mut am = refund::ActiveModel::from(row.clone()).reset_all();
    am.id = sea_orm::ActiveValue::NotSet;
    let id = refund::Entity::insert(am).exec(conn).await?.last_insert_id;
    Ok(RefundRow { id, ..row.clone() })
}

/// A merchant's refund by its public id.
pub async fn find(conn: &impl ConnectionTrait, merchant_id: &str, refund_id: &str) -> Result<Option<RefundRow>, StoreError> {
    Ok(refund::Entity::find().filter(refund::Column::RefundId.eq(refund_id)).filter(refund::Column::MerchantId.eq(merchant_id)).one(conn).await?)
}

/// A refund by its public id, for workers that act for every merchant.
pub async fn find_any(conn: &impl ConnectionTrait, refund_id: &str) -> Result<Option<RefundRow>, StoreError> {
    Ok(refund::Entity::find().filter(refund::Column::RefundId.eq(refund_id)).one(conn).await?)
}

/// Every refund of a payment, oldest first.
pub async fn of_payment(conn: &impl ConnectionTrait, payment_id: &str) -> Result<Vec<RefundRow>, StoreError> {
    Ok(refund::Entity::find().filter(refund::Column::PaymentId.eq(payment_id)).order_by_asc(refund::Column::Id).all(conn).await?)
}

/// Filters of [`list`].
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    pub status: Option<RefundStatus>,
    pub payment_id: Option<String>,
    /// Created at or after / at or before (epoch ms).
    pub created_from: Option<i64>,
    pub created_to: Option<i64>,
    /// 1..=100, checked by the caller.
    pub limit: u64,
    pub starting_after: Option<String>,
    pub ending_before: Option<String>,
}

/// A merchant's refunds, newest first, and whether more follow. An unknown cursor is [`StoreError::NotFound`].
pub async fn list(conn: &impl ConnectionTrait, merchant_id: &str, f: &ListFilter) -> Result<(Vec<RefundRow>, bool), StoreError> {
    let cursor = crate::Cursor::named(f.starting_after.as_deref(), f.ending_before.as_deref(), |_, id| async move {
        Ok::<_, StoreError>(find(conn, merchant_id, id).await?.ok_or(StoreError::NotFound)?.id)
    })
    .await?;
    let mut q = refund::Entity::find().filter(refund::Column::MerchantId.eq(merchant_id));
    if let Some(s) = f.status {
        q = q.filter(refund::Column::Status.eq(s));
    }
    if let Some(p) = &f.payment_id {
        q = q.filter(refund::Column::PaymentId.eq(p.as_str()));
    }
    if let Some(t) = f.created_from {
        q = q.filter(refund::Column::CreatedAt.gte(t));
    }
    if let Some(t) = f.created_to {
        q = q.filter(refund::Column::CreatedAt.lte(t));
    }
    crate::page(conn, q, refund::Column::Id, cursor, f.limit).await
}

/// What a change of a refund sets (None: unchanged).
#[derive(Clone, Debug, Default)]
pub struct Changes {
    pub status: Option<RefundStatus>,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    pub gateway_refund_key: Option<String>,
    pub flag_reason: Option<String>,
    /// When the card rail asks the gateway next; for a CHAIN refund, the latest deadline of its signed terms (a
    /// final status clears it unless given).
    pub next_check_at: Option<i64>,
    /// Clears the failure code and message (a refund failed as never recorded that the gateway made after all).
    pub clear_failure: bool,
}

/// Applies `changes` to `current` as a compare-and-set on `(id, version)`; the new row, or None when another writer
/// changed the refund first. A final status clears the next check.
pub async fn update(conn: &impl ConnectionTrait, current: &RefundRow, changes: Changes, now: i64) -> Result<Option<RefundRow>, StoreError> {
    let mut next = current.clone();
    next.version += 1;
    next.updated_at = now;
    let mut upd = refund::Entity::update_many()
        .col_expr(refund::Column::Version, Expr::value(next.version))
        .col_expr(refund::Column::UpdatedAt, Expr::value(now));
    if let Some(s) = changes.status {
        upd = upd.col_expr(refund::Column::Status, Expr::value(s));
        next.status = s;
    }
    if changes.status.is_some_and(RefundStatus::is_final) {
        // A final refund is checked again only when asked (`next_check_at`: a refund failed as never recorded).
        upd = upd.col_expr(refund::Column::NextCheckAt, Expr::value(changes.next_check_at));
        next.next_check_at = changes.next_check_at;
    } else if let Some(v) = changes.next_check_at {
        upd = upd.col_expr(refund::Column::NextCheckAt, Expr::value(v));
        next.next_check_at = Some(v);
    }
    if changes.clear_failure {
        upd = upd.col_expr(refund::Column::FailureCode, Expr::value(Option::<String>::None));
        upd = upd.col_expr(refund::Column::FailureMessage, Expr::value(Option::<String>::None));
        next.failure_code = None;
        next.failure_message = None;
    }
    if let Some(v) = changes.failure_code {
        upd = upd.col_expr(refund::Column::FailureCode, Expr::value(v.clone()));
        next.failure_code = Some(v);
    }
    if let Some(v) = changes.failure_message {
        let v: String = v.chars().take(200).collect();
        upd = upd.col_expr(refund::Column::FailureMessage, Expr::value(v.clone()));
        next.failure_message = Some(v);
    }
    if let Some(v) = changes.gateway_refund_key {
        upd = upd.col_expr(refund::Column::GatewayRefundKey, Expr::value(v.clone()));
        next.gateway_refund_key = Some(v);
    }
    if let Some(v) = changes.flag_reason {
        let v: String = v.chars().take(200).collect();
        upd = upd.col_expr(refund::Column::FlagReason, Expr::value(v.clone()));
        next.flag_reason = Some(v);
    }
    let res = upd.filter(refund::Column::Id.eq(current.id)).filter(refund::Column::Version.eq(current.version)).exec(conn).await?;
    Ok((res.rows_affected == 1).then_some(next))
}

/// Card refunds whose next check at the gateway is due: PENDING ones, and FAILED ones still looked at once more
/// (failed as never recorded: the gateway may record them late).
pub async fn due(conn: &impl ConnectionTrait, now: i64, limit: u64) -> Result<Vec<RefundRow>, StoreError> {
    Ok(refund::Entity::find()
        .filter(refund::Column::Status.is_in([RefundStatus::Pending, RefundStatus::Failed]))
        .filter(refund::Column::NextCheckAt.lte(now))
        .filter(refund::Column::Rail.eq(Rail::Card))
        .order_by_asc(refund::Column::NextCheckAt)
        .limit(limit)
        .all(conn)
        .await?)
}

/// Open refunds (PENDING or REQUIRES_ACTION, not left to a person by a `flag_reason`) of CHAIN payments on
/// `chain_id`, after row `after_id`, in row order: the chain's watcher decides them a page at a time.
pub async fn open_on_chain(conn: &impl ConnectionTrait, chain_id: i64, after_id: i64, limit: u64) -> Result<Vec<RefundRow>, StoreError> {
    use sea_orm::sea_query::Query;
    let on_chain =
        Query::select().column(payment::Column::PaymentId).from(payment::Entity).and_where(payment::Column::ChainId.eq(chain_id)).to_owned();
    Ok(refund::Entity::find()
        .filter(refund::Column::Status.is_in([RefundStatus::Pending, RefundStatus::RequiresAction]))
        .filter(refund::Column::Rail.eq(Rail::Chain))
        .filter(refund::Column::FlagReason.is_null())
        .filter(refund::Column::Id.gt(after_id))
        .filter(refund::Column::PaymentId.in_subquery(on_chain))
        .order_by_asc(refund::Column::Id)
        .limit(limit)
        .all(conn)
        .await?)
}

/// Sets when the gateway is asked about a refund next (None: never again), and how many times it was (bookkeeping:
/// no version change). A refund that became SUCCEEDED meanwhile is left alone.
pub async fn schedule_check(conn: &impl ConnectionTrait, id: i64, attempts: i32, next_at: Option<i64>) -> Result<(), StoreError> {
    refund::Entity::update_many()
        .col_expr(refund::Column::CheckAttempts, Expr::value(attempts))
        .col_expr(refund::Column::NextCheckAt, Expr::value(next_at))
        .filter(refund::Column::Id.eq(id))
        .filter(refund::Column::Status.is_in([RefundStatus::Pending, RefundStatus::Failed]))
        .filter(refund::Column::NextCheckAt.is_not_null())
        .exec(conn)
        .await?;
    Ok(())
}

/// Sets a payment's `amount_refunded` (the caller holds its row lock and computed the sum). Its status and version
/// do not change: a refund is not a state of the payment.
pub async fn set_amount_refunded(conn: &impl ConnectionTrait, payment_row_id: i64, amount: &str, now: i64) -> Result<(), StoreError> {
    payment::Entity::update_many()
        .col_expr(payment::Column::AmountRefunded, Expr::value(amount))
        .col_expr(payment::Column::UpdatedAt, Expr::value(now))
        .filter(payment::Column::Id.eq(payment_row_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Number of refunds (all merchants), for tests and the status page.
pub async fn count(conn: &impl ConnectionTrait) -> Result<u64, StoreError> {
    use sea_orm::PaginatorTrait;
    Ok(refund::Entity::find().count(conn).await?)
}
