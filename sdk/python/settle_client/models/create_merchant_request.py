from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="CreateMerchantRequest")


@_attrs_define
class CreateMerchantRequest:
    """`POST /v1/merchants`.

    Attributes:
        name (str):  Example: Acme Shop.
        fee_bps (int | None | Unset): Fee on chain payments in basis points, 0 to 10000 (default 0). Example: 250.
    """

    name: str
    fee_bps: int | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        fee_bps: int | None | Unset
        if isinstance(self.fee_bps, Unset):
            fee_bps = UNSET
        else:
            fee_bps = self.fee_bps

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
            }
        )
        if fee_bps is not UNSET:
            field_dict["feeBps"] = fee_bps

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        name = d.pop("name")

        def _parse_fee_bps(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        fee_bps = _parse_fee_bps(d.pop("feeBps", UNSET))

        create_merchant_request = cls(
            name=name,
            fee_bps=fee_bps,
        )

        return create_merchant_request
