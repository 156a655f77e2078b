//! Webhook endpoints, deliveries and their attempts.
//!
//! Invariants: one delivery per (endpoint, event seq) (a unique index: the relay creating it twice aborts
//! nothing, the second insert is skipped); a delivery is sent by one worker at a time: a worker claims it by
//! moving its `next_attempt_at` past the send's longest time and counting the attempt, with a compare-and-set on
//! the attempt count, so two workers that read it as due cannot both claim it, and a worker that dies mid-send
//! leaves it due again once the claim runs out (resent with the same event id: at least once).

use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, Query},
};

use crate::{
    StoreError,
    entity::{webhook_attempt, webhook_delivery, webhook_endpoint},
};

pub use webhook_attempt::Model as AttemptRow;
pub use webhook_delivery::Model as DeliveryRow;
pub use webhook_endpoint::Model as EndpointRow;

pub const PENDING: &str = "PENDING";
pub const SUCCEEDED: &str = "SUCCEEDED";
pub const FAILED: &str = "FAILED";

/// An endpoint to create.
pub struct NewEndpoint<'a> {
    pub endpoint_id: &'a str,
    pub merchant_id: &'a str,
    pub url: &'a str,
    pub events: &'a str,
    pub description: Option<&'a str>,
    pub secret: &'a str,
}

pub async fn create_endpoint(conn: &impl ConnectionTrait, e: NewEndpoint<'_>, now: i64) -> Result<EndpointRow, StoreError> {
    let row = webhook_endpoint::ActiveModel {
        endpoint_id: Set(e.endpoint_id.to_owned()),
        merchant_id: Set(e.merchant_id.to_owned()),
        url: Set(e.url.to_owned()),
        events: Set(e.events.to_owned()),
        description: Set(e.description.map(str::to_owned)),
        enabled: Set(true),
        secret: Set(e.secret.to_owned()),
        previous_secret: Set(None),
        previous_secret_until: Set(None),
        failing_since: Set(None),
        disabled_reason: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    webhook_endpoint::Entity::insert(row).exec_without_returning(conn).await?;
    endpoint(conn, e.merchant_id, e.endpoint_id).await?.ok_or(StoreError::NotFound)
}

/// A merchant's endpoint.
pub async fn endpoint(conn: &impl ConnectionTrait, merchant_id: &str, endpoint_id: &str) -> Result<Option<EndpointRow>, StoreError> {
    Ok(webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::MerchantId.eq(merchant_id))
        .filter(webhook_endpoint::Column::EndpointId.eq(endpoint_id))
        .one(conn)
        .await?)
}

/// Endpoints by id, whatever their merchant (the sender's view).
pub async fn endpoints_by_id(conn: &impl ConnectionTrait, ids: &[String]) -> Result<Vec<EndpointRow>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(webhook_endpoint::Entity::find().filter(webhook_endpoint::Column::EndpointId.is_in(ids.iter().cloned())).all(conn).await?)
}

/// A merchant's endpoints, oldest first.
pub async fn endpoints(conn: &impl ConnectionTrait, merchant_id: &str) -> Result<Vec<EndpointRow>, StoreError> {
    Ok(webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::MerchantId.eq(merchant_id))
        .order_by_asc(webhook_endpoint::Column::Id)
        .all(conn)
        .await?)
}

/// The enabled endpoints of these merchants (the relay's read as it publishes their events).
pub async fn enabled_endpoints_of(conn: &impl ConnectionTrait, merchant_ids: &[&str]) -> Result<Vec<EndpointRow>, StoreError> {
    if merchant_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::MerchantId.is_in(merchant_ids.iter().copied()))
        .filter(webhook_endpoint::Column::Enabled.eq(true))
        .all(conn)
        .await?)
}

/// What a merchant may change of an endpoint (None: unchanged).
#[derive(Default)]
pub struct EndpointChange {
    pub url: Option<String>,
    pub events: Option<String>,
    pub description: Option<Option<String>>,
    pub enabled: Option<bool>,
}

