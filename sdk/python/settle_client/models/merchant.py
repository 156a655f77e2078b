from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="Merchant")


@_attrs_define
class Merchant:
    """A merchant as administration shows it (no key).

    Attributes:
        fee_bps (int): Fee on chain payments, in basis points, for payments created from now on.
        merchant_id (str):
        name (str):
        redirect_hosts (list[str]): The hosts its checkout sessions may send payers back to (`successUrl`, `cancelUrl`).
        refund_late_payments (bool): Whether a CHAIN payment the chain shows paid after it ended CANCELLED or EXPIRED is
            refunded in full
            automatically (a refund waiting on the recipient's signature, like any CHAIN refund). Default true.
        return_fee_on_refund (bool): Whether a CHAIN refund gives back its share of the fee the payment paid (the
            treasury pays that part, the
            recipient the rest), at gateways of version 3 and later. Default false: the treasury keeps the fee and the
            recipient pays the whole refund.
    """

    fee_bps: int
    merchant_id: str
    name: str
    redirect_hosts: list[str]
    refund_late_payments: bool
    return_fee_on_refund: bool
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        fee_bps = self.fee_bps

        merchant_id = self.merchant_id

        name = self.name

        redirect_hosts = self.redirect_hosts

        refund_late_payments = self.refund_late_payments

        return_fee_on_refund = self.return_fee_on_refund

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "feeBps": fee_bps,
                "merchantId": merchant_id,
                "name": name,
                "redirectHosts": redirect_hosts,
                "refundLatePayments": refund_late_payments,
                "returnFeeOnRefund": return_fee_on_refund,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        fee_bps = d.pop("feeBps")

        merchant_id = d.pop("merchantId")

        name = d.pop("name")

        redirect_hosts = cast(list[str], d.pop("redirectHosts"))

        refund_late_payments = d.pop("refundLatePayments")

        return_fee_on_refund = d.pop("returnFeeOnRefund")

        merchant = cls(
            fee_bps=fee_bps,
            merchant_id=merchant_id,
            name=name,
            redirect_hosts=redirect_hosts,
            refund_late_payments=refund_late_payments,
            return_fee_on_refund=return_fee_on_refund,
        )

        merchant.additional_properties = d
        return merchant

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
