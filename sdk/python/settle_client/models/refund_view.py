from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.refund_view_metadata import RefundViewMetadata


T = TypeVar("T", bound="RefundView")


@_attrs_define
class RefundView:
    """A refund as the API shows it.

    Attributes:
        amount (str): Exact integer amount in minor units, as a decimal string. Example: 500.
        created_at (str):
        currency (str):
        livemode (bool):
        merchant_id (str): The merchant (the same id in both modes).
        metadata (RefundViewMetadata): The merchant's key-value pairs (`{}` when none).
        payment_id (str):
        rail (str): `CARD` or `CHAIN`.
        refund_id (str):  Example: re_0193a1b2c3d47e5f8a9b0c1d2e3f4a5b.
        status (str): PENDING, REQUIRES_ACTION, SUCCEEDED or FAILED.
        updated_at (str):
        version (int):
        failure_code (None | str | Unset): FAILED or REQUIRES_ACTION: why, as a stable code (`refund_refused`,
            `gateway_unreachable`, `not_recorded`,
            `expired`, `insufficient_allowance`, `insufficient_balance`, `treasury_allowance_required`, `relay_failed`, ...)
            and in words.
        failure_message (None | str | Unset):
        fee_returned (None | str | Unset): CHAIN: the part of `amount` the treasury pays back (the refund's share of the
            fee the payment paid), when the
            merchant returns fees (`returnFeeOnRefund`); the payment's recipient pays the rest. Absent: the recipient pays
            it all.
        flag_reason (None | str | Unset): Set when the gateway reported something Settle would not apply as it is (the
            refund recorded twice, another
            amount): an operator must look at this refund.
        reason (None | str | Unset): duplicate, fraudulent or requested_by_customer.
    """

    amount: str
    created_at: str
    currency: str
    livemode: bool
    merchant_id: str
    metadata: RefundViewMetadata
    payment_id: str
    rail: str
    refund_id: str
    status: str
    updated_at: str
    version: int
    failure_code: None | str | Unset = UNSET
    failure_message: None | str | Unset = UNSET
    fee_returned: None | str | Unset = UNSET
    flag_reason: None | str | Unset = UNSET
    reason: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        amount = self.amount

        created_at = self.created_at

        currency = self.currency

        livemode = self.livemode

        merchant_id = self.merchant_id

        metadata = self.metadata.to_dict()

        payment_id = self.payment_id

        rail = self.rail

        refund_id = self.refund_id

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

        fee_returned: None | str | Unset
        if isinstance(self.fee_returned, Unset):
            fee_returned = UNSET
        else:
            fee_returned = self.fee_returned

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

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "amount": amount,
                "createdAt": created_at,
                "currency": currency,
                "livemode": livemode,
                "merchantId": merchant_id,
                "metadata": metadata,
                "paymentId": payment_id,
                "rail": rail,
                "refundId": refund_id,
                "status": status,
                "updatedAt": updated_at,
                "version": version,
            }
        )
        if failure_code is not UNSET:
            field_dict["failureCode"] = failure_code
        if failure_message is not UNSET:
            field_dict["failureMessage"] = failure_message
        if fee_returned is not UNSET:
            field_dict["feeReturned"] = fee_returned
        if flag_reason is not UNSET:
            field_dict["flagReason"] = flag_reason
        if reason is not UNSET:
            field_dict["reason"] = reason

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.refund_view_metadata import RefundViewMetadata

        d = dict(src_dict)
        amount = d.pop("amount")

        created_at = d.pop("createdAt")

        currency = d.pop("currency")

        livemode = d.pop("livemode")

        merchant_id = d.pop("merchantId")

        metadata = RefundViewMetadata.from_dict(d.pop("metadata"))

        payment_id = d.pop("paymentId")

        rail = d.pop("rail")

        refund_id = d.pop("refundId")

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

        def _parse_fee_returned(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        fee_returned = _parse_fee_returned(d.pop("feeReturned", UNSET))

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

        refund_view = cls(
            amount=amount,
            created_at=created_at,
            currency=currency,
            livemode=livemode,
            merchant_id=merchant_id,
            metadata=metadata,
            payment_id=payment_id,
            rail=rail,
            refund_id=refund_id,
            status=status,
            updated_at=updated_at,
            version=version,
            failure_code=failure_code,
            failure_message=failure_message,
            fee_returned=fee_returned,
            flag_reason=flag_reason,
            reason=reason,
        )

        refund_view.additional_properties = d
        return refund_view

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
