from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.order_line_view import OrderLineView
    from ..models.order_view_metadata import OrderViewMetadata


T = TypeVar("T", bound="OrderView")


@_attrs_define
class OrderView:
    """An order. Amounts are integer minor units: `usedPoints + couponDiscount + paidAmount == totalAmount`.

    Attributes:
        coupon_discount (int):
        created_at (str):
        items (list[OrderLineView]):
        livemode (bool): Whether the order is live (false: placed with a test key).
        order_id (str):
        paid_amount (int):
        status (str): PLACED, PAID or CANCELLED.
        total_amount (int):
        transaction_id (str):
        updated_at (str):
        used_points (int):
        user_id (str):
        customer_email (None | str | Unset):
        description (None | str | Unset):
        issued_coupon_id (None | str | Unset):
        metadata (OrderViewMetadata | Unset): The merchant's key-value pairs (`{}` when none).
        payment_id (None | str | Unset):
    """

    coupon_discount: int
    created_at: str
    items: list[OrderLineView]
    livemode: bool
    order_id: str
    paid_amount: int
    status: str
    total_amount: int
    transaction_id: str
    updated_at: str
    used_points: int
    user_id: str
    customer_email: None | str | Unset = UNSET
    description: None | str | Unset = UNSET
    issued_coupon_id: None | str | Unset = UNSET
    metadata: OrderViewMetadata | Unset = UNSET
    payment_id: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        coupon_discount = self.coupon_discount

        created_at = self.created_at

        items = []
        for items_item_data in self.items:
            items_item = items_item_data.to_dict()
            items.append(items_item)

        livemode = self.livemode

        order_id = self.order_id

        paid_amount = self.paid_amount

        status = self.status

        total_amount = self.total_amount

        transaction_id = self.transaction_id

        updated_at = self.updated_at

        used_points = self.used_points

        user_id = self.user_id

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

        metadata: dict[str, Any] | Unset = UNSET
        if not isinstance(self.metadata, Unset):
            metadata = self.metadata.to_dict()

        payment_id: None | str | Unset
        if isinstance(self.payment_id, Unset):
            payment_id = UNSET
        else:
            payment_id = self.payment_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "couponDiscount": coupon_discount,
                "createdAt": created_at,
                "items": items,
                "livemode": livemode,
                "orderId": order_id,
                "paidAmount": paid_amount,
                "status": status,
                "totalAmount": total_amount,
                "transactionId": transaction_id,
                "updatedAt": updated_at,
                "usedPoints": used_points,
                "userId": user_id,
            }
        )
        if customer_email is not UNSET:
            field_dict["customerEmail"] = customer_email
        if description is not UNSET:
            field_dict["description"] = description
        if issued_coupon_id is not UNSET:
            field_dict["issuedCouponId"] = issued_coupon_id
        if metadata is not UNSET:
            field_dict["metadata"] = metadata
        if payment_id is not UNSET:
            field_dict["paymentId"] = payment_id

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.order_line_view import OrderLineView
        from ..models.order_view_metadata import OrderViewMetadata

        d = dict(src_dict)
        coupon_discount = d.pop("couponDiscount")

        created_at = d.pop("createdAt")

        items = []
        _items = d.pop("items")
        for items_item_data in _items:
            items_item = OrderLineView.from_dict(items_item_data)

            items.append(items_item)

        livemode = d.pop("livemode")

        order_id = d.pop("orderId")

        paid_amount = d.pop("paidAmount")

        status = d.pop("status")

        total_amount = d.pop("totalAmount")

        transaction_id = d.pop("transactionId")

        updated_at = d.pop("updatedAt")

        used_points = d.pop("usedPoints")

        user_id = d.pop("userId")

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

        _metadata = d.pop("metadata", UNSET)
        metadata: OrderViewMetadata | Unset
        if isinstance(_metadata, Unset):
            metadata = UNSET
        else:
            metadata = OrderViewMetadata.from_dict(_metadata)

        def _parse_payment_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        payment_id = _parse_payment_id(d.pop("paymentId", UNSET))

        order_view = cls(
            coupon_discount=coupon_discount,
            created_at=created_at,
            items=items,
            livemode=livemode,
            order_id=order_id,
            paid_amount=paid_amount,
            status=status,
            total_amount=total_amount,
            transaction_id=transaction_id,
            updated_at=updated_at,
            used_points=used_points,
            user_id=user_id,
            customer_email=customer_email,
            description=description,
            issued_coupon_id=issued_coupon_id,
            metadata=metadata,
            payment_id=payment_id,
        )

        order_view.additional_properties = d
        return order_view

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
