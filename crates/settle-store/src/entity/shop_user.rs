//! The `shop_users` table's row (a SeaORM entity).

use sea_orm::entity::prelude::*;
use settle_domain::UserStatus;

/// A shop user: points balance (minor units), ACTIVE or SUSPENDED, and the most one order may total.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "shop_users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: String,
    pub user_id: String,
    pub name: String,
    pub points: i64,
    pub status: UserStatus,
    pub purchase_limit: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
