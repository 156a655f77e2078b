from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="TermsView")


@_attrs_define
class TermsView:
    """The terms as the API shows them (and as `pay` takes them).

    Attributes:
        amount (str): Exact integer in the token's base unit, as a decimal string.
        deadline (int): Epoch seconds.
        fee_bps (int):
        payment_id (str):
        recipient (str):
        token (str):
    """

    amount: str
    deadline: int
    fee_bps: int
    payment_id: str
    recipient: str
    token: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        amount = self.amount

        deadline = self.deadline

        fee_bps = self.fee_bps

        payment_id = self.payment_id

        recipient = self.recipient

        token = self.token

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "amount": amount,
                "deadline": deadline,
                "feeBps": fee_bps,
                "paymentId": payment_id,
                "recipient": recipient,
                "token": token,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        amount = d.pop("amount")

        deadline = d.pop("deadline")

        fee_bps = d.pop("feeBps")

        payment_id = d.pop("paymentId")

        recipient = d.pop("recipient")

        token = d.pop("token")

        terms_view = cls(
            amount=amount,
            deadline=deadline,
            fee_bps=fee_bps,
            payment_id=payment_id,
            recipient=recipient,
            token=token,
        )

        terms_view.additional_properties = d
        return terms_view

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
