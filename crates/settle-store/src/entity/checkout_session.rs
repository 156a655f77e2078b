//! The `checkout_sessions` table's row (a SeaORM entity).

use sea_orm::entity::prelude::*;

/// A payer's way into one payment on Settle's hosted checkout page; `merchant_id` is the tenant.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "checkout_sessions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `cs_` and 32 hex digits: public, and the payer's key to the session's payment.
    #[sea_orm(unique)]
    pub session_id: String,
    pub merchant_id: String,
    pub payment_id: String,
    #[sea_orm(column_type = "Text")]
    pub success_url: String,
    #[sea_orm(column_type = "Text")]
    pub cancel_url: String,
    /// `en` or `ko`; None: the payer's browser decides.
    pub locale: Option<String>,
    /// Epoch ms.
    pub expires_at: i64,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
