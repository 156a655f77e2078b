//! The `inbox` table's row (a SeaORM entity).

use sea_orm::entity::prelude::*;

/// An outbox event a consumer has handled: the unique (consumer, event_seq) makes a handler run at most once
/// per event, also when the outbox is read again after a crash.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "inbox")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub consumer: String,
    pub event_seq: i64,
    pub handled_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
