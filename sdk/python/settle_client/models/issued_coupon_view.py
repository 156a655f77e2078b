from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="IssuedCouponView")


@_attrs_define
class IssuedCouponView:
    """
    Attributes:
        coupon_id (str):
        issued_coupon_id (str):
        livemode (bool): Whether it is live (false: a test key's).
        status (str): AVAILABLE or USED.
        user_id (str):
    """

    coupon_id: str
    issued_coupon_id: str
    livemode: bool
    status: str
    user_id: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        coupon_id = self.coupon_id

        issued_coupon_id = self.issued_coupon_id

        livemode = self.livemode

        status = self.status

        user_id = self.user_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "couponId": coupon_id,
                "issuedCouponId": issued_coupon_id,
                "livemode": livemode,
                "status": status,
                "userId": user_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        coupon_id = d.pop("couponId")

        issued_coupon_id = d.pop("issuedCouponId")

        livemode = d.pop("livemode")

        status = d.pop("status")

        user_id = d.pop("userId")

        issued_coupon_view = cls(
            coupon_id=coupon_id,
            issued_coupon_id=issued_coupon_id,
            livemode=livemode,
            status=status,
            user_id=user_id,
        )

        issued_coupon_view.additional_properties = d
        return issued_coupon_view

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
