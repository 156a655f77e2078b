//! The `payments` table's row (a SeaORM entity).

use sea_orm::entity::prelude::*;
use settle_domain::{PaymentStatus, Rail};

/// A payment. `amount` holds the canonical decimal digits of an exact integer in minor units.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payments")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub payment_id: String,
    pub merchant_id: String,
    pub order_id: String,
    pub rail: Rail,
    pub amount: String,
    pub currency: String,
    pub chain_id: Option<i64>,
    pub token_address: Option<String>,
    pub recipient_address: Option<String>,
    pub card_type: Option<String>,
    pub card_last4: Option<String>,
    pub external_payment_key: Option<String>,
    pub failure_message: Option<String>,
    pub status: PaymentStatus,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// Card rail: times the reconciler asked the gateway about this payment.
    pub recon_attempts: i32,
    /// Card rail: when the reconciler asks next.
    pub next_check_at: Option<i64>,
    /// Why an operator must look at this payment (the gateway reported another amount or order).
    pub flag_reason: Option<String>,
    /// Card rail: when a finished payment is checked once more at the gateway for transactions to void.
    pub final_check_at: Option<i64>,
    /// Chain rail: the signed terms' deadline (epoch seconds).
    pub deadline: Option<i64>,
    /// Chain rail: the fee in the signed terms.
    pub fee_bps: Option<i32>,
    /// Chain rail: Settle's EIP-712 signature over the terms (0x + 130 hex).
    pub server_signature: Option<String>,
    /// Chain rail: SHA-256 of the checkout's client secret.
    pub client_secret_hash: Option<String>,
    /// Chain rail: who paid, the transaction and its block (from the confirmed log).
    pub payer: Option<String>,
    pub tx_hash: Option<String>,
    pub block_number: Option<i64>,
    /// The merchant's description of the payment.
    #[sea_orm(column_type = "Text", nullable)]
    pub description: Option<String>,
    pub customer_email: Option<String>,
    /// The merchant's metadata: a JSON object of strings, keys sorted (NULL when empty). Searched through
    /// `payment_metadata`, written with it.
    #[sea_orm(column_type = "Text", nullable)]
    pub metadata: Option<String>,
    /// The sum of the payment's SUCCEEDED refunds (canonical digits).
    pub amount_refunded: String,
    /// Chain rail: the gateway its terms were signed for (checksummed); None for one made before it was stored (the
    /// chain's current gateway).
    pub gateway_address: Option<String>,
    // `open_order_id` (m0019) is the database's to compute and is never read or written here: `order_id` while the
    // payment may still be paid, NULL once FAILED, EXPIRED or CANCELLED; unique per merchant.
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
