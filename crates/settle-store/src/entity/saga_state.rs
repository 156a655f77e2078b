//! The `saga_states` table's row (a SeaORM entity).

use sea_orm::entity::prelude::*;
use settle_domain::{SagaStatus, SagaStep};

/// A purchase saga: its pattern, status and the step it is at.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "saga_states")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: String,
    pub saga_id: String,
    pub order_id: String,
    pub user_id: String,
    pub pattern: String,
    pub status: SagaStatus,
    pub current_step: SagaStep,
    pub error: Option<String>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
