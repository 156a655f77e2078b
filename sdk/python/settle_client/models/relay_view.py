from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.payment_view import PaymentView


T = TypeVar("T", bound="RelayView")


@_attrs_define
class RelayView:
    """What a relay that was waited for answers (`POST /v1/payments/{id}/relay`): the relay request and the payment.

    Attributes:
        payment (PaymentView): A payment as the API shows it.
        relay_request_id (str):
    """

    payment: PaymentView
    relay_request_id: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        payment = self.payment.to_dict()

        relay_request_id = self.relay_request_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "payment": payment,
                "relayRequestId": relay_request_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.payment_view import PaymentView

        d = dict(src_dict)
        payment = PaymentView.from_dict(d.pop("payment"))

        relay_request_id = d.pop("relayRequestId")

        relay_view = cls(
            payment=payment,
            relay_request_id=relay_request_id,
        )

        relay_view.additional_properties = d
        return relay_view

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
