from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..models.create_payment_request_rail_type_1 import CreatePaymentRequestRailType1
from ..models.create_payment_request_rail_type_2_type_1 import (
    CreatePaymentRequestRailType2Type1,
)
from ..models.create_payment_request_rail_type_3_type_1 import (
    CreatePaymentRequestRailType3Type1,
)
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.create_payment_request_metadata_type_0 import (
        CreatePaymentRequestMetadataType0,
    )


T = TypeVar("T", bound="CreatePaymentRequest")


@_attrs_define
class CreatePaymentRequest:
    """`POST /v1/payments`.

    Attributes:
        amount (str): Exact integer amount in minor units (token base units on chain), as a decimal string. Example:
            1500.
        currency (str):  Example: USDC.
        order_id (str): The merchant's order reference: one payment that may still be paid per order (after one FAILED,
            EXPIRED
            or was CANCELLED, a new payment for the same order may be created). Example: order-1001.
        chain_id (int | None | Unset): EVM chain id (chain rail). Example: 31337.
        customer_email (None | str | Unset): The customer's email address. Example: payer@example.com.
        description (None | str | Unset): What the payment is for (up to 1000 characters). Example: 2 coffees.
        expires_in_secs (int | None | Unset): Seconds until the signed terms expire (chain rail; default 1800, 60 to
            604800). Example: 1800.
        metadata (CreatePaymentRequestMetadataType0 | None | Unset): Up to 50 keys (up to 40 characters each) with
            string values (up to 500 characters each), returned on the
            payment and its events, searchable with `GET /v1/payments?metadata[key]=value`.
        rail (CreatePaymentRequestRailType1 | CreatePaymentRequestRailType2Type1 | CreatePaymentRequestRailType3Type1 |
            None | Unset): `CHAIN` (default) or `CARD`. Example: CHAIN.
        recipient_address (None | str | Unset): Who receives the payment (chain rail). Example:
            0x70997970C51812dc3A010C7d01b50e0d17dc79C8.
        token_address (None | str | Unset): ERC-20 token contract (chain rail). Example:
            0x5FbDB2315678afecb367f032d93F642f64180aa3.
    """

    amount: str
    currency: str
    order_id: str
    chain_id: int | None | Unset = UNSET
    customer_email: None | str | Unset = UNSET
    description: None | str | Unset = UNSET
    expires_in_secs: int | None | Unset = UNSET
    metadata: CreatePaymentRequestMetadataType0 | None | Unset = UNSET
    rail: (
        CreatePaymentRequestRailType1
        | CreatePaymentRequestRailType2Type1
        | CreatePaymentRequestRailType3Type1
        | None
        | Unset
    ) = UNSET
    recipient_address: None | str | Unset = UNSET
    token_address: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.create_payment_request_metadata_type_0 import (
            CreatePaymentRequestMetadataType0,
        )

        amount = self.amount

        currency = self.currency

        order_id = self.order_id

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

        expires_in_secs: int | None | Unset
        if isinstance(self.expires_in_secs, Unset):
            expires_in_secs = UNSET
        else:
            expires_in_secs = self.expires_in_secs

        metadata: dict[str, Any] | None | Unset
        if isinstance(self.metadata, Unset):
            metadata = UNSET
        elif isinstance(self.metadata, CreatePaymentRequestMetadataType0):
            metadata = self.metadata.to_dict()
        else:
            metadata = self.metadata

        rail: None | str | Unset
        if isinstance(self.rail, Unset):
            rail = UNSET
        elif (
            isinstance(self.rail, CreatePaymentRequestRailType1)
            or isinstance(self.rail, CreatePaymentRequestRailType2Type1)
            or isinstance(self.rail, CreatePaymentRequestRailType3Type1)
        ):
            rail = self.rail.value
        else:
            rail = self.rail

        recipient_address: None | str | Unset
        if isinstance(self.recipient_address, Unset):
            recipient_address = UNSET
        else:
            recipient_address = self.recipient_address

        token_address: None | str | Unset
        if isinstance(self.token_address, Unset):
            token_address = UNSET
        else:
            token_address = self.token_address

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "amount": amount,
                "currency": currency,
                "orderId": order_id,
            }
        )
        if chain_id is not UNSET:
            field_dict["chainId"] = chain_id
        if customer_email is not UNSET:
            field_dict["customerEmail"] = customer_email
        if description is not UNSET:
            field_dict["description"] = description
        if expires_in_secs is not UNSET:
            field_dict["expiresInSecs"] = expires_in_secs
        if metadata is not UNSET:
            field_dict["metadata"] = metadata
        if rail is not UNSET:
            field_dict["rail"] = rail
        if recipient_address is not UNSET:
            field_dict["recipientAddress"] = recipient_address
        if token_address is not UNSET:
            field_dict["tokenAddress"] = token_address

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.create_payment_request_metadata_type_0 import (
            CreatePaymentRequestMetadataType0,
        )

        d = dict(src_dict)
        amount = d.pop("amount")

        currency = d.pop("currency")

        order_id = d.pop("orderId")

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

        def _parse_expires_in_secs(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        expires_in_secs = _parse_expires_in_secs(d.pop("expiresInSecs", UNSET))

        def _parse_metadata(
            data: object,
        ) -> CreatePaymentRequestMetadataType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                metadata_type_0 = CreatePaymentRequestMetadataType0.from_dict(data)

                return metadata_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(CreatePaymentRequestMetadataType0 | None | Unset, data)

        metadata = _parse_metadata(d.pop("metadata", UNSET))

        def _parse_rail(
            data: object,
        ) -> (
            CreatePaymentRequestRailType1
            | CreatePaymentRequestRailType2Type1
            | CreatePaymentRequestRailType3Type1
            | None
            | Unset
        ):
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                rail_type_1 = CreatePaymentRequestRailType1(data)

                return rail_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, str):
                    raise TypeError()
                rail_type_2_type_1 = CreatePaymentRequestRailType2Type1(data)

                return rail_type_2_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, str):
                    raise TypeError()
                rail_type_3_type_1 = CreatePaymentRequestRailType3Type1(data)

                return rail_type_3_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(
                CreatePaymentRequestRailType1
                | CreatePaymentRequestRailType2Type1
                | CreatePaymentRequestRailType3Type1
                | None
                | Unset,
                data,
            )

        rail = _parse_rail(d.pop("rail", UNSET))

        def _parse_recipient_address(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        recipient_address = _parse_recipient_address(d.pop("recipientAddress", UNSET))

        def _parse_token_address(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        token_address = _parse_token_address(d.pop("tokenAddress", UNSET))

        create_payment_request = cls(
            amount=amount,
            currency=currency,
            order_id=order_id,
            chain_id=chain_id,
            customer_email=customer_email,
            description=description,
            expires_in_secs=expires_in_secs,
            metadata=metadata,
            rail=rail,
            recipient_address=recipient_address,
            token_address=token_address,
        )

        return create_payment_request