/// Applies `change`; false when there is no such endpoint. Enabling clears Settle's reason for disabling it and
/// its failure streak.
pub async fn update_endpoint(
    conn: &impl ConnectionTrait,
    merchant_id: &str,
    endpoint_id: &str,
    change: EndpointChange,
    now: i64,
) -> Result<bool, StoreError> {
    let mut q = webhook_endpoint::Entity::update_many().col_expr(webhook_endpoint::Column::UpdatedAt, Expr::value(now));
    if let Some(u) = change.url {
        q = q.col_expr(webhook_endpoint::Column::Url, Expr::value(u));
    }
    if let Some(e) = change.events {
        q = q.col_expr(webhook_endpoint::Column::Events, Expr::value(e));
    }
    if let Some(d) = change.description {
        q = q.col_expr(webhook_endpoint::Column::Description, Expr::value(d));
    }
    if let Some(en) = change.enabled {
        q = q.col_expr(webhook_endpoint::Column::Enabled, Expr::value(en));
        if en {
            q = q
                .col_expr(webhook_endpoint::Column::DisabledReason, Expr::value(Option::<String>::None))
                .col_expr(webhook_endpoint::Column::FailingSince, Expr::value(Option::<i64>::None));
        }
    }
    let res = q
        .filter(webhook_endpoint::Column::MerchantId.eq(merchant_id))
        .filter(webhook_endpoint::Column::EndpointId.eq(endpoint_id))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Replaces the secret; the old one keeps signing until `previous_until`. False when there is no such endpoint.
pub async fn rotate_secret(
    conn: &impl ConnectionTrait,
    merchant_id: &str,
    endpoint_id: &str,
    secret: &str,
    previous_until: i64,
    now: i64,
) -> Result<bool, StoreError> {
    // The old secret is copied before the new one is set: MySQL applies SET assignments left to right.
    let res = webhook_endpoint::Entity::update_many()
        .col_expr(webhook_endpoint::Column::PreviousSecret, Expr::col(webhook_endpoint::Column::Secret))
        .col_expr(webhook_endpoint::Column::PreviousSecretUntil, Expr::value(previous_until))
        .col_expr(webhook_endpoint::Column::Secret, Expr::value(secret))
        .col_expr(webhook_endpoint::Column::UpdatedAt, Expr::value(now))
        .filter(webhook_endpoint::Column::MerchantId.eq(merchant_id))
        .filter(webhook_endpoint::Column::EndpointId.eq(endpoint_id))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Deletes an endpoint with its deliveries and their attempts (call it in a transaction); false when there is
/// no such endpoint.
pub async fn delete_endpoint(conn: &impl ConnectionTrait, merchant_id: &str, endpoint_id: &str) -> Result<bool, StoreError> {
    if endpoint(conn, merchant_id, endpoint_id).await?.is_none() {
        return Ok(false);
    }
    let deliveries = Query::select()
        .column(webhook_delivery::Column::DeliveryId)
        .from(webhook_delivery::Entity)
        .and_where(webhook_delivery::Column::EndpointId.eq(endpoint_id))
        .to_owned();
    webhook_attempt::Entity::delete_many().filter(webhook_attempt::Column::DeliveryId.in_subquery(deliveries)).exec(conn).await?;
    webhook_delivery::Entity::delete_many().filter(webhook_delivery::Column::EndpointId.eq(endpoint_id)).exec(conn).await?;
    let res = webhook_endpoint::Entity::delete_many()
        .filter(webhook_endpoint::Column::MerchantId.eq(merchant_id))
        .filter(webhook_endpoint::Column::EndpointId.eq(endpoint_id))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// How many endpoints a merchant has.
pub async fn count_endpoints(conn: &impl ConnectionTrait, merchant_id: &str) -> Result<u64, StoreError> {
    Ok(webhook_endpoint::Entity::find().filter(webhook_endpoint::Column::MerchantId.eq(merchant_id)).count(conn).await?)
}

/// A delivery to create.
pub struct NewDelivery {
    pub delivery_id: String,
    pub endpoint_id: String,
    pub merchant_id: String,
    pub seq: i64,
    pub event_id: String,
    pub event_type: String,
    pub body: String,
}

/// Creates deliveries, due now (call it in the relay's transaction that published their events).
pub async fn insert_deliveries(conn: &impl ConnectionTrait, rows: Vec<NewDelivery>, now: i64) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let models = rows.into_iter().map(|d| webhook_delivery::ActiveModel {
        delivery_id: Set(d.delivery_id),
        endpoint_id: Set(d.endpoint_id),
        merchant_id: Set(d.merchant_id),
        seq: Set(d.seq),
        event_id: Set(Some(d.event_id)),
        event_type: Set(d.event_type),
        body: Set(d.body),
        status: Set(PENDING.to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        claimed_until: Set(None),
        last_status_code: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    });
    webhook_delivery::Entity::insert_many(models).exec_without_returning(conn).await?;
    Ok(())
}

/// PENDING deliveries of enabled endpoints that are due, oldest due first, leaving out the endpoints in
/// `busy` and the merchants in `busy_merchants` (those already sending their most at once on this instance).
pub async fn due(
    conn: &impl ConnectionTrait,
    now: i64,
    busy: &[String],
    busy_merchants: &[String],
    limit: u64,
) -> Result<Vec<DeliveryRow>, StoreError> {
    let enabled = Query::select()
        .column(webhook_endpoint::Column::EndpointId)
        .from(webhook_endpoint::Entity)
        .and_where(webhook_endpoint::Column::Enabled.eq(true))
        .to_owned();
    let mut q = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::Status.eq(PENDING))
        .filter(webhook_delivery::Column::NextAttemptAt.lte(now))
        .filter(webhook_delivery::Column::EndpointId.in_subquery(enabled));
    if !busy.is_empty() {
        q = q.filter(webhook_delivery::Column::EndpointId.is_not_in(busy.iter().cloned()));
    }
    if !busy_merchants.is_empty() {
        q = q.filter(webhook_delivery::Column::MerchantId.is_not_in(busy_merchants.iter().cloned()));
    }
    Ok(q.order_by_asc(webhook_delivery::Column::NextAttemptAt).limit(limit).all(conn).await?)
}

/// Claims a due delivery for one attempt: counts the attempt and moves `next_attempt_at` to `claim_until`
/// (when another worker may try it, should this one never report). False when another worker claimed it first.
pub async fn claim(conn: &impl ConnectionTrait, id: i64, attempts: i32, now: i64, claim_until: i64) -> Result<bool, StoreError> {
    let res = webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::Attempts, Expr::value(attempts + 1))
        .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(claim_until))
        .col_expr(webhook_delivery::Column::ClaimedUntil, Expr::value(claim_until))
        .col_expr(webhook_delivery::Column::UpdatedAt, Expr::value(now))
        .filter(webhook_delivery::Column::Id.eq(id))
        .filter(webhook_delivery::Column::Status.eq(PENDING))
        .filter(webhook_delivery::Column::Attempts.eq(attempts))
        .filter(webhook_delivery::Column::NextAttemptAt.lte(now))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// An attempt's result.
pub struct AttemptResult<'a> {
    pub delivery_id: &'a str,
    pub attempt: i32,
    pub started_at: i64,
    pub status_code: Option<i32>,
    pub latency_ms: i64,
    pub error: Option<&'a str>,
    pub excerpt: Option<&'a str>,
}

