//! The `chain_logs` table's row (a SeaORM entity).

use sea_orm::entity::prelude::*;

/// A `PaymentCompleted` log the watcher saw; `applied` once its payment was completed from it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "chain_logs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub chain_id: i64,
    pub payment_id: String,
    pub tx_hash: String,
    pub log_index: i64,
    pub block_number: i64,
    pub block_hash: String,
    pub payer: String,
    pub token: String,
    pub amount: String,
    pub fee: String,
    pub recipient: String,
    pub applied: bool,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
