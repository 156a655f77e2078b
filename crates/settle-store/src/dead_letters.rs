//! Events parked after their handler kept failing (see the entity), and the operator's way back.

use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr};

use crate::{
    StoreError,
    entity::dead_letter::{self, Column},
    outbox::OutboxRow,
};

pub use dead_letter::Model as DeadLetterRow;

/// How much of an error is kept.
const ERROR_CHARS: usize = 1000;

/// Parks `ev` for `consumer` with its last error (in the transaction that claims the event in the consumer's inbox).
pub async fn park(
    conn: &impl ConnectionTrait,
    consumer: &str,
    ev: &OutboxRow,
    error: &str,
    attempts: i64,
    next_attempt_at: Option<i64>,
    now: i64,
) -> Result<(), StoreError> {
    let row = dead_letter::ActiveModel {
        consumer: Set(consumer.to_owned()),
        event_seq: Set(ev.seq.unwrap_or_default()),
        event_id: Set(ev.event_id.clone()),
        merchant_id: Set(ev.merchant_id.clone()),
        topic: Set(ev.topic.clone()),
        aggregate_id: Set(ev.aggregate_id.clone()),
        payload: Set(ev.payload.clone()),
        error: Set(error.chars().take(ERROR_CHARS).collect()),
        attempts: Set(attempts),
        next_attempt_at: Set(next_attempt_at),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    dead_letter::Entity::insert(row).exec_without_returning(conn).await?;
    Ok(())
}

/// A failed try: its attempts, its error, and when it is tried again (None: it waits for an operator).
pub async fn failed_again(
    conn: &impl ConnectionTrait,
    id: i64,
    error: &str,
    attempts: i64,
    next_attempt_at: Option<i64>,
    now: i64,
) -> Result<(), StoreError> {
    dead_letter::Entity::update_many()
        .col_expr(Column::Error, Expr::value(error.chars().take(ERROR_CHARS).collect::<String>()))
        .col_expr(Column::Attempts, Expr::value(attempts))
        .col_expr(Column::NextAttemptAt, Expr::value(next_attempt_at))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Parked events due for an automatic try, oldest event first.
pub async fn due(conn: &impl ConnectionTrait, now: i64, limit: u64) -> Result<Vec<DeadLetterRow>, StoreError> {
    let mut rows =
        dead_letter::Entity::find().filter(Column::NextAttemptAt.lte(now)).order_by_asc(Column::NextAttemptAt).limit(limit).all(conn).await?;
    // Sorted by event: a saga's events are tried in their order.
    rows.sort_by_key(|d| d.event_seq);
    Ok(rows)
}

/// Parked events that wait for an operator (tried automatically as often as they are).
pub async fn waiting(conn: &impl ConnectionTrait) -> Result<u64, StoreError> {
    Ok(dead_letter::Entity::find().filter(Column::NextAttemptAt.is_null()).count(conn).await?)
}

/// Parked events in the order they happened (oldest first), from `after_id` on.
pub async fn list(conn: &impl ConnectionTrait, after_id: i64, limit: u64) -> Result<Vec<DeadLetterRow>, StoreError> {
    Ok(dead_letter::Entity::find().filter(Column::Id.gt(after_id)).order_by_asc(Column::Id).limit(limit).all(conn).await?)
}

pub async fn find(conn: &impl ConnectionTrait, id: i64) -> Result<Option<DeadLetterRow>, StoreError> {
    Ok(dead_letter::Entity::find_by_id(id).one(conn).await?)
}

/// Takes a dead letter away (in the transaction that handles its event); false when another retry took it first.
pub async fn take(conn: &impl ConnectionTrait, id: i64) -> Result<bool, StoreError> {
    Ok(dead_letter::Entity::delete_by_id(id).exec(conn).await?.rows_affected == 1)
}

pub async fn count(conn: &impl ConnectionTrait) -> Result<u64, StoreError> {
    Ok(dead_letter::Entity::find().count(conn).await?)
}

/// The event as the outbox held it.
pub fn as_event(d: &DeadLetterRow) -> OutboxRow {
    OutboxRow {
        id: 0,
        seq: Some(d.event_seq),
        merchant_id: d.merchant_id.clone(),
        topic: d.topic.clone(),
        aggregate_id: d.aggregate_id.clone(),
        payload: d.payload.clone(),
        created_at: d.created_at,
        published_at: Some(d.created_at),
        event_id: d.event_id.clone(),
    }
}
