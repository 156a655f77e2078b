from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.forward_request_view import ForwardRequestView


T = TypeVar("T", bound="GaslessInput")


@_attrs_define
class GaslessInput:
    """A signed forward request, as `POST /v1/payments/{id}/gasless` takes it.

    Attributes:
        request (ForwardRequestView): A forward request as a wallet signed it (integers as decimal strings, data as 0x
            hex).
        signature (str): The payer's EIP-712 signature over the request (0x + 130 hex).
    """

    request: ForwardRequestView
    signature: str

    def to_dict(self) -> dict[str, Any]:
        request = self.request.to_dict()

        signature = self.signature

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "request": request,
                "signature": signature,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.forward_request_view import ForwardRequestView

        d = dict(src_dict)
        request = ForwardRequestView.from_dict(d.pop("request"))

        signature = d.pop("signature")

        gasless_input = cls(
            request=request,
            signature=signature,
        )

        return gasless_input
