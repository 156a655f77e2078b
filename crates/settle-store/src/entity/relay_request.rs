//! The `relay_requests` table's row (a SeaORM entity).

use sea_orm::entity::prelude::*;

/// One relay attempt of a chain payment.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "relay_requests")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub relay_request_id: String,
    pub payment_id: String,
    pub forwarder_address: String,
    pub tx_hash: Option<String>,
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub chain_id: i64,
    pub relayer: String,
    /// The verified forward request and its signature (JSON), as the relayer will send it.
    pub request: Option<String>,
    /// The relayer nonce its transaction uses, once allocated.
    pub nonce: Option<i64>,
    pub attempts: i32,
    pub last_error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
