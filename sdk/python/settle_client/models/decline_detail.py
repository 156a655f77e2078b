from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.payment_view import PaymentView
    from ..models.placed_order import PlacedOrder


T = TypeVar("T", bound="DeclineDetail")


@_attrs_define
class DeclineDetail:
    """
    Attributes:
        code (str): card_declined.
        message (str): The gateway's reason.
        request_id (str):
        type_ (str): card_error.
        order (None | PlacedOrder | Unset):
        payment (None | PaymentView | Unset):
    """

    code: str
    message: str
    request_id: str
    type_: str
    order: None | PlacedOrder | Unset = UNSET
    payment: None | PaymentView | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.payment_view import PaymentView
        from ..models.placed_order import PlacedOrder

        code = self.code

        message = self.message

        request_id = self.request_id

        type_ = self.type_

        order: dict[str, Any] | None | Unset
        if isinstance(self.order, Unset):
            order = UNSET
        elif isinstance(self.order, PlacedOrder):
            order = self.order.to_dict()
        else:
            order = self.order

        payment: dict[str, Any] | None | Unset
        if isinstance(self.payment, Unset):
            payment = UNSET
        elif isinstance(self.payment, PaymentView):
            payment = self.payment.to_dict()
        else:
            payment = self.payment

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "code": code,
                "message": message,
                "requestId": request_id,
                "type": type_,
            }
        )
        if order is not UNSET:
            field_dict["order"] = order
        if payment is not UNSET:
            field_dict["payment"] = payment

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.payment_view import PaymentView
        from ..models.placed_order import PlacedOrder

        d = dict(src_dict)
        code = d.pop("code")

        message = d.pop("message")

        request_id = d.pop("requestId")

        type_ = d.pop("type")

        def _parse_order(data: object) -> None | PlacedOrder | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                order_type_1 = PlacedOrder.from_dict(data)

                return order_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | PlacedOrder | Unset, data)

        order = _parse_order(d.pop("order", UNSET))

        def _parse_payment(data: object) -> None | PaymentView | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                payment_type_1 = PaymentView.from_dict(data)

                return payment_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | PaymentView | Unset, data)

        payment = _parse_payment(d.pop("payment", UNSET))

        decline_detail = cls(
            code=code,
            message=message,
            request_id=request_id,
            type_=type_,
            order=order,
            payment=payment,
        )

        decline_detail.additional_properties = d
        return decline_detail

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
