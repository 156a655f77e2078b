//! The `idempotency_keys` table's row (a SeaORM entity).

use sea_orm::entity::prelude::*;

/// An Idempotency-Key record: claimed while the request is in flight, then the stored response.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_keys")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: String,
    pub idem_key: String,
    pub request_hash: String,
    /// `IN_FLIGHT` or `DONE`.
    pub state: String,
    pub response_status: Option<i32>,
    pub response_body: Option<String>,
    pub locked_at: i64,
    pub created_at: i64,
    pub expires_at: i64,
    /// The claim's owner token: only it completes or releases an IN_FLIGHT record.
    pub owner: Option<String>,
    /// What the request created or changed (`order:ord_…`), bound in the transaction that did it: a retry after
    /// a failure that followed that commit answers from it and never runs the request again.
    pub resource: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
