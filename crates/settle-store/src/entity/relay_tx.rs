//! The `relay_txs` table's row (a SeaORM entity).

use sea_orm::entity::prelude::*;

/// One signed transaction of a relayer (a replacement at the same nonce is another row).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "relay_txs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub chain_id: i64,
    pub relayer: String,
    pub nonce: i64,
    pub relay_request_id: Option<String>,
    #[sea_orm(unique)]
    pub tx_hash: String,
    pub raw_tx: String,
    pub max_fee: String,
    pub max_priority_fee: String,
    /// SENT, MINED, REPLACED, DISPLACED.
    pub status: String,
    pub sent_block: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
