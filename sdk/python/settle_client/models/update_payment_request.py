from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.update_payment_request_metadata_type_0 import (
        UpdatePaymentRequestMetadataType0,
    )


T = TypeVar("T", bound="UpdatePaymentRequest")


@_attrs_define
class UpdatePaymentRequest:
    """`POST /v1/payments/{paymentId}`: the fields to change; a field left out is kept.

    Attributes:
        customer_email (None | str | Unset): A new customer email; null or "" removes it.
        description (None | str | Unset): A new description; null or "" removes it.
        metadata (None | Unset | UpdatePaymentRequestMetadataType0): Keys to set (a string) or remove (null or ""); keys
            not named are kept. `null` removes every key.
    """

    customer_email: None | str | Unset = UNSET
    description: None | str | Unset = UNSET
    metadata: None | Unset | UpdatePaymentRequestMetadataType0 = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.update_payment_request_metadata_type_0 import (
            UpdatePaymentRequestMetadataType0,
        )

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

        metadata: dict[str, Any] | None | Unset
        if isinstance(self.metadata, Unset):
            metadata = UNSET
        elif isinstance(self.metadata, UpdatePaymentRequestMetadataType0):
            metadata = self.metadata.to_dict()
        else:
            metadata = self.metadata

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if customer_email is not UNSET:
            field_dict["customerEmail"] = customer_email
        if description is not UNSET:
            field_dict["description"] = description
        if metadata is not UNSET:
            field_dict["metadata"] = metadata

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.update_payment_request_metadata_type_0 import (
            UpdatePaymentRequestMetadataType0,
        )

        d = dict(src_dict)

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

        def _parse_metadata(
            data: object,
        ) -> None | Unset | UpdatePaymentRequestMetadataType0:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                metadata_type_0 = UpdatePaymentRequestMetadataType0.from_dict(data)

                return metadata_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | UpdatePaymentRequestMetadataType0, data)

        metadata = _parse_metadata(d.pop("metadata", UNSET))

        update_payment_request = cls(
            customer_email=customer_email,
            description=description,
            metadata=metadata,
        )

        return update_payment_request
