from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

from ..models.order_card_card_type import OrderCardCardType

T = TypeVar("T", bound="OrderCard")


@_attrs_define
class OrderCard:
    """
    Attributes:
        card_no (str):  Example: 4111-1111-1111-1111.
        card_type (OrderCardCardType):  Example: SAMSUNG.
    """

    card_no: str
    card_type: OrderCardCardType

    def to_dict(self) -> dict[str, Any]:
        card_no = self.card_no

        card_type = self.card_type.value

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "cardNo": card_no,
                "cardType": card_type,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        card_no = d.pop("cardNo")

        card_type = OrderCardCardType(d.pop("cardType"))

        order_card = cls(
            card_no=card_no,
            card_type=card_type,
        )

        return order_card
