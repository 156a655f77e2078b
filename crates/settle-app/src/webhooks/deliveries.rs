//! Deliveries and their attempts as a merchant reads them, and a retry on demand.

use serde::Serialize;
use settle_store::{StoreError, audit, webhooks as store};

use super::{endpoints::check_endpoint_id, topics::delivery_event_id};
use crate::{AppError, Context, time::rfc3339};

/// One attempt at a delivery.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = WebhookAttempt)]
#[serde(rename_all = "camelCase")]
pub struct AttemptView {
    pub attempt: i32,
    pub started_at: String,
    /// The answer's status; absent when there was none (timeout, refused address, connection failure).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<i32>,
    pub latency_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The start of the answer's body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excerpt: Option<String>,
}

/// A delivery of one event to one endpoint.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = WebhookDelivery)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    #[schema(example = "wd_0192f3a4b5c67d8e9f0a1b2c3d4e5f60")]
    pub id: String,
    pub endpoint_id: String,
    /// Whether it is live (false: a test key's).
    pub livemode: bool,
    /// The `webhook-id` of every attempt: the event's id.
    #[schema(example = "evt_0193a1b2c3d47e5f8a9b0c1d2e3f4a5b")]
    pub event_id: String,
    pub event_type: String,
    /// PENDING, SUCCEEDED or FAILED.
    pub status: String,
    pub attempt_count: i32,
    /// PENDING: when it is (or was last) due.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_status_code: Option<i32>,
    pub attempts: Vec<AttemptView>,
    pub created_at: String,
    pub updated_at: String,
}

/// A page of deliveries, newest first.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = WebhookDeliveryList)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryList {
    pub data: Vec<DeliveryView>,
    pub has_more: bool,
}

pub(super) fn delivery_view(d: &store::DeliveryRow, attempts: &[store::AttemptRow]) -> DeliveryView {
    DeliveryView {
        id: d.delivery_id.clone(),
        endpoint_id: d.endpoint_id.clone(),
        livemode: settle_domain::mode::is_live(&d.merchant_id),
        event_id: delivery_event_id(d),
        event_type: d.event_type.clone(),
        status: d.status.clone(),
        attempt_count: d.attempts,
        next_attempt_at: (d.status == store::PENDING).then(|| rfc3339(d.next_attempt_at)),
        last_status_code: d.last_status_code,
        attempts: attempts
            .iter()
            .filter(|a| a.delivery_id == d.delivery_id)
            .map(|a| AttemptView {
                attempt: a.attempt,
                started_at: rfc3339(a.started_at),
                status_code: a.status_code,
                latency_ms: a.latency_ms,
                error: a.error.clone(),
                excerpt: a.excerpt.clone(),
            })
            .collect(),
        created_at: rfc3339(d.created_at),
        updated_at: rfc3339(d.updated_at),
    }
}

/// Query of an endpoint's deliveries.
#[derive(Clone, Debug, Default)]
pub struct DeliveryQuery {
    pub status: Option<String>,
    pub limit: u64,
    pub starting_after: Option<String>,
    pub ending_before: Option<String>,
}

pub async fn list_deliveries(ctx: &Context, merchant_id: &str, endpoint_id: &str, q: DeliveryQuery) -> Result<DeliveryList, AppError> {
    check_endpoint_id(endpoint_id)?;
    if let Some(s) = &q.status
        && ![store::PENDING, store::SUCCEEDED, store::FAILED].contains(&s.as_str())
    {
        return Err(AppError::invalid("status", "status must be PENDING, SUCCEEDED or FAILED"));
    }
    store::endpoint(&ctx.db, merchant_id, endpoint_id).await?.ok_or(AppError::NotFound("webhook endpoint"))?;
    let cursor = settle_store::Cursor::named(q.starting_after.as_deref(), q.ending_before.as_deref(), |param, id| async move {
        let d = store::delivery(&ctx.db, merchant_id, id).await?.filter(|d| d.endpoint_id == endpoint_id);
        d.map(|d| d.id).ok_or_else(|| AppError::invalid(param, format!("{param} names no delivery of this endpoint")))
    })
    .await?;
    let (rows, has_more) = store::deliveries(&ctx.db, endpoint_id, q.status.as_deref(), cursor, q.limit).await?;
    let ids: Vec<String> = rows.iter().map(|d| d.delivery_id.clone()).collect();
    let attempts = store::attempts_of(&ctx.db, &ids).await?;
    Ok(DeliveryList { data: rows.iter().map(|d| delivery_view(d, &attempts)).collect(), has_more })
}

/// Sends a delivery again now (also one that succeeded or failed for good); refused while it is being sent.
pub async fn retry_delivery(ctx: &Context, merchant_id: &str, delivery_id: &str) -> Result<DeliveryView, AppError> {
    if delivery_id.len() > 40 || !delivery_id.starts_with("wd_") {
        return Err(AppError::NotFound("webhook delivery"));
    }
    let now = settle_store::now_ms();
    let txn = settle_store::begin(&ctx.db).await?;
    if !store::retry_now(&txn, merchant_id, delivery_id, now).await? {
        drop(txn);
        return match store::delivery(&ctx.db, merchant_id, delivery_id).await? {
            None => Err(AppError::NotFound("webhook delivery")),
            Some(_) => Err(AppError::InvalidState("this delivery is being sent right now; retry once it has an answer".into())),
        };
    }
    audit::record(&txn, Some(merchant_id), "webhook_delivery.retried", delivery_id, &serde_json::json!({"nextAttemptAt": now})).await?;
    txn.commit().await.map_err(StoreError::from)?;
    ctx.webhook_wake.notify_one();
    let d = store::delivery(&ctx.db, merchant_id, delivery_id).await?.ok_or(AppError::NotFound("webhook delivery"))?;
    let attempts = store::attempts_of(&ctx.db, std::slice::from_ref(&d.delivery_id)).await?;
    Ok(delivery_view(&d, &attempts))
}
