from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..models.purchase_request_pattern_type_1 import PurchaseRequestPatternType1
from ..models.purchase_request_pattern_type_2_type_1 import (
    PurchaseRequestPatternType2Type1,
)
from ..models.purchase_request_pattern_type_3_type_1 import (
    PurchaseRequestPatternType3Type1,
)
from ..types import UNSET, Unset

T = TypeVar("T", bound="PurchaseRequest")


@_attrs_define
class PurchaseRequest:
    """`POST /purchase` (seed 002's shape: its load test sends `{userId, itemId, quantity, price}`).

    Attributes:
        item_id (str):  Example: item-sword.
        quantity (int):  Example: 1.
        user_id (str):  Example: user-123.
        pattern (None | PurchaseRequestPatternType1 | PurchaseRequestPatternType2Type1 |
            PurchaseRequestPatternType3Type1 | Unset): `orchestration` or `choreography`.
        price (int | None | Unset): The item's unit price as the buyer saw it, in minor units: checked against the
            item's, never trusted (a
            different price is refused with 409 `price_changed`, nothing bought). Example: 15000.
    """

    item_id: str
    quantity: int
    user_id: str
    pattern: (
        None
        | PurchaseRequestPatternType1
        | PurchaseRequestPatternType2Type1
        | PurchaseRequestPatternType3Type1
        | Unset
    ) = UNSET
    price: int | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        item_id = self.item_id

        quantity = self.quantity

        user_id = self.user_id

        pattern: None | str | Unset
        if isinstance(self.pattern, Unset):
            pattern = UNSET
        elif (
            isinstance(self.pattern, PurchaseRequestPatternType1)
            or isinstance(self.pattern, PurchaseRequestPatternType2Type1)
            or isinstance(self.pattern, PurchaseRequestPatternType3Type1)
        ):
            pattern = self.pattern.value
        else:
            pattern = self.pattern

        price: int | None | Unset
        if isinstance(self.price, Unset):
            price = UNSET
        else:
            price = self.price

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "itemId": item_id,
                "quantity": quantity,
                "userId": user_id,
            }
        )
        if pattern is not UNSET:
            field_dict["pattern"] = pattern
        if price is not UNSET:
            field_dict["price"] = price

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        item_id = d.pop("itemId")

        quantity = d.pop("quantity")

        user_id = d.pop("userId")

        def _parse_pattern(
            data: object,
        ) -> (
            None
            | PurchaseRequestPatternType1
            | PurchaseRequestPatternType2Type1
            | PurchaseRequestPatternType3Type1
            | Unset
        ):
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                pattern_type_1 = PurchaseRequestPatternType1(data)

                return pattern_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, str):
                    raise TypeError()
                pattern_type_2_type_1 = PurchaseRequestPatternType2Type1(data)

                return pattern_type_2_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, str):
                    raise TypeError()
                pattern_type_3_type_1 = PurchaseRequestPatternType3Type1(data)

                return pattern_type_3_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(
                None
                | PurchaseRequestPatternType1
                | PurchaseRequestPatternType2Type1
                | PurchaseRequestPatternType3Type1
                | Unset,
                data,
            )

        pattern = _parse_pattern(d.pop("pattern", UNSET))

        def _parse_price(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        price = _parse_price(d.pop("price", UNSET))

        purchase_request = cls(
            item_id=item_id,
            quantity=quantity,
            user_id=user_id,
            pattern=pattern,
            price=price,
        )

        return purchase_request
