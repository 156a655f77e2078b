from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="PoolStats")


@_attrs_define
class PoolStats:
    """The connection pool (SQLite: the read pool; its writer is one more connection).

    Attributes:
        idle (int): Of them, idle.
        in_use (int): Of them, running a statement or holding a transaction.
        max_ (int): The most the pool opens.
        size (int): Connections open now.
    """

    idle: int
    in_use: int
    max_: int
    size: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        idle = self.idle

        in_use = self.in_use

        max_ = self.max_

        size = self.size

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "idle": idle,
                "inUse": in_use,
                "max": max_,
                "size": size,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        idle = d.pop("idle")

        in_use = d.pop("inUse")

        max_ = d.pop("max")

        size = d.pop("size")

        pool_stats = cls(
            idle=idle,
            in_use=in_use,
            max_=max_,
            size=size,
        )

        pool_stats.additional_properties = d
        return pool_stats

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
