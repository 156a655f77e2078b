//! Orders and the purchase saga's state.
//!
//! Invariant: an order's and a saga's status move only by compare-and-set (from an expected status, or
//! version), so a saga is completed or compensated once, never both, whoever (the request, the recovery worker,
//! another instance) gets there first; a step result is recorded at most once per (saga, step, outcome).

use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait},
};
use settle_domain::{OrderStatus, SagaStatus, SagaStep, StepOutcome};

use crate::{
    StoreError,
    entity::{consumer_offset, inbox, notification, order, order_item, saga_state, saga_step_result, transaction_log},
};

pub use order::Model as OrderRow;
pub use order_item::Model as OrderItemRow;
pub use saga_state::Model as SagaRow;
pub use saga_step_result::Model as StepRow;

/// A new order, its lines and its saga, written together when the order is placed.
#[derive(Clone, Debug)]
pub struct NewOrder {
    pub order_id: String,
    pub user_id: String,
    pub total_amount: i64,
    pub used_points: i64,
    pub coupon_discount: i64,
    pub paid_amount: i64,
    pub issued_coupon_id: Option<String>,
    pub payment_id: Option<String>,
    pub card_given: bool,
    pub saga_id: String,
    pub pattern: String,
    /// (item, quantity, unit price)
    pub lines: Vec<(String, i64, i64)>,
    pub details: crate::payments::Details,
}

