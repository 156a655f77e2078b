//! The `items` table's row (a SeaORM entity).

use sea_orm::entity::prelude::*;

/// An item for sale: price (minor units) and stock.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "items")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: String,
    pub item_id: String,
    pub name: String,
    pub price: i64,
    pub stock: i64,
    pub available: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
