from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..models.place_order_request_pattern_type_1 import PlaceOrderRequestPatternType1
from ..models.place_order_request_pattern_type_2_type_1 import (
    PlaceOrderRequestPatternType2Type1,
)
from ..models.place_order_request_pattern_type_3_type_1 import (
    PlaceOrderRequestPatternType3Type1,
)
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.order_card import OrderCard
    from ..models.order_line import OrderLine
    from ..models.place_order_request_metadata_type_0 import (
        PlaceOrderRequestMetadataType0,
    )


T = TypeVar("T", bound="PlaceOrderRequest")


@_attrs_define
class PlaceOrderRequest:
    """`POST /v1/orders`.

    Attributes:
        items (list[OrderLine]):
        user_id (str):  Example: user-123.
        card (None | OrderCard | Unset):
        customer_email (None | str | Unset): The customer's email address; its card payment carries it too.
        description (None | str | Unset): What the order is for (up to 1000 characters); its card payment carries it
            too.
        issued_coupon_id (None | str | Unset):
        metadata (None | PlaceOrderRequestMetadataType0 | Unset): Up to 50 keys with string values, as on a payment; its
            card payment carries them too.
        pattern (None | PlaceOrderRequestPatternType1 | PlaceOrderRequestPatternType2Type1 |
            PlaceOrderRequestPatternType3Type1 | Unset): `orchestration` or `choreography` (default: the server's
            SETTLE_SAGA_PATTERN, orchestration unless set). Example: orchestration.
        use_points (int | None | Unset): Points to spend, in minor units (default 0). Example: 5000.
    """

    items: list[OrderLine]
    user_id: str
    card: None | OrderCard | Unset = UNSET
    customer_email: None | str | Unset = UNSET
    description: None | str | Unset = UNSET
    issued_coupon_id: None | str | Unset = UNSET
    metadata: None | PlaceOrderRequestMetadataType0 | Unset = UNSET
    pattern: (
        None
        | PlaceOrderRequestPatternType1
        | PlaceOrderRequestPatternType2Type1
        | PlaceOrderRequestPatternType3Type1
        | Unset
    ) = UNSET
    use_points: int | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.order_card import OrderCard
        from ..models.place_order_request_metadata_type_0 import (
            PlaceOrderRequestMetadataType0,
        )

        items = []
        for items_item_data in self.items:
            items_item = items_item_data.to_dict()
            items.append(items_item)

        user_id = self.user_id

        card: dict[str, Any] | None | Unset
        if isinstance(self.card, Unset):
            card = UNSET
        elif isinstance(self.card, OrderCard):
            card = self.card.to_dict()
        else:
            card = self.card

        customer_email: None | str | Unset
        if isinstance(self.customer_email, Unset):
            customer_email = UNSET
        else:
            customer_email = self.customer_email

        description: None | str | Unset
        if isinstance(self.description, Unset):
            description = UNSET
        else:
            description = self.description

        issued_coupon_id: None | str | Unset
        if isinstance(self.issued_coupon_id, Unset):
            issued_coupon_id = UNSET
        else:
            issued_coupon_id = self.issued_coupon_id

        metadata: dict[str, Any] | None | Unset
        if isinstance(self.metadata, Unset):
            metadata = UNSET
        elif isinstance(self.metadata, PlaceOrderRequestMetadataType0):
            metadata = self.metadata.to_dict()
        else:
            metadata = self.metadata

        pattern: None | str | Unset
        if isinstance(self.pattern, Unset):
            pattern = UNSET
        elif (
            isinstance(self.pattern, PlaceOrderRequestPatternType1)
            or isinstance(self.pattern, PlaceOrderRequestPatternType2Type1)
            or isinstance(self.pattern, PlaceOrderRequestPatternType3Type1)
        ):
            pattern = self.pattern.value
        else:
            pattern = self.pattern

        use_points: int | None | Unset
        if isinstance(self.use_points, Unset):
            use_points = UNSET
        else:
            use_points = self.use_points

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "items": items,
                "userId": user_id,
            }
        )
        if card is not UNSET:
            field_dict["card"] = card
        if customer_email is not UNSET:
            field_dict["customerEmail"] = customer_email
        if description is not UNSET:
            field_dict["description"] = description
        if issued_coupon_id is not UNSET:
            field_dict["issuedCouponId"] = issued_coupon_id
        if metadata is not UNSET:
            field_dict["metadata"] = metadata
        if pattern is not UNSET:
            field_dict["pattern"] = pattern
        if use_points is not UNSET:
            field_dict["usePoints"] = use_points

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.order_card import OrderCard
        from ..models.order_line import OrderLine
        from ..models.place_order_request_metadata_type_0 import (
            PlaceOrderRequestMetadataType0,
        )

        d = dict(src_dict)
        items = []
        _items = d.pop("items")
        for items_item_data in _items:
            items_item = OrderLine.from_dict(items_item_data)

            items.append(items_item)

        user_id = d.pop("userId")

        def _parse_card(data: object) -> None | OrderCard | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                card_type_1 = OrderCard.from_dict(data)

                return card_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | OrderCard | Unset, data)

        card = _parse_card(d.pop("card", UNSET))

        def _parse_customer_email(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        customer_email = _parse_customer_email(d.pop("customerEmail", UNSET))

        def _parse_description(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        description = _parse_description(d.pop("description", UNSET))

        def _parse_issued_coupon_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        issued_coupon_id = _parse_issued_coupon_id(d.pop("issuedCouponId", UNSET))

        def _parse_metadata(
            data: object,
        ) -> None | PlaceOrderRequestMetadataType0 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                metadata_type_0 = PlaceOrderRequestMetadataType0.from_dict(data)

                return metadata_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | PlaceOrderRequestMetadataType0 | Unset, data)

        metadata = _parse_metadata(d.pop("metadata", UNSET))

        def _parse_pattern(
            data: object,
        ) -> (
            None
            | PlaceOrderRequestPatternType1
            | PlaceOrderRequestPatternType2Type1
            | PlaceOrderRequestPatternType3Type1
            | Unset
        ):
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                pattern_type_1 = PlaceOrderRequestPatternType1(data)

                return pattern_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, str):
                    raise TypeError()
                pattern_type_2_type_1 = PlaceOrderRequestPatternType2Type1(data)

                return pattern_type_2_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, str):
                    raise TypeError()
                pattern_type_3_type_1 = PlaceOrderRequestPatternType3Type1(data)

                return pattern_type_3_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(
                None
                | PlaceOrderRequestPatternType1
                | PlaceOrderRequestPatternType2Type1
                | PlaceOrderRequestPatternType3Type1
                | Unset,
                data,
            )

        pattern = _parse_pattern(d.pop("pattern", UNSET))

        def _parse_use_points(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        use_points = _parse_use_points(d.pop("usePoints", UNSET))

        place_order_request = cls(
            items=items,
            user_id=user_id,
            card=card,
            customer_email=customer_email,
            description=description,
            issued_coupon_id=issued_coupon_id,
            metadata=metadata,
            pattern=pattern,
            use_points=use_points,
        )

        return place_order_request
