from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="UpdateMerchantRequest")


@_attrs_define
class UpdateMerchantRequest:
    """`PATCH /v1/merchants/{merchantId}`.

    Attributes:
        fee_bps (int): Fee on chain payments in basis points, 0 to 10000. Applies to payments created from now on; a
            payment's
            signed terms keep the fee they were signed with. Example: 150.
    """

    fee_bps: int

    def to_dict(self) -> dict[str, Any]:
        fee_bps = self.fee_bps

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "feeBps": fee_bps,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        fee_bps = d.pop("feeBps")

        update_merchant_request = cls(
            fee_bps=fee_bps,
        )

        return update_merchant_request
