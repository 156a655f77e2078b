//! The `issued_coupons` table's row (a SeaORM entity).

use sea_orm::entity::prelude::*;
use settle_domain::CouponStatus;

/// A coupon issued to one user: AVAILABLE until an order uses it (version compare-and-set).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "issued_coupons")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: String,
    pub issued_coupon_id: String,
    pub coupon_id: String,
    pub user_id: String,
    pub status: CouponStatus,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
