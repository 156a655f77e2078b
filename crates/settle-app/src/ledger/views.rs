//! The JSON views of payments (a payment, its status, its events, a page of them), the outbox payload of a payment
//! event and what the cache keeps of a payment.

use serde::Serialize;
use settle_domain::{PaymentStatus, Rail};
use settle_store::payments::{EventRow, PaymentRow};

use crate::{AppError, cache::CachedStatus, time::rfc3339};

/// A payment as the API shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentView {
    /// 0x + 64 hex; usable as the on-chain bytes32.
    #[schema(example = "0x5f1d4c0d8f3b2a7e9c6b1d0e2f4a6b8c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a")]
    pub payment_id: String,
    /// The merchant (the same id in both modes).
    pub merchant_id: String,
    /// Whether the payment is live (false: made with a test key, on a test network or the card simulator).
    pub livemode: bool,
    pub order_id: String,
    /// `CHAIN` or `CARD`.
    #[schema(value_type = String)]
    pub rail: Rail,
    /// Exact integer amount in minor units, as a decimal string.
    #[schema(example = "1500")]
    pub amount: String,
    pub currency: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_last4: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_payment_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_message: Option<String>,
    /// Set when the gateway reported something Settle would not apply (another amount or order): an operator
    /// must look at this payment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flag_reason: Option<String>,
    /// CHAIN: when the signed terms expire (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// CHAIN: the terms Settle signed, as the gateway contract's `pay` takes them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terms: Option<settle_chain::terms::TermsView>,
    /// CHAIN: Settle's EIP-712 signature over the terms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_signature: Option<String>,
    /// CHAIN: who paid, the transaction and its block (once seen on chain).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tx_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_number: Option<i64>,
    /// PENDING, PROCESSING, COMPLETED, FAILED, CANCELLED or EXPIRED.
    #[schema(value_type = String)]
    pub status: PaymentStatus,
    /// The merchant's description of the payment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The customer's email address, as the merchant gave it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_email: Option<String>,
    /// The merchant's key-value pairs (`{}` when none).
    #[schema(value_type = std::collections::BTreeMap<String, String>)]
    pub metadata: settle_domain::Metadata,
    /// The sum of the payment's SUCCEEDED refunds, in minor units.
    #[schema(example = "0")]
    pub amount_refunded: String,
    /// `none`, `partial` or `full`: how much of the payment its SUCCEEDED refunds gave back.
    pub refund_status: String,
    /// Row version; increases with every entry of the payment's history (not with an update of what the merchant
    /// attached).
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl PaymentView {
    /// The payment as its payer sees it (by its client secret or checkout session): without what is the merchant's
    /// alone, its metadata, the customer's email and an operator's flag.
    pub fn for_payer(mut self) -> Self {
        self.metadata = Default::default();
        self.customer_email = None;
        self.flag_reason = None;
        self
    }
}

impl From<&PaymentRow> for PaymentView {
    fn from(r: &PaymentRow) -> Self {
        Self {
            payment_id: r.payment_id.clone(),
            merchant_id: settle_domain::mode::merchant_of(&r.merchant_id).to_owned(),
            livemode: settle_domain::mode::is_live(&r.merchant_id),
            order_id: r.order_id.clone(),
            rail: r.rail,
            amount: r.amount.clone(),
            currency: r.currency.clone(),
            chain_id: r.chain_id,
            token_address: r.token_address.clone(),
            recipient_address: r.recipient_address.clone(),
            card_type: r.card_type.clone(),
            card_last4: r.card_last4.clone(),
            external_payment_key: r.external_payment_key.clone(),
            failure_message: r.failure_message.clone(),
            flag_reason: r.flag_reason.clone(),
            expires_at: r.deadline.map(|d| rfc3339(d * 1000)),
            terms: match (&r.token_address, &r.recipient_address, r.fee_bps, r.deadline) {
                (Some(t), Some(rc), Some(f), Some(d)) => {
                    settle_chain::terms::of_stored(&r.payment_id, t, &r.amount, rc, f, d).ok().map(|t| settle_chain::terms::view(&t))
                }
                _ => None,
            },
            server_signature: r.server_signature.clone(),
            payer: r.payer.clone(),
            tx_hash: r.tx_hash.clone(),
            block_number: r.block_number,
            status: r.status,
            description: r.description.clone(),
            customer_email: r.customer_email.clone(),
            metadata: settle_store::payments::metadata_of(r.metadata.as_deref()),
            amount_refunded: r.amount_refunded.clone(),
            refund_status: settle_domain::refund::payment_refund_status(&r.amount, &r.amount_refunded).to_owned(),
            version: r.version,
            created_at: rfc3339(r.created_at),
            updated_at: rfc3339(r.updated_at),
        }
    }
}

/// `GET /payments/{id}/status`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusView {
    pub payment_id: String,
    pub status: String,
    pub chain_id: Option<i64>,
    pub updated_at: String,
}

/// One entry of a payment's history.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    /// CREATED, SUBMITTED, CONFIRMED, FAILED or CANCELLED.
    pub event_type: String,
    #[schema(value_type = Option<String>)]
    pub from_status: Option<PaymentStatus>,
    #[schema(value_type = String)]
    pub to_status: PaymentStatus,
    pub version: i64,
    #[schema(value_type = Option<Object>)]
    pub data: Option<serde_json::Value>,
    pub created_at: String,
}

impl From<&EventRow> for EventView {
    fn from(e: &EventRow) -> Self {
        Self {
            event_type: e.event_type.clone(),
            from_status: e.from_status,
            to_status: e.to_status,
            version: e.version,
            data: e.event_data.as_deref().and_then(|d| serde_json::from_str(d).ok()),
            created_at: rfc3339(e.created_at),
        }
    }
}

/// A page of payments.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentList {
    pub data: Vec<PaymentView>,
    pub has_more: bool,
}

/// A payment's history, oldest first.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventList {
    pub data: Vec<EventView>,
}

impl From<CachedStatus> for StatusView {
    fn from(c: CachedStatus) -> Self {
        Self { payment_id: c.payment_id, status: c.status, chain_id: c.chain_id, updated_at: rfc3339(c.updated_at) }
    }
}

/// The answer to `GET /payments/{id}/status` for a cached status: a [`StatusView`]'s JSON.
pub(crate) fn status_body(c: &CachedStatus) -> bytes::Bytes {
    serde_json::to_vec(&StatusView::from(c.clone())).map(bytes::Bytes::from).unwrap_or_default()
}

/// What the cache keeps of a payment row.
pub(crate) fn cached(r: &PaymentRow) -> CachedStatus {
    CachedStatus {
        payment_id: r.payment_id.clone(),
        merchant_id: r.merchant_id.clone(),
        status: r.status.as_str().to_owned(),
        chain_id: r.chain_id,
        version: r.version,
        updated_at: r.updated_at,
    }
}

pub(crate) fn body_of<T: Serialize>(v: &T) -> Result<String, AppError> {
    serde_json::to_string(v).map_err(AppError::internal)
}

/// The outbox payload of a payment event.
pub(crate) fn event_payload(topic: &str, view: &PaymentView) -> serde_json::Value {
    serde_json::json!({ "type": topic, "data": view })
}
