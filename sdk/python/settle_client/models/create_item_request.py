from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="CreateItemRequest")


@_attrs_define
class CreateItemRequest:
    """`POST /v1/items`.

    Attributes:
        item_id (str):  Example: item-shield.
        name (str):  Example: Shield.
        price (int): Minor units. Example: 12000.
        stock (int):  Example: 50.
        available (bool | None | Unset): Default true.
    """

    item_id: str
    name: str
    price: int
    stock: int
    available: bool | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        item_id = self.item_id

        name = self.name

        price = self.price

        stock = self.stock

        available: bool | None | Unset
        if isinstance(self.available, Unset):
            available = UNSET
        else:
            available = self.available

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "itemId": item_id,
                "name": name,
                "price": price,
                "stock": stock,
            }
        )
        if available is not UNSET:
            field_dict["available"] = available

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        item_id = d.pop("itemId")

        name = d.pop("name")

        price = d.pop("price")

        stock = d.pop("stock")

        def _parse_available(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        available = _parse_available(d.pop("available", UNSET))

        create_item_request = cls(
            item_id=item_id,
            name=name,
            price=price,
            stock=stock,
            available=available,
        )

        return create_item_request
