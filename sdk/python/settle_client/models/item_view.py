from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="ItemView")


@_attrs_define
class ItemView:
    """
    Attributes:
        available (bool):
        created_at (str):
        item_id (str):
        livemode (bool): Whether it is live (false: a test key's).
        name (str):
        price (int):
        stock (int):
    """

    available: bool
    created_at: str
    item_id: str
    livemode: bool
    name: str
    price: int
    stock: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        available = self.available

        created_at = self.created_at

        item_id = self.item_id

        livemode = self.livemode

        name = self.name

        price = self.price

        stock = self.stock

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "available": available,
                "createdAt": created_at,
                "itemId": item_id,
                "livemode": livemode,
                "name": name,
                "price": price,
                "stock": stock,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        available = d.pop("available")

        created_at = d.pop("createdAt")

        item_id = d.pop("itemId")

        livemode = d.pop("livemode")

        name = d.pop("name")

        price = d.pop("price")

        stock = d.pop("stock")

        item_view = cls(
            available=available,
            created_at=created_at,
            item_id=item_id,
            livemode=livemode,
            name=name,
            price=price,
            stock=stock,
        )

        item_view.additional_properties = d
        return item_view

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
