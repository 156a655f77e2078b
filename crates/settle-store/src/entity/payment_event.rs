//! The `payment_events` table's row (a SeaORM entity).

use sea_orm::entity::prelude::*;
use settle_domain::PaymentStatus;

/// One entry of a payment's append-only history.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payment_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub payment_id: String,
    pub event_type: String,
    pub from_status: Option<PaymentStatus>,
    pub to_status: PaymentStatus,
    pub version: i64,
    pub event_data: Option<String>,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
