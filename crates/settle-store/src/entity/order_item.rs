//! The `order_items` table's row (a SeaORM entity).

use sea_orm::entity::prelude::*;

/// One line of an order, at the price it was placed at.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_items")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub order_id: String,
    pub item_id: String,
    pub quantity: i64,
    pub unit_price: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