fn cut(s: Option<&str>, n: usize) -> Option<String> {
    s.map(|s| s.chars().take(n).collect())
}

/// Records an attempt and what follows it: `status` SUCCEEDED, FAILED or PENDING again at `next_at`. Only the
/// worker that claimed this attempt changes the delivery (false: its claim had run out and another took it).
pub async fn record_attempt(
    conn: &impl ConnectionTrait,
    id: i64,
    a: &AttemptResult<'_>,
    status: &str,
    next_at: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let row = webhook_attempt::ActiveModel {
        delivery_id: Set(a.delivery_id.to_owned()),
        attempt: Set(a.attempt),
        started_at: Set(a.started_at),
        status_code: Set(a.status_code),
        latency_ms: Set(a.latency_ms),
        error: Set(cut(a.error, 250)),
        excerpt: Set(cut(a.excerpt, 250)),
        ..Default::default()
    };
    webhook_attempt::Entity::insert(row).exec_without_returning(conn).await?;
    let res = webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::Status, Expr::value(status))
        .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(next_at))
        .col_expr(webhook_delivery::Column::ClaimedUntil, Expr::value(Option::<i64>::None))
        .col_expr(webhook_delivery::Column::LastStatusCode, Expr::value(a.status_code))
        .col_expr(webhook_delivery::Column::LastError, Expr::value(cut(a.error, 250)))
        .col_expr(webhook_delivery::Column::UpdatedAt, Expr::value(now))
        .filter(webhook_delivery::Column::Id.eq(id))
        .filter(webhook_delivery::Column::Status.eq(PENDING))
        .filter(webhook_delivery::Column::Attempts.eq(a.attempt))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Clears an endpoint's failure streak (a delivery succeeded).
