//! The JSON Settle answers with, as the OpenAPI document names it. Each type is settle-app's own (or the store's,
//! for the database's figures): the one set of wire types, deriving both `Serialize` and `ToSchema` where it is
//! defined, so a field is added in one place and the document cannot drift from what is sent. settle-app depends
//! on utoipa's derive only, never on its server side. A type named otherwise in the app keeps its document name
//! with `#[schema(as = ...)]`.
//!
//! The integration test `api_schemas` still holds every answer to the document (every property an answer carries
//! is documented, every required one is present, on every route): it guards the hand-built parts, the flattened
//! and optional fields, and what `openapi.rs` adds.

pub use settle_app::{
    audit::{ActorView as AuditActor, AuditEntry, AuditPage},
    chain::checkout::{ForwardRequestView, GaslessInput, RelayAccepted, RelayView, TypedData},
    chain::refunds::RefundTypedData,
    context::{DbStats, PoolStats, StatementStats, TableStats},
    merchants::{ApiKeyList, ApiKeyView, CreatedApiKey, CreatedMerchant, Merchant},
    orders::{CancellationLine, CancellationView, OrderLineView, OrderView, PlacedOrder, SagaList, SagaPage, SagaStats, SagaView, StepView},
    payments::{CreatedPayment, EventList, EventView, PaymentList, PaymentView, StatusView},
    refunds::{RefundList, RefundView},
    shop::{CouponView, IssuedCouponView, ItemView, UserView},
    webhooks::{
        AttemptView as WebhookAttempt, DeliveryList as WebhookDeliveryList, DeliveryView as WebhookDelivery, EndpointList as WebhookEndpointList,
        EndpointView as WebhookEndpoint, EndpointWithSecret as WebhookEndpointWithSecret, EventPage as WebhookEventPage, EventView as WebhookEvent,
        TestEventSent as WebhookTestSent,
    },
};
