//! The `transaction_logs` table's row (a SeaORM entity).

use sea_orm::entity::prelude::*;

/// A completed purchase, as the shop's ledger records it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "transaction_logs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: String,
    pub saga_id: String,
    pub order_id: String,
    pub user_id: String,
    pub kind: String,
    pub amount: i64,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
