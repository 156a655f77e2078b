//! The `orders` table's row (a SeaORM entity).

use sea_orm::entity::prelude::*;
use settle_domain::OrderStatus;

/// An order: PLACED, then PAID or CANCELLED; used_points + coupon_discount + paid_amount == total_amount.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "orders")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: String,
    pub order_id: String,
    pub user_id: String,
    pub status: OrderStatus,
    pub total_amount: i64,
    pub used_points: i64,
    pub coupon_discount: i64,
    pub paid_amount: i64,
    pub issued_coupon_id: Option<String>,
    pub payment_id: Option<String>,
    pub card_given: bool,
    pub saga_id: String,
    pub created_at: i64,
    pub updated_at: i64,
    #[sea_orm(column_type = "Text", nullable)]
    pub description: Option<String>,
    pub customer_email: Option<String>,
    /// The merchant's metadata: a JSON object of strings, keys sorted (NULL when empty).
    #[sea_orm(column_type = "Text", nullable)]
    pub metadata: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
