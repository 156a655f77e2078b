from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="IssueCouponRequest")


@_attrs_define
class IssueCouponRequest:
    """`POST /v1/coupons/{couponId}/issue`.

    Attributes:
        user_id (str):  Example: user-123.
    """

    user_id: str

    def to_dict(self) -> dict[str, Any]:
        user_id = self.user_id

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "userId": user_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        user_id = d.pop("userId")

        issue_coupon_request = cls(
            user_id=user_id,
        )

        return issue_coupon_request
