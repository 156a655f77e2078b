//! What an order and its saga look like to a merchant: the order, its payment and saga as of one moment, a saga
//! (read through the cache once it ended), and the sagas' list and counts.

use serde::{Deserialize, Serialize};
use settle_domain::{OrderStatus, SagaStep, StepOutcome};
use settle_store::{
    StoreError,
    orders::{self as store, OrderRow, SagaRow},
    payments::{self as payments_store},
};

use super::SagaStatus;
use crate::{AppError, Context, ledger::views::PaymentView, time::rfc3339};

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderLineView {
    pub item_id: String,
    pub quantity: i64,
    pub unit_price: i64,
}

/// An order. Amounts are integer minor units: `usedPoints + couponDiscount + paidAmount == totalAmount`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderView {
    pub order_id: String,
    /// Whether the order is live (false: placed with a test key).
    pub livemode: bool,
    pub user_id: String,
    /// PLACED, PAID or CANCELLED.
    #[schema(value_type = String)]
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_email: Option<String>,
    /// The merchant's key-value pairs (`{}` when none).
    #[serde(default)]
    #[schema(value_type = std::collections::BTreeMap<String, String>)]
    pub metadata: settle_domain::Metadata,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepView {
    #[schema(value_type = String)]
    pub step: SagaStep,
    /// DONE or COMPENSATED.
    #[schema(value_type = String)]
    pub outcome: StepOutcome,
    pub at: String,
}

/// A purchase saga (`transactionId`), its status and the results of its steps.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SagaView {
    pub transaction_id: String,
    /// Whether the saga is live (false: a test-mode order's).
    #[serde(default = "live")]
    pub livemode: bool,
    pub order_id: String,
    pub user_id: String,
    pub pattern: String,
    /// PENDING, IN_PROGRESS, COMPLETED, FAILED, COMPENSATING or COMPENSATED.
    #[schema(value_type = String)]
    pub status: SagaStatus,
    #[schema(value_type = String)]
    pub current_step: SagaStep,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub version: i64,
    pub steps: Vec<StepView>,
    pub created_at: String,
    pub updated_at: String,
}

/// The answer of `POST /v1/orders`: the order, its payment (when a remainder is paid by card) and the saga.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlacedOrder {
    pub order: OrderView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentView>,
    pub saga: SagaView,
    /// The order's cancellations, oldest first (`POST /v1/orders/{orderId}/cancel`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cancellations: Vec<super::CancellationView>,
}

async fn order_view(conn: &impl settle_store::ConnectionTrait, o: &OrderRow) -> Result<OrderView, AppError> {
    let items = store::order_items(conn, &o.order_id).await?;
    Ok(OrderView {
        order_id: o.order_id.clone(),
        livemode: settle_domain::mode::is_live(&o.merchant_id),
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
        description: o.description.clone(),
        customer_email: o.customer_email.clone(),
        metadata: settle_store::payments::metadata_of(o.metadata.as_deref()),
        created_at: rfc3339(o.created_at),
        updated_at: rfc3339(o.updated_at),
    })
}

async fn saga_view(conn: &impl settle_store::ConnectionTrait, s: &SagaRow) -> Result<SagaView, AppError> {
    let steps = store::steps(conn, &s.saga_id).await?;
    Ok(saga_view_of(s, steps))
}

/// The views of a page of sagas, their steps read in one query (not one per saga).
async fn saga_views(conn: &impl settle_store::ConnectionTrait, rows: &[SagaRow]) -> Result<Vec<SagaView>, AppError> {
    let ids: Vec<&str> = rows.iter().map(|r| r.saga_id.as_str()).collect();
    let mut steps: std::collections::HashMap<String, Vec<store::StepRow>> = std::collections::HashMap::new();
    for step in store::steps_of(conn, &ids).await? {
        steps.entry(step.saga_id.clone()).or_default().push(step);
    }
    Ok(rows.iter().map(|r| saga_view_of(r, steps.remove(&r.saga_id).unwrap_or_default())).collect())
}

fn saga_view_of(s: &SagaRow, steps: Vec<store::StepRow>) -> SagaView {
    SagaView {
        transaction_id: s.saga_id.clone(),
        livemode: settle_domain::mode::is_live(&s.merchant_id),
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
    }
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
    let cancellations = super::cancellation::of_order(&txn, &o.order_id).await?;
    let placed = PlacedOrder { order: order_view(&txn, &o).await?, payment, saga: saga_view(&txn, &s).await?, cancellations };
    txn.commit().await.map_err(StoreError::from)?;
    Ok(placed)
}

