"""Contains all the data models used in inputs/outputs"""

from .add_chain import AddChain
from .api_key_list import ApiKeyList
from .api_key_view import ApiKeyView
from .audit_actor import AuditActor
from .audit_entry import AuditEntry
from .audit_entry_changes import AuditEntryChanges
from .audit_page import AuditPage
from .cache_health_view import CacheHealthView
from .callback_ack import CallbackAck
from .callback_request import CallbackRequest
from .cancel_line import CancelLine
from .cancel_order_request import CancelOrderRequest
from .cancellation_line import CancellationLine
from .cancellation_view import CancellationView
from .card_request import CardRequest
from .card_request_card_type import CardRequestCardType
from .chain_health import ChainHealth
from .checkout_secret import CheckoutSecret
from .coupon_view import CouponView
from .create_api_key_request import CreateApiKeyRequest
from .create_coupon_request import CreateCouponRequest
from .create_endpoint_request import CreateEndpointRequest
from .create_item_request import CreateItemRequest
from .create_merchant_request import CreateMerchantRequest
from .create_payment_request import CreatePaymentRequest
from .create_payment_request_metadata_type_0 import CreatePaymentRequestMetadataType0
from .create_payment_request_rail_type_1 import CreatePaymentRequestRailType1
from .create_payment_request_rail_type_2_type_1 import (
    CreatePaymentRequestRailType2Type1,
)
from .create_payment_request_rail_type_3_type_1 import (
    CreatePaymentRequestRailType3Type1,
)
from .create_refund_request import CreateRefundRequest
from .create_refund_request_metadata_type_0 import CreateRefundRequestMetadataType0
from .create_session_request import CreateSessionRequest
from .create_user_request import CreateUserRequest
from .create_user_request_status_type_1 import CreateUserRequestStatusType1
from .create_user_request_status_type_2_type_1 import CreateUserRequestStatusType2Type1
from .create_user_request_status_type_3_type_1 import CreateUserRequestStatusType3Type1
from .created_api_key import CreatedApiKey
from .created_merchant import CreatedMerchant
from .created_payment import CreatedPayment
from .database_health import DatabaseHealth
from .db_stats import DbStats
from .dead_letter_page import DeadLetterPage
from .dead_letter_view import DeadLetterView
from .decline_body import DeclineBody
from .decline_detail import DeclineDetail
from .eip_712_domain import Eip712Domain
from .eip_712_field import Eip712Field
from .eip_712_typed_data import Eip712TypedData
from .eip_712_typed_data_message import Eip712TypedDataMessage
from .eip_712_typed_data_types import Eip712TypedDataTypes
from .error_body import ErrorBody
from .error_detail import ErrorDetail
from .event_list import EventList
from .event_view import EventView
from .event_view_data_type_0 import EventViewDataType0
from .forward_request_view import ForwardRequestView
from .gasless_input import GaslessInput
from .gateway_health import GatewayHealth
from .health import Health
from .issue_coupon_request import IssueCouponRequest
from .issued_coupon_view import IssuedCouponView
from .item_view import ItemView
from .list_payments_metadata import ListPaymentsMetadata
from .list_payments_status import ListPaymentsStatus
from .list_sagas_status import ListSagasStatus
from .merchant import Merchant
from .native_currency import NativeCurrency
from .openapi_json_response_200 import OpenapiJsonResponse200
from .order_card import OrderCard
from .order_card_card_type import OrderCardCardType
from .order_line import OrderLine
from .order_line_view import OrderLineView
from .order_view import OrderView
from .order_view_metadata import OrderViewMetadata
from .page_view import PageView
from .payment_list import PaymentList
from .payment_update import PaymentUpdate
from .payment_view import PaymentView
from .payment_view_card_type import PaymentViewCardType
from .payment_view_metadata import PaymentViewMetadata
from .permit_request import PermitRequest
from .place_order_request import PlaceOrderRequest
from .place_order_request_metadata_type_0 import PlaceOrderRequestMetadataType0
from .place_order_request_pattern_type_1 import PlaceOrderRequestPatternType1
from .place_order_request_pattern_type_2_type_1 import (
    PlaceOrderRequestPatternType2Type1,
)
from .place_order_request_pattern_type_3_type_1 import (
    PlaceOrderRequestPatternType3Type1,
)
from .placed_order import PlacedOrder
from .pool_stats import PoolStats
from .probe import Probe
from .purchase_request import PurchaseRequest
from .purchase_request_pattern_type_1 import PurchaseRequestPatternType1
from .purchase_request_pattern_type_2_type_1 import PurchaseRequestPatternType2Type1
from .purchase_request_pattern_type_3_type_1 import PurchaseRequestPatternType3Type1
from .read_only_request import ReadOnlyRequest
from .read_only_state import ReadOnlyState
from .refund_list import RefundList
from .refund_typed_data import RefundTypedData
from .refund_typed_data_permit_type_0 import RefundTypedDataPermitType0
from .refund_typed_data_refund_terms import RefundTypedDataRefundTerms
from .refund_typed_data_transaction import RefundTypedDataTransaction
from .refund_view import RefundView
from .refund_view_metadata import RefundViewMetadata
from .relay_accepted import RelayAccepted
from .relay_done import RelayDone
from .relay_view import RelayView
from .retried_dead_letter import RetriedDeadLetter
from .return_url import ReturnUrl
from .saga_list import SagaList
from .saga_stats import SagaStats
from .saga_stats_by_status import SagaStatsByStatus
from .saga_view import SagaView
from .saga_view_pattern_type_1 import SagaViewPatternType1
from .seed_saga import SeedSaga
from .seed_saga_page import SeedSagaPage
from .seed_saga_stats import SeedSagaStats
from .seed_step import SeedStep
from .seed_stream_events_response_200 import SeedStreamEventsResponse200
from .session_view import SessionView
from .simulate_request import SimulateRequest
from .simulated import Simulated
from .statement_stats import StatementStats
from .status_view import StatusView
from .step_view import StepView
from .stream_events_response_200 import StreamEventsResponse200
from .stuck_nonce import StuckNonce
from .submit_refund_request import SubmitRefundRequest
from .table_stats import TableStats
from .terms_view import TermsView
from .typed_data import TypedData
from .update_endpoint_request import UpdateEndpointRequest
from .update_merchant_request import UpdateMerchantRequest
from .update_payment_request import UpdatePaymentRequest
from .update_payment_request_metadata_type_0 import UpdatePaymentRequestMetadataType0
from .user_view import UserView
from .webhook_attempt import WebhookAttempt
from .webhook_delivery import WebhookDelivery
from .webhook_delivery_list import WebhookDeliveryList
from .webhook_endpoint import WebhookEndpoint
from .webhook_endpoint_list import WebhookEndpointList
from .webhook_endpoint_with_secret import WebhookEndpointWithSecret
from .webhook_event import WebhookEvent
from .webhook_event_data import WebhookEventData
from .webhook_event_page import WebhookEventPage
from .webhook_test_sent import WebhookTestSent

