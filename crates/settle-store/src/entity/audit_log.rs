//! The `audit_log` table's row (a SeaORM entity).

use sea_orm::entity::prelude::*;

/// One audited change: who made it (a merchant's key, the admin, the CLI, the gateway), what and to what, from
/// where, and a digest of what changed (never a secret or card data).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: Option<String>,
    pub actor_type: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub target_id: String,
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
    /// SHA-256 (hex) of `changes`.
    pub digest: String,
    /// What changed, as JSON: the new values of the fields the change set.
    #[sea_orm(column_type = "Text")]
    pub changes: String,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
