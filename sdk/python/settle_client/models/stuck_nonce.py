from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="StuckNonce")


@_attrs_define
class StuckNonce:
    """
    Attributes:
        blocks (int): Blocks since its transaction (or its last replacement) was sent.
        exhausted (bool): No replacement is left (the most allowed were made, or the fees are at `max_fee_gwei`).
        nonce (int):
        replacements (int):
    """

    blocks: int
    exhausted: bool
    nonce: int
    replacements: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        blocks = self.blocks

        exhausted = self.exhausted

        nonce = self.nonce

        replacements = self.replacements

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "blocks": blocks,
                "exhausted": exhausted,
                "nonce": nonce,
                "replacements": replacements,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        blocks = d.pop("blocks")

        exhausted = d.pop("exhausted")

        nonce = d.pop("nonce")

        replacements = d.pop("replacements")

        stuck_nonce = cls(
            blocks=blocks,
            exhausted=exhausted,
            nonce=nonce,
            replacements=replacements,
        )

        stuck_nonce.additional_properties = d
        return stuck_nonce

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
