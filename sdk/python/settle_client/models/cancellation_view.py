from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.cancellation_line import CancellationLine


T = TypeVar("T", bound="CancellationView")


@_attrs_define
class CancellationView:
    """A cancellation of an order, whole or some of its lines.

    Attributes:
        cancellation_id (str):  Example: oc_0193a1b2c3d47e5f8a9b0c1d2e3f4a5b.
        card_amount (int): Refunded to the card, in minor units (by the refund `refundId`).
        closes_order (bool): The order became CANCELLED with it: every line is cancelled by cancellations that
            SUCCEEDED.
        coupon_released (bool): The order's coupon became usable again with it (when it closed the order).
        created_at (str):
        items (list[CancellationLine]):
        livemode (bool):
        order_id (str):
        points (int): Given back as points.
        status (str): PENDING (its card refund is under way), SUCCEEDED or FAILED.
        updated_at (str):
        version (int):
        failure_code (None | str | Unset): FAILED: the card refund's failure code and message (nothing was given back).
        failure_message (None | str | Unset):
        flag_reason (None | str | Unset): Set when the gateway did something Settle could not apply as it is (a refund
            made after the cancellation had
            failed and its lines were cancelled again): an operator must look.
        reason (None | str | Unset):
        refund_id (None | str | Unset):
    """

    cancellation_id: str
    card_amount: int
    closes_order: bool
    coupon_released: bool
    created_at: str
    items: list[CancellationLine]
    livemode: bool
    order_id: str
    points: int
    status: str
    updated_at: str
    version: int
    failure_code: None | str | Unset = UNSET
    failure_message: None | str | Unset = UNSET
    flag_reason: None | str | Unset = UNSET
    reason: None | str | Unset = UNSET
    refund_id: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        cancellation_id = self.cancellation_id

        card_amount = self.card_amount

        closes_order = self.closes_order

        coupon_released = self.coupon_released

        created_at = self.created_at

        items = []
        for items_item_data in self.items:
            items_item = items_item_data.to_dict()
            items.append(items_item)

        livemode = self.livemode

        order_id = self.order_id

        points = self.points

        status = self.status

        updated_at = self.updated_at

        version = self.version

        failure_code: None | str | Unset
        if isinstance(self.failure_code, Unset):
            failure_code = UNSET
        else:
            failure_code = self.failure_code

        failure_message: None | str | Unset
        if isinstance(self.failure_message, Unset):
            failure_message = UNSET
        else:
            failure_message = self.failure_message

        flag_reason: None | str | Unset
        if isinstance(self.flag_reason, Unset):
            flag_reason = UNSET
        else:
            flag_reason = self.flag_reason

        reason: None | str | Unset
        if isinstance(self.reason, Unset):
            reason = UNSET
        else:
            reason = self.reason

        refund_id: None | str | Unset
        if isinstance(self.refund_id, Unset):
            refund_id = UNSET
        else:
            refund_id = self.refund_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "cancellationId": cancellation_id,
                "cardAmount": card_amount,
                "closesOrder": closes_order,
                "couponReleased": coupon_released,
                "createdAt": created_at,
                "items": items,
                "livemode": livemode,
                "orderId": order_id,
                "points": points,
                "status": status,
                "updatedAt": updated_at,
                "version": version,
            }
        )
        if failure_code is not UNSET:
            field_dict["failureCode"] = failure_code
        if failure_message is not UNSET:
            field_dict["failureMessage"] = failure_message
        if flag_reason is not UNSET:
            field_dict["flagReason"] = flag_reason
        if reason is not UNSET:
            field_dict["reason"] = reason
        if refund_id is not UNSET:
            field_dict["refundId"] = refund_id

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.cancellation_line import CancellationLine

        d = dict(src_dict)
        cancellation_id = d.pop("cancellationId")

        card_amount = d.pop("cardAmount")

        closes_order = d.pop("closesOrder")

        coupon_released = d.pop("couponReleased")

        created_at = d.pop("createdAt")

        items = []
        _items = d.pop("items")
        for items_item_data in _items:
            items_item = CancellationLine.from_dict(items_item_data)

            items.append(items_item)

        livemode = d.pop("livemode")

        order_id = d.pop("orderId")

        points = d.pop("points")

        status = d.pop("status")

        updated_at = d.pop("updatedAt")

        version = d.pop("version")

        def _parse_failure_code(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        failure_code = _parse_failure_code(d.pop("failureCode", UNSET))

        def _parse_failure_message(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        failure_message = _parse_failure_message(d.pop("failureMessage", UNSET))

        def _parse_flag_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        flag_reason = _parse_flag_reason(d.pop("flagReason", UNSET))

        def _parse_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        reason = _parse_reason(d.pop("reason", UNSET))

        def _parse_refund_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        refund_id = _parse_refund_id(d.pop("refundId", UNSET))

        cancellation_view = cls(
            cancellation_id=cancellation_id,
            card_amount=card_amount,
            closes_order=closes_order,
            coupon_released=coupon_released,
            created_at=created_at,
            items=items,
            livemode=livemode,
            order_id=order_id,
            points=points,
            status=status,
            updated_at=updated_at,
            version=version,
            failure_code=failure_code,
            failure_message=failure_message,
            flag_reason=flag_reason,
            reason=reason,
            refund_id=refund_id,
        )

        cancellation_view.additional_properties = d
        return cancellation_view

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
