//! The `webhook_attempts` table's row (a SeaORM entity).

use sea_orm::entity::prelude::*;

/// One attempt at a webhook delivery: the answer's status (None: no answer), how long it took, and a short
/// excerpt of the answer or the reason there was none.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_attempts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub delivery_id: String,
    pub attempt: i32,
    pub started_at: i64,
    pub status_code: Option<i32>,
    pub latency_ms: i64,
    pub error: Option<String>,
    pub excerpt: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