pub async fn endpoint_succeeded(conn: &impl ConnectionTrait, endpoint_id: &str) -> Result<(), StoreError> {
    webhook_endpoint::Entity::update_many()
        .col_expr(webhook_endpoint::Column::FailingSince, Expr::value(Option::<i64>::None))
        .filter(webhook_endpoint::Column::EndpointId.eq(endpoint_id))
        .filter(webhook_endpoint::Column::FailingSince.is_not_null())
        .exec(conn)
        .await?;
    Ok(())
}

/// Starts an endpoint's failure streak at `now` unless one runs; returns when it started.
pub async fn endpoint_failed(conn: &impl ConnectionTrait, endpoint_id: &str, now: i64) -> Result<Option<i64>, StoreError> {
    webhook_endpoint::Entity::update_many()
        .col_expr(webhook_endpoint::Column::FailingSince, Expr::value(now))
        .filter(webhook_endpoint::Column::EndpointId.eq(endpoint_id))
        .filter(webhook_endpoint::Column::FailingSince.is_null())
        .exec(conn)
        .await?;
    Ok(webhook_endpoint::Entity::find().filter(webhook_endpoint::Column::EndpointId.eq(endpoint_id)).one(conn).await?.and_then(|e| e.failing_since))
}

/// Disables an enabled endpoint for `reason`; false when it was not enabled.
pub async fn disable_endpoint(conn: &impl ConnectionTrait, endpoint_id: &str, reason: &str, now: i64) -> Result<bool, StoreError> {
    let res = webhook_endpoint::Entity::update_many()
        .col_expr(webhook_endpoint::Column::Enabled, Expr::value(false))
        .col_expr(webhook_endpoint::Column::DisabledReason, Expr::value(reason))
        .col_expr(webhook_endpoint::Column::UpdatedAt, Expr::value(now))
        .filter(webhook_endpoint::Column::EndpointId.eq(endpoint_id))
        .filter(webhook_endpoint::Column::Enabled.eq(true))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// A merchant's delivery.
pub async fn delivery(conn: &impl ConnectionTrait, merchant_id: &str, delivery_id: &str) -> Result<Option<DeliveryRow>, StoreError> {
    Ok(webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::MerchantId.eq(merchant_id))
        .filter(webhook_delivery::Column::DeliveryId.eq(delivery_id))
        .one(conn)
        .await?)
}

/// Every delivery of an event, whatever its endpoint (tests and operators).
pub async fn deliveries_of_event(conn: &impl ConnectionTrait, seq: i64) -> Result<Vec<DeliveryRow>, StoreError> {
    Ok(webhook_delivery::Entity::find().filter(webhook_delivery::Column::Seq.eq(seq)).order_by_asc(webhook_delivery::Column::Id).all(conn).await?)
}

/// A page of an endpoint's deliveries, newest first, with `status` when given, and whether more follow.
pub async fn deliveries(
    conn: &impl ConnectionTrait,
    endpoint_id: &str,
    status: Option<&str>,
    cursor: crate::Cursor,
    limit: u64,
) -> Result<(Vec<DeliveryRow>, bool), StoreError> {
    let mut cond = Condition::all().add(webhook_delivery::Column::EndpointId.eq(endpoint_id));
    if let Some(s) = status {
        cond = cond.add(webhook_delivery::Column::Status.eq(s));
    }
    crate::page(conn, webhook_delivery::Entity::find().filter(cond), webhook_delivery::Column::Id, cursor, limit).await
}

/// The attempts of these deliveries, in order.
pub async fn attempts_of(conn: &impl ConnectionTrait, delivery_ids: &[String]) -> Result<Vec<AttemptRow>, StoreError> {
    if delivery_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(webhook_attempt::Entity::find()
        .filter(webhook_attempt::Column::DeliveryId.is_in(delivery_ids.iter().cloned()))
        .order_by_asc(webhook_attempt::Column::Id)
        .all(conn)
        .await?)
}

