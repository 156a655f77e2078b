from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.cancellation_view import CancellationView
    from ..models.order_view import OrderView
    from ..models.payment_view import PaymentView
    from ..models.saga_view import SagaView


T = TypeVar("T", bound="PlacedOrder")


@_attrs_define
class PlacedOrder:
    """The answer of `POST /v1/orders`: the order, its payment (when a remainder is paid by card) and the saga.

    Attributes:
        order (OrderView): An order. Amounts are integer minor units: `usedPoints + couponDiscount + paidAmount ==
            totalAmount`.
        saga (SagaView): A purchase saga (`transactionId`), its status and the results of its steps.
        cancellations (list[CancellationView] | Unset): The order's cancellations, oldest first (`POST
            /v1/orders/{orderId}/cancel`).
        payment (None | PaymentView | Unset):
    """

    order: OrderView
    saga: SagaView
    cancellations: list[CancellationView] | Unset = UNSET
    payment: None | PaymentView | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.payment_view import PaymentView

        order = self.order.to_dict()

        saga = self.saga.to_dict()

        cancellations: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.cancellations, Unset):
            cancellations = []
            for cancellations_item_data in self.cancellations:
                cancellations_item = cancellations_item_data.to_dict()
                cancellations.append(cancellations_item)

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
                "order": order,
                "saga": saga,
            }
        )
        if cancellations is not UNSET:
            field_dict["cancellations"] = cancellations
        if payment is not UNSET:
            field_dict["payment"] = payment

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.cancellation_view import CancellationView
        from ..models.order_view import OrderView
        from ..models.payment_view import PaymentView
        from ..models.saga_view import SagaView

        d = dict(src_dict)
        order = OrderView.from_dict(d.pop("order"))

        saga = SagaView.from_dict(d.pop("saga"))

        _cancellations = d.pop("cancellations", UNSET)
        cancellations: list[CancellationView] | Unset = UNSET
        if _cancellations is not UNSET:
            cancellations = []
            for cancellations_item_data in _cancellations:
                cancellations_item = CancellationView.from_dict(cancellations_item_data)

                cancellations.append(cancellations_item)

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

        placed_order = cls(
            order=order,
            saga=saga,
            cancellations=cancellations,
            payment=payment,
        )

        placed_order.additional_properties = d
        return placed_order

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
