from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="CreateCouponRequest")


@_attrs_define
class CreateCouponRequest:
    """`POST /v1/coupons`.

    Attributes:
        coupon_id (str):  Example: welcome-3000.
        discount (int): A fixed discount, in minor units. Example: 3000.
        name (str):  Example: Welcome.
    """

    coupon_id: str
    discount: int
    name: str

    def to_dict(self) -> dict[str, Any]:
        coupon_id = self.coupon_id

        discount = self.discount

        name = self.name

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "couponId": coupon_id,
                "discount": discount,
                "name": name,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        coupon_id = d.pop("couponId")

        discount = d.pop("discount")

        name = d.pop("name")

        create_coupon_request = cls(
            coupon_id=coupon_id,
            discount=discount,
            name=name,
        )

        return create_coupon_request
