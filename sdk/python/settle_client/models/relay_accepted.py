from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="RelayAccepted")


@_attrs_define
class RelayAccepted:
    """What a verified relay request answers.

    Attributes:
        payment_id (str):
        relay_request_id (str):
        status (str):
    """

    payment_id: str
    relay_request_id: str
    status: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        payment_id = self.payment_id

        relay_request_id = self.relay_request_id

        status = self.status

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "paymentId": payment_id,
                "relayRequestId": relay_request_id,
                "status": status,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        payment_id = d.pop("paymentId")

        relay_request_id = d.pop("relayRequestId")

        status = d.pop("status")

        relay_accepted = cls(
            payment_id=payment_id,
            relay_request_id=relay_request_id,
            status=status,
        )

        relay_accepted.additional_properties = d
        return relay_accepted

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
