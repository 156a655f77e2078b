//! The `saga_step_results` table's row (a SeaORM entity).

use sea_orm::entity::prelude::*;
use settle_domain::{SagaStep, StepOutcome};

/// What one step of a saga did (DONE or COMPENSATED), recorded before the next starts.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "saga_step_results")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub saga_id: String,
    pub step: SagaStep,
    pub outcome: StepOutcome,
    pub data: Option<String>,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
