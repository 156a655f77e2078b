from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="RelayDone")


@_attrs_define
class RelayDone:
    """What seed 001's relay route answers once the payment is COMPLETED.

    Attributes:
        payment_id (str):
        relay_request_id (str):
        status (str): COMPLETED.
        block_number (int | None | Unset):
        tx_hash (None | str | Unset):
    """

    payment_id: str
    relay_request_id: str
    status: str
    block_number: int | None | Unset = UNSET
    tx_hash: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        payment_id = self.payment_id

        relay_request_id = self.relay_request_id

        status = self.status

        block_number: int | None | Unset
        if isinstance(self.block_number, Unset):
            block_number = UNSET
        else:
            block_number = self.block_number

        tx_hash: None | str | Unset
        if isinstance(self.tx_hash, Unset):
            tx_hash = UNSET
        else:
            tx_hash = self.tx_hash

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "paymentId": payment_id,
                "relayRequestId": relay_request_id,
                "status": status,
            }
        )
        if block_number is not UNSET:
            field_dict["blockNumber"] = block_number
        if tx_hash is not UNSET:
            field_dict["txHash"] = tx_hash

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        payment_id = d.pop("paymentId")

        relay_request_id = d.pop("relayRequestId")

        status = d.pop("status")

        def _parse_block_number(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        block_number = _parse_block_number(d.pop("blockNumber", UNSET))

        def _parse_tx_hash(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        tx_hash = _parse_tx_hash(d.pop("txHash", UNSET))

        relay_done = cls(
            payment_id=payment_id,
            relay_request_id=relay_request_id,
            status=status,
            block_number=block_number,
            tx_hash=tx_hash,
        )

        relay_done.additional_properties = d
        return relay_done

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
