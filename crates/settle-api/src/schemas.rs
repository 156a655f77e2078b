//! The OpenAPI description of the JSON Settle answers with.
//!
//! settle-app serializes each of these representations itself, because one representation goes to several
//! places from inside the business transaction: a payment's JSON is the HTTP answer, the stored reply an
//! Idempotency-Key replays, the outbox event that SSE streams and the follower applies, and the cached status.
//! One serialization, in one place, cannot drift between those channels. What HTTP adds — the schema, its
//! descriptions and examples, and the constraints `openapi.rs` completes it with — is declared here, in the
//! crate that owns the document, and settle-app does not depend on the OpenAPI library at all.
//!
//! The types below are that declaration: apart from the gasless request, which the API parses, they are never
//! built. The integration test `api_schemas` holds them
//! to what the app sends (every property an answer carries is documented, every required one is present, on
//! every route), and the schema fuzzer checks every answer it provokes against them.
#![allow(dead_code)]

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use settle_app::chain::checkout;
use utoipa::ToSchema;

/// A payment as the API shows it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentView {
    /// 0x + 64 hex; usable as the on-chain bytes32.
    #[schema(example = "0x5f1d4c0d8f3b2a7e9c6b1d0e2f4a6b8c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a")]
    payment_id: String,
    merchant_id: String,
    order_id: String,
    /// `CHAIN` or `CARD`.
    rail: String,
    /// Exact integer amount in minor units, as a decimal string.
    #[schema(example = "1500")]
    amount: String,
    currency: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    chain_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recipient_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    card_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    card_last4: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_payment_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_message: Option<String>,
    /// Set when the gateway reported something Settle would not apply (another amount or order): an operator
    /// must look at this payment.
    #[serde(skip_serializing_if = "Option::is_none")]
    flag_reason: Option<String>,
    /// CHAIN: when the signed terms expire (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
    /// CHAIN: the terms Settle signed, as the gateway contract's `pay` takes them.
    #[serde(skip_serializing_if = "Option::is_none")]
    terms: Option<TermsView>,
    /// CHAIN: Settle's EIP-712 signature over the terms.
    #[serde(skip_serializing_if = "Option::is_none")]
    server_signature: Option<String>,
    /// CHAIN: who paid, the transaction and its block (once seen on chain).
    #[serde(skip_serializing_if = "Option::is_none")]
    payer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tx_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    block_number: Option<i64>,
    /// PENDING, PROCESSING, COMPLETED, FAILED, CANCELLED or EXPIRED.
    status: String,
    /// Row version; increases with every status change.
    version: i64,
    created_at: String,
    updated_at: String,
}

/// A payment as its creation answers it. A CHAIN payment also carries what its checkout needs: the gateway and
/// forwarder contracts, and the client secret (`pcs_...`) that opens this one payment's checkout routes, shown
/// this once.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedPayment {
    #[serde(flatten)]
    payment: PaymentView,
    /// CHAIN: the gateway contract the payer pays through.
    #[serde(skip_serializing_if = "Option::is_none")]
    gateway_address: Option<String>,
    /// CHAIN: the forwarder contract of gasless payments.
    #[serde(skip_serializing_if = "Option::is_none")]
    forwarder_address: Option<String>,
    /// CHAIN: opens this payment's checkout routes (typed-data, gasless, relay) and nothing else.
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
}

/// The terms as the API shows them (and as `pay` takes them).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TermsView {
    payment_id: String,
    token: String,
    /// Exact integer in the token's base unit, as a decimal string.
    amount: String,
    recipient: String,
    fee_bps: u16,
    /// Epoch seconds.
    deadline: u64,
}

/// `GET /payments/{id}/status`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusView {
    payment_id: String,
    status: String,
    chain_id: Option<i64>,
    updated_at: String,
}

/// One entry of a payment's history.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    /// CREATED, SUBMITTED, CONFIRMED, FAILED or CANCELLED.
    event_type: String,
    from_status: Option<String>,
    to_status: String,
    version: i64,
    #[schema(value_type = Option<Object>)]
    data: Option<serde_json::Value>,
    created_at: String,
}

/// A page of payments.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentList {
    data: Vec<PaymentView>,
    has_more: bool,
}

/// A payment's history, oldest first.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventList {
    data: Vec<EventView>,
}

/// A merchant with its API key, shown once at creation.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedMerchant {
    merchant_id: String,
    name: String,
    api_key: String,
    /// Fee on chain payments, in basis points (signed into each payment's terms; paid to the gateway's treasury).
    fee_bps: u16,
}

/// A merchant as administration shows it (no key).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Merchant {
    merchant_id: String,
    name: String,
    /// Fee on chain payments, in basis points, for payments created from now on.
    fee_bps: u16,
}

