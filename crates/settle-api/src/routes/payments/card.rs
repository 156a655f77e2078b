//! `POST /v1/payments/{paymentId}/card`: a CARD payment charged through the gateway.

use axum::{
    extract::{Path, State},
    response::Response,
};
use serde::Deserialize;
use settle_app::card::{self, CardInput};
use settle_domain::{CardNumber, CardType};
use utoipa::ToSchema;

use crate::{
    ApiError, AppState,
    error::{DeclineBody, Declined, ErrorBody},
    extract::{Checkout, for_payer, reply_v1},
    schemas,
};

/// `POST /v1/payments/{paymentId}/card`. The card number is checked here and sent only to the gateway: Settle
/// keeps the card type and the last four digits.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CardRequest {
    /// SAMSUNG, KB or HYUNDAI.
    #[schema(example = "SAMSUNG")]
    pub card_type: String,
    /// xxxx-xxxx-xxxx-xxxx, Luhn-valid.
    #[schema(example = "4111-1111-1111-1111")]
    pub card_no: String,
}

/// Pay a CARD payment with a card through the gateway: with the merchant's key, or on the payer's side with one of the
/// payment's checkout session ids (the hosted page: the merchant's server never sees the card number).
#[utoipa::path(
    post, path = "/v1/payments/{paymentId}/card", tag = "payments",
    request_body = CardRequest,
    params(
        ("paymentId" = String, Path, description = "0x + 64 hex"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for the same key and body"),
    ),
    responses(
        (status = 202, description = "PROCESSING: the gateway accepted the charge (externalPaymentKey), or its outcome is being resolved", body = schemas::PaymentView),
        (status = 402, description = "card_declined: the gateway declined the card or the amount; the payment (FAILED) is in error.payment", body = DeclineBody),
        (status = 400, description = "Invalid card input, or feature_not_enabled (no card gateway configured); nothing was sent", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "invalid_state: not a PENDING CARD payment", body = ErrorBody),
        (status = 503, description = "circuit_open, gateway_busy, gateway_unavailable or gateway_misconfigured: nothing was charged, the payment is PENDING", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn pay_with_card(State(st): State<AppState>, Path(id): Path<String>, m: Checkout<CardRequest>) -> Result<Response, ApiError> {
    let input = CardInput {
        card_type: CardType::parse("cardType", &m.body.card_type).map_err(ApiError::from_domain)?,
        card_no: CardNumber::parse("cardNo", &m.body.card_no).map_err(ApiError::from_domain)?,
    };
    let r = card::charge(&st.ctx, &m.merchant, &id, input, m.idem).await?;
    Ok(reply_v1(if m.payer { for_payer(r) } else { r }, Declined::Payment))
}