__all__ = (
    "AddChain",
    "ApiKeyList",
    "ApiKeyView",
    "AuditActor",
    "AuditEntry",
    "AuditEntryChanges",
    "AuditPage",
    "CacheHealthView",
    "CallbackAck",
    "CallbackRequest",
    "CancelLine",
    "CancelOrderRequest",
    "CancellationLine",
    "CancellationView",
    "CardRequest",
    "CardRequestCardType",
    "ChainHealth",
    "CheckoutSecret",
    "CouponView",
    "CreateApiKeyRequest",
    "CreateCouponRequest",
    "CreateEndpointRequest",
    "CreateItemRequest",
    "CreateMerchantRequest",
    "CreatePaymentRequest",
    "CreatePaymentRequestMetadataType0",
    "CreatePaymentRequestRailType1",
    "CreatePaymentRequestRailType2Type1",
    "CreatePaymentRequestRailType3Type1",
    "CreateRefundRequest",
    "CreateRefundRequestMetadataType0",
    "CreateSessionRequest",
    "CreateUserRequest",
    "CreateUserRequestStatusType1",
    "CreateUserRequestStatusType2Type1",
    "CreateUserRequestStatusType3Type1",
    "CreatedApiKey",
    "CreatedMerchant",
    "CreatedPayment",
    "DatabaseHealth",
    "DbStats",
    "DeadLetterPage",
    "DeadLetterView",
    "DeclineBody",
    "DeclineDetail",
    "Eip712Domain",
    "Eip712Field",
    "Eip712TypedData",
    "Eip712TypedDataMessage",
    "Eip712TypedDataTypes",
    "ErrorBody",
    "ErrorDetail",
    "EventList",
    "EventView",
    "EventViewDataType0",
    "ForwardRequestView",
    "GaslessInput",
    "GatewayHealth",
    "Health",
    "IssueCouponRequest",
    "IssuedCouponView",
    "ItemView",
    "ListPaymentsMetadata",
    "ListPaymentsStatus",
    "ListSagasStatus",
    "Merchant",
    "NativeCurrency",
    "OpenapiJsonResponse200",
    "OrderCard",
    "OrderCardCardType",
    "OrderLine",
    "OrderLineView",
    "OrderView",
    "OrderViewMetadata",
    "PageView",
    "PaymentList",
    "PaymentUpdate",
    "PaymentView",
    "PaymentViewCardType",
    "PaymentViewMetadata",
    "PermitRequest",
    "PlaceOrderRequest",
    "PlaceOrderRequestMetadataType0",
    "PlaceOrderRequestPatternType1",
    "PlaceOrderRequestPatternType2Type1",
    "PlaceOrderRequestPatternType3Type1",
    "PlacedOrder",
    "PoolStats",
    "Probe",
    "PurchaseRequest",
    "PurchaseRequestPatternType1",
    "PurchaseRequestPatternType2Type1",
    "PurchaseRequestPatternType3Type1",
    "ReadOnlyRequest",
    "ReadOnlyState",
    "RefundList",
    "RefundTypedData",
    "RefundTypedDataPermitType0",
    "RefundTypedDataRefundTerms",
    "RefundTypedDataTransaction",
    "RefundView",
    "RefundViewMetadata",
    "RelayAccepted",
    "RelayDone",
    "RelayView",
    "RetriedDeadLetter",
    "ReturnUrl",
    "SagaList",
    "SagaStats",
    "SagaStatsByStatus",
    "SagaView",
    "SagaViewPatternType1",
    "SeedSaga",
    "SeedSagaPage",
    "SeedSagaStats",
    "SeedStep",
    "SeedStreamEventsResponse200",
    "SessionView",
    "SimulateRequest",
    "Simulated",
    "StatementStats",
    "StatusView",
    "StepView",
    "StreamEventsResponse200",
    "StuckNonce",
    "SubmitRefundRequest",
    "TableStats",
    "TermsView",
    "TypedData",
    "UpdateEndpointRequest",
    "UpdateMerchantRequest",
    "UpdatePaymentRequest",
    "UpdatePaymentRequestMetadataType0",
    "UserView",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookDeliveryList",
    "WebhookEndpoint",
    "WebhookEndpointList",
    "WebhookEndpointWithSecret",
    "WebhookEvent",
    "WebhookEventData",
    "WebhookEventPage",
    "WebhookTestSent",
)
