from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.eip_712_domain import Eip712Domain
    from ..models.eip_712_typed_data_message import Eip712TypedDataMessage
    from ..models.eip_712_typed_data_types import Eip712TypedDataTypes


T = TypeVar("T", bound="Eip712TypedData")


@_attrs_define
class Eip712TypedData:
    """EIP-712 typed data as `eth_signTypedData_v4` and viem's `signTypedData` take it: what the document says of the
    JSON settle-chain builds (`eip712::forward_request_typed_data`, `eip712::permit_typed_data`).

        Attributes:
            domain (Eip712Domain): An EIP-712 domain.
            message (Eip712TypedDataMessage): The values signed: addresses and bytes as 0x hex, integers as decimal strings.
            primary_type (str): `ForwardRequest` or `Permit`. Example: ForwardRequest.
            types (Eip712TypedDataTypes): `EIP712Domain` and the primary type, each the list of its fields.
    """

    domain: Eip712Domain
    message: Eip712TypedDataMessage
    primary_type: str
    types: Eip712TypedDataTypes
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        domain = self.domain.to_dict()

        message = self.message.to_dict()

        primary_type = self.primary_type

        types = self.types.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "domain": domain,
                "message": message,
                "primaryType": primary_type,
                "types": types,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.eip_712_domain import Eip712Domain
        from ..models.eip_712_typed_data_message import Eip712TypedDataMessage
        from ..models.eip_712_typed_data_types import Eip712TypedDataTypes

        d = dict(src_dict)
        domain = Eip712Domain.from_dict(d.pop("domain"))

        message = Eip712TypedDataMessage.from_dict(d.pop("message"))

        primary_type = d.pop("primaryType")

        types = Eip712TypedDataTypes.from_dict(d.pop("types"))

        eip_712_typed_data = cls(
            domain=domain,
            message=message,
            primary_type=primary_type,
            types=types,
        )

        eip_712_typed_data.additional_properties = d
        return eip_712_typed_data

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
