from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.payment_view_card_type import PaymentViewCardType
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.payment_view_metadata import PaymentViewMetadata
    from ..models.terms_view import TermsView


T = TypeVar("T", bound="CreatedPayment")


@_attrs_define
class CreatedPayment:
    """A payment as its creation answers it. A CHAIN payment also carries what its checkout needs: the gateway and
    forwarder contracts, and the client secret (`pcs_...`) that opens this one payment's checkout routes, shown
    this once.

        Attributes:
            amount (str): Exact integer amount in minor units, as a decimal string. Example: 1500.
            amount_refunded (str): The sum of the payment's SUCCEEDED refunds, in minor units. Example: 0.
            created_at (str):
            currency (str):
            livemode (bool): Whether the payment is live (false: made with a test key, on a test network or the card
                simulator).
            merchant_id (str): The merchant (the same id in both modes).
            metadata (PaymentViewMetadata): The merchant's key-value pairs (`{}` when none).
            order_id (str):
            payment_id (str): 0x + 64 hex; usable as the on-chain bytes32. Example:
                0x5f1d4c0d8f3b2a7e9c6b1d0e2f4a6b8c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a.
            rail (str): `CHAIN` or `CARD`.
            refund_status (str): `none`, `partial` or `full`: how much of the payment its SUCCEEDED refunds gave back.
            status (str): PENDING, PROCESSING, COMPLETED, FAILED, CANCELLED or EXPIRED.
            updated_at (str):
            version (int): Row version; increases with every entry of the payment's history (not with an update of what the
                merchant
                attached).
            block_number (int | None | Unset):
            card_last_4 (None | str | Unset):
            card_type (PaymentViewCardType | Unset):
            chain_id (int | None | Unset):
            customer_email (None | str | Unset): The customer's email address, as the merchant gave it.
            description (None | str | Unset): The merchant's description of the payment.
            expires_at (None | str | Unset): CHAIN: when the signed terms expire (RFC 3339).
            external_payment_key (None | str | Unset):
            failure_message (None | str | Unset):
            flag_reason (None | str | Unset): Set when the gateway reported something Settle would not apply (another amount
                or order): an operator
                must look at this payment.
            payer (None | str | Unset): CHAIN: who paid, the transaction and its block (once seen on chain).
            recipient_address (None | str | Unset):
            server_signature (None | str | Unset): CHAIN: Settle's EIP-712 signature over the terms.
            terms (None | TermsView | Unset):
            token_address (None | str | Unset):
            tx_hash (None | str | Unset):
            client_secret (None | str | Unset): CHAIN: opens this payment's checkout routes (typed-data, gasless, relay) and
                nothing else.
            forwarder_address (None | str | Unset): CHAIN: the forwarder contract of gasless payments.
            gateway_address (None | str | Unset): CHAIN: the gateway contract the payer pays through.
    """

    amount: str
    amount_refunded: str
    created_at: str
    currency: str
    livemode: bool
    merchant_id: str
    metadata: PaymentViewMetadata
    order_id: str
    payment_id: str
    rail: str
    refund_status: str
    status: str
    updated_at: str
    version: int
    block_number: int | None | Unset = UNSET
    card_last_4: None | str | Unset = UNSET
    card_type: PaymentViewCardType | Unset = UNSET
    chain_id: int | None | Unset = UNSET
    customer_email: None | str | Unset = UNSET
    description: None | str | Unset = UNSET
    expires_at: None | str | Unset = UNSET
    external_payment_key: None | str | Unset = UNSET
    failure_message: None | str | Unset = UNSET
    flag_reason: None | str | Unset = UNSET
    payer: None | str | Unset = UNSET
    recipient_address: None | str | Unset = UNSET
    server_signature: None | str | Unset = UNSET
    terms: None | TermsView | Unset = UNSET
    token_address: None | str | Unset = UNSET
    tx_hash: None | str | Unset = UNSET
    client_secret: None | str | Unset = UNSET
    forwarder_address: None | str | Unset = UNSET
    gateway_address: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.terms_view import TermsView

        amount = self.amount

        amount_refunded = self.amount_refunded

        created_at = self.created_at

        currency = self.currency

        livemode = self.livemode

        merchant_id = self.merchant_id

        metadata = self.metadata.to_dict()

        order_id = self.order_id

        payment_id = self.payment_id

        rail = self.rail

        refund_status = self.refund_status

        status = self.status

        updated_at = self.updated_at

        version = self.version

        block_number: int | None | Unset
        if isinstance(self.block_number, Unset):
            block_number = UNSET
        else:
            block_number = self.block_number

        card_last_4: None | str | Unset
        if isinstance(self.card_last_4, Unset):
            card_last_4 = UNSET
        else:
            card_last_4 = self.card_last_4

        card_type: str | Unset = UNSET
        if not isinstance(self.card_type, Unset):
            card_type = self.card_type.value

        chain_id: int | None | Unset
        if isinstance(self.chain_id, Unset):
            chain_id = UNSET
        else:
            chain_id = self.chain_id

        customer_email: None | str | Unset
        if isinstance(self.customer_email, Unset):
            customer_email = UNSET
        else:
            customer_email = self.customer_email

        description: None | str | Unset
        if isinstance(self.description, Unset):
            description = UNSET
        else:
            description = self.description

        expires_at: None | str | Unset
        if isinstance(self.expires_at, Unset):
            expires_at = UNSET
        else:
            expires_at = self.expires_at

        external_payment_key: None | str | Unset
        if isinstance(self.external_payment_key, Unset):
            external_payment_key = UNSET
        else:
            external_payment_key = self.external_payment_key

        failure_message: None | str | Unset
        if isinstance(self.failure_message, Unset):
            failure_message = UNSET
        else:
            failure_message = self.failure_message

        flag_reason: None | str | Unset
        if isinstance(self.flag_reason, Unset):
            flag_reason = UNSET
        else:
            flag_reason = self.flag_reason

        payer: None | str | Unset
        if isinstance(self.payer, Unset):
            payer = UNSET
        else:
            payer = self.payer

        recipient_address: None | str | Unset
        if isinstance(self.recipient_address, Unset):
            recipient_address = UNSET
        else:
            recipient_address = self.recipient_address

        server_signature: None | str | Unset
        if isinstance(self.server_signature, Unset):
            server_signature = UNSET
        else:
            server_signature = self.server_signature

        terms: dict[str, Any] | None | Unset
        if isinstance(self.terms, Unset):
            terms = UNSET
        elif isinstance(self.terms, TermsView):
            terms = self.terms.to_dict()
        else:
            terms = self.terms

        token_address: None | str | Unset
        if isinstance(self.token_address, Unset):
            token_address = UNSET
        else:
            token_address = self.token_address

        tx_hash: None | str | Unset
        if isinstance(self.tx_hash, Unset):
            tx_hash = UNSET
        else:
            tx_hash = self.tx_hash

        client_secret: None | str | Unset
        if isinstance(self.client_secret, Unset):
            client_secret = UNSET
        else:
            client_secret = self.client_secret

        forwarder_address: None | str | Unset
        if isinstance(self.forwarder_address, Unset):
            forwarder_address = UNSET
        else:
            forwarder_address = self.forwarder_address

        gateway_address: None | str | Unset
        if isinstance(self.gateway_address, Unset):
            gateway_address = UNSET
        else:
            gateway_address = self.gateway_address

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "amount": amount,
                "amountRefunded": amount_refunded,
                "createdAt": created_at,
                "currency": currency,
                "livemode": livemode,
                "merchantId": merchant_id,
                "metadata": metadata,
                "orderId": order_id,
                "paymentId": payment_id,
                "rail": rail,
                "refundStatus": refund_status,
                "status": status,
                "updatedAt": updated_at,
                "version": version,
            }
        )
        if block_number is not UNSET:
            field_dict["blockNumber"] = block_number
        if card_last_4 is not UNSET:
            field_dict["cardLast4"] = card_last_4
        if card_type is not UNSET:
            field_dict["cardType"] = card_type
        if chain_id is not UNSET:
            field_dict["chainId"] = chain_id
        if customer_email is not UNSET:
            field_dict["customerEmail"] = customer_email
        if description is not UNSET:
            field_dict["description"] = description
        if expires_at is not UNSET:
            field_dict["expiresAt"] = expires_at
        if external_payment_key is not UNSET:
            field_dict["externalPaymentKey"] = external_payment_key
        if failure_message is not UNSET:
            field_dict["failureMessage"] = failure_message
        if flag_reason is not UNSET:
            field_dict["flagReason"] = flag_reason
        if payer is not UNSET:
            field_dict["payer"] = payer
        if recipient_address is not UNSET:
            field_dict["recipientAddress"] = recipient_address
        if server_signature is not UNSET:
            field_dict["serverSignature"] = server_signature
        if terms is not UNSET:
            field_dict["terms"] = terms
        if token_address is not UNSET:
            field_dict["tokenAddress"] = token_address
        if tx_hash is not UNSET:
            field_dict["txHash"] = tx_hash
        if client_secret is not UNSET:
            field_dict["clientSecret"] = client_secret
        if forwarder_address is not UNSET:
            field_dict["forwarderAddress"] = forwarder_address
        if gateway_address is not UNSET:
            field_dict["gatewayAddress"] = gateway_address

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.payment_view_metadata import PaymentViewMetadata
        from ..models.terms_view import TermsView

        d = dict(src_dict)
        amount = d.pop("amount")

        amount_refunded = d.pop("amountRefunded")

        created_at = d.pop("createdAt")

        currency = d.pop("currency")

        livemode = d.pop("livemode")

        merchant_id = d.pop("merchantId")

        metadata = PaymentViewMetadata.from_dict(d.pop("metadata"))

        order_id = d.pop("orderId")

        payment_id = d.pop("paymentId")

        rail = d.pop("rail")

        refund_status = d.pop("refundStatus")

        status = d.pop("status")

        updated_at = d.pop("updatedAt")

        version = d.pop("version")

        def _parse_block_number(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        block_number = _parse_block_number(d.pop("blockNumber", UNSET))

        def _parse_card_last_4(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        card_last_4 = _parse_card_last_4(d.pop("cardLast4", UNSET))

        _card_type = d.pop("cardType", UNSET)
        card_type: PaymentViewCardType | Unset
        if isinstance(_card_type, Unset):
            card_type = UNSET
        else:
            card_type = PaymentViewCardType(_card_type)

        def _parse_chain_id(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        chain_id = _parse_chain_id(d.pop("chainId", UNSET))

        def _parse_customer_email(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        customer_email = _parse_customer_email(d.pop("customerEmail", UNSET))

        def _parse_description(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        description = _parse_description(d.pop("description", UNSET))

        def _parse_expires_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        expires_at = _parse_expires_at(d.pop("expiresAt", UNSET))

        def _parse_external_payment_key(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        external_payment_key = _parse_external_payment_key(
            d.pop("externalPaymentKey", UNSET)
        )

        def _parse_failure_message(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        failure_message = _parse_failure_message(d.pop("failureMessage", UNSET))

        def _parse_flag_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        flag_reason = _parse_flag_reason(d.pop("flagReason", UNSET))

        def _parse_payer(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        payer = _parse_payer(d.pop("payer", UNSET))

        def _parse_recipient_address(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        recipient_address = _parse_recipient_address(d.pop("recipientAddress", UNSET))

        def _parse_server_signature(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        server_signature = _parse_server_signature(d.pop("serverSignature", UNSET))

        def _parse_terms(data: object) -> None | TermsView | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                terms_type_1 = TermsView.from_dict(data)

                return terms_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | TermsView | Unset, data)

        terms = _parse_terms(d.pop("terms", UNSET))

        def _parse_token_address(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        token_address = _parse_token_address(d.pop("tokenAddress", UNSET))

        def _parse_tx_hash(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        tx_hash = _parse_tx_hash(d.pop("txHash", UNSET))

        def _parse_client_secret(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        client_secret = _parse_client_secret(d.pop("clientSecret", UNSET))

        def _parse_forwarder_address(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        forwarder_address = _parse_forwarder_address(d.pop("forwarderAddress", UNSET))

        def _parse_gateway_address(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        gateway_address = _parse_gateway_address(d.pop("gatewayAddress", UNSET))

        created_payment = cls(
            amount=amount,
            amount_refunded=amount_refunded,
            created_at=created_at,
            currency=currency,
            livemode=livemode,
            merchant_id=merchant_id,
            metadata=metadata,
            order_id=order_id,
            payment_id=payment_id,
            rail=rail,
            refund_status=refund_status,
            status=status,
            updated_at=updated_at,
            version=version,
            block_number=block_number,
            card_last_4=card_last_4,
            card_type=card_type,
            chain_id=chain_id,
            customer_email=customer_email,
            description=description,
            expires_at=expires_at,
            external_payment_key=external_payment_key,
            failure_message=failure_message,
            flag_reason=flag_reason,
            payer=payer,
            recipient_address=recipient_address,
            server_signature=server_signature,
            terms=terms,
            token_address=token_address,
            tx_hash=tx_hash,
            client_secret=client_secret,
            forwarder_address=forwarder_address,
            gateway_address=gateway_address,
        )

        created_payment.additional_properties = d
        return created_payment

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
