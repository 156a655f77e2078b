//! The `webhook_deliveries` table's row (a SeaORM entity).

use sea_orm::entity::prelude::*;

/// One event to one endpoint: created by the relay as it publishes the event, sent until a 2xx or the end of
/// the retry schedule. A sending worker claims it (see `webhooks::claim`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub delivery_id: String,
    pub endpoint_id: String,
    pub merchant_id: String,
    /// The event's outbox seq.
    pub seq: i64,
    pub event_type: String,
    /// The JSON body sent, the same on every attempt.
    pub body: String,
    /// PENDING, SUCCEEDED or FAILED.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: i64,
    /// While a worker sends it: until when its claim holds (None: not being sent).
    pub claimed_until: Option<i64>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// The event's id, the `webhook-id` of every attempt (None: a delivery made before ids were, `evt_<seq>`).
    pub event_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
