//! The `order_cancellations` table's row (a SeaORM entity).

use sea_orm::entity::prelude::*;
use settle_domain::CancellationStatus;

/// A cancellation of a paid order, whole or some of its lines; `merchant_id` is the tenant.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_cancellations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub cancellation_id: String,
    pub merchant_id: String,
    pub order_id: String,
    /// JSON `[{"itemId": .., "quantity": ..}]`: the lines it cancels.
    #[sea_orm(column_type = "Text")]
    pub lines: String,
    /// Refunded to the card (by the refund `refund_id`), in minor units.
    pub card_amount: i64,
    /// Given back as points.
    pub points: i64,
    /// The order's coupon became usable again with it (set when it closed the order).
    pub releases_coupon: bool,
    /// The order became CANCELLED with it (every line cancelled by cancellations that SUCCEEDED).
    pub closes_order: bool,
    pub refund_id: Option<String>,
    pub status: CancellationStatus,
    pub reason: Option<String>,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    /// Set when the gateway did something Settle could not apply as it is: an operator must look.
    pub flag_reason: Option<String>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
