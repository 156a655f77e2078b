//! The `refunds` table's row (a SeaORM entity).

use sea_orm::entity::prelude::*;
use settle_domain::{Rail, RefundStatus};

/// A refund of a payment, whole or partial. `amount` holds canonical decimal digits; `merchant_id` is the tenant.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refunds")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub refund_id: String,
    pub merchant_id: String,
    pub payment_id: String,
    pub rail: Rail,
    pub amount: String,
    /// Chain rail: the part of `amount` the treasury pays back (the payment's fee, in proportion), signed into the
    /// refund's terms; the recipient pays the rest. None: the recipient pays it all.
    pub fee_returned: Option<String>,
    pub currency: String,
    pub status: RefundStatus,
    /// duplicate, fraudulent or requested_by_customer.
    pub reason: Option<String>,
    /// The merchant's metadata: a JSON object of strings (NULL when empty).
    #[sea_orm(column_type = "Text", nullable)]
    pub metadata: Option<String>,
    /// Why a refund FAILED: a stable code, and the gateway's words when it refused.
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    /// Card rail: the gateway's key of the refund, once known.
    pub gateway_refund_key: Option<String>,
    /// Why an operator must look at this refund (the gateway recorded it twice, or disagrees on its amount).
    pub flag_reason: Option<String>,
    /// Card rail: times the gateway was asked about it, and when it is asked next.
    pub check_attempts: i32,
    pub next_check_at: Option<i64>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
