//! The `gateway_voids` table's row (a SeaORM entity).

use sea_orm::entity::prelude::*;

/// A gateway transaction Settle must void (money taken that it may not keep), retried until done.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "gateway_voids")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub payment_id: String,
    pub merchant_id: String,
    #[sea_orm(unique)]
    pub transaction_key: String,
    /// DUPLICATE or LATE_SUCCESS.
    pub reason: String,
    /// PENDING, VOIDED or NOT_VOIDABLE.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
