//! The `payment_metadata` table's row (a SeaORM entity): one metadata key of a payment, for searches.

use sea_orm::entity::prelude::*;

/// One key of a payment's metadata (the payment's `metadata` column holds the whole object; this row lets
/// `metadata[key]=value` find it through an index). Written and rewritten with the payment's row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payment_metadata")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: String,
    pub payment_id: String,
    pub meta_key: String,
    pub meta_value: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