/// The cache key of a tenant's saga. The tenant's length leads it: a tenant holds `:` (`mch_x:test`), so without it
/// the live tenant asking for saga `test:S` would build the test tenant's key for saga `S`.
fn cache_key(merchant_id: &str, saga_id: &str) -> String {
    format!("saga:{}:{merchant_id}:{saga_id}", merchant_id.len())
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

/// `GET /sagas`: a page of the merchant's sagas, newest first (seed 002's shape).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
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
    let data = saga_views(&ctx.db, &rows).await?;
    Ok(SagaPage { data, total, page: q.page, limit: q.limit, total_pages: total.div_ceil(q.limit) })
}

/// The lines of sagas' orders, by order id, in one read (seed 002's SagaState names its item, quantity and price).
pub async fn saga_lines(ctx: &Context, sagas: &[SagaView]) -> Result<std::collections::HashMap<String, Vec<OrderLineView>>, AppError> {
    let ids: Vec<&str> = sagas.iter().map(|s| s.order_id.as_str()).collect();
    let mut lines: std::collections::HashMap<String, Vec<OrderLineView>> = std::collections::HashMap::new();
    for i in store::order_items_of(&ctx.db, &ids).await? {
        lines.entry(i.order_id).or_default().push(OrderLineView { item_id: i.item_id, quantity: i.quantity, unit_price: i.unit_price });
    }
    Ok(lines)
}

/// `GET /v1/sagas`: a page of the merchant's sagas, newest first.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SagaList {
    pub data: Vec<SagaView>,
    /// More sagas follow in the direction read (older after `startingAfter`, newer before `endingBefore`).
    pub has_more: bool,
}

/// Filters and cursor of `GET /v1/sagas`, parsed.
#[derive(Debug, Default)]
pub struct SagaListQuery {
    pub filter: store::SagaFilter,
    pub limit: u64,
    pub starting_after: Option<String>,
    pub ending_before: Option<String>,
}

pub async fn saga_list(ctx: &Context, merchant_id: &str, q: SagaListQuery) -> Result<SagaList, AppError> {
    let cursor = if q.starting_after.is_some() { "startingAfter" } else { "endingBefore" };
    let (rows, has_more) = store::saga_page(&ctx.db, merchant_id, &q.filter, q.starting_after.as_deref(), q.ending_before.as_deref(), q.limit)
        .await
        .map_err(|e| match e {
            settle_store::StoreError::NotFound => AppError::invalid(cursor, format!("{cursor} names no saga of yours")),
            other => other.into(),
        })?;
    let data = saga_views(&ctx.db, &rows).await?;
    Ok(SagaList { data, has_more })
}

/// `GET /sagas/stats`: how many sagas there are, in all and per status (every status listed, zeros included).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
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

/// What a saga view recorded before modes existed was: live.
fn live() -> bool {
    true
}

/// An event parked in the dead letters: the consumer that kept failing on it, the event, its last error.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetterView {
    pub id: i64,
    /// The choreography consumer: users, stock, coupons, points, payments or orders.
    pub consumer: String,
    pub event_seq: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    pub merchant_id: String,
    pub topic: String,
    /// The saga (or, for a payment's event, the payment) the event is about.
    pub aggregate_id: String,
    pub error: String,
    pub attempts: i64,
    /// When Settle tries it again by itself; absent: it waits for an operator's retry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// A page of dead letters, oldest first (retry them in this order: a saga's events keep their order).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetterPage {
    pub data: Vec<DeadLetterView>,
    pub has_more: bool,
}

/// The dead letters after the one with id `after` (0: from the oldest), at most `limit`.
pub async fn dead_letters(ctx: &Context, after: i64, limit: u64) -> Result<DeadLetterPage, AppError> {
    let mut rows = settle_store::dead_letters::list(&ctx.db, after, limit + 1).await?;
    let has_more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let data = rows
        .into_iter()
        .map(|d| DeadLetterView {
            id: d.id,
            consumer: d.consumer,
            event_seq: d.event_seq,
            event_id: d.event_id,
            merchant_id: d.merchant_id,
            topic: d.topic,
            aggregate_id: d.aggregate_id,
            error: d.error,
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at.map(rfc3339),
            created_at: rfc3339(d.created_at),
            updated_at: rfc3339(d.updated_at),
        })
        .collect();
    Ok(DeadLetterPage { data, has_more })
}
