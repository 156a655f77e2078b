from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="ReadOnlyRequest")


@_attrs_define
class ReadOnlyRequest:
    """`POST /v1/admin/read-only`.

    Attributes:
        enabled (bool): true: refuse writes (503 `read_only`) until set false; reads, SSE and /health go on.
    """

    enabled: bool

    def to_dict(self) -> dict[str, Any]:
        enabled = self.enabled

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "enabled": enabled,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        enabled = d.pop("enabled")

        read_only_request = cls(
            enabled=enabled,
        )

        return read_only_request
