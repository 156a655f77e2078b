from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="CreatedMerchant")


@_attrs_define
class CreatedMerchant:
    """A merchant with its API keys, shown once at creation.

    Attributes:
        api_key (str): The live-mode key (`sk_live_…`): live payments, on live chains and the card gateway.
        fee_bps (int): Fee on chain payments, in basis points (signed into each payment's terms; paid to the gateway's
            treasury).
        merchant_id (str):
        name (str):
        test_api_key (str): The test-mode key (`sk_test_…`): test payments, on test networks and the card simulator,
            kept apart from
            live ones.
    """

    api_key: str
    fee_bps: int
    merchant_id: str
    name: str
    test_api_key: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        api_key = self.api_key

        fee_bps = self.fee_bps

        merchant_id = self.merchant_id

        name = self.name

        test_api_key = self.test_api_key

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "apiKey": api_key,
                "feeBps": fee_bps,
                "merchantId": merchant_id,
                "name": name,
                "testApiKey": test_api_key,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        api_key = d.pop("apiKey")

        fee_bps = d.pop("feeBps")

        merchant_id = d.pop("merchantId")

        name = d.pop("name")

        test_api_key = d.pop("testApiKey")

        created_merchant = cls(
            api_key=api_key,
            fee_bps=fee_bps,
            merchant_id=merchant_id,
            name=name,
            test_api_key=test_api_key,
        )

        created_merchant.additional_properties = d
        return created_merchant

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