/// A forward request as a wallet signed it (integers as decimal strings, data as 0x hex).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForwardRequestView {
    from: String,
    to: String,
    value: String,
    gas: String,
    nonce: String,
    deadline: String,
    data: String,
}

/// A signed forward request, as `POST /payments/{id}/gasless` takes it.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GaslessInput {
    request: ForwardRequestView,
    /// The payer's EIP-712 signature over the request (0x + 130 hex).
    signature: String,
}

impl From<GaslessInput> for checkout::GaslessInput {
    fn from(i: GaslessInput) -> Self {
        let r = i.request;
        Self {
            request: checkout::ForwardRequestView {
                from: r.from,
                to: r.to,
                value: r.value,
                gas: r.gas,
                nonce: r.nonce,
                deadline: r.deadline,
                data: r.data,
            },
            signature: i.signature,
        }
    }
}

/// What `GET /payments/{id}/typed-data` answers.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TypedData {
    /// The ForwardRequest, as `eth_signTypedData_v4` takes it.
    #[schema(value_type = Object)]
    forward_request: serde_json::Value,
    /// The same request, as `POST /gasless` takes it back with the signature.
    request: ForwardRequestView,
    /// The EIP-2612 permit to sign first (null when the token has none, or when a permit signature was given).
    #[schema(value_type = Option<Object>)]
    permit: Option<serde_json::Value>,
}

/// What a verified relay request answers.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RelayAccepted {
    relay_request_id: String,
    payment_id: String,
    status: String,
}

/// How `POST /payments/{id}/relay` ended.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RelayDone {
    relay_request_id: String,
    payment_id: String,
    /// COMPLETED.
    status: String,
    tx_hash: Option<String>,
    block_number: Option<i64>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    user_id: String,
    name: String,
    /// Points, in minor units.
    points: i64,
    /// ACTIVE or SUSPENDED.
    status: String,
    /// The most one order may total (0: no limit).
    purchase_limit: i64,
    created_at: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemView {
    item_id: String,
    name: String,
    price: i64,
    stock: i64,
    available: bool,
    created_at: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CouponView {
    coupon_id: String,
    name: String,
    discount: i64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssuedCouponView {
    issued_coupon_id: String,
    coupon_id: String,
    user_id: String,
    /// AVAILABLE or USED.
    status: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderLineView {
    item_id: String,
    quantity: i64,
    unit_price: i64,
}

/// An order. Amounts are integer minor units: `usedPoints + couponDiscount + paidAmount == totalAmount`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderView {
    order_id: String,
    user_id: String,
    /// PLACED, PAID or CANCELLED.
    status: String,
    total_amount: i64,
    used_points: i64,
    coupon_discount: i64,
    paid_amount: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    issued_coupon_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payment_id: Option<String>,
    transaction_id: String,
    items: Vec<OrderLineView>,
    created_at: String,
    updated_at: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepView {
    step: String,
    /// DONE or COMPENSATED.
    outcome: String,
    at: String,
}

/// A purchase saga (`transactionId`), its status and the results of its steps.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SagaView {
    transaction_id: String,
    order_id: String,
    user_id: String,
    pattern: String,
    /// PENDING, IN_PROGRESS, COMPLETED, FAILED, COMPENSATING or COMPENSATED.
    status: String,
    current_step: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    version: i64,
    steps: Vec<StepView>,
    created_at: String,
    updated_at: String,
}

/// The answer of `POST /orders`: the order, its payment (when a remainder is paid by card) and the saga.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlacedOrder {
    order: OrderView,
    #[serde(skip_serializing_if = "Option::is_none")]
    payment: Option<PaymentView>,
    saga: SagaView,
}

/// `GET /sagas`: a page of the merchant's sagas, newest first (seed 002's shape).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SagaPage {
    data: Vec<SagaView>,
    total: u64,
    page: u64,
    limit: u64,
    total_pages: u64,
}

/// `GET /sagas/stats`: how many sagas there are, in all and per status (every status listed, zeros included).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SagaStats {
    total: i64,
    by_status: BTreeMap<String, i64>,
}

/// A webhook endpoint.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEndpoint {
    #[schema(example = "we_0192f3a4b5c67d8e9f0a1b2c3d4e5f60")]
    id: String,
    #[schema(example = "https://shop.example/webhooks/settle")]
    url: String,
    /// Event types it receives: a type (`payment.completed`), a prefix (`payment.*`) or `*`.
    #[schema(example = json!(["payment.*"]))]
    events: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    enabled: bool,
    /// `failing` when Settle disabled it because every delivery failed for five days.
    #[serde(skip_serializing_if = "Option::is_none")]
    disabled_reason: Option<String>,
    /// After a rotation: until when the previous secret still signs alongside the new one.
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_secret_expires_at: Option<String>,
    created_at: String,
    updated_at: String,
}

