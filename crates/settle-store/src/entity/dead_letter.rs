//! The `dead_letters` table's row (a SeaORM entity).

use sea_orm::entity::prelude::*;

/// An outbox event one choreography consumer failed to handle, again and again, for a reason of its own (not the
/// database being unavailable): parked here with its error, so the dispatcher moves on to every other event. It
/// keeps its own copy of the event (the outbox may be purged before an operator retries it). Unique per
/// (consumer, event_seq).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "dead_letters")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub consumer: String,
    pub event_seq: i64,
    pub event_id: Option<String>,
    pub merchant_id: String,
    pub topic: String,
    pub aggregate_id: String,
    pub payload: String,
    /// The last error (at most 1000 characters).
    pub error: String,
    /// Attempts so far, the operator's retries included.
    pub attempts: i64,
    /// When it is tried again automatically (None: it waits for an operator).
    pub next_attempt_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
