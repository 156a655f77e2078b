from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="GatewayHealth")


@_attrs_define
class GatewayHealth:
    """
    Attributes:
        mode (str): gateway (SETTLE_PG_URL for live payments, SETTLE_PG_TEST_URL for test ones), simulator (test
            payments: the
            in-process PG simulator, no real card is charged) or not_configured (card charges answer 400
            feature_not_enabled).
        circuit (None | str | Unset): closed, open or half_open.
    """

    mode: str
    circuit: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        mode = self.mode

        circuit: None | str | Unset
        if isinstance(self.circuit, Unset):
            circuit = UNSET
        else:
            circuit = self.circuit

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "mode": mode,
            }
        )
        if circuit is not UNSET:
            field_dict["circuit"] = circuit

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        mode = d.pop("mode")

        def _parse_circuit(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        circuit = _parse_circuit(d.pop("circuit", UNSET))

        gateway_health = cls(
            mode=mode,
            circuit=circuit,
        )

        gateway_health.additional_properties = d
        return gateway_health

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
