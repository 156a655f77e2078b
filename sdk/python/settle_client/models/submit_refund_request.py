from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.permit_request import PermitRequest


T = TypeVar("T", bound="SubmitRefundRequest")


@_attrs_define
class SubmitRefundRequest:
    """`POST /v1/refunds/{refundId}/submit`.

    Attributes:
        deadline (int): The `deadline` of the terms `typed-data` gave (Unix seconds). Example: 1796390685.
        recipient_signature (str): The recipient's signature of `refundTerms` (0x and 65 bytes of hex). Example: 0x….
        permit (None | PermitRequest | Unset):
    """

    deadline: int
    recipient_signature: str
    permit: None | PermitRequest | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.permit_request import PermitRequest

        deadline = self.deadline

        recipient_signature = self.recipient_signature

        permit: dict[str, Any] | None | Unset
        if isinstance(self.permit, Unset):
            permit = UNSET
        elif isinstance(self.permit, PermitRequest):
            permit = self.permit.to_dict()
        else:
            permit = self.permit

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "deadline": deadline,
                "recipientSignature": recipient_signature,
            }
        )
        if permit is not UNSET:
            field_dict["permit"] = permit

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.permit_request import PermitRequest

        d = dict(src_dict)
        deadline = d.pop("deadline")

        recipient_signature = d.pop("recipientSignature")

        def _parse_permit(data: object) -> None | PermitRequest | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                permit_type_1 = PermitRequest.from_dict(data)

                return permit_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | PermitRequest | Unset, data)

        permit = _parse_permit(d.pop("permit", UNSET))

        submit_refund_request = cls(
            deadline=deadline,
            recipient_signature=recipient_signature,
            permit=permit,
        )

        return submit_refund_request
