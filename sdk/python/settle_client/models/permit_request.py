from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="PermitRequest")


@_attrs_define
class PermitRequest:
    """A signed EIP-2612 permit: the `value` and `deadline` of the message signed, and the 65-byte signature.

    Attributes:
        deadline (str):  Example: 1796390685.
        signature (str):  Example: 0x….
        value (str):  Example: 1500.
    """

    deadline: str
    signature: str
    value: str

    def to_dict(self) -> dict[str, Any]:
        deadline = self.deadline

        signature = self.signature

        value = self.value

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "deadline": deadline,
                "signature": signature,
                "value": value,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        deadline = d.pop("deadline")

        signature = d.pop("signature")

        value = d.pop("value")

        permit_request = cls(
            deadline=deadline,
            signature=signature,
            value=value,
        )

        return permit_request