/// Makes a delivery due again now (a merchant's retry, also of one that succeeded or failed for good); false
/// when there is no such delivery or a worker is sending it right now.
pub async fn retry_now(conn: &impl ConnectionTrait, merchant_id: &str, delivery_id: &str, now: i64) -> Result<bool, StoreError> {
    let res = webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::Status, Expr::value(PENDING))
        .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(now))
        .col_expr(webhook_delivery::Column::UpdatedAt, Expr::value(now))
        .filter(webhook_delivery::Column::MerchantId.eq(merchant_id))
        .filter(webhook_delivery::Column::DeliveryId.eq(delivery_id))
        .filter(Condition::any().add(webhook_delivery::Column::ClaimedUntil.is_null()).add(webhook_delivery::Column::ClaimedUntil.lt(now)))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Deliveries waiting to be sent (for /metrics).
pub async fn count_pending(conn: &impl ConnectionTrait) -> Result<u64, StoreError> {
    Ok(webhook_delivery::Entity::find().filter(webhook_delivery::Column::Status.eq(PENDING)).count(conn).await?)
}

/// An endpoint's stored secrets.
#[derive(Debug, sea_orm::FromQueryResult)]
pub struct StoredSecrets {
    pub id: i64,
    pub endpoint_id: String,
    pub merchant_id: String,
    pub secret: String,
    pub previous_secret: Option<String>,
}

/// Every endpoint's stored secrets (key rotation, the start-up check).
pub async fn all_secrets(conn: &impl ConnectionTrait) -> Result<Vec<StoredSecrets>, StoreError> {
    Ok(secrets_query().order_by_asc(webhook_endpoint::Column::Id).into_model::<StoredSecrets>().all(conn).await?)
}

/// One endpoint's stored secrets, read again.
pub async fn secrets_of(conn: &impl ConnectionTrait, id: i64) -> Result<Option<StoredSecrets>, StoreError> {
    Ok(secrets_query().filter(webhook_endpoint::Column::Id.eq(id)).into_model::<StoredSecrets>().one(conn).await?)
}

fn secrets_query() -> sea_orm::Select<webhook_endpoint::Entity> {
    webhook_endpoint::Entity::find()
        .select_only()
        .column(webhook_endpoint::Column::Id)
        .column(webhook_endpoint::Column::EndpointId)
        .column(webhook_endpoint::Column::MerchantId)
        .column(webhook_endpoint::Column::Secret)
        .column(webhook_endpoint::Column::PreviousSecret)
}

/// Replaces an endpoint's stored secrets `(secret, previous)` with `to`, as a key rotation seals them again, only
/// while they are still `from` (a compare-and-set: a secret rotated since it was read is never overwritten). False
/// when they changed.
pub async fn reseal_secrets(conn: &impl ConnectionTrait, id: i64, from: (&str, Option<&str>), to: (&str, Option<&str>)) -> Result<bool, StoreError> {
    let mut q = webhook_endpoint::Entity::update_many()
        .col_expr(webhook_endpoint::Column::Secret, Expr::value(to.0))
        .col_expr(webhook_endpoint::Column::PreviousSecret, Expr::value(to.1))
        .filter(webhook_endpoint::Column::Id.eq(id))
        .filter(webhook_endpoint::Column::Secret.eq(from.0));
    q = match from.1 {
        Some(p) => q.filter(webhook_endpoint::Column::PreviousSecret.eq(p)),
        None => q.filter(webhook_endpoint::Column::PreviousSecret.is_null()),
    };
    Ok(q.exec(conn).await?.rows_affected == 1)
}

/// Deletes finished deliveries (SUCCEEDED or FAILED) last changed before `before`, with their attempts, at most
/// `batch`; returns how many deliveries.
pub async fn purge_finished_before(conn: &impl ConnectionTrait, before: i64, batch: u64) -> Result<u64, StoreError> {
    let rows: Vec<(i64, String)> = webhook_delivery::Entity::find()
        .select_only()
        .column(webhook_delivery::Column::Id)
        .column(webhook_delivery::Column::DeliveryId)
        .filter(webhook_delivery::Column::Status.ne(PENDING))
        .filter(webhook_delivery::Column::UpdatedAt.lt(before))
        .limit(batch)
        .into_tuple()
        .all(conn)
        .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let (ids, public): (Vec<i64>, Vec<String>) = rows.into_iter().unzip();
    webhook_attempt::Entity::delete_many().filter(webhook_attempt::Column::DeliveryId.is_in(public)).exec(conn).await?;
    Ok(webhook_delivery::Entity::delete_many().filter(webhook_delivery::Column::Id.is_in(ids)).exec(conn).await?.rows_affected)
}
