from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="UpdateMerchantRequest")


@_attrs_define
class UpdateMerchantRequest:
    """`PATCH /v1/merchants/{merchantId}`.

    Attributes:
        fee_bps (int | None | Unset): Fee on chain payments in basis points, 0 to 10000. Applies to payments created
            from now on; a payment's
            signed terms keep the fee they were signed with. Example: 150.
        redirect_hosts (list[str] | None | Unset): The hosts checkout sessions may send payers back to (host names;
            replaces the list). `localhost` allows http. Example: ['shop.example', 'localhost'].
        refund_late_payments (bool | None | Unset): Whether a CHAIN payment paid after it ended CANCELLED or EXPIRED is
            refunded in full automatically (default
            true); false only reports it (`payment.paid_after_final`) and leaves the refund to the merchant.
        return_fee_on_refund (bool | None | Unset): Whether a CHAIN refund gives back its share of the fee the payment
            paid (default false: the treasury keeps
            the fee, and the payment's recipient pays the whole refund). With true, the treasury pays that share, through
            the allowance the operator gave the gateway; at a gateway of version 2 the fee is never given back.
    """

    fee_bps: int | None | Unset = UNSET
    redirect_hosts: list[str] | None | Unset = UNSET
    refund_late_payments: bool | None | Unset = UNSET
    return_fee_on_refund: bool | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        fee_bps: int | None | Unset
        if isinstance(self.fee_bps, Unset):
            fee_bps = UNSET
        else:
            fee_bps = self.fee_bps

        redirect_hosts: list[str] | None | Unset
        if isinstance(self.redirect_hosts, Unset):
            redirect_hosts = UNSET
        elif isinstance(self.redirect_hosts, list):
            redirect_hosts = self.redirect_hosts

        else:
            redirect_hosts = self.redirect_hosts

        refund_late_payments: bool | None | Unset
        if isinstance(self.refund_late_payments, Unset):
            refund_late_payments = UNSET
        else:
            refund_late_payments = self.refund_late_payments

        return_fee_on_refund: bool | None | Unset
        if isinstance(self.return_fee_on_refund, Unset):
            return_fee_on_refund = UNSET
        else:
            return_fee_on_refund = self.return_fee_on_refund

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if fee_bps is not UNSET:
            field_dict["feeBps"] = fee_bps
        if redirect_hosts is not UNSET:
            field_dict["redirectHosts"] = redirect_hosts
        if refund_late_payments is not UNSET:
            field_dict["refundLatePayments"] = refund_late_payments
        if return_fee_on_refund is not UNSET:
            field_dict["returnFeeOnRefund"] = return_fee_on_refund

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)

        def _parse_fee_bps(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        fee_bps = _parse_fee_bps(d.pop("feeBps", UNSET))

        def _parse_redirect_hosts(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                redirect_hosts_type_0 = cast(list[str], data)

                return redirect_hosts_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        redirect_hosts = _parse_redirect_hosts(d.pop("redirectHosts", UNSET))

        def _parse_refund_late_payments(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        refund_late_payments = _parse_refund_late_payments(
            d.pop("refundLatePayments", UNSET)
        )

        def _parse_return_fee_on_refund(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        return_fee_on_refund = _parse_return_fee_on_refund(
            d.pop("returnFeeOnRefund", UNSET)
        )

        update_merchant_request = cls(
            fee_bps=fee_bps,
            redirect_hosts=redirect_hosts,
            refund_late_payments=refund_late_payments,
            return_fee_on_refund=return_fee_on_refund,
        )

        return update_merchant_request
