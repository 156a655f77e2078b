from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="CancelLine")


@_attrs_define
class CancelLine:
    """A line of `POST /v1/orders/{orderId}/cancel`.

    Attributes:
        item_id (str):  Example: item-sword.
        quantity (int):  Example: 1.
    """

    item_id: str
    quantity: int

    def to_dict(self) -> dict[str, Any]:
        item_id = self.item_id

        quantity = self.quantity

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "itemId": item_id,
                "quantity": quantity,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        item_id = d.pop("itemId")

        quantity = d.pop("quantity")

        cancel_line = cls(
            item_id=item_id,
            quantity=quantity,
        )

        return cancel_line
