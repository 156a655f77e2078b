from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.eip_712_typed_data import Eip712TypedData
    from ..models.forward_request_view import ForwardRequestView


T = TypeVar("T", bound="TypedData")


@_attrs_define
class TypedData:
    """What `GET /v1/payments/{id}/typed-data` answers.

    Attributes:
        forward_request (Eip712TypedData): EIP-712 typed data as `eth_signTypedData_v4` and viem's `signTypedData` take
            it: what the document says of the
            JSON settle-chain builds (`eip712::forward_request_typed_data`, `eip712::permit_typed_data`).
        request (ForwardRequestView): A forward request as a wallet signed it (integers as decimal strings, data as 0x
            hex).
        permit (Eip712TypedData | None | Unset):
    """

    forward_request: Eip712TypedData
    request: ForwardRequestView
    permit: Eip712TypedData | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.eip_712_typed_data import Eip712TypedData

        forward_request = self.forward_request.to_dict()

        request = self.request.to_dict()

        permit: dict[str, Any] | None | Unset
        if isinstance(self.permit, Unset):
            permit = UNSET
        elif isinstance(self.permit, Eip712TypedData):
            permit = self.permit.to_dict()
        else:
            permit = self.permit

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "forwardRequest": forward_request,
                "request": request,
            }
        )
        if permit is not UNSET:
            field_dict["permit"] = permit

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.eip_712_typed_data import Eip712TypedData
        from ..models.forward_request_view import ForwardRequestView

        d = dict(src_dict)
        forward_request = Eip712TypedData.from_dict(d.pop("forwardRequest"))

        request = ForwardRequestView.from_dict(d.pop("request"))

        def _parse_permit(data: object) -> Eip712TypedData | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                permit_type_1 = Eip712TypedData.from_dict(data)

                return permit_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(Eip712TypedData | None | Unset, data)

        permit = _parse_permit(d.pop("permit", UNSET))

        typed_data = cls(
            forward_request=forward_request,
            request=request,
            permit=permit,
        )

        typed_data.additional_properties = d
        return typed_data

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
