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

/// Whether `key` can be a gateway transaction key: 1 to 128 ASCII letters, digits, `-` and `_` (what Settle
/// stores and looks up; anything else is an answer Settle cannot use, whoever sends it).
pub fn valid_transaction_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= 128 && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn transaction_key<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let key = String::deserialize(d)?;
    if valid_transaction_key(&key) { Ok(key) } else { Err(serde::de::Error::custom("not a usable transaction key")) }
}

/// The answer to an accepted charge.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargeAccepted {
    #[serde(deserialize_with = "transaction_key")]
    pub transaction_key: String,
    pub status: String,
}

/// A transaction's status as the gateway reports it. Anything other than the known names is kept as
/// [`GatewayStatus::Unknown`], so every caller has to decide what to do with it (Settle never guesses).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum GatewayStatus {
    Pending,
    Success,
    Failed,
    /// Charged, then refunded in full: the money went back to the card.
    Refunded,
    /// CANCELLED (a void), or a status this version of Settle does not know.
    Unknown(String),
}

impl GatewayStatus {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Pending => "PENDING",
            Self::Success => "SUCCESS",
            Self::Failed => "FAILED",
            Self::Refunded => "REFUNDED",
            Self::Unknown(s) => s,
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "PENDING" => Self::Pending,
            "SUCCESS" => Self::Success,
            "FAILED" => Self::Failed,
            "REFUNDED" => Self::Refunded,
            other => Self::Unknown(other.to_owned()),
        }
    }

    /// Whether money is (or may still be) taken: a transaction in this state must be voided when Settle may
    /// not keep it.
    pub fn holds_money(&self) -> bool {
        matches!(self, Self::Pending | Self::Success)
    }
}

impl std::fmt::Display for GatewayStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for GatewayStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for GatewayStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::parse(&String::deserialize(d)?))
    }
}

/// A transaction as the gateway reports it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Transaction {
    #[serde(deserialize_with = "transaction_key")]
    pub transaction_key: String,
    pub order_id: String,
    pub card_type: String,
    /// Last four digits only.
    pub card_last4: String,
    pub amount: u64,
    pub status: GatewayStatus,
    pub reason: Option<String>,
}

/// `GET /api/v1/payments?orderId=`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderTransactions {
    pub order_id: String,
    pub transactions: Vec<Transaction>,
}

/// What the gateway POSTs to the callback URL (not trusted by Settle: it asks the gateway again). A refund's
/// callback names the refund too.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Callback {
    pub transaction_key: String,
    pub order_id: String,
    pub status: String,
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_key: Option<String>,
}

/// `POST /api/v1/payments/{transactionKey}/refunds`: part or all of a SUCCESS transaction given back.
/// `refundRequestId` is Settle's refund id: a lookup finds the refund by it when the answer was lost.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundRequest {
    pub amount: u64,
    pub refund_request_id: String,
    pub callback_url: String,
}

/// A refund as the gateway reports it: PENDING, then SUCCEEDED or FAILED (anything else is kept as it is said).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct GatewayRefund {
    #[serde(deserialize_with = "transaction_key")]
    pub refund_key: String,
    pub refund_request_id: String,
    pub transaction_key: String,
    pub amount: u64,
    pub status: String,
    pub reason: Option<String>,
}

/// The answer to an accepted refund.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundAccepted {
    #[serde(deserialize_with = "transaction_key")]
    pub refund_key: String,
    pub status: String,
}

/// `GET /api/v1/payments/{transactionKey}/refunds`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionRefunds {
    pub transaction_key: String,
    pub refunds: Vec<GatewayRefund>,
}

/// The gateway's error body.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_with_an_unusable_transaction_key_does_not_parse() {
        let ok = serde_json::from_str::<ChargeAccepted>(r#"{"transactionKey":"tx_1-A","status":"PENDING"}"#);
        assert_eq!(ok.unwrap().transaction_key, "tx_1-A");
        for bad in ["", &"k".repeat(129), "tx 1", r"tx\u00001"] {
            let body = format!(r#"{{"transactionKey":"{bad}","status":"PENDING"}}"#);
            assert!(serde_json::from_str::<ChargeAccepted>(&body).is_err(), "{bad:?} would not fit or be looked up");
            let tx = format!(
                r#"{{"transactionKey":"{bad}","orderId":"o","cardType":"SAMSUNG","cardLast4":"1234","amount":1,"status":"SUCCESS","reason":null}}"#
            );
            assert!(serde_json::from_str::<Transaction>(&tx).is_err());
        }
    }
}
