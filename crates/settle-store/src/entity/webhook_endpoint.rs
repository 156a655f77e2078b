//! The `webhook_endpoints` table's row (a SeaORM entity).

use sea_orm::entity::prelude::*;

/// A merchant's webhook endpoint: where its events are sent, which ones, and the secret(s) that sign them.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoints")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub endpoint_id: String,
    pub merchant_id: String,
    pub url: String,
    /// The event types it receives, as a JSON array of patterns (`payment.*`, `order.paid`, `*`).
    pub events: String,
    pub description: Option<String>,
    pub enabled: bool,
    /// `whsec_` + base64 of the key.
    pub secret: String,
    /// The secret before the last rotation, which keeps signing alongside the new one until `previous_secret_until`.
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<i64>,
    /// When its deliveries started failing without a success since (None: the last one succeeded).
    pub failing_since: Option<i64>,
    /// Why Settle disabled it (None: enabled, or disabled by the merchant).
    pub disabled_reason: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
