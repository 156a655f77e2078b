from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="CallbackRequest")


@_attrs_define
class CallbackRequest:
    """What the gateway POSTs. Only the transaction key and the order (Settle's paymentId) are used: the rest is
    asked of the gateway.

        Attributes:
            order_id (str):
            transaction_key (str):
            reason (None | str | Unset):
            refund_key (None | str | Unset): Set when the callback is about a refund of the transaction.
            status (None | str | Unset):
    """

    order_id: str
    transaction_key: str
    reason: None | str | Unset = UNSET
    refund_key: None | str | Unset = UNSET
    status: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        order_id = self.order_id

        transaction_key = self.transaction_key

        reason: None | str | Unset
        if isinstance(self.reason, Unset):
            reason = UNSET
        else:
            reason = self.reason

        refund_key: None | str | Unset
        if isinstance(self.refund_key, Unset):
            refund_key = UNSET
        else:
            refund_key = self.refund_key

        status: None | str | Unset
        if isinstance(self.status, Unset):
            status = UNSET
        else:
            status = self.status

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "orderId": order_id,
                "transactionKey": transaction_key,
            }
        )
        if reason is not UNSET:
            field_dict["reason"] = reason
        if refund_key is not UNSET:
            field_dict["refundKey"] = refund_key
        if status is not UNSET:
            field_dict["status"] = status

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        order_id = d.pop("orderId")

        transaction_key = d.pop("transactionKey")

        def _parse_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        reason = _parse_reason(d.pop("reason", UNSET))

        def _parse_refund_key(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        refund_key = _parse_refund_key(d.pop("refundKey", UNSET))

        def _parse_status(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        status = _parse_status(d.pop("status", UNSET))

        callback_request = cls(
            order_id=order_id,
            transaction_key=transaction_key,
            reason=reason,
            refund_key=refund_key,
            status=status,
        )

        callback_request.additional_properties = d
        return callback_request

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
