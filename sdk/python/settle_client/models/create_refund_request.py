from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.create_refund_request_metadata_type_0 import (
        CreateRefundRequestMetadataType0,
    )


T = TypeVar("T", bound="CreateRefundRequest")


@_attrs_define
class CreateRefundRequest:
    """`POST /v1/payments/{paymentId}/refunds` (an empty body refunds everything not yet refunded).

    Attributes:
        amount (None | str | Unset): Exact integer amount in minor units, as a decimal string; default: everything not
            yet refunded. Example: 500.
        metadata (CreateRefundRequestMetadataType0 | None | Unset): Up to 50 keys (up to 40 characters each) with string
            values (up to 500 characters each).
        reason (None | str | Unset): duplicate, fraudulent or requested_by_customer. Example: requested_by_customer.
    """

    amount: None | str | Unset = UNSET
    metadata: CreateRefundRequestMetadataType0 | None | Unset = UNSET
    reason: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.create_refund_request_metadata_type_0 import (
            CreateRefundRequestMetadataType0,
        )

        amount: None | str | Unset
        if isinstance(self.amount, Unset):
            amount = UNSET
        else:
            amount = self.amount

        metadata: dict[str, Any] | None | Unset
        if isinstance(self.metadata, Unset):
            metadata = UNSET
        elif isinstance(self.metadata, CreateRefundRequestMetadataType0):
            metadata = self.metadata.to_dict()
        else:
            metadata = self.metadata

        reason: None | str | Unset
        if isinstance(self.reason, Unset):
            reason = UNSET
        else:
            reason = self.reason

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if amount is not UNSET:
            field_dict["amount"] = amount
        if metadata is not UNSET:
            field_dict["metadata"] = metadata
        if reason is not UNSET:
            field_dict["reason"] = reason

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.create_refund_request_metadata_type_0 import (
            CreateRefundRequestMetadataType0,
        )

        d = dict(src_dict)

        def _parse_amount(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        amount = _parse_amount(d.pop("amount", UNSET))

        def _parse_metadata(
            data: object,
        ) -> CreateRefundRequestMetadataType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                metadata_type_0 = CreateRefundRequestMetadataType0.from_dict(data)

                return metadata_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(CreateRefundRequestMetadataType0 | None | Unset, data)

        metadata = _parse_metadata(d.pop("metadata", UNSET))

        def _parse_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        reason = _parse_reason(d.pop("reason", UNSET))

        create_refund_request = cls(
            amount=amount,
            metadata=metadata,
            reason=reason,
        )

        return create_refund_request
