//! The `merchants` table's row (a SeaORM entity).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "merchants")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub merchant_id: String,
    pub name: String,
    pub created_at: i64,
    /// Fee on chain payments, in basis points (to the gateway's treasury).
    pub fee_bps: i32,
    /// Hex key of this merchant's Idempotency-Key fingerprints (server-side; never shown).
    pub idem_secret: Option<String>,
    /// When the merchant was deleted (its keys stop authenticating); None while it is active.
    pub deleted_at: Option<i64>,
    /// Whether a CHAIN payment paid after it ended CANCELLED or EXPIRED is refunded automatically (default true).
    pub refund_late_payments: bool,
    /// Whether a CHAIN refund gives back its share of the fee the payment paid (the treasury pays it).
    pub return_fee_on_refund: bool,
    /// The hosts a merchant's checkout sessions may send payers back to: a JSON array of host names (None: none).
    #[sea_orm(column_type = "Text", nullable)]
    pub redirect_hosts: Option<String>,
    /// The key of the signature on a checkout session's success redirect, sealed under the master key.
    #[sea_orm(column_type = "Text", nullable)]
    pub checkout_secret: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
