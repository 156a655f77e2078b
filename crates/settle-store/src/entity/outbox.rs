//! The `outbox` table's row (a SeaORM entity).

use sea_orm::entity::prelude::*;

/// A transactional outbox row. `seq` is null until the relay publishes it, then gap-free and increasing.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub seq: Option<i64>,
    pub merchant_id: String,
    pub topic: String,
    pub aggregate_id: String,
    pub payload: String,
    pub created_at: i64,
    pub published_at: Option<i64>,
    /// `evt_` and a UUIDv7, made with the row: never issued twice (None: a row written before ids were, `evt_<seq>`).
    #[sea_orm(unique)]
    pub event_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