/// A webhook endpoint with its signing secret, shown only here (at creation and at each rotation).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEndpointWithSecret {
    #[serde(flatten)]
    endpoint: WebhookEndpoint,
    /// `whsec_` + base64 of the key: verify each delivery's `webhook-signature` with it (Standard Webhooks).
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwJ0cJ0uW2aQk=")]
    secret: String,
}

/// A merchant's webhook endpoints.
#[derive(Serialize, ToSchema)]
pub struct WebhookEndpointList {
    data: Vec<WebhookEndpoint>,
}

/// One attempt at a delivery.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookAttempt {
    attempt: i32,
    started_at: String,
    /// The answer's status; absent when there was none.
    #[serde(skip_serializing_if = "Option::is_none")]
    status_code: Option<i32>,
    latency_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// The start of the answer's body (at most 200 bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    excerpt: Option<String>,
}

/// One event's delivery to one endpoint.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookDelivery {
    #[schema(example = "wd_0192f3a4b5c67d8e9f0a1b2c3d4e5f60")]
    id: String,
    endpoint_id: String,
    /// The `webhook-id` of every attempt: the event's id.
    #[schema(example = "evt_0193a1b2c3d47e5f8a9b0c1d2e3f4a5b")]
    event_id: String,
    event_type: String,
    /// PENDING, SUCCEEDED or FAILED.
    status: String,
    attempt_count: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_attempt_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_status_code: Option<i32>,
    attempts: Vec<WebhookAttempt>,
    created_at: String,
    updated_at: String,
}

/// A page of deliveries, newest first.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookDeliveryList {
    data: Vec<WebhookDelivery>,
    has_more: bool,
}

/// An event, as webhooks, the events API and NATS carry it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEvent {
    /// Made once with the event and never issued again (not after a restore either): the `webhook-id`, the
    /// `Nats-Msg-Id` and SSE's id. Drop an event whose id you already have.
    #[schema(example = "evt_0193a1b2c3d47e5f8a9b0c1d2e3f4a5b")]
    id: String,
    /// The event's place in the order of events (`after` of `GET /events/list` takes it, as it takes an id). A restore
    /// of an older backup issues seqs again: keep ids, not seqs, across one.
    seq: i64,
    #[serde(rename = "type")]
    #[schema(example = "payment.completed")]
    kind: String,
    created_at: String,
    /// The object the event is about (a payment for `payment.*`).
    #[schema(value_type = Object)]
    data: serde_json::Value,
}

/// A page of events in seq order.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEventPage {
    data: Vec<WebhookEvent>,
    has_more: bool,
}

/// An API key (its prefix only).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyView {
    #[schema(example = "key_2")]
    id: String,
    /// The key's first 8 characters.
    #[schema(example = "sk_4f1a2")]
    key_prefix: String,
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked_at: Option<String>,
}

/// A new API key, shown only here.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedApiKey {
    #[serde(flatten)]
    key: ApiKeyView,
    api_key: String,
}

/// A merchant's API keys, oldest first.
#[derive(Serialize, ToSchema)]
pub struct ApiKeyList {
    data: Vec<ApiKeyView>,
}

/// The database pool's connections.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PoolStats {
    size: u32,
    idle: u32,
    in_use: u32,
    max: u32,
}

/// One table's size.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TableStats {
    name: String,
    rows: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes: Option<i64>,
}

/// The database as an operator watches it.
#[derive(Serialize, ToSchema)]
pub struct DbStats {
    /// sqlite, postgres or mysql.
    backend: String,
    pool: PoolStats,
    tables: Vec<TableStats>,
    /// This instance's 50 statements with the most total time since it started.
    statements: Vec<StatementStats>,
}

/// One statement's latency on this instance (its SQL with placeholders; no values).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatementStats {
    sql: String,
    count: u64,
    /// Runs that took 250 ms or more.
    slow: u64,
    p50_ms: f64,
    p95_ms: f64,
    total_ms: f64,
}

/// Who made an audited change.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditActor {
    /// merchant (an API key), admin, cli, checkout (a payment's client secret), gateway or anonymous.
    #[serde(rename = "type")]
    #[schema(example = "merchant")]
    kind: String,
    /// The API key's id, for a merchant.
    #[schema(example = "key_2")]
    id: Option<String>,
}

/// One audited change.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    #[schema(example = "aud_42")]
    id: String,
    actor: AuditActor,
    /// An event type (payment.cancelled) or an action (webhook_endpoint.created).
    #[schema(example = "payment.cancelled")]
    action: String,
    /// The id of what was changed.
    target_id: String,
    request_id: Option<String>,
    client_address: Option<String>,
    /// The new values the change set (never a secret or card data).
    #[schema(value_type = Object)]
    changes: serde_json::Value,
    /// SHA-256 (hex) of the change as recorded; for an event, of the event as queued.
    digest: String,
    created_at: String,
}

/// A page of the audit log, newest first.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    data: Vec<AuditEntry>,
    has_more: bool,
}
