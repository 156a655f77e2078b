//! The `relayer_nonces` table's row (a SeaORM entity).

use sea_orm::entity::prelude::*;

/// The next nonce a relayer key uses on a chain, allocated in the database.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "relayer_nonces")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub chain_id: i64,
    pub relayer: String,
    pub next_nonce: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
