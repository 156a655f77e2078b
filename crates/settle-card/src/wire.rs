//! The gateway's wire format (camelCase JSON).

use serde::{Deserialize, Serialize};

/// `POST /api/v1/payments`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargeRequest {
    pub order_id: String,
    pub card_type: String,
    pub card_no: String,
    pub amount: u64,
    pub callback_url: String,
}

impl std::fmt::Debug for ChargeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChargeRequest")
            .field("order_id", &self.order_id)
            .field("card_type", &self.card_type)
            .field("card_no", &"****")
            .field("amount", &self.amount)
            .finish()
    }
}

/// The answer to an accepted charge.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargeAccepted {
    pub transaction_key: String,
    pub status: String,
}

/// A transaction as the gateway reports it. `status` is PENDING, SUCCESS or FAILED.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Transaction {
    pub transaction_key: String,
    pub order_id: String,
    pub card_type: String,
    /// Last four digits only.
    pub card_last4: String,
    pub amount: u64,
    pub status: String,
    pub reason: Option<String>,
}

/// `GET /api/v1/payments?orderId=`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderTransactions {
    pub order_id: String,
    pub transactions: Vec<Transaction>,
}

/// What the gateway POSTs to the callback URL (not trusted by Settle: it asks the gateway again).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Callback {
    pub transaction_key: String,
    pub order_id: String,
    pub status: String,
    pub reason: Option<String>,
}

/// The gateway's error body.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GatewayError {
    pub error: String,
    pub message: String,
}
