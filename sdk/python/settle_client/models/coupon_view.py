from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="CouponView")


@_attrs_define
class CouponView:
    """
    Attributes:
        coupon_id (str):
        discount (int):
        livemode (bool): Whether it is live (false: a test key's).
        name (str):
    """

    coupon_id: str
    discount: int
    livemode: bool
    name: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        coupon_id = self.coupon_id

        discount = self.discount

        livemode = self.livemode

        name = self.name

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "couponId": coupon_id,
                "discount": discount,
                "livemode": livemode,
                "name": name,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        coupon_id = d.pop("couponId")

        discount = d.pop("discount")

        livemode = d.pop("livemode")

        name = d.pop("name")

        coupon_view = cls(
            coupon_id=coupon_id,
            discount=discount,
            livemode=livemode,
            name=name,
        )

        coupon_view.additional_properties = d
        return coupon_view

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
