//! `POST /v1/payments`: a merchant creates a CARD or CHAIN payment.

use axum::{extract::State, response::Response};
use serde::Deserialize;
use settle_app::payments::{self, CreatePayment, Details};
use settle_domain::{Address, Amount, Currency, OrderId, Rail};
use utoipa::ToSchema;

use crate::{
    ApiError, AppState,
    error::ErrorBody,
    extract::{Mutation, reply},
    schemas,
};

/// Largest chain id accepted (fits a JavaScript number and every backend's BIGINT).
const MAX_CHAIN_ID: i64 = (1 << 53) - 1;

/// `POST /v1/payments`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreatePaymentRequest {
    /// The merchant's order reference: one payment that may still be paid per order (after one FAILED, EXPIRED
    /// or was CANCELLED, a new payment for the same order may be created).
    #[schema(example = "order-1001")]
    pub order_id: String,
    /// Exact integer amount in minor units (token base units on chain), as a decimal string.
    #[schema(example = "1500")]
    pub amount: String,
    #[schema(example = "USDC")]
    pub currency: String,
    /// `CHAIN` (default) or `CARD`.
    #[schema(example = "CHAIN")]
    pub rail: Option<String>,
    /// EVM chain id (chain rail).
    #[schema(example = 31337)]
    pub chain_id: Option<i64>,
    /// ERC-20 token contract (chain rail).
    #[schema(example = "0x5FbDB2315678afecb367f032d93F642f64180aa3")]
    pub token_address: Option<String>,
    /// Who receives the payment (chain rail).
    #[schema(example = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8")]
    pub recipient_address: Option<String>,
    /// Seconds until the signed terms expire (chain rail; default 1800, 60 to 604800).
    #[schema(example = 1800)]
    pub expires_in_secs: Option<u64>,
    /// What the payment is for (up to 1000 characters).
    #[schema(example = "2 coffees")]
    pub description: Option<String>,
    /// The customer's email address.
    #[schema(example = "payer@example.com")]
    pub customer_email: Option<String>,
    /// Up to 50 keys (up to 40 characters each) with string values (up to 500 characters each), returned on the
    /// payment and its events, searchable with `GET /v1/payments?metadata[key]=value`.
    #[schema(value_type = Option<std::collections::BTreeMap<String, String>>)]
    pub metadata: Option<std::collections::BTreeMap<String, serde_json::Value>>,
}

impl CreatePaymentRequest {
    pub(crate) fn parse(mut self) -> Result<(CreatePayment, Details), ApiError> {
        let details = crate::details::create(self.description.take(), self.customer_email.take(), self.metadata.take())?;
        Ok((self.parse_payment()?, details))
    }

    fn parse_payment(self) -> Result<CreatePayment, ApiError> {
        let order_id = OrderId::parse("orderId", &self.order_id).map_err(ApiError::from_domain)?;
        let amount = Amount::parse("amount", &self.amount).map_err(ApiError::from_domain)?;
        if amount.is_zero() {
            return Err(ApiError::invalid("amount", "amount must be greater than zero"));
        }
        let currency = Currency::parse("currency", &self.currency).map_err(ApiError::from_domain)?;
        let rail = match self.rail.as_deref() {
            None => Rail::Chain,
            Some(r) => r.parse().map_err(|_| ApiError::invalid("rail", "rail must be CHAIN or CARD"))?,
        };
        match rail {
            Rail::Chain => {
                let chain_id = self.chain_id.ok_or_else(|| ApiError::missing("chainId"))?;
                if !(1..=MAX_CHAIN_ID).contains(&chain_id) {
                    return Err(ApiError::invalid("chainId", "chainId must be a positive integer below 2^53"));
                }
                let token = self.token_address.ok_or_else(|| ApiError::missing("tokenAddress"))?;
                let recipient = self.recipient_address.ok_or_else(|| ApiError::missing("recipientAddress"))?;
                Ok(CreatePayment::Chain {
                    order_id,
                    amount,
                    currency,
                    chain_id,
                    token_address: Address::parse("tokenAddress", &token).map_err(ApiError::from_domain)?,
                    recipient_address: Address::parse("recipientAddress", &recipient).map_err(ApiError::from_domain)?,
                    expires_in_secs: self.expires_in_secs,
                })
            }
            Rail::Card => {
                for (present, name) in [
                    (self.chain_id.is_some(), "chainId"),
                    (self.token_address.is_some(), "tokenAddress"),
                    (self.recipient_address.is_some(), "recipientAddress"),
                    (self.expires_in_secs.is_some(), "expiresInSecs"),
                ] {
                    if present {
                        return Err(ApiError::invalid(name, format!("{name} is not used by CARD payments")));
                    }
                }
                if amount.to_u64().is_none() {
                    return Err(ApiError::invalid("amount", "a CARD amount must fit in 64 bits"));
                }
                Ok(CreatePayment::Card { order_id, amount, currency })
            }
        }
    }
}

/// Create a payment. It starts PENDING.
#[utoipa::path(
    post, path = "/v1/payments", tag = "payments",
    request_body = CreatePaymentRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for the same key and body for 24 h")),
    responses(
        (status = 201, description = "Created", body = schemas::CreatedPayment),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 401, description = "No or bad API key", body = ErrorBody),
        (status = 409, description = "duplicate_order (another payment for this orderId may still be paid), or the same Idempotency-Key still in flight", body = ErrorBody),
        (status = 422, description = "Idempotency-Key reused with another body", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_payment(State(st): State<AppState>, m: Mutation<CreatePaymentRequest>) -> Result<Response, ApiError> {
    let (input, details) = m.body.parse()?;
    Ok(reply(payments::create(&st.ctx, &m.merchant, input, details, m.idem).await?))
}
