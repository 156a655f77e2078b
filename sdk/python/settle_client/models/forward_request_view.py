from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="ForwardRequestView")


@_attrs_define
class ForwardRequestView:
    """A forward request as a wallet signed it (integers as decimal strings, data as 0x hex).

    Attributes:
        data (str):
        deadline (str):
        from_ (str):
        gas (str):
        nonce (str):
        to (str):
        value (str):
    """

    data: str
    deadline: str
    from_: str
    gas: str
    nonce: str
    to: str
    value: str

    def to_dict(self) -> dict[str, Any]:
        data = self.data

        deadline = self.deadline

        from_ = self.from_

        gas = self.gas

        nonce = self.nonce

        to = self.to

        value = self.value

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "data": data,
                "deadline": deadline,
                "from": from_,
                "gas": gas,
                "nonce": nonce,
                "to": to,
                "value": value,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        data = d.pop("data")

        deadline = d.pop("deadline")

        from_ = d.pop("from")

        gas = d.pop("gas")

        nonce = d.pop("nonce")

        to = d.pop("to")

        value = d.pop("value")

        forward_request_view = cls(
            data=data,
            deadline=deadline,
            from_=from_,
            gas=gas,
            nonce=nonce,
            to=to,
            value=value,
        )

        return forward_request_view
