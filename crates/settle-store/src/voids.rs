//! Gateway transactions the card rail must void, as durable jobs.
//!
//! Invariant: a transaction key is queued at most once (unique `transaction_key`), and a queued void stays
//! PENDING until the gateway confirmed it (VOIDED) or said there is nothing to void (NOT_VOIDABLE); a worker
//! under a lease retries it with backoff until then. Queuing is its own statement, never inside a larger
//! transaction, so a repeat (a unique violation) aborts nothing else.

use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr};

use crate::{StoreError, entity::gateway_void};

pub use gateway_void::Model as VoidRow;

pub const PENDING: &str = "PENDING";
pub const VOIDED: &str = "VOIDED";
pub const NOT_VOIDABLE: &str = "NOT_VOIDABLE";

/// Queues a void of `transaction_key`; false when it was queued before.
pub async fn enqueue(
    conn: &impl ConnectionTrait,
    payment_id: &str,
    merchant_id: &str,
    transaction_key: &str,
    reason: &str,
    now: i64,
) -> Result<bool, StoreError> {
    if find(conn, transaction_key).await?.is_some() {
        return Ok(false);
    }
    let row = gateway_void::ActiveModel {
        payment_id: Set(payment_id.to_owned()),
        merchant_id: Set(merchant_id.to_owned()),
        transaction_key: Set(transaction_key.to_owned()),
        reason: Set(reason.to_owned()),
        status: Set(PENDING.to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        last_error: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    match gateway_void::Entity::insert(row).exec_without_returning(conn).await {
        Ok(_) => Ok(true),
        Err(e) => match StoreError::from(e) {
            StoreError::Unique(_) => Ok(false),
            other => Err(other),
        },
    }
}

/// The void of a transaction key, if one was queued.
pub async fn find(conn: &impl ConnectionTrait, transaction_key: &str) -> Result<Option<VoidRow>, StoreError> {
    Ok(gateway_void::Entity::find().filter(gateway_void::Column::TransactionKey.eq(transaction_key)).one(conn).await?)
}

/// A payment's voids.
pub async fn of_payment(conn: &impl ConnectionTrait, payment_id: &str) -> Result<Vec<VoidRow>, StoreError> {
    Ok(gateway_void::Entity::find().filter(gateway_void::Column::PaymentId.eq(payment_id)).order_by_asc(gateway_void::Column::Id).all(conn).await?)
}

/// PENDING voids whose next attempt is due.
pub async fn due(conn: &impl ConnectionTrait, now: i64, limit: u64) -> Result<Vec<VoidRow>, StoreError> {
    Ok(gateway_void::Entity::find()
        .filter(gateway_void::Column::Status.eq(PENDING))
        .filter(gateway_void::Column::NextAttemptAt.lte(now))
        .order_by_asc(gateway_void::Column::NextAttemptAt)
        .limit(limit)
        .all(conn)
        .await?)
}

/// Ends a PENDING void with `status` (VOIDED or NOT_VOIDABLE); false when it was no longer PENDING.
pub async fn finish(conn: &impl ConnectionTrait, id: i64, status: &str, now: i64) -> Result<bool, StoreError> {
    let res = gateway_void::Entity::update_many()
        .col_expr(gateway_void::Column::Status, Expr::value(status))
        .col_expr(gateway_void::Column::UpdatedAt, Expr::value(now))
        .filter(gateway_void::Column::Id.eq(id))
        .filter(gateway_void::Column::Status.eq(PENDING))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Records a failed attempt and when to try again.
pub async fn retry_later(conn: &impl ConnectionTrait, id: i64, attempts: i32, next_at: i64, error: &str, now: i64) -> Result<(), StoreError> {
    gateway_void::Entity::update_many()
        .col_expr(gateway_void::Column::Attempts, Expr::value(attempts))
        .col_expr(gateway_void::Column::NextAttemptAt, Expr::value(next_at))
        .col_expr(gateway_void::Column::LastError, Expr::value(error.chars().take(250).collect::<String>()))
        .col_expr(gateway_void::Column::UpdatedAt, Expr::value(now))
        .filter(gateway_void::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Voids not yet done (for /metrics).
pub async fn count_pending(conn: &impl ConnectionTrait) -> Result<u64, StoreError> {
    use sea_orm::PaginatorTrait;
    Ok(gateway_void::Entity::find().filter(gateway_void::Column::Status.eq(PENDING)).count(conn).await?)
}