pub async fn insert_order(
    conn: &impl ConnectionTrait,
    merchant_id: &str,
    o: &NewOrder,
    saga_status: SagaStatus,
    step: SagaStep,
    now: i64,
) -> Result<(), StoreError> {
    let row = order::ActiveModel {
        merchant_id: Set(merchant_id.to_owned()),
        order_id: Set(o.order_id.clone()),
        user_id: Set(o.user_id.clone()),
        status: Set(OrderStatus::Placed),
        total_amount: Set(o.total_amount),
        used_points: Set(o.used_points),
        coupon_discount: Set(o.coupon_discount),
        paid_amount: Set(o.paid_amount),
        issued_coupon_id: Set(o.issued_coupon_id.clone()),
        payment_id: Set(o.payment_id.clone()),
        card_given: Set(o.card_given),
        saga_id: Set(o.saga_id.clone()),
        created_at: Set(now),
        updated_at: Set(now),
        description: Set(o.details.description.clone()),
        customer_email: Set(o.details.customer_email.clone()),
        metadata: Set(crate::payments::stored_metadata(&o.details.metadata)),
        ..Default::default()
    };
    order::Entity::insert(row).exec_without_returning(conn).await?;
    for (item_id, quantity, unit_price) in &o.lines {
        let line = order_item::ActiveModel {
            order_id: Set(o.order_id.clone()),
            item_id: Set(item_id.clone()),
            quantity: Set(*quantity),
            unit_price: Set(*unit_price),
            ..Default::default()
        };
        order_item::Entity::insert(line).exec_without_returning(conn).await?;
    }
    let saga = saga_state::ActiveModel {
        merchant_id: Set(merchant_id.to_owned()),
        saga_id: Set(o.saga_id.clone()),
        order_id: Set(o.order_id.clone()),
        user_id: Set(o.user_id.clone()),
        pattern: Set(o.pattern.clone()),
        status: Set(saga_status),
        current_step: Set(step),
        error: Set(None),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    saga_state::Entity::insert(saga).exec_without_returning(conn).await?;
    Ok(())
}

pub async fn find_order(conn: &impl ConnectionTrait, merchant_id: &str, order_id: &str) -> Result<Option<OrderRow>, StoreError> {
    Ok(order::Entity::find().filter(order::Column::MerchantId.eq(merchant_id)).filter(order::Column::OrderId.eq(order_id)).one(conn).await?)
}

/// An order read in `txn` after locking its row (a no-op update), so that writers of its cancellations take turns.
pub async fn find_order_locked(txn: &impl ConnectionTrait, merchant_id: &str, order_id: &str) -> Result<Option<OrderRow>, StoreError> {
    order::Entity::update_many()
        .col_expr(order::Column::UpdatedAt, Expr::col(order::Column::UpdatedAt))
        .filter(order::Column::MerchantId.eq(merchant_id))
        .filter(order::Column::OrderId.eq(order_id))
        .exec(txn)
        .await?;
    find_order(txn, merchant_id, order_id).await
}

pub async fn order_items(conn: &impl ConnectionTrait, order_id: &str) -> Result<Vec<OrderItemRow>, StoreError> {
    Ok(order_item::Entity::find().filter(order_item::Column::OrderId.eq(order_id)).order_by_asc(order_item::Column::Id).all(conn).await?)
}

/// Moves an order from `from` to `to`; false when it was not in `from`.
pub async fn set_order_status(conn: &impl ConnectionTrait, id: i64, from: OrderStatus, to: OrderStatus, now: i64) -> Result<bool, StoreError> {
    let res = order::Entity::update_many()
        .col_expr(order::Column::Status, Expr::value(to))
        .col_expr(order::Column::UpdatedAt, Expr::value(now))
        .filter(order::Column::Id.eq(id))
        .filter(order::Column::Status.eq(from))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// A saga by id; with `merchant_id`, only that merchant's.
pub async fn find_saga(conn: &impl ConnectionTrait, merchant_id: Option<&str>, saga_id: &str) -> Result<Option<SagaRow>, StoreError> {
    let mut q = saga_state::Entity::find().filter(saga_state::Column::SagaId.eq(saga_id));
    if let Some(m) = merchant_id {
        q = q.filter(saga_state::Column::MerchantId.eq(m));
    }
    Ok(q.one(conn).await?)
}

/// Moves a saga by a compare-and-set on its version; returns the new row, or None when it changed meanwhile.
pub async fn set_saga(
    conn: &impl ConnectionTrait,
    s: &SagaRow,
    status: SagaStatus,
    step: SagaStep,
    error: Option<&str>,
    now: i64,
) -> Result<Option<SagaRow>, StoreError> {
    let res = saga_state::Entity::update_many()
        .col_expr(saga_state::Column::Status, Expr::value(status))
        .col_expr(saga_state::Column::CurrentStep, Expr::value(step))
        .col_expr(saga_state::Column::Error, Expr::value(error.map(|e| e.chars().take(250).collect::<String>())))
        .col_expr(saga_state::Column::Version, Expr::value(s.version + 1))
        .col_expr(saga_state::Column::UpdatedAt, Expr::value(now))
        .filter(saga_state::Column::Id.eq(s.id))
        .filter(saga_state::Column::Version.eq(s.version))
        .exec(conn)
        .await?;
    if res.rows_affected != 1 {
        return Ok(None);
    }
    Ok(Some(SagaRow { status, current_step: step, error: error.map(str::to_owned), version: s.version + 1, updated_at: now, ..s.clone() }))
}

/// Records what a step did; a second record of the same (saga, step, outcome) is a no-op.
pub async fn record_step(
    conn: &impl ConnectionTrait,
    saga_id: &str,
    step: SagaStep,
    outcome: StepOutcome,
    data: Option<String>,
    now: i64,
) -> Result<(), StoreError> {
    let exists = saga_step_result::Entity::find()
        .filter(saga_step_result::Column::SagaId.eq(saga_id))
        .filter(saga_step_result::Column::Step.eq(step))
        .filter(saga_step_result::Column::Outcome.eq(outcome))
        .count(conn)
        .await?;
    if exists > 0 {
        return Ok(());
    }
    let row = saga_step_result::ActiveModel {
        saga_id: Set(saga_id.to_owned()),
        step: Set(step),
        outcome: Set(outcome),
        data: Set(data),
        created_at: Set(now),
        ..Default::default()
    };
    saga_step_result::Entity::insert(row).exec_without_returning(conn).await?;
    Ok(())
}

/// Records the results of a new saga's steps, all DONE, in one statement.
pub async fn record_new_steps(conn: &impl ConnectionTrait, saga_id: &str, steps: &[SagaStep], now: i64) -> Result<(), StoreError> {
    let rows = steps.iter().map(|step| saga_step_result::ActiveModel {
        saga_id: Set(saga_id.to_owned()),
        step: Set(*step),
        outcome: Set(StepOutcome::Done),
        data: Set(None),
        created_at: Set(now),
        ..Default::default()
    });
    saga_step_result::Entity::insert_many(rows).exec_without_returning(conn).await?;
    Ok(())
}

/// The step results of several sagas in one read (a list's page), in the order they were written.
pub async fn steps_of(conn: &impl ConnectionTrait, saga_ids: &[&str]) -> Result<Vec<StepRow>, StoreError> {
    if saga_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(saga_step_result::Entity::find()
        .filter(saga_step_result::Column::SagaId.is_in(saga_ids.iter().copied()))
        .order_by_asc(saga_step_result::Column::Id)
        .all(conn)
        .await?)
}

/// The lines of several orders in one read (a list's page), in the order they were written.
pub async fn order_items_of(conn: &impl ConnectionTrait, order_ids: &[&str]) -> Result<Vec<OrderItemRow>, StoreError> {
    if order_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(order_item::Entity::find()
        .filter(order_item::Column::OrderId.is_in(order_ids.iter().copied()))
        .order_by_asc(order_item::Column::Id)
        .all(conn)
        .await?)
}

pub async fn steps(conn: &impl ConnectionTrait, saga_id: &str) -> Result<Vec<StepRow>, StoreError> {
    Ok(saga_step_result::Entity::find()
        .filter(saga_step_result::Column::SagaId.eq(saga_id))
        .order_by_asc(saga_step_result::Column::Id)
        .all(conn)
        .await?)
}

/// Sagas of one status after `after_id`, by id: a page of the recovery sweep (index `saga_states_sweep`).
pub async fn sagas_after(conn: &impl ConnectionTrait, status: SagaStatus, after_id: i64, limit: u64) -> Result<Vec<SagaRow>, StoreError> {
    Ok(saga_state::Entity::find()
        .filter(saga_state::Column::Status.eq(status))
        .filter(saga_state::Column::Id.gt(after_id))
        .order_by_asc(saga_state::Column::Id)
        .limit(limit)
        .all(conn)
        .await?)
}

/// A merchant's sagas, newest first, filtered; with the total count.
pub async fn list_sagas(
    conn: &impl ConnectionTrait,
    merchant_id: &str,
    status: Option<SagaStatus>,
    user_id: Option<&str>,
    from: Option<i64>,
    offset: u64,
    limit: u64,
) -> Result<(Vec<SagaRow>, u64), StoreError> {
    let f = SagaFilter { status, user_id: user_id.map(str::to_owned), created_from: from, created_to: None };
    let q = saga_select(merchant_id, &f);
    let total = q.clone().count(conn).await?;
    let rows = q.order_by_desc(saga_state::Column::CreatedAt).order_by_desc(saga_state::Column::Id).offset(offset).limit(limit).all(conn).await?;
    Ok((rows, total))
}

/// Filters of a merchant's sagas.
#[derive(Clone, Debug, Default)]
pub struct SagaFilter {
    pub status: Option<SagaStatus>,
    pub user_id: Option<String>,
    /// Created at or after / at or before (epoch ms).
    pub created_from: Option<i64>,
    pub created_to: Option<i64>,
}

fn saga_select(merchant_id: &str, f: &SagaFilter) -> sea_orm::Select<saga_state::Entity> {
    let mut q = saga_state::Entity::find().filter(saga_state::Column::MerchantId.eq(merchant_id));
    if let Some(s) = f.status {
        q = q.filter(saga_state::Column::Status.eq(s));
    }
    if let Some(u) = &f.user_id {
        q = q.filter(saga_state::Column::UserId.eq(u.as_str()));
    }
    if let Some(t) = f.created_from {
        q = q.filter(saga_state::Column::CreatedAt.gte(t));
    }
    if let Some(t) = f.created_to {
        q = q.filter(saga_state::Column::CreatedAt.lte(t));
    }
    q
}

/// A page of a merchant's sagas, newest first, and whether more follow; the cursors are saga ids (an unknown one
/// is [`StoreError::NotFound`]).
pub async fn saga_page(
    conn: &impl ConnectionTrait,
    merchant_id: &str,
    f: &SagaFilter,
    starting_after: Option<&str>,
    ending_before: Option<&str>,
    limit: u64,
) -> Result<(Vec<SagaRow>, bool), StoreError> {
    let cursor = crate::Cursor::named(starting_after, ending_before, |_, saga_id| async move {
        Ok::<_, StoreError>(find_saga(conn, Some(merchant_id), saga_id).await?.ok_or(StoreError::NotFound)?.id)
    })
    .await?;
    crate::page(conn, saga_select(merchant_id, f), saga_state::Column::Id, cursor, limit).await
}

/// How many of a merchant's sagas are in each status.
pub async fn saga_counts(conn: &impl ConnectionTrait, merchant_id: &str) -> Result<Vec<(SagaStatus, i64)>, StoreError> {
    Ok(saga_state::Entity::find()
        .select_only()
        .column(saga_state::Column::Status)
        .column_as(saga_state::Column::Id.count(), "n")
        .filter(saga_state::Column::MerchantId.eq(merchant_id))
        .group_by(saga_state::Column::Status)
        .into_tuple::<(SagaStatus, i64)>()
        .all(conn)
        .await?)
}

pub async fn insert_log(conn: &impl ConnectionTrait, merchant_id: &str, o: &OrderRow, kind: &str, now: i64) -> Result<(), StoreError> {
    let row = transaction_log::ActiveModel {
        merchant_id: Set(merchant_id.to_owned()),
        saga_id: Set(o.saga_id.clone()),
        order_id: Set(o.order_id.clone()),
        user_id: Set(o.user_id.clone()),
        kind: Set(kind.to_owned()),
        amount: Set(o.total_amount),
        created_at: Set(now),
        ..Default::default()
    };
    transaction_log::Entity::insert(row).exec_without_returning(conn).await?;
    Ok(())
}

pub async fn notify(conn: &impl ConnectionTrait, merchant_id: &str, user_id: &str, saga_id: &str, message: &str, now: i64) -> Result<(), StoreError> {
    let row = notification::ActiveModel {
        merchant_id: Set(merchant_id.to_owned()),
        user_id: Set(user_id.to_owned()),
        saga_id: Set(saga_id.to_owned()),
        message: Set(message.chars().take(255).collect()),
        created_at: Set(now),
        ..Default::default()
    };
    notification::Entity::insert(row).exec_without_returning(conn).await?;
    Ok(())
}

/// The order whose remainder `payment_id` pays.
pub async fn find_order_by_payment(conn: &impl ConnectionTrait, merchant_id: &str, payment_id: &str) -> Result<Option<OrderRow>, StoreError> {
    Ok(order::Entity::find().filter(order::Column::MerchantId.eq(merchant_id)).filter(order::Column::PaymentId.eq(payment_id)).one(conn).await?)
}

/// Takes `amount` off what an order leaves to pay, as a coupon discount or as points (choreography, one step at
/// a time). `usedPoints + couponDiscount + paidAmount == totalAmount` holds after every statement: both sides
/// move in one UPDATE, and only while enough is left to pay.
pub async fn apply_reduction(conn: &impl ConnectionTrait, id: i64, points: bool, amount: i64, now: i64) -> Result<bool, StoreError> {
    let col = if points { order::Column::UsedPoints } else { order::Column::CouponDiscount };
    let res = order::Entity::update_many()
        .col_expr(col, Expr::col(col).add(amount))
        .col_expr(order::Column::PaidAmount, Expr::col(order::Column::PaidAmount).sub(amount))
        .col_expr(order::Column::UpdatedAt, Expr::value(now))
        .filter(order::Column::Id.eq(id))
        .filter(order::Column::PaidAmount.gte(amount))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Records the payment created for an order's remainder.
pub async fn set_order_payment(conn: &impl ConnectionTrait, id: i64, payment_id: &str, now: i64) -> Result<(), StoreError> {
    order::Entity::update_many()
        .col_expr(order::Column::PaymentId, Expr::value(payment_id))
        .col_expr(order::Column::UpdatedAt, Expr::value(now))
        .filter(order::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// The outcomes recorded for one step of a saga (one read, where a compensation asks two questions of it).
pub async fn step_outcomes(conn: &impl ConnectionTrait, saga_id: &str, step: SagaStep) -> Result<Vec<StepOutcome>, StoreError> {
    Ok(saga_step_result::Entity::find()
        .select_only()
        .column(saga_step_result::Column::Outcome)
        .filter(saga_step_result::Column::SagaId.eq(saga_id))
        .filter(saga_step_result::Column::Step.eq(step))
        .into_tuple::<StepOutcome>()
        .all(conn)
        .await?)
}

/// Whether a saga's step has a result with this outcome.
pub async fn step_recorded(conn: &impl ConnectionTrait, saga_id: &str, step: SagaStep, outcome: StepOutcome) -> Result<bool, StoreError> {
    Ok(saga_step_result::Entity::find()
        .filter(saga_step_result::Column::SagaId.eq(saga_id))
        .filter(saga_step_result::Column::Step.eq(step))
        .filter(saga_step_result::Column::Outcome.eq(outcome))
        .count(conn)
        .await?
        > 0)
}

/// Claims `event_seq` for `consumer` in the caller's transaction: false when the consumer already handled it
/// (its change and this row committed together), so the handler must not run again.
pub async fn claim_event(conn: &impl ConnectionTrait, consumer: &str, event_seq: i64, now: i64) -> Result<bool, StoreError> {
    let seen = inbox::Entity::find().filter(inbox::Column::Consumer.eq(consumer)).filter(inbox::Column::EventSeq.eq(event_seq)).count(conn).await?;
    if seen > 0 {
        return Ok(false);
    }
    let row = inbox::ActiveModel { consumer: Set(consumer.to_owned()), event_seq: Set(event_seq), handled_at: Set(now), ..Default::default() };
    inbox::Entity::insert(row).exec_without_returning(conn).await?;
    Ok(true)
}

/// Deletes `consumer`'s inbox rows of events below seq `below` (events the outbox no longer holds, so never read
/// again), a batch at a time.
pub async fn purge_inbox_below(conn: &impl ConnectionTrait, consumer: &str, below: i64, batch: u64) -> Result<u64, StoreError> {
    let q = inbox::Entity::find()
        .filter(inbox::Column::Consumer.eq(consumer))
        .filter(inbox::Column::EventSeq.lt(below))
        .order_by_asc(inbox::Column::EventSeq);
    crate::delete_batch(conn, q, inbox::Column::Id, batch).await
}

/// Deletes a batch of seed 002's records older than `before`: notifications, transaction logs, and the step results of
/// sagas that have ended (an open saga's results say what its compensation gives back, and are never deleted).
pub async fn purge_records_before(conn: &impl ConnectionTrait, before: i64, batch: u64) -> Result<u64, StoreError> {
    let q = notification::Entity::find().filter(notification::Column::CreatedAt.lt(before)).order_by_asc(notification::Column::CreatedAt);
    let mut n = crate::delete_batch(conn, q, notification::Column::Id, batch).await?;
    let q = transaction_log::Entity::find().filter(transaction_log::Column::CreatedAt.lt(before)).order_by_asc(transaction_log::Column::CreatedAt);
    n += crate::delete_batch(conn, q, transaction_log::Column::Id, batch).await?;
    // NOT EXISTS, by the saga's unique key (an anti-join; NOT IN over every open saga would not be one on PostgreSQL).
    let open = sea_orm::sea_query::Query::select()
        .expr(Expr::val(1))
        .from(saga_state::Entity)
        .and_where(Expr::col((saga_state::Entity, saga_state::Column::SagaId)).equals((saga_step_result::Entity, saga_step_result::Column::SagaId)))
        .and_where(saga_state::Column::Status.is_in([SagaStatus::Pending, SagaStatus::InProgress, SagaStatus::Compensating]))
        .to_owned();
    let q = saga_step_result::Entity::find()
        .filter(saga_step_result::Column::CreatedAt.lt(before))
        .filter(Expr::exists(open).not())
        .order_by_asc(saga_step_result::Column::CreatedAt);
    n += crate::delete_batch(conn, q, saga_step_result::Column::Id, batch).await?;
    Ok(n)
}

/// How many events `consumer` has handled (for tests and operators).
pub async fn handled_count(conn: &impl ConnectionTrait, consumer: &str) -> Result<u64, StoreError> {
    Ok(inbox::Entity::find().filter(inbox::Column::Consumer.eq(consumer)).count(conn).await?)
}

/// How far `consumer` has read the outbox (0 when never).
pub async fn offset(conn: &impl ConnectionTrait, consumer: &str) -> Result<i64, StoreError> {
    Ok(consumer_offset::Entity::find_by_id(consumer.to_owned()).one(conn).await?.map(|r| r.seq).unwrap_or(0))
}

/// Sets how far `consumer` has read the outbox.
pub async fn set_offset(conn: &impl ConnectionTrait, consumer: &str, seq: i64, now: i64) -> Result<(), StoreError> {
    let res = consumer_offset::Entity::update_many()
        .col_expr(consumer_offset::Column::Seq, Expr::value(seq))
        .col_expr(consumer_offset::Column::UpdatedAt, Expr::value(now))
        .filter(consumer_offset::Column::Consumer.eq(consumer))
        .exec(conn)
        .await?;
    if res.rows_affected == 0 {
        let row = consumer_offset::ActiveModel { consumer: Set(consumer.to_owned()), seq: Set(seq), updated_at: Set(now) };
        consumer_offset::Entity::insert(row).exec_without_returning(conn).await?;
    }
    Ok(())
}
